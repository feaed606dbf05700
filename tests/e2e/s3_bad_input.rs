//! Requests no SDK would send: plain bodies that do not match their
//! Content-Length or `x-amz-content-sha256`, XML with DTDs and entities, keys
//! with dot segments, unknown upload ids, operations we do not offer, clocks
//! off by more than S3 allows, and presigned URLs past their expiry; and
//! keys that try to forge lines in the logs.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::harness::{TestCluster, put};
use crate::raw_chunked::{ChunkedPut, Ending, Streaming, send_raw};
use crate::raw_sigv4::{RawClient, Reply, sha256_hex};
use crate::s3_raw_streaming::{assert_absent, assert_stored, put_chunked};
use tests::pattern;

fn content_md5(body: &[u8]) -> String {
    use md5::{Digest, Md5};
    BASE64.encode(Md5::digest(body))
}

/// `call`, answered within ten seconds (an expanding entity must not hang
/// the server).
async fn call_soon(
    raw: &RawClient,
    method: &str,
    path: &str,
    query: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    tokio::time::timeout(
        Duration::from_secs(10),
        raw.call(method, path, query, extra, body),
    )
    .await
    .unwrap_or_else(|_| panic!("{method} {path}?{query} was not answered in 10 s"))
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_bodies_must_match_their_length_and_hash() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("plain").send().await.unwrap();
    let raw = RawClient::new(&t.cluster.s3_endpoint());
    let body = pattern(300_000, 20);

    // The requester itself: the body's real hash is accepted.
    let resp = raw.call("PUT", "/plain/ok", "", &[], &body).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_stored(&t, "plain", "ok", &body).await;

    // Fewer bytes than Content-Length, then the connection closes: with the
    // body's hash signed, and unsigned.
    for (key, payload) in [
        ("short-hashed", sha256_hex(&body)),
        ("short-unsigned", "UNSIGNED-PAYLOAD".to_owned()),
    ] {
        let path = format!("/plain/{key}");
        let signed = raw.signer.sign_request(
            "PUT",
            &raw.host,
            &path,
            "",
            vec![("content-length".to_owned(), body.len().to_string())],
            &payload,
            time::OffsetDateTime::now_utc(),
        );
        let reply = send_raw(
            &raw.host,
            "PUT",
            &path,
            &signed.headers,
            &body[..body.len() / 3],
            Ending::HangUp,
        )
        .await;
        // Whatever the server does with the cut body, it does it now.
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(status) = reply.status {
            assert_eq!(status, 400, "{key}: {}", reply.text);
            assert!(
                reply.text.contains("<Code>IncompleteBody</Code>"),
                "{key}: {}",
                reply.text
            );
        }
        assert_absent(&t, "plain", key).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_differs_from_its_signed_hash_stores_nothing() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("hash").send().await.unwrap();
    let raw = RawClient::new(&t.cluster.s3_endpoint());
    let body = pattern(200_000, 21);
    let other = sha256_hex(b"some other body");
    let now = time::OffsetDateTime::now_utc;

    let resp = raw
        .call_signed("PUT", "/hash/new", "", &[], &other, now(), &body)
        .await;
    assert_absent(&t, "hash", "new").await;
    assert_eq!(resp.status, 400, "{}", resp.body);

    // An existing object keeps its bytes.
    put(&t.s3, "hash", "kept", b"the original").await;
    let resp = raw
        .call_signed("PUT", "/hash/kept", "", &[], &other, now(), &body)
        .await;
    assert_eq!(resp.status, 400, "{}", resp.body);
    assert_stored(&t, "hash", "kept", b"the original").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_differs_from_its_signed_hash_is_a_sha256_mismatch() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("hash").send().await.unwrap();
    let raw = RawClient::new(&t.cluster.s3_endpoint());
    let body = pattern(200_000, 21);
    let other = sha256_hex(b"some other body");

    let resp = raw
        .call_signed(
            "PUT",
            "/hash/new",
            "",
            &[],
            &other,
            time::OffsetDateTime::now_utc(),
            &body,
        )
        .await;
    assert_absent(&t, "hash", "new").await;
    resp.assert_error(400, "XAmzContentSHA256Mismatch");
}

/// Entities five levels deep, each ten of the one below: 100,000 copies of
/// "lol" if a parser expanded them.
fn laughs(element: &str) -> String {
    let mut dtd = String::from("<!ENTITY lol0 \"lol\">");
    for level in 1..=5 {
        let below = format!("&lol{};", level - 1).repeat(10);
        dtd.push_str(&format!("<!ENTITY lol{level} \"{below}\">"));
    }
    format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [{dtd}]>\n{}",
        element.replace("VALUE", "&lol5;")
    )
}

/// An external entity naming a local file.
fn external(element: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n{}",
        element.replace("VALUE", "&xxe;")
    )
}

/// The element cut off before its end.
fn unclosed(element: &str) -> String {
    let plain = element.replace("VALUE", "k");
    plain[..plain.len() - 3].to_owned()
}

/// Bodies that are not acceptable XML for an operation whose body is
/// `element` (with `VALUE` where a text value goes).
fn bad_xml(element: &str) -> Vec<(&'static str, String)> {
    vec![
        ("entity expansion", laughs(element)),
        ("external entity", external(element)),
        ("unclosed", unclosed(element)),
        ("not xml", "this is not xml".to_owned()),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn xml_with_entities_or_broken_syntax_is_malformed() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("xml").send().await.unwrap();
    put(&t.s3, "xml", "k", b"still here").await;
    let raw = RawClient::new(&t.cluster.s3_endpoint());

    // CreateBucket: no bucket appears.
    let element = "<CreateBucketConfiguration><LocationConstraint>VALUE</LocationConstraint></CreateBucketConfiguration>";
    for (what, body) in bad_xml(element) {
        let resp = call_soon(&raw, "PUT", "/xml-new", "", &[], body.as_bytes()).await;
        resp.assert_error(400, "MalformedXML");
        let head = t.s3.head_bucket().bucket("xml-new").send().await;
        assert!(head.is_err(), "{what}: the bucket was created");
    }

    // DeleteObjects: nothing is deleted.
    let element = "<Delete><Object><Key>VALUE</Key></Object></Delete>";
    for (what, body) in bad_xml(element) {
        let md5 = content_md5(body.as_bytes());
        let resp = call_soon(
            &raw,
            "POST",
            "/xml",
            "delete",
            &[("content-md5", md5.as_str())],
            body.as_bytes(),
        )
        .await;
        assert_eq!(resp.code(), Some("MalformedXML"), "{what}: {}", resp.body);
        assert_eq!(resp.status, 400, "{what}");
        assert_stored(&t, "xml", "k", b"still here").await;
    }

    // CompleteMultipartUpload: the upload stays open, no object appears.
    let id =
        t.s3.create_multipart_upload()
            .bucket("xml")
            .key("mp")
            .send()
            .await
            .unwrap()
            .upload_id()
            .unwrap()
            .to_owned();
    let part =
        t.s3.upload_part()
            .bucket("xml")
            .key("mp")
            .upload_id(&id)
            .part_number(1)
            .body(b"part one".to_vec().into())
            .send()
            .await
            .unwrap();
    let element = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>\
                   <ETag>VALUE</ETag></Part></CompleteMultipartUpload>";
    for (what, body) in bad_xml(element) {
        let query = format!("uploadId={id}");
        let resp = call_soon(&raw, "POST", "/xml/mp", &query, &[], body.as_bytes()).await;
        assert_eq!(resp.code(), Some("MalformedXML"), "{what}: {}", resp.body);
        assert_eq!(resp.status, 400, "{what}");
        assert_absent(&t, "xml", "mp").await;
    }
    let uploads =
        t.s3.list_multipart_uploads()
            .bucket("xml")
            .send()
            .await
            .unwrap();
    assert_eq!(uploads.uploads().len(), 1);
    // The upload still completes with proper XML.
    let etag = part.e_tag().unwrap();
    let good = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    );
    let resp = raw
        .call(
            "POST",
            "/xml/mp",
            &format!("uploadId={id}"),
            &[],
            good.as_bytes(),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_stored_parts(&t, "xml", "mp", b"part one").await;

    // PutBucketCors: no configuration is set.
    let element = "<CORSConfiguration><CORSRule><AllowedOrigin>VALUE</AllowedOrigin>\
                   <AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>";
    for (what, body) in bad_xml(element) {
        let md5 = content_md5(body.as_bytes());
        let resp = call_soon(
            &raw,
            "PUT",
            "/xml",
            "cors",
            &[("content-md5", md5.as_str())],
            body.as_bytes(),
        )
        .await;
        assert_eq!(resp.code(), Some("MalformedXML"), "{what}: {}", resp.body);
        assert_eq!(resp.status, 400, "{what}");
        let cors = raw.call("GET", "/xml", "cors", &[], b"").await;
        cors.assert_error(404, "NoSuchCORSConfiguration");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn xml_with_a_doctype_is_malformed() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("xml").send().await.unwrap();
    put(&t.s3, "xml", "k", b"still here").await;
    let raw = RawClient::new(&t.cluster.s3_endpoint());

    // A document type declaration, with or without entity declarations, even
    // when nothing in the body refers to them.
    let element = "<Delete><Object><Key>k</Key></Object></Delete>";
    for dtd in ["<!DOCTYPE Delete>", "<!DOCTYPE Delete [<!ENTITY a \"b\">]>"] {
        let body = format!("<?xml version=\"1.0\"?>\n{dtd}\n{element}");
        let md5 = content_md5(body.as_bytes());
        let resp = call_soon(
            &raw,
            "POST",
            "/xml",
            "delete",
            &[("content-md5", md5.as_str())],
            body.as_bytes(),
        )
        .await;
        assert_stored(&t, "xml", "k", b"still here").await;
        resp.assert_error(400, "MalformedXML");
    }
    let body = "<!DOCTYPE x [<!ENTITY a \"b\">]><CORSConfiguration><CORSRule>\
                <AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>\
                </CORSRule></CORSConfiguration>";
    let md5 = content_md5(body.as_bytes());
    let resp = call_soon(
        &raw,
        "PUT",
        "/xml",
        "cors",
        &[("content-md5", md5.as_str())],
        body.as_bytes(),
    )
    .await;
    resp.assert_error(400, "MalformedXML");
}

/// Asserts a completed multipart object's bytes (its ETag is not an MD5).
async fn assert_stored_parts(t: &TestCluster, bucket: &str, key: &str, data: &[u8]) {
    let back = crate::harness::get(&t.s3, bucket, key, None).await;
    assert!(back == data, "{bucket}/{key}: bytes differ");
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_with_dot_segments_stay_in_their_bucket() {
    let t = TestCluster::start().await;
    for b in ["bucket-a", "other-bucket"] {
        t.s3.create_bucket().bucket(b).send().await.unwrap();
    }
    let raw = RawClient::new(&t.cluster.s3_endpoint());
    let now = time::OffsetDateTime::now_utc;

    // Sent over a plain connection: HTTP clients would resolve the dot
    // segments themselves. Each path is signed as sent.
    let cases = [
        ("/bucket-a/a/../../other-bucket/x", "a/../../other-bucket/x"),
        ("/bucket-a/..%2fother-bucket%2fy", "../other-bucket/y"),
        (
            "/bucket-a/%2e%2e%2f%2e%2e%2fother-bucket%2fz",
            "../../other-bucket/z",
        ),
        ("/bucket-a/../other-bucket/w", "../other-bucket/w"),
    ];
    for (path, key) in cases {
        let body = format!("stored as {key}");
        let mut headers = raw
            .signer
            .sign_request(
                "PUT",
                &raw.host,
                path,
                "",
                vec![("content-length".to_owned(), body.len().to_string())],
                &sha256_hex(body.as_bytes()),
                now(),
            )
            .headers;
        headers.push(("connection".to_owned(), "close".to_owned()));
        let reply = send_raw(
            &raw.host,
            "PUT",
            path,
            &headers,
            body.as_bytes(),
            Ending::Wait,
        )
        .await;
        assert_eq!(reply.status, Some(200), "{path}: {}", reply.text);
        let back = crate::harness::get(&t.s3, "bucket-a", key, None).await;
        assert_eq!(back, body.as_bytes(), "{key}");
    }

    let listed =
        t.s3.list_objects_v2()
            .bucket("bucket-a")
            .send()
            .await
            .unwrap();
    let mut keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    keys.sort_unstable();
    let mut expected: Vec<&str> = cases.iter().map(|(_, k)| *k).collect();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    let other =
        t.s3.list_objects_v2()
            .bucket("other-bucket")
            .send()
            .await
            .unwrap();
    assert_eq!(other.key_count(), Some(0), "{:?}", other.contents());
}

#[tokio::test(flavor = "multi_thread")]
async fn names_s3_refuses() {
    use aws_sdk_s3::error::ProvideErrorMetadata;

    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("names").send().await.unwrap();
    let raw = RawClient::new(&t.cluster.s3_endpoint());

    // Key length counts bytes, not characters: 513 two-byte characters are
    // 1026 bytes.
    let wide = "é".repeat(513);
    let err =
        t.s3.put_object()
            .bucket("names")
            .key(&wide)
            .body(b"x".to_vec().into())
            .send()
            .await
            .unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    assert_eq!(err.into_service_error().code(), Some("KeyTooLongError"));
    put(&t.s3, "names", &"é".repeat(512), b"1024 bytes").await;

    // Bucket names past the rules the SDK test already covers.
    let too_long = "b".repeat(64);
    for bad in [
        too_long.as_str(),
        "-leading-hyphen",
        "trailing-hyphen-",
        "double..dots",
        ".leading-dot",
        "xn--punycode",
    ] {
        let resp = raw.call("PUT", &format!("/{bad}"), "", &[], b"").await;
        assert_eq!(
            (resp.status, resp.code()),
            (400, Some("InvalidBucketName")),
            "{bad}: {}",
            resp.body
        );
    }
    let ok = "b".repeat(63);
    let resp = raw.call("PUT", &format!("/{ok}"), "", &[], b"").await;
    assert_eq!(resp.status, 200, "{}", resp.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn reserved_bucket_name_prefixes_and_suffixes_are_refused() {
    let t = TestCluster::start().await;
    let raw = RawClient::new(&t.cluster.s3_endpoint());
    let mut accepted = Vec::new();
    for bad in [
        "sthree-bucket",
        "amzn-s3-demo-bucket",
        "bucket-s3alias",
        "bucket--ol-s3",
        "bucket.mrap",
        "bucket--x-s3",
    ] {
        let resp = raw.call("PUT", &format!("/{bad}"), "", &[], b"").await;
        if (resp.status, resp.code()) != (400, Some("InvalidBucketName")) {
            accepted.push(format!("{bad}: {} {}", resp.status, resp.body));
        }
    }
    assert!(accepted.is_empty(), "not refused: {accepted:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_upload_ids_answer_no_such_upload() {
    use aws_sdk_s3::error::ProvideErrorMetadata;
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("ids").send().await.unwrap();
    let bogus = "this-upload-never-existed";

    let e =
        t.s3.abort_multipart_upload()
            .bucket("ids")
            .key("k")
            .upload_id(bogus)
            .send()
            .await
            .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404));
    assert_eq!(e.into_service_error().code(), Some("NoSuchUpload"));

    let e =
        t.s3.upload_part()
            .bucket("ids")
            .key("k")
            .upload_id(bogus)
            .part_number(1)
            .body(b"data".to_vec().into())
            .send()
            .await
            .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404));
    assert_eq!(e.into_service_error().code(), Some("NoSuchUpload"));

    let parts = CompletedMultipartUpload::builder()
        .parts(
            CompletedPart::builder()
                .part_number(1)
                .e_tag("\"0123456789abcdef0123456789abcdef\"")
                .build(),
        )
        .build();
    let e =
        t.s3.complete_multipart_upload()
            .bucket("ids")
            .key("k")
            .upload_id(bogus)
            .multipart_upload(parts)
            .send()
            .await
            .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404));
    assert_eq!(e.into_service_error().code(), Some("NoSuchUpload"));

    // An upload id is bound to its key: another key's upload is unknown here.
    let id =
        t.s3.create_multipart_upload()
            .bucket("ids")
            .key("real")
            .send()
            .await
            .unwrap()
            .upload_id()
            .unwrap()
            .to_owned();
    let e =
        t.s3.upload_part()
            .bucket("ids")
            .key("not-real")
            .upload_id(&id)
            .part_number(1)
            .body(b"data".to_vec().into())
            .send()
            .await
            .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("NoSuchUpload"));
    assert_absent(&t, "ids", "k").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn operations_we_do_not_offer_answer_not_implemented() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("ops").send().await.unwrap();
    put(&t.s3, "ops", "k", b"x").await;
    let raw = RawClient::new(&t.cluster.s3_endpoint());

    let replication = b"<ReplicationConfiguration><Role>arn:aws:iam::1:role/r</Role>\
        <Rule><Status>Enabled</Status><Destination><Bucket>arn:aws:s3:::dst</Bucket>\
        </Destination></Rule></ReplicationConfiguration>";
    let website = b"<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix>\
        </IndexDocument></WebsiteConfiguration>";
    let cases: [(&str, &str, &str, &[u8], &str); 6] = [
        ("GET", "/ops", "website", b"", "GetBucketWebsite"),
        ("PUT", "/ops", "website", website, "PutBucketWebsite"),
        (
            "PUT",
            "/ops",
            "replication",
            replication,
            "PutBucketReplication",
        ),
        ("GET", "/ops", "replication", b"", "GetBucketReplication"),
        (
            "GET",
            "/ops",
            "lifecycle",
            b"",
            "GetBucketLifecycleConfiguration",
        ),
        ("GET", "/ops/k", "tagging", b"", "GetObjectTagging"),
    ];
    for (method, path, query, body, operation) in cases {
        let md5 = content_md5(body);
        let extra: &[(&str, &str)] = if body.is_empty() {
            &[]
        } else {
            &[("content-md5", md5.as_str())]
        };
        let resp = call_soon(&raw, method, path, query, extra, body).await;
        resp.assert_error(501, "NotImplemented");
        assert!(
            resp.message().is_some_and(|m| m.contains(operation)),
            "{method} {path}?{query}: {}",
            resp.body
        );
    }
    // The bucket and its object are untouched.
    assert_stored(&t, "ops", "k", b"x").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn clocks_off_by_more_than_fifteen_minutes_are_refused() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("clock").send().await.unwrap();
    put(&t.s3, "clock", "k", b"on time").await;
    let raw = RawClient::new(&t.cluster.s3_endpoint());
    let empty = sha256_hex(b"");
    let at = |minutes: i64| time::OffsetDateTime::now_utc() + time::Duration::minutes(minutes);

    // Within fifteen minutes either way: served.
    for minutes in [-10, 10] {
        let resp = raw
            .call_signed("GET", "/clock/k", "", &[], &empty, at(minutes), b"")
            .await;
        assert_eq!(resp.status, 200, "{minutes} min: {}", resp.body);
    }
    // Past it either way: refused, for reads and for writes alike.
    for minutes in [-16, 16] {
        let resp = raw
            .call_signed("GET", "/clock/k", "", &[], &empty, at(minutes), b"")
            .await;
        resp.assert_error(403, "RequestTimeTooSkewed");

        let body = b"written with a skewed clock";
        let key = format!("skewed{minutes}");
        let resp = raw
            .call_signed(
                "PUT",
                &format!("/clock/{key}"),
                "",
                &[],
                &sha256_hex(body),
                at(minutes),
                body,
            )
            .await;
        resp.assert_error(403, "RequestTimeTooSkewed");
        assert_absent(&t, "clock", &key).await;

        let key = format!("chunked{minutes}");
        let req = ChunkedPut::new(
            Streaming::Signed,
            &format!("/clock/{key}"),
            vec![body.to_vec()],
        );
        let (headers, encoded) = req.build(&raw.signer, &raw.host, at(minutes));
        let resp = crate::raw_sigv4::send(
            &raw.http,
            &raw.endpoint,
            "PUT",
            &req.path,
            &headers,
            encoded,
        )
        .await;
        resp.assert_error(403, "RequestTimeTooSkewed");
        assert_absent(&t, "clock", &key).await;
    }
    // The same chunked upload on time is stored.
    let req = ChunkedPut::new(
        Streaming::Signed,
        "/clock/chunked",
        vec![b"on time".to_vec()],
    );
    assert_eq!(put_chunked(&raw, &req).await.status, 200);
    assert_stored(&t, "clock", "chunked", b"on time").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_presigned_urls_are_refused() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("pre").send().await.unwrap();
    put(&t.s3, "pre", "k", b"presigned").await;
    let raw = RawClient::new(&t.cluster.s3_endpoint());
    let ago = |minutes: i64| time::OffsetDateTime::now_utc() - time::Duration::minutes(minutes);
    let get = |url: String| {
        let http = raw.http.clone();
        let endpoint = raw.endpoint.clone();
        async move {
            let resp = http.get(format!("{endpoint}{url}")).send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap())
        }
    };

    // The hand-made URL itself, signed a minute ago for an hour.
    let (status, body) = get(raw.signer.presign("GET", &raw.host, "/pre/k", ago(1), 3600)).await;
    assert_eq!((status, body.as_str()), (200, "presigned"));

    // Signed two hours ago for one; ten minutes ago for one minute.
    for (minutes, expires) in [(120, 3600), (10, 60)] {
        let url = raw
            .signer
            .presign("GET", &raw.host, "/pre/k", ago(minutes), expires);
        let (status, body) = get(url).await;
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
        assert!(body.contains("Request has expired"), "{body}");
    }

    // A PUT by an expired URL stores nothing.
    let url = raw
        .signer
        .presign("PUT", &raw.host, "/pre/late", ago(10), 60);
    let resp = raw
        .http
        .put(format!("{}{url}", raw.endpoint))
        .body("too late")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert!(resp.text().await.unwrap().contains("Request has expired"));
    assert_absent(&t, "pre", "late").await;
}

/// Object keys are the client's bytes, newlines included, and they appear in
/// the logs of the gateway and of metadata. A key carrying a newline and a
/// made-up log line must not become a line of its own in any log: keys are
/// logged escaped (`"a\nb"`), never as they are.
#[tokio::test(flavor = "multi_thread")]
async fn a_key_cannot_forge_a_log_line() {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("logs").send().await.unwrap();
    const FORGED: &str = "2030-01-01T00:00:00.000000Z  INFO forged: all is well";
    let key = |name: &str| format!("{name}\n{FORGED}\r\n{FORGED}");

    // Every operation that logs a key at the default level.
    put(&t.s3, "logs", &key("put"), b"body").await;
    t.s3.copy_object()
        .bucket("logs")
        .key(key("copy"))
        .copy_source(format!("logs/{}", percent_encoded(&key("put"))))
        .send()
        .await
        .unwrap();
    let up =
        t.s3.create_multipart_upload()
            .bucket("logs")
            .key(key("multipart"))
            .send()
            .await
            .unwrap();
    let id = up.upload_id().unwrap();
    let part =
        t.s3.upload_part()
            .bucket("logs")
            .key(key("multipart"))
            .upload_id(id)
            .part_number(1)
            .body(b"only part".to_vec().into())
            .send()
            .await
            .unwrap();
    t.s3.complete_multipart_upload()
        .bucket("logs")
        .key(key("multipart"))
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .set_e_tag(part.e_tag().map(str::to_owned))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let aborted =
        t.s3.create_multipart_upload()
            .bucket("logs")
            .key(key("aborted"))
            .send()
            .await
            .unwrap();
    t.s3.abort_multipart_upload()
        .bucket("logs")
        .key(key("aborted"))
        .upload_id(aborted.upload_id().unwrap())
        .send()
        .await
        .unwrap();
    t.s3.delete_object()
        .bucket("logs")
        .key(key("put"))
        .send()
        .await
        .unwrap();

    let logs = t.cluster.spec().data_dir.join("logs");
    let mut escaped = 0;
    for entry in std::fs::read_dir(&logs).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            assert!(
                !line.starts_with(FORGED),
                "{}: a key forged the line {line:?}",
                path.display()
            );
        }
        escaped += text.matches(&format!("\\n{FORGED}\\r\\n{FORGED}")).count();
    }
    // The keys were logged, escaped: the check above saw them.
    assert!(escaped >= 6, "{escaped} escaped keys in the logs");
}

/// `x-amz-copy-source` is a header: the SDK sends it as given, so a key in
/// it is percent-encoded by the caller.
fn percent_encoded(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
