//! Garbage collection with real processes: the shards of deleted,
//! overwritten, aborted and refused uploads, and of the unfinished uploads of
//! a deleted bucket, leave the disks after the grace period, and no shard a
//! live manifest names ever does, even when another object with the same
//! bytes shares its files.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use metadata::model::ObjectData;

use crate::harness::{Options, TestCluster, get, put};
use tests::pattern;

const MIB: usize = 1024 * 1024;

/// Every shard file on every node's disk.
pub(crate) fn files_on_disk(t: &TestCluster) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for i in 0..t.cluster.node_count() {
        let shards = t.cluster.node_data_dir(i).join("shards");
        for dir in std::fs::read_dir(&shards).into_iter().flatten().flatten() {
            for file in std::fs::read_dir(dir.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                out.insert(file.path());
            }
        }
    }
    out
}

/// The shard files the current versions of `keys` name.
async fn files_named(t: &TestCluster, bucket: &str, keys: &[&str]) -> BTreeSet<PathBuf> {
    let b = bucket.parse().unwrap();
    let mut out = BTreeSet::new();
    for key in keys {
        let (_, data) = t.metadata().get_object(&b, key).await.unwrap();
        let ObjectData::Striped(manifest) = data else {
            continue;
        };
        for shard in manifest.shards() {
            out.insert(t.shard_file(shard));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn unreferenced_shards_leave_the_disks_and_named_ones_never_do() {
    let t = TestCluster::start_with(Options {
        gc_grace: Some(Duration::from_secs(1)),
        ..Options::default()
    })
    .await;
    t.s3.create_bucket().bucket("collect").send().await.unwrap();

    let keep = pattern(9 * MIB, 1);
    put(&t.s3, "collect", "keep", &keep).await;
    // The same bytes under another key: some of its shard files are the
    // very files "keep" names. Deleting it must leave those.
    put(&t.s3, "collect", "twin", &keep).await;
    put(&t.s3, "collect", "gone", &pattern(5 * MIB, 2)).await;
    put(&t.s3, "collect", "over", &pattern(5 * MIB, 3)).await;
    let over = pattern(5 * MIB + 5, 4);
    put(&t.s3, "collect", "over", &over).await;

    // An aborted multipart upload of two parts.
    let up =
        t.s3.create_multipart_upload()
            .bucket("collect")
            .key("aborted")
            .send()
            .await
            .unwrap();
    let id = up.upload_id().unwrap();
    let mut parts = Vec::new();
    for n in 1..=2 {
        let out =
            t.s3.upload_part()
                .bucket("collect")
                .key("aborted")
                .upload_id(id)
                .part_number(n)
                .body(pattern(5 * MIB, 10 + n as u64).into())
                .send()
                .await
                .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .set_e_tag(out.e_tag().map(str::to_owned))
                .build(),
        );
    }
    t.s3.abort_multipart_upload()
        .bucket("collect")
        .key("aborted")
        .upload_id(id)
        .send()
        .await
        .unwrap();
    // A completed one whose unlisted part is garbage.
    let up =
        t.s3.create_multipart_upload()
            .bucket("collect")
            .key("joined")
            .send()
            .await
            .unwrap();
    let id = up.upload_id().unwrap();
    let mut listed = Vec::new();
    for n in 1..=2 {
        let out =
            t.s3.upload_part()
                .bucket("collect")
                .key("joined")
                .upload_id(id)
                .part_number(n)
                .body(pattern(5 * MIB, 20 + n as u64).into())
                .send()
                .await
                .unwrap();
        if n == 1 {
            listed.push(
                CompletedPart::builder()
                    .part_number(n)
                    .set_e_tag(out.e_tag().map(str::to_owned))
                    .build(),
            );
        }
    }
    t.s3.complete_multipart_upload()
        .bucket("collect")
        .key("joined")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(listed))
                .build(),
        )
        .send()
        .await
        .unwrap();
    // A refused upload (its Content-MD5 is of other bytes).
    let wrong_md5 = {
        use base64::Engine as _;
        use md5::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(b"other"))
    };
    assert!(
        t.s3.put_object()
            .bucket("collect")
            .key("refused")
            .content_md5(wrong_md5)
            .body(pattern(5 * MIB, 30).into())
            .send()
            .await
            .is_err()
    );

    t.s3.delete_object()
        .bucket("collect")
        .key("gone")
        .send()
        .await
        .unwrap();
    t.s3.delete_object()
        .bucket("collect")
        .key("twin")
        .send()
        .await
        .unwrap();

    let live = ["keep", "over", "joined"];
    let named = files_named(&t, "collect", &live).await;
    assert!(files_on_disk(&t).len() > named.len());
    // After the grace period, the disks hold exactly what is named.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let on_disk = files_on_disk(&t);
        for f in &named {
            assert!(
                on_disk.contains(f),
                "a named shard was deleted: {}",
                f.display()
            );
        }
        if on_disk == named {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} unreferenced shard files still on disk",
            on_disk.len() - named.len()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(get(&t.s3, "collect", "keep", None).await == keep);
    assert!(get(&t.s3, "collect", "over", None).await == over);
    assert_eq!(get(&t.s3, "collect", "joined", None).await.len(), 5 * MIB);

    // Writing the collected bytes again works: the files come back. (A
    // write that began within the gateway's clock-skew allowance of a
    // collection that freed one of its files is refused with 503 and
    // retried; this one starts well after.)
    tokio::time::sleep(Duration::from_secs(3)).await;
    put(&t.s3, "collect", "twin", &keep).await;
    assert!(get(&t.s3, "collect", "twin", None).await == keep);
}

/// `aws s3 rb --force` after an abandoned multipart upload: S3 deletes a
/// bucket whose only contents are unfinished uploads, and drops them. The
/// bucket goes, and the uploaded part's shards leave the disks like those of
/// an aborted upload. An object still keeps a bucket (`BucketNotEmpty`).
#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_bucket_drops_its_unfinished_uploads() {
    let t = TestCluster::start_with(Options {
        gc_grace: Some(Duration::from_secs(1)),
        ..Options::default()
    })
    .await;
    t.s3.create_bucket().bucket("abandon").send().await.unwrap();
    put(&t.s3, "abandon", "left", b"a small object").await;
    let up =
        t.s3.create_multipart_upload()
            .bucket("abandon")
            .key("big.mp4")
            .send()
            .await
            .unwrap();
    let id = up.upload_id().unwrap().to_owned();
    t.s3.upload_part()
        .bucket("abandon")
        .key("big.mp4")
        .upload_id(&id)
        .part_number(1)
        .body(pattern(5 * MIB, 40).into())
        .send()
        .await
        .unwrap();
    // A second upload with no part at all.
    t.s3.create_multipart_upload()
        .bucket("abandon")
        .key("other.mp4")
        .send()
        .await
        .unwrap();

    // The part's shard files, as metadata names them.
    let bucket = "abandon".parse().unwrap();
    let (_, data) = t
        .metadata()
        .get_part(&bucket, "big.mp4", &id.parse().unwrap(), 1)
        .await
        .unwrap();
    let ObjectData::Striped(manifest) = data else {
        panic!("a part is always striped")
    };
    let part_files: BTreeSet<PathBuf> = manifest.shards().map(|s| t.shard_file(s)).collect();
    assert!(!part_files.is_empty());
    let on_disk = files_on_disk(&t);
    assert!(part_files.iter().all(|f| on_disk.contains(f)));

    // The object keeps the bucket, and the refusal drops nothing.
    let err =
        t.s3.delete_bucket()
            .bucket("abandon")
            .send()
            .await
            .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("BucketNotEmpty")
    );
    let listed =
        t.s3.list_multipart_uploads()
            .bucket("abandon")
            .send()
            .await
            .unwrap();
    assert_eq!(listed.uploads().len(), 2);

    // With only the uploads left, DeleteBucket succeeds.
    t.s3.delete_object()
        .bucket("abandon")
        .key("left")
        .send()
        .await
        .unwrap();
    t.s3.delete_bucket().bucket("abandon").send().await.unwrap();
    let err =
        t.s3.head_bucket()
            .bucket("abandon")
            .send()
            .await
            .unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
    let buckets = t.s3.list_buckets().send().await.unwrap();
    assert!(
        buckets
            .buckets()
            .iter()
            .all(|b| b.name() != Some("abandon"))
    );

    // The part's shards are collected after the grace period.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let on_disk = files_on_disk(&t);
        let left = part_files.iter().filter(|f| on_disk.contains(*f)).count();
        if left == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{left} shard files of the dropped upload are still on disk"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // The name re-created is an empty bucket: the old uploads are gone.
    t.s3.create_bucket().bucket("abandon").send().await.unwrap();
    let listed =
        t.s3.list_multipart_uploads()
            .bucket("abandon")
            .send()
            .await
            .unwrap();
    assert!(listed.uploads().is_empty());
}
