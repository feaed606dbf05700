//! Copies everything from an embedded store into an empty PostgreSQL
//! database, for users who outgrow the default.
//!
//! It reads the redb file table by table and writes the same records, key
//! for key, into PostgreSQL in ONE transaction: the copy is all or nothing,
//! and a half-copied database never serves. Reference counts, queued and
//! confirmed deletions and garbage timestamps are copied as they are, so the
//! collector carries on where it stood. The metadata service must be
//! stopped while it runs (redb refuses a second opener anyway); writes made
//! elsewhere meanwhile would not be copied.

use std::path::Path;

use deadpool_postgres::Transaction;
use redb::{ReadableTable, ReadableTableMetadata, TableHandle};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::codec::{decode, encode};
use super::postgres::{PgOptions, PgStore, pg_error};
use super::redb_store::{
    ACCESS_KEYS, BUCKETS, DATA, DB_FILE_NAME, GARBAGE, NODES, OBJECTS, PARTS, SHARD_DELETIONS,
    SHARD_REFS, SHARDS_DELETED, UPLOADS, USERS,
};
use super::{GarbageEntry, StoreError};
use crate::ids::VersionId;
use crate::model::AccessKey;

/// Rows per INSERT: big enough that a million rows is a thousand round
/// trips, small enough to keep one statement's memory modest.
const BATCH: usize = 1000;

/// How many rows of each table were copied.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CopyReport {
    pub buckets: u64,
    pub objects: u64,
    pub data: u64,
    pub garbage: u64,
    pub shard_refs: u64,
    pub shard_deletions: u64,
    pub shards_deleted: u64,
    pub nodes: u64,
    pub uploads: u64,
    pub parts: u64,
    pub users: u64,
    pub access_keys: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("{0} has no metadata.redb: nothing to copy")]
    NoSource(String),
    #[error("the PostgreSQL database already holds metadata ({0} buckets); copy into an empty one")]
    TargetNotEmpty(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<redb::Error> for CopyError {
    fn from(e: redb::Error) -> Self {
        CopyError::Store(e.into())
    }
}

/// The version id of an object record (the only field the copy needs).
#[derive(serde::Deserialize)]
struct VersionOnly {
    version: VersionId,
}

/// Copies `<data_dir>/metadata.redb` into the (empty) database of `target`.
pub async fn copy_redb_to_postgres(
    data_dir: &Path,
    target: &PgOptions,
) -> Result<CopyReport, CopyError> {
    let path = data_dir.join(DB_FILE_NAME);
    if !path.is_file() {
        return Err(CopyError::NoSource(data_dir.display().to_string()));
    }
    let db = redb::Database::open(&path).map_err(StoreError::from)?;
    let read = db.begin_read().map_err(StoreError::from)?;
    let store = PgStore::connect(target).await?;
    let mut client = store.client().await?;
    let txn = client.transaction().await.map_err(pg_error)?;
    let buckets: i64 = txn
        .query_one("SELECT count(*) FROM buckets", &[])
        .await
        .map_err(pg_error)?
        .get(0);
    if buckets > 0 {
        return Err(CopyError::TargetNotEmpty(buckets));
    }
    let mut report = CopyReport::default();

    // Names keyed by text, values as they are.
    for (table, sql, count) in [
        (
            BUCKETS,
            "INSERT INTO buckets (name, info) SELECT * FROM unnest($1::text[], $2::bytea[])",
            &mut report.buckets,
        ),
        (
            NODES,
            "INSERT INTO nodes (id, record) SELECT * FROM unnest($1::text[], $2::bytea[])",
            &mut report.nodes,
        ),
        (
            USERS,
            "INSERT INTO users (name, info) SELECT * FROM unnest($1::text[], $2::bytea[])",
            &mut report.users,
        ),
    ] {
        let t = read.open_table(table).map_err(StoreError::from)?;
        let mut rows = Vec::new();
        for item in t.iter().map_err(StoreError::from)? {
            let (k, v) = item.map_err(StoreError::from)?;
            let name = String::from_utf8(k.value().to_vec())
                .map_err(|e| StoreError::Corrupt(format!("a name that is not UTF-8: {e}")))?;
            rows.push((name, v.value().to_vec()));
        }
        *count = insert_pairs(&txn, sql, rows).await?;
    }

    // Byte-keyed records.
    for (table, sql, count) in [
        (
            UPLOADS,
            "INSERT INTO uploads (ukey, upload) SELECT * FROM unnest($1::bytea[], $2::bytea[])",
            &mut report.uploads,
        ),
        (
            PARTS,
            "INSERT INTO parts (pkey, part) SELECT * FROM unnest($1::bytea[], $2::bytea[])",
            &mut report.parts,
        ),
    ] {
        let t = read.open_table(table).map_err(StoreError::from)?;
        let mut rows = Vec::new();
        for item in t.iter().map_err(StoreError::from)? {
            let (k, v) = item.map_err(StoreError::from)?;
            rows.push((k.value().to_vec(), v.value().to_vec()));
        }
        *count = insert_pairs(&txn, sql, rows).await?;
    }

    // Objects, with their version as a column; streamed in batches.
    {
        let t = read.open_table(OBJECTS).map_err(StoreError::from)?;
        let mut batch: Vec<(Vec<u8>, Uuid, Vec<u8>)> = Vec::with_capacity(BATCH);
        for item in t.iter().map_err(StoreError::from)? {
            let (k, v) = item.map_err(StoreError::from)?;
            let version = decode::<VersionOnly>("object", v.value())?.version;
            batch.push((k.value().to_vec(), version.0, v.value().to_vec()));
            if batch.len() == BATCH {
                report.objects += insert_objects(&txn, std::mem::take(&mut batch)).await?;
            }
        }
        report.objects += insert_objects(&txn, batch).await?;
    }

    // Data rows keyed by version.
    {
        let t = read.open_table(DATA).map_err(StoreError::from)?;
        let mut batch: Vec<(Uuid, Vec<u8>)> = Vec::with_capacity(BATCH);
        for item in t.iter().map_err(StoreError::from)? {
            let (k, v) = item.map_err(StoreError::from)?;
            batch.push((Uuid::from_u128(k.value()), v.value().to_vec()));
            if batch.len() == BATCH {
                report.data += insert_data(&txn, std::mem::take(&mut batch)).await?;
            }
        }
        report.data += insert_data(&txn, batch).await?;
    }

    // Garbage: the embedded store keeps the whole entry as one record.
    {
        let t = read.open_table(GARBAGE).map_err(StoreError::from)?;
        let (mut versions, mut since, mut data) = (Vec::new(), Vec::new(), Vec::new());
        for item in t.iter().map_err(StoreError::from)? {
            let (_, v) = item.map_err(StoreError::from)?;
            let entry: GarbageEntry = decode("garbage", v.value())?;
            versions.push(entry.version.0);
            since.push(entry.since_unix_ms);
            data.push(encode(&entry.data)?);
        }
        for ((v, s), d) in versions
            .chunks(BATCH)
            .zip(since.chunks(BATCH))
            .zip(data.chunks(BATCH))
        {
            report.garbage += execute(
                &txn,
                "INSERT INTO garbage (version, since_unix_ms, data) \
                 SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bytea[])",
                &[&v, &s, &d],
            )
            .await?;
        }
    }

    // Shard files: counts and deletion times.
    {
        let t = read.open_table(SHARD_REFS).map_err(StoreError::from)?;
        let (mut files, mut refs) = (Vec::new(), Vec::new());
        for item in t.iter().map_err(StoreError::from)? {
            let (k, v) = item.map_err(StoreError::from)?;
            files.push(k.value().to_vec());
            refs.push(i64::try_from(v.value()).unwrap_or(i64::MAX));
        }
        for (f, r) in files.chunks(BATCH).zip(refs.chunks(BATCH)) {
            report.shard_refs += execute(
                &txn,
                "INSERT INTO shard_refs (file, refs) SELECT * FROM unnest($1::bytea[], $2::bigint[])",
                &[&f, &r],
            )
            .await?;
        }
    }
    for (table, sql, count) in [
        (
            SHARD_DELETIONS,
            "INSERT INTO shard_deletions (file, since_unix_ms) \
             SELECT * FROM unnest($1::bytea[], $2::bigint[])",
            &mut report.shard_deletions,
        ),
        (
            SHARDS_DELETED,
            "INSERT INTO shards_deleted (file, at_unix_ms) \
             SELECT * FROM unnest($1::bytea[], $2::bigint[])",
            &mut report.shards_deleted,
        ),
    ] {
        let t = read.open_table(table).map_err(StoreError::from)?;
        let (mut files, mut times) = (Vec::new(), Vec::new());
        for item in t.iter().map_err(StoreError::from)? {
            let (k, v) = item.map_err(StoreError::from)?;
            files.push(k.value().to_vec());
            times.push(v.value());
        }
        for (f, at) in files.chunks(BATCH).zip(times.chunks(BATCH)) {
            *count += execute(&txn, sql, &[&f, &at]).await?;
        }
    }

    // Access keys, with their user as a column.
    {
        let t = read.open_table(ACCESS_KEYS).map_err(StoreError::from)?;
        let (mut ids, mut users, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for item in t.iter().map_err(StoreError::from)? {
            let (_, v) = item.map_err(StoreError::from)?;
            let key: AccessKey = decode("access key", v.value())?;
            ids.push(key.access_key.as_str().to_owned());
            users.push(key.user.as_str().to_owned());
            values.push(v.value().to_vec());
        }
        report.access_keys = execute(
            &txn,
            "INSERT INTO access_keys (id, user_name, key) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])",
            &[&ids, &users, &values],
        )
        .await?;
    }

    // Every row arrived: the same counts on both sides, or nothing at all.
    let expected = [
        (BUCKETS.name(), report.buckets, count(&read, BUCKETS)?),
        (OBJECTS.name(), report.objects, count(&read, OBJECTS)?),
        (UPLOADS.name(), report.uploads, count(&read, UPLOADS)?),
    ];
    for (table, copied, there) in expected {
        if copied != there {
            return Err(StoreError::Backend(format!(
                "copied {copied} rows of {table}, the source has {there}"
            ))
            .into());
        }
    }
    let data_rows = read
        .open_table(DATA)
        .map_err(StoreError::from)?
        .len()
        .map_err(StoreError::from)?;
    if data_rows != report.data {
        return Err(
            StoreError::Backend("the data rows copied do not match the source".into()).into(),
        );
    }
    txn.commit().await.map_err(pg_error)?;
    Ok(report)
}

fn count(
    read: &redb::ReadTransaction,
    table: redb::TableDefinition<&[u8], &[u8]>,
) -> Result<u64, StoreError> {
    Ok(read.open_table(table)?.len()?)
}

async fn execute(
    txn: &Transaction<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, StoreError> {
    txn.execute(sql, params).await.map_err(pg_error)
}

async fn insert_pairs<K: ToSql + Sync>(
    txn: &Transaction<'_>,
    sql: &str,
    rows: Vec<(K, Vec<u8>)>,
) -> Result<u64, StoreError> {
    let mut n = 0;
    let (keys, values): (Vec<K>, Vec<Vec<u8>>) = rows.into_iter().unzip();
    for (k, v) in keys.chunks(BATCH).zip(values.chunks(BATCH)) {
        n += execute(txn, sql, &[&k, &v]).await?;
    }
    Ok(n)
}

async fn insert_objects(
    txn: &Transaction<'_>,
    batch: Vec<(Vec<u8>, Uuid, Vec<u8>)>,
) -> Result<u64, StoreError> {
    if batch.is_empty() {
        return Ok(0);
    }
    let mut okeys = Vec::with_capacity(batch.len());
    let mut versions = Vec::with_capacity(batch.len());
    let mut metas = Vec::with_capacity(batch.len());
    for (k, v, m) in batch {
        okeys.push(k);
        versions.push(v);
        metas.push(m);
    }
    execute(
        txn,
        "INSERT INTO objects (okey, version, meta) \
         SELECT * FROM unnest($1::bytea[], $2::uuid[], $3::bytea[])",
        &[&okeys, &versions, &metas],
    )
    .await
}

async fn insert_data(
    txn: &Transaction<'_>,
    batch: Vec<(Uuid, Vec<u8>)>,
) -> Result<u64, StoreError> {
    if batch.is_empty() {
        return Ok(0);
    }
    let (versions, data): (Vec<Uuid>, Vec<Vec<u8>>) = batch.into_iter().unzip();
    execute(
        txn,
        "INSERT INTO data (version, data) SELECT * FROM unnest($1::uuid[], $2::bytea[])",
        &[&versions, &data],
    )
    .await
}

#[cfg(test)]
mod tests {
    use std::ops::Bound;

    use super::*;
    use crate::ids::{NodeId, UploadId};
    use crate::model::{MultipartUpload, PartRecord, UserInfo};
    use crate::store::conformance::{bucket, bucket_info, meta, striped};
    use crate::store::{MetaStore, RedbStore};
    use crate::testing::postgres::TestDatabase;

    /// Everything the embedded store holds reads back the same from
    /// PostgreSQL after the copy, and a second copy is refused.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_copy_reads_back_the_same() {
        let Some(db) = TestDatabase::create().await.expect("test database") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let node: NodeId = "node-1".parse().unwrap();
        let upload = MultipartUpload {
            bucket: bucket("media"),
            key: "big".into(),
            upload_id: UploadId::new(),
            owner: "o".into(),
            initiated_unix_ms: 1,
            headers: Default::default(),
            user_metadata: Default::default(),
            checksum_algorithm: None,
            checksum_type: None,
            bucket_id: None,
        };
        let part = PartRecord {
            part_number: 1,
            version: VersionId::new(),
            size: 3,
            etag: "p1".into(),
            last_modified_unix_ms: 1,
            checksums: Default::default(),
            shards_written_since_unix_ms: None,
        };
        {
            let s = RedbStore::open(dir.path()).unwrap();
            s.create_user(UserInfo {
                name: "alice".parse().unwrap(),
                created_unix_ms: 1,
                configured: false,
            })
            .await
            .unwrap();
            s.create_access_key(AccessKey::generate("alice".parse().unwrap(), 1))
                .await
                .unwrap();
            s.create_bucket(bucket_info("media", "alice"))
                .await
                .unwrap();
            for i in 0..2500 {
                s.commit_object(
                    meta("media", &format!("k{i:05}"), 3),
                    striped(&format!("{i}")),
                )
                .await
                .unwrap();
            }
            // Replaced: garbage; collected: a queued deletion.
            let old = meta("media", "again", 3);
            s.commit_object(old.clone(), striped("old")).await.unwrap();
            s.commit_object(meta("media", "again", 3), striped("new"))
                .await
                .unwrap();
            s.commit_object(meta("media", "gone", 3), striped("gone"))
                .await
                .unwrap();
            let gone = s
                .delete_object(&bucket("media"), "gone")
                .await
                .unwrap()
                .unwrap();
            s.remove_garbage(&[gone.version]).await.unwrap();
            s.create_upload(upload.clone()).await.unwrap();
            s.commit_part(
                &upload.bucket,
                &upload.key,
                &upload.upload_id,
                part.clone(),
                striped("p1"),
                None,
            )
            .await
            .unwrap();
        }
        let source = RedbStore::open(dir.path()).unwrap();
        let expect_objects = source
            .scan_objects(&bucket("media"), "", Bound::Unbounded, 10_000)
            .await
            .unwrap();
        let expect_garbage = source.list_garbage(100).await.unwrap();
        let expect_deletions = source.pending_deletions(&node, 100).await.unwrap();
        let expect_files = source.node_files(&node, None, 10_000).await.unwrap();
        let expect_keys = source.list_access_keys().await.unwrap();
        drop(source);

        let target = PgOptions {
            url: db.url().to_owned(),
            pool_size: 2,
        };
        let report = copy_redb_to_postgres(dir.path(), &target).await.unwrap();
        assert_eq!(report.objects, 2501);
        assert_eq!(report.parts, 1);
        let pg = PgStore::connect(&target).await.unwrap();
        assert_eq!(
            pg.scan_objects(&bucket("media"), "", Bound::Unbounded, 10_000)
                .await
                .unwrap(),
            expect_objects
        );
        let (_, data) = pg
            .get_object(&bucket("media"), "again")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(data, striped("new"));
        assert_eq!(pg.list_garbage(100).await.unwrap(), expect_garbage);
        assert_eq!(
            pg.pending_deletions(&node, 100).await.unwrap(),
            expect_deletions
        );
        assert_eq!(
            pg.node_files(&node, None, 10_000).await.unwrap(),
            expect_files
        );
        assert_eq!(pg.list_access_keys().await.unwrap(), expect_keys);
        let parts = pg
            .list_parts(&upload.bucket, &upload.key, &upload.upload_id, 0, 10)
            .await
            .unwrap();
        assert_eq!(parts.parts, vec![part]);
        // Collecting the replaced version on PostgreSQL frees what only it named.
        pg.remove_garbage(&[expect_garbage[0].version])
            .await
            .unwrap();
        assert!(
            pg.pending_deletions(&node, 100)
                .await
                .unwrap()
                .contains(&crate::ids::ShardHash::of(b"old"))
        );
        assert!(matches!(
            copy_redb_to_postgres(dir.path(), &target).await,
            Err(CopyError::TargetNotEmpty(1))
        ));
    }
}
