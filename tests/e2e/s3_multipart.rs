//! Multipart uploads with aws-sdk-s3: a 100 MiB upload in 5 MiB parts read
//! back whole, by random ranges and by part number; the S3 errors of
//! completing; listing and aborting.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use md5::{Digest, Md5};
use rand::Rng;

use crate::harness::{TestCluster, get};
use tests::pattern;

const MIB: usize = 1024 * 1024;

async fn upload_parts(
    t: &TestCluster,
    bucket: &str,
    key: &str,
    parts: &[&[u8]],
) -> (String, Vec<CompletedPart>) {
    let created =
        t.s3.create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type("video/mp4")
            .send()
            .await
            .unwrap();
    let upload_id = created.upload_id().unwrap().to_owned();
    let mut done = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let out =
            t.s3.upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .part_number(n)
                .body(part.to_vec().into())
                .send()
                .await
                .unwrap_or_else(|e| panic!("part {n}: {e:?}"));
        done.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap())
                .build(),
        );
    }
    (upload_id, done)
}

fn expected_etag(parts: &[&[u8]]) -> String {
    let mut all = Vec::new();
    for p in parts {
        all.extend_from_slice(&Md5::digest(p));
    }
    format!("\"{}-{}\"", hex::encode(Md5::digest(&all)), parts.len())
}

#[tokio::test(flavor = "multi_thread")]
async fn hundred_mib_in_five_mib_parts() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("mpu").send().await.unwrap();
    let data = pattern(100 * MIB, 21);
    let parts: Vec<&[u8]> = data.chunks(5 * MIB).collect();
    let (upload_id, done) = upload_parts(&t, "mpu", "movie.mp4", &parts).await;

    let listed =
        t.s3.list_parts()
            .bucket("mpu")
            .key("movie.mp4")
            .upload_id(&upload_id)
            .max_parts(7)
            .send()
            .await
            .unwrap();
    assert_eq!(listed.parts().len(), 7);
    assert_eq!(listed.is_truncated(), Some(true));
    assert_eq!(listed.parts()[0].size(), Some(5 * MIB as i64));

    let uploads =
        t.s3.list_multipart_uploads()
            .bucket("mpu")
            .send()
            .await
            .unwrap();
    assert_eq!(uploads.uploads().len(), 1);
    // With a delimiter, the upload of "movie.mp4" is listed as itself and
    // one under a folder rolls up into the folder.
    let folder =
        t.s3.create_multipart_upload()
            .bucket("mpu")
            .key("raw/take-1.mov")
            .send()
            .await
            .unwrap();
    let uploads =
        t.s3.list_multipart_uploads()
            .bucket("mpu")
            .delimiter("/")
            .send()
            .await
            .unwrap();
    assert_eq!(uploads.uploads().len(), 1);
    assert_eq!(uploads.uploads()[0].key(), Some("movie.mp4"));
    let prefixes: Vec<_> = uploads
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["raw/"]);
    t.s3.abort_multipart_upload()
        .bucket("mpu")
        .key("raw/take-1.mov")
        .upload_id(folder.upload_id().unwrap())
        .send()
        .await
        .unwrap();
    // Not visible before completion.
    assert!(
        t.s3.head_object()
            .bucket("mpu")
            .key("movie.mp4")
            .send()
            .await
            .is_err()
    );

    let completed =
        t.s3.complete_multipart_upload()
            .bucket("mpu")
            .key("movie.mp4")
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done))
                    .build(),
            )
            .send()
            .await
            .unwrap();
    assert_eq!(completed.e_tag(), Some(expected_etag(&parts).as_str()));

    let head =
        t.s3.head_object()
            .bucket("mpu")
            .key("movie.mp4")
            .send()
            .await
            .unwrap();
    assert_eq!(head.content_length(), Some(data.len() as i64));
    assert_eq!(head.content_type(), Some("video/mp4"));
    assert_eq!(head.e_tag(), completed.e_tag());
    assert!(get(&t.s3, "mpu", "movie.mp4", None).await == data);

    let mut rng = rand::rng();
    for _ in 0..12 {
        let a = rng.random_range(0..data.len());
        let b = (a + rng.random_range(1..12 * MIB)).min(data.len() - 1);
        let r = get(&t.s3, "mpu", "movie.mp4", Some(&format!("bytes={a}-{b}"))).await;
        assert!(r[..] == data[a..=b], "range {a}-{b}");
    }

    for n in [1, 7, 20] {
        let out =
            t.s3.get_object()
                .bucket("mpu")
                .key("movie.mp4")
                .part_number(n)
                .send()
                .await
                .unwrap();
        assert_eq!(out.parts_count(), Some(20));
        let body = out.body.collect().await.unwrap().into_bytes();
        let start = (n as usize - 1) * 5 * MIB;
        assert!(body[..] == data[start..start + 5 * MIB], "part {n}");
    }
    let head =
        t.s3.head_object()
            .bucket("mpu")
            .key("movie.mp4")
            .part_number(3)
            .send()
            .await
            .unwrap();
    assert_eq!(head.content_length(), Some(5 * MIB as i64));
    assert_eq!(head.parts_count(), Some(20));

    let uploads =
        t.s3.list_multipart_uploads()
            .bucket("mpu")
            .send()
            .await
            .unwrap();
    assert!(uploads.uploads().is_empty());
}

fn code<E: ProvideErrorMetadata, R>(e: aws_sdk_s3::error::SdkError<E, R>) -> Option<String> {
    e.code().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread")]
async fn completion_errors_and_abort() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("mpe").send().await.unwrap();
    let big = pattern(5 * MIB, 1);
    let small = pattern(MIB, 2);
    let tail = pattern(100, 3);

    // A part under 5 MiB that is not the last: EntityTooSmall.
    let (id, done) = upload_parts(&t, "mpe", "k", &[&small, &tail]).await;
    let complete = |parts: Vec<CompletedPart>, id: String| {
        t.s3.complete_multipart_upload()
            .bucket("mpe")
            .key("k")
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
    };
    assert_eq!(
        code(complete(done.clone(), id.clone()).await.unwrap_err()).as_deref(),
        Some("EntityTooSmall")
    );

    // Out of order, and a wrong ETag.
    let reversed: Vec<CompletedPart> = done.iter().rev().cloned().collect();
    assert_eq!(
        code(complete(reversed, id.clone()).await.unwrap_err()).as_deref(),
        Some("InvalidPartOrder")
    );
    let wrong = vec![
        CompletedPart::builder()
            .part_number(1)
            .e_tag("\"00000000000000000000000000000000\"")
            .build(),
    ];
    assert_eq!(
        code(complete(wrong, id.clone()).await.unwrap_err()).as_deref(),
        Some("InvalidPart")
    );
    let missing = vec![
        CompletedPart::builder()
            .part_number(9)
            .e_tag(done[0].e_tag().unwrap())
            .build(),
    ];
    assert_eq!(
        code(complete(missing, id.clone()).await.unwrap_err()).as_deref(),
        Some("InvalidPart")
    );

    // Replacing part 1 with a big one makes the same upload completable.
    let out =
        t.s3.upload_part()
            .bucket("mpe")
            .key("k")
            .upload_id(&id)
            .part_number(1)
            .body(big.clone().into())
            .send()
            .await
            .unwrap();
    let parts = vec![
        CompletedPart::builder()
            .part_number(1)
            .e_tag(out.e_tag().unwrap())
            .build(),
        done[1].clone(),
    ];
    complete(parts, id.clone()).await.unwrap();
    let mut expected = big.clone();
    expected.extend_from_slice(&tail);
    assert!(get(&t.s3, "mpe", "k", None).await == expected);
    // The upload is gone once completed.
    assert_eq!(
        code(complete(done.clone(), id.clone()).await.unwrap_err()).as_deref(),
        Some("NoSuchUpload")
    );

    // Abort: the upload disappears, and its id is refused afterwards.
    let (id2, _) = upload_parts(&t, "mpe", "aborted", &[&small]).await;
    t.s3.abort_multipart_upload()
        .bucket("mpe")
        .key("aborted")
        .upload_id(&id2)
        .send()
        .await
        .unwrap();
    let err =
        t.s3.upload_part()
            .bucket("mpe")
            .key("aborted")
            .upload_id(&id2)
            .part_number(2)
            .body(small.clone().into())
            .send()
            .await
            .unwrap_err();
    assert_eq!(code(err).as_deref(), Some("NoSuchUpload"));
    assert!(
        t.s3.list_multipart_uploads()
            .bucket("mpe")
            .send()
            .await
            .unwrap()
            .uploads()
            .is_empty()
    );
    assert!(
        t.s3.head_object()
            .bucket("mpe")
            .key("aborted")
            .send()
            .await
            .is_err()
    );

    let err =
        t.s3.list_parts()
            .bucket("mpe")
            .key("k")
            .upload_id("not-an-upload-id")
            .send()
            .await
            .unwrap_err();
    assert_eq!(code(err).as_deref(), Some("NoSuchUpload"));
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_part_copy_with_ranges() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("upc").send().await.unwrap();
    let source = pattern(12 * MIB + 9, 41);
    crate::harness::put(&t.s3, "upc", "source", &source).await;

    let id =
        t.s3.create_multipart_upload()
            .bucket("upc")
            .key("joined")
            .send()
            .await
            .unwrap()
            .upload_id()
            .unwrap()
            .to_owned();
    let split = 5 * MIB;
    let mut done = Vec::new();
    for (n, range) in [
        (1, format!("bytes=0-{}", split - 1)),
        (2, format!("bytes={split}-{}", source.len() - 1)),
    ] {
        let out =
            t.s3.upload_part_copy()
                .bucket("upc")
                .key("joined")
                .upload_id(&id)
                .part_number(n)
                .copy_source("upc/source")
                .copy_source_range(range)
                .send()
                .await
                .unwrap();
        let etag = out
            .copy_part_result()
            .and_then(|r| r.e_tag())
            .unwrap()
            .to_owned();
        done.push(CompletedPart::builder().part_number(n).e_tag(etag).build());
    }
    // A third part, the whole source: no range header.
    let out =
        t.s3.upload_part_copy()
            .bucket("upc")
            .key("joined")
            .upload_id(&id)
            .part_number(3)
            .copy_source("upc/source")
            .send()
            .await
            .unwrap();
    let etag = out
        .copy_part_result()
        .and_then(|r| r.e_tag())
        .unwrap()
        .to_owned();
    done.push(CompletedPart::builder().part_number(3).e_tag(etag).build());

    let err =
        t.s3.upload_part_copy()
            .bucket("upc")
            .key("joined")
            .upload_id(&id)
            .part_number(4)
            .copy_source("upc/source")
            .copy_source_range(format!("bytes=0-{}", source.len()))
            .send()
            .await
            .unwrap_err();
    assert_eq!(code(err).as_deref(), Some("InvalidRange"));

    t.s3.complete_multipart_upload()
        .bucket("upc")
        .key("joined")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut expected = source.clone();
    expected.extend_from_slice(&source);
    assert!(get(&t.s3, "upc", "joined", None).await == expected);
}

/// CompleteMultipartUpload sent again after it succeeded (a client that lost
/// the answer retries) gets the first answer again, checksum included, for
/// as long as the object it made is the key's current version. A completion
/// of the same upload listing other parts is no repeat, and once the key is
/// overwritten the upload is unknown: both `NoSuchUpload`.
#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_completion_answers_as_the_first() {
    use aws_sdk_s3::types::ChecksumAlgorithm;
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("again").send().await.unwrap();
    let parts = [pattern(5 * MIB, 51), pattern(MIB, 52)];
    let created =
        t.s3.create_multipart_upload()
            .bucket("again")
            .key("clip.mp4")
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .send()
            .await
            .unwrap();
    let id = created.upload_id().unwrap().to_owned();
    let mut done = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let out =
            t.s3.upload_part()
                .bucket("again")
                .key("clip.mp4")
                .upload_id(&id)
                .part_number(n)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .body(data.clone().into())
                .send()
                .await
                .unwrap();
        done.push(
            CompletedPart::builder()
                .part_number(n)
                .set_e_tag(out.e_tag().map(str::to_owned))
                .set_checksum_crc32(out.checksum_crc32().map(str::to_owned))
                .build(),
        );
    }
    let complete = || {
        t.s3.complete_multipart_upload()
            .bucket("again")
            .key("clip.mp4")
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done.clone()))
                    .build(),
            )
            .send()
    };
    let answer =
        |o: &aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput| {
            (
                o.bucket().map(str::to_owned),
                o.key().map(str::to_owned),
                o.e_tag().map(str::to_owned),
                o.location().map(str::to_owned),
                o.checksum_crc32().map(str::to_owned),
                o.checksum_type().cloned(),
            )
        };
    let first = complete().await.unwrap();
    let expected = expected_etag(&[&parts[0], &parts[1]]);
    assert_eq!(first.e_tag(), Some(expected.as_str()));
    assert!(first.checksum_crc32().is_some_and(|c| c.ends_with("-2")));
    let second = complete().await.unwrap();
    assert_eq!(answer(&second), answer(&first));
    // Nothing happened the second time: the object is the one completed.
    let head =
        t.s3.head_object()
            .bucket("again")
            .key("clip.mp4")
            .send()
            .await
            .unwrap();
    assert_eq!(head.e_tag(), Some(expected.as_str()));
    assert!(get(&t.s3, "again", "clip.mp4", None).await == parts.concat());

    // A completion listing other parts repeats nothing.
    let other =
        t.s3.complete_multipart_upload()
            .bucket("again")
            .key("clip.mp4")
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done[..1].to_vec()))
                    .build(),
            )
            .send()
            .await;
    assert_eq!(code(other.unwrap_err()).as_deref(), Some("NoSuchUpload"));

    // Overwritten: the upload is gone for good.
    crate::harness::put(&t.s3, "again", "clip.mp4", b"replaced").await;
    assert_eq!(
        code(complete().await.unwrap_err()).as_deref(),
        Some("NoSuchUpload")
    );
}
