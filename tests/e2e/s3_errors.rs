//! S3 errors with the right code and status, including those the protocol
//! layer raises before any operation runs.

use crate::harness::{ACCESS_KEY, SECRET_KEY, TestCluster, put};

type HttpResponse = aws_sdk_s3::config::http::HttpResponse;

/// The S3 error code and HTTP status of a failed call.
fn code<E>(err: aws_sdk_s3::error::SdkError<E, HttpResponse>) -> (Option<String>, Option<u16>)
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    match err {
        aws_sdk_s3::error::SdkError::ServiceError(s) => {
            (s.into_err().code().map(str::to_owned), status)
        }
        other => panic!("expected a service error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn authentication_errors() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("auth").send().await.unwrap();

    let stranger = t.client_with("nobody", SECRET_KEY);
    let (c, s) = code(stranger.list_buckets().send().await.unwrap_err());
    assert_eq!((c.as_deref(), s), (Some("InvalidAccessKeyId"), Some(403)));

    let wrong_secret = t.client_with(ACCESS_KEY, "not-the-secret-at-all");
    let (c, s) = code(wrong_secret.list_buckets().send().await.unwrap_err());
    assert_eq!(
        (c.as_deref(), s),
        (Some("SignatureDoesNotMatch"), Some(403))
    );

    // A request signed long ago: the clock check comes before anything else.
    let http = reqwest::Client::new();
    let resp = http
        .get(format!("{}/auth", t.cluster.s3_endpoint()))
        .header("x-amz-date", "20200101T000000Z")
        .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20200101/us-east-1/s3/aws4_request, \
                 SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={}",
                "0".repeat(64)
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    // Errors raised by the protocol layer carry a request id too.
    assert!(resp.headers().contains_key("x-amz-request-id"));
    let id = resp.headers()["x-amz-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = resp.text().await.unwrap();
    assert!(body.contains("<Code>RequestTimeTooSkewed</Code>"), "{body}");
    assert!(
        body.contains(&format!("<RequestId>{id}</RequestId>")),
        "{body}"
    );

    // Anonymous requests are refused.
    let resp = http
        .get(format!("{}/auth", t.cluster.s3_endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("<Code>AccessDenied</Code>")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn request_errors() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("errs").send().await.unwrap();

    let (c, s) = code(
        t.s3.get_object()
            .bucket("errs")
            .key("nope")
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!((c.as_deref(), s), (Some("NoSuchKey"), Some(404)));

    let (c, s) = code(
        t.s3.get_object()
            .bucket("no-such-bucket")
            .key("k")
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!((c.as_deref(), s), (Some("NoSuchBucket"), Some(404)));

    let long_key = "k".repeat(1025);
    let (c, s) = code(
        t.s3.put_object()
            .bucket("errs")
            .key(&long_key)
            .body(b"x".to_vec().into())
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!((c.as_deref(), s), (Some("KeyTooLongError"), Some(400)));
    // 1024 bytes is still a valid key.
    put(&t.s3, "errs", &"k".repeat(1024), b"ok").await;

    for bad in ["ab", "Has-Upper", "under_score", "192.168.0.1"] {
        let (c, s) = code(t.s3.create_bucket().bucket(bad).send().await.unwrap_err());
        assert_eq!(
            (c.as_deref(), s),
            (Some("InvalidBucketName"), Some(400)),
            "{bad}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_dated_by_the_date_header() {
    use crate::raw_sigv4::{Dated, Signer, host_of, send_get};

    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("dated").send().await.unwrap();
    put(&t.s3, "dated", "clip", b"signed with Date").await;

    let endpoint = t.cluster.s3_endpoint();
    let host = host_of(&endpoint);
    let signer = Signer::for_tests();
    let http = reqwest::Client::new();
    let send = |headers| send_get(&http, &endpoint, "/dated/clip", headers);
    let now = time::OffsetDateTime::now_utc();

    // The requester itself, checked against the usual x-amz-date form.
    let resp = send(signer.sign("GET", &host, "/dated/clip", now, Dated::AmzDate)).await;
    assert_eq!(resp.status().as_u16(), 200);

    // Dated by `Date` alone: accepted as S3 accepts it.
    let resp = send(signer.sign("GET", &host, "/dated/clip", now, Dated::DateHeader)).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"signed with Date");

    // Still a real signature: a `Date` other than the signed one fails it.
    let mut headers = signer.sign("GET", &host, "/dated/clip", now, Dated::DateHeader);
    let later = (now + time::Duration::seconds(60))
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap()
        .replace("+0000", "GMT");
    for (k, v) in headers.iter_mut() {
        if k == "date" {
            *v = later.clone();
        }
    }
    let resp = send(headers).await;
    assert_eq!(resp.status().as_u16(), 403);
    assert!(resp.text().await.unwrap().contains("SignatureDoesNotMatch"));

    // And a `Date` far from now is a skewed clock, as with x-amz-date.
    let old = now - time::Duration::hours(2);
    let resp = send(signer.sign("GET", &host, "/dated/clip", old, Dated::DateHeader)).await;
    assert_eq!(resp.status().as_u16(), 403);
    assert!(resp.text().await.unwrap().contains("RequestTimeTooSkewed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn presigned_urls() {
    use aws_sdk_s3::presigning::PresigningConfig;
    use std::time::Duration;

    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("pre").send().await.unwrap();
    put(&t.s3, "pre", "clip", b"presigned bytes").await;
    let http = reqwest::Client::new();
    let cfg = |secs| PresigningConfig::expires_in(Duration::from_secs(secs)).unwrap();

    let get =
        t.s3.get_object()
            .bucket("pre")
            .key("clip")
            .presigned(cfg(3600))
            .await
            .unwrap();
    let resp = http.get(get.uri()).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"presigned bytes");

    let head =
        t.s3.head_object()
            .bucket("pre")
            .key("clip")
            .presigned(cfg(3600))
            .await
            .unwrap();
    let resp = http.head(head.uri()).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);

    let put_url =
        t.s3.put_object()
            .bucket("pre")
            .key("up")
            .presigned(cfg(3600))
            .await
            .unwrap();
    let mut req = http.put(put_url.uri()).body("uploaded by URL");
    for (k, v) in put_url.headers() {
        req = req.header(k, v);
    }
    assert_eq!(req.send().await.unwrap().status().as_u16(), 200);
    assert_eq!(
        crate::harness::get(&t.s3, "pre", "up", None).await,
        b"uploaded by URL"
    );

    // Expiry is checked to the second.
    let short =
        t.s3.get_object()
            .bucket("pre")
            .key("clip")
            .presigned(cfg(1))
            .await
            .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let resp = http.get(short.uri()).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);

    // More than a week is refused whatever the signature says.
    let long = get
        .uri()
        .replace("X-Amz-Expires=3600", "X-Amz-Expires=604801");
    assert_ne!(long, get.uri());
    let resp = http.get(&long).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("AuthorizationQueryParametersError")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_answer_slow_down() {
    use crate::harness::Options;
    use crate::raw_sigv4::{Dated, Signer, host_of, send_get};

    let t = TestCluster::start_with(Options {
        edge_args: vec!["--rate-limit-per-key".into(), "2/4".into()],
        ..Options::default()
    })
    .await;
    t.s3.create_bucket().bucket("limited").send().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await; // refill

    let endpoint = t.cluster.s3_endpoint();
    let host = host_of(&endpoint);
    let signer = Signer::for_tests();
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let now = time::OffsetDateTime::now_utc();
        let headers = signer.sign("GET", &host, "/limited", now, Dated::AmzDate);
        let resp = send_get(&http, &endpoint, "/limited", headers).await;
        let status = resp.status().as_u16();
        if status == 503 {
            assert!(resp.text().await.unwrap().contains("<Code>SlowDown</Code>"));
        }
        statuses.push(status);
    }
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    let slowed = statuses.iter().filter(|&&s| s == 503).count();
    assert_eq!(ok + slowed, statuses.len(), "{statuses:?}");
    assert!(
        (4..=6).contains(&ok),
        "burst of 4 plus a little refill: {statuses:?}"
    );

    // Another client (no credentials, so no key) is not held back by this
    // key's limit: it gets the usual answer, not SlowDown.
    let anonymous = http
        .get(format!("{endpoint}/limited"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 403);

    // Once the bucket has refilled, the key is served again.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    t.s3.head_bucket().bucket("limited").send().await.unwrap();
}
