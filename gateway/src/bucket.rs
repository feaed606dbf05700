//! Bucket operations.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::access::{caller, parse_bucket};
use crate::bucket_settings::canned_acl_is_public;
use crate::error::GatewayError;
use crate::service::Tessera;
use crate::time_format::timestamp;

impl Tessera {
    pub(crate) async fn handle_list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let caller = caller(&req)?;
        let all = self
            .io
            .meta
            .list_buckets()
            .await
            .map_err(GatewayError::from)?;
        let buckets = all
            .into_iter()
            .filter(|b| b.owner == caller)
            .map(|b| Bucket {
                name: Some(b.name.to_string()),
                creation_date: Some(timestamp(b.created_unix_ms)),
                bucket_region: Some(self.io.config.region.clone()),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(Owner {
                display_name: Some(caller.to_owned()),
                id: Some(caller.to_owned()),
            }),
            ..Default::default()
        }))
    }

    pub(crate) async fn handle_create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let bucket = parse_bucket(&req.input.bucket)?;
        if bucket.is_reserved() {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidBucketName,
                "The specified bucket is not valid: its prefix or suffix is reserved.",
            ));
        }
        let caller = caller(&req)?;
        let input = &req.input;
        crate::bucket_settings::refuse_bucket_grants!(input);
        let public_read = match &input.acl {
            Some(acl) => canned_acl_is_public(acl)?,
            None => false,
        };
        self.io
            .meta
            .create_bucket(&bucket, caller, public_read)
            .await
            .map_err(GatewayError::from)?;
        self.buckets.created(&bucket);
        tracing::info!(%bucket, owner = caller, public_read, "bucket created");
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{bucket}")),
        }))
    }

    pub(crate) async fn handle_head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.owned_bucket(&req, &req.input.bucket).await?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(self.io.config.region.clone()),
            ..Default::default()
        }))
    }

    pub(crate) async fn handle_delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let info = self.owned_bucket(&req, &req.input.bucket).await?;
        self.io
            .meta
            .delete_bucket(&info.name)
            .await
            .map_err(|e| self.bucket_error(&info.name, e))?;
        self.buckets.forget(&info.name);
        tracing::info!(bucket = %info.name, "bucket deleted");
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    pub(crate) async fn handle_get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.owned_bucket(&req, &req.input.bucket).await?;
        // S3 reports us-east-1 as an empty location constraint.
        let region = &self.io.config.region;
        let location_constraint =
            (region != "us-east-1").then(|| BucketLocationConstraint::from(region.clone()));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint,
        }))
    }

    /// Versioning is not offered: every bucket answers as one that was never
    /// versioned (an empty configuration), which is what tools that ask
    /// before listing or purging expect.
    pub(crate) async fn handle_get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        self.owned_bucket(&req, &req.input.bucket).await?;
        Ok(S3Response::new(GetBucketVersioningOutput::default()))
    }
}
