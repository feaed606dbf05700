//! The edge facing the internet, tried as an attacker would: stalled and
//! dribbling clients on every listener, connection floods, anonymous bodies
//! meant to fill memory, SigV2, response overrides, invented methods and
//! rate-limit lockouts. Each test reads the edge's memory from /proc and
//! checks that a normal signed request still succeeds during and after.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::harness::{Options, TestCluster, get, put};
use crate::raw_sigv4::{Signer, host_of};

/// A connection to `addr` from the loopback address `from` (each loopback
/// address is its own client to the per-address caps).
async fn connect_from(from: IpAddr, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(addr).await
}

/// Like [`connect_from`], with a small receive window, so that a reader
/// that takes nothing stalls the server's sends soon.
async fn connect_small_window(from: IpAddr, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(4096)?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(addr).await
}

fn loopback(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

/// Whether the server closed `conn` by `deadline` (a read returns the end,
/// or an error, rather than blocking).
async fn closed_by(conn: &mut TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, conn.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            // An answer (408 or the like) may come first; read on.
            Ok(Ok(_)) => continue,
        }
    }
}

/// The sum of a counter (all its label sets matching `filter`) in a
/// Prometheus text page.
fn counter(page: &str, name: &str, filter: &str) -> f64 {
    page.lines()
        .filter(|l| l.starts_with(name) && l.contains(filter))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn metrics(url: &str) -> String {
    reqwest::get(url)
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics text")
}

fn write_config(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path.to_string_lossy().into_owned()
}

const SHORT_LIMITS: &str = "header_timeout = \"2s\"\nidle_timeout = \"4s\"\n\
                            send_timeout = \"3s\"\nbody_min_rate = 1024\n\
                            body_rate_window = \"2s\"\n";

/// Every listener cuts a client that sends half a request head, or a body a
/// byte at a time, or reads nothing of its answer, within its limit; and a
/// flood of connections from one address is capped there, while another
/// client goes on uploading and reading.
#[tokio::test(flavor = "multi_thread")]
async fn every_listener_cuts_stalled_and_dribbling_clients() {
    let dir = tempfile::tempdir().expect("temp dir");
    let edge_conf = write_config(
        dir.path(),
        "edge.toml",
        &format!(
            "[limits]\n{SHORT_LIMITS}max_connections_per_address = 48\n\n[admin_limits]\n{SHORT_LIMITS}"
        ),
    );
    let internal_conf = write_config(
        dir.path(),
        "internal.toml",
        &format!("[limits]\n{SHORT_LIMITS}"),
    );
    let t = TestCluster::start_with(Options {
        edge_args: vec!["--config".into(), edge_conf],
        metadata_args: vec!["--config".into(), internal_conf.clone()],
        node_args: vec!["--config".into(), internal_conf],
        ..Options::default()
    })
    .await;
    let spec = t.cluster.spec();
    t.s3.create_bucket().bucket("media").send().await.unwrap();
    let video = tests::pattern(16 << 20, 7);
    put(&t.s3, "media", "video", &video).await;
    let rss_before = t.edge_rss();

    // Slowloris on every listener, from its own address: half a head, then
    // nothing.
    let listeners = [
        ("edge S3", spec.s3_addr),
        ("edge admin", spec.admin_addr),
        ("metadata", spec.metadata_addr),
        ("storage node", spec.node_addrs[0]),
    ];
    let mut stalled = Vec::new();
    for (name, addr) in listeners {
        for _ in 0..40 {
            let mut conn = connect_from(loopback(3), addr).await.expect("connect");
            // Refused at accept (over a cap) counts as closed too.
            let _ = conn
                .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .await;
            stalled.push((name, conn));
        }
    }
    let started = Instant::now();

    // While they hang: a normal client uploads and reads.
    put(&t.s3, "media", "during", b"still served").await;
    assert_eq!(get(&t.s3, "media", "during", None).await, b"still served");

    // Cut within the 2 s header timeout, with room for a busy machine.
    let deadline = started + Duration::from_secs(8);
    for (name, conn) in &mut stalled {
        assert!(
            closed_by(conn, deadline).await,
            "{name}: a stalled head was not cut"
        );
    }

    // A body dribbled a few bytes a second is cut within its rate window.
    let host = host_of(&t.cluster.s3_endpoint());
    let signed = Signer::for_tests().sign_request(
        "PUT",
        &host,
        "/media/dribbled",
        "",
        vec![("content-length".into(), "1048576".into())],
        "UNSIGNED-PAYLOAD",
        time::OffsetDateTime::now_utc(),
    );
    let mut conn = connect_from(loopback(4), spec.s3_addr)
        .await
        .expect("connect");
    let mut head = "PUT /media/dribbled HTTP/1.1\r\n".to_owned();
    for (k, v) in &signed.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).await.expect("head");
    let dribble_started = Instant::now();
    let mut cut = false;
    for _ in 0..40 {
        if conn.write_all(b"0123456789").await.is_err() {
            cut = true;
            break;
        }
        let mut buf = [0u8; 1024];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(500), conn.read(&mut buf)).await
        {
            cut = true;
            break;
        }
    }
    assert!(cut, "a dribbling body was never cut");
    assert!(dribble_started.elapsed() < Duration::from_secs(15));
    let missing =
        t.s3.head_object()
            .bucket("media")
            .key("dribbled")
            .send()
            .await;
    assert!(missing.is_err(), "a cut upload stored an object");

    // A reader that takes nothing of a 16 MiB answer is cut after the send
    // timeout. (Signed, as the bucket is private.)
    let signed = Signer::for_tests().sign(
        "GET",
        &host,
        "/media/video",
        time::OffsetDateTime::now_utc(),
        crate::raw_sigv4::Dated::AmzDate,
    );
    let mut conn = connect_small_window(loopback(5), spec.s3_addr)
        .await
        .expect("connect");
    let mut head = "GET /media/video HTTP/1.1\r\n".to_owned();
    for (k, v) in &signed {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).await.expect("head");
    tokio::time::sleep(Duration::from_secs(8)).await;
    // Whatever sits in the socket buffers arrives, then the end.
    assert!(
        closed_by(&mut conn, Instant::now() + Duration::from_secs(20)).await,
        "a reader that stalled was never cut"
    );

    // Connections from one address beyond its cap are closed at once; other
    // addresses are served.
    let mut flood = Vec::new();
    for _ in 0..80 {
        if let Ok(conn) = connect_from(loopback(6), spec.s3_addr).await {
            flood.push(conn);
        }
    }
    let mut refused = 0;
    for conn in &mut flood {
        if closed_by(conn, Instant::now() + Duration::from_millis(300)).await {
            refused += 1;
        }
    }
    assert!(
        refused >= 80 - 48,
        "only {refused} of 80 connections over the cap of 48 were refused"
    );
    assert_eq!(get(&t.s3, "media", "during", None).await, b"still served");
    drop(flood);

    let page = metrics(&format!("http://{}/metrics", spec.admin_addr)).await;
    assert!(
        counter(
            &page,
            "listener_connections_cut_total",
            "reason=\"header_timeout\""
        ) >= 40.0,
        "{page}"
    );
    assert!(
        counter(
            &page,
            "listener_connections_cut_total",
            "reason=\"body_too_slow\""
        ) >= 1.0
    );
    assert!(
        counter(
            &page,
            "listener_connections_cut_total",
            "reason=\"send_timeout\""
        ) >= 1.0
    );
    assert!(
        counter(
            &page,
            "listener_connections_refused_total",
            "max_connections_per_address"
        ) >= 32.0
    );

    let grown = t.edge_rss().saturating_sub(rss_before);
    assert!(grown < 64 << 20, "the edge grew by {} MiB", grown >> 20);
    assert_eq!(
        get(&t.s3, "media", "video", Some("bytes=0-1023")).await,
        video[..1024]
    );
}

/// Streams `declared` bytes of `head`'s body (or until the server answers
/// and closes) and returns the status line's code. The body is sent as
/// fast as the server takes it; the server must answer without reading it.
async fn flood(addr: SocketAddr, head: String, declared: usize) -> u16 {
    let conn = TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = conn.into_split();
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        let chunk = vec![b'x'; 1 << 20];
        let mut sent = 0;
        while sent < declared {
            let n = chunk.len().min(declared - sent);
            wr.write_all(&chunk[..n]).await?;
            sent += n;
        }
        Ok::<usize, std::io::Error>(sent)
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    writer.abort();
    assert!(read.is_ok(), "no answer before the body was sent");
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"))
}

/// Nothing anonymous or unverified is read beyond its head: form uploads,
/// control documents, SigV2 in every form, response overrides and invented
/// methods are refused with S3's errors, the edge's memory stays flat, and
/// signed requests go on.
#[tokio::test(flavor = "multi_thread")]
async fn anonymous_requests_are_refused_before_their_body() {
    let t = TestCluster::start().await;
    let spec = t.cluster.spec().clone();
    let endpoint = t.cluster.s3_endpoint();
    t.s3.create_bucket()
        .bucket("public")
        .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    put(&t.s3, "public", "page", b"<script>alert(1)</script>").await;
    let rss_before = t.edge_rss();

    // Anonymous form uploads of 256 MiB each, eight at once.
    let form_head = |len: usize| {
        format!(
            "POST /public HTTP/1.1\r\nHost: {}\r\nContent-Type: multipart/form-data; boundary=xyz\r\n\
             Content-Length: {len}\r\n\r\n--xyz\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n\
             --xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n",
            host_of(&endpoint)
        )
    };
    let floods: Vec<_> = (0..8)
        .map(|_| tokio::spawn(flood(spec.s3_addr, form_head(256 << 20), 256 << 20)))
        .collect();
    put(&t.s3, "public", "during", b"signed and stored").await;
    for f in floods {
        assert_eq!(f.await.expect("flood"), 501, "form uploads are not offered");
    }

    // Unsigned control documents: refused unread, under the cap and over it.
    let cors_head = |len: usize| {
        format!(
            "PUT /public?cors HTTP/1.1\r\nHost: {}\r\nContent-Length: {len}\r\n\r\n",
            host_of(&endpoint)
        )
    };
    let floods: Vec<_> = (0..8)
        .map(|_| tokio::spawn(flood(spec.s3_addr, cors_head(2 << 20), 2 << 20)))
        .collect();
    for f in floods {
        assert_eq!(f.await.expect("flood"), 403);
    }
    assert_eq!(
        flood(spec.s3_addr, cors_head(19 << 20), 19 << 20).await,
        400
    );
    // Claiming a key with a bad signature is no better.
    let claimed = format!(
        "POST /public?delete HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\
         x-amz-content-sha256: UNSIGNED-PAYLOAD\r\nx-amz-date: {}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential={}/{}/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00\r\n\r\n",
        host_of(&endpoint),
        1 << 20,
        crate::raw_sigv4::amz_date(time::OffsetDateTime::now_utc()),
        crate::harness::ACCESS_KEY,
        &crate::raw_sigv4::amz_date(time::OffsetDateTime::now_utc())[..8],
    );
    assert_eq!(flood(spec.s3_addr, claimed, 1 << 20).await, 403);

    let http = reqwest::Client::new();
    let status_and_code = |resp: reqwest::Response| async move {
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        let code = body
            .split("<Code>")
            .nth(1)
            .and_then(|c| c.split("</Code>").next())
            .unwrap_or("")
            .to_owned();
        (status, code)
    };

    // SigV2, fresh and well-formed: refused whether signed in a header or a
    // query string.
    let now = httpdate::fmt_http_date(std::time::SystemTime::now());
    let v2 = http
        .get(format!("{endpoint}/public"))
        .header("date", &now)
        .header(
            "authorization",
            format!("AWS {}:bm90IGEgc2lnbmF0dXJl", crate::harness::ACCESS_KEY),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_and_code(v2).await,
        (400, "InvalidRequest".to_owned())
    );
    let expires = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
    let v2 = http
        .get(format!(
            "{endpoint}/public/page?AWSAccessKeyId={}&Expires={expires}&Signature=bm90IGEgc2lnbmF0dXJl",
            crate::harness::ACCESS_KEY
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_and_code(v2).await,
        (400, "InvalidRequest".to_owned())
    );

    // An anonymous reader may not turn a public object into a page.
    let anon = http
        .get(format!(
            "{endpoint}/public/page?response-content-type=text/html"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_and_code(anon).await,
        (400, "InvalidRequest".to_owned())
    );
    let plain = http
        .get(format!("{endpoint}/public/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
    // The owner, through a presigned URL, may.
    let presigned = t
        .s3
        .get_object()
        .bucket("public")
        .key("page")
        .response_content_type("text/plain")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(300)).unwrap(),
        )
        .await
        .unwrap();
    let owner = http.get(presigned.uri()).send().await.unwrap();
    assert_eq!(owner.status(), 200);
    assert_eq!(owner.headers()["content-type"], "text/plain");

    // Invented methods add no metric series, on the edge or on metadata.
    let edge_metrics = format!("http://{}/metrics", spec.admin_addr);
    let meta_metrics = format!("{}/metrics", spec.metadata_url());
    let series = |page: String| page.lines().filter(|l| !l.starts_with('#')).count();
    let (edge_before, meta_before) = (
        series(metrics(&edge_metrics).await),
        series(metrics(&meta_metrics).await),
    );
    for i in 0..500 {
        let method = reqwest::Method::from_bytes(format!("INVENTED{i}").as_bytes()).unwrap();
        let _ = http
            .request(method.clone(), format!("{endpoint}/public/page"))
            .send()
            .await;
        let _ = http
            .request(method, format!("{}/v1/buckets", spec.metadata_url()))
            .send()
            .await;
    }
    let (edge_after, meta_after) = (
        series(metrics(&edge_metrics).await),
        series(metrics(&meta_metrics).await),
    );
    assert!(
        edge_after <= edge_before + 40,
        "edge series {edge_before} -> {edge_after}"
    );
    assert!(
        meta_after <= meta_before + 40,
        "metadata series {meta_before} -> {meta_after}"
    );

    let grown = t.edge_rss().saturating_sub(rss_before);
    assert!(grown < 64 << 20, "the edge grew by {} MiB", grown >> 20);
    assert_eq!(
        get(&t.s3, "public", "during", None).await,
        b"signed and stored"
    );
}

/// The per-key limit counts verified requests only: a stranger who knows a
/// key id (every presigned URL shows one) cannot lock its owner out, while
/// the owner's own excess is still slowed down. Behind a trusted proxy the
/// per-address limit tells clients apart by `X-Forwarded-For`.
#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_charge_verified_identities() {
    let t = TestCluster::start_with(Options {
        edge_args: [
            "--rate-limit-per-key",
            "5/5",
            "--rate-limit-per-address",
            "20/20",
            "--trusted-proxy",
            "127.0.0.4",
        ]
        .map(String::from)
        .to_vec(),
        ..Options::default()
    })
    .await;
    let endpoint = t.cluster.s3_endpoint();
    let host = host_of(&endpoint);
    t.s3.create_bucket().bucket("rate").send().await.unwrap();
    put(&t.s3, "rate", "k", b"mine").await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // A stranger sends fifteen requests claiming the owner's key.
    let stranger = reqwest::Client::builder()
        .local_address(loopback(2))
        .build()
        .unwrap();
    for _ in 0..15 {
        let now = time::OffsetDateTime::now_utc();
        let forged = stranger
            .get(format!("{endpoint}/rate/k"))
            .header("x-amz-date", crate::raw_sigv4::amz_date(now))
            .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
            .header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential={}/{}/us-east-1/s3/aws4_request, SignedHeaders=host, Signature={}",
                    crate::harness::ACCESS_KEY,
                    &crate::raw_sigv4::amz_date(now)[..8],
                    "0".repeat(64)
                ),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            forged.status(),
            403,
            "a forged request is refused, not counted"
        );
    }
    // The owner is not locked out.
    assert_eq!(get(&t.s3, "rate", "k", None).await, b"mine");

    // The owner's own burst beyond five is slowed down.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let signed = Signer::for_tests().sign(
            "GET",
            &host,
            "/rate/k",
            time::OffsetDateTime::now_utc(),
            crate::raw_sigv4::Dated::AmzDate,
        );
        let resp = crate::raw_sigv4::send_get(&http, &endpoint, "/rate/k", signed).await;
        statuses.push(resp.status().as_u16());
    }
    assert!(
        statuses.contains(&503),
        "no SlowDown past the key's burst: {statuses:?}"
    );

    // Through the trusted proxy, each forwarded client has its own allowance.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let proxy = reqwest::Client::builder()
        .local_address(loopback(4))
        .build()
        .unwrap();
    let mut slowed = 0;
    for _ in 0..30 {
        let resp = proxy
            .get(format!("{endpoint}/rate/k"))
            .header("x-forwarded-for", "6.6.6.6, 198.51.100.1")
            .send()
            .await
            .unwrap();
        if resp.status() == 503 {
            slowed += 1;
        }
    }
    assert!(
        slowed >= 5,
        "one forwarded client was slowed {slowed} times in 30"
    );
    let other = proxy
        .get(format!("{endpoint}/rate/k"))
        .header("x-forwarded-for", "198.51.100.2")
        .send()
        .await
        .unwrap();
    assert_ne!(
        other.status(),
        503,
        "another forwarded client shares no allowance"
    );
}
