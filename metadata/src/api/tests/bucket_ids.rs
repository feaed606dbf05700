//! The bucket a write checked travels with it over the wire: on each of the
//! four write routes, a request carrying the id of a bucket that was deleted
//! and created again is `NoSuchBucket`, and the same request carrying the
//! new id lands. (The store's rule itself is in the conformance suite; this
//! catches a route or a wire type that drops the id on the way.)

use super::{TestServer, b};
use crate::error::MetadataError;
use crate::model::WriteCondition;
use crate::store::conformance::multipart::{complete, part, upload};
use crate::store::conformance::{meta, striped};

#[tokio::test]
async fn every_write_route_carries_the_checked_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let c = &srv.client;
    let bucket = b("shared");
    let first = c.create_bucket(&bucket, "alice", false).await.unwrap();
    c.delete_bucket(&bucket).await.unwrap();
    let second = c.create_bucket(&bucket, "bob", false).await.unwrap();
    assert_ne!(first.id, second.id);
    assert_eq!(c.get_bucket(&bucket).await.unwrap().id, second.id);
    let checked = |id| WriteCondition {
        bucket_id: Some(id),
        ..WriteCondition::default()
    };

    // PutObject and CopyObject.
    let object = meta("shared", "a", 3);
    let data = striped("a");
    assert_eq!(
        c.commit_object_if(&object, &data, &checked(first.id)).await,
        Err(MetadataError::NoSuchBucket)
    );
    c.commit_object_if(&object, &data, &checked(second.id))
        .await
        .unwrap();

    // CreateMultipartUpload.
    let mut up = upload("shared", "big");
    up.bucket_id = Some(first.id);
    assert_eq!(c.create_upload(&up).await, Err(MetadataError::NoSuchBucket));
    up.bucket_id = Some(second.id);
    c.create_upload(&up).await.unwrap();

    // UploadPart and UploadPartCopy.
    let (p1, d1) = part(1, 3, "p1");
    let (bucket_name, key, id) = (&up.bucket, up.key.as_str(), &up.upload_id);
    assert_eq!(
        c.commit_part(bucket_name, key, id, &p1, &d1, Some(first.id))
            .await,
        Err(MetadataError::NoSuchBucket)
    );
    c.commit_part(bucket_name, key, id, &p1, &d1, Some(second.id))
        .await
        .unwrap();

    // CompleteMultipartUpload.
    let mut req = complete(&up, &[&p1], 3);
    req.condition = checked(first.id);
    assert_eq!(
        c.complete_upload(&req).await,
        Err(MetadataError::NoSuchBucket)
    );
    req.condition = checked(second.id);
    c.complete_upload(&req).await.unwrap();
    assert_eq!(c.head_object(&bucket, "big").await.unwrap().size, 3);
    srv.stop().await;
}
