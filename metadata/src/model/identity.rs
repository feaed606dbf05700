//! Users and their access keys. A bucket belongs to a user; a user signs with
//! any of its keys, so a leaked key is revoked without touching buckets.

use serde::{Deserialize, Serialize};

use crate::ids::{AccessKeyId, UserName};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub name: UserName,
    pub created_unix_ms: i64,
    /// The user of keys in an edge's configuration file rather than one made
    /// with `edge admin`. Each edge claims its configured users' names at
    /// start, so that no admin-made user can take a name whose buckets (or
    /// future buckets) a configured key signs for.
    #[serde(default)]
    pub configured: bool,
}

impl UserInfo {
    /// A user made now: by `edge admin`, or claimed by an edge for a
    /// configured key (`configured`).
    pub fn new_now(name: UserName, configured: bool) -> Self {
        UserInfo {
            name,
            created_unix_ms: super::now_unix_ms(),
            configured,
        }
    }
}

/// An access key with its secret. SigV4 signs with the secret itself (an
/// HMAC key), so it is stored as is: the metadata store is as sensitive as
/// the cluster secret that guards its API.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKey {
    pub access_key: AccessKeyId,
    pub secret_key: String,
    pub user: UserName,
    pub created_unix_ms: i64,
}

impl AccessKey {
    /// A fresh key for `user`: a random id and a 40-character secret.
    pub fn generate(user: UserName, created_unix_ms: i64) -> Self {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let bytes: [u8; 40] = rand::random();
        let secret_key = bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(b % 64)]))
            .collect();
        AccessKey {
            access_key: AccessKeyId::random(),
            secret_key,
            user,
            created_unix_ms,
        }
    }

    /// The key without its secret, for listings.
    pub fn summary(&self) -> AccessKeySummary {
        AccessKeySummary {
            access_key: self.access_key.clone(),
            user: self.user.clone(),
            created_unix_ms: self.created_unix_ms,
        }
    }
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key", &self.access_key)
            .field("user", &self.user)
            .field("created_unix_ms", &self.created_unix_ms)
            .finish_non_exhaustive()
    }
}

/// An access key as listings show it: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeySummary {
    pub access_key: AccessKeyId,
    pub user: UserName,
    pub created_unix_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_differ_and_debug_hides_the_secret() {
        let user: UserName = "alice".parse().unwrap();
        let a = AccessKey::generate(user.clone(), 1);
        let b = AccessKey::generate(user, 1);
        assert_ne!(a.access_key, b.access_key);
        assert_ne!(a.secret_key, b.secret_key);
        assert_eq!(a.secret_key.len(), 40);
        assert!(!format!("{a:?}").contains(&a.secret_key));
    }
}
