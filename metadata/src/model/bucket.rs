use serde::{Deserialize, Serialize};

use crate::ids::BucketName;

/// A bucket and who owns it. The owner is the access key (later: the user) that
/// created it; requests from anyone else are refused by the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketInfo {
    pub name: BucketName,
    pub owner: String,
    pub created_unix_ms: i64,
}
