//! Who may do what. A bucket belongs to the user who created it; every
//! request must be signed by that user, except anonymous GET and HEAD of
//! objects in a bucket made public-read. Signed requests are charged to the
//! edge's per-key rate limit here, once their signature is verified.

use std::sync::Arc;

use metadata::error::MetadataError;
use metadata::ids::BucketName;
use metadata::model::BucketInfo;
use s3s::access::{S3Access, S3AccessContext};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Result};

use crate::auth::KeyDirectory;
use crate::error::GatewayError;
use crate::service::Tessera;

/// The user a request is signed for, put in the request's extensions by
/// [`Access`] once its signature has been checked.
#[derive(Debug, Clone)]
pub struct Caller(pub String);

/// Operations an anonymous request may attempt; whether the bucket allows it
/// is decided by the operation, once the bucket is known.
const ANONYMOUS_OPERATIONS: [&str; 2] = ["GetObject", "HeadObject"];

/// Whether a verified access key may make another request now (the edge's
/// per-key rate limit); `false` answers `SlowDown`.
pub type KeyAdmission = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// s3s calls this after the signature check and before the operation (and
/// before it reads any control document).
pub struct Access {
    pub keys: Arc<KeyDirectory>,
    pub admission: Option<KeyAdmission>,
}

#[async_trait::async_trait]
impl S3Access for Access {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        match cx.credentials() {
            Some(credentials) => {
                if let Some(admit) = &self.admission
                    && !admit(&credentials.access_key)
                {
                    return Err(S3Error::with_message(
                        S3ErrorCode::SlowDown,
                        "Please reduce your request rate.",
                    ));
                }
                let user = self.keys.user_of(&credentials.access_key).await?;
                cx.extensions_mut().insert(Caller(user));
                Ok(())
            }
            None if ANONYMOUS_OPERATIONS.contains(&cx.s3_op().name()) => Ok(()),
            None => Err(access_denied()),
        }
    }
}

fn access_denied() -> S3Error {
    S3Error::with_message(S3ErrorCode::AccessDenied, "Access Denied")
}

/// The user that signed the request. Every signed request has one (see
/// [`Access`]); an anonymous one is refused here.
pub fn caller<T>(req: &S3Request<T>) -> Result<&str, S3Error> {
    req.extensions
        .get::<Caller>()
        .map(|c| c.0.as_str())
        .ok_or_else(access_denied)
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
    /// The bucket's record, from the short-lived cache or metadata.
    pub async fn bucket_info(&self, name: &str) -> Result<BucketInfo, S3Error> {
        let bucket = parse_bucket(name)?;
        if let Some(info) = self.buckets.get(&bucket) {
            return Ok(info);
        }
        if self.buckets.known_missing(&bucket) {
            return Err(GatewayError::from(MetadataError::NoSuchBucket).into());
        }
        let info = match self.io.meta.get_bucket(&bucket).await {
            Ok(info) => info,
            Err(MetadataError::NoSuchBucket) => {
                self.buckets.remember_missing(&bucket);
                return Err(GatewayError::from(MetadataError::NoSuchBucket).into());
            }
            Err(e) => return Err(GatewayError::from(e).into()),
        };
        self.buckets.insert(info.clone());
        Ok(info)
    }

    /// Loads the bucket and checks that the caller owns it.
    pub async fn owned_bucket<T>(
        &self,
        req: &S3Request<T>,
        name: &str,
    ) -> Result<BucketInfo, S3Error> {
        let caller = caller(req)?;
        let info = self.bucket_info(name).await?;
        if info.owner != caller {
            return Err(GatewayError::AccessDenied.into());
        }
        Ok(info)
    }

    /// Loads the bucket for reading an object: its owner may, and anyone,
    /// signed or not, if it is public-read.
    pub async fn readable_bucket<T>(
        &self,
        req: &S3Request<T>,
        name: &str,
    ) -> Result<BucketInfo, S3Error> {
        let signed_by = req.extensions.get::<Caller>().map(|c| c.0.as_str());
        // An anonymous request learns nothing about a private bucket, not
        // even whether it exists.
        let info = match self.bucket_info(name).await {
            Ok(info) => info,
            // Metadata unreachable: a bucket record seen recently enough
            // lets kept objects be served stale. (Writes never get here:
            // they fail, as they need metadata.)
            Err(e) if *e.code() == S3ErrorCode::ServiceUnavailable => {
                match parse_bucket(name).ok().and_then(|b| {
                    self.buckets
                        .get_within(&b, self.io.config.cache.stale_if_error)
                }) {
                    Some(info) => info,
                    None => return Err(e),
                }
            }
            Err(e) if signed_by.is_none() && *e.code() == S3ErrorCode::NoSuchBucket => {
                return Err(access_denied());
            }
            Err(e) => return Err(e),
        };
        if info.public_read || signed_by == Some(info.owner.as_str()) {
            Ok(info)
        } else {
            Err(GatewayError::AccessDenied.into())
        }
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
