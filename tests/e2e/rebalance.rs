//! Rebalance with real processes: two nodes join six that hold data, and
//! exactly the shards whose rendezvous placement changed move onto them,
//! while reads go on.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use metadata::ids::{BucketName, NodeId, ShardHash};
use metadata::model::{ObjectData, Stripe};
use metadata::placement::{preferred_nodes, stripe_key};
use metadata::wire::ClusterStatus;

use crate::harness::{Options, TestCluster, get};
use crate::repair::{Ledger, assert_stripes_on_distinct_up_nodes, verify_all, write_ledger};
use tests::pattern;

const MIB: usize = 1024 * 1024;

/// Uploads `data` in two parts, the first of 5 MiB: the stripes of a
/// completed multipart object were placed when each part was written.
async fn put_multipart(t: &TestCluster, bucket: &str, key: &str, data: &[u8]) {
    let up =
        t.s3.create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap();
    let id = up.upload_id().unwrap();
    let mut parts = Vec::new();
    for (n, chunk) in (1..).zip(data.chunks(5 * MIB)) {
        let out =
            t.s3.upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(id)
                .part_number(n)
                .body(chunk.to_vec().into())
                .send()
                .await
                .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .set_e_tag(out.e_tag().map(str::to_owned))
                .build(),
        );
    }
    t.s3.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Every striped object's stripes, by key.
async fn stripes(t: &TestCluster, bucket: &str, ledger: &Ledger) -> Vec<(String, Vec<Stripe>)> {
    let meta = t.metadata();
    let bucket: BucketName = bucket.parse().unwrap();
    let keys: Vec<String> = ledger
        .lock()
        .unwrap()
        .iter()
        .map(|(k, _)| k.clone())
        .collect();
    let mut out = Vec::new();
    for key in keys {
        if let (_, ObjectData::Striped(m)) = meta.get_object(&bucket, &key).await.unwrap() {
            out.push((key, m.stripes));
        }
    }
    out
}

/// Waits until a walk that began after `since_unix_ms` found no shard off
/// its preferred node, nothing queued or moving, and full redundancy.
async fn wait_rebalanced(t: &TestCluster, since_unix_ms: i64, limit: Duration) -> ClusterStatus {
    let meta = t.metadata();
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(status) = meta.cluster_status().await {
            let r = &status.repair;
            let b = &r.rebalance;
            let walked_since = r.last_walk.as_ref().is_some_and(|w| {
                w.finished_unix_ms - i64::try_from(w.took_ms).unwrap_or(0) > since_unix_ms
            });
            if walked_since
                && status.redundancy.is_full()
                && r.queued + r.in_flight + b.queued + b.in_flight + b.remaining_shards == 0
            {
                return status;
            }
        }
        if Instant::now() > deadline {
            let status = meta.cluster_status().await;
            panic!("not rebalanced within {limit:?}: {status:#?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn joining_nodes_take_exactly_the_shards_placement_gives_them() {
    let mut t = TestCluster::start_with(Options {
        nodes: 6,
        ..Options::quick_repair()
    })
    .await;
    let ledger = write_ledger(&t, "grow", 16).await;
    let joined = pattern(8 * MIB + 5, 42);
    put_multipart(&t, "grow", "joined", &joined).await;
    ledger.lock().unwrap().push(("joined".into(), joined));
    let before = stripes(&t, "grow", &ledger).await;

    let new: HashSet<NodeId> = [t.add_node(), t.add_node()]
        .into_iter()
        .map(|i| format!("node-{}", i + 1).parse().unwrap())
        .collect();
    t.wait_up_count(8).await;
    let joined_at = metadata::model::now_unix_ms();

    // Readers run while shards move.
    let stop = Arc::new(AtomicBool::new(false));
    let (reads, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let reader = {
        let (s3, ledger) = (t.s3.clone(), ledger.clone());
        let (stop, reads, failed) = (stop.clone(), reads.clone(), failed.clone());
        tokio::spawn(async move {
            let objects = ledger.lock().unwrap().clone();
            for (key, data) in objects.iter().cycle() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let ok = match s3.get_object().bucket("grow").key(key).send().await {
                    Ok(out) => out
                        .body
                        .collect()
                        .await
                        .is_ok_and(|b| b.into_bytes() == data[..]),
                    Err(_) => false,
                };
                reads.fetch_add(1, Ordering::Relaxed);
                if !ok {
                    eprintln!("read of {key} failed during rebalance");
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let started = Instant::now();
    let status = wait_rebalanced(&t, joined_at, Duration::from_secs(120)).await;
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("reader stops")
        .unwrap();

    // What rendezvous hashing predicts over the eight nodes, from the
    // stripes as they were: a shard moves if and only if its node is no
    // longer among its stripe's preferred ones.
    let members = t.metadata().list_nodes().await.unwrap();
    assert_eq!(members.len(), 8);
    let after = stripes(&t, "grow", &ledger).await;
    let (mut total, mut predicted, mut moved) = (0usize, 0usize, 0usize);
    let mut gone = Vec::new();
    for ((key, was), (_, now)) in before.iter().zip(&after) {
        assert_eq!(was.len(), now.len(), "{key}");
        for (i, (was, now)) in was.iter().zip(now).enumerate() {
            let hashes: Vec<ShardHash> = was.shards.iter().map(|s| s.hash).collect();
            let now_hashes: Vec<ShardHash> = now.shards.iter().map(|s| s.hash).collect();
            assert_eq!(hashes, now_hashes, "{key} stripe {i}: the bytes changed");
            let preferred = preferred_nodes(&stripe_key(&hashes), &members, hashes.len());
            for (w, n) in was.shards.iter().zip(&now.shards) {
                total += 1;
                if preferred.contains(&w.node) {
                    assert_eq!(w.node, n.node, "{key} stripe {i}: a shard in place moved");
                } else {
                    predicted += 1;
                    assert!(
                        new.contains(&n.node),
                        "{key} stripe {i}: moved to {}",
                        n.node
                    );
                    gone.push(w.clone());
                }
                if w.node != n.node {
                    moved += 1;
                }
            }
            let placed: HashSet<&NodeId> = now.shards.iter().map(|s| &s.node).collect();
            assert_eq!(
                placed,
                preferred.iter().collect::<HashSet<_>>(),
                "{key} stripe {i}: not where placement puts it"
            );
        }
    }
    let (reads, failed) = (
        reads.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
    );
    eprintln!(
        "rebalanced {moved} of {total} shards ({} bytes) onto 2 new nodes in {took:?}; {reads} reads, {failed} failed",
        status.repair.rebalance.moved_bytes
    );
    assert_eq!(moved, predicted);
    assert_eq!(status.repair.rebalance.moved_shards, predicted as u64);
    // Each of two new nodes among eight wins a given stripe's six places
    // with probability 6/8: a quarter of all shards, give or take.
    let fraction = predicted as f64 / total as f64;
    assert!(
        (0.15..0.35).contains(&fraction),
        "{predicted} of {total} shards moved"
    );
    assert_eq!(failed, 0, "reads failed during rebalance");
    assert!(reads > 0);
    assert_stripes_on_distinct_up_nodes(&t, "grow", &ledger).await;
    verify_all(&t, "grow", &ledger).await;

    // The nodes the shards left delete their copies.
    let deadline = Instant::now() + Duration::from_secs(30);
    for shard in &gone {
        let path = t.shard_file(shard);
        while path.exists() {
            assert!(
                Instant::now() < deadline,
                "{} was moved but never deleted",
                path.display()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // Nothing moves once the data sits where it belongs.
    let settled =
        wait_rebalanced(&t, metadata::model::now_unix_ms(), Duration::from_secs(30)).await;
    assert_eq!(
        settled.repair.rebalance.moved_shards,
        status.repair.rebalance.moved_shards
    );
    let (key, data) = ledger.lock().unwrap()[3].clone();
    assert!(get(&t.s3, "grow", &key, None).await == data);
}
