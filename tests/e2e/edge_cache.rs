//! The edge's caches, seen from outside: what a miss fetches from storage
//! nodes (counted on the nodes themselves), coalesced misses, ranges and
//! degraded reads from cache, read-after-write across two edges, manifest
//! leases (hits without metadata lookups, a dead edge holding writes up),
//! stale-if-error with metadata down, purge, prefetch and the metrics.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use tokio::process::Child;

use crate::harness::{CLUSTER_SECRET, Options, TestCluster, put};

const MIB: usize = 1 << 20;

/// Shards served by every storage node's disk so far.
async fn storage_gets(t: &TestCluster) -> u64 {
    let mut total = 0;
    for addr in &t.cluster.spec().node_addrs {
        if let Some(v) = metric(&format!("http://{addr}/metrics"), "shard_gets_total").await {
            total += v as u64;
        }
    }
    total
}

/// The value of the sample named exactly `sample` (with its labels), if
/// the endpoint answers.
async fn metric(url: &str, sample: &str) -> Option<f64> {
    let text = reqwest::get(url).await.ok()?.text().await.ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
}

/// Six storage nodes (4+2, no spare) and a public-read bucket `media`.
async fn six_nodes(edge_args: &[&str]) -> TestCluster {
    let t = TestCluster::start_with(Options {
        nodes: 6,
        edge_args: edge_args.iter().map(|a| (*a).to_owned()).collect(),
        ..Options::default()
    })
    .await;
    public_bucket(&t, "media").await;
    t
}

async fn public_bucket(t: &TestCluster, bucket: &str) {
    t.s3.create_bucket()
        .bucket(bucket)
        .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
}

/// An anonymous GET (as a browser sends it): status, `x-cache`, body.
async fn fetch(
    endpoint: &str,
    path: &str,
    range: Option<(usize, usize)>,
) -> (u16, String, Vec<u8>) {
    let mut req = reqwest::Client::new().get(format!("{endpoint}/{path}"));
    if let Some((lo, hi)) = range {
        req = req.header("range", format!("bytes={lo}-{hi}"));
    }
    let resp = req.send().await.expect("GET");
    let status = resp.status().as_u16();
    let cache = resp
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = resp.bytes().await.expect("body").to_vec();
    (status, cache, body)
}

fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// A second edge on the same cluster, killed when dropped.
async fn second_edge(t: &TestCluster, extra: &[&str]) -> (String, String, Child) {
    let (s3, admin) = (free_addr(), free_addr());
    let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
    let child = t
        .cluster
        .start_extra_edge("edge-b", s3, admin, &extra)
        .await
        .expect("second edge");
    (format!("http://{s3}"), format!("http://{admin}"), child)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_miss_fetches_only_the_shards_it_needs_and_a_hit_none() {
    let t = six_nodes(&[]).await;
    let endpoint = t.cluster.s3_endpoint();
    // Three full stripes of four 1 MiB data shards.
    let video = tests::pattern(12 * MIB, 1);
    put(&t.s3, "media", "v.mp4", &video).await;

    // 1 KiB inside stripe 1, data shard 1: one shard from one node.
    let (lo, hi) = (5 * MIB + 100, 5 * MIB + 1123);
    let before = storage_gets(&t).await;
    let (status, cache, body) = fetch(&endpoint, "media/v.mp4", Some((lo, hi))).await;
    assert_eq!((status, cache.as_str()), (206, "miss"));
    assert_eq!(body, &video[lo..=hi]);
    assert_eq!(storage_gets(&t).await - before, 1, "one shard fetched");

    let before = storage_gets(&t).await;
    let (status, cache, body) = fetch(&endpoint, "media/v.mp4", Some((lo, hi))).await;
    assert_eq!((status, cache.as_str()), (206, "hit"));
    assert_eq!(body, &video[lo..=hi]);
    assert_eq!(storage_gets(&t).await, before, "a hit fetches nothing");

    // The whole object: the other eleven data shards, never parity.
    let before = storage_gets(&t).await;
    let (status, cache, body) = fetch(&endpoint, "media/v.mp4", None).await;
    assert_eq!((status, cache.as_str()), (200, "miss"));
    assert_eq!(body, video);
    assert_eq!(storage_gets(&t).await - before, 11);
    let before = storage_gets(&t).await;
    let (status, cache, body) = fetch(&endpoint, "media/v.mp4", None).await;
    assert_eq!((status, cache.as_str()), (200, "hit"));
    assert_eq!(body, video);
    assert_eq!(storage_gets(&t).await, before);

    // Seeking: any range of a cached object is a hit.
    for (lo, hi) in [
        (0, 99),
        (3 * MIB - 7, 9 * MIB),
        (12 * MIB - 1, 12 * MIB - 1),
    ] {
        let (status, cache, body) = fetch(&endpoint, "media/v.mp4", Some((lo, hi))).await;
        assert_eq!((status, cache.as_str()), (206, "hit"), "range {lo}-{hi}");
        assert_eq!(body, &video[lo..=hi]);
    }
    assert_eq!(storage_gets(&t).await, before);

    // The metrics say the same.
    let admin = format!("http://{}/metrics", t.cluster.spec().admin_addr);
    let hits = metric(&admin, r#"cache_shard_lookups_total{result="hit"}"#)
        .await
        .unwrap();
    let misses = metric(&admin, r#"cache_shard_lookups_total{result="miss"}"#)
        .await
        .unwrap();
    assert_eq!(misses, 12.0);
    assert!(hits >= 12.0 + 1.0, "{hits} hits");
    let size = metric(&admin, "cache_size_bytes").await.unwrap();
    assert_eq!(size, (12 * MIB) as f64);
    let from_storage = metric(&admin, r#"cache_bytes_total{source="storage"}"#)
        .await
        .unwrap();
    assert_eq!(from_storage, (12 * MIB) as f64);
    let fetches = metric(&admin, "cache_storage_fetch_seconds_count")
        .await
        .unwrap();
    assert_eq!(fetches, 12.0);
    t.cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_misses_on_one_shard_make_one_fetch() {
    let t = six_nodes(&[]).await;
    let endpoint = t.cluster.s3_endpoint();
    let video = tests::pattern(4 * MIB, 2);
    put(&t.s3, "media", "v.webm", &video).await;

    let before = storage_gets(&t).await;
    let reads = (0..32).map(|_| fetch(&endpoint, "media/v.webm", None));
    let results = futures::future::join_all(reads).await;
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for (status, cache, body) in results {
        assert_eq!(status, 200);
        assert!(body == video, "wrong bytes");
        *seen.entry(cache).or_default() += 1;
    }
    assert_eq!(
        storage_gets(&t).await - before,
        4,
        "32 readers, 4 data shards, one fetch each (x-cache: {seen:?})"
    );
    assert!(seen.get("miss").copied().unwrap_or(0) >= 1, "{seen:?}");
    assert!(
        seen.keys()
            .all(|k| ["miss", "coalesced", "hit"].contains(&k.as_str()))
    );
    t.cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_data_node_down_the_edge_decodes_and_keeps_the_result() {
    let mut t = six_nodes(&[]).await;
    let endpoint = t.cluster.s3_endpoint();
    let video = tests::pattern(8 * MIB, 3);
    put(&t.s3, "media", "v.mp4", &video).await;

    // Kill the node holding data shard 2 of stripe 1.
    let (_, data) = t
        .metadata()
        .get_object(&"media".parse().unwrap(), "v.mp4")
        .await
        .unwrap();
    let metadata::model::ObjectData::Striped(manifest) = data else {
        panic!("striped");
    };
    let node = &manifest.stripes[1].shards[2].node;
    let i: usize = node.as_str().trim_start_matches("node-").parse().unwrap();
    t.cluster.kill_node(i - 1).await;

    let (lo, hi) = (6 * MIB + 10, 6 * MIB + 5000);
    let (status, cache, body) = fetch(&endpoint, "media/v.mp4", Some((lo, hi))).await;
    assert_eq!((status, cache.as_str()), (206, "miss"));
    assert_eq!(body, &video[lo..=hi]);
    // The rebuilt shard was kept: the same range again touches no node.
    let before = storage_gets(&t).await;
    let (status, cache, body) = fetch(&endpoint, "media/v.mp4", Some((lo, hi))).await;
    assert_eq!((status, cache.as_str()), (206, "hit"));
    assert_eq!(body, &video[lo..=hi]);
    assert_eq!(storage_gets(&t).await, before);
    // And the whole object reads back right.
    let (status, _, body) = fetch(&endpoint, "media/v.mp4", None).await;
    assert_eq!(status, 200);
    assert!(body == video);
    t.cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_at_one_edge_is_what_the_other_serves_next() {
    let t = six_nodes(&[]).await;
    let (edge_b, _, _b) = second_edge(&t, &[]).await;

    for round in 0..10u64 {
        // Alternate striped and inline bodies: both kinds are cached.
        let size = if round % 2 == 0 { 5 * MIB + 3 } else { 1000 };
        let body = tests::pattern(size, 10 + round);
        put(&t.s3, "media", "live.mp4", &body).await;
        let (status, _, got) = fetch(&edge_b, "media/live.mp4", None).await;
        assert_eq!(status, 200);
        assert!(got == body, "round {round}: edge B served an older version");
        // Cached at B now; the next overwrite must still show at once.
        let (_, cache, _) = fetch(&edge_b, "media/live.mp4", Some((0, 99))).await;
        assert_eq!(cache, "hit", "round {round}");
    }
    t.s3.delete_object()
        .bucket("media")
        .key("live.mp4")
        .send()
        .await
        .unwrap();
    let (status, _, _) = fetch(&edge_b, "media/live.mp4", None).await;
    assert_eq!(status, 404, "a delete at A is a 404 at B at once");
    t.cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hits_ask_metadata_nothing_and_a_dead_edge_holds_writes_for_one_lease_at_most() {
    let t = six_nodes(&[]).await;
    let (edge_b, admin_b, mut b) = second_edge(&t, &[]).await;
    let body = tests::pattern(5 * MIB, 21);
    put(&t.s3, "media", "hot.mp4", &body).await;
    let (status, _, _) = fetch(&edge_b, "media/hot.mp4", None).await;
    assert_eq!(status, 200);
    let checks = |admin: String| async move {
        metric(&format!("{admin}/metrics"), "cache_version_checks_total")
            .await
            .unwrap_or(0.0)
    };
    let before = checks(admin_b.clone()).await;
    for i in 0..20 {
        let (status, cache, got) = fetch(&edge_b, "media/hot.mp4", Some((i, i + 999))).await;
        assert_eq!((status, cache.as_str()), (206, "hit"));
        assert!(got == body[i..i + 1000]);
    }
    assert_eq!(
        checks(admin_b.clone()).await,
        before,
        "hits under a lease need no version lookup"
    );

    // Killed holding a lease: the next write waits for the lease to run
    // out (2 s), not longer, and writes after it do not wait at all.
    b.kill().await.unwrap();
    let started = std::time::Instant::now();
    put(&t.s3, "media", "hot.mp4", &tests::pattern(1000, 22)).await;
    let first = started.elapsed();
    assert!(first < Duration::from_secs(4), "first write took {first:?}");
    let started = std::time::Instant::now();
    put(&t.s3, "media", "hot.mp4", &tests::pattern(1000, 23)).await;
    let second = started.elapsed();
    assert!(
        second < Duration::from_secs(1),
        "second write took {second:?}"
    );
    let (_, _, got) = fetch(&t.cluster.s3_endpoint(), "media/hot.mp4", None).await;
    assert!(got == tests::pattern(1000, 23));
    t.cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_metadata_down_known_objects_are_served_stale_and_writes_fail() {
    let mut t = six_nodes(&["--stale-if-error", "4s"]).await;
    let endpoint = t.cluster.s3_endpoint();
    let admin = format!("http://{}", t.cluster.spec().admin_addr);
    let known = tests::pattern(5 * MIB, 4);
    let other = tests::pattern(5 * MIB, 5);
    put(&t.s3, "media", "known.mp4", &known).await;
    put(&t.s3, "media", "purged.mp4", &other).await;
    put(&t.s3, "media", "never-read.mp4", &other).await;
    for key in ["known.mp4", "purged.mp4"] {
        let (status, _, _) = fetch(&endpoint, &format!("media/{key}"), None).await;
        assert_eq!(status, 200);
    }

    t.cluster.kill_metadata().await;
    // Hits while the edge's manifest lease lasts (no write can be answered
    // meanwhile without it), then stale once the lease has run out.
    let lapsed = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (status, cache, body) = fetch(&endpoint, "media/known.mp4", Some((100, 200))).await;
        assert_eq!(status, 206);
        assert_eq!(body, &known[100..=200]);
        if cache == "stale" {
            break;
        }
        assert_eq!(cache, "hit");
        assert!(std::time::Instant::now() < lapsed, "still not stale");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let head = reqwest::Client::new()
        .head(format!("{endpoint}/media/known.mp4"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(head.headers()["x-cache"], "stale");
    // An object this edge never read cannot be served.
    let (status, _, body) = fetch(&endpoint, "media/never-read.mp4", None).await;
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    // Writes need metadata: a clean S3 503.
    let err =
        t.s3.put_object()
            .bucket("media")
            .key("new.mp4")
            .body(b"new".to_vec().into())
            .send()
            .await
            .expect_err("a write without metadata");
    let raw = err.raw_response().expect("an HTTP answer");
    assert_eq!(raw.status().as_u16(), 503);

    // Purge: only with the cluster secret.
    let http = reqwest::Client::new();
    let purge = |auth: Option<&'static str>| {
        let mut req = http
            .post(format!("{admin}/cache/purge"))
            .body(r#"{"bucket":"media","prefix":"purged"}"#);
        if let Some(secret) = auth {
            req = req.bearer_auth(secret);
        }
        req.send()
    };
    assert_eq!(purge(None).await.unwrap().status().as_u16(), 401);
    let resp = purge(Some(CLUSTER_SECRET)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let purged: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(purged["manifests"], 1);
    assert_eq!(purged["shards"], 8);
    let (status, _, _) = fetch(&endpoint, "media/purged.mp4", None).await;
    assert_eq!(status, 503, "a purged object is not served stale");

    // Past the staleness bound, nothing is served.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (status, _, _) = fetch(&endpoint, "media/known.mp4", None).await;
    assert_eq!(status, 503);

    t.cluster.restart_metadata().await.unwrap();
    let (status, cache, body) = fetch(&endpoint, "media/known.mp4", None).await;
    assert_eq!((status, cache.as_str()), (200, "hit"));
    assert!(body == known);
    t.cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn consecutive_ranges_prefetch_the_next_stripe() {
    let t = six_nodes(&[]).await;
    let endpoint = t.cluster.s3_endpoint();
    let video = tests::pattern(16 * MIB, 6);
    put(&t.s3, "media", "v.mp4", &video).await;
    let (edge_b, _, _b) = second_edge(&t, &["--prefetch-stripes", "0"]).await;

    for (edge, expect_next) in [(endpoint.as_str(), "hit"), (edge_b.as_str(), "miss")] {
        // A player reading 1 MiB at a time from the start.
        let (status, cache, _) = fetch(edge, "media/v.mp4", Some((0, MIB - 1))).await;
        assert_eq!((status, cache.as_str()), (206, "miss"));
        // The read-ahead runs in the background: give it a moment.
        tokio::time::sleep(Duration::from_millis(500)).await;
        for n in 1..4 {
            let (status, cache, body) =
                fetch(edge, "media/v.mp4", Some((n * MIB, (n + 1) * MIB - 1))).await;
            assert_eq!(status, 206);
            assert_eq!(body, &video[n * MIB..(n + 1) * MIB]);
            assert_eq!(cache, expect_next, "{edge}: range {n}");
        }
    }
    t.cluster.stop().await;
}
