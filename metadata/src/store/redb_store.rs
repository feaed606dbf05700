//! The embedded backend: one redb file, `<data_dir>/metadata.redb`.
//!
//! Why redb: it is pure Rust (no C toolchain, no sidecar process), keeps
//! everything in one file an operator can back up, gives ACID transactions
//! with an fsync on every durable commit, and is an ordered B-tree, so a key
//! listing is a range scan and skipping a folder is one seek. Its copy-on-write
//! pages with checksummed commit slots make it crash-safe under `kill -9`: on
//! reopen the last committed transaction is there, whole. It allows one writer
//! at a time, which [`super::redb_writer`] turns into group commit.
//!
//! redb calls block, so reads run on `spawn_blocking` and writes on the
//! writer thread; no async task ever waits on the disk.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use async_trait::async_trait;
use redb::{Database, Durability, ReadTransaction, ReadableTable, TableDefinition};
use tokio::sync::{mpsc, oneshot};

use super::codec::{decode, encode};
use super::keys::{common_prefix_len, object_key, prefix_successor};
use super::keys::{hash_of_shard_file_key, node_prefix, shard_file_key};
use super::redb_writer::shard_refs::file_keys;
use super::redb_writer::{self, WriteOp, WriteOutcome, WriteRequest};
use super::{GarbageEntry, MetaStore, NodeRecord, StoreError};
use crate::ids::{
    AccessKeyId, BucketId, BucketName, NodeId, ShardHash, UploadId, UserName, VersionId,
};
use crate::model::{
    AccessKey, BucketInfo, BucketUpdate, CompleteRequest, MoveOutcome, MultipartUpload,
    NodeHeartbeat, ObjectData, ObjectMeta, PartRecord, PartsPage, ShardMove, UploadsPage,
    UploadsQuery, UserInfo, WriteCondition,
};

mod multipart;

pub(super) const BUCKETS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("buckets");
pub(super) const OBJECTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("objects");
/// Keyed by the version's UUID as a big-endian u128: UUIDv7 ids sort by time.
pub(super) const DATA: TableDefinition<u128, &[u8]> = TableDefinition::new("data");
pub(super) const GARBAGE: TableDefinition<u128, &[u8]> = TableDefinition::new("garbage");
/// `node \0 hash` -> how many data and garbage rows name that file.
pub(super) const SHARD_REFS: TableDefinition<&[u8], u64> = TableDefinition::new("shard_refs");
/// `node \0 hash` -> since when no row names it: the node should delete it.
pub(super) const SHARD_DELETIONS: TableDefinition<&[u8], i64> =
    TableDefinition::new("shard_deletions");
/// `node \0 hash` -> when the node confirmed the deletion.
pub(super) const SHARDS_DELETED: TableDefinition<&[u8], i64> =
    TableDefinition::new("shards_deleted");
/// Markers of one-time upgrades of the file's contents.
const UPGRADES: TableDefinition<&str, i64> = TableDefinition::new("upgrades");
pub(super) const NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("nodes");
/// `bucket \0 key \0 upload id` -> upload; see [`super::keys::upload_key`].
pub(super) const UPLOADS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("uploads");
/// `upload id, part number` -> part; see [`super::keys::part_key`].
pub(super) const PARTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("parts");
pub(super) const USERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("users");
pub(super) const ACCESS_KEYS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("access_keys");

/// The file name inside the data folder.
pub const DB_FILE_NAME: &str = "metadata.redb";

/// Room for writers to queue while a batch commits; beyond it callers wait,
/// which is the backpressure a flood of PUTs needs.
const QUEUE_DEPTH: usize = 4096;

/// How a [`RedbStore`] is opened.
#[derive(Debug, Clone)]
pub struct RedbOptions {
    /// Fsync every commit before acknowledging it (the default). `false` only
    /// for loading benchmark data: acknowledged writes may then be lost on a
    /// crash.
    pub durable: bool,
    /// redb's page cache, in bytes (redb's default is 1 GiB).
    pub cache_size_bytes: Option<usize>,
}

impl Default for RedbOptions {
    fn default() -> Self {
        RedbOptions {
            durable: true,
            cache_size_bytes: None,
        }
    }
}

/// The embedded [`MetaStore`]. Dropping it finishes the queued writes and
/// closes the file, so the same folder can be opened again at once.
pub struct RedbStore {
    db: Arc<Database>,
    path: PathBuf,
    writes: Option<mpsc::Sender<WriteRequest>>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .finish()
    }
}

impl RedbStore {
    /// Opens (or creates) `<data_dir>/metadata.redb`, creating the folder if
    /// needed. Blocking: after a crash redb may first repair the file.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(data_dir, RedbOptions::default())
    }

    pub fn open_with(data_dir: &Path, options: RedbOptions) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::Backend(format!("creating {}: {e}", data_dir.display())))?;
        let path = data_dir.join(DB_FILE_NAME);
        let mut builder = Database::builder();
        if let Some(bytes) = options.cache_size_bytes {
            builder.set_cache_size(bytes);
        }
        let db = builder
            .create(&path)
            .map_err(|e| StoreError::Backend(format!("opening {}: {e}", path.display())))?;
        // Create every table up front, so readers never meet a missing one.
        let txn = db.begin_write()?;
        for t in [BUCKETS, OBJECTS, NODES, UPLOADS, PARTS, USERS, ACCESS_KEYS] {
            txn.open_table(t)?;
        }
        for t in [DATA, GARBAGE] {
            txn.open_table(t)?;
        }
        for t in [SHARD_DELETIONS, SHARDS_DELETED] {
            txn.open_table(t)?;
        }
        txn.open_table(SHARD_REFS)?;
        count_existing_refs(&txn)?;
        txn.commit()?;

        let db = Arc::new(db);
        let durability = if options.durable {
            Durability::Immediate
        } else {
            Durability::Eventual
        };
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let writer = redb_writer::spawn(db.clone(), durability, rx)
            .map_err(|e| StoreError::Backend(format!("starting the writer thread: {e}")))?;
        Ok(RedbStore {
            db,
            path,
            writes: Some(tx),
            writer: Some(writer),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn write(&self, op: WriteOp) -> Result<WriteOutcome, StoreError> {
        let sender = self.writes.as_ref().ok_or(StoreError::Closed)?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(WriteRequest { op, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn write_replaced(&self, op: WriteOp) -> Result<Option<ObjectMeta>, StoreError> {
        match self.write(op).await? {
            WriteOutcome::Replaced(old) => Ok(old),
            WriteOutcome::Done
            | WriteOutcome::Bucket(_)
            | WriteOutcome::ReplacedPart(_)
            | WriteOutcome::Moves(_) => Ok(None),
        }
    }

    /// Runs `f` in a read transaction on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&ReadTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_read()?;
            f(&txn)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("read task failed: {e}")))?
    }

    /// Both scans in one read transaction. With a delimiter, a key that opens
    /// a common prefix is returned and the range is reopened at the prefix's
    /// successor: a B-tree seek, so the keys under it are never read. The
    /// decision uses the table key alone; only returned entries are decoded.
    async fn scan(
        &self,
        bucket: &BucketName,
        prefix: &str,
        delimiter: Option<&str>,
        from: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ObjectMeta>, StoreError> {
        let bucket = bucket.clone();
        let head_len = bucket.as_str().len() + 1;
        let start = object_key(&bucket, prefix.as_bytes());
        let prefix_len = start.len();
        // Never None: a bucket name has no 0xff byte to carry over.
        let end = prefix_successor(&start)
            .ok_or_else(|| StoreError::Backend("no upper bound for the scan".into()))?;
        // The tighter of "starts with prefix" and the caller's bound.
        let mut lower = match from {
            Bound::Included(f) if f > prefix.as_bytes() => Bound::Included(object_key(&bucket, f)),
            Bound::Excluded(f) if f >= prefix.as_bytes() => Bound::Excluded(object_key(&bucket, f)),
            _ => Bound::Included(start),
        };
        let delimiter = delimiter
            .filter(|d| !d.is_empty())
            .map(|d| d.as_bytes().to_vec());
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.read(move |txn| {
            if !bucket_exists(txn, &bucket)? {
                return Err(StoreError::NoSuchBucket);
            }
            let objects = txn.open_table(OBJECTS)?;
            let mut out = Vec::with_capacity(limit.min(1024));
            'seek: while out.len() < limit {
                let lo = match &lower {
                    Bound::Included(l) | Bound::Excluded(l) if *l >= end => break,
                    Bound::Included(l) => Bound::Included(l.as_slice()),
                    Bound::Excluded(l) => Bound::Excluded(l.as_slice()),
                    Bound::Unbounded => Bound::Unbounded,
                };
                let range = objects.range::<&[u8]>((lo, Bound::Excluded(end.as_slice())))?;
                for item in range {
                    let (k, v) = item?;
                    out.push(decode("object", v.value())?);
                    let k = k.value();
                    let rolled = delimiter.as_deref().and_then(|d| {
                        common_prefix_len(&k[head_len..], &k[head_len..prefix_len], d)
                    });
                    if let Some(cp_end) = rolled {
                        match prefix_successor(&k[..head_len + cp_end]) {
                            Some(next) => lower = Bound::Included(next),
                            None => break 'seek,
                        }
                        continue 'seek;
                    }
                    if out.len() == limit {
                        break 'seek;
                    }
                }
                break;
            }
            Ok(out)
        })
        .await
    }
}

impl Drop for RedbStore {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish what is queued and exit;
        // joining it releases its handle on the file.
        self.writes.take();
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("the metadata writer thread panicked");
        }
    }
}

pub(super) fn bucket_exists(
    txn: &ReadTransaction,
    bucket: &BucketName,
) -> Result<bool, StoreError> {
    let buckets = txn.open_table(BUCKETS)?;
    Ok(buckets.get(bucket.as_str().as_bytes())?.is_some())
}

/// Counts the shard references of every data and garbage row once, for a
/// file written before references were counted. Without it, the first
/// collection of a version sharing a file with an older one would delete
/// that file from under the older version.
fn count_existing_refs(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    const MARKER: &str = "shard_refs_counted";
    let mut upgrades = txn.open_table(UPGRADES)?;
    if upgrades.get(MARKER)?.is_some() {
        return Ok(());
    }
    let mut counts: std::collections::BTreeMap<Vec<u8>, u64> = Default::default();
    let data = txn.open_table(DATA)?;
    for item in data.iter()? {
        let (_, v) = item?;
        let d: crate::model::ObjectData = decode("data", v.value())?;
        for key in super::redb_writer::shard_refs::file_keys(&d) {
            *counts.entry(key).or_default() += 1;
        }
    }
    let garbage = txn.open_table(GARBAGE)?;
    for item in garbage.iter()? {
        let (_, v) = item?;
        for key in super::redb_writer::shard_refs::garbage_file_keys(v.value())? {
            *counts.entry(key).or_default() += 1;
        }
    }
    let mut refs = txn.open_table(SHARD_REFS)?;
    for (key, count) in &counts {
        refs.insert(key.as_slice(), *count)?;
    }
    if !counts.is_empty() {
        tracing::info!(
            files = counts.len(),
            "counted shard references of existing data"
        );
    }
    upgrades.insert(MARKER, crate::model::now_unix_ms())?;
    Ok(())
}

/// Every record of a small table, in key order.
fn read_all<T: serde::de::DeserializeOwned>(
    txn: &ReadTransaction,
    table: TableDefinition<&[u8], &[u8]>,
    what: &str,
) -> Result<Vec<T>, StoreError> {
    let table = txn.open_table(table)?;
    let mut out = Vec::new();
    for item in table.iter()? {
        let (_, v) = item?;
        out.push(decode(what, v.value())?);
    }
    Ok(out)
}

fn read_meta(
    txn: &ReadTransaction,
    bucket: &BucketName,
    key: &str,
) -> Result<Option<ObjectMeta>, StoreError> {
    if !bucket_exists(txn, bucket)? {
        return Err(StoreError::NoSuchBucket);
    }
    let objects = txn.open_table(OBJECTS)?;
    match objects.get(object_key(bucket, key.as_bytes()).as_slice())? {
        Some(v) => Ok(Some(decode("object", v.value())?)),
        None => Ok(None),
    }
}

#[async_trait]
impl MetaStore for RedbStore {
    async fn create_bucket(&self, info: BucketInfo) -> Result<(), StoreError> {
        let value = encode(&info)?;
        self.write(WriteOp::CreateBucket {
            name: info.name,
            value,
        })
        .await
        .map(drop)
    }

    async fn get_bucket(&self, name: &BucketName) -> Result<Option<BucketInfo>, StoreError> {
        let name = name.clone();
        self.read(move |txn| {
            let buckets = txn.open_table(BUCKETS)?;
            match buckets.get(name.as_str().as_bytes())? {
                Some(v) => Ok(Some(decode("bucket", v.value())?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn list_buckets(&self) -> Result<Vec<BucketInfo>, StoreError> {
        self.read(|txn| read_all(txn, BUCKETS, "bucket")).await
    }

    async fn update_bucket(
        &self,
        name: &BucketName,
        update: BucketUpdate,
    ) -> Result<BucketInfo, StoreError> {
        let op = WriteOp::UpdateBucket {
            name: name.clone(),
            update,
        };
        match self.write(op).await? {
            WriteOutcome::Bucket(info) => Ok(info),
            _ => Err(StoreError::Backend(
                "bucket update answered without the bucket".into(),
            )),
        }
    }

    async fn delete_bucket(&self, name: &BucketName) -> Result<(), StoreError> {
        self.write(WriteOp::DeleteBucket { name: name.clone() })
            .await
            .map(drop)
    }

    async fn commit_object_if(
        &self,
        meta: ObjectMeta,
        data: ObjectData,
        condition: WriteCondition,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        let op = WriteOp::CommitObject {
            condition,
            meta: encode(&meta)?,
            files: file_keys(&data),
            data: encode(&data)?,
            bucket: meta.bucket,
            key: meta.key,
            version: meta.version,
        };
        self.write_replaced(op).await
    }

    async fn get_object(
        &self,
        bucket: &BucketName,
        key: &str,
    ) -> Result<Option<(ObjectMeta, ObjectData)>, StoreError> {
        let (bucket, key) = (bucket.clone(), key.to_owned());
        self.read(move |txn| {
            let Some(meta) = read_meta(txn, &bucket, &key)? else {
                return Ok(None);
            };
            let data = txn.open_table(DATA)?;
            let Some(raw) = data.get(meta.version.0.as_u128())? else {
                return Err(StoreError::Corrupt(format!(
                    "object {bucket}/{key}: no data for version {}",
                    meta.version
                )));
            };
            let data = decode("data", raw.value())?;
            Ok(Some((meta, data)))
        })
        .await
    }

    async fn head_object(
        &self,
        bucket: &BucketName,
        key: &str,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        let (bucket, key) = (bucket.clone(), key.to_owned());
        self.read(move |txn| read_meta(txn, &bucket, &key)).await
    }

    async fn delete_object(
        &self,
        bucket: &BucketName,
        key: &str,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        self.write_replaced(WriteOp::DeleteObject {
            bucket: bucket.clone(),
            key: key.to_owned(),
        })
        .await
    }

    async fn scan_objects(
        &self,
        bucket: &BucketName,
        prefix: &str,
        from: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ObjectMeta>, StoreError> {
        self.scan(bucket, prefix, None, from, limit).await
    }

    async fn scan_rolled_up(
        &self,
        bucket: &BucketName,
        prefix: &str,
        delimiter: &str,
        from: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ObjectMeta>, StoreError> {
        self.scan(bucket, prefix, Some(delimiter), from, limit)
            .await
    }

    async fn put_node(
        &self,
        heartbeat: NodeHeartbeat,
        last_seen_unix_ms: i64,
    ) -> Result<(), StoreError> {
        self.write(WriteOp::PutNode(Box::new(NodeRecord {
            heartbeat,
            last_seen_unix_ms,
            draining: false,
        })))
        .await
        .map(drop)
    }

    async fn list_nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        self.read(|txn| read_all(txn, NODES, "node")).await
    }

    async fn set_node_draining(&self, id: &NodeId, draining: bool) -> Result<(), StoreError> {
        self.write(WriteOp::SetNodeDraining {
            id: id.clone(),
            draining,
        })
        .await
        .map(drop)
    }

    async fn remove_node(&self, id: &NodeId) -> Result<(), StoreError> {
        self.write(WriteOp::RemoveNode { id: id.clone() })
            .await
            .map(drop)
    }

    async fn node_files(
        &self,
        node: &NodeId,
        after: Option<ShardHash>,
        limit: usize,
    ) -> Result<Vec<ShardHash>, StoreError> {
        let prefix = node_prefix(node);
        let start = after.map(|hash| shard_file_key(node, &hash));
        self.read(move |txn| {
            let refs = txn.open_table(SHARD_REFS)?;
            node_hashes(&refs, &prefix, start.as_deref(), limit)
        })
        .await
    }

    async fn files_per_node(&self) -> Result<Vec<(NodeId, u64)>, StoreError> {
        self.read(|txn| {
            let refs = txn.open_table(SHARD_REFS)?;
            let mut out: Vec<(NodeId, u64)> = Vec::new();
            for item in refs.iter()? {
                let (k, _) = item?;
                let key = k.value();
                let Some(node) = key
                    .iter()
                    .position(|&b| b == 0)
                    .and_then(|end| std::str::from_utf8(&key[..end]).ok())
                    .and_then(|s| s.parse::<NodeId>().ok())
                else {
                    continue;
                };
                match out.last_mut() {
                    Some((last, n)) if *last == node => *n += 1,
                    _ => out.push((node, 1)),
                }
            }
            Ok(out)
        })
        .await
    }

    async fn scan_data(
        &self,
        after: Option<VersionId>,
        limit: usize,
    ) -> Result<Vec<(VersionId, ObjectData)>, StoreError> {
        self.read(move |txn| {
            let data = txn.open_table(DATA)?;
            let start = match after {
                Some(v) => Bound::Excluded(v.0.as_u128()),
                None => Bound::Unbounded,
            };
            let mut out = Vec::new();
            for item in data.range::<u128>((start, Bound::Unbounded))?.take(limit) {
                let (k, v) = item?;
                let version = VersionId(uuid::Uuid::from_u128(k.value()));
                out.push((version, decode::<ObjectData>("data", v.value())?));
            }
            Ok(out)
        })
        .await
    }

    async fn move_shards(&self, moves: Vec<ShardMove>) -> Result<Vec<MoveOutcome>, StoreError> {
        if moves.is_empty() {
            return Ok(Vec::new());
        }
        match self.write(WriteOp::MoveShards { moves }).await? {
            WriteOutcome::Moves(outcomes) => Ok(outcomes),
            _ => Err(StoreError::Backend("unexpected answer to a move".into())),
        }
    }

    async fn create_upload(&self, upload: MultipartUpload) -> Result<(), StoreError> {
        let value = encode(&upload)?;
        self.write(WriteOp::CreateUpload {
            bucket: upload.bucket,
            bucket_id: upload.bucket_id,
            key: upload.key,
            upload_id: upload.upload_id,
            value,
        })
        .await
        .map(drop)
    }

    async fn get_upload(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &UploadId,
    ) -> Result<Option<MultipartUpload>, StoreError> {
        let (bucket, key, upload_id) = (bucket.clone(), key.to_owned(), *upload_id);
        self.read(move |txn| multipart::read_upload(txn, &bucket, &key, &upload_id))
            .await
    }

    async fn commit_part(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &UploadId,
        part: PartRecord,
        data: ObjectData,
        bucket_id: Option<BucketId>,
    ) -> Result<Option<PartRecord>, StoreError> {
        let op = WriteOp::CommitPart {
            bucket: bucket.clone(),
            bucket_id,
            key: key.to_owned(),
            upload_id: *upload_id,
            part_number: part.part_number,
            version: part.version,
            written_since: part.shards_written_since_unix_ms,
            part: encode(&part)?,
            files: file_keys(&data),
            data: encode(&data)?,
        };
        match self.write(op).await? {
            WriteOutcome::ReplacedPart(old) => Ok(old),
            _ => Ok(None),
        }
    }

    async fn list_parts(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &UploadId,
        after: u32,
        limit: usize,
    ) -> Result<PartsPage, StoreError> {
        let (bucket, key, upload_id) = (bucket.clone(), key.to_owned(), *upload_id);
        self.read(move |txn| multipart::list_parts(txn, &bucket, &key, &upload_id, after, limit))
            .await
    }

    async fn get_part(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &UploadId,
        part_number: u32,
    ) -> Result<Option<(PartRecord, ObjectData)>, StoreError> {
        let (bucket, key, upload_id) = (bucket.clone(), key.to_owned(), *upload_id);
        self.read(move |txn| multipart::get_part(txn, &bucket, &key, &upload_id, part_number))
            .await
    }

    async fn complete_upload(
        &self,
        req: CompleteRequest,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        self.write_replaced(WriteOp::CompleteUpload(Box::new(req)))
            .await
    }

    async fn abort_upload(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &UploadId,
    ) -> Result<(), StoreError> {
        self.write(WriteOp::AbortUpload {
            bucket: bucket.clone(),
            key: key.to_owned(),
            upload_id: *upload_id,
        })
        .await
        .map(drop)
    }

    async fn list_uploads(&self, q: &UploadsQuery) -> Result<UploadsPage, StoreError> {
        let q = q.clone();
        self.read(move |txn| multipart::list_uploads(txn, &q)).await
    }

    async fn create_user(&self, user: UserInfo) -> Result<(), StoreError> {
        let value = encode(&user)?;
        self.write(WriteOp::CreateUser {
            name: user.name,
            configured: user.configured,
            value,
        })
        .await
        .map(drop)
    }

    async fn list_users(&self) -> Result<Vec<UserInfo>, StoreError> {
        self.read(|txn| read_all(txn, USERS, "user")).await
    }

    async fn delete_user(&self, name: &UserName) -> Result<(), StoreError> {
        self.write(WriteOp::DeleteUser { name: name.clone() })
            .await
            .map(drop)
    }

    async fn create_access_key(&self, key: AccessKey) -> Result<(), StoreError> {
        let value = encode(&key)?;
        self.write(WriteOp::CreateAccessKey {
            id: key.access_key,
            user: key.user,
            value,
        })
        .await
        .map(drop)
    }

    async fn get_access_key(&self, id: &AccessKeyId) -> Result<Option<AccessKey>, StoreError> {
        let id = id.clone();
        self.read(move |txn| {
            let keys = txn.open_table(ACCESS_KEYS)?;
            match keys.get(id.as_str().as_bytes())? {
                Some(v) => Ok(Some(decode("access key", v.value())?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn list_access_keys(&self) -> Result<Vec<AccessKey>, StoreError> {
        self.read(|txn| read_all(txn, ACCESS_KEYS, "access key"))
            .await
    }

    async fn delete_access_key(&self, id: &AccessKeyId) -> Result<(), StoreError> {
        self.write(WriteOp::DeleteAccessKey { id: id.clone() })
            .await
            .map(drop)
    }

    async fn list_garbage(&self, limit: usize) -> Result<Vec<GarbageEntry>, StoreError> {
        self.read(move |txn| {
            let garbage = txn.open_table(GARBAGE)?;
            let mut out = Vec::new();
            for item in garbage.iter()?.take(limit) {
                let (_, v) = item?;
                out.push(decode("garbage", v.value())?);
            }
            Ok(out)
        })
        .await
    }

    async fn retire_data(&self, version: VersionId, data: ObjectData) -> Result<(), StoreError> {
        if matches!(data, ObjectData::Inline(_)) {
            return Ok(());
        }
        self.write(WriteOp::RetireData {
            version,
            files: file_keys(&data),
            data: encode(&data)?,
        })
        .await
        .map(drop)
    }

    async fn pending_deletions(
        &self,
        node: &NodeId,
        limit: usize,
    ) -> Result<Vec<ShardHash>, StoreError> {
        let prefix = node_prefix(node);
        self.read(move |txn| {
            let deletions = txn.open_table(SHARD_DELETIONS)?;
            node_hashes(&deletions, &prefix, None, limit)
        })
        .await
    }

    async fn confirm_deletions(
        &self,
        node: &NodeId,
        hashes: &[ShardHash],
    ) -> Result<(), StoreError> {
        if hashes.is_empty() {
            return Ok(());
        }
        let keys = hashes.iter().map(|h| shard_file_key(node, h)).collect();
        self.write(WriteOp::ConfirmDeletions { keys })
            .await
            .map(drop)
    }

    async fn gc_backlog(&self) -> Result<(u64, u64), StoreError> {
        self.read(|txn| {
            use redb::ReadableTableMetadata;
            let garbage = txn.open_table(GARBAGE)?.len()?;
            let deletions = txn.open_table(SHARD_DELETIONS)?.len()?;
            Ok((garbage, deletions))
        })
        .await
    }

    async fn prune_deleted(&self, before_unix_ms: i64) -> Result<(), StoreError> {
        self.write(WriteOp::PruneDeleted { before_unix_ms })
            .await
            .map(drop)
    }

    async fn remove_garbage(&self, versions: &[VersionId]) -> Result<(), StoreError> {
        if versions.is_empty() {
            return Ok(());
        }
        self.write(WriteOp::RemoveGarbage {
            versions: versions.to_vec(),
        })
        .await
        .map(drop)
    }
}

/// Up to `limit` hashes of one node's keys (`prefix` is the node's) in a
/// table keyed by `node \0 hash`, after `after` (a whole key) if given.
fn node_hashes<V: redb::Value + 'static>(
    table: &impl ReadableTable<&'static [u8], V>,
    prefix: &[u8],
    after: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<ShardHash>, StoreError> {
    let start = match after {
        Some(key) => Bound::Excluded(key),
        None => Bound::Included(prefix),
    };
    let mut out = Vec::new();
    for item in table.range::<&[u8]>((start, Bound::Unbounded))? {
        if out.len() == limit {
            break;
        }
        let (k, _) = item?;
        let key = k.value();
        if !key.starts_with(prefix) {
            break;
        }
        if let Some(hash) = hash_of_shard_file_key(key) {
            out.push(hash);
        }
    }
    Ok(out)
}

macro_rules! backend_error {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Backend(e.to_string())
            }
        }
    )*};
}
backend_error!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
