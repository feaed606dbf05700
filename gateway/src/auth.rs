//! Who signed a request: access keys from the configuration (fixed for the
//! process's life) and keys issued by the admin command (kept in metadata).
//!
//! Metadata keys are cached for [`KEY_CACHE_TTL`], so a steady client costs
//! metadata one lookup per key per TTL, and a revoked key stops working
//! within that time on every edge, without a restart. An unknown key is
//! remembered as unknown for the same time, so a client retrying with a bad
//! key does not turn into a lookup per request. If metadata cannot be reached,
//! a key seen before keeps working: the edge stays up for the clients it
//! knows, and a revocation takes effect when metadata is back.
//!
//! An unknown access key is `InvalidAccessKeyId`, as S3 answers it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use metadata::client::MetadataClient;
use metadata::error::MetadataError;
use metadata::ids::AccessKeyId;
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

use crate::config::Credential;

/// How long a key looked up in metadata is trusted: the longest a revoked
/// key may still be accepted.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(2);

/// Past this many entries the cache starts over rather than grow (a client
/// spraying random key ids cannot make it use more memory than this).
const MAX_ENTRIES: usize = 10_000;

/// The secret of an access key and the user it signs for.
#[derive(Clone)]
struct Identity {
    secret: SecretKey,
    user: String,
}

pub struct KeyDirectory {
    fixed: HashMap<String, Identity>,
    meta: MetadataClient,
    /// `None`: metadata said there is no such key.
    cache: Mutex<HashMap<String, (Option<Identity>, Instant)>>,
}

impl KeyDirectory {
    pub fn new(credentials: &[Credential], meta: MetadataClient) -> Self {
        let fixed = credentials
            .iter()
            .map(|c| {
                let identity = Identity {
                    secret: SecretKey::from(c.secret_key.clone()),
                    user: c.user.clone(),
                };
                (c.access_key.clone(), identity)
            })
            .collect();
        KeyDirectory {
            fixed,
            meta,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The user an access key signs for; the key was already checked by the
    /// signature, so this is the cached answer, or a fresh one.
    pub async fn user_of(&self, access_key: &str) -> S3Result<String> {
        match self.lookup(access_key).await? {
            Some(identity) => Ok(identity.user),
            None => Err(unknown_key()),
        }
    }

    async fn lookup(&self, access_key: &str) -> S3Result<Option<Identity>> {
        if let Some(identity) = self.fixed.get(access_key) {
            return Ok(Some(identity.clone()));
        }
        let cached = self.cached(access_key);
        if let Some((entry, fresh)) = &cached
            && *fresh
        {
            return Ok(entry.clone());
        }
        let Ok(id) = access_key.parse::<AccessKeyId>() else {
            return Ok(None);
        };
        let found = match self.meta.get_access_key(&id).await {
            Ok(key) => Some(Identity {
                secret: SecretKey::from(key.secret_key),
                user: key.user.to_string(),
            }),
            Err(MetadataError::NoSuchAccessKey) => None,
            Err(e) => {
                // Keep serving a key we knew while metadata is away.
                if let Some((Some(known), _)) = cached {
                    tracing::warn!(error = %e, "access key lookup failed; using the cached key");
                    return Ok(Some(known));
                }
                tracing::warn!(error = %e, "access key lookup failed");
                return Err(S3Error::with_message(
                    S3ErrorCode::ServiceUnavailable,
                    "The metadata service is unavailable; please retry.",
                ));
            }
        };
        self.remember(access_key, found.clone());
        Ok(found)
    }

    /// The cached entry and whether it is still within its TTL.
    fn cached(&self, access_key: &str) -> Option<(Option<Identity>, bool)> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(access_key)
            .map(|(entry, at)| (entry.clone(), at.elapsed() < KEY_CACHE_TTL))
    }

    fn remember(&self, access_key: &str, entry: Option<Identity>) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_ENTRIES {
                cache.clear();
            }
            cache.insert(access_key.to_owned(), (entry, Instant::now()));
        }
    }
}

fn unknown_key() -> S3Error {
    s3_error!(
        InvalidAccessKeyId,
        "The AWS Access Key Id you provided does not exist in our records."
    )
}

#[async_trait::async_trait]
impl S3Auth for KeyDirectory {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.lookup(access_key).await? {
            Some(identity) => Ok(identity.secret),
            None => Err(unknown_key()),
        }
    }
}
