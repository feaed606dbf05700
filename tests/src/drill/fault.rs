//! Delivering faults to storage nodes, and taking them back. Two ways:
//! signals to the processes of a local cluster (pids from its
//! `cluster.json`), or operator-supplied shell commands for any other
//! cluster (`systemctl kill`, `ssh host kill -STOP`, `kubectl delete pod`),
//! templated with `{node}` and `{action}`.

use std::path::PathBuf;
use std::time::Duration;

use edge::cluster_file::ClusterFile;
use metadata::ids::NodeId;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// What is done to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// SIGKILL: the process is gone, its disk stays.
    Kill,
    /// SIGSTOP: the process is there but answers nothing.
    Freeze,
    /// SIGCONT after a freeze.
    Thaw,
    /// Start a killed node again, same identity and data.
    Restart,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Kill => "kill",
            Action::Freeze => "freeze",
            Action::Thaw => "thaw",
            Action::Restart => "restart",
        }
    }

    /// Kill and freeze break things; thaw and restart mend them.
    fn heals(self) -> bool {
        matches!(self, Action::Thaw | Action::Restart)
    }
}

/// The command line for `action` on `node`. Node ids are lowercase letters,
/// digits, `-` and `_` (see [`NodeId`]), so they are safe in a shell word.
pub fn render(template: &str, node: &NodeId, action: Action) -> String {
    template
        .replace("{node}", node.as_str())
        .replace("{action}", action.as_str())
}

#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error(
        "no way to {action} {node}: {why} (pass --cluster <data>/cluster.json for a local \
         cluster, or --fault-command/--heal-command)"
    )]
    NoWay {
        node: String,
        action: &'static str,
        why: String,
    },
    #[error("{what} should be pid {pid}, but that process {problem} (is cluster.json stale?)")]
    StalePid {
        what: String,
        pid: u32,
        problem: &'static str,
    },
    #[error("signalling {what} (pid {pid}): {source}")]
    Signal {
        what: String,
        pid: u32,
        source: nix::Error,
    },
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
    #[error(transparent)]
    ClusterFile(#[from] edge::cluster_file::ClusterFileError),
}

/// How long an operator's fault or heal command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Default)]
pub struct FaultDriver {
    /// A local cluster's `cluster.json`, read again before every action:
    /// a restart changes the pids in it.
    pub cluster_file: Option<PathBuf>,
    /// For kill and freeze (and for thaw and restart too, without a heal
    /// command).
    pub fault_command: Option<String>,
    /// For thaw and restart.
    pub heal_command: Option<String>,
}

impl FaultDriver {
    fn template(&self, action: Action) -> Option<&str> {
        if action.heals() {
            self.heal_command
                .as_deref()
                .or(self.fault_command.as_deref())
        } else {
            self.fault_command.as_deref()
        }
    }

    /// Checks, before anything is broken, that every action in `actions`
    /// can reach `node`: a drill must never freeze a node it cannot thaw.
    pub fn check(&self, node: &NodeId, actions: &[Action]) -> Result<(), FaultError> {
        for &action in actions {
            if self.template(action).is_some() {
                continue;
            }
            let cluster = self.read_cluster(node, action)?;
            if action == Action::Restart {
                if cluster.supervisor_pid.is_none() {
                    return Err(no_way(
                        node,
                        action,
                        "cluster.json names no supervisor that restarts on SIGHUP",
                    ));
                }
                continue;
            }
            match cluster.node(node) {
                Some(p) if p.pid.is_some() => {}
                Some(_) => return Err(no_way(node, action, "it is not running")),
                None => return Err(no_way(node, action, "cluster.json has no such node")),
            }
        }
        Ok(())
    }

    pub async fn apply(&self, node: &NodeId, action: Action) -> Result<(), FaultError> {
        if let Some(template) = self.template(action) {
            return run_command(&render(template, node, action)).await;
        }
        let cluster = self.read_cluster(node, action)?;
        if action == Action::Restart {
            let pid = cluster
                .supervisor_pid
                .ok_or_else(|| no_way(node, action, "cluster.json names no supervisor"))?;
            return signal(
                "the local-cluster supervisor",
                pid,
                "local-cluster",
                Signal::SIGHUP,
            );
        }
        let pid = cluster
            .node(node)
            .and_then(|p| p.pid)
            .ok_or_else(|| no_way(node, action, "cluster.json names no running process"))?;
        let sig = match action {
            Action::Kill => Signal::SIGKILL,
            Action::Freeze => Signal::SIGSTOP,
            _ => Signal::SIGCONT,
        };
        signal(node.as_str(), pid, node.as_str(), sig)
    }

    /// Brings killed nodes back: one SIGHUP to a local cluster's supervisor
    /// (it restarts whatever has exited), or the heal command per node.
    pub async fn restart(&self, nodes: &[NodeId]) -> Result<(), FaultError> {
        if self.template(Action::Restart).is_none() {
            if let Some(first) = nodes.first() {
                self.apply(first, Action::Restart).await?;
            }
            return Ok(());
        }
        for node in nodes {
            self.apply(node, Action::Restart).await?;
        }
        Ok(())
    }

    fn read_cluster(&self, node: &NodeId, action: Action) -> Result<ClusterFile, FaultError> {
        let path = self
            .cluster_file
            .as_ref()
            .ok_or_else(|| no_way(node, action, "no cluster file and no command"))?;
        Ok(ClusterFile::read(path)?)
    }
}

fn no_way(node: &NodeId, action: Action, why: &str) -> FaultError {
    FaultError::NoWay {
        node: node.to_string(),
        action: action.as_str(),
        why: why.to_owned(),
    }
}

/// Sends `sig` to `pid` after checking that the process is still what
/// `cluster.json` says (its command line has the argument `expect`): a pid
/// from a stale file may belong to anything by now.
fn signal(what: &str, pid: u32, expect: &str, sig: Signal) -> Result<(), FaultError> {
    let stale = |problem| FaultError::StalePid {
        what: what.to_owned(),
        pid,
        problem,
    };
    // Without /proc (not Linux) there is nothing to check against.
    if std::path::Path::new("/proc/self/cmdline").exists() {
        let cmdline =
            std::fs::read(format!("/proc/{pid}/cmdline")).map_err(|_| stale("is not running"))?;
        if !cmdline
            .split(|&b| b == 0)
            .any(|arg| arg == expect.as_bytes())
        {
            return Err(stale("is something else"));
        }
    }
    let raw = i32::try_from(pid).map_err(|_| stale("has an impossible pid"))?;
    kill(Pid::from_raw(raw), sig).map_err(|source| FaultError::Signal {
        what: what.to_owned(),
        pid,
        source,
    })
}

async fn run_command(command: &str) -> Result<(), FaultError> {
    let failed = |detail: String| FaultError::Command {
        command: command.to_owned(),
        detail,
    };
    let run = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(COMMAND_TIMEOUT, run)
        .await
        .map_err(|_| failed(format!("still running after {COMMAND_TIMEOUT:?}")))?
        .map_err(|e| failed(e.to_string()))?;
    if out.status.success() {
        return Ok(());
    }
    let mut detail = format!(
        "{}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    detail.truncate(500);
    Err(failed(detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(s: &str) -> NodeId {
        s.parse().unwrap()
    }

    #[test]
    fn templates_get_the_node_and_the_action() {
        assert_eq!(
            render(
                "systemctl {action}-tessera@{node}",
                &node("node-3"),
                Action::Kill
            ),
            "systemctl kill-tessera@node-3"
        );
        assert_eq!(
            render(
                "ssh {node} 'pkill -{action} x' # {node}",
                &node("n1"),
                Action::Thaw
            ),
            "ssh n1 'pkill -thaw x' # n1"
        );
        assert_eq!(render("true", &node("a"), Action::Restart), "true");
    }

    #[test]
    fn heal_actions_fall_back_to_the_fault_command() {
        let only_fault = FaultDriver {
            fault_command: Some("f {action}".into()),
            ..FaultDriver::default()
        };
        assert_eq!(only_fault.template(Action::Thaw), Some("f {action}"));
        let both = FaultDriver {
            fault_command: Some("f".into()),
            heal_command: Some("h".into()),
            ..FaultDriver::default()
        };
        assert_eq!(both.template(Action::Freeze), Some("f"));
        assert_eq!(both.template(Action::Restart), Some("h"));
        let only_heal = FaultDriver {
            heal_command: Some("h".into()),
            ..FaultDriver::default()
        };
        assert_eq!(only_heal.template(Action::Kill), None);
    }

    #[test]
    fn nothing_to_drive_the_fault_with_is_refused_up_front() {
        let err = FaultDriver::default()
            .check(&node("node-1"), &[Action::Freeze, Action::Thaw])
            .unwrap_err();
        assert!(err.to_string().contains("no way to freeze node-1"), "{err}");
    }

    #[tokio::test]
    async fn commands_run_in_a_shell_and_their_failure_is_reported() {
        let ok = FaultDriver {
            fault_command: Some("test {node} = node-2 && test {action} = kill".into()),
            ..FaultDriver::default()
        };
        ok.apply(&node("node-2"), Action::Kill).await.unwrap();
        let err = ok.apply(&node("node-3"), Action::Kill).await.unwrap_err();
        assert!(matches!(err, FaultError::Command { .. }), "{err}");
        let noisy = FaultDriver {
            fault_command: Some("echo broken >&2; exit 3".into()),
            ..FaultDriver::default()
        };
        let err = noisy
            .apply(&node("node-1"), Action::Freeze)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("broken"), "{err}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_pid_that_is_not_the_node_is_not_signalled() {
        // This test process is certainly not a storage node called node-77.
        let err = signal("node-77", std::process::id(), "node-77", Signal::SIGCONT).unwrap_err();
        assert!(matches!(err, FaultError::StalePid { .. }), "{err}");
    }
}
