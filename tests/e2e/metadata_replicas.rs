//! Three metadata replicas on one PostgreSQL database. The one leading
//! repair is killed with `kill -9` in the middle of a repair while S3
//! writes and reads go on: another replica takes the lead within seconds,
//! repair completes, and every acknowledged object reads back.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use metadata::client::MetadataClient;
use metadata::cluster_auth::ClusterSecret;
use metadata::lifecycle::EXIT_WITH_PARENT_ENV;
use metadata::testing::postgres::TestDatabase;
use tokio::process::{Child, Command};

use crate::harness::{CLUSTER_SECRET, Options, TestCluster, free_addr};
use crate::repair::{
    Load, assert_stripes_on_distinct_up_nodes, verify_all, wait_full_redundancy, write_ledger,
};

/// Short timings: a dead node is repaired after 2 s, a dead leader replaced
/// after about 2 s.
fn replica_args(url: &str) -> Vec<String> {
    [
        "--postgres-url",
        url,
        "--repair-after",
        "2s",
        "--repair-scan-every",
        "1s",
        "--leader-lease",
        "2s",
    ]
    .map(String::from)
    .to_vec()
}

/// A metadata replica the test runs itself (the cluster runs the first).
async fn start_replica(addr: SocketAddr, url: &str, dir: &Path, heartbeat: Duration) -> Child {
    let log = std::fs::File::create(dir.join(format!("replica-{}.log", addr.port())))
        .expect("replica log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("metadata")
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--heartbeat-timeout")
        .arg(humantime::format_duration(heartbeat).to_string())
        .args(replica_args(url))
        .env("TESSERA_CLUSTER_SECRET", CLUSTER_SECRET)
        .env(EXIT_WITH_PARENT_ENV, "1")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("starting a metadata replica");
    let health = format!("http://{addr}/health");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if reqwest::get(&health)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return child;
        }
        assert!(
            child.try_wait().expect("replica status").is_none(),
            "replica on {addr} exited"
        );
        assert!(
            Instant::now() < deadline,
            "replica on {addr} never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn client_of(addr: &str) -> MetadataClient {
    MetadataClient::new(
        &format!("http://{addr}"),
        ClusterSecret::new(CLUSTER_SECRET).expect("secret"),
    )
    .expect("metadata client")
}

/// The address of the leader, once the replicas at `addrs` agree on one
/// that is among them.
async fn agreed_leader(addrs: &[String], within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let mut seen = Vec::new();
        for addr in addrs {
            if let Ok(s) = client_of(addr).leader_status().await {
                seen.push((s.is_leader, s.leader.map(|l| l.addr)));
            }
        }
        let leaders: Vec<_> = seen.iter().filter(|(is, _)| *is).collect();
        if seen.len() == addrs.len()
            && leaders.len() == 1
            && let Some(leader) = &leaders[0].1
            && seen.iter().all(|(_, l)| l.as_ref() == Some(leader))
        {
            return leader.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no agreed leader among {addrs:?} within {within:?}: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_the_leading_replica_loses_nothing() {
    let Some(db) = TestDatabase::create().await.expect("test database") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut opts = Options::quick_repair();
    let heartbeat = opts.heartbeat_timeout;
    let extra = [free_addr(), free_addr()];
    let mut replicas = Vec::new();
    for addr in extra {
        replicas.push((
            addr,
            start_replica(addr, db.url(), dir.path(), heartbeat).await,
        ));
    }
    opts.metadata_args = replica_args(db.url());
    opts.metadata_replicas = extra.to_vec();
    // Slow repair, so the leader is killed while it is under way.
    opts.node_args = ["--repair-bandwidth", "1MiB", "--repair-concurrency", "1"]
        .map(String::from)
        .to_vec();
    let mut t = TestCluster::start_with(opts).await;
    let first = t.cluster.spec().metadata_addr;
    let all: Vec<String> = std::iter::once(first)
        .chain(extra)
        .map(|a| a.to_string())
        .collect();

    let ledger = write_ledger(&t, "replicated", 12).await;
    let load = Load::start(&t, "replicated", &ledger);
    let leader = agreed_leader(&all, Duration::from_secs(20)).await;

    // A node dies; the leader starts repairing what it held.
    let killed_at = metadata::model::now_unix_ms();
    t.cluster.kill_node(2).await;
    let meta = t.metadata();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(status) = meta.cluster_status().await
            && status.repair.rebuilt_shards > 0
        {
            assert!(!status.redundancy.is_full(), "repair finished too soon");
            break;
        }
        assert!(Instant::now() < deadline, "repair never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // kill -9 the leader in the middle of it.
    let lost_leader_at = Instant::now();
    if leader == first.to_string() {
        t.cluster.kill_metadata().await;
    } else {
        let (_, child) = replicas
            .iter_mut()
            .find(|(a, _)| a.to_string() == leader)
            .expect("the leader is one of the replicas");
        child.start_kill().expect("kill -9 the leader");
        child.wait().await.expect("the leader exits");
    }
    let survivors: Vec<String> = all.iter().filter(|a| **a != leader).cloned().collect();
    let successor = agreed_leader(&survivors, Duration::from_secs(15)).await;
    let took = lost_leader_at.elapsed();
    eprintln!("leader {leader} killed; {successor} leads after {took:?}");
    assert!(took < Duration::from_secs(10), "a new leader took {took:?}");

    let status = wait_full_redundancy(&t, killed_at + 2_000, Duration::from_secs(180)).await;
    let (reads, failed, writes) = load.stop().await;
    eprintln!(
        "repaired {} shards; {reads} reads ({failed} failed), {writes} writes during the drill",
        status.repair.rebuilt_shards
    );
    assert_eq!(failed, 0, "reads of acknowledged objects failed");
    assert!(reads > 0 && writes > 0);
    assert_stripes_on_distinct_up_nodes(&t, "replicated", &ledger).await;
    verify_all(&t, "replicated", &ledger).await;
}
