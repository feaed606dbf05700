//! HTTP as browsers and CDNs expect it from the edge, checked with a plain
//! HTTP client on a public-read object (as a `<video>` element or a CDN
//! fetches it): validators, ranges, the headers stored at PUT, conditional
//! requests answered 304 without a shard read, If-Range, a cheap HEAD,
//! keep-alive and 416.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

use crate::harness::TestCluster;
use tests::{md5_hex, pattern};

const LEN: usize = 300_000;

/// Bytes of shards all storage nodes have served so far (their own
/// `shard_get_bytes_total`); the edge's metrics have no shard-read counter.
async fn shard_bytes_served(t: &TestCluster) -> u64 {
    let http = reqwest::Client::new();
    let mut total = 0;
    for addr in &t.cluster.spec().node_addrs {
        let text = http
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .expect("node metrics")
            .text()
            .await
            .expect("node metrics body");
        // Absent until the first shard read.
        total += text
            .lines()
            .filter_map(|l| l.strip_prefix("shard_get_bytes_total "))
            .filter_map(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as u64)
            .sum::<u64>();
    }
    total
}

async fn public_object(t: &TestCluster) -> (String, Vec<u8>) {
    t.s3.create_bucket().bucket("web").send().await.unwrap();
    t.s3.put_bucket_acl()
        .bucket("web")
        .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let data = pattern(LEN, 11);
    t.s3.put_object()
        .bucket("web")
        .key("clip.mp4")
        .content_type("video/mp4")
        .cache_control("public, max-age=3600")
        .content_disposition("inline; filename=\"clip.mp4\"")
        .body(data.clone().into())
        .send()
        .await
        .unwrap();
    (format!("{}/web/clip.mp4", t.cluster.s3_endpoint()), data)
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", resp.headers()))
        .to_str()
        .expect("ASCII header")
}

#[tokio::test(flavor = "multi_thread")]
async fn validators_ranges_and_stored_headers() {
    let t = TestCluster::start().await;
    let (url, data) = public_object(&t).await;
    let http = reqwest::Client::new();
    let etag = format!("\"{}\"", md5_hex(&data));

    let full = http.get(&url).send().await.unwrap();
    assert_eq!(full.status(), 200);
    assert_eq!(header(&full, "etag"), etag);
    let last_modified = header(&full, "last-modified").to_owned();
    httpdate::parse_http_date(&last_modified).expect("an HTTP date");
    assert_eq!(header(&full, "accept-ranges"), "bytes");
    assert_eq!(header(&full, "content-type"), "video/mp4");
    assert_eq!(header(&full, "cache-control"), "public, max-age=3600");
    assert_eq!(
        header(&full, "content-disposition"),
        "inline; filename=\"clip.mp4\""
    );
    assert_eq!(header(&full, "content-length"), LEN.to_string());
    assert!(full.bytes().await.unwrap()[..] == data[..]);

    // Ranges: bounded, open-ended, suffix; each names its bytes and the whole.
    for (range, start, end) in [
        ("bytes=100-199", 100, 199),
        (&format!("bytes={}-", LEN - 10), LEN - 10, LEN - 1),
        ("bytes=-50", LEN - 50, LEN - 1),
        (&format!("bytes=0-{}", LEN + 1000), 0, LEN - 1),
    ] {
        let resp = http.get(&url).header("range", range).send().await.unwrap();
        assert_eq!(resp.status(), 206, "{range}");
        assert_eq!(
            header(&resp, "content-range"),
            format!("bytes {start}-{end}/{LEN}"),
            "{range}"
        );
        assert_eq!(
            header(&resp, "content-length"),
            (end - start + 1).to_string()
        );
        assert_eq!(header(&resp, "etag"), etag);
        assert_eq!(header(&resp, "accept-ranges"), "bytes");
        assert_eq!(header(&resp, "content-type"), "video/mp4");
        assert_eq!(header(&resp, "cache-control"), "public, max-age=3600");
        assert!(
            resp.bytes().await.unwrap()[..] == data[start..=end],
            "{range}"
        );
    }

    // A range wholly past the end cannot be satisfied.
    let resp = http
        .get(&url)
        .header("range", format!("bytes={LEN}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 416);

    // HEAD: the same headers, no body.
    let head = http.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "etag"), etag);
    assert_eq!(header(&head, "last-modified"), last_modified);
    assert_eq!(header(&head, "accept-ranges"), "bytes");
    assert_eq!(header(&head, "content-length"), LEN.to_string());
    assert_eq!(header(&head, "cache-control"), "public, max-age=3600");
    assert!(head.bytes().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn not_modified_and_head_read_no_shards() {
    let t = TestCluster::start().await;
    let (url, data) = public_object(&t).await;
    let http = reqwest::Client::new();
    let etag = format!("\"{}\"", md5_hex(&data));

    // The counter moves with a read, so its standing still below means
    // something.
    let before = shard_bytes_served(&t).await;
    let full = http.get(&url).send().await.unwrap();
    let last_modified = header(&full, "last-modified").to_owned();
    assert!(full.bytes().await.unwrap()[..] == data[..]);
    let after_get = shard_bytes_served(&t).await;
    assert!(
        after_get > before,
        "a GET read no shards ({before} -> {after_get})"
    );

    let cases: [(&str, String); 4] = [
        ("if-none-match", etag.clone()),
        ("if-none-match", format!("W/{etag}")),
        ("if-none-match", format!("\"other\", {etag}")),
        ("if-modified-since", last_modified.clone()),
    ];
    for (name, value) in &cases {
        let resp = http.get(&url).header(*name, value).send().await.unwrap();
        assert_eq!(resp.status(), 304, "{name}: {value}");
        assert_eq!(header(&resp, "etag"), etag, "{name}: {value}");
        assert!(resp.bytes().await.unwrap().is_empty(), "a 304 has no body");
    }
    for _ in 0..3 {
        let head = http.head(&url).send().await.unwrap();
        assert_eq!(head.status(), 200);
    }
    let after = shard_bytes_served(&t).await;
    assert_eq!(after, after_get, "304s and HEADs read shards");

    // Validators that do not match get the object.
    let older = httpdate::fmt_http_date(
        httpdate::parse_http_date(&last_modified).unwrap() - Duration::from_secs(3600),
    );
    for (name, value) in [
        ("if-none-match", "\"other\"".to_owned()),
        ("if-modified-since", older),
    ] {
        let resp = http.get(&url).header(name, &value).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{name}: {value}");
        assert!(resp.bytes().await.unwrap()[..] == data[..]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn if_range_resumes_only_the_same_version() {
    let t = TestCluster::start().await;
    let (url, data) = public_object(&t).await;
    let http = reqwest::Client::new();
    let etag = format!("\"{}\"", md5_hex(&data));
    let last_modified = header(&http.head(&url).send().await.unwrap(), "last-modified").to_owned();

    // The version the client holds: the range.
    for validator in [&etag, &last_modified] {
        let resp = http
            .get(&url)
            .header("range", "bytes=1000-1999")
            .header("if-range", validator)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 206, "If-Range: {validator}");
        assert!(resp.bytes().await.unwrap()[..] == data[1000..2000]);
    }
    // Another version: the whole current object, never a spliced range.
    let older = httpdate::fmt_http_date(
        httpdate::parse_http_date(&last_modified).unwrap() - Duration::from_secs(3600),
    );
    for validator in ["\"0123456789abcdef0123456789abcdef\"", older.as_str()] {
        let resp = http
            .get(&url)
            .header("range", "bytes=1000-1999")
            .header("if-range", validator)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "If-Range: {validator}");
        assert_eq!(header(&resp, "etag"), etag);
        assert!(resp.bytes().await.unwrap()[..] == data[..]);
    }
}

/// Reads one HTTP/1.1 response with a Content-Length body; returns the
/// status line, the headers (lowercased names) and the body.
async fn read_response(
    conn: &mut BufReader<tokio::net::TcpStream>,
) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut status = String::new();
    conn.read_line(&mut status).await.unwrap();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        conn.read_line(&mut line).await.unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("a header line");
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().expect("a length"));
    let mut body = vec![0; len];
    conn.read_exact(&mut body).await.unwrap();
    (status.trim_end().to_owned(), headers, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn one_connection_serves_many_requests() {
    let t = TestCluster::start().await;
    let (_, data) = public_object(&t).await;
    let stream = tokio::net::TcpStream::connect(t.cluster.spec().s3_addr)
        .await
        .unwrap();
    let mut conn = BufReader::new(stream);
    let host = t.cluster.spec().s3_addr.to_string();
    for (i, range) in ["bytes=0-99", "bytes=5000-5099", "bytes=-100"]
        .iter()
        .enumerate()
    {
        let request = format!(
            "GET /web/clip.mp4 HTTP/1.1\r\nHost: {host}\r\nRange: {range}\r\nUser-Agent: keep-alive-test\r\n\r\n"
        );
        conn.get_mut().write_all(request.as_bytes()).await.unwrap();
        let (status, headers, body) =
            tokio::time::timeout(Duration::from_secs(20), read_response(&mut conn))
                .await
                .unwrap_or_else(|_| panic!("request {i} on the same connection got no answer"));
        assert_eq!(status, "HTTP/1.1 206 Partial Content", "request {i}");
        assert!(
            !headers
                .iter()
                .any(|(n, v)| n == "connection" && v.eq_ignore_ascii_case("close")),
            "the edge closes after request {i}: {headers:?}"
        );
        let start = match i {
            0 => 0,
            1 => 5000,
            _ => LEN - 100,
        };
        assert!(body[..] == data[start..start + 100], "request {i}");
    }
}
