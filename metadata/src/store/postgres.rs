//! The PostgreSQL backend: the metadata of a production cluster, shared by
//! several stateless metadata replicas.
//!
//! Same records, same rules, same answers as the embedded store (one
//! conformance suite runs against both). What differs is how writes are
//! made safe: the embedded store has one writer thread; here several
//! replicas write at once, so every write is one READ COMMITTED transaction
//! that first takes advisory locks on what it decides about ([`locks`]),
//! retried when PostgreSQL aborts it for a concurrent one ([`txn`]). Reads of more
//! than one statement share one REPEATABLE READ snapshot; single-statement
//! reads (a GET's manifest lookup) run alone.
//!
//! The schema is versioned and migrated at start ([`schema`]). Connections
//! come from a pool (`deadpool-postgres`), so a burst of requests waits for
//! a connection rather than opening hundreds. Plain TCP or a Unix socket:
//! TLS to the database is not supported yet, so the database must be
//! reached over a trusted network (or a local TLS proxy).

mod identity;
mod lease;
mod locks;
mod multipart;
mod nodes;
mod objects;
pub mod schema;
mod shard_refs;
mod sql;
mod txn;

use std::ops::Bound;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;
use uuid::Uuid;

use super::codec::{decode, encode};
use super::keys::{hash_of_shard_file_key, object_key};
use super::redb_writer::shard_refs::file_keys;
use super::{GarbageEntry, LeaseHolder, MetaStore, NodeRecord, StoreError};
use crate::ids::{
    AccessKeyId, BucketId, BucketName, NodeId, ShardHash, UploadId, UserName, VersionId,
};
use crate::model::{
    AccessKey, BucketInfo, BucketUpdate, CompleteRequest, MoveOutcome, MultipartUpload,
    NodeHeartbeat, ObjectData, ObjectMeta, PartRecord, PartsPage, ShardMove, UploadsPage,
    UploadsQuery, UserInfo, WriteCondition, now_unix_ms,
};
use objects::Commit;
use sql::{client_all, client_opt, limit};
use txn::{read_txn, write_txn};

/// A connection that cannot be made this fast is a database that is down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A request waits at most this long for a pooled connection.
const POOL_WAIT: Duration = Duration::from_secs(10);

/// How a [`PgStore`] connects.
#[derive(Clone)]
pub struct PgOptions {
    /// `postgres://user:password@host:port/database` or the key=value form
    /// libpq accepts.
    pub url: String,
    /// Most connections this process holds open.
    pub pool_size: usize,
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("PgOptions")
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

/// The default pool size: enough for a busy gateway fleet's concurrency on
/// one replica without crowding PostgreSQL's default 100 connections when
/// three replicas share it.
pub const DEFAULT_POOL_SIZE: usize = 16;

pub struct PgStore {
    pool: Pool,
    /// Host and database, for logs (never the password).
    target: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.target)
            .finish()
    }
}

/// A database error as the store reports it.
pub(crate) fn pg_error(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => {
            StoreError::Backend(format!("postgres: {}: {}", db.code().code(), db.message()))
        }
        None => StoreError::Backend(format!("postgres: {e}")),
    }
}

impl PgStore {
    /// Connects, applies any pending schema migrations, and returns the
    /// store. Fails if the database cannot be reached.
    pub async fn connect(options: &PgOptions) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = options
            .url
            .parse()
            .map_err(|e| StoreError::Backend(format!("postgres url: {e}")))?;
        config.application_name("tessera-metadata");
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        // A database host that vanishes must not leave requests hanging on
        // half-open connections.
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(10));
        let target = format!(
            "{:?}/{}",
            config.get_hosts(),
            config.get_dbname().unwrap_or("")
        );
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Backend(format!("postgres pool: {e}")))?;
        let store = PgStore { pool, target };
        let mut client = store.client().await?;
        let applied = schema::migrate(&mut client).await?;
        if !applied.is_empty() {
            tracing::info!(?applied, "postgres schema migrated");
        }
        Ok(store)
    }

    /// Where it is connected, for logs.
    pub fn target(&self) -> &str {
        &self.target
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => pg_error(e),
            e => StoreError::Backend(format!("postgres connection: {e}")),
        })
    }

    async fn scan(
        &self,
        bucket: &BucketName,
        prefix: &str,
        delimiter: Option<&str>,
        from: Bound<&[u8]>,
        max: usize,
    ) -> Result<Vec<ObjectMeta>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        read_txn!(self, |t| objects::scan(
            t, bucket, prefix, delimiter, from, max
        ))
    }

    /// Every row of a small table's value column, in key order.
    async fn read_all<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        what: &str,
    ) -> Result<Vec<T>, StoreError> {
        let client = self.client().await?;
        let rows = client_all(&client, sql, &[]).await.map_err(pg_error)?;
        rows.iter().map(|r| decode(what, r.get(0))).collect()
    }
}

#[async_trait]
impl MetaStore for PgStore {
    async fn create_bucket(&self, info: BucketInfo) -> Result<(), StoreError> {
        let value = encode(&info)?;
        write_txn!(self, |t| objects::create_bucket(t, &info.name, &value))
    }

    async fn get_bucket(&self, name: &BucketName) -> Result<Option<BucketInfo>, StoreError> {
        let client = self.client().await?;
        let row = client_opt(
            &client,
            "SELECT info FROM buckets WHERE name = $1",
            &[&name.as_str()],
        )
        .await
        .map_err(pg_error)?;
        row.map(|r| decode("bucket", r.get(0))).transpose()
    }

    async fn list_buckets(&self) -> Result<Vec<BucketInfo>, StoreError> {
        self.read_all("SELECT info FROM buckets ORDER BY name", "bucket")
            .await
    }

    async fn update_bucket(
        &self,
        name: &BucketName,
        update: BucketUpdate,
    ) -> Result<BucketInfo, StoreError> {
        write_txn!(self, |t| identity::update_bucket(t, name, &update))
    }

    async fn delete_bucket(&self, name: &BucketName) -> Result<(), StoreError> {
        write_txn!(self, |t| objects::delete_bucket(t, name, now_unix_ms()))
    }

    async fn commit_object_if(
        &self,
        meta: ObjectMeta,
        data: ObjectData,
        condition: WriteCondition,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        let encoded_meta = encode(&meta)?;
        let encoded_data = encode(&data)?;
        let files = file_keys(&data);
        let commit = Commit {
            bucket: &meta.bucket,
            key: &meta.key,
            version: meta.version,
            meta: &encoded_meta,
            data: &encoded_data,
            files: &files,
            condition: &condition,
        };
        write_txn!(self, |t| objects::commit_object(t, &commit, now_unix_ms()))
    }

    async fn get_object(
        &self,
        bucket: &BucketName,
        key: &str,
    ) -> Result<Option<(ObjectMeta, ObjectData)>, StoreError> {
        let client = self.client().await?;
        let okey = object_key(bucket, key.as_bytes());
        // One statement, one snapshot: the manifest belongs to the version.
        let row = client_opt(
            &client,
            "SELECT EXISTS (SELECT 1 FROM buckets WHERE name = $1), o.meta, d.data \
             FROM (SELECT 1) AS one \
             LEFT JOIN objects o ON o.okey = $2 \
             LEFT JOIN data d ON d.version = o.version",
            &[&bucket.as_str(), &okey],
        )
        .await
        .map_err(pg_error)?
        .ok_or_else(|| StoreError::Backend("no answer to an object lookup".into()))?;
        if !row.get::<_, bool>(0) {
            return Err(StoreError::NoSuchBucket);
        }
        let Some(meta) = row.get::<_, Option<&[u8]>>(1) else {
            return Ok(None);
        };
        let meta: ObjectMeta = decode("object", meta)?;
        let Some(data) = row.get::<_, Option<&[u8]>>(2) else {
            return Err(StoreError::Corrupt(format!(
                "object {bucket}/{key}: no data for version {}",
                meta.version
            )));
        };
        Ok(Some((meta, decode("data", data)?)))
    }

    async fn head_object(
        &self,
        bucket: &BucketName,
        key: &str,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        let client = self.client().await?;
        let okey = object_key(bucket, key.as_bytes());
        let row = client_opt(
            &client,
            "SELECT EXISTS (SELECT 1 FROM buckets WHERE name = $1), \
                    (SELECT meta FROM objects WHERE okey = $2)",
            &[&bucket.as_str(), &okey],
        )
        .await
        .map_err(pg_error)?
        .ok_or_else(|| StoreError::Backend("no answer to an object lookup".into()))?;
        if !row.get::<_, bool>(0) {
            return Err(StoreError::NoSuchBucket);
        }
        row.get::<_, Option<&[u8]>>(1)
            .map(|m| decode("object", m))
            .transpose()
    }

    async fn delete_object(
        &self,
        bucket: &BucketName,
        key: &str,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        write_txn!(self, |t| objects::delete_object(
            t,
            bucket,
            key,
            now_unix_ms()
        ))
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
        let record = NodeRecord {
            heartbeat,
            last_seen_unix_ms,
            draining: false,
        };
        write_txn!(self, |t| nodes::put_node(t, record.clone()))
    }

    async fn list_nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        self.read_all("SELECT record FROM nodes ORDER BY id", "node")
            .await
    }

    async fn set_node_draining(&self, id: &NodeId, draining: bool) -> Result<(), StoreError> {
        write_txn!(self, |t| nodes::set_node_draining(t, id, draining))
    }

    async fn remove_node(&self, id: &NodeId) -> Result<(), StoreError> {
        write_txn!(self, |t| nodes::remove_node(t, id))
    }

    async fn node_files(
        &self,
        node: &NodeId,
        after: Option<ShardHash>,
        max: usize,
    ) -> Result<Vec<ShardHash>, StoreError> {
        let (lo, hi) = nodes::node_range(node)?;
        let client = self.client().await?;
        let rows = match after {
            Some(hash) => {
                let after = super::keys::shard_file_key(node, &hash);
                client_all(
                    &client,
                    "SELECT file FROM shard_refs WHERE file > $1 AND file < $2 \
                     ORDER BY file LIMIT $3",
                    &[&after, &hi, &limit(max)],
                )
                .await
            }
            None => {
                client_all(
                    &client,
                    "SELECT file FROM shard_refs WHERE file >= $1 AND file < $2 \
                     ORDER BY file LIMIT $3",
                    &[&lo, &hi, &limit(max)],
                )
                .await
            }
        }
        .map_err(pg_error)?;
        Ok(rows
            .iter()
            .filter_map(|r| hash_of_shard_file_key(r.get(0)))
            .collect())
    }

    async fn files_per_node(&self) -> Result<Vec<(NodeId, u64)>, StoreError> {
        let client = self.client().await?;
        // A file key is `node \0 hash(32)`: the node is all but 33 bytes.
        let rows = client_all(
            &client,
            "SELECT substring(file FROM 1 FOR length(file) - 33) AS node, count(*) \
             FROM shard_refs GROUP BY 1 ORDER BY 1",
            &[],
        )
        .await
        .map_err(pg_error)?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let node = std::str::from_utf8(r.get::<_, &[u8]>(0)).ok()?;
                let count: i64 = r.get(1);
                Some((node.parse().ok()?, count.unsigned_abs()))
            })
            .collect())
    }

    async fn scan_data(
        &self,
        after: Option<VersionId>,
        max: usize,
    ) -> Result<Vec<(VersionId, ObjectData)>, StoreError> {
        let client = self.client().await?;
        let rows =
            match after {
                Some(v) => client_all(
                    &client,
                    "SELECT version, data FROM data WHERE version > $1 ORDER BY version LIMIT $2",
                    &[&v.0, &limit(max)],
                )
                .await,
                None => {
                    client_all(
                        &client,
                        "SELECT version, data FROM data ORDER BY version LIMIT $1",
                        &[&limit(max)],
                    )
                    .await
                }
            }
            .map_err(pg_error)?;
        rows.iter()
            .map(|r| Ok((VersionId(r.get(0)), decode("data", r.get(1))?)))
            .collect()
    }

    async fn move_shards(&self, moves: Vec<ShardMove>) -> Result<Vec<MoveOutcome>, StoreError> {
        if moves.is_empty() {
            return Ok(Vec::new());
        }
        write_txn!(self, |t| nodes::move_shards(t, &moves, now_unix_ms()))
    }

    async fn create_upload(&self, upload: MultipartUpload) -> Result<(), StoreError> {
        let value = encode(&upload)?;
        write_txn!(self, |t| multipart::create_upload(t, &upload, &value))
    }

    async fn get_upload(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &UploadId,
    ) -> Result<Option<MultipartUpload>, StoreError> {
        read_txn!(self, |t| multipart::get_upload(t, bucket, key, upload_id))
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
        let encoded_part = encode(&part)?;
        let encoded_data = encode(&data)?;
        let files = file_keys(&data);
        let commit = multipart::PartCommit {
            bucket,
            bucket_id,
            key,
            upload_id,
            part_number: part.part_number,
            version: part.version,
            part: &encoded_part,
            data: &encoded_data,
            files: &files,
            written_since: part.shards_written_since_unix_ms,
        };
        write_txn!(self, |t| multipart::commit_part(t, &commit, now_unix_ms()))
    }

    async fn list_parts(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &UploadId,
        after: u32,
        max: usize,
    ) -> Result<PartsPage, StoreError> {
        read_txn!(self, |t| multipart::list_parts(
            t,
            (bucket, key, upload_id),
            after,
            max
        ))
    }

    async fn get_part(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &UploadId,
        part_number: u32,
    ) -> Result<Option<(PartRecord, ObjectData)>, StoreError> {
        read_txn!(self, |t| multipart::get_part(
            t,
            (bucket, key, upload_id),
            part_number
        ))
    }

    async fn complete_upload(
        &self,
        req: CompleteRequest,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        write_txn!(self, |t| multipart::complete_upload(t, &req, now_unix_ms()))
    }

    async fn abort_upload(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &UploadId,
    ) -> Result<(), StoreError> {
        write_txn!(self, |t| multipart::abort_upload(
            t,
            bucket,
            key,
            upload_id,
            now_unix_ms()
        ))
    }

    async fn list_uploads(&self, q: &UploadsQuery) -> Result<UploadsPage, StoreError> {
        read_txn!(self, |t| multipart::list_uploads(t, q))
    }

    async fn create_user(&self, user: UserInfo) -> Result<(), StoreError> {
        let value = encode(&user)?;
        write_txn!(self, |t| identity::create_user(
            t,
            &user.name,
            user.configured,
            &value
        ))
    }

    async fn list_users(&self) -> Result<Vec<UserInfo>, StoreError> {
        self.read_all("SELECT info FROM users ORDER BY name", "user")
            .await
    }

    async fn delete_user(&self, name: &UserName) -> Result<(), StoreError> {
        write_txn!(self, |t| identity::delete_user(t, name))
    }

    async fn create_access_key(&self, key: AccessKey) -> Result<(), StoreError> {
        let value = encode(&key)?;
        write_txn!(self, |t| identity::create_access_key(t, &key, &value))
    }

    async fn get_access_key(&self, id: &AccessKeyId) -> Result<Option<AccessKey>, StoreError> {
        let client = self.client().await?;
        let row = client_opt(
            &client,
            "SELECT key FROM access_keys WHERE id = $1",
            &[&id.as_str()],
        )
        .await
        .map_err(pg_error)?;
        row.map(|r| decode("access key", r.get(0))).transpose()
    }

    async fn list_access_keys(&self) -> Result<Vec<AccessKey>, StoreError> {
        self.read_all("SELECT key FROM access_keys ORDER BY id", "access key")
            .await
    }

    async fn delete_access_key(&self, id: &AccessKeyId) -> Result<(), StoreError> {
        write_txn!(self, |t| identity::delete_access_key(t, id))
    }

    async fn list_garbage(&self, max: usize) -> Result<Vec<GarbageEntry>, StoreError> {
        let client = self.client().await?;
        let rows = client_all(
            &client,
            "SELECT version, since_unix_ms, data FROM garbage ORDER BY version LIMIT $1",
            &[&limit(max)],
        )
        .await
        .map_err(pg_error)?;
        rows.iter()
            .map(|r| {
                Ok(GarbageEntry {
                    version: VersionId(r.get(0)),
                    since_unix_ms: r.get(1),
                    data: decode("garbage", r.get(2))?,
                })
            })
            .collect()
    }

    async fn remove_garbage(&self, versions: &[VersionId]) -> Result<(), StoreError> {
        if versions.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = versions.iter().map(|v| v.0).collect();
        write_txn!(self, |t| objects::remove_garbage(t, &ids, now_unix_ms()))
    }

    async fn retire_data(&self, version: VersionId, data: ObjectData) -> Result<(), StoreError> {
        if matches!(data, ObjectData::Inline(_)) {
            return Ok(());
        }
        let files = file_keys(&data);
        let raw = encode(&data)?;
        write_txn!(self, |t| async {
            locks::Locks::new().version(version.0).take(t).await?;
            if objects::version_taken(t, version).await? {
                return Ok(Err(StoreError::VersionInUse));
            }
            shard_refs::add_refs(t, &files).await?;
            objects::retire(t, version, &raw, now_unix_ms()).await?;
            Ok(Ok(()))
        })
    }

    async fn pending_deletions(
        &self,
        node: &NodeId,
        max: usize,
    ) -> Result<Vec<ShardHash>, StoreError> {
        let (lo, hi) = nodes::node_range(node)?;
        let client = self.client().await?;
        let rows = client_all(
            &client,
            "SELECT file FROM shard_deletions WHERE file >= $1 AND file < $2 \
             ORDER BY file LIMIT $3",
            &[&lo, &hi, &limit(max)],
        )
        .await
        .map_err(pg_error)?;
        Ok(rows
            .iter()
            .filter_map(|r| hash_of_shard_file_key(r.get(0)))
            .collect())
    }

    async fn confirm_deletions(
        &self,
        node: &NodeId,
        hashes: &[ShardHash],
    ) -> Result<(), StoreError> {
        if hashes.is_empty() {
            return Ok(());
        }
        let files: Vec<Vec<u8>> = hashes
            .iter()
            .map(|h| super::keys::shard_file_key(node, h))
            .collect();
        write_txn!(self, |t| async {
            sql::exec(
                t,
                "WITH gone AS (DELETE FROM shard_deletions WHERE file = ANY($1) RETURNING file) \
                 INSERT INTO shards_deleted (file, at_unix_ms) SELECT file, $2 FROM gone \
                 ON CONFLICT (file) DO UPDATE SET at_unix_ms = EXCLUDED.at_unix_ms",
                &[&files, &now_unix_ms()],
            )
            .await?;
            Ok(Ok(()))
        })
    }

    async fn gc_backlog(&self) -> Result<(u64, u64), StoreError> {
        let client = self.client().await?;
        let row = client_opt(
            &client,
            "SELECT (SELECT count(*) FROM garbage), (SELECT count(*) FROM shard_deletions)",
            &[],
        )
        .await
        .map_err(pg_error)?
        .ok_or_else(|| StoreError::Backend("no answer to a count".into()))?;
        Ok((
            row.get::<_, i64>(0).unsigned_abs(),
            row.get::<_, i64>(1).unsigned_abs(),
        ))
    }

    async fn prune_deleted(&self, before_unix_ms: i64) -> Result<(), StoreError> {
        write_txn!(self, |t| async {
            sql::exec(
                t,
                "DELETE FROM shards_deleted WHERE at_unix_ms < $1",
                &[&before_unix_ms],
            )
            .await?;
            Ok(Ok(()))
        })
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &LeaseHolder,
        ttl: Duration,
    ) -> Result<Option<LeaseHolder>, StoreError> {
        lease::acquire(self, name, holder, ttl).await
    }

    async fn release_lease(&self, name: &str, holder: &LeaseHolder) -> Result<(), StoreError> {
        lease::release(self, name, holder).await
    }

    fn is_shared(&self) -> bool {
        true
    }
}
