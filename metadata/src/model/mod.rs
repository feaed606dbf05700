//! The records the metadata service stores and serves. These are also the wire
//! types of its internal API: gateways, edges and storage nodes share them.

mod bucket;
mod cors;
mod identity;
mod listing;
mod manifest;
mod multipart;
mod node;
mod object;
mod redundancy;
mod repair;

pub use bucket::{BucketInfo, BucketUpdate};
pub use cors::{CorsConfig, CorsRule, MAX_CORS_RULES};
pub use identity::{AccessKey, AccessKeySummary, UserInfo};
pub use listing::{ListPage, ListQuery};
pub use manifest::{ErasureCode, Manifest, ShardRef, Stripe};
pub use multipart::{
    CompleteRequest, MultipartUpload, PartRecord, PartsPage, UploadsPage, UploadsQuery,
};
pub use node::{NodeHeartbeat, NodeLatency, NodeState, NodeStatus};
pub use object::{ObjectData, ObjectHeaders, ObjectMeta, WriteCondition};
pub use redundancy::RedundancyReport;
pub use repair::{
    MoveOutcome, RepairClaim, RepairOutcome, RepairReport, RepairSource, RepairTask, ScrubProgress,
    ShardMove, ShardSlot, SuspectShard,
};

/// Milliseconds since the Unix epoch: the one timestamp format on the wire.
pub fn now_unix_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}
