use serde::{Deserialize, Serialize};

use super::cors::CorsConfig;
use crate::ids::{BucketId, BucketName};

/// A bucket, who owns it, and who else may read it. The owner is a user name;
/// requests signed by any other user are refused by the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketInfo {
    pub name: BucketName,
    /// This creation of the name (see [`BucketId`]); records written before
    /// buckets had ids read as the nil id.
    #[serde(default)]
    pub id: BucketId,
    pub owner: String,
    pub created_unix_ms: i64,
    /// Anonymous GET and HEAD of its objects are allowed (canned ACL
    /// `public-read`), for media served straight to browsers. Nothing else
    /// is ever anonymous.
    #[serde(default)]
    pub public_read: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<CorsConfig>,
}

impl BucketInfo {
    pub fn new(name: BucketName, owner: String, created_unix_ms: i64) -> Self {
        BucketInfo {
            name,
            id: BucketId::new(),
            owner,
            created_unix_ms,
            public_read: false,
            cors: None,
        }
    }
}

/// A change to a bucket's settings, applied in one transaction so that two
/// concurrent changes of different settings cannot undo each other.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_read: Option<bool>,
    /// Replaces the CORS configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<CorsConfig>,
    /// Removes the CORS configuration (with `cors` unset).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_cors: bool,
}

impl BucketUpdate {
    pub fn apply(&self, info: &mut BucketInfo) {
        if let Some(public_read) = self.public_read {
            info.public_read = public_read;
        }
        if self.delete_cors {
            info.cors = None;
        } else if let Some(cors) = &self.cors {
            info.cors = Some(cors.clone());
        }
    }
}
