//! `aws-chunked` uploads sent by hand: signed chunks of every awkward size,
//! unsigned and signed trailers with checksums, and the broken streams that
//! must be refused without storing anything (bad chunk or trailer signatures,
//! bodies cut short, a missing final chunk, a decoded length that lies).

use aws_sdk_s3::types::ChecksumMode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

use crate::harness::{TestCluster, get, put};
use crate::raw_chunked::{ChunkedPut, Ending, Streaming, send_raw};
use crate::raw_sigv4::{RawClient, Reply, send};
use tests::{md5_hex, pattern};

const MIB: usize = 1024 * 1024;

/// Sends `req` signed now and returns the answer.
pub(crate) async fn put_chunked(raw: &RawClient, req: &ChunkedPut) -> Reply {
    let (headers, body) = req.build(&raw.signer, &raw.host, time::OffsetDateTime::now_utc());
    send(&raw.http, &raw.endpoint, "PUT", &req.path, &headers, body).await
}

/// Asserts that `bucket/key` does not exist: GET answers 404 `NoSuchKey`, HEAD
/// answers 404, and listing does not show it.
pub(crate) async fn assert_absent(t: &TestCluster, bucket: &str, key: &str) {
    use aws_sdk_s3::error::ProvideErrorMetadata;

    match t.s3.get_object().bucket(bucket).key(key).send().await {
        Ok(found) => panic!(
            "{bucket}/{key} must not exist, but GET answers {:?} bytes",
            found.content_length()
        ),
        Err(err) => {
            let status = err.raw_response().map(|r| r.status().as_u16());
            assert_eq!(
                (status, err.into_service_error().code()),
                (Some(404), Some("NoSuchKey")),
                "GET {bucket}/{key}"
            );
        }
    }
    match t.s3.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => panic!("HEAD {bucket}/{key} must fail"),
        Err(err) => assert_eq!(
            err.raw_response().map(|r| r.status().as_u16()),
            Some(404),
            "HEAD {bucket}/{key}"
        ),
    }
    let listed =
        t.s3.list_objects_v2()
            .bucket(bucket)
            .prefix(key)
            .send()
            .await
            .unwrap();
    assert!(
        listed.contents().iter().all(|o| o.key() != Some(key)),
        "{bucket}/{key} is listed"
    );
}

/// Asserts that `bucket/key` holds exactly `data`, with the ETag of a single
/// upload of it.
pub(crate) async fn assert_stored(t: &TestCluster, bucket: &str, key: &str, data: &[u8]) {
    let back = get(&t.s3, bucket, key, None).await;
    assert_eq!(back.len(), data.len(), "{bucket}/{key}: length");
    assert!(back == data, "{bucket}/{key}: bytes differ");
    let head =
        t.s3.head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap();
    assert_eq!(head.content_length(), Some(data.len() as i64));
    assert_eq!(
        head.e_tag(),
        Some(format!("\"{}\"", md5_hex(data)).as_str()),
        "{bucket}/{key}: ETag"
    );
}

fn split(data: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = data;
    let mut sizes = sizes.iter().cycle();
    while !rest.is_empty() {
        let n = (*sizes.next().expect("sizes")).min(rest.len());
        out.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    out
}

fn crc32_b64(data: &[u8]) -> String {
    BASE64.encode(crc32fast::hash(data).to_be_bytes())
}

fn sha256_b64(data: &[u8]) -> String {
    BASE64.encode(Sha256::digest(data))
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_chunks_of_any_size_read_back_exactly() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("chunks").send().await.unwrap();
    let raw = RawClient::new(&t.cluster.s3_endpoint());

    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        // One byte per chunk.
        ("ones", split(&pattern(300, 1), &[1])),
        // Sizes around buffer and stripe edges, mixed.
        (
            "mixed",
            split(&pattern(3 * MIB + 17, 2), &[8191, 65537, 3, 1, 1 << 20]),
        ),
        // One chunk larger than the 16 MiB some servers cap chunks at.
        ("one-big-chunk", vec![pattern(20 * MIB, 3)]),
        // Only the final zero-length chunk.
        ("empty", Vec::new()),
    ];
    for (key, chunks) in cases {
        let req = ChunkedPut::new(Streaming::Signed, &format!("/chunks/{key}"), chunks);
        let resp = put_chunked(&raw, &req).await;
        assert_eq!(resp.status, 200, "{key}: {}", resp.body);
        let data = req.data();
        assert_eq!(
            resp.headers.get("etag").and_then(|v| v.to_str().ok()),
            Some(format!("\"{}\"", md5_hex(&data)).as_str()),
            "{key}"
        );
        assert_stored(&t, "chunks", key, &data).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_chunked_is_never_the_stored_content_encoding() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("enc").send().await.unwrap();
    let raw = RawClient::new(&t.cluster.s3_endpoint());
    let data = pattern(100_000, 4);

    let req = ChunkedPut::new(Streaming::Signed, "/enc/plain", split(&data, &[65536]));
    assert_eq!(put_chunked(&raw, &req).await.status, 200);
    let head =
        t.s3.head_object()
            .bucket("enc")
            .key("plain")
            .send()
            .await
            .unwrap();
    assert_eq!(head.content_encoding(), None);

    // The object's own encoding is kept, the framing is not.
    for (key, sent) in [
        ("gz", "aws-chunked,gzip"),
        ("gz-spaced", "aws-chunked, gzip"),
    ] {
        let mut req = ChunkedPut::new(
            Streaming::UnsignedTrailer,
            &format!("/enc/{key}"),
            split(&data, &[65536]),
        )
        .with_trailer("x-amz-checksum-crc32", &crc32_b64(&data));
        req.content_encoding = sent.to_owned();
        let resp = put_chunked(&raw, &req).await;
        assert_eq!(resp.status, 200, "{key}: {}", resp.body);
        let head =
            t.s3.head_object()
                .bucket("enc")
                .key(key)
                .send()
                .await
                .unwrap();
        assert_eq!(head.content_encoding(), Some("gzip"), "{key}");
        let got =
            t.s3.get_object()
                .bucket("enc")
                .key(key)
                .send()
                .await
                .unwrap();
        assert_eq!(got.content_encoding(), Some("gzip"), "{key}");
        assert!(got.body.collect().await.unwrap().into_bytes()[..] == data[..]);
    }
}

/// Uploads whose chunk or trailer signatures are wrong: a middle chunk, the
/// final zero-length chunk, and the trailer of a signed-trailer stream.
fn badly_signed(data: &[u8]) -> Vec<(&'static str, ChunkedPut)> {
    let chunks = split(data, &[65536]);
    let mut middle = ChunkedPut::new(Streaming::Signed, "/sigs/middle", chunks.clone());
    middle.bad_signature_at = Some(chunks.len() / 2);
    let mut last = ChunkedPut::new(Streaming::Signed, "/sigs/final", chunks.clone());
    last.bad_signature_at = Some(chunks.len());
    let mut trailer = ChunkedPut::new(Streaming::SignedTrailer, "/sigs/trailer", chunks)
        .with_trailer("x-amz-checksum-crc32", &crc32_b64(data));
    trailer.bad_trailer_signature = true;
    vec![("middle", middle), ("final", last), ("trailer", trailer)]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_chunk_signature_stores_nothing() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("sigs").send().await.unwrap();
    let raw = RawClient::new(&t.cluster.s3_endpoint());
    let data = pattern(5 * 65536 + 100, 5);

    for (key, req) in badly_signed(&data) {
        let resp = put_chunked(&raw, &req).await;
        assert_absent(&t, "sigs", key).await;
        assert!(
            matches!(resp.status, 400 | 403),
            "{key}: {} {}",
            resp.status,
            resp.body
        );
    }

    // Nor does a refused upload replace what the key held.
    put(&t.s3, "sigs", "middle", b"the original").await;
    let (_, req) = badly_signed(&data).remove(0);
    let resp = put_chunked(&raw, &req).await;
    assert!(matches!(resp.status, 400 | 403), "{}", resp.body);
    assert_stored(&t, "sigs", "middle", b"the original").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_chunk_signature_answers_signature_does_not_match() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("sigs").send().await.unwrap();
    let raw = RawClient::new(&t.cluster.s3_endpoint());
    let data = pattern(5 * 65536 + 100, 5);

    for (key, req) in badly_signed(&data) {
        let resp = put_chunked(&raw, &req).await;
        assert_absent(&t, "sigs", key).await;
        resp.assert_error(403, "SignatureDoesNotMatch");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn chunked_bodies_cut_short_store_nothing() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("cut").send().await.unwrap();
    let endpoint = t.cluster.s3_endpoint();
    let raw = RawClient::new(&endpoint);
    let data = pattern(4 * 65536 + 10, 6);
    let chunks = split(&data, &[65536]);

    // The connection closes while Content-Length still promises more: half
    // way through a chunk, and right after the last data chunk, where the
    // final zero-length chunk (and the trailer) should follow.
    for mode in [Streaming::Signed, Streaming::UnsignedTrailer] {
        for cut in ["mid-chunk", "before-final"] {
            let key = format!("{cut}-{mode:?}");
            let mut req = ChunkedPut::new(mode, &format!("/cut/{key}"), chunks.clone());
            if mode == Streaming::UnsignedTrailer {
                req = req.with_trailer("x-amz-checksum-crc32", &crc32_b64(&data));
            }
            let (headers, body) =
                req.build(&raw.signer, &raw.host, time::OffsetDateTime::now_utc());
            let sent = match cut {
                "mid-chunk" => body.len() / 2,
                _ => req.data_chunks_len(),
            };
            let reply = send_raw(
                &raw.host,
                "PUT",
                &req.path,
                &headers,
                &body[..sent],
                Ending::HangUp,
            )
            .await;
            // Whatever the server does with the cut body, it does it now.
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            if let Some(status) = reply.status {
                assert_eq!(status, 400, "{key}: {}", reply.text);
                assert!(
                    reply.text.contains("<Code>IncompleteBody</Code>"),
                    "{key}: {}",
                    reply.text
                );
            }
            assert_absent(&t, "cut", &key).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunked_body_without_its_final_chunk_stores_nothing() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("nofinal").send().await.unwrap();
    let raw = RawClient::new(&t.cluster.s3_endpoint());
    let data = pattern(3 * 65536 + 5, 7);

    // Every data chunk arrives, correctly signed and with the declared
    // decoded length, and the body then ends where the signed zero-length
    // chunk should be: the stream is incomplete.
    let mut req = ChunkedPut::new(Streaming::Signed, "/nofinal/k", split(&data, &[65536]));
    req.omit_final = true;
    let resp = put_chunked(&raw, &req).await;
    assert_absent(&t, "nofinal", "k").await;
    resp.assert_error(400, "IncompleteBody");
}

/// Streams whose `x-amz-trailer` announces a CRC32 that never follows the
/// final chunk.
fn trailer_missing(data: &[u8]) -> Vec<(String, ChunkedPut)> {
    [Streaming::UnsignedTrailer, Streaming::SignedTrailer]
        .into_iter()
        .map(|mode| {
            let key = format!("no-trailer-{mode:?}");
            let mut req = ChunkedPut::new(mode, &format!("/notrail/{key}"), split(data, &[65536]));
            req.extra_headers.push((
                "x-amz-trailer".to_owned(),
                "x-amz-checksum-crc32".to_owned(),
            ));
            (key, req)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_announced_trailer_that_never_comes_stores_nothing() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("notrail").send().await.unwrap();
    let raw = RawClient::new(&t.cluster.s3_endpoint());
    let data = pattern(2 * 65536 + 3, 11);

    for (key, req) in trailer_missing(&data) {
        let resp = put_chunked(&raw, &req).await;
        assert_absent(&t, "notrail", &key).await;
        assert_eq!(resp.status, 400, "{key}: {}", resp.body);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_announced_trailer_that_never_comes_is_a_malformed_trailer() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("notrail").send().await.unwrap();
    let raw = RawClient::new(&t.cluster.s3_endpoint());
    let data = pattern(2 * 65536 + 3, 11);

    for (key, req) in trailer_missing(&data) {
        let resp = put_chunked(&raw, &req).await;
        assert_absent(&t, "notrail", &key).await;
        resp.assert_error(400, "MalformedTrailerError");
    }
}

/// Uploads whose `x-amz-decoded-content-length` is one more or one less
/// than the data their chunks carry, by name.
fn lying_lengths(data: &[u8]) -> Vec<(String, ChunkedPut, usize)> {
    let mut out = Vec::new();
    for mode in [Streaming::Signed, Streaming::UnsignedTrailer] {
        for (what, declared) in [("more", data.len() + 1), ("less", data.len() - 1)] {
            let key = format!("{what}-declared-{mode:?}");
            let mut req = ChunkedPut::new(mode, &format!("/lies/{key}"), split(data, &[65536]));
            if mode == Streaming::UnsignedTrailer {
                req = req.with_trailer("x-amz-checksum-crc32", &crc32_b64(data));
            }
            req.decoded_length = Some(declared);
            out.push((key, req, declared));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_decoded_length_that_lies_stores_nothing() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("lies").send().await.unwrap();
    let raw = RawClient::new(&t.cluster.s3_endpoint());
    let data = pattern(2 * 65536 + 1000, 8);

    for (key, req, declared) in lying_lengths(&data) {
        let resp = put_chunked(&raw, &req).await;
        assert_absent(&t, "lies", &key).await;
        if declared > data.len() {
            // Fewer bytes than declared: the body is incomplete.
            resp.assert_error(400, "IncompleteBody");
        } else {
            assert_eq!(resp.status, 400, "{key}: {}", resp.body);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn more_data_than_the_decoded_length_is_an_incomplete_body() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("lies").send().await.unwrap();
    let raw = RawClient::new(&t.cluster.s3_endpoint());
    let data = pattern(2 * 65536 + 1000, 8);

    for (key, req, _) in lying_lengths(&data) {
        let resp = put_chunked(&raw, &req).await;
        assert_absent(&t, "lies", &key).await;
        resp.assert_error(400, "IncompleteBody");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn trailing_checksums_are_verified_and_kept() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("trail").send().await.unwrap();
    let raw = RawClient::new(&t.cluster.s3_endpoint());
    let data = pattern(300_000, 10);
    let chunks = split(&data, &[65536, 8191]);

    // Unsigned chunks with a CRC32 trailer, as current SDKs send by default.
    let req = ChunkedPut::new(Streaming::UnsignedTrailer, "/trail/crc32", chunks.clone())
        .with_trailer("x-amz-checksum-crc32", &crc32_b64(&data));
    let resp = put_chunked(&raw, &req).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_stored(&t, "trail", "crc32", &data).await;
    let head =
        t.s3.head_object()
            .bucket("trail")
            .key("crc32")
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
    assert_eq!(head.checksum_crc32(), Some(crc32_b64(&data).as_str()));

    // Signed chunks with a signed SHA-256 trailer.
    let req = ChunkedPut::new(Streaming::SignedTrailer, "/trail/sha256", chunks.clone())
        .with_trailer("x-amz-checksum-sha256", &sha256_b64(&data));
    let resp = put_chunked(&raw, &req).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_stored(&t, "trail", "sha256", &data).await;
    let got =
        t.s3.get_object()
            .bucket("trail")
            .key("sha256")
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
    assert_eq!(got.checksum_sha256(), Some(sha256_b64(&data).as_str()));

    // Signed chunks with a signed CRC32 trailer, on an empty object.
    let req = ChunkedPut::new(Streaming::SignedTrailer, "/trail/empty", Vec::new())
        .with_trailer("x-amz-checksum-crc32", &crc32_b64(b""));
    let resp = put_chunked(&raw, &req).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_stored(&t, "trail", "empty", b"").await;

    // A wrong value in the trailer: BadDigest, nothing stored.
    let wrong_crc = crc32_b64(b"other bytes");
    let wrong_sha = sha256_b64(b"other bytes");
    let cases = [
        (
            Streaming::UnsignedTrailer,
            "bad-crc32",
            "x-amz-checksum-crc32",
            wrong_crc.as_str(),
        ),
        (
            Streaming::SignedTrailer,
            "bad-signed-crc32",
            "x-amz-checksum-crc32",
            wrong_crc.as_str(),
        ),
        (
            Streaming::SignedTrailer,
            "bad-sha256",
            "x-amz-checksum-sha256",
            wrong_sha.as_str(),
        ),
    ];
    for (mode, key, name, value) in cases {
        let req = ChunkedPut::new(mode, &format!("/trail/{key}"), chunks.clone())
            .with_trailer(name, value);
        put_chunked(&raw, &req).await.assert_error(400, "BadDigest");
        assert_absent(&t, "trail", key).await;
    }
}
