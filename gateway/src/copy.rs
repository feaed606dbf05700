//! CopyObject. The source is streamed through the striped reader into the
//! striped writer, a few stripes at a time: a large copy never passes through
//! memory whole, and the copy gets a manifest and placement of its own.
//! Shards are content-addressed, so a copy's shard can land on a node that
//! already holds the identical source shard (one file, named twice): garbage
//! collection must count references per node and hash, never per manifest.

use futures::StreamExt;
use metadata::ids::VersionId;
use metadata::model::{
    BucketInfo, ObjectData, ObjectHeaders, ObjectMeta, PartRecord, WriteCondition, now_unix_ms,
};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::access::parse_bucket;
use crate::conditions::ReadConditions;
use crate::error::GatewayError;
use crate::limits::{MAX_COPY_SOURCE_SIZE, UploadLength, check_copy_source};
use crate::object::{strip_aws_chunked, user_metadata_of};
use crate::service::Tessera;
use crate::time_format::timestamp;

type CopyConditions<'a> = ReadConditions<'a>;

/// The `x-amz-copy-source-if-*` preconditions of a CopyObject or
/// UploadPartCopy request (both inputs carry the same four fields).
macro_rules! copy_conditions {
    ($req:expr) => {
        CopyConditions {
            if_match: $req.input.copy_source_if_match.as_ref(),
            if_none_match: $req.input.copy_source_if_none_match.as_ref(),
            if_modified_since: $req.input.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: $req.input.copy_source_if_unmodified_since.as_ref(),
        }
    };
}

impl Tessera {
    pub(crate) async fn handle_copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let dest = self.owned_bucket(&req, &req.input.bucket).await?;
        crate::bucket_settings::check_object_write_acl!(req.input);
        let (source_bucket, src_key, src, data) = self
            .copy_source(&req, &req.input.copy_source, copy_conditions!(req))
            .await?;
        check_copy_source(src.size)?;
        let input = req.input;

        let replace = input
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str().eq_ignore_ascii_case(MetadataDirective::REPLACE));
        if !replace && source_bucket.name == dest.name && src_key == input.key {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
            ));
        }
        let (headers, user_metadata) = if replace {
            (
                ObjectHeaders {
                    content_type: input.content_type,
                    content_encoding: input.content_encoding.and_then(strip_aws_chunked),
                    content_disposition: input.content_disposition,
                    content_language: input.content_language,
                    cache_control: input.cache_control,
                    expires: None,
                },
                user_metadata_of(input.metadata),
            )
        } else {
            (src.headers.clone(), src.user_metadata.clone())
        };

        let body = self
            .io
            .read_object(data.into(), 0..src.size)
            .await?
            .body
            .map(|chunk| chunk.map_err(|e| Box::new(e) as s3s::StdError));
        let version = VersionId::new();
        let written = self
            .io
            .write_object(
                body,
                UploadLength::new(Some(src.size), MAX_COPY_SOURCE_SIZE)?,
                true,
                None,
            )
            .await?;
        if written.md5 != md5_of(&src) {
            // The source's ETag is its MD5 unless it was a multipart upload;
            // a single-part source that reads back differently is a fault.
            if !src.etag.contains('-') {
                self.discard(&written.data);
                return Err(
                    GatewayError::Internal("copied bytes differ from the source".into()).into(),
                );
            }
        }
        let meta = ObjectMeta {
            bucket: dest.name.clone(),
            key: input.key.clone(),
            version,
            size: written.size,
            etag: hex::encode(written.md5),
            last_modified_unix_ms: now_unix_ms(),
            headers,
            user_metadata,
            // Same bytes, same full-object checksums; a multipart source's
            // are per part and do not carry over.
            checksums: if src.part_sizes.is_empty() {
                src.checksums.clone()
            } else {
                Default::default()
            },
            part_sizes: Vec::new(),
            upload_id: None,
        };
        let condition = WriteCondition {
            shards_written_since_unix_ms: Some(written.shards_written_since()),
            bucket_id: Some(dest.id),
            ..WriteCondition::default()
        };
        self.commit_written(&meta, &written.data, &condition)
            .await?;
        tracing::info!(from = ?format!("{}/{}", source_bucket.name, src_key), to = ?format!("{}/{}", meta.bucket, meta.key), bytes = meta.size, "object copied");
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(ETag::Strong(meta.etag)),
                last_modified: Some(timestamp(meta.last_modified_unix_ms)),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }
}

impl Tessera {
    /// Resolves `x-amz-copy-source` to an object the caller may read, and
    /// checks the `x-amz-copy-source-if-*` preconditions (every failure is a
    /// 412 for copies).
    async fn copy_source<T>(
        &self,
        req: &S3Request<T>,
        source: &CopySource,
        conditions: CopyConditions<'_>,
    ) -> Result<(BucketInfo, String, ObjectMeta, ObjectData), S3Error> {
        let (src_bucket, src_key) = match source {
            CopySource::Bucket {
                bucket,
                key,
                version_id,
            } => {
                if version_id.as_deref().is_some_and(|v| v != "null") {
                    return Err(S3Error::with_message(
                        S3ErrorCode::NoSuchVersion,
                        "The specified version does not exist.",
                    ));
                }
                (bucket.to_string(), key.to_string())
            }
            CopySource::AccessPoint { .. } | CopySource::Outpost { .. } => {
                return Err(S3Error::with_message(
                    S3ErrorCode::NotImplemented,
                    "Access point and Outposts copy sources are not supported.",
                ));
            }
        };
        parse_bucket(&src_bucket)?;
        let source_bucket = self.owned_bucket(req, &src_bucket).await?;
        let (src, data) = self
            .io
            .meta
            .get_object(&source_bucket.name, &src_key)
            .await
            .map_err(|e| self.bucket_error(&source_bucket.name, e))?;
        conditions.check(&src).map_err(|e| {
            if *e.code() == S3ErrorCode::NotModified {
                S3Error::with_message(
                    S3ErrorCode::PreconditionFailed,
                    "At least one of the preconditions you specified did not hold.",
                )
            } else {
                e
            }
        })?;
        Ok((source_bucket, src_key, src, data))
    }

    pub(crate) async fn handle_upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let dest = self.owned_bucket(&req, &req.input.bucket).await?;
        let part_number = crate::multipart::part_number(req.input.part_number)?;
        let upload_id = crate::multipart::parse_upload_id(&req.input.upload_id)?;
        let upload = self
            .io
            .meta
            .get_upload(&dest.name, &req.input.key, &upload_id)
            .await
            .map_err(|e| self.bucket_error(&dest.name, e))?;
        // The part gets the upload's checksum, computed as the bytes pass.
        let declared = crate::checksum::DeclaredChecksums {
            requested: crate::multipart::part_algorithm(&upload, None)?,
            ..Default::default()
        };
        let (_, _, src, data) = self
            .copy_source(&req, &req.input.copy_source, copy_conditions!(req))
            .await?;
        let span = match req.input.copy_source_range.as_deref() {
            None => 0..src.size,
            Some(r) => copy_source_range(r, src.size)?,
        };
        let len = span.end - span.start;
        check_copy_source(len)?;
        let body = self
            .io
            .read_object(data.into(), span)
            .await?
            .body
            .map(|chunk| chunk.map_err(|e| Box::new(e) as s3s::StdError));
        let version = VersionId::new();
        let written = self
            .io
            .write_object(
                body,
                UploadLength::new(Some(len), MAX_COPY_SOURCE_SIZE)?,
                false,
                declared.hasher(),
            )
            .await?;
        let checksums = match declared.verify(written.checksums.as_ref(), None) {
            Ok(checksums) => checksums,
            Err(e) => {
                self.discard(&written.data);
                return Err(e);
            }
        };
        let part = PartRecord {
            part_number,
            version,
            size: written.size,
            etag: hex::encode(written.md5),
            last_modified_unix_ms: now_unix_ms(),
            checksums,
            shards_written_since_unix_ms: Some(written.shards_written_since()),
        };
        self.commit_written_part(&dest, &req.input.key, &upload_id, &part, &written.data)
            .await?;
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(ETag::Strong(part.etag)),
                last_modified: Some(timestamp(part.last_modified_unix_ms)),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }
}

/// `x-amz-copy-source-range: bytes=first-last`, both given, within the source.
pub(crate) fn copy_source_range(header: &str, size: u64) -> Result<std::ops::Range<u64>, S3Error> {
    let malformed = || {
        S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
        )
    };
    let spec = header.trim().strip_prefix("bytes=").ok_or_else(malformed)?;
    let (a, b) = spec.split_once('-').ok_or_else(malformed)?;
    let first: u64 = a.parse().map_err(|_| malformed())?;
    let last: u64 = b.parse().map_err(|_| malformed())?;
    if first > last {
        return Err(malformed());
    }
    if last >= size {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRange,
            "The requested range is not satisfiable",
        ));
    }
    Ok(first..last + 1)
}

fn md5_of(meta: &ObjectMeta) -> [u8; 16] {
    let mut out = [0u8; 16];
    let _ = hex::decode_to_slice(&meta.etag, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::copy_source_range;

    #[test]
    fn copy_source_ranges() {
        assert_eq!(copy_source_range("bytes=0-9", 10).unwrap(), 0..10);
        assert_eq!(copy_source_range("bytes=5-5", 10).unwrap(), 5..6);
        for bad in ["bytes=5-", "bytes=-5", "5-6", "bytes=6-5", "bytes=a-b"] {
            assert_eq!(
                copy_source_range(bad, 10).unwrap_err().code(),
                &s3s::S3ErrorCode::InvalidArgument,
                "{bad}"
            );
        }
        assert_eq!(
            copy_source_range("bytes=0-10", 10).unwrap_err().code(),
            &s3s::S3ErrorCode::InvalidRange
        );
    }
}
