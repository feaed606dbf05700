//! Group commit for [`super::RedbStore`].
//!
//! redb has one writer at a time and a durable commit costs an fsync (about
//! a millisecond on an SSD, far more on a disk). Committing each write on its
//! own would cap the whole cluster at one PUT per fsync. Instead one writer
//! thread drains every queued write, applies the batch in ONE write
//! transaction, commits it with one fsync, and only then answers each caller
//! with its own result. Under load a batch grows to what arrived during the
//! previous fsync, so throughput scales with concurrency while latency stays
//! about one fsync.
//!
//! Each operation checks its preconditions before it writes anything, so one
//! operation's refusal (say `NoSuchBucket`) is answered on its own and never
//! fails the batch. Only an engine error (I/O, a failed commit) fails every
//! operation of the batch: none of them was committed.
//!
//! Multipart operations live in [`multipart`]; they follow the same rules.
//!
//! A dedicated OS thread, not a task: it blocks on redb for its whole life,
//! and there is exactly one of it.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use redb::{Database, Durability, ReadableTable, Table, WriteTransaction};
use tokio::sync::{mpsc, oneshot};

use super::codec::decode;
use super::keys::object_key;
use super::redb_store::{
    ACCESS_KEYS, BUCKETS, DATA, GARBAGE, NODES, OBJECTS, PARTS, SHARD_DELETIONS, SHARD_REFS,
    SHARDS_DELETED, UPLOADS, USERS,
};
use super::rules::{check_bucket, check_bucket_deletion, check_condition, is_striped};
use super::{NodeRecord, StoreError};
use crate::ids::{AccessKeyId, BucketId, BucketName, NodeId, UploadId, UserName, VersionId};
use crate::model::{
    BucketInfo, BucketUpdate, CompleteRequest, MoveOutcome, ObjectMeta, PartRecord, ShardMove,
    WriteCondition, now_unix_ms,
};

mod identity;
mod multipart;
mod nodes;
pub(crate) mod shard_refs;

/// Upper bound on operations per transaction, so that one batch's commit
/// (and the memory it holds) stays bounded under a flood of writes.
const MAX_BATCH: usize = 512;

/// One write, with its values already encoded by the caller's task: encoding
/// (manifests can be large) runs in parallel, off the single writer thread.
pub(super) enum WriteOp {
    CreateBucket {
        name: BucketName,
        value: Vec<u8>,
    },
    DeleteBucket {
        name: BucketName,
    },
    UpdateBucket {
        name: BucketName,
        update: BucketUpdate,
    },
    CreateUser {
        name: UserName,
        configured: bool,
        value: Vec<u8>,
    },
    DeleteUser {
        name: UserName,
    },
    CreateAccessKey {
        id: AccessKeyId,
        user: UserName,
        value: Vec<u8>,
    },
    DeleteAccessKey {
        id: AccessKeyId,
    },
    CommitObject {
        condition: WriteCondition,
        bucket: BucketName,
        key: String,
        version: VersionId,
        meta: Vec<u8>,
        data: Vec<u8>,
        /// The shard files `data` names (see [`shard_refs`]).
        files: Vec<Vec<u8>>,
    },
    /// Data that will never be committed, handed to the collector.
    RetireData {
        version: VersionId,
        data: Vec<u8>,
        files: Vec<Vec<u8>>,
    },
    /// A node deleted these files (keys of `shard_deletions`).
    ConfirmDeletions {
        keys: Vec<Vec<u8>>,
    },
    /// Forgets deletions confirmed before this time.
    PruneDeleted {
        before_unix_ms: i64,
    },
    DeleteObject {
        bucket: BucketName,
        key: String,
    },
    PutNode(Box<NodeRecord>),
    SetNodeDraining {
        id: NodeId,
        draining: bool,
    },
    RemoveNode {
        id: NodeId,
    },
    MoveShards {
        moves: Vec<ShardMove>,
    },
    RemoveGarbage {
        versions: Vec<VersionId>,
    },
    CreateUpload {
        bucket: BucketName,
        /// The bucket the request checked (see [`check_bucket`]).
        bucket_id: Option<BucketId>,
        key: String,
        upload_id: UploadId,
        value: Vec<u8>,
    },
    CommitPart {
        bucket: BucketName,
        bucket_id: Option<BucketId>,
        key: String,
        upload_id: UploadId,
        part_number: u32,
        version: VersionId,
        part: Vec<u8>,
        data: Vec<u8>,
        files: Vec<Vec<u8>>,
        written_since: Option<i64>,
    },
    /// Decoded, not encoded: the writer must read the parts to build the
    /// object's manifest, inside the transaction that removes them.
    CompleteUpload(Box<CompleteRequest>),
    AbortUpload {
        bucket: BucketName,
        key: String,
        upload_id: UploadId,
    },
}

#[expect(
    clippy::large_enum_variant,
    reason = "moved once through a oneshot; boxing would only add an allocation"
)]
pub(super) enum WriteOutcome {
    Done,
    Bucket(BucketInfo),
    Replaced(Option<ObjectMeta>),
    ReplacedPart(Option<PartRecord>),
    Moves(Vec<MoveOutcome>),
}

pub(super) type WriteResult = Result<WriteOutcome, StoreError>;

pub(super) struct WriteRequest {
    pub(super) op: WriteOp,
    pub(super) reply: oneshot::Sender<WriteResult>,
}

/// Starts the writer thread. It runs until every sender is dropped and the
/// queue is empty, so nothing accepted is abandoned at shutdown.
pub(super) fn spawn(
    db: Arc<Database>,
    durability: Durability,
    mut rx: mpsc::Receiver<WriteRequest>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("redb-writer".into())
        .spawn(move || {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while let Some(first) = rx.blocking_recv() {
                batch.push(first);
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(req) => batch.push(req),
                        Err(_) => break,
                    }
                }
                apply_batch(&db, durability, &mut batch);
            }
        })
}

fn apply_batch(db: &Database, durability: Durability, batch: &mut Vec<WriteRequest>) {
    let started = Instant::now();
    let n = batch.len();
    match run_transaction(db, durability, batch) {
        Ok(results) => {
            for (req, result) in batch.drain(..).zip(results) {
                // The caller may have given up (timeout, cancelled request);
                // its write is committed regardless.
                let _ = req.reply.send(result);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, ops = n, "metadata write transaction failed");
            for req in batch.drain(..) {
                let _ = req.reply.send(Err(e.clone()));
            }
        }
    }
    metrics::histogram!("metadata_store_commit_batch_ops").record(n as f64);
    metrics::histogram!("metadata_store_commit_seconds").record(started.elapsed().as_secs_f64());
}

/// Applies every operation in one transaction and commits it. The outer error
/// is an engine failure: nothing of the batch was committed.
fn run_transaction(
    db: &Database,
    durability: Durability,
    batch: &[WriteRequest],
) -> Result<Vec<WriteResult>, StoreError> {
    let mut txn = db.begin_write()?;
    txn.set_durability(durability);
    let mut results = Vec::with_capacity(batch.len());
    {
        let mut t = Tables::open(&txn)?;
        let now = now_unix_ms();
        for req in batch {
            results.push(t.apply(&req.op, now)?);
        }
    }
    txn.commit()?;
    Ok(results)
}

type BytesTable<'txn> = Table<'txn, &'static [u8], &'static [u8]>;
type VersionTable<'txn> = Table<'txn, u128, &'static [u8]>;
type CountTable<'txn> = Table<'txn, &'static [u8], u64>;
type TimeTable<'txn> = Table<'txn, &'static [u8], i64>;

struct Tables<'txn> {
    buckets: BytesTable<'txn>,
    objects: BytesTable<'txn>,
    data: VersionTable<'txn>,
    garbage: VersionTable<'txn>,
    nodes: BytesTable<'txn>,
    uploads: BytesTable<'txn>,
    parts: BytesTable<'txn>,
    users: BytesTable<'txn>,
    access_keys: BytesTable<'txn>,
    shard_refs: CountTable<'txn>,
    shard_deletions: TimeTable<'txn>,
    shards_deleted: TimeTable<'txn>,
}

impl<'txn> Tables<'txn> {
    fn open(txn: &'txn WriteTransaction) -> Result<Self, StoreError> {
        Ok(Tables {
            buckets: txn.open_table(BUCKETS)?,
            objects: txn.open_table(OBJECTS)?,
            data: txn.open_table(DATA)?,
            garbage: txn.open_table(GARBAGE)?,
            nodes: txn.open_table(NODES)?,
            uploads: txn.open_table(UPLOADS)?,
            parts: txn.open_table(PARTS)?,
            users: txn.open_table(USERS)?,
            access_keys: txn.open_table(ACCESS_KEYS)?,
            shard_refs: txn.open_table(SHARD_REFS)?,
            shard_deletions: txn.open_table(SHARD_DELETIONS)?,
            shards_deleted: txn.open_table(SHARDS_DELETED)?,
        })
    }

    /// Outer `Err`: engine failure (fails the batch). Inner: this op's answer.
    fn apply(&mut self, op: &WriteOp, now_ms: i64) -> Result<WriteResult, StoreError> {
        match op {
            WriteOp::CreateBucket { name, value } => {
                let key = name.as_str().as_bytes();
                if let Some(existing) = self.buckets.get(key)? {
                    let info: BucketInfo = decode("bucket", existing.value())?;
                    return Ok(Err(StoreError::BucketAlreadyExists { owner: info.owner }));
                }
                self.buckets.insert(key, value.as_slice())?;
                Ok(Ok(WriteOutcome::Done))
            }
            WriteOp::DeleteBucket { name } => self.delete_bucket(name, now_ms),
            WriteOp::UpdateBucket { name, update } => self.update_bucket(name, update),
            WriteOp::CreateUser {
                name,
                configured,
                value,
            } => self.create_user(name, *configured, value),
            WriteOp::DeleteUser { name } => self.delete_user(name),
            WriteOp::CreateAccessKey { id, user, value } => self.create_access_key(id, user, value),
            WriteOp::DeleteAccessKey { id } => self.delete_access_key(id),
            WriteOp::CommitObject {
                condition,
                bucket,
                key,
                version,
                meta,
                data,
                files,
            } => {
                if let Err(e) = self.check_bucket(bucket, condition.bucket_id)? {
                    return Ok(Err(e));
                }
                let okey = object_key(bucket, key.as_bytes());
                let old = match self.objects.get(okey.as_slice())? {
                    Some(old) => Some(decode::<ObjectMeta>("object", old.value())?),
                    None => None,
                };
                let retry = old.as_ref().is_some_and(|o| o.version == *version);
                if !retry && let Err(e) = check_condition(condition, old.as_ref()) {
                    return Ok(Err(e));
                }
                // A version id names one write. Reusing it for another key
                // (or after it became garbage) would let the collector delete
                // shards that a live manifest still names.
                if !retry && self.version_taken(*version)? {
                    return Ok(Err(StoreError::VersionInUse));
                }
                if !retry
                    && let Err(e) = self.admit(files, condition.shards_written_since_unix_ms)?
                {
                    return Ok(Err(e));
                }
                self.objects.insert(okey.as_slice(), meta.as_slice())?;
                self.data.insert(version.0.as_u128(), data.as_slice())?;
                match old {
                    // A retried commit of the same version: its data was just
                    // rewritten in place, and it must not become garbage.
                    Some(_) if retry => Ok(Ok(WriteOutcome::Replaced(None))),
                    Some(old) => {
                        self.discard_data(old.version, now_ms)?;
                        Ok(Ok(WriteOutcome::Replaced(Some(old))))
                    }
                    None => Ok(Ok(WriteOutcome::Replaced(None))),
                }
            }
            WriteOp::DeleteObject { bucket, key } => {
                if self.buckets.get(bucket.as_str().as_bytes())?.is_none() {
                    return Ok(Err(StoreError::NoSuchBucket));
                }
                let okey = object_key(bucket, key.as_bytes());
                let old = match self.objects.remove(okey.as_slice())? {
                    Some(old) => Some(decode::<ObjectMeta>("object", old.value())?),
                    None => None,
                };
                if let Some(old) = &old {
                    self.discard_data(old.version, now_ms)?;
                }
                Ok(Ok(WriteOutcome::Replaced(old)))
            }
            WriteOp::PutNode(record) => self.put_node(record.as_ref().clone()),
            WriteOp::SetNodeDraining { id, draining } => self.set_node_draining(id, *draining),
            WriteOp::RemoveNode { id } => self.remove_node(id),
            WriteOp::MoveShards { moves } => self.move_shards(moves, now_ms),
            WriteOp::RemoveGarbage { versions } => {
                for v in versions {
                    let keys = match self.garbage.remove(v.0.as_u128())? {
                        Some(raw) => shard_refs::garbage_file_keys(raw.value())?,
                        None => continue,
                    };
                    self.drop_refs(&keys, now_ms)?;
                }
                Ok(Ok(WriteOutcome::Done))
            }
            WriteOp::RetireData {
                version,
                data,
                files,
            } => {
                if self.version_taken(*version)? {
                    return Ok(Err(StoreError::VersionInUse));
                }
                self.add_refs(files)?;
                retire(&mut self.garbage, *version, data, now_ms)?;
                Ok(Ok(WriteOutcome::Done))
            }
            WriteOp::ConfirmDeletions { keys } => {
                for key in keys {
                    if self.shard_deletions.remove(key.as_slice())?.is_some() {
                        self.shards_deleted.insert(key.as_slice(), now_ms)?;
                    }
                }
                Ok(Ok(WriteOutcome::Done))
            }
            WriteOp::PruneDeleted { before_unix_ms } => {
                let old: Vec<Vec<u8>> = self
                    .shards_deleted
                    .iter()?
                    .filter_map(|item| match item {
                        Ok((k, v)) if v.value() < *before_unix_ms => Some(Ok(k.value().to_vec())),
                        Ok(_) => None,
                        Err(e) => Some(Err(e)),
                    })
                    .collect::<Result<_, _>>()?;
                for key in old {
                    self.shards_deleted.remove(key.as_slice())?;
                }
                Ok(Ok(WriteOutcome::Done))
            }
            WriteOp::CreateUpload {
                bucket,
                bucket_id,
                key,
                upload_id,
                value,
            } => self.create_upload((bucket, key, upload_id, *bucket_id), value),
            WriteOp::CommitPart {
                bucket,
                bucket_id,
                key,
                upload_id,
                part_number,
                version,
                part,
                data,
                files,
                written_since,
            } => self.commit_part(
                (bucket, key, upload_id, *bucket_id),
                *part_number,
                *version,
                (part, data),
                (files, *written_since),
                now_ms,
            ),
            WriteOp::CompleteUpload(req) => self.complete_upload(req, now_ms),
            WriteOp::AbortUpload {
                bucket,
                key,
                upload_id,
            } => self.abort_upload(bucket, key, upload_id, now_ms),
        }
    }

    /// DeleteBucket (see [`check_bucket_deletion`]): the bucket goes, and
    /// its uploads in progress with it, each aborted as AbortMultipartUpload
    /// aborts one. That costs this batch one removal per part; abandoned
    /// uploads are few and small next to the batch's bound on operations.
    fn delete_bucket(&mut self, name: &BucketName, now_ms: i64) -> Result<WriteResult, StoreError> {
        let key = name.as_str().as_bytes();
        let lo = object_key(name, b"");
        let exists = self.buckets.get(key)?.is_some();
        if let Err(e) = check_bucket_deletion(exists, starts_any(&self.objects, &lo)?) {
            return Ok(Err(e));
        }
        let mut uploads = Vec::new();
        for item in self.uploads.range::<&[u8]>(lo.as_slice()..)? {
            let (k, _) = item?;
            let k = k.value();
            if !k.starts_with(&lo) {
                break;
            }
            uploads.push(k.to_vec());
        }
        for ukey in uploads {
            self.drop_upload(&ukey, now_ms)?;
        }
        self.buckets.remove(key)?;
        Ok(Ok(WriteOutcome::Done))
    }

    /// [`check_bucket`] against the stored bucket. Inner error: the
    /// refusal.
    fn check_bucket(
        &self,
        name: &BucketName,
        expected: Option<BucketId>,
    ) -> Result<Result<(), StoreError>, StoreError> {
        let stored = self.buckets.get(name.as_str().as_bytes())?;
        Ok(check_bucket(stored.as_ref().map(|v| v.value()), expected))
    }

    /// Whether `version` names live data or retired data: either way a new
    /// write may not take it.
    fn version_taken(&self, version: VersionId) -> Result<bool, StoreError> {
        Ok(self.data.get(version.0.as_u128())?.is_some()
            || self.garbage.get(version.0.as_u128())?.is_some())
    }

    /// Moves a version's data out of `data`. Striped data goes to `garbage`
    /// for the collector; inline data has no shards to collect, so it is
    /// simply dropped (a garbage entry would only cost a write and a removal).
    fn discard_data(&mut self, version: VersionId, now_ms: i64) -> Result<(), StoreError> {
        let Some(raw) = self.data.remove(version.0.as_u128())? else {
            tracing::warn!(%version, "replaced version had no data record");
            return Ok(());
        };
        retire(&mut self.garbage, version, raw.value(), now_ms)
    }
}

/// Writes a garbage entry for `raw` (an encoded `ObjectData`) if it names
/// shards: inline data has none to collect.
fn retire(
    garbage: &mut VersionTable<'_>,
    version: VersionId,
    raw: &[u8],
    now_ms: i64,
) -> Result<(), StoreError> {
    if is_striped(raw)? {
        // The GarbageEntry JSON, spliced around the stored data so a large
        // manifest is moved without being decoded and encoded again.
        let mut entry = Vec::with_capacity(raw.len() + 64);
        entry.extend_from_slice(
            format!("{{\"version\":\"{version}\",\"since_unix_ms\":{now_ms},\"data\":").as_bytes(),
        );
        entry.extend_from_slice(raw);
        entry.push(b'}');
        garbage.insert(version.0.as_u128(), entry.as_slice())?;
    }
    Ok(())
}

/// Whether any key of `table` starts with `prefix`.
fn starts_any(table: &BytesTable<'_>, prefix: &[u8]) -> Result<bool, StoreError> {
    match table.range::<&[u8]>(prefix..)?.next() {
        Some(first) => Ok(first?.0.value().starts_with(prefix)),
        None => Ok(false),
    }
}
