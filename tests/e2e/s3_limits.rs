//! S3's size limits, without moving gigabytes: uploads that declare more
//! than a PUT or a part may hold are refused before their body is sent,
//! and copies and completions over the limits are refused on the sizes
//! metadata records (objects and parts recorded with made-up shards, which
//! nothing reads because the request is refused first).

use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use metadata::ids::{NodeId, ShardHash, VersionId};
use metadata::model::{
    ErasureCode, Manifest, ObjectData, ObjectMeta, PartRecord, ShardRef, Stripe, now_unix_ms,
};

use crate::harness::TestCluster;
use crate::raw_chunked::{ChunkedPut, Ending, RawReply, Streaming, send_raw};
use crate::raw_sigv4::RawClient;
use crate::s3_raw_streaming::{assert_absent, put_chunked};

/// 5 GiB: the most one PUT, one part or one copy source may hold.
const FIVE_GIB: u64 = 5 << 30;

/// A PUT of `path?query` declaring `content_length` bytes, of which only a
/// kilobyte is sent: an answer to one declaring more can only come before
/// the body.
async fn put_declaring(raw: &RawClient, path: &str, query: &str, content_length: u64) -> RawReply {
    let signed = raw.signer.sign_request(
        "PUT",
        &raw.host,
        path,
        query,
        vec![
            ("content-length".to_owned(), content_length.to_string()),
            ("connection".to_owned(), "close".to_owned()),
        ],
        "UNSIGNED-PAYLOAD",
        time::OffsetDateTime::now_utc(),
    );
    let target = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    send_raw(
        &raw.host,
        "PUT",
        &target,
        &signed.headers,
        &[0u8; 1024],
        Ending::Wait,
    )
    .await
}

#[track_caller]
fn assert_too_large(reply: &RawReply) {
    assert!(
        reply.status == Some(400) && reply.text.contains("<Code>EntityTooLarge</Code>"),
        "{:?} {}",
        reply.status,
        reply.text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_declaring_more_than_5_gib_are_refused_before_their_body() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("limits").send().await.unwrap();
    let raw = RawClient::new(&t.cluster.s3_endpoint());

    // PutObject, by Content-Length.
    assert_too_large(&put_declaring(&raw, "/limits/huge", "", FIVE_GIB + 1).await);
    assert_absent(&t, "limits", "huge").await;

    // PutObject, by the decoded length of an aws-chunked body.
    for mode in [Streaming::Signed, Streaming::UnsignedTrailer] {
        let key = format!("chunked-{mode:?}");
        let data = vec![7u8; 1000];
        let mut req = ChunkedPut::new(mode, &format!("/limits/{key}"), vec![data.clone()]);
        if mode == Streaming::UnsignedTrailer {
            let crc = BASE64.encode(crc32fast::hash(&data).to_be_bytes());
            req = req.with_trailer("x-amz-checksum-crc32", &crc);
        }
        req.decoded_length = Some(usize::try_from(FIVE_GIB + 1).unwrap());
        let reply = tokio::time::timeout(Duration::from_secs(15), put_chunked(&raw, &req))
            .await
            .expect("answered without the body");
        reply.assert_error(400, "EntityTooLarge");
        assert_absent(&t, "limits", &key).await;
    }

    // UploadPart.
    let up =
        t.s3.create_multipart_upload()
            .bucket("limits")
            .key("big")
            .send()
            .await
            .unwrap();
    let id = up.upload_id().unwrap();
    let query = format!("partNumber=1&uploadId={id}");
    assert_too_large(&put_declaring(&raw, "/limits/big", &query, FIVE_GIB + 1).await);
    let parts =
        t.s3.list_parts()
            .bucket("limits")
            .key("big")
            .upload_id(id)
            .send()
            .await
            .unwrap();
    assert!(parts.parts().is_empty());

    // The same requests declaring what they send go through.
    let reply = put_declaring(&raw, "/limits/small", "", 1024).await;
    assert_eq!(reply.status, Some(200), "{}", reply.text);
    let reply = put_declaring(&raw, "/limits/big", &query, 1024).await;
    assert_eq!(reply.status, Some(200), "{}", reply.text);
}

/// Data of `size` bytes in stripes of made-up shards: what metadata would
/// hold for an object or part that large, without its bytes anywhere.
fn made_up_data(size: u64, seed: &str) -> ObjectData {
    const STRIPE: u64 = 8 << 30;
    let code = ErasureCode { data: 4, parity: 2 };
    let node: NodeId = "node-1".parse().unwrap();
    let stripes = (0..size.div_ceil(STRIPE))
        .map(|i| Stripe {
            data_len: STRIPE.min(size - i * STRIPE),
            shard_len: 2 << 30,
            shards: (0..6)
                .map(|s| ShardRef {
                    hash: ShardHash::of(format!("{seed}/{i}/{s}").as_bytes()),
                    node: node.clone(),
                })
                .collect(),
        })
        .collect();
    ObjectData::Striped(Manifest { code, stripes })
}

fn code_of<E: ProvideErrorMetadata>(e: E) -> (Option<String>, Option<String>) {
    (e.code().map(str::to_owned), e.message().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread")]
async fn copies_over_5_gib_and_objects_over_5_tib_are_refused() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("limits").send().await.unwrap();
    let bucket = "limits".parse().unwrap();
    let meta = t.metadata();
    let too_big_to_copy = FIVE_GIB + 1;
    let source = ObjectMeta {
        bucket: "limits".parse().unwrap(),
        key: "source".into(),
        version: VersionId::new(),
        size: too_big_to_copy,
        etag: tests::md5_hex(b"source"),
        last_modified_unix_ms: now_unix_ms(),
        headers: Default::default(),
        user_metadata: Default::default(),
        checksums: Default::default(),
        part_sizes: Vec::new(),
        upload_id: None,
    };
    meta.commit_object(&source, &made_up_data(too_big_to_copy, "source"))
        .await
        .unwrap();
    let expected = (
        Some("InvalidRequest".to_owned()),
        Some(
            "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120"
                .to_owned(),
        ),
    );

    // CopyObject.
    let e =
        t.s3.copy_object()
            .bucket("limits")
            .key("copy")
            .copy_source("limits/source")
            .send()
            .await
            .unwrap_err();
    assert_eq!(code_of(e.into_service_error()), expected);
    assert_absent(&t, "limits", "copy").await;

    // UploadPartCopy of the whole source, and of a range one byte too long.
    let up =
        t.s3.create_multipart_upload()
            .bucket("limits")
            .key("assembled")
            .send()
            .await
            .unwrap();
    let id = up.upload_id().unwrap();
    for range in [None, Some(format!("bytes=0-{FIVE_GIB}"))] {
        let e =
            t.s3.upload_part_copy()
                .bucket("limits")
                .key("assembled")
                .upload_id(id)
                .part_number(1)
                .copy_source("limits/source")
                .set_copy_source_range(range.clone())
                .send()
                .await
                .unwrap_err();
        assert_eq!(code_of(e.into_service_error()), expected, "{range:?}");
    }

    // CompleteMultipartUpload of parts adding up to a byte over 5 TiB.
    let upload_id = id.parse().unwrap();
    let half = (5u64 << 40) / 2;
    let mut listed = Vec::new();
    for (n, size) in [(1, half), (2, half + 1)] {
        let part = PartRecord {
            part_number: n,
            version: VersionId::new(),
            size,
            etag: tests::md5_hex(format!("part {n}").as_bytes()),
            last_modified_unix_ms: now_unix_ms(),
            checksums: Default::default(),
            shards_written_since_unix_ms: None,
        };
        meta.commit_part(
            &bucket,
            "assembled",
            &upload_id,
            &part,
            &made_up_data(size, &format!("part {n}")),
            None,
        )
        .await
        .unwrap();
        listed.push(
            CompletedPart::builder()
                .part_number(i32::try_from(n).unwrap())
                .e_tag(format!("\"{}\"", part.etag))
                .build(),
        );
    }
    let e =
        t.s3.complete_multipart_upload()
            .bucket("limits")
            .key("assembled")
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(listed))
                    .build(),
            )
            .send()
            .await
            .unwrap_err();
    assert_eq!(
        e.into_service_error().code(),
        Some("EntityTooLarge"),
        "CompleteMultipartUpload"
    );
    assert_absent(&t, "limits", "assembled").await;
}
