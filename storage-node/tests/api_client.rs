//! The shard API and its client together, in process, on 127.0.0.1:0.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use metadata::cluster_auth::ClusterSecret;
use metadata::ids::ShardHash;
use storage_node::{Config, ShardError, StorageClient, shard_path};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const SECRET: &str = "0123456789abcdef-storage-test";

fn secret() -> ClusterSecret {
    ClusterSecret::new(SECRET).unwrap()
}

struct Node {
    addr: String,
    data_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), storage_node::ServeError>>,
}

impl Node {
    async fn start(data_dir: PathBuf, tweak: impl FnOnce(&mut Config)) -> Node {
        let mut config = Config::new(data_dir.clone(), secret());
        // Nothing listens there: heartbeats fail fast and quietly.
        config.metadata_url = "http://127.0.0.1:9".to_owned();
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(storage_node::serve(config, listener, async move {
            let _ = stopped.await;
        }));
        Node {
            addr,
            data_dir,
            stop: Some(stop),
            task,
        }
    }

    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("node stops")
            .unwrap()
            .unwrap();
    }
}

fn shard(seed: u8, len: usize) -> (ShardHash, Bytes) {
    let bytes: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(seed) ^ seed)
        .collect();
    (ShardHash::of(&bytes), Bytes::from(bytes))
}

#[tokio::test]
async fn round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path().into(), |_| {}).await;
    let client = StorageClient::new(secret()).unwrap();
    let (hash, bytes) = shard(3, (1 << 20) + 17);

    assert!(!client.has_shard(&node.addr, &hash).await.unwrap());
    client
        .put_shard(&node.addr, &hash, bytes.clone())
        .await
        .unwrap();
    client
        .put_shard(&node.addr, &hash, bytes.clone())
        .await
        .unwrap();
    assert!(client.has_shard(&node.addr, &hash).await.unwrap());
    assert_eq!(client.get_shard(&node.addr, &hash).await.unwrap(), bytes);

    // Concurrent requests share the pool.
    let puts = (10..30u8).map(|seed| {
        let (h, b) = shard(seed, 64 << 10);
        let (c, a) = (client.clone(), node.addr.clone());
        async move {
            c.put_shard(&a, &h, b.clone()).await.unwrap();
            assert_eq!(c.get_shard(&a, &h).await.unwrap(), b);
        }
    });
    futures::future::join_all(puts).await;

    client.delete_shard(&node.addr, &hash).await.unwrap();
    client.delete_shard(&node.addr, &hash).await.unwrap();
    assert!(!client.has_shard(&node.addr, &hash).await.unwrap());
    assert_eq!(
        client.get_shard(&node.addr, &hash).await.unwrap_err(),
        ShardError::NotFound
    );
    node.shutdown().await;
}

#[tokio::test]
async fn wrong_or_missing_secret_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path().into(), |_| {}).await;
    let (hash, bytes) = shard(5, 1000);
    let good = StorageClient::new(secret()).unwrap();
    good.put_shard(&node.addr, &hash, bytes.clone())
        .await
        .unwrap();

    let wrong = StorageClient::new(ClusterSecret::new("another-secret-of-16+").unwrap()).unwrap();
    let a = &node.addr;
    assert_eq!(
        wrong.put_shard(a, &hash, bytes.clone()).await.unwrap_err(),
        ShardError::Unauthorized
    );
    assert_eq!(
        wrong.get_shard(a, &hash).await.unwrap_err(),
        ShardError::Unauthorized
    );
    assert_eq!(
        wrong.has_shard(a, &hash).await.unwrap_err(),
        ShardError::Unauthorized
    );
    assert_eq!(
        wrong.delete_shard(a, &hash).await.unwrap_err(),
        ShardError::Unauthorized
    );
    assert!(!ShardError::Unauthorized.is_retryable());

    let raw = reqwest::Client::new();
    let url = format!("http://{a}/v1/shards/{hash}");
    assert_eq!(raw.get(&url).send().await.unwrap().status(), 401);
    assert_eq!(raw.delete(&url).send().await.unwrap().status(), 401);
    let verify = format!("{url}/verify");
    assert_eq!(raw.post(&verify).send().await.unwrap().status(), 401);
    // With the secret, a sound copy verifies (204) and a bad name is 400.
    let secret_header = secret().header_value();
    let ok = raw
        .post(&verify)
        .header(reqwest::header::AUTHORIZATION, secret_header.clone());
    assert_eq!(ok.send().await.unwrap().status(), 204);
    let bad = raw
        .post(format!("http://{a}/v1/shards/not-a-hash/verify"))
        .header(reqwest::header::AUTHORIZATION, secret_header);
    assert_eq!(bad.send().await.unwrap().status(), 400);
    // Still there: the refused delete did nothing.
    assert!(good.has_shard(a, &hash).await.unwrap());

    // Health and metrics are open.
    let health: serde_json::Value = raw
        .get(format!("http://{a}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["shard_count"], 1);
    let metrics = raw.get(format!("http://{a}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    node.shutdown().await;
}

#[tokio::test]
async fn corrupt_shard_is_reported_and_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path().into(), |_| {}).await;
    let client = StorageClient::new(secret()).unwrap();
    let (hash, bytes) = shard(7, 100_000);
    client
        .put_shard(&node.addr, &hash, bytes.clone())
        .await
        .unwrap();

    let path = shard_path(&node.data_dir, &hash);
    let mut rotten = std::fs::read(&path).unwrap();
    rotten[500] ^= 0x40;
    std::fs::write(&path, rotten).unwrap();

    let err = client.get_shard(&node.addr, &hash).await.unwrap_err();
    assert_eq!(err, ShardError::Corrupt);
    assert!(!err.is_retryable());
    // Quarantined: the node no longer claims it.
    assert!(!path.exists());
    assert!(!client.has_shard(&node.addr, &hash).await.unwrap());
    assert_eq!(
        client.get_shard(&node.addr, &hash).await.unwrap_err(),
        ShardError::NotFound
    );

    let metrics = reqwest::get(format!("http://{}/metrics", node.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("shard_corrupt_total"),
        "metrics lack shard_corrupt_total:\n{metrics}"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn bad_uploads_and_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path().into(), |c| c.max_shard_size = 100_000).await;
    let client = StorageClient::new(secret()).unwrap();
    let (hash, _) = shard(1, 1000);
    let (_, other) = shard(2, 1000);
    assert_eq!(
        client
            .put_shard(&node.addr, &hash, other)
            .await
            .unwrap_err(),
        ShardError::HashMismatch
    );
    assert!(!client.has_shard(&node.addr, &hash).await.unwrap());

    let (big_hash, big) = shard(3, 8 << 20);
    let err = client
        .put_shard(&node.addr, &big_hash, big)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ShardError::Protocol(ref m) if m.contains("413")),
        "{err:?}"
    );

    let raw = reqwest::Client::new();
    let resp = raw
        .get(format!("http://{}/v1/shards/NOT-A-HASH", node.addr))
        .header("authorization", format!("Bearer {SECRET}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "InvalidShardHash");
    node.shutdown().await;
}

#[tokio::test]
async fn full_node_answers_507() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path().into(), |c| c.capacity = Some(3 << 20)).await;
    let client = StorageClient::new(secret()).unwrap();
    let (h1, b1) = shard(1, 2 << 20);
    client.put_shard(&node.addr, &h1, b1).await.unwrap();
    let (h2, b2) = shard(2, 4 << 20);
    let err = client.put_shard(&node.addr, &h2, b2).await.unwrap_err();
    assert_eq!(err, ShardError::Full);
    assert!(!err.is_retryable());
    node.shutdown().await;
}

#[tokio::test]
async fn client_verifies_what_it_fetches() {
    // A node that answers with the wrong bytes (a bug, or damage in flight).
    let app = axum::Router::new().route(
        "/v1/shards/{hash}",
        axum::routing::get(|| async { Bytes::from_static(b"not what you asked for") }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = StorageClient::new(secret()).unwrap();
    let (hash, _) = shard(1, 10);
    assert_eq!(
        client.get_shard(&addr, &hash).await.unwrap_err(),
        ShardError::Corrupt
    );
    server.abort();
}

#[tokio::test]
async fn unreachable_node_is_retryable() {
    // Bind then drop, so the port is (very likely) closed.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let client = StorageClient::new(secret()).unwrap();
    let (hash, bytes) = shard(1, 10);
    let err = client.put_shard(&addr, &hash, bytes).await.unwrap_err();
    assert!(matches!(err, ShardError::Unavailable(_)), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn restart_keeps_identity_and_shards() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path().into(), |_| {}).await;
    let client = StorageClient::new(secret()).unwrap();
    let (hash, bytes) = shard(9, 5000);
    client
        .put_shard(&node.addr, &hash, bytes.clone())
        .await
        .unwrap();
    let health = |addr: String| async move {
        reqwest::get(format!("http://{addr}/health"))
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    let before = health(node.addr.clone()).await;
    node.shutdown().await;

    let node = Node::start(dir.path().into(), |_| {}).await;
    let after = health(node.addr.clone()).await;
    assert_eq!(before["node_id"], after["node_id"]);
    assert_eq!(after["shard_count"], 1);
    assert_eq!(after["used_bytes"], 5000);
    assert_eq!(client.get_shard(&node.addr, &hash).await.unwrap(), bytes);
    node.shutdown().await;

    // A different configured id for the same disk is refused.
    let node = Node::start(dir.path().into(), |c| {
        c.node_id = Some("node-impostor".parse().unwrap());
    })
    .await;
    let result = tokio::time::timeout(Duration::from_secs(10), node.task)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(result, Err(storage_node::ServeError::Identity(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn heartbeats_reach_metadata() {
    use std::sync::{Arc, Mutex};
    // A stand-in for the metadata service's heartbeat route.
    let seen: Arc<Mutex<Vec<metadata::model::NodeHeartbeat>>> = Arc::default();
    let app = axum::Router::new()
        .route(
            "/v1/nodes/heartbeat",
            axum::routing::post({
                let seen = seen.clone();
                move |axum::Json(hb): axum::Json<metadata::model::NodeHeartbeat>| async move {
                    seen.lock().unwrap().push(hb);
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            secret(),
            metadata::cluster_auth::require_cluster_secret,
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let meta_addr = listener.local_addr().unwrap();
    let meta = tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path().into(), |c| {
        c.metadata_url = format!("http://{meta_addr}");
        c.heartbeat_interval = Duration::from_millis(50);
        c.zone = Some("rack-a".into());
        c.capacity = Some(1 << 30);
    })
    .await;
    let client = StorageClient::new(secret()).unwrap();
    let (hash, bytes) = shard(4, 1234);
    client.put_shard(&node.addr, &hash, bytes).await.unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let last = loop {
        let last = seen.lock().unwrap().last().cloned();
        if let Some(hb) = last.filter(|hb| hb.shard_count == 1) {
            break hb;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no heartbeat with the shard"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(last.addr, node.addr);
    assert_eq!(last.zone.as_deref(), Some("rack-a"));
    assert_eq!((last.capacity_bytes, last.used_bytes), (1 << 30, 1234));
    let stored_id = std::fs::read_to_string(dir.path().join("node_id")).unwrap();
    assert_eq!(last.id.as_str(), stored_id.trim());

    // Heartbeats stop with the node.
    node.shutdown().await;
    let count = seen.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(seen.lock().unwrap().len(), count);
    meta.abort();
}
