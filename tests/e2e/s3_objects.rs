//! Object round trips at the sizes where striping changes shape, and ranges
//! across shard and stripe edges.

use crate::harness::{TestCluster, get, put};
use tests::{md5_hex, pattern};

const MIB: usize = 1024 * 1024;

#[tokio::test(flavor = "multi_thread")]
async fn objects_round_trip_at_every_shape() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("shapes").send().await.unwrap();
    // Inline, one short stripe, one shard edge, several stripes with a tail.
    let sizes = [0, 1, 4096, MIB - 1, MIB, 4 * MIB + 1, 10 * MIB + 7];
    for (i, &size) in sizes.iter().enumerate() {
        let key = format!("obj-{size}");
        let data = pattern(size, i as u64);
        put(&t.s3, "shapes", &key, &data).await;
        let back = get(&t.s3, "shapes", &key, None).await;
        assert_eq!(back.len(), size, "{key}: length");
        assert!(back == data, "{key}: bytes differ");

        let head =
            t.s3.head_object()
                .bucket("shapes")
                .key(&key)
                .send()
                .await
                .unwrap();
        assert_eq!(head.content_length(), Some(size as i64));
        assert_eq!(
            head.e_tag(),
            Some(format!("\"{}\"", md5_hex(&data)).as_str())
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ranges_cross_shard_and_stripe_edges() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("ranges").send().await.unwrap();
    let size = 10 * MIB + 7;
    let data = pattern(size, 42);
    put(&t.s3, "ranges", "video.mp4", &data).await;

    let stripe = 4 * MIB;
    let cases: Vec<(String, std::ops::Range<usize>)> = vec![
        ("bytes=0-0".into(), 0..1),
        ("bytes=0-99".into(), 0..100),
        // Across a shard edge inside the first stripe.
        (
            format!("bytes={}-{}", MIB - 10, MIB + 9),
            MIB - 10..MIB + 10,
        ),
        // Across a stripe edge.
        (
            format!("bytes={}-{}", stripe - 5, stripe + 4),
            stripe - 5..stripe + 5,
        ),
        // Spanning several stripes.
        (
            format!("bytes={}-{}", MIB + 3, 9 * MIB),
            MIB + 3..9 * MIB + 1,
        ),
        // Into the short last stripe.
        (
            format!("bytes={}-{}", 2 * stripe - 1, size - 1),
            2 * stripe - 1..size,
        ),
        // Open-ended and suffix ranges.
        (format!("bytes={}-", size - 1000), size - 1000..size),
        ("bytes=-7".into(), size - 7..size),
        ("bytes=-100000000".into(), 0..size),
        // An end past the object is clamped.
        (format!("bytes={}-{}", size - 3, size + 100), size - 3..size),
    ];
    for (header, expected) in cases {
        let out =
            t.s3.get_object()
                .bucket("ranges")
                .key("video.mp4")
                .range(&header)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{header}: {e:?}"));
        let content_range = out.content_range().map(str::to_owned);
        let body = out.body.collect().await.unwrap().into_bytes();
        assert!(body[..] == data[expected.clone()], "{header}: wrong bytes");
        assert_eq!(
            content_range.as_deref(),
            Some(format!("bytes {}-{}/{size}", expected.start, expected.end - 1).as_str()),
            "{header}"
        );
    }

    // A range starting past the end is 416 InvalidRange.
    let err =
        t.s3.get_object()
            .bucket("ranges")
            .key("video.mp4")
            .range(format!("bytes={size}-"))
            .send()
            .await
            .unwrap_err();
    let svc = err.into_service_error();
    assert_eq!(svc.meta().code(), Some("InvalidRange"));
}

#[tokio::test(flavor = "multi_thread")]
async fn overwrite_and_delete() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("rewrite").send().await.unwrap();
    let first = pattern(5 * MIB, 1);
    let second = pattern(3 * MIB + 11, 2);
    put(&t.s3, "rewrite", "k", &first).await;
    put(&t.s3, "rewrite", "k", &second).await;
    assert!(get(&t.s3, "rewrite", "k", None).await == second);

    let meta =
        t.s3.head_object()
            .bucket("rewrite")
            .key("k")
            .send()
            .await
            .unwrap();
    assert_eq!(meta.content_length(), Some(second.len() as i64));

    t.s3.delete_object()
        .bucket("rewrite")
        .key("k")
        .send()
        .await
        .unwrap();
    let err =
        t.s3.get_object()
            .bucket("rewrite")
            .key("k")
            .send()
            .await
            .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchKey"));
    // Deleting what is not there is still a success, as in S3.
    t.s3.delete_object()
        .bucket("rewrite")
        .key("k")
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_and_content_type_are_kept() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("meta").send().await.unwrap();
    t.s3.put_object()
        .bucket("meta")
        .key("clip.webm")
        .content_type("video/webm")
        .cache_control("max-age=60")
        .metadata("camera", "north")
        .body(pattern(2000, 3).into())
        .send()
        .await
        .unwrap();
    let head =
        t.s3.head_object()
            .bucket("meta")
            .key("clip.webm")
            .send()
            .await
            .unwrap();
    assert_eq!(head.content_type(), Some("video/webm"));
    assert_eq!(head.cache_control(), Some("max-age=60"));
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("camera"))
            .map(String::as_str),
        Some("north")
    );
    // aws-chunked framing must never be stored as the object's encoding.
    assert_eq!(head.content_encoding(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn conditional_reads() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("cond").send().await.unwrap();
    let data = pattern(2 * MIB, 5);
    put(&t.s3, "cond", "v.mp4", &data).await;
    let etag = format!("\"{}\"", md5_hex(&data));
    let get = || t.s3.get_object().bucket("cond").key("v.mp4");
    let head = || t.s3.head_object().bucket("cond").key("v.mp4");

    assert_eq!(status(get().if_none_match(&etag).send().await), 304);
    assert_eq!(status(head().if_none_match(&etag).send().await), 304);
    assert_eq!(status(get().if_none_match("\"other\"").send().await), 200);
    assert_eq!(status(get().if_match("\"other\"").send().await), 412);
    assert_eq!(status(head().if_match("\"other\"").send().await), 412);
    assert_eq!(status(get().if_match(&etag).send().await), 200);

    let past = aws_sdk_s3::primitives::DateTime::from_secs(1_000_000_000);
    let future = aws_sdk_s3::primitives::DateTime::from_secs(4_000_000_000);
    assert_eq!(status(get().if_modified_since(future).send().await), 304);
    assert_eq!(status(get().if_modified_since(past).send().await), 200);
    assert_eq!(status(get().if_unmodified_since(past).send().await), 412);
    assert_eq!(status(get().if_unmodified_since(future).send().await), 200);
}

/// The HTTP status of an SDK call's outcome.
fn status<T, E>(
    r: Result<T, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
) -> u16 {
    match r {
        Ok(_) => 200,
        Err(e) => e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_object() {
    use aws_sdk_s3::types::MetadataDirective;

    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("src").send().await.unwrap();
    t.s3.create_bucket().bucket("dst").send().await.unwrap();
    let data = pattern(9 * MIB + 3, 6);
    t.s3.put_object()
        .bucket("src")
        .key("a.mp4")
        .content_type("video/mp4")
        .metadata("take", "3")
        .body(data.clone().into())
        .send()
        .await
        .unwrap();

    // COPY (the default) keeps the source's metadata.
    let out =
        t.s3.copy_object()
            .bucket("dst")
            .key("b.mp4")
            .copy_source("src/a.mp4")
            .send()
            .await
            .unwrap();
    let etag = format!("\"{}\"", md5_hex(&data));
    assert_eq!(
        out.copy_object_result().and_then(|r| r.e_tag()),
        Some(etag.as_str())
    );
    assert!(get(&t.s3, "dst", "b.mp4", None).await == data);
    let head =
        t.s3.head_object()
            .bucket("dst")
            .key("b.mp4")
            .send()
            .await
            .unwrap();
    assert_eq!(head.content_type(), Some("video/mp4"));
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("take"))
            .map(String::as_str),
        Some("3")
    );

    // REPLACE takes the request's; copying onto itself needs it.
    let err =
        t.s3.copy_object()
            .bucket("src")
            .key("a.mp4")
            .copy_source("src/a.mp4")
            .send()
            .await
            .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("InvalidRequest")
    );
    t.s3.copy_object()
        .bucket("src")
        .key("a.mp4")
        .copy_source("src/a.mp4")
        .metadata_directive(MetadataDirective::Replace)
        .content_type("video/webm")
        .send()
        .await
        .unwrap();
    let head =
        t.s3.head_object()
            .bucket("src")
            .key("a.mp4")
            .send()
            .await
            .unwrap();
    assert_eq!(head.content_type(), Some("video/webm"));
    assert!(head.metadata().is_none_or(|m| m.is_empty()));
    assert!(get(&t.s3, "src", "a.mp4", None).await == data);

    // Preconditions on the source, and a missing source.
    let err =
        t.s3.copy_object()
            .bucket("dst")
            .key("c")
            .copy_source("src/a.mp4")
            .copy_source_if_match("\"nope\"")
            .send()
            .await
            .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("PreconditionFailed")
    );
    let err =
        t.s3.copy_object()
            .bucket("dst")
            .key("c")
            .copy_source("src/missing")
            .send()
            .await
            .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchKey"));

    // Deleting the source leaves the copy whole.
    t.s3.delete_object()
        .bucket("src")
        .key("a.mp4")
        .send()
        .await
        .unwrap();
    assert!(get(&t.s3, "dst", "b.mp4", None).await == data);
}

#[tokio::test(flavor = "multi_thread")]
async fn conditional_writes() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("cwrites").send().await.unwrap();
    let put_if = |key: &'static str, inm: Option<&'static str>, im: Option<String>, seed: u64| {
        t.s3.put_object()
            .bucket("cwrites")
            .key(key)
            .set_if_none_match(inm.map(str::to_owned))
            .set_if_match(im)
            .body(pattern(MIB + 1, seed).into())
            .send()
    };

    // Racing create-only writers: exactly one wins.
    let racers: Vec<_> = (0..6).map(|i| put_if("once", Some("*"), None, i)).collect();
    let outcomes = futures::future::join_all(racers).await;
    let won = outcomes.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{outcomes:?}");
    for r in outcomes.into_iter().filter_map(Result::err) {
        assert_eq!(
            r.into_service_error().meta().code(),
            Some("PreconditionFailed")
        );
    }

    let current =
        t.s3.head_object()
            .bucket("cwrites")
            .key("once")
            .send()
            .await
            .unwrap();
    let etag = current.e_tag().unwrap().to_owned();
    let err = put_if("once", None, Some("\"0000\"".into()), 9)
        .await
        .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("PreconditionFailed")
    );
    let err = put_if("absent", None, Some(etag.clone()), 9)
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchKey"));
    put_if("once", None, Some(etag.clone()), 10).await.unwrap();
    let after =
        t.s3.head_object()
            .bucket("cwrites")
            .key("once")
            .send()
            .await
            .unwrap();
    assert_ne!(after.e_tag(), Some(etag.as_str()));
    assert!(get(&t.s3, "cwrites", "once", None).await == pattern(MIB + 1, 10));
}
