//! The API end to end in-process: a real server on 127.0.0.1:0 driven by the
//! real client.

use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::client::MetadataClient;
use crate::cluster_auth::ClusterSecret;
use crate::config::Config;
use crate::error::MetadataError;
use crate::ids::{BucketName, MAX_KEY_BYTES};
use crate::model::{ListQuery, NodeHeartbeat, ObjectData};
use crate::server::{ServeError, serve};
use crate::store::conformance::{meta, striped};
use crate::wire::{MAX_HEADS_PER_REQUEST, ObjectKeyRequest};

mod bucket_ids;
mod uploads;

const SECRET: &str = "test-cluster-secret-0123";

struct TestServer {
    url: String,
    client: MetadataClient,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl TestServer {
    async fn start(dir: &std::path::Path) -> TestServer {
        let mut config = Config::new(dir, ClusterSecret::new(SECRET).unwrap());
        config.heartbeat_timeout = Duration::from_millis(300);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(config, listener, async {
            let _ = stopped.await;
        }));
        let client = MetadataClient::new(&url, ClusterSecret::new(SECRET).unwrap()).unwrap();
        TestServer {
            url,
            client,
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.unwrap().unwrap();
    }
}

fn b(name: &str) -> BucketName {
    name.parse().unwrap()
}

fn list(bucket: &str, prefix: &str, delimiter: Option<&str>, max_keys: u32) -> ListQuery {
    ListQuery {
        bucket: b(bucket),
        prefix: prefix.into(),
        delimiter: delimiter.map(Into::into),
        start_after: None,
        max_keys,
    }
}

#[tokio::test]
async fn buckets() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let c = &srv.client;
    let info = c.create_bucket(&b("photos"), "alice", false).await.unwrap();
    assert_eq!(info.owner, "alice");
    assert_eq!(
        c.create_bucket(&b("photos"), "alice", false).await,
        Err(MetadataError::BucketAlreadyOwnedByYou)
    );
    assert_eq!(
        c.create_bucket(&b("photos"), "bob", false).await,
        Err(MetadataError::BucketAlreadyExists)
    );
    c.create_bucket(&b("albums"), "bob", false).await.unwrap();
    assert_eq!(c.get_bucket(&b("photos")).await.unwrap(), info);
    assert_eq!(
        c.get_bucket(&b("nope")).await,
        Err(MetadataError::NoSuchBucket)
    );
    let names: Vec<_> = c
        .list_buckets()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name.to_string())
        .collect();
    assert_eq!(names, ["albums", "photos"]);

    c.commit_object(&meta("photos", "x", 0), &ObjectData::Inline(Bytes::new()))
        .await
        .unwrap();
    assert_eq!(
        c.delete_bucket(&b("photos")).await,
        Err(MetadataError::BucketNotEmpty)
    );
    c.delete_object(&b("photos"), "x").await.unwrap();
    c.delete_bucket(&b("photos")).await.unwrap();
    assert_eq!(
        c.delete_bucket(&b("photos")).await,
        Err(MetadataError::NoSuchBucket)
    );
    srv.stop().await;
}

#[tokio::test]
async fn objects() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let c = &srv.client;
    c.create_bucket(&b("media"), "o", false).await.unwrap();
    let bucket = b("media");

    // Keys are arbitrary UTF-8 and arrive byte for byte.
    let odd = "dir/../a b?x=%20#frag/é\n/";
    let m1 = meta("media", odd, 3);
    assert_eq!(c.commit_object(&m1, &striped("one")).await.unwrap(), None);
    let (m, d) = c.get_object(&bucket, odd).await.unwrap();
    assert_eq!((m, d), (m1.clone(), striped("one")));
    assert_eq!(c.head_object(&bucket, odd).await.unwrap(), m1);

    let m2 = meta("media", odd, 5);
    let inline = ObjectData::Inline(Bytes::from_static(b"\0\x01bin"));
    assert_eq!(
        c.commit_object(&m2, &inline).await.unwrap(),
        Some(m1.clone())
    );
    assert_eq!(c.get_object(&bucket, odd).await.unwrap().1, inline);

    assert_eq!(
        c.get_object(&bucket, "missing").await,
        Err(MetadataError::NoSuchKey)
    );
    assert_eq!(
        c.head_object(&bucket, "missing").await,
        Err(MetadataError::NoSuchKey)
    );
    assert_eq!(
        c.get_object(&b("nope"), "k").await,
        Err(MetadataError::NoSuchBucket)
    );
    assert_eq!(c.delete_object(&bucket, "missing").await, Ok(None));
    assert_eq!(
        c.delete_object(&b("nope"), "k").await,
        Err(MetadataError::NoSuchBucket)
    );
    assert_eq!(
        c.commit_object(&meta("nope", "k", 0), &ObjectData::Inline(Bytes::new()))
            .await,
        Err(MetadataError::NoSuchBucket)
    );
    assert_eq!(c.delete_object(&bucket, odd).await.unwrap(), Some(m2));
    srv.stop().await;
}

#[tokio::test]
async fn batched_heads_answer_each_key_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let c = &srv.client;
    c.create_bucket(&b("media"), "o", false).await.unwrap();
    let a = meta("media", "a", 3);
    let z = meta("media", "z", 3);
    c.commit_object(&a, &striped("a")).await.unwrap();
    c.commit_object(&z, &striped("z")).await.unwrap();
    let ask = |bucket: &str, key: &str| ObjectKeyRequest {
        bucket: b(bucket),
        key: key.into(),
    };
    let answers = c
        .head_objects(vec![
            ask("media", "z"),
            ask("media", "missing"),
            ask("nope", "a"),
            ask("media", "a"),
            ask("media", "z"),
        ])
        .await
        .unwrap();
    assert_eq!(
        answers,
        vec![
            Ok(z.clone()),
            Err(MetadataError::NoSuchKey),
            Err(MetadataError::NoSuchBucket),
            Ok(a),
            Ok(z),
        ]
    );
    assert_eq!(c.head_objects(Vec::new()).await.unwrap(), Vec::new());
    // A bad key or an oversized batch fails the request, not one answer.
    assert!(matches!(
        c.head_objects(vec![ask("media", "")]).await,
        Err(MetadataError::InvalidRequest(_))
    ));
    let too_many = (0..=MAX_HEADS_PER_REQUEST)
        .map(|i| ask("media", &format!("k{i}")))
        .collect();
    assert!(matches!(
        c.head_objects(too_many).await,
        Err(MetadataError::InvalidRequest(_))
    ));
    srv.stop().await;
}

#[tokio::test]
async fn validation_at_the_edge() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let c = &srv.client;
    c.create_bucket(&b("media"), "o", false).await.unwrap();
    let invalid = |r: Result<_, MetadataError>| matches!(r, Err(MetadataError::InvalidRequest(_)));

    let long = "k".repeat(MAX_KEY_BYTES + 1);
    assert!(invalid(c.head_object(&b("media"), &long).await.map(drop)));
    assert!(invalid(c.get_object(&b("media"), "").await.map(drop)));
    // Size disagrees with the data.
    assert!(invalid(
        c.commit_object(&meta("media", "k", 4), &striped("x"))
            .await
            .map(drop)
    ));
    // A stripe with too few shards.
    let mut short = striped("x");
    if let ObjectData::Striped(m) = &mut short {
        m.stripes[0].shards.pop();
    }
    assert!(invalid(
        c.commit_object(&meta("media", "k", 3), &short)
            .await
            .map(drop)
    ));
    assert!(invalid(
        c.list_objects(&list("media", "", None, 1001))
            .await
            .map(drop)
    ));
    let hb = NodeHeartbeat {
        id: "n1".parse().unwrap(),
        addr: "not-an-address".into(),
        zone: None,
        capacity_bytes: 1,
        used_bytes: 0,
        shard_count: 0,
        deleted: Vec::new(),
        latency: None,
        scrub: None,
    };
    assert!(invalid(c.heartbeat(&hb).await.map(drop)));

    // A bad bucket name in a path or a body is a JSON InvalidRequest too.
    let http = reqwest::Client::new();
    let secret = ClusterSecret::new(SECRET).unwrap();
    for (method, path, body) in [
        (reqwest::Method::GET, "/v1/buckets/Bad_Name", None),
        (
            reqwest::Method::POST,
            "/v1/objects/get",
            Some(r#"{"bucket":"Bad_Name","key":"k"}"#),
        ),
        (reqwest::Method::POST, "/v1/objects/get", Some("{not json")),
    ] {
        let mut req = http
            .request(method, format!("{}{path}", srv.url))
            .header(reqwest::header::AUTHORIZATION, secret.header_value());
        if let Some(body) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 400, "{path}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "InvalidRequest", "{path}");
    }
    srv.stop().await;
}

#[tokio::test]
async fn listing() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let c = &srv.client;
    c.create_bucket(&b("media"), "o", false).await.unwrap();
    for k in [
        "a.txt",
        "videos/1/seg-1.ts",
        "videos/1/seg-2.ts",
        "videos/2/seg-1.ts",
    ] {
        c.commit_object(&meta("media", k, 0), &ObjectData::Inline(Bytes::new()))
            .await
            .unwrap();
    }
    let page = c
        .list_objects(&list("media", "", Some("/"), 1000))
        .await
        .unwrap();
    assert_eq!(page.objects.len(), 1);
    assert_eq!(page.common_prefixes, ["videos/"]);
    let page = c
        .list_objects(&list("media", "videos/", Some("/"), 1))
        .await
        .unwrap();
    assert_eq!(page.common_prefixes, ["videos/1/"]);
    assert!(page.is_truncated);
    assert_eq!(page.next_start_after.as_deref(), Some("videos/1/"));
    assert_eq!(
        c.list_objects(&list("nope", "", None, 10)).await,
        Err(MetadataError::NoSuchBucket)
    );
    srv.stop().await;
}

#[tokio::test]
async fn nodes_heartbeat_and_go_down() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let c = &srv.client;
    let hb = NodeHeartbeat {
        id: "node-a".parse().unwrap(),
        addr: "127.0.0.1:9201".into(),
        zone: Some("rack-1".into()),
        capacity_bytes: 100,
        used_bytes: 10,
        shard_count: 3,
        deleted: Vec::new(),
        latency: None,
        scrub: None,
    };
    c.heartbeat(&hb).await.unwrap();
    let nodes = c.list_nodes().await.unwrap();
    assert_eq!(nodes.len(), 1);
    assert!(nodes[0].is_up());
    assert_eq!(nodes[0].heartbeat, hb);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!c.list_nodes().await.unwrap()[0].is_up());
    srv.stop().await;

    // Restarted on the same folder: the node is known (and up until timeout).
    let srv = TestServer::start(dir.path()).await;
    let nodes = srv.client.list_nodes().await.unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].heartbeat.addr, hb.addr);
    srv.stop().await;
}

#[tokio::test]
async fn auth_health_metrics_and_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let stranger = MetadataClient::new(
        &srv.url,
        ClusterSecret::new("some-other-secret-xyz").unwrap(),
    )
    .unwrap();
    let refused = stranger.list_buckets().await.unwrap_err();
    assert!(!refused.is_retryable(), "{refused:?}");

    let http = reqwest::Client::new();
    let health = http
        .get(format!("{}/health", srv.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let unauth = http
        .get(format!("{}/v1/buckets", srv.url))
        .send()
        .await
        .unwrap();
    assert_eq!(unauth.status(), 401);
    srv.client.list_buckets().await.unwrap();
    let metrics = http
        .get(format!("{}/metrics", srv.url))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("metadata_http_requests_total"), "{text}");
    // The request id is echoed, and taken from the caller when given.
    let r = http
        .get(format!("{}/health", srv.url))
        .header("x-request-id", "req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "req-42");

    let url = srv.url.clone();
    srv.stop().await;
    let gone = MetadataClient::new(&url, ClusterSecret::new(SECRET).unwrap()).unwrap();
    let err = gone.list_buckets().await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(MetadataClient::new("ftp://x", ClusterSecret::new(SECRET).unwrap()).is_err());
}
