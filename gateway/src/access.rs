//! Who may touch a bucket: its owner, the access key that created it.

use metadata::error::MetadataError;
use metadata::ids::BucketName;
use metadata::model::BucketInfo;
use s3s::{S3Error, S3ErrorCode, S3Request};

use crate::error::GatewayError;
use crate::service::Tessera;

/// The access key that signed the request. s3s refuses anonymous requests
/// before any operation runs, so a missing identity here is a bug, not input.
pub fn caller<T>(req: &S3Request<T>) -> Result<&str, S3Error> {
    req.credentials
        .as_ref()
        .map(|c| c.access_key.as_str())
        .ok_or_else(|| S3Error::with_message(S3ErrorCode::AccessDenied, "Access Denied"))
}

pub fn parse_bucket(name: &str) -> Result<BucketName, S3Error> {
    name.parse().map_err(|_| {
        S3Error::with_message(
            S3ErrorCode::InvalidBucketName,
            "The specified bucket is not valid.",
        )
    })
}

impl Tessera {
    /// Loads the bucket and checks that the caller owns it.
    pub async fn owned_bucket<T>(
        &self,
        req: &S3Request<T>,
        name: &str,
    ) -> Result<BucketInfo, S3Error> {
        let bucket = parse_bucket(name)?;
        let caller = caller(req)?;
        let info = match self.buckets.get(&bucket) {
            Some(info) => info,
            None => {
                let info = self
                    .io
                    .meta
                    .get_bucket(&bucket)
                    .await
                    .map_err(GatewayError::from)?;
                self.buckets.insert(info.clone());
                info
            }
        };
        if info.owner != caller {
            return Err(GatewayError::AccessDenied.into());
        }
        Ok(info)
    }

    /// Maps a metadata error of an operation on `bucket`, dropping the cached
    /// record when metadata says the bucket is gone.
    pub fn bucket_error(&self, bucket: &BucketName, err: MetadataError) -> GatewayError {
        if matches!(err, MetadataError::NoSuchBucket) {
            self.buckets.forget(bucket);
        }
        GatewayError::from(err)
    }
}
