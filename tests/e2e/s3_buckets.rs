//! Bucket lifecycle and ownership.

use crate::harness::{TestCluster, put};

#[tokio::test(flavor = "multi_thread")]
async fn bucket_lifecycle() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("alpha").send().await.unwrap();
    t.s3.create_bucket().bucket("beta").send().await.unwrap();
    let names: Vec<String> =
        t.s3.list_buckets()
            .send()
            .await
            .unwrap()
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_owned))
            .collect();
    assert_eq!(names, vec!["alpha", "beta"]);

    t.s3.head_bucket().bucket("alpha").send().await.unwrap();
    let err =
        t.s3.head_bucket()
            .bucket("missing")
            .send()
            .await
            .unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));

    let err =
        t.s3.create_bucket()
            .bucket("alpha")
            .send()
            .await
            .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("BucketAlreadyOwnedByYou")
    );

    put(&t.s3, "alpha", "x", b"hello").await;
    let err =
        t.s3.delete_bucket()
            .bucket("alpha")
            .send()
            .await
            .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("BucketNotEmpty")
    );

    t.s3.delete_object()
        .bucket("alpha")
        .key("x")
        .send()
        .await
        .unwrap();
    t.s3.delete_bucket().bucket("alpha").send().await.unwrap();
    let err =
        t.s3.delete_bucket()
            .bucket("alpha")
            .send()
            .await
            .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchBucket"));

    let err =
        t.s3.put_object()
            .bucket("alpha")
            .key("y")
            .body(b"z".to_vec().into())
            .send()
            .await
            .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchBucket"));
}
