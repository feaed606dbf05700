//! Listing operations.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use metadata::model::ListQuery;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::service::Tessera;
use crate::time_format::timestamp;
use crate::url_encoding;

/// S3 never returns more than this many entries per page.
const MAX_KEYS: i32 = 1000;

fn parse_max_keys(requested: Option<i32>) -> Result<i32, S3Error> {
    match requested {
        Some(n) if n < 0 => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "max-keys must be a non-negative integer.",
        )),
        Some(n) => Ok(n.min(MAX_KEYS)),
        None => Ok(MAX_KEYS),
    }
}

fn object_entry(o: metadata::model::ObjectMeta, url: bool) -> Object {
    Object {
        key: Some(url_encoding::maybe(url, o.key)),
        size: Some(i64::try_from(o.size).unwrap_or(i64::MAX)),
        e_tag: Some(ETag::Strong(o.etag)),
        last_modified: Some(timestamp(o.last_modified_unix_ms)),
        storage_class: Some(ObjectStorageClass::from_static(
            ObjectStorageClass::STANDARD,
        )),
        ..Default::default()
    }
}

fn common_prefix_entries(prefixes: Vec<String>, url: bool) -> Option<Vec<CommonPrefix>> {
    (!prefixes.is_empty()).then(|| {
        prefixes
            .into_iter()
            .map(|p| CommonPrefix {
                prefix: Some(url_encoding::maybe(url, p)),
            })
            .collect()
    })
}

impl Tessera {
    /// One page of keys, shared by the three listing operations.
    async fn list_page(
        &self,
        bucket: &metadata::ids::BucketName,
        prefix: Option<&str>,
        delimiter: Option<&str>,
        start_after: Option<String>,
        max_keys: i32,
    ) -> Result<metadata::model::ListPage, S3Error> {
        let query = ListQuery {
            bucket: bucket.clone(),
            prefix: prefix.unwrap_or_default().to_owned(),
            delimiter: delimiter.filter(|d| !d.is_empty()).map(str::to_owned),
            start_after: start_after.filter(|s| !s.is_empty()),
            max_keys: u32::try_from(max_keys).unwrap_or(0),
        };
        Ok(self
            .io
            .meta
            .list_objects(&query)
            .await
            .map_err(|e| self.bucket_error(bucket, e))?)
    }

    pub(crate) async fn handle_list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let bucket = self.owned_bucket(&req, &req.input.bucket).await?;
        let input = req.input;
        let max_keys = parse_max_keys(input.max_keys)?;
        let page = self
            .list_page(
                &bucket.name,
                input.prefix.as_deref(),
                input.delimiter.as_deref(),
                input.marker.clone(),
                max_keys,
            )
            .await?;
        let url = url_encoding::wanted(input.encoding_type.as_ref());
        let enc = |s: Option<String>| s.map(|s| url_encoding::maybe(url, s));
        let next_marker = page.is_truncated.then_some(page.next_start_after).flatten();
        let contents: Vec<Object> = page
            .objects
            .into_iter()
            .map(|o| object_entry(o, url))
            .collect();
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(bucket.name.to_string()),
            prefix: enc(input.prefix),
            delimiter: enc(input.delimiter),
            marker: enc(input.marker),
            max_keys: Some(max_keys),
            is_truncated: Some(page.is_truncated),
            next_marker: enc(next_marker),
            contents: (!contents.is_empty()).then_some(contents),
            common_prefixes: common_prefix_entries(page.common_prefixes, url),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    /// Buckets are unversioned: every key has exactly one version, `null`,
    /// and it is the latest. Many tools empty a bucket through this call.
    pub(crate) async fn handle_list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let bucket = self.owned_bucket(&req, &req.input.bucket).await?;
        let input = req.input;
        let max_keys = parse_max_keys(input.max_keys)?;
        let page = self
            .list_page(
                &bucket.name,
                input.prefix.as_deref(),
                input.delimiter.as_deref(),
                input.key_marker.clone(),
                max_keys,
            )
            .await?;
        let url = url_encoding::wanted(input.encoding_type.as_ref());
        let enc = |s: Option<String>| s.map(|s| url_encoding::maybe(url, s));
        let owner = Owner {
            display_name: Some(bucket.owner.clone()),
            id: Some(bucket.owner.clone()),
        };
        let versions: Vec<ObjectVersion> = page
            .objects
            .into_iter()
            .map(|o| ObjectVersion {
                key: Some(url_encoding::maybe(url, o.key)),
                version_id: Some("null".to_owned()),
                is_latest: Some(true),
                size: Some(i64::try_from(o.size).unwrap_or(i64::MAX)),
                e_tag: Some(ETag::Strong(o.etag)),
                last_modified: Some(timestamp(o.last_modified_unix_ms)),
                owner: Some(owner.clone()),
                storage_class: Some(ObjectVersionStorageClass::from_static(
                    ObjectVersionStorageClass::STANDARD,
                )),
                ..Default::default()
            })
            .collect();
        let truncated = page.is_truncated;
        Ok(S3Response::new(ListObjectVersionsOutput {
            name: Some(bucket.name.to_string()),
            prefix: enc(input.prefix),
            delimiter: enc(input.delimiter),
            key_marker: enc(input.key_marker),
            version_id_marker: input.version_id_marker,
            max_keys: Some(max_keys),
            is_truncated: Some(truncated),
            next_key_marker: enc(truncated.then_some(page.next_start_after).flatten()),
            next_version_id_marker: truncated.then(|| "null".to_owned()),
            versions: (!versions.is_empty()).then_some(versions),
            common_prefixes: common_prefix_entries(page.common_prefixes, url),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    pub(crate) async fn handle_list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let bucket = self.owned_bucket(&req, &req.input.bucket).await?;
        let input = req.input;
        let max_keys = parse_max_keys(input.max_keys)?;
        let resume_after = match &input.continuation_token {
            Some(token) => Some(decode_token(token)?),
            None => input.start_after.clone(),
        };
        let page = self
            .list_page(
                &bucket.name,
                input.prefix.as_deref(),
                input.delimiter.as_deref(),
                resume_after,
                max_keys,
            )
            .await?;

        let key_count = page.objects.len() + page.common_prefixes.len();
        let url = url_encoding::wanted(input.encoding_type.as_ref());
        let enc = |s: Option<String>| s.map(|s| url_encoding::maybe(url, s));
        let contents: Vec<Object> = page
            .objects
            .into_iter()
            .map(|o| object_entry(o, url))
            .collect();
        let common_prefixes = common_prefix_entries(page.common_prefixes, url);
        let next_continuation_token = page
            .is_truncated
            .then(|| page.next_start_after.as_deref().map(encode_token))
            .flatten();
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(bucket.name.to_string()),
            prefix: enc(input.prefix),
            delimiter: enc(input.delimiter),
            max_keys: Some(max_keys),
            key_count: Some(i32::try_from(key_count).unwrap_or(i32::MAX)),
            continuation_token: input.continuation_token,
            start_after: enc(input.start_after),
            is_truncated: Some(page.is_truncated),
            next_continuation_token,
            contents: (!contents.is_empty()).then_some(contents),
            common_prefixes,
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }
}

/// Continuation tokens are opaque to clients: the key to resume after, in
/// URL-safe base64.
fn encode_token(resume_after: &str) -> String {
    URL_SAFE_NO_PAD.encode(resume_after.as_bytes())
}

fn decode_token(token: &str) -> Result<String, S3Error> {
    URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "The continuation token provided is incorrect.",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        for key in ["", "a", "photos/2024/ü.jpg", "x/"] {
            assert_eq!(decode_token(&encode_token(key)).unwrap(), key);
        }
        assert!(decode_token("!!!").is_err());
    }
}
