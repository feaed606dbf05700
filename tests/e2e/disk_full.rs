//! Full disks: one node out of room sends writes elsewhere; a cluster out
//! of room refuses writes cleanly, keeps every acknowledged object, and
//! takes writes again once space is freed.

use std::time::{Duration, Instant};

use crate::harness::{Options, TestCluster, get, put};
use tests::pattern;

const MIB: usize = 1024 * 1024;

#[tokio::test(flavor = "multi_thread")]
async fn one_full_node_sends_writes_elsewhere() {
    let mut t = TestCluster::start().await;
    t.s3.create_bucket().bucket("onefull").send().await.unwrap();
    t.cluster
        .restart_node_with(0, &["--capacity".to_owned(), "2MiB".to_owned()])
        .await
        .unwrap();
    t.wait_up_count(8).await;
    let mut objects = Vec::new();
    for i in 0..10 {
        let data = pattern(4 * MIB + i, 40 + i as u64);
        put(&t.s3, "onefull", &format!("o{i}"), &data).await;
        objects.push(data);
    }
    for (i, data) in objects.iter().enumerate() {
        assert!(get(&t.s3, "onefull", &format!("o{i}"), None).await == *data);
    }
    let status = t.metadata().cluster_status().await.unwrap();
    let full = status
        .nodes
        .iter()
        .find(|n| n.heartbeat.id.as_str() == "node-1")
        .expect("node-1");
    assert!(
        full.heartbeat.used_bytes <= 2 * MIB as u64,
        "the full node took {} bytes",
        full.heartbeat.used_bytes
    );
    assert!(status.redundancy.is_full(), "{:?}", status.redundancy);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_cluster_refuses_writes_cleanly_and_recovers_when_space_is_freed() {
    let t = TestCluster::start_with(Options {
        node_args: ["--capacity", "12MiB"].map(String::from).to_vec(),
        gc_grace: Some(Duration::from_millis(500)),
        ..Options::default()
    })
    .await;
    t.s3.create_bucket().bucket("full").send().await.unwrap();
    // 8 nodes of 12 MiB hold 64 MiB of objects at 4+2: write until refused.
    let mut acked = Vec::new();
    let mut refused = None;
    for i in 0..40 {
        let data = pattern(4 * MIB, 70 + i);
        let key = format!("o{i}");
        match t
            .s3
            .put_object()
            .bucket("full")
            .key(&key)
            .body(data.clone().into())
            .send()
            .await
        {
            Ok(_) => acked.push((key, data)),
            Err(e) => {
                refused = Some(e.into_service_error());
                break;
            }
        }
    }
    let refused = refused.expect("a full cluster refused a write");
    assert_eq!(
        refused.meta().code(),
        Some("ServiceUnavailable"),
        "{refused:?}"
    );
    assert!(acked.len() >= 6, "only {} objects fit", acked.len());
    for (key, data) in &acked {
        assert!(get(&t.s3, "full", key, None).await == *data, "{key}");
    }

    // Free half: once the collector has run and the nodes have deleted the
    // files, writes go through again.
    for (key, _) in acked.iter().step_by(2) {
        t.s3.delete_object()
            .bucket("full")
            .key(key)
            .send()
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let ok =
            t.s3.put_object()
                .bucket("full")
                .key("after")
                .body(pattern(4 * MIB, 99).into())
                .send()
                .await
                .is_ok();
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "writes never recovered");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for (key, data) in acked.iter().skip(1).step_by(2) {
        assert!(get(&t.s3, "full", key, None).await == *data, "{key}");
    }
}
