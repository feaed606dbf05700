//! Multipart uploads, for every backend: parts, completion, abort, listing,
//! and where each part's data goes (object, garbage, or nowhere).

use std::collections::HashSet;

use bytes::Bytes;

use super::{bucket, bucket_info, meta, striped};
use crate::ids::{NodeId, ShardHash, UploadId, VersionId};
use crate::model::{
    CompleteRequest, ErasureCode, Manifest, MultipartUpload, ObjectData, PartRecord, ShardRef,
    Stripe, UploadsQuery,
};
use crate::store::{MetaStore, StoreError};

pub(crate) fn upload(b: &str, key: &str) -> MultipartUpload {
    MultipartUpload {
        bucket: bucket(b),
        key: key.into(),
        upload_id: UploadId::new(),
        owner: "o".into(),
        initiated_unix_ms: 1,
        headers: Default::default(),
        user_metadata: [("color".to_owned(), "red".to_owned())].into(),
        checksum_algorithm: Some("crc32".into()),
        checksum_type: None,
        bucket_id: None,
    }
}

/// A part of `size` bytes with a fresh version, and its data: one stripe
/// (none when empty) under a 1+1 code, its data shard named by `tag`.
pub(crate) fn part(number: u32, size: u64, tag: &str) -> (PartRecord, ObjectData) {
    let record = PartRecord {
        part_number: number,
        version: VersionId::new(),
        size,
        etag: format!("etag-{tag}"),
        last_modified_unix_ms: 3,
        checksums: Default::default(),
        shards_written_since_unix_ms: None,
    };
    (
        record,
        part_data(size, tag, ErasureCode { data: 1, parity: 1 }),
    )
}

fn part_data(size: u64, tag: &str, code: ErasureCode) -> ObjectData {
    let node: NodeId = "node-1".parse().unwrap();
    let shard = |s: &str| ShardRef {
        hash: ShardHash::of(s.as_bytes()),
        node: node.clone(),
    };
    let stripes = if size == 0 {
        Vec::new()
    } else {
        vec![Stripe {
            data_len: size,
            shard_len: u32::try_from(size).unwrap(),
            shards: (0..code.total())
                .map(|i| shard(&format!("{tag}/{i}")))
                .collect(),
        }]
    };
    ObjectData::Striped(Manifest { code, stripes })
}

fn stripes(d: &ObjectData) -> Vec<Stripe> {
    match d {
        ObjectData::Striped(m) => m.stripes.clone(),
        ObjectData::Inline(_) => panic!("inline"),
    }
}

pub(crate) fn complete(up: &MultipartUpload, parts: &[&PartRecord], size: u64) -> CompleteRequest {
    let mut object = meta(up.bucket.as_str(), &up.key, size);
    object.etag = format!("abc-{}", parts.len());
    CompleteRequest {
        upload_id: up.upload_id,
        object,
        parts: parts
            .iter()
            .map(|p| (p.part_number, p.etag.clone()))
            .collect(),
        min_part_size: 3,
        condition: Default::default(),
    }
}

async fn garbage_versions(s: &dyn MetaStore) -> HashSet<VersionId> {
    s.list_garbage(1000)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.version)
        .collect()
}

/// Commits `parts` to `up`, panicking on refusal.
async fn commit_all(s: &dyn MetaStore, up: &MultipartUpload, parts: &[(PartRecord, ObjectData)]) {
    for (p, d) in parts {
        s.commit_part(
            &up.bucket,
            &up.key,
            &up.upload_id,
            p.clone(),
            d.clone(),
            None,
        )
        .await
        .unwrap();
    }
}

pub(crate) async fn parts_commit_replace_and_list(s: &dyn MetaStore) {
    assert_eq!(
        s.create_upload(upload("nope", "k")).await,
        Err(StoreError::NoSuchBucket)
    );
    s.create_bucket(bucket_info("media", "o")).await.unwrap();
    let up = upload("media", "movie.mp4");
    let (b, k, id) = (&up.bucket, up.key.as_str(), &up.upload_id);
    s.create_upload(up.clone()).await.unwrap();
    // A retried create is harmless.
    s.create_upload(up.clone()).await.unwrap();
    assert_eq!(s.get_upload(b, k, id).await.unwrap(), Some(up.clone()));
    // The key is part of the upload's name.
    assert_eq!(s.get_upload(b, "other", id).await.unwrap(), None);
    assert_eq!(s.get_upload(b, k, &UploadId::new()).await.unwrap(), None);

    let (p1, d1) = part(1, 3, "p1");
    assert_eq!(
        s.commit_part(b, k, id, p1.clone(), d1.clone(), None).await,
        Ok(None)
    );
    // A retry of the same attempt replaces nothing.
    assert_eq!(
        s.commit_part(b, k, id, p1.clone(), d1.clone(), None).await,
        Ok(None)
    );
    assert!(garbage_versions(s).await.is_empty());
    // A new attempt of part 1 replaces it; the old data becomes garbage.
    let (p1b, d1b) = part(1, 3, "p1b");
    assert_eq!(
        s.commit_part(b, k, id, p1b.clone(), d1b.clone(), None)
            .await,
        Ok(Some(p1.clone()))
    );
    let garbage = s.list_garbage(10).await.unwrap();
    assert_eq!(garbage.len(), 1);
    assert_eq!((garbage[0].version, &garbage[0].data), (p1.version, &d1));
    assert_eq!(
        s.get_part(b, k, id, 1).await.unwrap(),
        Some((p1b.clone(), d1b.clone()))
    );
    assert_eq!(s.get_part(b, k, id, 2).await.unwrap(), None);
    assert_eq!(
        s.get_part(b, "other", id, 1).await,
        Err(StoreError::NoSuchUpload)
    );

    // A version id names one write: not the replaced attempt, not an
    // object's, and a part's cannot become an object's.
    let mut reused = part(2, 3, "x").0;
    reused.version = p1.version;
    assert_eq!(
        s.commit_part(b, k, id, reused, d1.clone(), None).await,
        Err(StoreError::VersionInUse)
    );
    let object = meta("media", "small", 3);
    s.commit_object(object.clone(), super::striped("obj"))
        .await
        .unwrap();
    let mut reused = part(2, 3, "x").0;
    reused.version = object.version;
    assert_eq!(
        s.commit_part(b, k, id, reused, d1.clone(), None).await,
        Err(StoreError::VersionInUse)
    );
    let mut stolen = meta("media", "stolen", 3);
    stolen.version = p1b.version;
    assert_eq!(
        s.commit_object(stolen, d1b.clone()).await,
        Err(StoreError::VersionInUse)
    );

    // Paging, ascending, after the marker.
    let more: Vec<_> = (2..=5).map(|n| part(n, 3, &format!("p{n}"))).collect();
    commit_all(s, &up, &more).await;
    let numbers = |page: &crate::model::PartsPage| {
        page.parts.iter().map(|p| p.part_number).collect::<Vec<_>>()
    };
    let page = s.list_parts(b, k, id, 0, 2).await.unwrap();
    assert_eq!(numbers(&page), [1, 2]);
    assert!(page.is_truncated);
    assert_eq!(page.next_part_number_marker, Some(2));
    assert_eq!(page.parts[0], p1b);
    let page = s.list_parts(b, k, id, 2, 2).await.unwrap();
    assert_eq!(numbers(&page), [3, 4]);
    assert!(page.is_truncated);
    let page = s.list_parts(b, k, id, 4, 2).await.unwrap();
    assert_eq!(numbers(&page), [5]);
    assert!(!page.is_truncated);
    assert_eq!(page.next_part_number_marker, None);
    let page = s.list_parts(b, k, id, 3, 1000).await.unwrap();
    assert_eq!(numbers(&page), [4, 5]);
    assert!(
        s.list_parts(b, k, id, 5, 10)
            .await
            .unwrap()
            .parts
            .is_empty()
    );
    assert!(
        s.list_parts(b, k, id, u32::MAX, 10)
            .await
            .unwrap()
            .parts
            .is_empty()
    );
    assert_eq!(
        s.list_parts(b, k, &UploadId::new(), 0, 10).await,
        Err(StoreError::NoSuchUpload)
    );

    // A part for a missing upload is refused, and its data is collected.
    let (orphan, orphan_data) = part(1, 3, "orphan");
    assert_eq!(
        s.commit_part(b, k, &UploadId::new(), orphan.clone(), orphan_data, None)
            .await,
        Err(StoreError::NoSuchUpload)
    );
    assert!(garbage_versions(s).await.contains(&orphan.version));
}

pub(crate) async fn complete_builds_the_object(s: &dyn MetaStore) {
    s.create_bucket(bucket_info("media", "o")).await.unwrap();
    let up = upload("media", "movie.mp4");
    let (b, k, id) = (&up.bucket, up.key.as_str(), &up.upload_id);
    s.create_upload(up.clone()).await.unwrap();
    // Parts 1..=4; part 3 is left out of the completion. The last may be
    // small (2 < 3).
    let parts = [
        part(1, 3, "p1"),
        part(2, 4, "p2"),
        part(3, 3, "p3"),
        part(4, 2, "p4"),
    ];
    commit_all(s, &up, &parts).await;
    let (p1, p2, p3, p4) = (&parts[0].0, &parts[1].0, &parts[2].0, &parts[3].0);
    let req = complete(&up, &[p1, p2, p4], 9);
    assert_eq!(s.complete_upload(req.clone()).await, Ok(None));

    let (m, d) = s.get_object(b, k).await.unwrap().unwrap();
    let mut expected = req.object.clone();
    expected.part_sizes = vec![3, 4, 2];
    expected.upload_id = Some(*id);
    assert_eq!(m, expected);
    let concatenated: Vec<_> = [&parts[0].1, &parts[1].1, &parts[3].1]
        .into_iter()
        .flat_map(stripes)
        .collect();
    assert_eq!(stripes(&d), concatenated);
    let ObjectData::Striped(manifest) = &d else {
        panic!("inline")
    };
    assert_eq!(manifest.code, ErasureCode { data: 1, parity: 1 });
    assert_eq!(manifest.data_len(), 9);

    // The upload and its parts are gone; only the unlisted part is garbage.
    assert_eq!(s.get_upload(b, k, id).await.unwrap(), None);
    assert_eq!(
        s.list_parts(b, k, id, 0, 10).await,
        Err(StoreError::NoSuchUpload)
    );
    assert_eq!(garbage_versions(s).await, HashSet::from([p3.version]));

    // A retried completion (lost answer) succeeds without effect; another
    // completion of the same upload is refused.
    assert_eq!(s.complete_upload(req.clone()).await, Ok(None));
    assert_eq!(s.get_object(b, k).await.unwrap().unwrap().0, expected);
    assert_eq!(
        s.complete_upload(complete(&up, &[p1], 3)).await,
        Err(StoreError::NoSuchUpload)
    );
    // Completing over an existing object replaces it: its data is garbage.
    let up2 = upload("media", "movie.mp4");
    s.create_upload(up2.clone()).await.unwrap();
    let only = [part(1, 5, "q1")];
    commit_all(s, &up2, &only).await;
    let req2 = complete(&up2, &[&only[0].0], 5);
    assert_eq!(s.complete_upload(req2.clone()).await, Ok(Some(expected)));
    let garbage = s.list_garbage(10).await.unwrap();
    let old = garbage
        .iter()
        .find(|g| g.version == req.object.version)
        .expect("the replaced object's data is garbage");
    assert_eq!(stripes(&old.data), concatenated);
    assert_eq!(s.get_object(b, k).await.unwrap().unwrap().0.part_sizes, [5]);

    // An empty single part makes an empty object.
    let up3 = upload("media", "empty");
    s.create_upload(up3.clone()).await.unwrap();
    let empty = [part(1, 0, "e")];
    commit_all(s, &up3, &empty).await;
    s.complete_upload(complete(&up3, &[&empty[0].0], 0))
        .await
        .unwrap();
    let (m, d) = s.get_object(b, "empty").await.unwrap().unwrap();
    assert_eq!((m.size, m.part_sizes, stripes(&d).len()), (0, vec![0], 0));
}

/// CompleteMultipartUpload is idempotent for clients: the object it makes
/// names its upload, so a retry after the upload is gone (a fresh request,
/// with a fresh version) is recognised for as long as that object is the
/// key's current version, and never after it was replaced or deleted. The
/// same metadata call repeated (same version) succeeds without effect.
pub(crate) async fn completed_objects_name_their_upload(s: &dyn MetaStore) {
    s.create_bucket(bucket_info("media", "o")).await.unwrap();
    let up = upload("media", "k");
    let (b, k, id) = (&up.bucket, up.key.as_str(), &up.upload_id);
    s.create_upload(up.clone()).await.unwrap();
    let parts = [part(1, 3, "p1")];
    commit_all(s, &up, &parts).await;
    let req = complete(&up, &[&parts[0].0], 3);
    assert_eq!(req.object.upload_id, None, "the store records it");
    s.complete_upload(req.clone()).await.unwrap();
    let current = s.head_object(b, k).await.unwrap().unwrap();
    assert_eq!(current.upload_id, Some(*id));
    assert!(current.completed_from(id));
    let listed = s
        .scan_objects(b, "", std::ops::Bound::Unbounded, 10)
        .await
        .unwrap();
    assert_eq!(listed, std::slice::from_ref(&current));

    // The same call again: done already.
    assert_eq!(s.complete_upload(req.clone()).await, Ok(None));
    // A client's retry: no upload any more, and the current version still
    // names it (the gateway answers from that version). Nothing changed.
    let retry = complete(&up, &[&parts[0].0], 3);
    assert_eq!(
        s.complete_upload(retry.clone()).await,
        Err(StoreError::NoSuchUpload)
    );
    assert_eq!(s.head_object(b, k).await.unwrap().as_ref(), Some(&current));
    assert!(garbage_versions(s).await.is_empty());

    // Overwritten: the new version names no upload, and neither the call
    // nor the retry finds anything to recognise.
    s.commit_object(
        meta("media", "k", 2),
        ObjectData::Inline(Bytes::from_static(b"hi")),
    )
    .await
    .unwrap();
    let over = s.head_object(b, k).await.unwrap().unwrap();
    assert_eq!(over.upload_id, None);
    assert_eq!(
        s.complete_upload(req.clone()).await,
        Err(StoreError::NoSuchUpload)
    );

    // Completed from another upload: it names that one.
    let up2 = upload("media", "k");
    s.create_upload(up2.clone()).await.unwrap();
    let parts2 = [part(1, 3, "q1")];
    commit_all(s, &up2, &parts2).await;
    s.complete_upload(complete(&up2, &[&parts2[0].0], 3))
        .await
        .unwrap();
    let second = s.head_object(b, k).await.unwrap().unwrap();
    assert!(second.completed_from(&up2.upload_id));
    assert!(!second.completed_from(id));
    // Deleted: nothing names either upload.
    s.delete_object(b, k).await.unwrap();
    assert_eq!(s.head_object(b, k).await.unwrap(), None);
}

/// A write carries the bucket its request checked, and lands only in that
/// bucket: once the name was deleted and created again (by another user,
/// say) while the write's body was streaming, its commit is `NoSuchBucket`
/// and changes nothing, for objects, new uploads, parts and completions.
/// A write that names no bucket is only checked for the name's existence.
pub(crate) async fn writes_land_only_in_the_bucket_they_checked(s: &dyn MetaStore) {
    use crate::model::WriteCondition;
    s.create_bucket(bucket_info("shared", "alice"))
        .await
        .unwrap();
    let b = &bucket("shared");
    let first = s.get_bucket(b).await.unwrap().unwrap();
    let checked = |info: &crate::model::BucketInfo| WriteCondition {
        bucket_id: Some(info.id),
        ..WriteCondition::default()
    };
    // Alice's writes, checked against her bucket, land while it stands.
    s.commit_object_if(meta("shared", "a", 3), striped("a"), checked(&first))
        .await
        .unwrap();
    let mut alices = upload("shared", "big");
    alices.bucket_id = Some(first.id);
    s.create_upload(alices.clone()).await.unwrap();
    let (p1, d1) = part(1, 3, "p1");
    s.commit_part(b, "big", &alices.upload_id, p1.clone(), d1, Some(first.id))
        .await
        .unwrap();

    // The bucket is deleted (taking the upload along) and Bob creates it
    // again while more of Alice's writes are on their way.
    s.delete_object(b, "a").await.unwrap();
    s.delete_bucket(b).await.unwrap();
    s.create_bucket(bucket_info("shared", "bob")).await.unwrap();
    let second = s.get_bucket(b).await.unwrap().unwrap();
    assert_ne!(first.id, second.id);
    let garbage_before = garbage_versions(s).await;

    assert_eq!(
        s.commit_object_if(meta("shared", "a", 3), striped("late"), checked(&first))
            .await,
        Err(StoreError::NoSuchBucket)
    );
    let mut late_upload = upload("shared", "late");
    late_upload.bucket_id = Some(first.id);
    assert_eq!(
        s.create_upload(late_upload.clone()).await,
        Err(StoreError::NoSuchBucket)
    );
    // Bob's own upload, which Alice's stale part and completion aim at.
    let mut bobs = upload("shared", "big");
    bobs.bucket_id = Some(second.id);
    s.create_upload(bobs.clone()).await.unwrap();
    let (p2, d2) = part(1, 3, "p2");
    assert_eq!(
        s.commit_part(
            b,
            "big",
            &bobs.upload_id,
            p2.clone(),
            d2.clone(),
            Some(first.id)
        )
        .await,
        Err(StoreError::NoSuchBucket)
    );
    s.commit_part(b, "big", &bobs.upload_id, p2.clone(), d2, Some(second.id))
        .await
        .unwrap();
    let mut req = complete(&bobs, &[&p2], 3);
    req.condition = checked(&first);
    assert_eq!(
        s.complete_upload(req.clone()).await,
        Err(StoreError::NoSuchBucket)
    );

    // None of it happened.
    assert_eq!(s.head_object(b, "a").await.unwrap(), None);
    assert_eq!(s.head_object(b, "big").await.unwrap(), None);
    assert_eq!(
        s.get_upload(b, "late", &late_upload.upload_id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.list_parts(b, "big", &bobs.upload_id, 0, 10)
            .await
            .unwrap()
            .parts,
        std::slice::from_ref(&p2)
    );
    assert_eq!(garbage_versions(s).await, garbage_before);

    // Writes checked against Bob's bucket (or unchecked) land.
    req.condition = checked(&second);
    s.complete_upload(req).await.unwrap();
    s.commit_object_if(meta("shared", "a", 3), striped("bob"), checked(&second))
        .await
        .unwrap();
    s.commit_object(meta("shared", "c", 3), striped("c"))
        .await
        .unwrap();
    // And nothing lands where no bucket is.
    assert_eq!(
        s.commit_object_if(meta("nowhere", "a", 3), striped("x"), checked(&second))
            .await,
        Err(StoreError::NoSuchBucket)
    );
}

pub(crate) async fn complete_refusals_change_nothing(s: &dyn MetaStore) {
    s.create_bucket(bucket_info("media", "o")).await.unwrap();
    let up = upload("media", "k");
    let (b, k, id) = (&up.bucket, up.key.as_str(), &up.upload_id);
    s.create_upload(up.clone()).await.unwrap();
    let parts = [part(1, 3, "p1"), part(2, 2, "p2"), part(3, 3, "p3")];
    commit_all(s, &up, &parts).await;
    let (p1, p2, p3) = (&parts[0].0, &parts[1].0, &parts[2].0);

    let refused = |req: CompleteRequest| async move { s.complete_upload(req).await };
    // No such upload: unknown id, or the right id under another key.
    let mut req = complete(&up, &[p1], 3);
    req.upload_id = UploadId::new();
    assert_eq!(refused(req).await, Err(StoreError::NoSuchUpload));
    let mut req = complete(&up, &[p1], 3);
    req.object.key = "other".into();
    assert_eq!(refused(req).await, Err(StoreError::NoSuchUpload));
    // Order: empty, descending, repeated.
    assert_eq!(
        refused(complete(&up, &[], 0)).await,
        Err(StoreError::InvalidPartOrder)
    );
    assert_eq!(
        refused(complete(&up, &[p2, p1], 5)).await,
        Err(StoreError::InvalidPartOrder)
    );
    assert_eq!(
        refused(complete(&up, &[p1, p1], 6)).await,
        Err(StoreError::InvalidPartOrder)
    );
    // A wrong ETag, or a part never uploaded.
    let mut req = complete(&up, &[p1, p3], 6);
    req.parts[1].1 = "etag-wrong".into();
    assert!(matches!(
        refused(req).await,
        Err(StoreError::InvalidPart(_))
    ));
    let mut req = complete(&up, &[p1, p3], 6);
    req.parts[1].0 = 7;
    assert!(matches!(
        refused(req).await,
        Err(StoreError::InvalidPart(_))
    ));
    // Quoted ETags are the same ETags.
    let mut quoted = complete(&up, &[p1, p3], 6);
    quoted.parts[0].1 = format!("\"{}\"", p1.etag);
    // A small part that is not the last (p2 is 2 bytes, the minimum 3).
    assert_eq!(
        refused(complete(&up, &[p1, p2, p3], 8)).await,
        Err(StoreError::EntityTooSmall {
            part_number: 2,
            size: 2,
            min: 3
        })
    );
    // The object's size must be the parts' sum.
    assert!(matches!(
        refused(complete(&up, &[p1, p3], 7)).await,
        Err(StoreError::Invalid(_))
    ));
    // A fresh version only.
    let mut req = complete(&up, &[p1, p3], 6);
    req.object.version = p2.version;
    assert_eq!(refused(req).await, Err(StoreError::VersionInUse));

    // Nothing of it happened.
    assert_eq!(s.get_object(b, k).await.unwrap(), None);
    assert_eq!(s.list_parts(b, k, id, 0, 10).await.unwrap().parts.len(), 3);
    assert!(garbage_versions(s).await.is_empty());
    assert!(s.complete_upload(quoted).await.is_ok());

    // Parts that cannot be assembled: inline, or another erasure code.
    let up = upload("media", "mixed");
    s.create_upload(up.clone()).await.unwrap();
    let (i1, _) = part(1, 3, "i1");
    s.commit_part(
        &up.bucket,
        &up.key,
        &up.upload_id,
        i1.clone(),
        ObjectData::Inline(Bytes::from_static(b"abc")),
        None,
    )
    .await
    .unwrap();
    let (c2, _) = part(2, 3, "c2");
    let wide = part_data(3, "c2", ErasureCode { data: 2, parity: 1 });
    s.commit_part(&up.bucket, &up.key, &up.upload_id, c2.clone(), wide, None)
        .await
        .unwrap();
    let (c3, d3) = part(3, 3, "c3");
    s.commit_part(&up.bucket, &up.key, &up.upload_id, c3.clone(), d3, None)
        .await
        .unwrap();
    assert!(matches!(
        refused(complete(&up, &[&i1], 3)).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        refused(complete(&up, &[&c2, &c3], 6)).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(
        s.get_upload(&up.bucket, &up.key, &up.upload_id)
            .await
            .unwrap()
            .is_some()
    );
}

pub(crate) async fn abort_frees_the_parts(s: &dyn MetaStore) {
    s.create_bucket(bucket_info("media", "o")).await.unwrap();
    let up = upload("media", "k");
    let (b, k, id) = (&up.bucket, up.key.as_str(), &up.upload_id);
    s.create_upload(up.clone()).await.unwrap();
    let parts = [part(1, 3, "p1"), part(2, 3, "p2")];
    commit_all(s, &up, &parts).await;
    assert_eq!(
        s.abort_upload(b, "other", id).await,
        Err(StoreError::NoSuchUpload)
    );
    s.abort_upload(b, k, id).await.unwrap();
    assert_eq!(
        garbage_versions(s).await,
        HashSet::from([parts[0].0.version, parts[1].0.version])
    );
    assert_eq!(s.get_upload(b, k, id).await.unwrap(), None);
    assert_eq!(
        s.abort_upload(b, k, id).await,
        Err(StoreError::NoSuchUpload)
    );
    assert_eq!(
        s.commit_part(b, k, id, part(3, 3, "late").0, part(3, 3, "late").1, None)
            .await,
        Err(StoreError::NoSuchUpload)
    );
    s.delete_bucket(b).await.unwrap();
}

/// DeleteBucket as S3 does it: an object keeps the bucket, unfinished
/// uploads do not. They are aborted with it, their parts' shards handed to
/// the collector exactly as AbortMultipartUpload hands them over, and
/// nothing of them is left for a bucket re-created under the same name.
pub(crate) async fn bucket_deletion_aborts_uploads(s: &dyn MetaStore) {
    s.create_bucket(bucket_info("media", "o")).await.unwrap();
    // A neighbour whose name extends this one keeps its upload.
    s.create_bucket(bucket_info("media-2", "o")).await.unwrap();
    let up = upload("media", "movie.mp4");
    let (b, k, id) = (&up.bucket, up.key.as_str(), &up.upload_id);
    s.create_upload(up.clone()).await.unwrap();
    let parts = [part(1, 3, "p1"), part(2, 3, "p2")];
    commit_all(s, &up, &parts).await;
    let empty = upload("media", "a/empty");
    s.create_upload(empty.clone()).await.unwrap();
    let neighbour = upload("media-2", "movie.mp4");
    s.create_upload(neighbour.clone()).await.unwrap();
    let kept = [part(1, 3, "n1")];
    commit_all(s, &neighbour, &kept).await;

    // An object still keeps the bucket; the refusal changes nothing.
    let object = meta("media", "clip", 2);
    s.commit_object(object, ObjectData::Inline(Bytes::from_static(b"hi")))
        .await
        .unwrap();
    assert_eq!(s.delete_bucket(b).await, Err(StoreError::BucketNotEmpty));
    assert!(s.get_upload(b, k, id).await.unwrap().is_some());
    assert_eq!(s.list_parts(b, k, id, 0, 10).await.unwrap().parts.len(), 2);
    assert!(garbage_versions(s).await.is_empty());

    // With only uploads left, the bucket goes and takes them along.
    s.delete_object(b, "clip").await.unwrap();
    s.delete_bucket(b).await.unwrap();
    assert_eq!(s.get_bucket(b).await.unwrap(), None);
    assert_eq!(s.get_upload(b, k, id).await.unwrap(), None);
    assert_eq!(
        s.get_upload(b, &empty.key, &empty.upload_id).await.unwrap(),
        None
    );
    assert_eq!(
        s.list_parts(b, k, id, 0, 10).await,
        Err(StoreError::NoSuchUpload)
    );
    assert_eq!(
        garbage_versions(s).await,
        HashSet::from([parts[0].0.version, parts[1].0.version]),
        "the parts' data is garbage, as after an abort"
    );
    assert_eq!(
        s.get_upload(&neighbour.bucket, &neighbour.key, &neighbour.upload_id)
            .await
            .unwrap(),
        Some(neighbour.clone())
    );
    // A part that arrives late finds no bucket.
    assert_eq!(
        s.commit_part(b, k, id, part(3, 3, "late").0, part(3, 3, "late").1, None)
            .await,
        Err(StoreError::NoSuchBucket)
    );

    // Once collected, the parts' shard files are queued for deletion on
    // their node, and the neighbour's are not.
    let collected: Vec<VersionId> = parts.iter().map(|(p, _)| p.version).collect();
    s.remove_garbage(&collected).await.unwrap();
    let node: NodeId = "node-1".parse().unwrap();
    let pending: HashSet<ShardHash> = s
        .pending_deletions(&node, 100)
        .await
        .unwrap()
        .into_iter()
        .collect();
    for tag in ["p1/0", "p1/1", "p2/0", "p2/1"] {
        assert!(pending.contains(&ShardHash::of(tag.as_bytes())), "{tag}");
    }
    assert!(!pending.contains(&ShardHash::of(b"n1/0")));

    // The name re-created is a new bucket with no uploads.
    s.create_bucket(bucket_info("media", "p")).await.unwrap();
    let q = UploadsQuery {
        bucket: bucket("media"),
        prefix: String::new(),
        key_marker: None,
        upload_id_marker: None,
        delimiter: None,
        max_uploads: 1000,
    };
    assert!(s.list_uploads(&q).await.unwrap().uploads.is_empty());
    // Deleting a missing bucket is still `NoSuchBucket`.
    assert_eq!(
        s.delete_bucket(&bucket("nope")).await,
        Err(StoreError::NoSuchBucket)
    );
}

pub(crate) async fn uploads_are_listed_in_order(s: &dyn MetaStore) {
    s.create_bucket(bucket_info("ups", "o")).await.unwrap();
    s.create_bucket(bucket_info("ups-2", "o")).await.unwrap();
    // Created out of order; "b" has two uploads, listed oldest first.
    let c = upload("ups", "c");
    let b1 = upload("ups", "b");
    let a = upload("ups", "a/x");
    let b2 = upload("ups", "b");
    let d = upload("ups", "d");
    for u in [&c, &b1, &a, &b2, &d, &upload("ups-2", "a")] {
        s.create_upload(u.clone()).await.unwrap();
    }
    let q = |prefix: &str, km: Option<&str>, im: Option<UploadId>, max| UploadsQuery {
        bucket: bucket("ups"),
        prefix: prefix.into(),
        key_marker: km.map(Into::into),
        upload_id_marker: im,
        delimiter: None,
        max_uploads: max,
    };
    let ids = |page: &crate::model::UploadsPage| {
        page.uploads.iter().map(|u| u.upload_id).collect::<Vec<_>>()
    };
    let all = [
        a.upload_id,
        b1.upload_id,
        b2.upload_id,
        c.upload_id,
        d.upload_id,
    ];
    let page = s.list_uploads(&q("", None, None, 1000)).await.unwrap();
    assert_eq!(ids(&page), all);
    assert!(!page.is_truncated);
    assert_eq!(page.uploads[0], a);

    // Paging through with the markers each page hands back.
    let mut seen = Vec::new();
    let (mut km, mut im) = (None, None);
    loop {
        let page = s.list_uploads(&q("", km.as_deref(), im, 2)).await.unwrap();
        seen.extend(ids(&page));
        if !page.is_truncated {
            break;
        }
        km = page.next_key_marker.clone();
        im = page.next_upload_id_marker;
    }
    assert_eq!(seen, all);

    // A key marker alone skips all uploads of that key.
    let page = s.list_uploads(&q("", Some("b"), None, 10)).await.unwrap();
    assert_eq!(ids(&page), [c.upload_id, d.upload_id]);
    let page = s
        .list_uploads(&q("", Some("b"), Some(b1.upload_id), 10))
        .await
        .unwrap();
    assert_eq!(ids(&page), [b2.upload_id, c.upload_id, d.upload_id]);
    // An upload id marker without a key marker is ignored (as S3 does).
    let page = s
        .list_uploads(&q("", None, Some(c.upload_id), 10))
        .await
        .unwrap();
    assert_eq!(ids(&page), all);
    // Prefixes, and a marker before or after the prefix.
    let page = s.list_uploads(&q("b", None, None, 10)).await.unwrap();
    assert_eq!(ids(&page), [b1.upload_id, b2.upload_id]);
    let page = s.list_uploads(&q("b", Some("a"), None, 10)).await.unwrap();
    assert_eq!(ids(&page), [b1.upload_id, b2.upload_id]);
    let page = s.list_uploads(&q("b", Some("c"), None, 10)).await.unwrap();
    assert!(page.uploads.is_empty());
    assert!(
        s.list_uploads(&q("", None, None, 0))
            .await
            .unwrap()
            .uploads
            .is_empty()
    );
    // A delimiter rolls "a/x" up into "a/"; paging counts the prefix as an
    // entry and never lists it twice.
    let mut rolled = q("", None, None, 10);
    rolled.delimiter = Some("/".into());
    let page = s.list_uploads(&rolled).await.unwrap();
    assert_eq!(page.common_prefixes, ["a/"]);
    assert_eq!(
        ids(&page),
        [b1.upload_id, b2.upload_id, c.upload_id, d.upload_id]
    );
    let mut seen_prefixes = Vec::new();
    let mut seen = Vec::new();
    let (mut km, mut im) = (None, None);
    loop {
        let mut q1 = q("", km.as_deref(), im, 1);
        q1.delimiter = Some("/".into());
        let page = s.list_uploads(&q1).await.unwrap();
        seen_prefixes.extend(page.common_prefixes.clone());
        seen.extend(ids(&page));
        if !page.is_truncated {
            break;
        }
        km = page.next_key_marker.clone();
        im = page.next_upload_id_marker;
    }
    assert_eq!(seen_prefixes, ["a/"]);
    assert_eq!(seen, [b1.upload_id, b2.upload_id, c.upload_id, d.upload_id]);
    let mut under = q("a/", None, None, 10);
    under.delimiter = Some("/".into());
    let page = s.list_uploads(&under).await.unwrap();
    assert!(page.common_prefixes.is_empty());
    assert_eq!(ids(&page), [a.upload_id]);

    let mut missing = q("", None, None, 10);
    missing.bucket = bucket("nope");
    assert_eq!(
        s.list_uploads(&missing).await,
        Err(StoreError::NoSuchBucket)
    );
}

mod redb {
    use ::redb::ReadableTableMetadata;

    use super::*;
    use crate::store::RedbStore;
    use crate::store::redb_store::{DATA, DB_FILE_NAME, PARTS, UPLOADS};

    fn open(dir: &tempfile::TempDir) -> RedbStore {
        RedbStore::open(dir.path()).unwrap()
    }

    #[tokio::test]
    async fn parts_commit_replace_and_list() {
        let dir = tempfile::tempdir().unwrap();
        super::parts_commit_replace_and_list(&open(&dir)).await;
    }

    #[tokio::test]
    async fn complete_builds_the_object() {
        let dir = tempfile::tempdir().unwrap();
        super::complete_builds_the_object(&open(&dir)).await;
    }

    #[tokio::test]
    async fn completed_objects_name_their_upload() {
        let dir = tempfile::tempdir().unwrap();
        super::completed_objects_name_their_upload(&open(&dir)).await;
    }

    #[tokio::test]
    async fn writes_land_only_in_the_bucket_they_checked() {
        let dir = tempfile::tempdir().unwrap();
        super::writes_land_only_in_the_bucket_they_checked(&open(&dir)).await;
    }

    #[tokio::test]
    async fn complete_refusals_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        super::complete_refusals_change_nothing(&open(&dir)).await;
    }

    #[tokio::test]
    async fn abort_frees_the_parts() {
        let dir = tempfile::tempdir().unwrap();
        super::abort_frees_the_parts(&open(&dir)).await;
    }

    #[tokio::test]
    async fn bucket_deletion_aborts_uploads() {
        let dir = tempfile::tempdir().unwrap();
        super::bucket_deletion_aborts_uploads(&open(&dir)).await;
    }

    #[tokio::test]
    async fn uploads_are_listed_in_order() {
        let dir = tempfile::tempdir().unwrap();
        super::uploads_are_listed_in_order(&open(&dir)).await;
    }

    /// After a completion nothing of the upload is left on disk: the listed
    /// parts' data rows are gone (the object's manifest names their shards),
    /// so exactly one data row, the object's, remains.
    #[tokio::test]
    async fn complete_leaves_only_the_object() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = open(&dir);
            s.create_bucket(bucket_info("media", "o")).await.unwrap();
            let up = upload("media", "k");
            s.create_upload(up.clone()).await.unwrap();
            let parts = [part(1, 3, "a"), part(2, 3, "b")];
            commit_all(&s, &up, &parts).await;
            s.complete_upload(complete(&up, &[&parts[0].0, &parts[1].0], 6))
                .await
                .unwrap();
            assert!(s.list_garbage(10).await.unwrap().is_empty());
        }
        let db = ::redb::Database::open(dir.path().join(DB_FILE_NAME)).unwrap();
        let txn = db.begin_read().unwrap();
        assert_eq!(txn.open_table(DATA).unwrap().len().unwrap(), 1);
        assert_eq!(txn.open_table(PARTS).unwrap().len().unwrap(), 0);
        assert_eq!(txn.open_table(UPLOADS).unwrap().len().unwrap(), 0);
    }
}

mod postgres {
    use crate::store::conformance::postgres::{open, pg_tests};

    pg_tests!(
        by_ref: parts_commit_replace_and_list, complete_builds_the_object,
            completed_objects_name_their_upload, writes_land_only_in_the_bucket_they_checked,
            complete_refusals_change_nothing,
            abort_frees_the_parts, bucket_deletion_aborts_uploads, uploads_are_listed_in_order;
        shared:
    );
}
