//! Additional checksums: verified on the way in (a mismatch stores nothing),
//! kept, and returned with `x-amz-checksum-mode: ENABLED`.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::harness::{TestCluster, put};
use tests::pattern;

fn crc32_b64(data: &[u8]) -> String {
    BASE64.encode(crc32fast::hash(data).to_be_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn checksums_are_verified_kept_and_returned() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("sums").send().await.unwrap();

    // The SDK at its defaults sends a CRC32 with every PutObject.
    let data = pattern(3 * 1024 * 1024 + 5, 31);
    put(&t.s3, "sums", "default", &data).await;
    let head =
        t.s3.head_object()
            .bucket("sums")
            .key("default")
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
    assert_eq!(head.checksum_crc32(), Some(crc32_b64(&data).as_str()));
    // Without the mode, no checksum headers.
    let plain =
        t.s3.head_object()
            .bucket("sums")
            .key("default")
            .send()
            .await
            .unwrap();
    assert_eq!(plain.checksum_crc32(), None);

    // An algorithm chosen by the client is computed, kept and returned on GET.
    let small = pattern(40_000, 32);
    t.s3.put_object()
        .bucket("sums")
        .key("sha")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .body(small.clone().into())
        .send()
        .await
        .unwrap();
    let got =
        t.s3.get_object()
            .bucket("sums")
            .key("sha")
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
    assert!(got.checksum_sha256().is_some());
    let body = got.body.collect().await.unwrap().into_bytes();
    assert!(body[..] == small[..]);

    // A wrong value stores nothing.
    let err =
        t.s3.put_object()
            .bucket("sums")
            .key("bad")
            .checksum_crc32("AAAAAA==")
            .body(pattern(2 * 1024 * 1024, 33).into())
            .send()
            .await
            .unwrap_err();
    assert_eq!(err.code(), Some("BadDigest"));
    assert!(
        t.s3.head_object()
            .bucket("sums")
            .key("bad")
            .send()
            .await
            .is_err()
    );

    // Same for a multipart part.
    let id =
        t.s3.create_multipart_upload()
            .bucket("sums")
            .key("mp")
            .send()
            .await
            .unwrap()
            .upload_id()
            .unwrap()
            .to_owned();
    let err =
        t.s3.upload_part()
            .bucket("sums")
            .key("mp")
            .upload_id(&id)
            .part_number(1)
            .checksum_crc32("AAAAAA==")
            .body(pattern(100_000, 34).into())
            .send()
            .await
            .unwrap_err();
    assert_eq!(err.code(), Some("BadDigest"));
    let parts =
        t.s3.list_parts()
            .bucket("sums")
            .key("mp")
            .upload_id(&id)
            .send()
            .await
            .unwrap();
    assert!(parts.parts().is_empty());
}

/// Uploads `parts` under a fresh upload created with `algorithm` and
/// `checksum_type`, each part checksummed by the SDK; returns the upload id
/// and the completed parts as the SDK reported them.
async fn upload_parts(
    t: &TestCluster,
    key: &str,
    algorithm: ChecksumAlgorithm,
    checksum_type: Option<aws_sdk_s3::types::ChecksumType>,
    parts: &[Vec<u8>],
) -> (String, Vec<aws_sdk_s3::types::CompletedPart>) {
    let created =
        t.s3.create_multipart_upload()
            .bucket("sums")
            .key(key)
            .checksum_algorithm(algorithm.clone())
            .set_checksum_type(checksum_type)
            .send()
            .await
            .unwrap();
    let upload_id = created.upload_id().unwrap().to_owned();
    let mut done = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        let n = i32::try_from(i + 1).unwrap();
        let out =
            t.s3.upload_part()
                .bucket("sums")
                .key(key)
                .upload_id(&upload_id)
                .part_number(n)
                .checksum_algorithm(algorithm.clone())
                .body(data.clone().into())
                .send()
                .await
                .unwrap();
        done.push(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(n)
                .set_e_tag(out.e_tag().map(str::to_owned))
                .set_checksum_crc32(out.checksum_crc32().map(str::to_owned))
                .set_checksum_crc32_c(out.checksum_crc32_c().map(str::to_owned))
                .set_checksum_crc64_nvme(out.checksum_crc64_nvme().map(str::to_owned))
                .set_checksum_sha256(out.checksum_sha256().map(str::to_owned))
                .build(),
        );
    }
    (upload_id, done)
}

#[tokio::test(flavor = "multi_thread")]
async fn multipart_checksums_are_composite_or_full_object() {
    use aws_sdk_s3::types::{ChecksumType, CompletedMultipartUpload};
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("sums").send().await.unwrap();
    let parts = vec![pattern(5 * 1024 * 1024, 41), pattern(300_000, 42)];
    let whole: Vec<u8> = parts.concat();
    let completed = |done: Vec<aws_sdk_s3::types::CompletedPart>| {
        CompletedMultipartUpload::builder()
            .set_parts(Some(done))
            .build()
    };
    let head = |key: &'static str| {
        t.s3.head_object()
            .bucket("sums")
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
    };

    // CRC32, composite by default: the CRC32 of the parts' binary CRC32s,
    // then "-2".
    let (id, done) = upload_parts(&t, "composite", ChecksumAlgorithm::Crc32, None, &parts).await;
    let out =
        t.s3.complete_multipart_upload()
            .bucket("sums")
            .key("composite")
            .upload_id(&id)
            .multipart_upload(completed(done))
            .send()
            .await
            .unwrap();
    let mut concat = Vec::new();
    for p in &parts {
        concat.extend(crc32fast::hash(p).to_be_bytes());
    }
    let composite = format!("{}-2", crc32_b64(&concat));
    assert_eq!(out.checksum_crc32(), Some(composite.as_str()));
    let h = head("composite").await.unwrap();
    assert_eq!(h.checksum_crc32(), Some(composite.as_str()));
    assert_eq!(h.checksum_type(), Some(&ChecksumType::Composite));

    // CRC32 as FULL_OBJECT: the CRC32 of the whole object, combined from
    // the parts' without reading them again.
    let (id, done) = upload_parts(
        &t,
        "full",
        ChecksumAlgorithm::Crc32,
        Some(ChecksumType::FullObject),
        &parts,
    )
    .await;
    t.s3.complete_multipart_upload()
        .bucket("sums")
        .key("full")
        .upload_id(&id)
        .checksum_crc32(crc32_b64(&whole))
        .checksum_type(ChecksumType::FullObject)
        .multipart_upload(completed(done))
        .send()
        .await
        .unwrap();
    let h = head("full").await.unwrap();
    assert_eq!(h.checksum_crc32(), Some(crc32_b64(&whole).as_str()));
    assert_eq!(h.checksum_type(), Some(&ChecksumType::FullObject));

    // CRC64NVME is always full-object.
    let (id, done) = upload_parts(&t, "nvme", ChecksumAlgorithm::Crc64Nvme, None, &parts).await;
    t.s3.complete_multipart_upload()
        .bucket("sums")
        .key("nvme")
        .upload_id(&id)
        .multipart_upload(completed(done))
        .send()
        .await
        .unwrap();
    put_with_crc64(&t, "nvme-whole", &whole).await;
    let expected = head("nvme-whole").await.unwrap();
    let h = head("nvme").await.unwrap();
    assert!(expected.checksum_crc64_nvme().is_some());
    assert_eq!(h.checksum_crc64_nvme(), expected.checksum_crc64_nvme());
    assert_eq!(h.checksum_type(), Some(&ChecksumType::FullObject));

    // A part checksum that is not the part's: InvalidPart, nothing made.
    let (id, mut done) = upload_parts(&t, "bad-part", ChecksumAlgorithm::Crc32, None, &parts).await;
    done[1] = aws_sdk_s3::types::CompletedPart::builder()
        .part_number(2)
        .set_e_tag(done[1].e_tag().map(str::to_owned))
        .checksum_crc32(crc32_b64(b"not this"))
        .build();
    let e =
        t.s3.complete_multipart_upload()
            .bucket("sums")
            .key("bad-part")
            .upload_id(&id)
            .multipart_upload(completed(done.clone()))
            .send()
            .await
            .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("InvalidPart"));

    // A whole-object value that is not the object's: BadDigest.
    let (id, done) = upload_parts(
        &t,
        "bad-whole",
        ChecksumAlgorithm::Crc32,
        Some(ChecksumType::FullObject),
        &parts,
    )
    .await;
    let e =
        t.s3.complete_multipart_upload()
            .bucket("sums")
            .key("bad-whole")
            .upload_id(&id)
            .checksum_crc32(crc32_b64(b"something else"))
            .checksum_type(ChecksumType::FullObject)
            .multipart_upload(completed(done))
            .send()
            .await
            .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("BadDigest"));
    for key in ["bad-part", "bad-whole"] {
        assert!(head(key).await.is_err(), "{key} was created");
    }

    // Combinations S3 refuses.
    let e =
        t.s3.create_multipart_upload()
            .bucket("sums")
            .key("x")
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_type(ChecksumType::FullObject)
            .send()
            .await
            .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("InvalidRequest"));
}

async fn put_with_crc64(t: &TestCluster, key: &str, data: &[u8]) {
    t.s3.put_object()
        .bucket("sums")
        .key(key)
        .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
        .body(data.to_vec().into())
        .send()
        .await
        .unwrap();
}
