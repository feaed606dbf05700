//! Bucket settings: the canned ACLs we support (private and public-read)
//! and CORS configuration. Both live in the bucket's metadata record and
//! reach every edge through its short-lived bucket cache.

use metadata::model::{BucketInfo, BucketUpdate, CorsConfig, CorsRule};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::service::Tessera;

/// The grantee S3 uses for "everyone".
const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";

/// Whether a canned ACL makes the bucket public-read. Only `private` and
/// `public-read` exist here: anonymous writes and "any signed user" reads
/// are not something this store offers.
pub fn canned_acl_is_public(acl: &BucketCannedACL) -> Result<bool, S3Error> {
    match acl.as_str() {
        BucketCannedACL::PRIVATE => Ok(false),
        BucketCannedACL::PUBLIC_READ => Ok(true),
        other => Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            format!("The canned ACL {other} is not supported; use private or public-read."),
        )),
    }
}

/// The canned ACL of an object write: objects have no ACLs of their own
/// here (a bucket is private or public-read as a whole), so only the ones
/// that ask for nothing beyond that are accepted; others are refused rather
/// than ignored.
pub fn check_object_acl(acl: Option<&ObjectCannedACL>) -> Result<(), S3Error> {
    match acl.map(ObjectCannedACL::as_str) {
        None
        | Some(
            ObjectCannedACL::PRIVATE
            | ObjectCannedACL::BUCKET_OWNER_FULL_CONTROL
            | ObjectCannedACL::BUCKET_OWNER_READ,
        ) => Ok(()),
        Some(other) => Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            format!(
                "Object ACLs are not supported (asked for {other}); make the bucket public-read to serve its objects anonymously."
            ),
        )),
    }
}

/// The ACL checks of an object write (PutObject, CopyObject,
/// CreateMultipartUpload): all three inputs carry the same fields.
macro_rules! check_object_write_acl {
    ($input:expr) => {{
        let input = &$input;
        $crate::bucket_settings::check_object_acl(input.acl.as_ref())?;
        $crate::bucket_settings::refuse_grant_headers(&[
            &input.grant_full_control,
            &input.grant_read,
            &input.grant_read_acp,
            &input.grant_write_acp,
        ])?;
    }};
}
pub(crate) use check_object_write_acl;

/// The grant headers of a bucket request (CreateBucket, PutBucketAcl):
/// both inputs carry the same five.
macro_rules! refuse_bucket_grants {
    ($input:expr) => {{
        let input = &$input;
        $crate::bucket_settings::refuse_grant_headers(&[
            &input.grant_full_control,
            &input.grant_read,
            &input.grant_read_acp,
            &input.grant_write,
            &input.grant_write_acp,
        ])?;
    }};
}
pub(crate) use refuse_bucket_grants;

/// Explicit grants (`x-amz-grant-*`) are not supported: say so rather than
/// ignore them.
pub fn refuse_grant_headers(grants: &[&Option<String>]) -> Result<(), S3Error> {
    if grants.iter().any(|g| g.is_some()) {
        return Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "Grant headers are not supported; use the canned ACLs private or public-read.",
        ));
    }
    Ok(())
}

/// An AccessControlPolicy body: the owner's FULL_CONTROL, plus, for a
/// public-read bucket, READ for AllUsers. Anything else is not supported.
fn policy_is_public(policy: &AccessControlPolicy, owner: &str) -> Result<bool, S3Error> {
    let mut public = false;
    for grant in policy.grants.iter().flatten() {
        let permission = grant.permission.as_ref().map(Permission::as_str);
        let grantee = grant.grantee.as_ref();
        let to_all_users = grantee.and_then(|g| g.uri.as_deref()) == Some(ALL_USERS);
        let to_owner = grantee.and_then(|g| g.id.as_deref()) == Some(owner);
        match permission {
            Some(Permission::READ) if to_all_users => public = true,
            Some(Permission::FULL_CONTROL) if to_owner => {}
            _ => {
                return Err(S3Error::with_message(
                    S3ErrorCode::NotImplemented,
                    "Only the owner's FULL_CONTROL and READ for AllUsers can be granted.",
                ));
            }
        }
    }
    Ok(public)
}

fn owner_of(info: &BucketInfo) -> Owner {
    Owner {
        display_name: Some(info.owner.clone()),
        id: Some(info.owner.clone()),
    }
}

fn cors_to_model(rules: CORSRules) -> CorsConfig {
    CorsConfig {
        rules: rules
            .into_iter()
            .map(|r| CorsRule {
                id: r.id,
                allowed_origins: r.allowed_origins,
                allowed_methods: r.allowed_methods,
                allowed_headers: r.allowed_headers.unwrap_or_default(),
                expose_headers: r.expose_headers.unwrap_or_default(),
                max_age_seconds: r.max_age_seconds,
            })
            .collect(),
    }
}

fn cors_to_dto(config: &CorsConfig) -> CORSRules {
    config
        .rules
        .iter()
        .map(|r| CORSRule {
            id: r.id.clone(),
            allowed_origins: r.allowed_origins.clone(),
            allowed_methods: r.allowed_methods.clone(),
            allowed_headers: (!r.allowed_headers.is_empty()).then(|| r.allowed_headers.clone()),
            expose_headers: (!r.expose_headers.is_empty()).then(|| r.expose_headers.clone()),
            max_age_seconds: r.max_age_seconds,
        })
        .collect()
}

impl Tessera {
    async fn update_bucket(
        &self,
        info: &BucketInfo,
        update: BucketUpdate,
    ) -> Result<BucketInfo, S3Error> {
        let updated = self
            .io
            .meta
            .update_bucket(&info.name, &update)
            .await
            .map_err(|e| match e {
                // Validation happens in metadata; its message is the answer.
                metadata::error::MetadataError::InvalidRequest(msg) => {
                    let msg = msg
                        .strip_prefix("invalid request: ")
                        .map(str::to_owned)
                        .unwrap_or(msg);
                    S3Error::with_message(S3ErrorCode::InvalidRequest, msg)
                }
                e => self.bucket_error(&info.name, e).into(),
            })?;
        self.buckets.insert(updated.clone());
        Ok(updated)
    }

    pub(crate) async fn handle_put_bucket_acl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        let info = self.owned_bucket(&req, &req.input.bucket).await?;
        let input = &req.input;
        refuse_bucket_grants!(input);
        let public_read = match (&input.acl, &input.access_control_policy) {
            (Some(acl), None) => canned_acl_is_public(acl)?,
            (None, Some(policy)) => policy_is_public(policy, &info.owner)?,
            (None, None) => {
                return Err(S3Error::with_message(
                    S3ErrorCode::MissingSecurityHeader,
                    "Your request was missing a required header: x-amz-acl.",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(S3Error::with_message(
                    S3ErrorCode::UnexpectedContent,
                    "This request does not support content with a canned ACL.",
                ));
            }
        };
        self.update_bucket(
            &info,
            BucketUpdate {
                public_read: Some(public_read),
                ..BucketUpdate::default()
            },
        )
        .await?;
        tracing::info!(bucket = %info.name, public_read, "bucket ACL set");
        Ok(S3Response::new(PutBucketAclOutput {}))
    }

    pub(crate) async fn handle_get_bucket_acl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> S3Result<S3Response<GetBucketAclOutput>> {
        let info = self.owned_bucket(&req, &req.input.bucket).await?;
        let owner = owner_of(&info);
        let mut grants = vec![Grant {
            grantee: Some(Grantee {
                display_name: owner.display_name.clone(),
                email_address: None,
                id: owner.id.clone(),
                type_: Type::from_static(Type::CANONICAL_USER),
                uri: None,
            }),
            permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
        }];
        if info.public_read {
            grants.push(Grant {
                grantee: Some(Grantee {
                    display_name: None,
                    email_address: None,
                    id: None,
                    type_: Type::from_static(Type::GROUP),
                    uri: Some(ALL_USERS.to_owned()),
                }),
                permission: Some(Permission::from_static(Permission::READ)),
            });
        }
        Ok(S3Response::new(GetBucketAclOutput {
            grants: Some(grants),
            owner: Some(owner),
        }))
    }

    pub(crate) async fn handle_put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        let info = self.owned_bucket(&req, &req.input.bucket).await?;
        let cors = cors_to_model(req.input.cors_configuration.cors_rules);
        self.update_bucket(
            &info,
            BucketUpdate {
                cors: Some(cors),
                ..BucketUpdate::default()
            },
        )
        .await?;
        tracing::info!(bucket = %info.name, "bucket CORS configuration set");
        Ok(S3Response::new(PutBucketCorsOutput {}))
    }

    pub(crate) async fn handle_get_bucket_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        let info = self.owned_bucket(&req, &req.input.bucket).await?;
        match &info.cors {
            Some(cors) => Ok(S3Response::new(GetBucketCorsOutput {
                cors_rules: Some(cors_to_dto(cors)),
            })),
            None => Err(S3Error::with_message(
                S3ErrorCode::NoSuchCORSConfiguration,
                "The CORS configuration does not exist",
            )),
        }
    }

    pub(crate) async fn handle_delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        let info = self.owned_bucket(&req, &req.input.bucket).await?;
        self.update_bucket(
            &info,
            BucketUpdate {
                delete_cors: true,
                ..BucketUpdate::default()
            },
        )
        .await?;
        tracing::info!(bucket = %info.name, "bucket CORS configuration deleted");
        Ok(S3Response::new(DeleteBucketCorsOutput {}))
    }
}
