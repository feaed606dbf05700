//! Repair with real processes: nodes killed under load, a wiped disk,
//! corrupt and missing shard files, a node lost in the middle of a repair,
//! writes with fewer nodes than shards. Each test ends by proving full
//! redundancy from the manifests themselves.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metadata::ids::{BucketName, NodeId};
use metadata::model::ObjectData;
use metadata::wire::ClusterStatus;

use crate::harness::{Options, TestCluster, get, put, write_dataset};
use tests::pattern;

const MIB: usize = 1024 * 1024;

/// Acknowledged writes: what must read back byte for byte.
pub(crate) type Ledger = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

pub(crate) async fn write_ledger(t: &TestCluster, bucket: &str, n: usize) -> Ledger {
    Arc::new(Mutex::new(write_dataset(t, bucket, n).await))
}

pub(crate) async fn verify_all(t: &TestCluster, bucket: &str, ledger: &Ledger) {
    let objects = ledger.lock().unwrap().clone();
    for (key, data) in &objects {
        let back = get(&t.s3, bucket, key, None).await;
        assert!(back == *data, "{key}: bytes differ");
    }
}

/// Readers and writers that run until stopped, keeping the ledger and
/// counting what went wrong.
pub(crate) struct Load {
    stop: Arc<AtomicBool>,
    failed_reads: Arc<AtomicU64>,
    reads: Arc<AtomicU64>,
    writes: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    pub(crate) fn start(t: &TestCluster, bucket: &str, ledger: &Ledger) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let failed_reads = Arc::new(AtomicU64::new(0));
        let reads = Arc::new(AtomicU64::new(0));
        let writes = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for r in 0..3u64 {
            let (s3, bucket, ledger) = (t.s3.clone(), bucket.to_owned(), ledger.clone());
            let (stop, failed, reads) = (stop.clone(), failed_reads.clone(), reads.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = r;
                while !stop.load(Ordering::Relaxed) {
                    let (key, data) = {
                        let l = ledger.lock().unwrap();
                        l[(n as usize * 7) % l.len()].clone()
                    };
                    n += 1;
                    let ok = match s3.get_object().bucket(&bucket).key(&key).send().await {
                        Ok(out) => out
                            .body
                            .collect()
                            .await
                            .is_ok_and(|b| b.into_bytes() == data[..]),
                        Err(_) => false,
                    };
                    reads.fetch_add(1, Ordering::Relaxed);
                    if !ok {
                        eprintln!("read of acknowledged {key} failed");
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        let (s3, bucket, ledger) = (t.s3.clone(), bucket.to_owned(), ledger.clone());
        let (stop2, writes2) = (stop.clone(), writes.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop2.load(Ordering::Relaxed) {
                let key = format!("during-{i}");
                let data = pattern(MIB + (i as usize % 3) * MIB / 2, 9000 + i);
                let acked = s3
                    .put_object()
                    .bucket(&bucket)
                    .key(&key)
                    .body(data.clone().into())
                    .send()
                    .await
                    .is_ok();
                if acked {
                    ledger.lock().unwrap().push((key, data));
                    writes2.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
        Load {
            stop,
            failed_reads,
            reads,
            writes,
            tasks,
        }
    }

    /// Stops the load; returns (reads, failed reads, acknowledged writes).
    pub(crate) async fn stop(self) -> (u64, u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(90), t).await;
        }
        (
            self.reads.load(Ordering::Relaxed),
            self.failed_reads.load(Ordering::Relaxed),
            self.writes.load(Ordering::Relaxed),
        )
    }
}

/// Waits until a walk after `since` found every stripe at full redundancy
/// with nothing left to do, rebalance included (a node back after the
/// grace period gets its share again; the manifests must be still when a
/// test reads them). Returns that status.
pub(crate) async fn wait_full_redundancy(
    t: &TestCluster,
    since_unix_ms: i64,
    limit: Duration,
) -> ClusterStatus {
    let meta = t.metadata();
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(status) = meta.cluster_status().await
            && status.redundancy.is_full()
            && status.repair.queued == 0
            && status.repair.in_flight == 0
            && status.repair.rebalance.queued == 0
            && status.repair.rebalance.in_flight == 0
            && status.repair.rebalance.remaining_shards == 0
            && status
                .repair
                .verified_full_unix_ms
                .is_some_and(|at| at > since_unix_ms)
        {
            return status;
        }
        if Instant::now() > deadline {
            let status = meta.cluster_status().await;
            panic!("no full redundancy within {limit:?}: {status:#?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Proves from the manifests that every stripe of every object in the
/// ledger has all its shards on distinct nodes that are up.
pub(crate) async fn assert_stripes_on_distinct_up_nodes(
    t: &TestCluster,
    bucket: &str,
    ledger: &Ledger,
) {
    let meta = t.metadata();
    let up: HashSet<NodeId> = meta
        .list_nodes()
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.is_up())
        .map(|n| n.heartbeat.id)
        .collect();
    let bucket: BucketName = bucket.parse().unwrap();
    let keys: Vec<String> = ledger
        .lock()
        .unwrap()
        .iter()
        .map(|(k, _)| k.clone())
        .collect();
    for key in keys {
        let (_, data) = meta.get_object(&bucket, &key).await.unwrap();
        let ObjectData::Striped(manifest) = data else {
            continue;
        };
        for (i, stripe) in manifest.stripes.iter().enumerate() {
            let nodes: HashSet<&NodeId> = stripe.shards.iter().map(|s| &s.node).collect();
            assert_eq!(
                nodes.len(),
                stripe.shards.len(),
                "{key} stripe {i}: shards share a node"
            );
            assert!(
                nodes.iter().all(|n| up.contains(*n)),
                "{key} stripe {i}: a shard on a node that is down: {nodes:?}"
            );
            for shard in &stripe.shards {
                let path = t.shard_file(shard);
                let bytes = std::fs::read(&path)
                    .unwrap_or_else(|e| panic!("{key} stripe {i}: {}: {e}", path.display()));
                assert_eq!(
                    metadata::ids::ShardHash::of(&bytes),
                    shard.hash,
                    "{key} stripe {i}: bad bytes in {}",
                    path.display()
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_killed_nodes_are_repaired_under_load_then_two_more_can_fail() {
    let mut t = TestCluster::start_with(Options::quick_repair()).await;
    let ledger = write_ledger(&t, "heal", 16).await;
    let load = Load::start(&t, "heal", &ledger);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let killed_at = metadata::model::now_unix_ms();
    let started = Instant::now();
    t.cluster.kill_node(1).await;
    t.cluster.kill_node(4).await;
    let status = wait_full_redundancy(&t, killed_at + 2_000, Duration::from_secs(120)).await;
    let took = started.elapsed();
    let (reads, failed, writes) = load.stop().await;
    eprintln!(
        "repaired {} shards ({} bytes, {} moved) in {took:?}; {reads} reads ({failed} failed), {writes} writes during the drill",
        status.repair.rebuilt_shards, status.repair.rebuilt_bytes, status.repair.moved_shards
    );
    assert_eq!(failed, 0, "reads of acknowledged objects failed");
    assert!(status.repair.rebuilt_shards > 0);
    assert!(reads > 0 && writes > 0);
    assert_stripes_on_distinct_up_nodes(&t, "heal", &ledger).await;

    // Full redundancy again: two more nodes may go, and everything reads.
    t.cluster.kill_node(2).await;
    t.cluster.kill_node(6).await;
    verify_all(&t, "heal", &ledger).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn corrupt_and_missing_shards_are_found_by_reads_and_by_scrub() {
    let mut opts = Options::quick_repair();
    opts.node_args = ["--scrub-rate", "64MiB", "--scrub-pause", "1s"]
        .map(String::from)
        .to_vec();
    let t = TestCluster::start_with(opts).await;
    t.s3.create_bucket().bucket("rot").send().await.unwrap();
    let read_me = pattern(9 * MIB, 1);
    let never_read = pattern(9 * MIB, 2);
    put(&t.s3, "rot", "read-me", &read_me).await;
    put(&t.s3, "rot", "never-read", &never_read).await;
    let meta = t.metadata();
    let manifest = |key: &'static str| {
        let meta = meta.clone();
        async move {
            match meta
                .get_object(&"rot".parse().unwrap(), key)
                .await
                .unwrap()
                .1
            {
                ObjectData::Striped(m) => m,
                ObjectData::Inline(_) => panic!("{key} is inline"),
            }
        }
    };
    let a = manifest("read-me").await;
    let b = manifest("never-read").await;
    // In the object that is read: a data shard with a flipped byte, and
    // another stripe's data shard deleted. In the one never read: a
    // flipped byte that only the scrubber can find.
    let flip = |path: &std::path::Path| {
        let mut bytes = std::fs::read(path).unwrap();
        bytes[100] ^= 0x40;
        std::fs::write(path, bytes).unwrap();
    };
    let damaged = [
        a.stripes[0].shards[0].clone(),
        a.stripes[1].shards[1].clone(),
        b.stripes[2].shards[2].clone(),
    ];
    flip(&t.shard_file(&damaged[0]));
    std::fs::remove_file(t.shard_file(&damaged[1])).unwrap();
    flip(&t.shard_file(&damaged[2]));
    let damaged_at = metadata::model::now_unix_ms();

    assert!(get(&t.s3, "rot", "read-me", None).await == read_me);
    // Every damaged copy is rebuilt where it was.
    let deadline = Instant::now() + Duration::from_secs(60);
    for shard in &damaged {
        let path = t.shard_file(shard);
        loop {
            if std::fs::read(&path).is_ok_and(|b| metadata::ids::ShardHash::of(&b) == shard.hash) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} never repaired",
                path.display()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let status = wait_full_redundancy(&t, damaged_at, Duration::from_secs(30)).await;
    assert!(status.repair.rebuilt_shards >= 3, "{:?}", status.repair);
    let scrubbed: u64 = status
        .nodes
        .iter()
        .filter_map(|n| n.heartbeat.scrub.as_ref())
        .map(|s| s.corrupt_found)
        .sum();
    assert!(
        scrubbed >= 1,
        "the scrubber found the never-read corruption"
    );
    assert!(get(&t.s3, "rot", "never-read", None).await == never_read);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wiped_node_is_refilled_while_reads_go_on() {
    let mut t = TestCluster::start_with(Options::quick_repair()).await;
    let ledger = write_ledger(&t, "wipe", 12).await;
    t.cluster.kill_node(3).await;
    let data_dir = t.cluster.node_data_dir(3);
    std::fs::remove_dir_all(&data_dir).unwrap();
    let wiped_at = metadata::model::now_unix_ms();
    let before = t.metadata().cluster_status().await.unwrap().repair;
    let load = Load::start(&t, "wipe", &ledger);
    let started = Instant::now();
    t.cluster.restart_node(3).await.unwrap();
    let status = wait_full_redundancy(&t, wiped_at + 1_000, Duration::from_secs(90)).await;
    let took = started.elapsed();
    let (reads, failed, _) = load.stop().await;
    let rebuilt = status.repair.rebuilt_bytes - before.rebuilt_bytes;
    eprintln!(
        "refilled a wiped node: {rebuilt} bytes in {took:?} ({:.1} MB/s, including detection); {reads} reads, {failed} failed",
        rebuilt as f64 / took.as_secs_f64() / 1e6
    );
    assert_eq!(failed, 0);
    assert!(rebuilt > 0);
    assert_stripes_on_distinct_up_nodes(&t, "wipe", &ledger).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_node_lost_during_repair_loses_nothing() {
    let mut opts = Options::quick_repair();
    // Slow repair, so the second kill lands in the middle of it.
    opts.node_args = ["--repair-bandwidth", "2MiB", "--repair-concurrency", "1"]
        .map(String::from)
        .to_vec();
    let mut t = TestCluster::start_with(opts).await;
    let ledger = write_ledger(&t, "twice", 16).await;
    let killed_at = metadata::model::now_unix_ms();
    t.cluster.kill_node(0).await;
    let meta = t.metadata();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = meta.cluster_status().await.unwrap();
        if status.repair.rebuilt_shards > 0 {
            assert!(!status.redundancy.is_full(), "repair already finished");
            break;
        }
        assert!(Instant::now() < deadline, "repair never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    t.cluster.kill_node(5).await;
    verify_all(&t, "twice", &ledger).await;
    wait_full_redundancy(&t, killed_at + 5_000, Duration::from_secs(180)).await;
    assert_stripes_on_distinct_up_nodes(&t, "twice", &ledger).await;
    verify_all(&t, "twice", &ledger).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_with_fewer_nodes_than_shards_owe_redundancy_until_nodes_return() {
    let mut t = TestCluster::start_with(Options::quick_repair()).await;
    t.s3.create_bucket().bucket("few").send().await.unwrap();
    for i in [0, 3, 6] {
        t.cluster.kill_node(i).await;
    }
    t.wait_up_count(5).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Five nodes for six shards: one node holds two, and the stripe still
    // survives the loss of any one node.
    let data = pattern(4 * MIB + 1, 5);
    put(&t.s3, "few", "owed", &data).await;
    let status = t.metadata().cluster_status().await.unwrap();
    assert!(!status.redundancy.is_full(), "{:?}", status.redundancy);
    assert_eq!(
        status.repair.last_walk.map(|w| w.deferred.no_spare_shards),
        Some(2),
        "two stripes, each with a doubled shard and no node to move it to"
    );
    for i in [0, 3, 6] {
        t.cluster.restart_node(i).await.unwrap();
    }
    let back = metadata::model::now_unix_ms();
    let ledger: Ledger = Arc::new(Mutex::new(vec![("owed".to_owned(), data)]));
    wait_full_redundancy(&t, back, Duration::from_secs(60)).await;
    assert_stripes_on_distinct_up_nodes(&t, "few", &ledger).await;
    verify_all(&t, "few", &ledger).await;

    // With only k nodes up a write is refused: one more loss would make it
    // unreadable.
    for i in [0, 1, 2, 3] {
        t.cluster.kill_node(i).await;
    }
    t.wait_up_count(4).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let err =
        t.s3.put_object()
            .bucket("few")
            .key("refused")
            .body(pattern(2 * MIB, 6).into())
            .send()
            .await
            .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("ServiceUnavailable")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drained_node_hands_over_its_shards_and_can_be_removed() {
    let mut t = TestCluster::start_with(Options::quick_repair()).await;
    let ledger = write_ledger(&t, "drain", 8).await;
    let meta = t.metadata();
    let node: NodeId = "node-3".parse().unwrap();
    let before = meta.cluster_status().await.unwrap();
    assert!(before.node_files.get(&node).copied().unwrap_or(0) > 0);

    let (ok, out) = t.admin(&["node", "drain", "node-3"]).await;
    assert!(ok, "{out}");
    let drained_at = metadata::model::now_unix_ms();
    // Removing it now would lose what it holds.
    let (ok, out) = t.admin(&["node", "remove", "node-3"]).await;
    assert!(!ok, "{out}");
    let status = wait_full_redundancy(&t, drained_at, Duration::from_secs(60)).await;
    assert_eq!(status.node_files.get(&node).copied().unwrap_or(0), 0);
    assert!(status.repair.moved_shards > 0);
    // New writes stay off it too.
    let data = pattern(3 * MIB, 77);
    put(&t.s3, "drain", "after-drain", &data).await;
    ledger.lock().unwrap().push(("after-drain".into(), data));

    t.cluster.kill_node(2).await;
    t.wait_up_count(7).await;
    let (ok, out) = t.admin(&["node", "remove", "node-3"]).await;
    assert!(ok, "{out}");
    let nodes = meta.list_nodes().await.unwrap();
    assert!(nodes.iter().all(|n| n.heartbeat.id != node));
    assert_stripes_on_distinct_up_nodes(&t, "drain", &ledger).await;
    verify_all(&t, "drain", &ledger).await;
}
