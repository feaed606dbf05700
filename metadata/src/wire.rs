//! Request and response bodies of the internal HTTP/JSON API, shared by the
//! server ([`crate::api`]) and the client ([`crate::client`]) so the two cannot
//! drift apart. Object keys travel in JSON bodies, never in paths: a key is
//! arbitrary UTF-8 (slashes, `%`, `?`, `..`) and must arrive byte for byte.

use serde::{Deserialize, Serialize};

use crate::ids::BucketName;
use crate::model::{BucketInfo, ObjectData, ObjectMeta};

/// `PUT /v1/buckets/{bucket}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateBucketRequest {
    pub owner: String,
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
