//! The shard API's wire format, shared by the server ([`crate::api`]) and the
//! client ([`crate::client`]) so the two cannot drift apart.
//!
//! Routes: `PUT`, `GET`, `HEAD`, `DELETE /v1/shards/{hash}`, and
//! `POST /v1/shards/{hash}/verify` (hash the stored copy now; 204, or 410
//! if it was rotten and is now quarantined).
//!
//! Shard bodies are raw bytes (`application/octet-stream`). Errors are JSON
//! `{"code": "...", "message": "..."}` with one status per code:
//!
//! | status | code | meaning |
//! |---|---|---|
//! | 400 | `InvalidShardHash` | the path does not name a shard (64 lowercase hex) |
//! | 400 | `IncompleteBody` | the upload broke off before its end; nothing was stored |
//! | 401 | (plain text) | missing or wrong cluster secret |
//! | 404 | `ShardNotFound` | this node does not hold the shard |
//! | 410 | `ShardCorrupt` | the stored copy failed the node's own verification and was quarantined: read it elsewhere and repair (a GET is not hashed by the node: its client verifies the bytes on arrival) |
//! | 413 | `ShardTooLarge` | over the node's maximum shard size |
//! | 422 | `HashMismatch` | the uploaded bytes do not hash to the name; nothing was stored |
//! | 500 | `InternalError` | disk or other local trouble; details are in the node's log |
//! | 507 | `InsufficientStorage` | out of capacity or disk space |

use serde::{Deserialize, Serialize};

use metadata::ids::ShardHash;

/// The JSON body of every error answer (except 401, which the shared auth
/// middleware writes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

pub const CODE_INVALID_HASH: &str = "InvalidShardHash";
pub const CODE_NOT_FOUND: &str = "ShardNotFound";
pub const CODE_CORRUPT: &str = "ShardCorrupt";
pub const CODE_TOO_LARGE: &str = "ShardTooLarge";
pub const CODE_HASH_MISMATCH: &str = "HashMismatch";
pub const CODE_INTERNAL: &str = "InternalError";
pub const CODE_FULL: &str = "InsufficientStorage";
pub const CODE_BAD_BODY: &str = "IncompleteBody";

/// The path of one shard, relative to the node's address.
pub fn shard_url_path(hash: &ShardHash) -> String {
    format!("/v1/shards/{hash}")
}
