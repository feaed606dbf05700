//! A whole cluster on one machine, each role its own process: the metadata
//! service, `nodes` storage nodes and one edge, all on loopback, with data and
//! logs under one folder. The quick start runs it from the command line and the
//! end-to-end tests drive it from Rust (kill, restart), so both exercise the
//! very same processes an operator would run. It describes itself in
//! `<data>/cluster.json` (see [`crate::cluster_file`]) for tools that signal
//! its processes, such as the failure drill.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use metadata::client::MetadataClient;
use metadata::cluster_auth::ClusterSecret;
use metadata::ids::NodeId;
use metadata::lifecycle::EXIT_WITH_PARENT_ENV;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use crate::cluster_file::{CLUSTER_FILE_NAME, ClusterFile, ClusterFileError, ProcessEntry};

/// Everything needed to start a local cluster.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// The executable that carries every role (`metadata`, `storage-node`,
    /// `serve` subcommands): normally the running `edge` binary itself.
    pub program: PathBuf,
    pub data_dir: PathBuf,
    pub metadata_addr: SocketAddr,
    pub node_addrs: Vec<SocketAddr>,
    pub s3_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub cluster_secret: String,
    pub access_key: String,
    pub secret_key: String,
    pub data_shards: u8,
    pub parity_shards: u8,
    /// How long without a heartbeat before metadata calls a node down.
    pub heartbeat_timeout: Duration,
    /// How long replaced data waits before its shards are collected
    /// (`None`: the metadata service's default).
    pub gc_grace: Option<Duration>,
    /// Extra arguments for `edge serve` (e.g. `--shard-size 64KiB` in tests).
    pub edge_args: Vec<String>,
    /// Extra arguments for `edge metadata` (e.g. `--repair-after 30s`).
    pub metadata_args: Vec<String>,
    /// Extra arguments for every `edge storage-node` (e.g. `--scrub-rate`).
    pub node_args: Vec<String>,
    /// Further metadata replicas sharing this cluster's PostgreSQL store,
    /// started by the caller: storage nodes and the edge are given every
    /// replica's address and fail over between them.
    pub metadata_replicas: Vec<SocketAddr>,
}

impl ClusterSpec {
    /// The `--metadata-url` clients get: every replica, comma-separated.
    pub fn metadata_url(&self) -> String {
        std::iter::once(&self.metadata_addr)
            .chain(&self.metadata_replicas)
            .map(|a| format!("http://{a}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("starting {role}: {source}")]
    Spawn {
        role: String,
        source: std::io::Error,
    },
    #[error("{role} did not become ready within {waited:?} (see {log})")]
    NotReady {
        role: String,
        waited: Duration,
        log: String,
    },
    #[error("{role} exited during start-up with {status} (see {log})")]
    Exited {
        role: String,
        status: ExitStatus,
        log: String,
    },
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("cluster secret: {0}")]
    Secret(String),
    #[error(transparent)]
    ClusterFile(#[from] ClusterFileError),
}

/// One supervised process.
#[derive(Debug)]
struct Proc {
    role: String,
    child: Option<Child>,
    /// The instance id given to `child`: its `/health` answers carry it,
    /// which tells it from another process on the same port.
    instance: String,
}

impl Proc {
    fn new(role: String) -> Self {
        Proc {
            role,
            child: None,
            instance: String::new(),
        }
    }

    fn attach(&mut self, (child, instance): (Child, String)) {
        self.child = Some(child);
        self.instance = instance;
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }
}

/// A running local cluster. Dropping it kills every process it started.
#[derive(Debug)]
pub struct LocalCluster {
    spec: ClusterSpec,
    metadata: Proc,
    nodes: Vec<Proc>,
    edge: Proc,
    /// The process that answers SIGHUP by restarting exited processes, as
    /// announced in `cluster.json` (the `local-cluster` command).
    supervisor_pid: Option<u32>,
}

const READY_TIMEOUT: Duration = Duration::from_secs(30);

impl LocalCluster {
    /// Starts metadata, then the storage nodes (waiting until metadata sees
    /// them all up), then the edge (waiting until it answers).
    pub async fn start(spec: ClusterSpec) -> Result<Self, ClusterError> {
        std::fs::create_dir_all(spec.data_dir.join("logs"))?;
        let mut cluster = LocalCluster {
            metadata: Proc::new("metadata".into()),
            nodes: (0..spec.node_addrs.len())
                .map(|i| Proc::new(node_name(i)))
                .collect(),
            edge: Proc::new("edge".into()),
            supervisor_pid: None,
            spec,
        };
        cluster.write_secret_file()?;
        cluster.start_metadata().await?;
        for i in 0..cluster.nodes.len() {
            cluster.spawn_node(i)?;
        }
        cluster
            .wait_nodes_up(cluster.nodes.len(), READY_TIMEOUT)
            .await?;
        cluster.start_edge().await?;
        cluster.publish()?;
        Ok(cluster)
    }

    pub fn spec(&self) -> &ClusterSpec {
        &self.spec
    }

    /// The S3 endpoint's URL: `https` when the edge was given a
    /// certificate.
    pub fn s3_endpoint(&self) -> String {
        let scheme = if self.spec.edge_args.iter().any(|a| a == "--tls-cert") {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.spec.s3_addr)
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn node_id(i: usize) -> NodeId {
        node_name(i).parse().unwrap_or_else(|_| NodeId::random())
    }

    pub fn node_data_dir(&self, i: usize) -> PathBuf {
        self.spec.data_dir.join(node_name(i))
    }

    /// `(role, pid, address)` of every running process.
    pub fn processes(&self) -> Vec<(String, Option<u32>, String)> {
        let mut out = vec![(
            self.metadata.role.clone(),
            self.metadata.pid(),
            self.spec.metadata_addr.to_string(),
        )];
        for (i, p) in self.nodes.iter().enumerate() {
            out.push((p.role.clone(), p.pid(), self.spec.node_addrs[i].to_string()));
        }
        out.push((
            self.edge.role.clone(),
            self.edge.pid(),
            format!("{} (admin {})", self.spec.s3_addr, self.spec.admin_addr),
        ));
        out
    }

    /// Where `cluster.json` is written.
    pub fn cluster_file_path(&self) -> PathBuf {
        self.spec.data_dir.join(CLUSTER_FILE_NAME)
    }

    /// Announces in `cluster.json` the process that restarts exited ones on
    /// SIGHUP (see [`LocalCluster::restart_exited`]).
    pub fn set_supervisor(&mut self, pid: u32) -> Result<(), ClusterError> {
        self.supervisor_pid = Some(pid);
        self.publish()
    }

    /// This cluster as `cluster.json` describes it.
    pub fn cluster_file(&self) -> ClusterFile {
        let mut processes = vec![ProcessEntry {
            role: self.metadata.role.clone(),
            node_id: None,
            pid: self.metadata.pid(),
            addr: self.spec.metadata_addr.to_string(),
        }];
        for (i, p) in self.nodes.iter().enumerate() {
            processes.push(ProcessEntry {
                role: p.role.clone(),
                node_id: node_name(i).parse().ok(),
                pid: p.pid(),
                addr: self.spec.node_addrs[i].to_string(),
            });
        }
        processes.push(ProcessEntry {
            role: self.edge.role.clone(),
            node_id: None,
            pid: self.edge.pid(),
            addr: self.spec.s3_addr.to_string(),
        });
        ClusterFile {
            s3_endpoint: self.s3_endpoint(),
            admin_url: format!("http://{}", self.spec.admin_addr),
            metadata_url: self.spec.metadata_url(),
            cluster_secret_file: self.secret_file_path(),
            access_key: Some(self.spec.access_key.clone()),
            data_shards: Some(self.spec.data_shards),
            parity_shards: Some(self.spec.parity_shards),
            supervisor_pid: self.supervisor_pid,
            processes,
        }
    }

    /// Rewrites `cluster.json` with the processes as they are now. A stale
    /// pid in it could make a tool signal an unrelated process, so every
    /// change of the process set calls this.
    fn publish(&self) -> Result<(), ClusterError> {
        self.cluster_file().write(&self.cluster_file_path())?;
        Ok(())
    }

    /// [`Self::publish`] after the cluster has started: a cluster that runs
    /// matters more than its description, so a failure to write it is only
    /// logged.
    fn publish_or_warn(&self) {
        if let Err(e) = self.publish() {
            tracing::warn!(error = %e, "could not update cluster.json");
        }
    }

    fn secret_file_path(&self) -> PathBuf {
        self.spec.data_dir.join("cluster-secret")
    }

    /// `cluster.json` points at a file rather than holding the secret, so the
    /// secret must be in that file even when the spec came from code (tests).
    fn write_secret_file(&self) -> Result<(), ClusterError> {
        let path = self.secret_file_path();
        if std::fs::read_to_string(&path).is_ok_and(|s| s.trim() == self.spec.cluster_secret) {
            return Ok(());
        }
        crate::private_file::write_private(&path, self.spec.cluster_secret.as_bytes())?;
        Ok(())
    }

    fn log_path(&self, role: &str) -> PathBuf {
        self.spec.data_dir.join("logs").join(format!("{role}.log"))
    }

    fn command(&self, role: &str) -> Result<Command, ClusterError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(role))?;
        let mut cmd = Command::new(&self.spec.program);
        cmd.env("TESSERA_CLUSTER_SECRET", &self.spec.cluster_secret)
            .env(EXIT_WITH_PARENT_ENV, "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        Ok(cmd)
    }

    /// Starts `cmd` with a fresh instance id; returns the child and the id.
    fn spawn(&self, role: &str, mut cmd: Command) -> Result<(Child, String), ClusterError> {
        let instance = metadata::instance::new_instance_id();
        cmd.env(metadata::instance::INSTANCE_ENV, &instance);
        let child = cmd.spawn().map_err(|source| ClusterError::Spawn {
            role: role.to_owned(),
            source,
        })?;
        Ok((child, instance))
    }

    async fn start_metadata(&mut self) -> Result<(), ClusterError> {
        let mut cmd = self.command("metadata")?;
        cmd.arg("metadata")
            .arg("--listen")
            .arg(self.spec.metadata_addr.to_string())
            .arg("--data-dir")
            .arg(self.spec.data_dir.join("metadata"))
            .arg("--heartbeat-timeout")
            .arg(humantime::format_duration(self.spec.heartbeat_timeout).to_string());
        if let Some(grace) = self.spec.gc_grace {
            cmd.arg("--gc-grace")
                .arg(humantime::format_duration(grace).to_string());
        }
        cmd.args(&self.spec.metadata_args);
        let started = self.spawn("metadata", cmd)?;
        self.metadata.attach(started);
        let url = format!("http://{}/health", self.spec.metadata_addr);
        let log = self.log_path("metadata");
        wait_http_ok(&url, &mut self.metadata, &log).await
    }

    fn spawn_node(&mut self, i: usize) -> Result<(), ClusterError> {
        self.spawn_node_with(i, &[])
    }

    fn spawn_node_with(&mut self, i: usize, extra: &[String]) -> Result<(), ClusterError> {
        let role = node_name(i);
        let mut cmd = self.command(&role)?;
        cmd.arg("storage-node")
            .arg("--listen")
            .arg(self.spec.node_addrs[i].to_string())
            .arg("--data-dir")
            .arg(self.node_data_dir(i))
            .arg("--node-id")
            .arg(&role)
            .arg("--metadata-url")
            .arg(self.spec.metadata_url())
            .args(&self.spec.node_args)
            .args(extra);
        let started = self.spawn(&role, cmd)?;
        self.nodes[i].attach(started);
        Ok(())
    }

    async fn start_edge(&mut self) -> Result<(), ClusterError> {
        let cmd = self.edge_command("edge", self.spec.s3_addr, self.spec.admin_addr)?;
        let started = self.spawn("edge", cmd)?;
        self.edge.attach(started);
        let url = format!("http://{}/health", self.spec.admin_addr);
        let log = self.log_path("edge");
        wait_http_ok(&url, &mut self.edge, &log).await
    }

    /// Starts one more edge on this cluster (`role` names its log), with
    /// `extra` flags, and waits until it answers. The caller owns the
    /// process; it is killed when dropped.
    pub async fn start_extra_edge(
        &self,
        role: &str,
        s3_addr: SocketAddr,
        admin_addr: SocketAddr,
        extra: &[String],
    ) -> Result<Child, ClusterError> {
        let mut cmd = self.edge_command(role, s3_addr, admin_addr)?;
        cmd.args(extra);
        let mut proc = Proc::new(role.to_owned());
        proc.attach(self.spawn(role, cmd)?);
        let url = format!("http://{admin_addr}/health");
        wait_http_ok(&url, &mut proc, &self.log_path(role)).await?;
        proc.child
            .take()
            .ok_or_else(|| ClusterError::Io(std::io::Error::other(format!("{role} is gone"))))
    }

    fn edge_command(
        &self,
        role: &str,
        s3_addr: SocketAddr,
        admin_addr: SocketAddr,
    ) -> Result<Command, ClusterError> {
        let mut cmd = self.command(role)?;
        cmd.env("TESSERA_ACCESS_KEY", &self.spec.access_key)
            .env("TESSERA_SECRET_KEY", &self.spec.secret_key)
            .arg("serve")
            .arg("--listen")
            .arg(s3_addr.to_string())
            .arg("--admin-listen")
            .arg(admin_addr.to_string())
            .arg("--metadata-url")
            .arg(self.spec.metadata_url())
            .arg("--data-shards")
            .arg(self.spec.data_shards.to_string())
            .arg("--parity-shards")
            .arg(self.spec.parity_shards.to_string())
            .args(&self.spec.edge_args);
        Ok(cmd)
    }

    /// Waits until metadata reports at least `n` of this cluster's nodes up.
    pub async fn wait_nodes_up(&self, n: usize, timeout: Duration) -> Result<(), ClusterError> {
        let secret = ClusterSecret::new(self.spec.cluster_secret.clone())
            .map_err(|e| ClusterError::Secret(e.to_string()))?;
        let client = MetadataClient::new(&self.spec.metadata_url(), secret)
            .map_err(|e| ClusterError::Secret(e.to_string()))?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(list) = client.list_nodes().await
                && list.iter().filter(|s| s.is_up()).count() >= n
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(ClusterError::NotReady {
                    role: format!("{n} storage nodes"),
                    waited: timeout,
                    log: self.spec.data_dir.join("logs").display().to_string(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts one more storage node (the next `node-N`) listening on
    /// `addr`, with a fresh data folder; returns its index.
    pub fn add_node(&mut self, addr: std::net::SocketAddr) -> Result<usize, ClusterError> {
        let i = self.nodes.len();
        self.spec.node_addrs.push(addr);
        self.nodes.push(Proc::new(node_name(i)));
        let started = self.spawn_node(i);
        self.publish_or_warn();
        started.map(|()| i)
    }

    /// `kill -9` storage node `i`.
    pub async fn kill_node(&mut self, i: usize) {
        hard_kill(&mut self.nodes[i]).await;
        self.publish_or_warn();
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) storage node `i`.
    pub fn signal_node(&self, i: usize, signal: Signal) -> Result<(), ClusterError> {
        if let Some(pid) = self.nodes[i].pid() {
            kill(Pid::from_raw(pid as i32), signal).map_err(|e| ClusterError::Io(e.into()))?;
        }
        Ok(())
    }

    /// Starts storage node `i` again (same identity, same data folder).
    pub async fn restart_node(&mut self, i: usize) -> Result<(), ClusterError> {
        hard_kill(&mut self.nodes[i]).await;
        let started = self.spawn_node(i);
        self.publish_or_warn();
        started
    }

    /// Restarts node `i` with flags added to its usual ones (a capacity
    /// limit, say).
    pub async fn restart_node_with(
        &mut self,
        i: usize,
        extra: &[String],
    ) -> Result<(), ClusterError> {
        hard_kill(&mut self.nodes[i]).await;
        self.spawn_node_with(i, extra)
    }

    pub async fn kill_metadata(&mut self) {
        hard_kill(&mut self.metadata).await;
        self.publish_or_warn();
    }

    pub async fn restart_metadata(&mut self) -> Result<(), ClusterError> {
        hard_kill(&mut self.metadata).await;
        let started = self.start_metadata().await;
        self.publish_or_warn();
        started
    }

    pub async fn kill_edge(&mut self) {
        hard_kill(&mut self.edge).await;
        self.publish_or_warn();
    }

    pub async fn restart_edge(&mut self) -> Result<(), ClusterError> {
        hard_kill(&mut self.edge).await;
        let started = self.start_edge().await;
        self.publish_or_warn();
        started
    }

    /// Restarts every process, as after a power cut: all `kill -9`, then a
    /// normal start.
    pub async fn restart_all(&mut self) -> Result<(), ClusterError> {
        hard_kill(&mut self.edge).await;
        for p in &mut self.nodes {
            hard_kill(p).await;
        }
        hard_kill(&mut self.metadata).await;
        self.start_metadata().await?;
        for i in 0..self.nodes.len() {
            self.spawn_node(i)?;
        }
        self.wait_nodes_up(self.nodes.len(), READY_TIMEOUT).await?;
        let started = self.start_edge().await;
        self.publish_or_warn();
        started
    }

    /// Starts again every process that is not running (it exited, or was
    /// killed through this handle): metadata first, the edge last, storage
    /// nodes with their old identity and data. Returns the roles started.
    ///
    /// Only ever on request (the `local-cluster` command calls this on
    /// SIGHUP): a cluster that brought its dead back by itself would make
    /// every failure drill pass without repair having done anything.
    pub async fn restart_exited(&mut self) -> Result<Vec<String>, ClusterError> {
        self.reap_exited();
        let started = self.start_missing().await;
        self.publish_or_warn();
        started
    }

    async fn start_missing(&mut self) -> Result<Vec<String>, ClusterError> {
        let mut started = Vec::new();
        if self.metadata.child.is_none() {
            self.start_metadata().await?;
            started.push(self.metadata.role.clone());
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i].child.is_none() {
                self.spawn_node(i)?;
                started.push(self.nodes[i].role.clone());
            }
        }
        if self.edge.child.is_none() {
            self.start_edge().await?;
            started.push(self.edge.role.clone());
        }
        Ok(started)
    }

    /// Processes that have exited since the last call, with their status.
    pub fn reap_exited(&mut self) -> Vec<(String, ExitStatus)> {
        let mut out = Vec::new();
        for p in std::iter::once(&mut self.metadata)
            .chain(self.nodes.iter_mut())
            .chain(std::iter::once(&mut self.edge))
        {
            if let Some(child) = p.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                out.push((p.role.clone(), status));
                p.child = None;
            }
        }
        if !out.is_empty() {
            self.publish_or_warn();
        }
        out
    }

    /// Graceful stop: SIGTERM the edge, then the nodes, then metadata, each
    /// given up to 10 s before `kill -9`.
    pub async fn stop(mut self) {
        graceful_stop(&mut self.edge).await;
        for p in &mut self.nodes {
            send_term(p);
        }
        for p in &mut self.nodes {
            graceful_wait(p).await;
        }
        graceful_stop(&mut self.metadata).await;
        // No pids left in it: a stale one could be reused by anything.
        self.supervisor_pid = None;
        self.publish_or_warn();
    }
}

fn node_name(i: usize) -> String {
    format!("node-{}", i + 1)
}

/// Waits until `url` (a `/health`) answers 200 from `proc_`'s own process
/// (its instance id in the answer), or fails when the process exits or
/// `READY_TIMEOUT` passes.
async fn wait_http_ok(url: &str, proc_: &mut Proc, log: &Path) -> Result<(), ClusterError> {
    wait_ready(url, proc_, log, READY_TIMEOUT).await
}

async fn wait_ready(
    url: &str,
    proc_: &mut Proc,
    log: &Path,
    timeout: Duration,
) -> Result<(), ClusterError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| ClusterError::Io(std::io::Error::other(e)))?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(child) = proc_.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            proc_.child = None;
            return Err(ClusterError::Exited {
                role: proc_.role.clone(),
                status,
                log: log.display().to_string(),
            });
        }
        if let Ok(resp) = client.get(url).send().await
            && resp.status().is_success()
            && resp
                .headers()
                .get(metadata::instance::INSTANCE_HEADER)
                .is_some_and(|id| id.as_bytes() == proc_.instance.as_bytes())
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(ClusterError::NotReady {
                role: proc_.role.clone(),
                waited: timeout,
                log: log.display().to_string(),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn hard_kill(p: &mut Proc) {
    if let Some(mut child) = p.child.take() {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
}

fn send_term(p: &Proc) {
    if let Some(pid) = p.pid() {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
    }
}

async fn graceful_wait(p: &mut Proc) {
    if let Some(mut child) = p.child.take() {
        match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
            Ok(_) => {}
            Err(_) => {
                tracing::warn!(role = %p.role, "did not stop within 10 s; killing it");
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
        }
    }
}

async fn graceful_stop(p: &mut Proc) {
    send_term(p);
    graceful_wait(p).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serves `/health` answering 200 with `instance` in the instance
    /// header, as any Tessera process does; returns its address.
    async fn health_server(instance: &'static str) -> SocketAddr {
        let app = axum::Router::new().route(
            "/health",
            axum::routing::get(move || async move {
                ([(metadata::instance::INSTANCE_HEADER, instance)], "ok\n")
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    fn waiting_child(instance: &str) -> Proc {
        let mut proc_ = Proc::new("test".into());
        let child = Command::new("sleep")
            .arg("30")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        proc_.attach((child, instance.to_owned()));
        proc_
    }

    #[tokio::test]
    async fn readiness_waits_for_its_own_process_not_whoever_holds_the_port() {
        let log = Path::new("test.log");
        // Another cluster's process answers on the port: never ready.
        let other = health_server("someone-else").await;
        let mut proc_ = waiting_child("mine");
        let err = wait_ready(
            &format!("http://{other}/health"),
            &mut proc_,
            log,
            Duration::from_millis(500),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ClusterError::NotReady { .. }), "{err}");
        // Its own process: ready at once.
        let own = health_server("mine").await;
        wait_ready(
            &format!("http://{own}/health"),
            &mut proc_,
            log,
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    }
}
