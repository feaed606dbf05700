//! The storage seam: every durable record of the metadata service goes through
//! [`MetaStore`]. The embedded [`RedbStore`] is the zero-setup default; a
//! PostgreSQL backend will implement the same trait, so the trait speaks only
//! in model types, byte-ordered keys and [`StoreError`], never in one engine's
//! terms.
//!
//! Records and their layout, for every backend:
//! - `buckets`: name -> [`BucketInfo`].
//! - `objects`: `bucket \0 key` -> [`ObjectMeta`], ordered bytewise so that a
//!   listing is one range scan. Bucket names never contain `\0`, so the first
//!   `\0` separates the two parts unambiguously.
//! - `data`: [`VersionId`] -> [`ObjectData`]. Kept apart from `objects` so a
//!   listing never reads or decodes a manifest.
//! - `garbage`: [`VersionId`] -> data of versions that were replaced or
//!   deleted, waiting for the garbage collector.
//! - `nodes`: [`NodeId`](crate::ids::NodeId) -> last persisted heartbeat.
//! - `uploads`: `bucket \0 key \0 upload id (16 bytes)` -> [`MultipartUpload`],
//!   so ListMultipartUploads is one range scan in (key, upload id) order.
//!   (A key containing `\0` may sort out of place among its neighbours; S3
//!   keys travel in XML, which cannot carry NUL, so no real client has one.)
//! - `parts`: `upload id (16 bytes) part number (4 bytes, big-endian)` ->
//!   [`PartRecord`]: an upload's parts are contiguous and in number order.
//!   A part's data is a row of `data` under the part's own [`VersionId`], so
//!   replacing a part, aborting and completing move data exactly as object
//!   overwrites do.
//! - `shard_refs`, `shard_deletions`, `shards_deleted`: per shard file
//!   (`node \0 hash`), how many rows of `data` and `garbage` name it, since
//!   when none does (its node should delete it), and when its node confirmed
//!   the deletion. Shards are content-addressed, so one file can be named by
//!   several versions; only the count says when it may go.
//! - `users`: [`UserName`] -> [`UserInfo`].
//! - `access_keys`: [`AccessKeyId`] -> [`AccessKey`]. A handful per user,
//!   so finding a user's keys is a scan of the table.

mod codec;
#[cfg(test)]
pub(crate) mod conformance;
pub mod copy_to_postgres;
pub(crate) mod keys;
pub mod postgres;
mod redb_store;
mod redb_writer;
mod rules;

use std::ops::Bound;
use std::time::Duration;

use async_trait::async_trait;

use crate::ids::{
    AccessKeyId, BucketId, BucketName, NodeId, ShardHash, UploadId, UserName, VersionId,
};
use crate::model::{
    AccessKey, BucketInfo, BucketUpdate, CompleteRequest, MoveOutcome, MultipartUpload,
    NodeHeartbeat, ObjectData, ObjectMeta, PartRecord, PartsPage, ShardMove, UploadsPage,
    UploadsQuery, UserInfo, WriteCondition,
};

pub use keys::{common_prefix_len, prefix_successor};
pub use postgres::{PgOptions, PgStore};
pub use redb_store::{RedbOptions, RedbStore};

/// Why a store operation failed. The first three are answers about the data;
/// the rest are trouble with the store itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("no such bucket")]
    NoSuchBucket,
    /// Carries the owner so the caller can tell "yours already" from "taken".
    #[error("bucket already exists (owner {owner})")]
    BucketAlreadyExists { owner: String },
    #[error("bucket is not empty")]
    BucketNotEmpty,
    /// The version id is already used by another key, or was already
    /// retired to garbage: each write needs a fresh [`VersionId`].
    #[error("the version id is already in use")]
    VersionInUse,
    /// No upload of that id under that bucket and key.
    #[error("no such multipart upload")]
    NoSuchUpload,
    /// A part named by a completion is missing or has another ETag, or a
    /// part asked for is missing.
    #[error("invalid part: {0}")]
    InvalidPart(String),
    /// A completion's part list is empty or not strictly ascending.
    #[error("the parts are not listed in strictly ascending order")]
    InvalidPartOrder,
    #[error("part {part_number} is {size} bytes; every part but the last needs {min}")]
    EntityTooSmall {
        part_number: u32,
        size: u64,
        min: u64,
    },
    /// A conditional write's precondition did not hold.
    #[error("precondition failed")]
    PreconditionFailed,
    /// A conditional write expected a current version and there is none.
    #[error("no such key")]
    NoSuchKey,
    /// The request contradicts the stored records (a completion whose size
    /// is not the sum of its parts, parts of different erasure codes).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The engine failed (I/O, a failed commit). Backend-neutral: the engine's
    /// error rendered as text.
    #[error("storage backend error: {0}")]
    Backend(String),
    #[error("no such user")]
    NoSuchUser,
    /// A user of that name exists, or the name already owns buckets: the
    /// user of a key in the edges' configuration (its buckets name it as
    /// owner). A new user of that name would sign for those buckets.
    #[error("the user already exists")]
    UserAlreadyExists,
    /// A user who owns buckets cannot be deleted: the buckets would have no
    /// owner anyone could sign as.
    #[error("the user owns buckets")]
    UserOwnsBuckets,
    #[error("no such access key")]
    NoSuchAccessKey,
    #[error("the access key id is already in use")]
    AccessKeyExists,
    #[error("no such storage node")]
    NoSuchNode,
    /// A node whose files the data still names cannot be forgotten: drain
    /// it first.
    #[error("the node still holds {files} shard files that data names")]
    NodeHoldsShards { files: u64 },
    /// A shard file the write names was deleted by the garbage collector
    /// after the write began (or is being deleted): the write must be sent
    /// again.
    #[error("a shard of the write was collected meanwhile; retry the write")]
    ShardsCollected,
    /// A stored record could not be decoded.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The store was shut down (or its writer stopped) while the call was
    /// in flight.
    #[error("the store is shut down")]
    Closed,
}

/// A node as persisted: its last heartbeat that changed how it is reached, and
/// when that was. Capacity fields may be stale; the registry keeps the live
/// values in memory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeRecord {
    pub heartbeat: NodeHeartbeat,
    pub last_seen_unix_ms: i64,
    /// An operator is emptying the node: it takes no new shards and repair
    /// moves its shards elsewhere. Kept by [`MetaStore::put_node`]; changed
    /// only by [`MetaStore::set_node_draining`].
    #[serde(default)]
    pub draining: bool,
}

/// The data of a version that is no longer reachable by name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GarbageEntry {
    pub version: VersionId,
    pub data: ObjectData,
    /// When it became garbage. A collector must wait a grace period after
    /// this before deleting shards: a GET that resolved the old manifest just
    /// before the overwrite may still be streaming it.
    pub since_unix_ms: i64,
}

/// Who holds a lease (see [`MetaStore::acquire_lease`]): a metadata
/// replica's id and the address it serves its API on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LeaseHolder {
    pub id: String,
    pub addr: String,
}

/// The metadata service's durable state. Every method is one atomic step:
/// a caller never observes half of an operation, and an `Ok` means durable.
#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// `BucketAlreadyExists { owner }` if the name is taken (by anyone).
    async fn create_bucket(&self, info: BucketInfo) -> Result<(), StoreError>;

    async fn get_bucket(&self, name: &BucketName) -> Result<Option<BucketInfo>, StoreError>;

    /// Sorted by name.
    async fn list_buckets(&self) -> Result<Vec<BucketInfo>, StoreError>;

    /// Applies `update` to the bucket's settings and returns the result.
    /// `NoSuchBucket`.
    async fn update_bucket(
        &self,
        name: &BucketName,
        update: BucketUpdate,
    ) -> Result<BucketInfo, StoreError>;

    /// `NoSuchBucket`, or `BucketNotEmpty` while it holds an object. Its
    /// uploads in progress are aborted in the same transaction, their parts'
    /// data moved to garbage as [`MetaStore::abort_upload`] moves it (S3
    /// deletes a bucket with unfinished uploads).
    async fn delete_bucket(&self, name: &BucketName) -> Result<(), StoreError>;

    /// Makes `meta` the current version of `(meta.bucket, meta.key)` with its
    /// bytes at `data`, in one transaction, and moves the data of the version
    /// it replaces to garbage. Returns the replaced version. Committing the
    /// same version id again for the same key (a retried commit) rewrites it
    /// in place and replaces nothing; reusing a version id anywhere else is
    /// `VersionInUse`. `NoSuchBucket` if the bucket is missing.
    ///
    /// Every write into a bucket may carry the [`BucketId`] its request
    /// checked (here in [`WriteCondition::bucket_id`]); it is `NoSuchBucket`
    /// when the name now holds another creation, decided in the write's
    /// own transaction.
    async fn commit_object(
        &self,
        meta: ObjectMeta,
        data: ObjectData,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        self.commit_object_if(meta, data, WriteCondition::default())
            .await
    }

    /// [`MetaStore::commit_object`], refused unless `condition` holds for the
    /// key's current version, decided in the commit's own transaction:
    /// `PreconditionFailed` when a version exists and fails it, `NoSuchKey`
    /// when `if_match` names a version and there is none (as S3 answers).
    async fn commit_object_if(
        &self,
        meta: ObjectMeta,
        data: ObjectData,
        condition: WriteCondition,
    ) -> Result<Option<ObjectMeta>, StoreError>;

    /// The current version and its data. `NoSuchBucket` if the bucket is
    /// missing, `Ok(None)` if the key is.
    async fn get_object(
        &self,
        bucket: &BucketName,
        key: &str,
    ) -> Result<Option<(ObjectMeta, ObjectData)>, StoreError>;

    /// Like [`MetaStore::get_object`] without reading the data.
    async fn head_object(
        &self,
        bucket: &BucketName,
        key: &str,
    ) -> Result<Option<ObjectMeta>, StoreError>;

    /// Removes the key and moves its data to garbage; returns what was
    /// removed. `NoSuchBucket` if the bucket is missing.
    async fn delete_object(
        &self,
        bucket: &BucketName,
        key: &str,
    ) -> Result<Option<ObjectMeta>, StoreError>;

    /// Up to `limit` objects of `bucket` whose key starts with `prefix` and
    /// lies within `from` (inclusive or exclusive lower bound on the key's
    /// bytes), in bytewise key order. `from` is bytes, not text, because the
    /// successor of a prefix (to skip past it) need not be valid UTF-8.
    /// `NoSuchBucket` if the bucket is missing.
    async fn scan_objects(
        &self,
        bucket: &BucketName,
        prefix: &str,
        from: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ObjectMeta>, StoreError>;

    /// A scan for delimiter listings: like [`MetaStore::scan_objects`], but
    /// once a key rolls up into a common prefix (see [`common_prefix_len`]),
    /// only that first key is returned and the scan SEEKS past every other
    /// key under the prefix instead of reading them. So each returned object
    /// is a distinct listing entry, and a folder of a million keys costs one
    /// seek. The default does it with one `scan_objects` call per skipped
    /// prefix; a backend overrides it to seek inside one read transaction.
    async fn scan_rolled_up(
        &self,
        bucket: &BucketName,
        prefix: &str,
        delimiter: &str,
        from: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ObjectMeta>, StoreError> {
        skip_scan(self, bucket, prefix, delimiter, from, limit).await
    }

    /// Persists a node's heartbeat, replacing its previous record but
    /// keeping whether it is draining.
    async fn put_node(
        &self,
        heartbeat: NodeHeartbeat,
        last_seen_unix_ms: i64,
    ) -> Result<(), StoreError>;

    /// Every persisted node, sorted by id.
    async fn list_nodes(&self) -> Result<Vec<NodeRecord>, StoreError>;

    /// Starts or stops draining a node. `NoSuchNode`.
    async fn set_node_draining(&self, id: &NodeId, draining: bool) -> Result<(), StoreError>;

    /// Forgets a node and the deletions still queued for it.
    /// `NodeHoldsShards` while any data or garbage row names a file on it,
    /// `NoSuchNode`.
    async fn remove_node(&self, id: &NodeId) -> Result<(), StoreError>;

    /// The files on `node` that data or garbage rows name, in hash order
    /// after `after`: what the node must hold. Up to `limit`.
    async fn node_files(
        &self,
        node: &NodeId,
        after: Option<ShardHash>,
        limit: usize,
    ) -> Result<Vec<ShardHash>, StoreError>;

    /// How many files on each node data or garbage rows name.
    async fn files_per_node(&self) -> Result<Vec<(NodeId, u64)>, StoreError>;

    /// Up to `limit` rows of `data` (committed objects and upload parts)
    /// after `after`, in version order: the walk of repair and of the
    /// redundancy report. Each call is its own read, so a long walk never
    /// holds one transaction open.
    async fn scan_data(
        &self,
        after: Option<VersionId>,
        limit: usize,
    ) -> Result<Vec<(VersionId, ObjectData)>, StoreError>;

    /// Applies repair's manifest moves, each in the transaction of its
    /// batch: a moved shard's file gains a reference on the new node and
    /// loses one on the old (queued for deletion there at zero). A move
    /// whose slot changed meanwhile is `Stale`, one whose new file is being
    /// (or was since the copy began) collected is `Collected`; neither
    /// changes anything.
    async fn move_shards(&self, moves: Vec<ShardMove>) -> Result<Vec<MoveOutcome>, StoreError>;

    /// Starts (or, retried with the same id, rewrites) an upload.
    /// `NoSuchBucket`, also when the bucket is not `upload.bucket_id`.
    async fn create_upload(&self, upload: MultipartUpload) -> Result<(), StoreError>;

    /// `Ok(None)` if there is no such upload under this bucket and key.
    async fn get_upload(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &UploadId,
    ) -> Result<Option<MultipartUpload>, StoreError>;

    /// Records a part with its bytes at `data`, replacing the attempt of the
    /// same number (whose data moves to garbage; it is returned). A retry of
    /// the same attempt (same version) rewrites it and replaces nothing; a
    /// version used anywhere else is `VersionInUse`. `NoSuchUpload`; the
    /// refused part's data then goes straight to garbage, because its shards
    /// are already written and nothing else will ever name them.
    /// `NoSuchBucket` when the bucket is not `bucket_id` (the one the
    /// request checked), before the upload is looked at.
    async fn commit_part(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &UploadId,
        part: PartRecord,
        data: ObjectData,
        bucket_id: Option<BucketId>,
    ) -> Result<Option<PartRecord>, StoreError>;

    /// Up to `limit` parts numbered above `after`, ascending. `NoSuchUpload`.
    async fn list_parts(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &UploadId,
        after: u32,
        limit: usize,
    ) -> Result<PartsPage, StoreError>;

    /// A part and its data: `Ok(None)` if the upload has no such part,
    /// `NoSuchUpload` if there is no upload.
    async fn get_part(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &UploadId,
        part_number: u32,
    ) -> Result<Option<(PartRecord, ObjectData)>, StoreError>;

    /// Completes an upload in one transaction: checks the bucket
    /// (`NoSuchBucket`, also when it is not `req.condition.bucket_id`) and
    /// the listed parts (`NoSuchUpload`, `InvalidPartOrder`, `InvalidPart`,
    /// `EntityTooSmall`, `Invalid` for a size or erasure-code mismatch or an
    /// inline part, `VersionInUse`), makes `req.object` (with `part_sizes` and
    /// `upload_id` set) current with the listed parts' stripes concatenated
    /// as its data, moves the replaced version's data and the unlisted
    /// parts' data to garbage, and removes the upload and its parts. The
    /// listed parts' data rows are removed, not retired: their shards now
    /// belong to the object. Returns the replaced version. A retry after
    /// success (no upload, and the key's current version is
    /// `req.object.version`) answers `Ok(None)`; with another version it is
    /// `NoSuchUpload`, and the current version's `upload_id` tells whether
    /// the upload was completed into it.
    async fn complete_upload(&self, req: CompleteRequest)
    -> Result<Option<ObjectMeta>, StoreError>;

    /// Removes the upload and its parts, moving all their data to garbage.
    /// `NoSuchUpload`.
    async fn abort_upload(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &UploadId,
    ) -> Result<(), StoreError>;

    /// One page of a bucket's uploads in (key, upload id) order; see
    /// [`UploadsQuery`]. `NoSuchBucket`.
    async fn list_uploads(&self, q: &UploadsQuery) -> Result<UploadsPage, StoreError>;

    /// `UserAlreadyExists` if a user of that name exists, or, unless
    /// `user.configured`, if the name owns buckets (a configured user
    /// claims a name whose buckets its keys already own).
    async fn create_user(&self, user: UserInfo) -> Result<(), StoreError>;

    /// Sorted by name.
    async fn list_users(&self) -> Result<Vec<UserInfo>, StoreError>;

    /// Removes the user and revokes all its keys. `NoSuchUser`, or
    /// `UserOwnsBuckets` while any bucket is the user's.
    async fn delete_user(&self, name: &UserName) -> Result<(), StoreError>;

    /// `NoSuchUser` if `key.user` does not exist, `AccessKeyExists` if the
    /// id is taken.
    async fn create_access_key(&self, key: AccessKey) -> Result<(), StoreError>;

    async fn get_access_key(&self, id: &AccessKeyId) -> Result<Option<AccessKey>, StoreError>;

    /// Every key, sorted by id.
    async fn list_access_keys(&self) -> Result<Vec<AccessKey>, StoreError>;

    /// Revokes a key: requests it signs are refused from then on.
    /// `NoSuchAccessKey`.
    async fn delete_access_key(&self, id: &AccessKeyId) -> Result<(), StoreError>;

    /// Up to `limit` garbage entries, oldest version first.
    async fn list_garbage(&self, limit: usize) -> Result<Vec<GarbageEntry>, StoreError>;

    /// Forgets garbage entries, dropping their shard references: a file
    /// no data or garbage row names any more is queued for deletion on its
    /// node. Unknown ids are ignored, so a retried removal succeeds.
    async fn remove_garbage(&self, versions: &[VersionId]) -> Result<(), StoreError>;

    /// Hands data that will never be committed (a refused upload's) to the
    /// collector, as garbage whose references count like any other.
    /// `VersionInUse` if the version is data or garbage already.
    async fn retire_data(&self, version: VersionId, data: ObjectData) -> Result<(), StoreError>;

    /// Up to `limit` shard files `node` should delete: no row names them.
    async fn pending_deletions(
        &self,
        node: &NodeId,
        limit: usize,
    ) -> Result<Vec<ShardHash>, StoreError>;

    /// `node` deleted these files. Commits whose shard writes began before
    /// now and that name one of them are refused from here on.
    async fn confirm_deletions(
        &self,
        node: &NodeId,
        hashes: &[ShardHash],
    ) -> Result<(), StoreError>;

    /// Garbage rows waiting for the grace period, and shard files waiting
    /// for their nodes to delete them.
    async fn gc_backlog(&self) -> Result<(u64, u64), StoreError>;

    /// Forgets confirmed deletions older than `before_unix_ms` (far older
    /// than any write in flight).
    async fn prune_deleted(&self, before_unix_ms: i64) -> Result<(), StoreError>;

    /// Takes the lease `name` for `holder` for `ttl`, or renews it if
    /// `holder` has it already; returns who holds it now (`None`: nobody,
    /// an expired lease another replica is about to take). Work that must
    /// have one owner among replicas sharing a store runs only while its
    /// lease is held. The default suits a store only one process can open:
    /// that process always holds every lease.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &LeaseHolder,
        ttl: Duration,
    ) -> Result<Option<LeaseHolder>, StoreError> {
        let _ = (name, ttl);
        Ok(Some(holder.clone()))
    }

    /// Gives a lease up (at shutdown), so another replica need not wait for
    /// it to expire. Releasing a lease one does not hold does nothing.
    async fn release_lease(&self, name: &str, holder: &LeaseHolder) -> Result<(), StoreError> {
        let _ = (name, holder);
        Ok(())
    }

    /// Whether several processes may share this store at once (and so
    /// must share node liveness through it and elect a leader).
    fn is_shared(&self) -> bool {
        false
    }
}

/// The backend-neutral [`MetaStore::scan_rolled_up`]: scan in chunks; keys
/// under the common prefix just returned are skipped within a chunk, and a
/// chunk that ends inside that prefix continues from the prefix's successor.
async fn skip_scan<S: MetaStore + ?Sized>(
    store: &S,
    bucket: &BucketName,
    prefix: &str,
    delimiter: &str,
    from: Bound<&[u8]>,
    limit: usize,
) -> Result<Vec<ObjectMeta>, StoreError> {
    /// Scan size after a seek: the keys that follow may all sit under the
    /// next common prefix and would be read for nothing.
    const AFTER_SEEK: usize = 16;
    let mut out = Vec::new();
    let mut from: Bound<Vec<u8>> = from.map(<[u8]>::to_vec);
    let mut open: Option<Vec<u8>> = None;
    let mut chunk = AFTER_SEEK;
    'scan: while out.len() < limit {
        let batch = store
            .scan_objects(bucket, prefix, from.as_ref().map(Vec::as_slice), chunk)
            .await?;
        let exhausted = batch.len() < chunk;
        let mut last = None;
        for meta in batch {
            let key = meta.key.as_bytes().to_vec();
            if open.as_ref().is_some_and(|cp| key.starts_with(cp)) {
                last = Some(key);
                continue;
            }
            if out.len() == limit {
                break 'scan;
            }
            if let Some(end) = common_prefix_len(&key, prefix.as_bytes(), delimiter.as_bytes()) {
                open = Some(key[..end].to_vec());
            }
            out.push(meta);
            last = Some(key);
        }
        let Some(last) = last else { break };
        if exhausted {
            break;
        }
        match &open {
            Some(cp) if last.starts_with(cp) => match prefix_successor(cp) {
                Some(next) => {
                    from = Bound::Included(next);
                    chunk = AFTER_SEEK;
                }
                None => break,
            },
            _ => {
                from = Bound::Excluded(last);
                chunk = (chunk * 2).min(1024);
            }
        }
    }
    Ok(out)
}
