//! Request and response bodies of the internal HTTP/JSON API, shared by the
//! server ([`crate::api`]) and the client ([`crate::client`]) so the two cannot
//! drift apart. Object keys travel in JSON bodies, never in paths: a key is
//! arbitrary UTF-8 (slashes, `%`, `?`, `..`) and must arrive byte for byte.

use serde::{Deserialize, Serialize};

use crate::ids::{BucketId, BucketName, UploadId};
use crate::model::{
    AccessKeySummary, BucketInfo, ObjectData, ObjectMeta, PartRecord, UserInfo, WriteCondition,
};

/// `PUT /v1/buckets/{bucket}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateBucketRequest {
    pub owner: String,
    /// Created with the canned ACL `public-read`.
    #[serde(default)]
    pub public_read: bool,
}

/// `GET /v1/buckets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListBucketsResponse {
    pub buckets: Vec<BucketInfo>,
}

/// `POST /v1/objects/commit`: the version to make current and where its bytes
/// are. Committed in one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitObjectRequest {
    pub meta: ObjectMeta,
    pub data: ObjectData,
    #[serde(default, skip_serializing_if = "WriteCondition::is_empty")]
    pub condition: WriteCondition,
}

/// Answer of `commit` and `delete`: the version that stopped being current.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplacedResponse {
    pub replaced: Option<ObjectMeta>,
}

/// `POST /v1/objects/{get,head,delete}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectKeyRequest {
    pub bucket: BucketName,
    pub key: String,
}

/// `POST /v1/objects/heads`: the current versions of many keys in one round
/// trip. Edges check every read against the current version; batching the
/// checks of concurrent reads keeps a cache hit from costing metadata one
/// request of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadObjectsRequest {
    pub objects: Vec<ObjectKeyRequest>,
}

/// The most keys one `POST /v1/objects/heads` may ask for.
pub const MAX_HEADS_PER_REQUEST: usize = 1000;

/// One key's answer in [`HeadObjectsResponse`]: a missing key or bucket is
/// an answer about that key, not a failure of the batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadAnswer {
    Found(Box<ObjectMeta>),
    NoSuchKey,
    NoSuchBucket,
}

/// Answer of `POST /v1/objects/heads`, in the order asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadObjectsResponse {
    pub answers: Vec<HeadAnswer>,
}

/// `POST /v1/changes/poll`: an edge following the change log (see
/// [`crate::change_feed`]). Asking from `after` acknowledges every change up
/// to it and renews the edge's lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangesRequest {
    /// Names the edge's lease; unique per edge process.
    pub edge: String,
    /// The epoch of the log `after` counts in (0 on a first poll).
    pub epoch: u64,
    pub after: u64,
}

/// Answer of `POST /v1/changes/poll`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangesResponse {
    pub epoch: u64,
    /// How long the poll renewed the lease, counted from when it was sent;
    /// 0: this deployment grants no leases (replicas sharing a store), and
    /// every read must ask for the current version.
    pub lease_ms: u64,
    /// The edge must drop every kept manifest: the log starts over (a new
    /// epoch, or the edge fell too far behind).
    pub reset: bool,
    /// The sequence number of the last change answered (or of the present,
    /// after a reset): the next poll's `after`.
    pub seq: u64,
    /// The keys whose current version changed, in order.
    pub changes: Vec<ObjectKeyRequest>,
}

impl ChangesResponse {
    /// The answer of a service that grants no leases.
    pub fn no_leases() -> Self {
        ChangesResponse {
            epoch: 0,
            lease_ms: 0,
            reset: true,
            seq: 0,
            changes: Vec::new(),
        }
    }
}

/// Answer of `POST /v1/objects/get`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetObjectResponse {
    pub meta: ObjectMeta,
    pub data: ObjectData,
}

/// `GET /v1/nodes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListNodesResponse {
    pub nodes: Vec<crate::model::NodeStatus>,
}

/// `POST /v1/uploads/{get,abort}`: names one upload. The key is part of the
/// name: an upload id presented with another key is `NoSuchUpload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRequest {
    pub bucket: BucketName,
    pub key: String,
    pub upload_id: UploadId,
}

/// `POST /v1/uploads/commit-part`: a part whose shards are durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitPartRequest {
    #[serde(flatten)]
    pub upload: UploadRequest,
    pub part: PartRecord,
    pub data: ObjectData,
    /// The bucket whose ownership the request checked: the commit is
    /// `NoSuchBucket` if the name holds another bucket by now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_id: Option<BucketId>,
}

/// Answer of `commit-part`: the attempt of the same part number it replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplacedPartResponse {
    pub replaced: Option<PartRecord>,
}

/// `POST /v1/uploads/list-parts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPartsRequest {
    #[serde(flatten)]
    pub upload: UploadRequest,
    /// Only parts numbered above this (0: from the first).
    #[serde(default)]
    pub part_number_marker: u32,
    /// At most 1000.
    pub max_parts: u32,
}

/// `POST /v1/uploads/get-part`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetPartRequest {
    #[serde(flatten)]
    pub upload: UploadRequest,
    pub part_number: u32,
}

/// Answer of `get-part`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetPartResponse {
    pub part: PartRecord,
    pub data: ObjectData,
}

/// `GET /v1/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListUsersResponse {
    pub users: Vec<UserInfo>,
}

/// `GET /v1/keys`: every key, without secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListAccessKeysResponse {
    pub keys: Vec<AccessKeySummary>,
}

/// `POST /v1/garbage/retire`: data of an upload that will never be
/// committed, for the collector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetireRequest {
    pub version: crate::ids::VersionId,
    pub data: ObjectData,
}

/// The answer to a heartbeat: shard files the node should delete (no
/// manifest names them any more). The node reports them deleted in its next
/// heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatReply {
    #[serde(default)]
    pub delete: Vec<crate::ids::ShardHash>,
}

/// `GET /v1/admin/leader`: which replica leads repair and garbage
/// collection, as the replica asked sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderStatus {
    /// The replica that answered.
    pub me: crate::store::LeaseHolder,
    pub is_leader: bool,
    /// `None` between a leader's loss and its successor's election.
    pub leader: Option<crate::store::LeaseHolder>,
}

/// `GET /v1/admin/status`: the operator view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    pub nodes: Vec<crate::model::NodeStatus>,
    /// Per node, the shard files that data names: what a draining node
    /// still has to hand over.
    #[serde(default)]
    pub node_files: std::collections::BTreeMap<crate::ids::NodeId, u64>,
    /// From a walk over every manifest made for this answer.
    pub redundancy: crate::model::RedundancyReport,
    #[serde(default)]
    pub repair: crate::repair::RepairStatus,
    /// Replaced or deleted versions waiting for the grace period.
    pub garbage_versions: u64,
    /// Shard files waiting for their nodes to delete them.
    pub pending_deletions: u64,
}

/// `POST /v1/repair/claim`: tasks for the asking node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairTasks {
    pub tasks: Vec<crate::model::RepairTask>,
}

/// `POST /v1/repair/suspects`: copies found missing or corrupt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspectsRequest {
    pub shards: Vec<crate::model::SuspectShard>,
}

/// `GET /v1/nodes/{node}/files`: a page of the files a node must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeFilesPage {
    pub hashes: Vec<crate::ids::ShardHash>,
}

/// `PUT /v1/nodes/{node}/draining`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainingRequest {
    pub draining: bool,
}
