//! SigV4 secrets for s3s. An unknown access key is `InvalidAccessKeyId`, as S3
//! answers it (s3s's `SimpleAuth` says `NotSignedUp`, which clients don't know).

use std::collections::HashMap;

use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

use crate::config::Credential;

pub struct StaticCredentials {
    keys: HashMap<String, SecretKey>,
}

impl StaticCredentials {
    pub fn new(credentials: &[Credential]) -> Self {
        StaticCredentials {
            keys: credentials
                .iter()
                .map(|c| (c.access_key.clone(), SecretKey::from(c.secret_key.clone())))
                .collect(),
        }
    }
}

#[async_trait::async_trait]
impl S3Auth for StaticCredentials {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        self.keys.get(access_key).cloned().ok_or_else(|| {
            s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            )
        })
    }
}
