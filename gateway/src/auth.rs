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
//! Known and unknown keys are kept apart, each bounded and evicting its least
//! recently used: only real keys enter the first, so a client spraying
//! made-up key ids pushes out other made-up ids, never a real key.
//!
//! An unknown access key is `InvalidAccessKeyId`, as S3 answers it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use metadata::client::MetadataClient;
use metadata::error::MetadataError;
use metadata::ids::AccessKeyId;
use moka::sync::Cache;
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

use crate::config::Credential;

/// How long a key looked up in metadata is trusted: the longest a revoked
/// key may still be accepted once its lookup is done. With the lookup's own
/// time and the request in flight, the README's promise (refused on every
/// edge within 2 s of the revocation) keeps a margin.
pub const KEY_CACHE_TTL: Duration = Duration::from_millis(1500);

/// Real keys kept (their secrets, for the signature check).
const MAX_KNOWN: u64 = 100_000;

/// Unknown key ids remembered.
const MAX_UNKNOWN: u64 = 10_000;

/// The secret of an access key and the user it signs for.
#[derive(Clone)]
struct Identity {
    secret: SecretKey,
    user: String,
}

pub struct KeyDirectory {
    fixed: HashMap<String, Identity>,
    meta: MetadataClient,
    /// Keys metadata knows, with when it last said so.
    known: Cache<String, (Identity, Instant)>,
    /// Key ids metadata said it does not know, for [`KEY_CACHE_TTL`].
    unknown: Cache<String, ()>,
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
            known: Cache::builder()
                .max_capacity(MAX_KNOWN)
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .build(),
            unknown: Cache::builder()
                .max_capacity(MAX_UNKNOWN)
                .time_to_live(KEY_CACHE_TTL)
                .build(),
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
        let cached = self.known.get(access_key);
        if let Some((identity, at)) = &cached
            && at.elapsed() < KEY_CACHE_TTL
        {
            return Ok(Some(identity.clone()));
        }
        if self.unknown.contains_key(access_key) {
            return Ok(None);
        }
        let Ok(id) = access_key.parse::<AccessKeyId>() else {
            return Ok(None);
        };
        match self.meta.get_access_key(&id).await {
            Ok(key) => {
                let identity = Identity {
                    secret: SecretKey::from(key.secret_key),
                    user: key.user.to_string(),
                };
                self.known
                    .insert(access_key.to_owned(), (identity.clone(), Instant::now()));
                Ok(Some(identity))
            }
            Err(MetadataError::NoSuchAccessKey) => {
                self.known.invalidate(access_key);
                self.unknown.insert(access_key.to_owned(), ());
                Ok(None)
            }
            Err(e) => {
                // Keep serving a key we knew while metadata is away.
                if let Some((known, _)) = cached {
                    tracing::warn!(error = %e, "access key lookup failed; using the cached key");
                    return Ok(Some(known));
                }
                tracing::warn!(error = %e, "access key lookup failed");
                Err(S3Error::with_message(
                    S3ErrorCode::ServiceUnavailable,
                    "The metadata service is unavailable; please retry.",
                ))
            }
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
