//! Listing operations.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use metadata::model::ListQuery;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::service::Tessera;
use crate::time_format::timestamp;

/// S3 never returns more than this many entries per page.
const MAX_KEYS: i32 = 1000;

impl Tessera {
    pub(crate) async fn handle_list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let bucket = self.owned_bucket(&req, &req.input.bucket).await?;
        let input = req.input;
        let max_keys = match input.max_keys {
            Some(n) if n < 0 => {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "max-keys must be a non-negative integer.",
                ));
            }
            Some(n) => n.min(MAX_KEYS),
            None => MAX_KEYS,
        };
        let resume_after = match &input.continuation_token {
            Some(token) => Some(decode_token(token)?),
            None => input.start_after.clone().filter(|s| !s.is_empty()),
        };
        let query = ListQuery {
            bucket: bucket.name.clone(),
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone().filter(|d| !d.is_empty()),
            start_after: resume_after,
            max_keys: u32::try_from(max_keys).unwrap_or(0),
        };
        let page = self
            .io
            .meta
            .list_objects(&query)
            .await
            .map_err(|e| self.bucket_error(&bucket.name, e))?;

        let key_count = page.objects.len() + page.common_prefixes.len();
        let contents: Vec<Object> = page
            .objects
            .into_iter()
            .map(|o| Object {
                key: Some(o.key),
                size: Some(i64::try_from(o.size).unwrap_or(i64::MAX)),
                e_tag: Some(ETag::Strong(o.etag)),
                last_modified: Some(timestamp(o.last_modified_unix_ms)),
                storage_class: Some(ObjectStorageClass::from_static(
                    ObjectStorageClass::STANDARD,
                )),
                ..Default::default()
            })
            .collect();
        let common_prefixes: Vec<CommonPrefix> = page
            .common_prefixes
            .into_iter()
            .map(|p| CommonPrefix { prefix: Some(p) })
            .collect();
        let next_continuation_token = page
            .is_truncated
            .then(|| page.next_start_after.as_deref().map(encode_token))
            .flatten();
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(bucket.name.to_string()),
            prefix: input.prefix,
            delimiter: input.delimiter,
            max_keys: Some(max_keys),
            key_count: Some(i32::try_from(key_count).unwrap_or(i32::MAX)),
            continuation_token: input.continuation_token,
            start_after: input.start_after,
            is_truncated: Some(page.is_truncated),
            next_continuation_token,
            contents: (!contents.is_empty()).then_some(contents),
            common_prefixes: (!common_prefixes.is_empty()).then_some(common_prefixes),
            encoding_type: None,
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
