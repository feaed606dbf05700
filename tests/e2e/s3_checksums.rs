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
