//! HTTPS on the edge's S3 port: aws-sdk-s3 writes and reads through it, a
//! browser-like client negotiates HTTP/2 by ALPN, an HTTP/1.1-only client
//! still gets served, plain HTTP gets a 400 saying the port speaks HTTPS,
//! and SIGHUP swaps the certificate for new connections.

use std::time::Duration;

use crate::harness::{ACCESS_KEY, Options, SECRET_KEY, TestCluster};
use crate::self_signed::SelfSigned;

async fn tls_cluster(cert: &SelfSigned) -> (TestCluster, String) {
    let t = TestCluster::start_with(Options {
        edge_args: cert.edge_args(),
        ..Options::default()
    })
    .await;
    let endpoint = format!("https://{}", t.cluster.spec().s3_addr);
    (t, endpoint)
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_over_https_and_http2_by_alpn() {
    let cert = SelfSigned::generate();
    let (t, endpoint) = tls_cluster(&cert).await;
    let s3 = cert.s3_client(&endpoint, ACCESS_KEY, SECRET_KEY);

    s3.create_bucket().bucket("tls").send().await.unwrap();
    // Several stripes, so the body streams over TLS in many records.
    let body = tests::pattern(5 << 20, 7);
    s3.put_object()
        .bucket("tls")
        .key("big")
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket("tls")
        .key("big")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert!(got == body, "the object read back over HTTPS differs");
    s3.put_bucket_acl()
        .bucket("tls")
        .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();

    // A browser offers h2 and http/1.1; the edge picks HTTP/2.
    let browser = cert.http_client();
    let url = format!("{endpoint}/tls/big");
    let resp = browser
        .get(&url)
        .header("range", "bytes=3000000-3999999")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), 206);
    assert_eq!(
        resp.headers()["content-range"],
        format!("bytes 3000000-3999999/{}", body.len()).as_str()
    );
    let part = resp.bytes().await.unwrap();
    assert!(part[..] == body[3_000_000..4_000_000]);

    // Many ranges at once ride one HTTP/2 connection, as a video player's do.
    let ranges = (0..8u64).map(|i| {
        let browser = browser.clone();
        let url = url.clone();
        async move {
            let start = i * 600_000;
            let resp = browser
                .get(&url)
                .header("range", format!("bytes={start}-{}", start + 99_999))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.version(), reqwest::Version::HTTP_2);
            assert_eq!(resp.status(), 206);
            (start, resp.bytes().await.unwrap())
        }
    });
    for (start, bytes) in futures::future::join_all(ranges).await {
        let start = usize::try_from(start).unwrap();
        assert!(
            bytes[..] == body[start..start + 100_000],
            "range at {start}"
        );
    }

    // A client without HTTP/2 is served HTTP/1.1.
    let old = cert.http1_client();
    let resp = old.head(&url).send().await.unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_11);
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-length"],
        body.len().to_string().as_str()
    );

    // Plain HTTP on the TLS port is not served: no S3 answer leaks in clear.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let cleartext = plain
        .get(format!("http://{}/tls/big", t.cluster.spec().s3_addr))
        .send()
        .await
        .expect("plain HTTP gets an answer");
    assert_eq!(cleartext.status(), 400);
    let text = cleartext.text().await.unwrap();
    assert!(text.contains("speaks HTTPS"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_swaps_the_certificate_for_new_connections() {
    let first = SelfSigned::generate();
    let (t, endpoint) = tls_cluster(&first).await;
    let url = format!("{endpoint}/");

    // Any answer (here 403 for an anonymous listing) proves the handshake.
    let old_client = first.http_client();
    old_client
        .get(&url)
        .send()
        .await
        .expect("the first certificate is served");

    let renewed = SelfSigned::generate();
    std::fs::copy(&renewed.cert_path, &first.cert_path).unwrap();
    std::fs::copy(&renewed.key_path, &first.key_path).unwrap();
    let pid = t.edge_pid();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();

    // The reload is asynchronous in the edge: wait (bounded) for it.
    let new_client = renewed.http_client();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match new_client.get(&url).send().await {
            Ok(_) => break,
            Err(e) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the renewed certificate was never served: {e:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    // A new client trusting only the old certificate now fails the handshake;
    // the edge kept running through the signal.
    let err = first.http_client().get(&url).send().await;
    assert!(err.is_err(), "the old certificate is still served: {err:?}");

    // A broken renewal keeps the certificate in use.
    std::fs::write(&first.key_path, "not a key").unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    renewed
        .http_client()
        .get(&url)
        .send()
        .await
        .expect("still served after a failed reload");
}

/// Plain HTTP on the TLS port is read for at most 4 KiB before its 400:
/// clients sending endless headers in clear hold no memory, every such
/// connection ends, and signed requests over HTTPS go on being served.
#[tokio::test(flavor = "multi_thread")]
async fn endless_plain_http_on_the_tls_port_stays_bounded() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let cert = SelfSigned::generate();
    let (t, endpoint) = tls_cluster(&cert).await;
    let s3 = cert.s3_client(&endpoint, ACCESS_KEY, SECRET_KEY);
    s3.create_bucket().bucket("flood").send().await.unwrap();
    let rss_before = t.edge_rss();

    let addr = t.cluster.spec().s3_addr;
    let mut clients = Vec::new();
    for _ in 0..64 {
        clients.push(tokio::spawn(async move {
            let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
            // 1 MiB of header lines that never end the header.
            let _ = conn
                .write_all(b"GET /flood/x HTTP/1.1\r\nHost: edge\r\n")
                .await;
            let line = format!("X-Pad: {}\r\n", "a".repeat(1000));
            for _ in 0..1024 {
                if conn.write_all(line.as_bytes()).await.is_err() {
                    break;
                }
            }
            let mut answer = Vec::new();
            let _ = conn.read_to_end(&mut answer).await;
            answer
        }));
    }
    for client in clients {
        let answer = tokio::time::timeout(Duration::from_secs(30), client)
            .await
            .expect("the edge ends every plain-HTTP connection")
            .unwrap();
        // The answer may be lost to a reset when the client was still
        // sending; if any came, it is the 400.
        assert!(
            answer.is_empty() || answer.starts_with(b"HTTP/1.1 400"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    let grown = t.edge_rss().saturating_sub(rss_before);
    assert!(grown < 64 << 20, "edge grew by {grown} bytes");

    s3.put_object()
        .bucket("flood")
        .key("after")
        .body(b"still served".to_vec().into())
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket("flood")
        .key("after")
        .send()
        .await
        .unwrap();
    assert_eq!(
        &got.body.collect().await.unwrap().into_bytes()[..],
        b"still served"
    );
}
