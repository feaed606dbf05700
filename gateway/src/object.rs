//! Object operations: PutObject, GetObject, HeadObject, DeleteObject.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::StreamExt;
use metadata::error::MetadataError;
use metadata::model::{ObjectData, ObjectHeaders, ObjectMeta, WriteCondition, now_unix_ms};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::cache_status::{CacheStatus, X_CACHE};
use crate::error::GatewayError;
use crate::manifest_cache::ObjectBody;
use crate::service::Tessera;
use crate::time_format::timestamp;
use crate::upload_body::{IncomingBody, ReceivedBody, declared_checksums};

/// What S3 answers for an object stored without a Content-Type.
const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

impl Tessera {
    pub(crate) async fn handle_put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let bucket = self.owned_bucket(&req, &req.input.bucket).await?;
        crate::bucket_settings::check_object_write_acl!(req.input);
        let incoming = IncomingBody {
            declared: declared_checksums!(req),
            trailers: req.trailing_headers.clone(),
            content_length: req.input.content_length,
            content_md5: None,
            body: None,
        };
        let input = req.input;
        let condition = write_condition(input.if_none_match.as_ref(), input.if_match.as_ref())?;
        let ReceivedBody {
            version,
            written,
            checksums,
        } = self
            .receive_body(
                IncomingBody {
                    body: input.body,
                    content_md5: input.content_md5.as_deref(),
                    ..incoming
                },
                crate::limits::MAX_PUT_SIZE,
                true,
            )
            .await?;

        let meta = ObjectMeta {
            bucket: bucket.name,
            key: input.key,
            version,
            size: written.size,
            etag: hex::encode(written.md5),
            last_modified_unix_ms: now_unix_ms(),
            headers: ObjectHeaders {
                content_type: input.content_type,
                content_encoding: input.content_encoding.and_then(strip_aws_chunked),
                content_disposition: input.content_disposition,
                content_language: input.content_language,
                cache_control: input.cache_control,
                expires: None,
            },
            user_metadata: input
                .metadata
                .map(|m| {
                    m.into_iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), v))
                        .collect()
                })
                .unwrap_or_default(),
            checksums,
            part_sizes: Vec::new(),
            upload_id: None,
        };
        let condition = WriteCondition {
            shards_written_since_unix_ms: Some(written.shards_written_since()),
            bucket_id: Some(bucket.id),
            ..condition
        };
        self.commit_written(&meta, &written.data, &condition)
            .await?;
        tracing::info!(bucket = %meta.bucket, key = ?meta.key, bytes = meta.size, "object stored");
        let sums = crate::checksum::to_output(&meta.checksums);
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(meta.etag)),
            checksum_crc32: sums.checksum_crc32,
            checksum_crc32c: sums.checksum_crc32c,
            checksum_crc64nvme: sums.checksum_crc64nvme,
            checksum_sha1: sums.checksum_sha1,
            checksum_sha256: sums.checksum_sha256,
            checksum_type: sums.checksum_type,
            ..Default::default()
        }))
    }

    pub(crate) async fn handle_get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let bucket = self.readable_bucket(&req, &req.input.bucket).await?;
        let input = req.input;
        let found = self
            .io
            .manifests
            .get(&bucket.name, &input.key)
            .await
            .map_err(|e| self.bucket_error(&bucket.name, e))?;
        let meta = found.meta;
        crate::conditions::ReadConditions {
            if_match: input.if_match.as_ref(),
            if_none_match: input.if_none_match.as_ref(),
            if_modified_since: input.if_modified_since.as_ref(),
            if_unmodified_since: input.if_unmodified_since.as_ref(),
        }
        .check(&meta)?;
        let range = match input.part_number {
            Some(n) => Some(part_span(&meta, n)?).filter(|span| span.start < span.end),
            None => crate::range::resolve(input.range.as_ref(), meta.size)?,
        };
        let span = range.clone().unwrap_or(0..meta.size);
        let sums = checksums_for(&meta, input.checksum_mode.as_ref(), range.is_none());
        let read = self
            .io
            .read_object(found.body.clone(), span.clone())
            .await?;
        if read.misplaced {
            self.io
                .manifests
                .refresh_placement(&bucket.name, &input.key)
                .await;
        }
        if let ObjectBody::Striped(manifest) = &found.body {
            self.io
                .prefetch
                .after_read(&self.io, meta.version, manifest, &span, meta.size);
        }
        let cache = if found.stale {
            CacheStatus::Stale
        } else {
            read.cache
        };
        let h = &meta.headers;
        let output = GetObjectOutput {
            body: Some(StreamingBlob::wrap(read.body)),
            content_length: Some(i64::try_from(span.end - span.start).unwrap_or(i64::MAX)),
            content_range: range.map(|r| crate::range::content_range(&r, meta.size)),
            accept_ranges: Some("bytes".into()),
            e_tag: Some(ETag::Strong(meta.etag.clone())),
            last_modified: Some(timestamp(meta.last_modified_unix_ms)),
            content_type: Some(
                h.content_type
                    .clone()
                    .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
            ),
            content_encoding: h.content_encoding.clone(),
            content_disposition: h.content_disposition.clone(),
            content_language: h.content_language.clone(),
            cache_control: h.cache_control.clone(),
            metadata: user_metadata(&meta),
            parts_count: input.part_number.and(parts_count(&meta)),
            checksum_type: sums.as_ref().and_then(|c| c.checksum_type.clone()),
            checksum_crc32: sums.as_ref().and_then(|c| c.checksum_crc32.clone()),
            checksum_crc32c: sums.as_ref().and_then(|c| c.checksum_crc32c.clone()),
            checksum_crc64nvme: sums.as_ref().and_then(|c| c.checksum_crc64nvme.clone()),
            checksum_sha1: sums.as_ref().and_then(|c| c.checksum_sha1.clone()),
            checksum_sha256: sums.as_ref().and_then(|c| c.checksum_sha256.clone()),
            ..Default::default()
        };
        Ok(with_cache_status(S3Response::new(output), cache))
    }

    pub(crate) async fn handle_head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let bucket = self.readable_bucket(&req, &req.input.bucket).await?;
        let (meta, stale) = self
            .io
            .manifests
            .head(&bucket.name, &req.input.key)
            .await
            .map_err(|e| self.bucket_error(&bucket.name, e))?;
        crate::conditions::ReadConditions {
            if_match: req.input.if_match.as_ref(),
            if_none_match: req.input.if_none_match.as_ref(),
            if_modified_since: req.input.if_modified_since.as_ref(),
            if_unmodified_since: req.input.if_unmodified_since.as_ref(),
        }
        .check(&meta)?;
        let span = match req.input.part_number {
            Some(n) => part_span(&meta, n)?,
            None => 0..meta.size,
        };
        let sums = checksums_for(
            &meta,
            req.input.checksum_mode.as_ref(),
            req.input.part_number.is_none(),
        );
        let h = &meta.headers;
        // A HEAD reads no shards: only a manifest served unconfirmed is not
        // a hit.
        let cache = if stale {
            CacheStatus::Stale
        } else {
            CacheStatus::Hit
        };
        let output = HeadObjectOutput {
            content_length: Some(i64::try_from(span.end - span.start).unwrap_or(i64::MAX)),
            content_range: req
                .input
                .part_number
                .filter(|_| span.start < span.end)
                .map(|_| crate::range::content_range(&span, meta.size)),
            parts_count: req.input.part_number.and(parts_count(&meta)),
            checksum_type: sums.as_ref().and_then(|c| c.checksum_type.clone()),
            checksum_crc32: sums.as_ref().and_then(|c| c.checksum_crc32.clone()),
            checksum_crc32c: sums.as_ref().and_then(|c| c.checksum_crc32c.clone()),
            checksum_crc64nvme: sums.as_ref().and_then(|c| c.checksum_crc64nvme.clone()),
            checksum_sha1: sums.as_ref().and_then(|c| c.checksum_sha1.clone()),
            checksum_sha256: sums.as_ref().and_then(|c| c.checksum_sha256.clone()),
            accept_ranges: Some("bytes".into()),
            e_tag: Some(ETag::Strong(meta.etag.clone())),
            last_modified: Some(timestamp(meta.last_modified_unix_ms)),
            content_type: Some(
                h.content_type
                    .clone()
                    .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
            ),
            content_encoding: h.content_encoding.clone(),
            content_disposition: h.content_disposition.clone(),
            content_language: h.content_language.clone(),
            cache_control: h.cache_control.clone(),
            metadata: user_metadata(&meta),
            ..Default::default()
        };
        Ok(with_cache_status(S3Response::new(output), cache))
    }

    pub(crate) async fn handle_delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let bucket = self.owned_bucket(&req, &req.input.bucket).await?;
        let removed = self
            .io
            .meta
            .delete_object(&bucket.name, &req.input.key)
            .await
            .map_err(|e| self.bucket_error(&bucket.name, e))?;
        if removed.is_some() {
            tracing::info!(bucket = %bucket.name, key = ?req.input.key, "object deleted");
        }
        // S3 answers 204 whether or not the key existed.
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    pub(crate) async fn handle_delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        /// S3 refuses a DeleteObjects request naming more keys than this.
        const MAX_DELETE_KEYS: usize = 1000;
        let bucket = self.owned_bucket(&req, &req.input.bucket).await?;
        let delete = req.input.delete;
        if delete.objects.len() > MAX_DELETE_KEYS {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "The request must contain no more than 1000 keys.",
            ));
        }
        let quiet = delete.quiet.unwrap_or(false);
        let meta = &self.io.meta;
        let name = &bucket.name;
        let results: Vec<(String, Result<(), GatewayError>)> =
            futures::stream::iter(delete.objects.into_iter().map(|o| async move {
                let r = meta.delete_object(name, &o.key).await.map(|_| ());
                (o.key, r.map_err(GatewayError::from))
            }))
            .buffered(16)
            .collect()
            .await;
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for (key, result) in results {
            match result {
                Ok(()) => {
                    if !quiet {
                        deleted.push(DeletedObject {
                            key: Some(key),
                            ..Default::default()
                        });
                    }
                }
                Err(err) => {
                    let s3: S3Error = err.into();
                    errors.push(Error {
                        key: Some(key),
                        code: Some(s3.code().as_str().to_owned()),
                        message: s3.message().map(str::to_owned),
                        version_id: None,
                    });
                }
            }
        }
        tracing::info!(bucket = %bucket.name, deleted = deleted.len(), errors = errors.len(), "objects deleted");
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..Default::default()
        }))
    }

    /// Commits a stored body under `meta`. Only a definite refusal hands the
    /// shards to the collector at once: after a timeout the commit may have
    /// landed, so they are left as they are.
    pub(crate) async fn commit_written(
        &self,
        meta: &ObjectMeta,
        data: &ObjectData,
        condition: &WriteCondition,
    ) -> Result<(), S3Error> {
        if let Err(err) = self.io.meta.commit_object_if(meta, data, condition).await {
            if matches!(
                err,
                MetadataError::NoSuchBucket
                    | MetadataError::InvalidRequest(_)
                    | MetadataError::PreconditionFailed
                    | MetadataError::NoSuchKey
            ) {
                self.discard(data);
            }
            return Err(self.bucket_error(&meta.bucket, err).into());
        }
        Ok(())
    }

    /// Frees the shards of a body that will not be committed.
    pub(crate) fn discard(&self, data: &ObjectData) {
        if let ObjectData::Striped(manifest) = data {
            self.io.discard(&manifest.stripes);
        }
    }
}

/// The precondition of a conditional write. S3 takes `If-None-Match` only as
/// `*` on writes (create, never replace) and `If-Match` as the ETag of the
/// version to replace.
pub(crate) fn write_condition(
    if_none_match: Option<&ETagCondition>,
    if_match: Option<&ETagCondition>,
) -> Result<WriteCondition, S3Error> {
    let if_none_match_any = match if_none_match {
        None => false,
        Some(c) if c.is_any() => true,
        Some(_) => {
            return Err(S3Error::with_message(
                S3ErrorCode::NotImplemented,
                "If-None-Match on a write accepts only '*'.",
            ));
        }
    };
    let if_match = if_match.and_then(|c| c.as_etag().map(|e| e.value().to_owned()));
    Ok(WriteCondition {
        if_none_match_any,
        if_match,
        ..WriteCondition::default()
    })
}

/// Says in the response what the caches did, and counts it.
fn with_cache_status<T>(mut response: S3Response<T>, status: CacheStatus) -> S3Response<T> {
    metrics::counter!("cache_responses_total", "x_cache" => status.as_str()).increment(1);
    response.headers.insert(
        http::HeaderName::from_static(X_CACHE),
        http::HeaderValue::from_static(status.as_str()),
    );
    response
}

/// `x-amz-meta-*` as stored: names lowercased.
pub(crate) fn user_metadata_of(metadata: Option<Metadata>) -> BTreeMap<String, String> {
    metadata
        .map(|m| {
            m.into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect()
        })
        .unwrap_or_default()
}

/// The 16-byte digest of a `Content-MD5` header (`InvalidDigest` if malformed).
pub(crate) fn parse_content_md5(header: Option<&str>) -> Result<Option<Vec<u8>>, S3Error> {
    header
        .map(|b64| {
            BASE64
                .decode(b64.trim())
                .ok()
                .filter(|d| d.len() == 16)
                .ok_or_else(|| {
                    S3Error::with_message(
                        S3ErrorCode::InvalidDigest,
                        "The Content-MD5 you specified is not valid.",
                    )
                })
        })
        .transpose()
}

/// The byte span of part `n` (1-based) of an object. A single-part upload
/// (or a plain PUT) has exactly one part: the whole object.
fn part_span(meta: &ObjectMeta, n: i32) -> Result<std::ops::Range<u64>, S3Error> {
    let invalid = || {
        // Not in s3s's list of codes: S3 answers it with 416.
        let code = "InvalidPartNumber"
            .parse::<S3ErrorCode>()
            .unwrap_or(S3ErrorCode::InvalidArgument);
        let mut e = S3Error::with_message(code, "The requested partnumber is not satisfiable");
        e.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
        e
    };
    let index = usize::try_from(n)
        .ok()
        .filter(|&i| i >= 1)
        .ok_or_else(invalid)?
        - 1;
    if meta.part_sizes.is_empty() {
        return if index == 0 {
            Ok(0..meta.size)
        } else {
            Err(invalid())
        };
    }
    let size = *meta.part_sizes.get(index).ok_or_else(invalid)?;
    let start: u64 = meta.part_sizes[..index].iter().sum();
    Ok(start..start + size)
}

/// The stored checksums, when the client asked for them and the response
/// carries the whole object (S3 returns none for ranges).
fn checksums_for(meta: &ObjectMeta, mode: Option<&ChecksumMode>, whole: bool) -> Option<Checksum> {
    let enabled = mode.is_some_and(|m| m.as_str().eq_ignore_ascii_case(ChecksumMode::ENABLED));
    (enabled && whole && !meta.checksums.is_empty())
        .then(|| crate::checksum::to_output(&meta.checksums))
}

fn parts_count(meta: &ObjectMeta) -> Option<i32> {
    (!meta.part_sizes.is_empty()).then(|| i32::try_from(meta.part_sizes.len()).unwrap_or(i32::MAX))
}

fn user_metadata(meta: &ObjectMeta) -> Option<Metadata> {
    (!meta.user_metadata.is_empty()).then(|| {
        meta.user_metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    })
}

/// `aws-chunked` describes how the request body was framed, not the object:
/// it must never be stored as the object's Content-Encoding.
pub(crate) fn strip_aws_chunked(encoding: String) -> Option<String> {
    let kept: Vec<&str> = encoding
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!kept.is_empty()).then(|| kept.join(", "))
}

#[cfg(test)]
mod tests {
    use super::strip_aws_chunked;

    #[test]
    fn aws_chunked_is_never_stored() {
        assert_eq!(strip_aws_chunked("aws-chunked".into()), None);
        assert_eq!(
            strip_aws_chunked("aws-chunked, gzip".into()),
            Some("gzip".into())
        );
        assert_eq!(strip_aws_chunked("gzip".into()), Some("gzip".into()));
    }
}
