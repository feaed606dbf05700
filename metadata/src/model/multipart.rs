//! Multipart uploads: an upload in progress, its parts, and the request that
//! turns them into one object.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{BucketId, BucketName, UploadId, VersionId};
use crate::model::{ObjectHeaders, ObjectMeta, WriteCondition};

/// An upload in progress. It carries what CreateMultipartUpload was told
/// (headers, user metadata, checksum algorithm) because the object record is
/// only built at completion, possibly days later and by another gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultipartUpload {
    pub bucket: BucketName,
    pub key: String,
    pub upload_id: UploadId,
    /// The access key that initiated it.
    pub owner: String,
    pub initiated_unix_ms: i64,
    #[serde(default)]
    pub headers: ObjectHeaders,
    #[serde(default)]
    pub user_metadata: BTreeMap<String, String>,
    /// `x-amz-checksum-algorithm` given at creation (`crc32`, `sha256`, ...).
    #[serde(default)]
    pub checksum_algorithm: Option<String>,
    /// `x-amz-checksum-type`: `COMPOSITE` or `FULL_OBJECT` (how the
    /// object's checksum follows from the parts').
    #[serde(default)]
    pub checksum_type: Option<String>,
    /// The bucket it was created in (the one whose ownership
    /// CreateMultipartUpload checked): creating it is refused
    /// (`NoSuchBucket`) if the bucket changed meanwhile. `None` from
    /// older gateways and in records written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_id: Option<BucketId>,
}

/// One uploaded part. Uploading the same part number again replaces it; each
/// attempt has its own `version`, so the data of a replaced attempt can be
/// collected while a racing completion still sees a whole part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    /// 1..=10000.
    pub part_number: u32,
    /// Names this attempt's data (a row of the data table, like an object
    /// version's).
    pub version: VersionId,
    pub size: u64,
    /// Hex MD5 of the part, without quotes.
    pub etag: String,
    pub last_modified_unix_ms: i64,
    /// S3 checksums of the part, base64, keyed like [`ObjectMeta::checksums`].
    #[serde(default)]
    pub checksums: BTreeMap<String, String>,
    /// When the part's shard writes began; see
    /// [`WriteCondition::shards_written_since_unix_ms`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards_written_since_unix_ms: Option<i64>,
}

/// One page of ListParts, ascending by part number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartsPage {
    pub parts: Vec<PartRecord>,
    pub is_truncated: bool,
    /// The last part number of this page: the marker for the next one. Set
    /// only when `is_truncated`.
    pub next_part_number_marker: Option<u32>,
}

/// ListMultipartUploads: uploads of a bucket in (key, upload id) order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadsQuery {
    pub bucket: BucketName,
    /// Only keys starting with this.
    #[serde(default)]
    pub prefix: String,
    /// Alone: only keys strictly after it. With `upload_id_marker`: also the
    /// uploads of this very key whose id is after the marker.
    pub key_marker: Option<String>,
    pub upload_id_marker: Option<UploadId>,
    /// Keys containing it after the prefix roll up into one common prefix
    /// (up to and including it), listed once in place of their uploads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// At most 1000, counting uploads and common prefixes.
    pub max_uploads: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadsPage {
    pub uploads: Vec<MultipartUpload>,
    /// With a delimiter: the rolled-up key prefixes, in order.
    #[serde(default)]
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// The last entry of this page, as the markers of the next one (a
    /// common prefix has no upload id marker). Set only when `is_truncated`.
    pub next_key_marker: Option<String>,
    pub next_upload_id_marker: Option<UploadId>,
}

/// CompleteMultipartUpload, checked and applied in one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteRequest {
    pub upload_id: UploadId,
    /// The final record (bucket, key, a fresh version, size, `"<hex>-N"`
    /// etag, headers) as the gateway built it. The store sets `part_sizes`.
    pub object: ObjectMeta,
    /// `(part number, etag without quotes)` in the order the client listed
    /// them; must be strictly ascending.
    pub parts: Vec<(u32, String)>,
    /// Every listed part but the last must be at least this big (S3: 5 MiB).
    pub min_part_size: u64,
    /// Precondition on the key's current version (conditional completion).
    #[serde(default, skip_serializing_if = "WriteCondition::is_empty")]
    pub condition: WriteCondition,
}
