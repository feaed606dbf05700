//! The failure drill against real clusters: the `drill` binary freezing a
//! storage node of a harness cluster (found through its `cluster.json`), and
//! the `local-cluster` supervisor restarting a killed node on SIGHUP, which
//! is how `drill --restart` brings killed nodes back.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use edge::cluster_file::ClusterFile;
use metadata::cluster_auth::ClusterSecret;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tests::drill::status::StatusClient;

use crate::harness::{ACCESS_KEY, Options, SECRET_KEY, TestCluster};

#[tokio::test(flavor = "multi_thread")]
async fn drill_with_a_frozen_node_loses_nothing() {
    let t = TestCluster::start_with(Options::default()).await;

    // The harness's cluster describes itself like the local-cluster command.
    let path = t.cluster.cluster_file_path();
    let file = ClusterFile::read(&path).unwrap();
    assert_eq!(file.s3_endpoint, t.cluster.s3_endpoint());
    assert_eq!(file.supervisor_pid, None, "nothing answers SIGHUP here");
    let listed: Vec<(String, Option<u32>)> = file
        .processes
        .iter()
        .map(|p| (p.role.clone(), p.pid))
        .collect();
    let running: Vec<(String, Option<u32>)> = t
        .cluster
        .processes()
        .into_iter()
        .map(|(role, pid, _)| (role, pid))
        .collect();
    assert_eq!(listed, running);
    let node2 = file.node(&"node-2".parse().unwrap()).unwrap();
    assert!(node2.pid.is_some());

    let started = Instant::now();
    let (out, report) = run_drill(&path, &["--freeze", "node-2", "--freeze-for", "5s"]).await;
    assert!(out.status.success(), "exit {:?}", out.status);
    assert_eq!(report["passed"], true);
    assert_eq!(report["totals"]["lost_objects"], 0);
    assert_eq!(report["totals"]["wrong_bodies"], 0);
    assert_eq!(report["repair"]["completed"], true);
    assert!(report["ledger_objects"].as_u64().unwrap() >= 20);
    assert_eq!(report["verification"]["checked"], report["ledger_objects"]);
    assert!(
        report["during_fault"]["reads"]["attempted"]
            .as_u64()
            .unwrap()
            > 0
    );
    // Heartbeats stop with the freeze; metadata calls the node down within
    // its 3 s heartbeat timeout of the last one, before the thaw.
    let detect = report["time_to_detect_secs"].as_f64().unwrap();
    assert!((1.0..5.0).contains(&detect), "detected after {detect} s");
    let back = report["repair"]["time_to_full_redundancy_secs"]
        .as_f64()
        .unwrap();
    assert!(back >= 5.0, "full redundancy before the thaw? {back} s");
    assert!(started.elapsed() < Duration::from_secs(90));
}

/// Runs the drill binary against the cluster described by `cluster_json`
/// with a small dataset and light traffic; returns its exit and its JSON
/// report.
async fn run_drill(
    cluster_json: &Path,
    fault: &[&str],
) -> (std::process::Output, serde_json::Value) {
    let out = tokio::time::timeout(
        Duration::from_secs(150),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_drill"))
            .arg("--cluster")
            .arg(cluster_json)
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .args(["--objects", "20", "--baseline", "2s"])
            .args(fault)
            .args(["--readers", "2", "--writers", "1"])
            .args(["--read-rate", "40", "--write-rate", "4"])
            .args(["--repair-timeout", "60s", "--poll-interval", "250ms"])
            .arg("--json")
            // Only the cluster file says where the cluster is.
            .env_remove("TESSERA_METADATA_URL")
            .env_remove("TESSERA_CLUSTER_SECRET")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the drill finishes in time")
    .expect("the drill runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}); stderr:\n{stderr}"));
    eprintln!("{}", serde_json::to_string_pretty(&report).unwrap());
    (out, report)
}

/// Two nodes killed: the drill waits for repair to rebuild their shards on
/// the other six, then verifies every acknowledged object.
#[tokio::test(flavor = "multi_thread")]
async fn drill_with_two_killed_nodes_waits_for_repair_and_loses_nothing() {
    let t = TestCluster::start_with(Options::quick_repair()).await;
    let path = t.cluster.cluster_file_path();
    let (out, report) = run_drill(&path, &["--kill", "node-3,node-6"]).await;
    assert!(out.status.success(), "exit {:?}", out.status);
    assert_eq!(report["passed"], true);
    assert_eq!(report["totals"]["lost_objects"], 0);
    assert_eq!(report["totals"]["wrong_bodies"], 0);
    assert_eq!(report["repair"]["completed"], true);
    assert!(
        report["repair"]["bytes_repaired"].as_u64().unwrap_or(0) > 0,
        "{}",
        report["repair"]
    );
}

/// Ports for a `local-cluster` command: four single ones and eight in a row
/// for the nodes, below the ephemeral range like the harness's.
fn local_cluster_ports(attempt: u32) -> Option<[u16; 4]> {
    let base = 20_000 + (std::process::id() * 13 + attempt * 101) % 11_000;
    let base = u16::try_from(base).ok()?;
    let ports: Vec<u16> = (0..11).map(|i| base + 300 + i).collect();
    let free = ports
        .iter()
        .all(|&p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
    // metadata, then the nodes' first, S3 and admin: the nodes take the rest.
    free.then(|| [ports[0], ports[3], ports[1], ports[2]])
}

/// The `local-cluster` flags for ports from [`local_cluster_ports`].
fn port_args([meta, first_node, s3, admin]: [u16; 4]) -> Vec<String> {
    [
        ("--metadata-port", meta),
        ("--first-node-port", first_node),
        ("--s3-port", s3),
        ("--admin-port", admin),
    ]
    .into_iter()
    .flat_map(|(flag, port)| [flag.to_owned(), port.to_string()])
    .collect()
}

/// Starts `tessera local-cluster` on `data` with `ports`; its output goes
/// to `out` and `err` in `dir` (see [`dump_output`]).
fn spawn_local_cluster(dir: &Path, data: &Path, ports: &[String]) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("local-cluster")
        .arg("--data")
        .arg(data)
        .args(ports)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(dir.join("out")).unwrap())
        .stderr(std::fs::File::create(dir.join("err")).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Polls `cluster.json` until `ok` holds for it.
async fn wait_for_file(
    path: &Path,
    what: &str,
    child: &mut tokio::process::Child,
    ok: impl Fn(&ClusterFile) -> bool,
) -> Option<ClusterFile> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(f) = ClusterFile::read(path)
            && ok(&f)
        {
            return Some(f);
        }
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!("local-cluster exited ({status}) while waiting for {what}");
            dump_output(path);
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    dump_output(path);
    panic!("timed out waiting for {what}");
}

/// What `local-cluster` printed (its `out` and `err` files sit next to the
/// data folder that holds `cluster_json`).
fn dump_output(cluster_json: &Path) {
    let Some(dir) = cluster_json.parent().and_then(Path::parent) else {
        return;
    };
    for f in ["out", "err"] {
        let text = std::fs::read_to_string(dir.join(f)).unwrap_or_default();
        eprintln!("--- local-cluster {f}\n{text}");
    }
}

fn pid_of(file: &ClusterFile, role: &str) -> Option<u32> {
    file.processes
        .iter()
        .find(|p| p.role == role)
        .and_then(|p| p.pid)
}

#[tokio::test(flavor = "multi_thread")]
async fn drill_restart_local_cluster_restarts_a_killed_node_on_sighup() {
    for attempt in 0..3 {
        let Some(ports) = local_cluster_ports(attempt) else {
            continue;
        };
        let dir = tempfile::tempdir().unwrap();
        let data: PathBuf = dir.path().join("data");
        let mut child = spawn_local_cluster(dir.path(), &data, &port_args(ports));
        let path = data.join("cluster.json");
        let Some(file) = wait_for_file(&path, "the cluster to start", &mut child, |f| {
            f.supervisor_pid.is_some()
        })
        .await
        else {
            continue; // lost a port to someone else: try others
        };
        let supervisor = file.supervisor_pid.unwrap();
        let old = pid_of(&file, "node-3").unwrap();

        kill(Pid::from_raw(old as i32), Signal::SIGKILL).unwrap();
        // The supervisor notices the exit and does nothing else about it.
        let file = wait_for_file(&path, "node-3 reaped", &mut child, |f| {
            pid_of(f, "node-3").is_none()
        })
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(pid_of(&ClusterFile::read(&path).unwrap(), "node-3"), None);

        kill(Pid::from_raw(supervisor as i32), Signal::SIGHUP).unwrap();
        let restarted = wait_for_file(&path, "node-3 restarted", &mut child, |f| {
            pid_of(f, "node-3").is_some()
        })
        .await
        .unwrap();
        assert_ne!(pid_of(&restarted, "node-3"), Some(old));
        for role in ["metadata", "node-1", "node-8", "edge"] {
            assert_eq!(pid_of(&restarted, role), pid_of(&file, role), "{role}");
        }
        let secret = std::fs::read_to_string(&restarted.cluster_secret_file).unwrap();
        let status =
            StatusClient::new(&restarted.metadata_url, ClusterSecret::new(secret).unwrap())
                .unwrap();
        let node3 = "node-3".parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(view) = status.fetch().await
                && view.all_up(std::slice::from_ref(&node3))
            {
                break;
            }
            assert!(Instant::now() < deadline, "node-3 never came back up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // A graceful stop leaves no pid behind to be signalled by mistake.
        kill(Pid::from_raw(supervisor as i32), Signal::SIGTERM).unwrap();
        let exited = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .expect("local-cluster stops")
            .unwrap();
        assert!(exited.success(), "{exited}");
        let after = ClusterFile::read(&path).unwrap();
        assert_eq!(after.supervisor_pid, None);
        assert!(after.processes.iter().all(|p| p.pid.is_none()));
        return;
    }
    panic!("no free ports for a local cluster in three attempts");
}

/// `local-cluster` started beside a running one: on the same data folder it
/// is refused at once (the folder is locked), and on another folder with the
/// same ports it names the first busy port; the running cluster's file is
/// left alone either way.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_local_cluster_says_at_once_why_it_cannot_start() {
    for attempt in 0..3 {
        let Some(port_numbers) = local_cluster_ports(attempt + 7) else {
            continue;
        };
        let meta = port_numbers[0];
        let ports = port_args(port_numbers);
        let dir = tempfile::tempdir().unwrap();
        let data: PathBuf = dir.path().join("data");
        let mut running = spawn_local_cluster(dir.path(), &data, &ports);
        let path = data.join("cluster.json");
        let Some(file) = wait_for_file(&path, "the cluster to start", &mut running, |f| {
            f.supervisor_pid.is_some()
        })
        .await
        else {
            continue; // lost a port to someone else: try others
        };

        let second = |data: PathBuf| {
            let ports = ports.clone();
            async move {
                let out = tokio::time::timeout(
                    Duration::from_secs(20),
                    tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
                        .arg("local-cluster")
                        .arg("--data")
                        .arg(&data)
                        .args(&ports)
                        .stdin(std::process::Stdio::null())
                        .kill_on_drop(true)
                        .output(),
                )
                .await
                .expect("a second local-cluster ends by itself")
                .unwrap();
                (
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                )
            }
        };
        let (code, stderr) = second(data.clone()).await;
        assert_eq!(code, Some(1), "{stderr}");
        assert!(
            stderr.contains("another local cluster is running"),
            "{stderr}"
        );
        let (code, stderr) = second(dir.path().join("other")).await;
        assert_eq!(code, Some(1), "{stderr}");
        assert!(stderr.contains(&format!("127.0.0.1:{meta}")), "{stderr}");
        // A refused start leaves no folder (no secret, no lock) behind.
        assert!(!dir.path().join("other").exists());

        let after = ClusterFile::read(&path).unwrap();
        assert_eq!(after.supervisor_pid, file.supervisor_pid);
        assert_eq!(pid_of(&after, "edge"), pid_of(&file, "edge"));
        return;
    }
    panic!("no free ports for a local cluster in three attempts");
}
