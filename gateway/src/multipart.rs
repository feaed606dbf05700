//! Multipart uploads: CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
//! AbortMultipartUpload, ListParts, ListMultipartUploads.
//!
//! Each part is striped as it arrives, exactly like a PutObject body (never
//! inline, so parts can be joined), and recorded in metadata under the upload.
//! Completing joins the listed parts' stripes into one manifest in a single
//! metadata transaction: no byte moves, and readers see the old object or the
//! whole new one.

use md5::{Digest, Md5};
use metadata::error::MetadataError;
use metadata::ids::{BucketName, UploadId, VersionId};
use metadata::model::{
    BucketInfo, CompleteRequest, MultipartUpload as UploadRecord, ObjectData, ObjectHeaders,
    ObjectMeta, PartRecord, UploadsQuery, WriteCondition, now_unix_ms,
};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::error::GatewayError;
use crate::multipart_checksum::UploadChecksum;
use crate::object::{strip_aws_chunked, user_metadata_of};
use crate::service::Tessera;
use crate::time_format::timestamp;
use crate::upload_body::{IncomingBody, ReceivedBody, declared_checksums};

/// S3's part numbers run from 1 to 10,000.
const MAX_PART_NUMBER: i32 = 10_000;
/// Most parts or uploads in one listing page.
const MAX_PAGE: i32 = 1000;

/// A part number as S3 accepts it: 1 to 10,000.
pub(crate) fn part_number(n: i32) -> Result<u32, S3Error> {
    if !(1..=MAX_PART_NUMBER).contains(&n) {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive.",
        ));
    }
    Ok(u32::try_from(n).unwrap_or(1))
}

pub(crate) fn parse_upload_id(id: &str) -> Result<UploadId, S3Error> {
    id.parse().map_err(|_| {
        S3Error::with_message(
            S3ErrorCode::NoSuchUpload,
            "The specified upload does not exist.",
        )
    })
}

fn page_size(requested: Option<i32>, what: &str) -> Result<u32, S3Error> {
    match requested {
        Some(n) if n < 0 => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("{what} must be a non-negative integer."),
        )),
        Some(n) => Ok(u32::try_from(n.min(MAX_PAGE)).unwrap_or(0)),
        None => Ok(MAX_PAGE as u32),
    }
}

/// An upload's owner, who is also its initiator (there are no delegated
/// uploads here).
fn owner_and_initiator(access_key: &str) -> (Owner, Initiator) {
    let name = || Some(access_key.to_owned());
    (
        Owner {
            display_name: name(),
            id: name(),
        },
        Initiator {
            display_name: name(),
            id: name(),
        },
    )
}

/// The multipart ETag: MD5 of the parts' binary MD5s, then `-<count>`.
pub fn multipart_etag(part_etags: &[String]) -> Result<String, GatewayError> {
    let mut hasher = Md5::new();
    for etag in part_etags {
        let mut md5 = [0u8; 16];
        hex::decode_to_slice(etag, &mut md5)
            .map_err(|_| GatewayError::Metadata(MetadataError::InvalidPart))?;
        hasher.update(md5);
    }
    Ok(format!(
        "{}-{}",
        hex::encode(hasher.finalize()),
        part_etags.len()
    ))
}

/// The algorithm a part of `upload` is checksummed with: the upload's, when
/// it has one (every part needs it for the object's checksum). A part that
/// asks for another is refused, as S3 refuses it.
pub(crate) fn part_algorithm(
    upload: &UploadRecord,
    requested: Option<&'static str>,
) -> Result<Option<&'static str>, S3Error> {
    let Some(c) = UploadChecksum::from_record(
        upload.checksum_algorithm.as_deref(),
        upload.checksum_type.as_deref(),
    ) else {
        return Ok(requested);
    };
    match requested {
        Some(other) if other != c.algorithm => Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            format!(
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {other}",
                c.algorithm
            ),
        )),
        _ => Ok(Some(c.algorithm)),
    }
}

/// A part checksum listed in CompleteMultipartUpload must be the one the
/// part was stored with.
fn check_listed_checksums(listed: &CompletedPart, record: &PartRecord) -> Result<(), S3Error> {
    let given = [
        ("crc32", &listed.checksum_crc32),
        ("crc32c", &listed.checksum_crc32c),
        ("crc64nvme", &listed.checksum_crc64nvme),
        ("sha1", &listed.checksum_sha1),
        ("sha256", &listed.checksum_sha256),
    ];
    for (algorithm, value) in given {
        if let Some(value) = value
            && record.checksums.get(algorithm) != Some(value)
        {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidPart,
                format!(
                    "The {} checksum of part {} does not match the part's.",
                    algorithm.to_ascii_uppercase(),
                    record.part_number
                ),
            ));
        }
    }
    Ok(())
}

/// CompleteMultipartUpload's answer, from the object it made: the same for
/// the first request and for any repeat of it.
fn completion_output(object: &ObjectMeta) -> CompleteMultipartUploadOutput {
    let sums = crate::checksum::to_output(&object.checksums);
    CompleteMultipartUploadOutput {
        bucket: Some(object.bucket.to_string()),
        key: Some(object.key.clone()),
        e_tag: Some(ETag::Strong(object.etag.clone())),
        location: Some(format!("/{}/{}", object.bucket, object.key)),
        checksum_crc32: sums.checksum_crc32,
        checksum_crc32c: sums.checksum_crc32c,
        checksum_crc64nvme: sums.checksum_crc64nvme,
        checksum_sha1: sums.checksum_sha1,
        checksum_sha256: sums.checksum_sha256,
        checksum_type: sums.checksum_type,
        ..Default::default()
    }
}

/// The whole-object checksums a completion declares.
fn completion_checksums(input: &CompleteMultipartUploadInput) -> Checksum {
    Checksum {
        checksum_crc32: input.checksum_crc32.clone(),
        checksum_crc32c: input.checksum_crc32c.clone(),
        checksum_crc64nvme: input.checksum_crc64nvme.clone(),
        checksum_sha1: input.checksum_sha1.clone(),
        checksum_sha256: input.checksum_sha256.clone(),
        checksum_type: None,
    }
}

impl Tessera {
    pub(crate) async fn handle_create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let bucket = self.owned_bucket(&req, &req.input.bucket).await?;
        crate::bucket_settings::check_object_write_acl!(req.input);
        let owner = crate::access::caller(&req)?.to_owned();
        let input = req.input;
        let checksum = UploadChecksum::from_request(
            input.checksum_algorithm.as_ref(),
            input.checksum_type.as_ref(),
        )?;
        let upload = UploadRecord {
            bucket: bucket.name.clone(),
            key: input.key.clone(),
            upload_id: UploadId::new(),
            owner,
            initiated_unix_ms: now_unix_ms(),
            headers: ObjectHeaders {
                content_type: input.content_type,
                content_encoding: input.content_encoding.and_then(strip_aws_chunked),
                content_disposition: input.content_disposition,
                content_language: input.content_language,
                cache_control: input.cache_control,
                expires: None,
            },
            user_metadata: user_metadata_of(input.metadata),
            checksum_algorithm: input.checksum_algorithm.map(|a| a.as_str().to_owned()),
            checksum_type: checksum.map(|c| c.type_name().to_owned()),
            bucket_id: Some(bucket.id),
        };
        self.io
            .meta
            .create_upload(&upload)
            .await
            .map_err(|e| self.bucket_error(&bucket.name, e))?;
        tracing::info!(bucket = %bucket.name, key = ?upload.key, upload_id = %upload.upload_id, "multipart upload created");
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(bucket.name.to_string()),
            key: Some(upload.key),
            upload_id: Some(upload.upload_id.to_string()),
            checksum_algorithm: upload.checksum_algorithm.map(ChecksumAlgorithm::from),
            checksum_type: upload.checksum_type.map(ChecksumType::from),
            ..Default::default()
        }))
    }

    pub(crate) async fn handle_upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let bucket = self.owned_bucket(&req, &req.input.bucket).await?;
        let mut incoming = IncomingBody {
            declared: declared_checksums!(req),
            trailers: req.trailing_headers.clone(),
            content_length: req.input.content_length,
            content_md5: None,
            body: None,
        };
        let input = req.input;
        let part_number = part_number(input.part_number)?;
        let upload_id = parse_upload_id(&input.upload_id)?;
        // Refuse before reading a byte of the body when the upload is unknown.
        let upload = self
            .io
            .meta
            .get_upload(&bucket.name, &input.key, &upload_id)
            .await
            .map_err(|e| self.bucket_error(&bucket.name, e))?;
        incoming.declared.requested = part_algorithm(&upload, incoming.declared.requested)?;
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
                crate::limits::MAX_PART_SIZE,
                false,
            )
            .await?;
        let part = PartRecord {
            part_number,
            version,
            size: written.size,
            etag: hex::encode(written.md5),
            last_modified_unix_ms: now_unix_ms(),
            checksums,
            shards_written_since_unix_ms: Some(written.shards_written_since()),
        };
        self.commit_written_part(&bucket, &input.key, &upload_id, &part, &written.data)
            .await?;
        tracing::debug!(bucket = %bucket.name, key = ?input.key, part_number, bytes = part.size, "part stored");
        let sums = crate::checksum::to_output(&part.checksums);
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(part.etag)),
            checksum_crc32: sums.checksum_crc32,
            checksum_crc32c: sums.checksum_crc32c,
            checksum_crc64nvme: sums.checksum_crc64nvme,
            checksum_sha1: sums.checksum_sha1,
            checksum_sha256: sums.checksum_sha256,
            ..Default::default()
        }))
    }

    /// Records a stored part under its upload, in the bucket the request
    /// checked (`bucket`, which metadata compares with the bucket at
    /// commit). As for objects, only a definite refusal frees the part's
    /// shards at once.
    pub(crate) async fn commit_written_part(
        &self,
        bucket: &BucketInfo,
        key: &str,
        upload_id: &UploadId,
        part: &PartRecord,
        data: &ObjectData,
    ) -> Result<(), S3Error> {
        if let Err(err) = self
            .io
            .meta
            .commit_part(&bucket.name, key, upload_id, part, data, Some(bucket.id))
            .await
        {
            if matches!(
                err,
                MetadataError::NoSuchUpload
                    | MetadataError::NoSuchBucket
                    | MetadataError::InvalidRequest(_)
            ) {
                self.discard(data);
            }
            return Err(self.bucket_error(&bucket.name, err).into());
        }
        Ok(())
    }

    pub(crate) async fn handle_complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let bucket = self.owned_bucket(&req, &req.input.bucket).await?;
        let input = req.input;
        let upload_id = parse_upload_id(&input.upload_id)?;
        let condition = WriteCondition {
            bucket_id: Some(bucket.id),
            ..crate::object::write_condition(input.if_none_match.as_ref(), input.if_match.as_ref())?
        };

        let declared_sums = completion_checksums(&input);
        let listed = input
            .multipart_upload
            .and_then(|m| m.parts)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                S3Error::with_message(
                    S3ErrorCode::MalformedXML,
                    "The XML you provided was not well-formed or did not validate against our published schema.",
                )
            })?;
        let mut parts: Vec<(u32, String)> = Vec::with_capacity(listed.len());
        for p in &listed {
            let number = p
                .part_number
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| GatewayError::Metadata(MetadataError::InvalidPart))?;
            let etag = p
                .e_tag
                .as_ref()
                .map(|e| e.value().trim_matches('"').to_ascii_lowercase())
                .ok_or_else(|| GatewayError::Metadata(MetadataError::InvalidPart))?;
            parts.push((number, etag));
        }
        if parts.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(GatewayError::Metadata(MetadataError::InvalidPartOrder).into());
        }
        let etags: Vec<String> = parts.iter().map(|(_, e)| e.clone()).collect();
        let etag = multipart_etag(&etags)?;
        let upload = match self
            .io
            .meta
            .get_upload(&bucket.name, &input.key, &upload_id)
            .await
        {
            Ok(upload) => upload,
            Err(MetadataError::NoSuchUpload) => {
                return self
                    .completed_before(&bucket.name, &input.key, &upload_id, &etag)
                    .await;
            }
            Err(e) => return Err(self.bucket_error(&bucket.name, e).into()),
        };

        let checksum = UploadChecksum::from_record(
            upload.checksum_algorithm.as_deref(),
            upload.checksum_type.as_deref(),
        );
        if let (Some(asked), Some(c)) = (&input.checksum_type, checksum)
            && asked.as_str() != c.type_name()
        {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                format!(
                    "The upload was created for the {} checksum type, not {}.",
                    c.type_name(),
                    asked.as_str()
                ),
            ));
        }
        let records = self.listed_parts(&upload, &parts).await?;
        let size = records.iter().map(|p| p.size).sum();
        crate::limits::check_object_size(size)?;
        for (listed, record) in listed.iter().zip(&records) {
            check_listed_checksums(listed, record)?;
        }
        let mut checksums = std::collections::BTreeMap::new();
        if let Some(c) = checksum {
            let value = c.object_value(&records)?;
            let declared = crate::checksum::value_of(&declared_sums, c.algorithm);
            if let Some(declared) = declared
                && declared.split('-').next() != value.split('-').next()
            {
                return Err(S3Error::with_message(
                    S3ErrorCode::BadDigest,
                    format!(
                        "The {} you specified for the object did not match the one calculated from its parts.",
                        c.algorithm.to_ascii_uppercase()
                    ),
                ));
            }
            checksums.insert(c.algorithm.to_owned(), value);
        }
        let object = ObjectMeta {
            bucket: bucket.name.clone(),
            key: input.key.clone(),
            version: VersionId::new(),
            size,
            etag: etag.clone(),
            last_modified_unix_ms: now_unix_ms(),
            headers: upload.headers.clone(),
            user_metadata: upload.user_metadata.clone(),
            checksums,
            part_sizes: Vec::new(),
            upload_id: None,
        };
        let output = completion_output(&object);
        let completed = self
            .io
            .meta
            .complete_upload(&CompleteRequest {
                upload_id,
                object,
                parts,
                min_part_size: crate::limits::MIN_PART_SIZE,
                condition,
            })
            .await;
        match completed {
            Ok(_) => {}
            // Another completion of this upload (the same request sent
            // twice at once) committed first.
            Err(MetadataError::NoSuchUpload) => {
                return self
                    .completed_before(&bucket.name, &input.key, &upload_id, &etag)
                    .await;
            }
            Err(e) => return Err(self.bucket_error(&bucket.name, e).into()),
        }
        tracing::info!(bucket = %bucket.name, key = ?input.key, bytes = size, parts = etags.len(), "multipart upload completed");
        Ok(S3Response::new(output))
    }

    /// CompleteMultipartUpload of an upload that is gone. If the key's
    /// current version is what completing this upload made, with the ETag
    /// the request's part list gives (`etag`), the request repeats one that
    /// succeeded (a client that lost the answer retries) and gets the same
    /// answer, as S3 gives it. A completion listing other parts is no
    /// repeat; and once that version is replaced or deleted, the upload is
    /// simply unknown: `NoSuchUpload`.
    async fn completed_before(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &UploadId,
        etag: &str,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        match self.io.meta.head_object(bucket, key).await {
            Ok(current) if current.completed_from(upload_id) && current.etag == etag => {
                tracing::info!(%bucket, ?key, %upload_id, "multipart completion repeated");
                Ok(S3Response::new(completion_output(&current)))
            }
            Ok(_) | Err(MetadataError::NoSuchKey) => {
                Err(GatewayError::Metadata(MetadataError::NoSuchUpload).into())
            }
            Err(e) => Err(self.bucket_error(bucket, e).into()),
        }
    }

    /// The records of the listed parts, in the listed order. A missing part
    /// is `InvalidPart` (metadata checks again, with the ETags, in the
    /// completing transaction).
    async fn listed_parts(
        &self,
        upload: &UploadRecord,
        listed: &[(u32, String)],
    ) -> Result<Vec<PartRecord>, GatewayError> {
        let mut records = std::collections::HashMap::new();
        let mut marker = 0;
        loop {
            let page = self
                .io
                .meta
                .list_parts(&upload.bucket, &upload.key, &upload.upload_id, marker, 1000)
                .await?;
            for p in page.parts {
                records.insert(p.part_number, p);
            }
            match page.next_part_number_marker {
                Some(next) if page.is_truncated => marker = next,
                _ => break,
            }
        }
        listed
            .iter()
            .map(|(number, _)| {
                records
                    .remove(number)
                    .ok_or(GatewayError::Metadata(MetadataError::InvalidPart))
            })
            .collect()
    }

    pub(crate) async fn handle_abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let bucket = self.owned_bucket(&req, &req.input.bucket).await?;
        let upload_id = parse_upload_id(&req.input.upload_id)?;
        self.io
            .meta
            .abort_upload(&bucket.name, &req.input.key, &upload_id)
            .await
            .map_err(|e| self.bucket_error(&bucket.name, e))?;
        tracing::info!(bucket = %bucket.name, key = ?req.input.key, %upload_id, "multipart upload aborted");
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    pub(crate) async fn handle_list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let bucket = self.owned_bucket(&req, &req.input.bucket).await?;
        let input = req.input;
        let upload_id = parse_upload_id(&input.upload_id)?;
        let max_parts = page_size(input.max_parts, "max-parts")?;
        let marker = u32::try_from(input.part_number_marker.unwrap_or(0).max(0)).unwrap_or(0);
        let upload = self
            .io
            .meta
            .get_upload(&bucket.name, &input.key, &upload_id)
            .await
            .map_err(|e| self.bucket_error(&bucket.name, e))?;
        let page = self
            .io
            .meta
            .list_parts(&bucket.name, &input.key, &upload_id, marker, max_parts)
            .await
            .map_err(|e| self.bucket_error(&bucket.name, e))?;
        let parts: Vec<Part> = page
            .parts
            .into_iter()
            .map(|p| Part {
                part_number: i32::try_from(p.part_number).ok(),
                e_tag: Some(ETag::Strong(p.etag)),
                size: i64::try_from(p.size).ok(),
                last_modified: Some(timestamp(p.last_modified_unix_ms)),
                ..Default::default()
            })
            .collect();
        let (owner, initiator) = owner_and_initiator(&upload.owner);
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(bucket.name.to_string()),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            part_number_marker: Some(i32::try_from(marker).unwrap_or(0)),
            next_part_number_marker: page
                .next_part_number_marker
                .and_then(|m| i32::try_from(m).ok()),
            max_parts: Some(i32::try_from(max_parts).unwrap_or(MAX_PAGE)),
            is_truncated: Some(page.is_truncated),
            parts: Some(parts),
            initiator: Some(initiator),
            owner: Some(owner),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            ..Default::default()
        }))
    }

    pub(crate) async fn handle_list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let bucket = self.owned_bucket(&req, &req.input.bucket).await?;
        let input = req.input;
        let max_uploads = page_size(input.max_uploads, "max-uploads")?;
        let upload_id_marker = match input.upload_id_marker.as_deref().filter(|s| !s.is_empty()) {
            Some(id) => Some(parse_upload_id(id)?),
            None => None,
        };
        let page = self
            .io
            .meta
            .list_uploads(&UploadsQuery {
                bucket: bucket.name.clone(),
                prefix: input.prefix.clone().unwrap_or_default(),
                key_marker: input.key_marker.clone().filter(|s| !s.is_empty()),
                upload_id_marker,
                delimiter: input.delimiter.clone().filter(|d| !d.is_empty()),
                max_uploads,
            })
            .await
            .map_err(|e| self.bucket_error(&bucket.name, e))?;
        let uploads: Vec<MultipartUpload> = page
            .uploads
            .into_iter()
            .map(|u| {
                let (owner, initiator) = owner_and_initiator(&u.owner);
                MultipartUpload {
                    key: Some(u.key),
                    upload_id: Some(u.upload_id.to_string()),
                    initiated: Some(timestamp(u.initiated_unix_ms)),
                    initiator: Some(initiator),
                    owner: Some(owner),
                    storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                    ..Default::default()
                }
            })
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(bucket.name.to_string()),
            prefix: input.prefix,
            key_marker: input.key_marker,
            upload_id_marker: input.upload_id_marker,
            max_uploads: Some(i32::try_from(max_uploads).unwrap_or(MAX_PAGE)),
            is_truncated: Some(page.is_truncated),
            next_key_marker: page.next_key_marker,
            next_upload_id_marker: page.next_upload_id_marker.map(|u| u.to_string()),
            uploads: Some(uploads),
            common_prefixes: Some(
                page.common_prefixes
                    .into_iter()
                    .map(|p| CommonPrefix { prefix: Some(p) })
                    .collect(),
            ),
            delimiter: input.delimiter,
            ..Default::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_etag_matches_s3() {
        // Two parts whose MD5s are those of "a" and "b".
        let a = hex::encode(Md5::digest(b"a"));
        let b = hex::encode(Md5::digest(b"b"));
        let mut joined = Vec::new();
        joined.extend_from_slice(&Md5::digest(b"a"));
        joined.extend_from_slice(&Md5::digest(b"b"));
        let expected = format!("{}-2", hex::encode(Md5::digest(&joined)));
        assert_eq!(multipart_etag(&[a, b]).unwrap(), expected);
        assert!(multipart_etag(&["zz".into()]).is_err());
    }
}
