//! Multipart uploads through the real client and server: every route, the
//! new error codes on the wire, and validation at the edge.

use super::{TestServer, b};
use crate::error::MetadataError;
use crate::ids::UploadId;
use crate::model::{ObjectData, UploadsQuery};
use crate::store::conformance::meta;
use crate::store::conformance::multipart::{part, upload};

#[tokio::test]
async fn multipart_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let c = &srv.client;
    let bucket = b("media");
    assert_eq!(
        c.create_upload(&upload("media", "k")).await,
        Err(MetadataError::NoSuchBucket)
    );
    c.create_bucket(&bucket, "o", false).await.unwrap();
    let key = "videos/a b?é.mp4";
    let up = upload("media", key);
    let id = &up.upload_id;
    c.create_upload(&up).await.unwrap();
    assert_eq!(c.get_upload(&bucket, key, id).await.unwrap(), up);
    assert_eq!(
        c.get_upload(&bucket, "other", id).await,
        Err(MetadataError::NoSuchUpload)
    );

    let (p1, d1) = part(1, 3, "p1");
    let (p2, d2) = part(2, 2, "p2");
    assert_eq!(
        c.commit_part(&bucket, key, id, &p1, &d1, None).await,
        Ok(None)
    );
    assert_eq!(
        c.commit_part(&bucket, key, id, &p2, &d2, None).await,
        Ok(None)
    );
    let (p2b, d2b) = part(2, 2, "p2b");
    assert_eq!(
        c.commit_part(&bucket, key, id, &p2b, &d2b, None).await,
        Ok(Some(p2.clone()))
    );
    let page = c.list_parts(&bucket, key, id, 0, 1).await.unwrap();
    assert_eq!(page.parts, std::slice::from_ref(&p1));
    assert!(page.is_truncated);
    assert_eq!(page.next_part_number_marker, Some(1));
    let page = c.list_parts(&bucket, key, id, 1, 1000).await.unwrap();
    assert_eq!(page.parts, std::slice::from_ref(&p2b));
    assert!(!page.is_truncated);
    assert_eq!(
        c.get_part(&bucket, key, id, 2).await.unwrap(),
        (p2b.clone(), d2b.clone())
    );
    assert_eq!(
        c.get_part(&bucket, key, id, 3).await,
        Err(MetadataError::InvalidPart)
    );
    assert_eq!(
        c.get_part(&bucket, key, &UploadId::new(), 1).await,
        Err(MetadataError::NoSuchUpload)
    );

    let q = UploadsQuery {
        bucket: bucket.clone(),
        prefix: "videos/".into(),
        key_marker: None,
        upload_id_marker: None,
        delimiter: None,
        max_uploads: 10,
    };
    assert_eq!(
        c.list_uploads(&q).await.unwrap().uploads,
        std::slice::from_ref(&up)
    );

    // Each refusal arrives as its own variant.
    let mut object = meta("media", key, 5);
    object.etag = "abc-2".into();
    let mut req = crate::model::CompleteRequest {
        upload_id: *id,
        object,
        parts: vec![(2, p2b.etag.clone()), (1, p1.etag.clone())],
        min_part_size: 3,
        condition: Default::default(),
    };
    assert_eq!(
        c.complete_upload(&req).await,
        Err(MetadataError::InvalidPartOrder)
    );
    req.parts = vec![(1, p1.etag.clone()), (2, p2.etag.clone())];
    assert_eq!(
        c.complete_upload(&req).await,
        Err(MetadataError::InvalidPart)
    );
    req.parts = vec![(1, p1.etag.clone()), (2, p2b.etag.clone())];
    req.min_part_size = 4;
    assert_eq!(
        c.complete_upload(&req).await,
        Err(MetadataError::EntityTooSmall)
    );
    req.min_part_size = 3;
    req.object.size = 6;
    assert!(matches!(
        c.complete_upload(&req).await,
        Err(MetadataError::InvalidRequest(_))
    ));
    req.object.size = 5;
    assert_eq!(c.complete_upload(&req).await, Ok(None));
    let (m, d) = c.get_object(&bucket, key).await.unwrap();
    assert_eq!(m.part_sizes, [3, 2]);
    let ObjectData::Striped(manifest) = d else {
        panic!("inline")
    };
    assert_eq!(manifest.data_len(), 5);
    assert_eq!(manifest.stripes.len(), 2);
    assert_eq!(
        c.abort_upload(&bucket, key, id).await,
        Err(MetadataError::NoSuchUpload)
    );

    // Abort.
    let up2 = upload("media", "k2");
    c.create_upload(&up2).await.unwrap();
    c.abort_upload(&bucket, "k2", &up2.upload_id).await.unwrap();
    assert_eq!(
        c.list_parts(&bucket, "k2", &up2.upload_id, 0, 10).await,
        Err(MetadataError::NoSuchUpload)
    );
    assert!(c.list_uploads(&q).await.unwrap().uploads.is_empty());

    // An object keeps the bucket; an upload in progress does not.
    c.create_upload(&upload("media", "videos/k3"))
        .await
        .unwrap();
    assert_eq!(
        c.delete_bucket(&bucket).await,
        Err(MetadataError::BucketNotEmpty)
    );
    c.delete_object(&bucket, key).await.unwrap();
    c.delete_bucket(&bucket).await.unwrap();
    assert_eq!(
        c.list_uploads(&q).await.map(drop),
        Err(MetadataError::NoSuchBucket)
    );
    srv.stop().await;
}

#[tokio::test]
async fn multipart_validation_at_the_edge() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path()).await;
    let c = &srv.client;
    let bucket = b("media");
    c.create_bucket(&bucket, "o", false).await.unwrap();
    let up = upload("media", "k");
    c.create_upload(&up).await.unwrap();
    let id = &up.upload_id;
    let invalid = |r: Result<(), MetadataError>| matches!(r, Err(MetadataError::InvalidRequest(_)));

    for n in [0, 10_001] {
        let (p, d) = part(n, 3, "x");
        assert!(invalid(
            c.commit_part(&bucket, "k", id, &p, &d, None)
                .await
                .map(drop)
        ));
        assert!(invalid(c.get_part(&bucket, "k", id, n).await.map(drop)));
    }
    // The size must be what the data holds.
    let (mut p, d) = part(1, 3, "x");
    p.size = 4;
    assert!(invalid(
        c.commit_part(&bucket, "k", id, &p, &d, None)
            .await
            .map(drop)
    ));
    assert!(invalid(
        c.list_parts(&bucket, "k", id, 0, 1001).await.map(drop)
    ));
    let long = "k".repeat(crate::ids::MAX_KEY_BYTES + 1);
    assert!(invalid(c.get_upload(&bucket, &long, id).await.map(drop)));
    assert!(invalid(c.create_upload(&upload("media", "")).await));
    let q = UploadsQuery {
        bucket: bucket.clone(),
        prefix: String::new(),
        key_marker: None,
        upload_id_marker: None,
        delimiter: None,
        max_uploads: 1001,
    };
    assert!(invalid(c.list_uploads(&q).await.map(drop)));
    let req = crate::model::CompleteRequest {
        upload_id: *id,
        object: meta("media", "k", 0),
        parts: (1..=10_001).map(|n| (n, "e".to_owned())).collect(),
        min_part_size: 0,
        condition: Default::default(),
    };
    assert!(invalid(c.complete_upload(&req).await.map(drop)));
    // A malformed upload id never reaches the store.
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/uploads/get", srv.url))
        .header(
            reqwest::header::AUTHORIZATION,
            crate::cluster_auth::ClusterSecret::new(super::SECRET)
                .unwrap()
                .header_value(),
        )
        .json(&serde_json::json!({"bucket": "media", "key": "k", "upload_id": "ABC"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    srv.stop().await;
}
