//! Buckets, object versions and their data in the PostgreSQL backend. Each
//! write checks every precondition before it writes anything, like the
//! embedded store's writer, under the locks it takes first (see
//! [`super::locks`]).

use std::ops::Bound;

use deadpool_postgres::Transaction;
use uuid::Uuid;

use super::locks::Locks;
use super::shard_refs::{admit, drop_refs};
use super::sql::{all, exec, limit, one, opt};
use super::txn::{TxError, TxResult};
use crate::ids::{BucketId, BucketName, VersionId};
use crate::model::{BucketInfo, ObjectMeta, WriteCondition};
use crate::store::StoreError;
use crate::store::codec::decode;
use crate::store::keys::{object_key, prefix_successor};
use crate::store::rules::{check_bucket, check_bucket_deletion, check_condition, is_striped};

/// Keys of a bucket span `bucket \0 ..` up to (excluding) `bucket \x01`.
pub(super) fn bucket_range(bucket: &BucketName) -> (Vec<u8>, Vec<u8>) {
    let lo = object_key(bucket, b"");
    let mut hi = lo.clone();
    if let Some(last) = hi.last_mut() {
        *last = 1;
    }
    (lo, hi)
}

pub(super) async fn bucket_exists(
    t: &Transaction<'_>,
    bucket: &BucketName,
) -> Result<bool, tokio_postgres::Error> {
    Ok(opt(
        t,
        "SELECT 1 FROM buckets WHERE name = $1",
        &[&bucket.as_str()],
    )
    .await?
    .is_some())
}

/// [`check_bucket`] against the stored bucket: whether a write whose
/// request checked `expected` may land in `name`. The caller holds the
/// bucket's lock (shared), so the answer holds until it commits.
pub(super) async fn bucket_check(
    t: &Transaction<'_>,
    name: &BucketName,
    expected: Option<BucketId>,
) -> Result<Result<(), StoreError>, TxError> {
    let row = opt(
        t,
        "SELECT info FROM buckets WHERE name = $1",
        &[&name.as_str()],
    )
    .await?;
    Ok(check_bucket(row.as_ref().map(|r| r.get(0)), expected))
}

pub(super) async fn create_bucket(
    t: &Transaction<'_>,
    name: &BucketName,
    value: &[u8],
) -> TxResult<()> {
    Locks::new()
        .identity(false)
        .bucket(name, true)
        .take(t)
        .await?;
    if let Some(row) = opt(
        t,
        "SELECT info FROM buckets WHERE name = $1",
        &[&name.as_str()],
    )
    .await?
    {
        let info: BucketInfo = decode("bucket", row.get(0))?;
        return Ok(Err(StoreError::BucketAlreadyExists { owner: info.owner }));
    }
    exec(
        t,
        "INSERT INTO buckets (name, info) VALUES ($1, $2)",
        &[&name.as_str(), &value],
    )
    .await?;
    Ok(Ok(()))
}

/// DeleteBucket (see [`check_bucket_deletion`]): the bucket goes, and its
/// uploads in progress with it.
pub(super) async fn delete_bucket(
    t: &Transaction<'_>,
    name: &BucketName,
    now_ms: i64,
) -> TxResult<()> {
    // Waits for the writes in progress inside the bucket (object and upload
    // writes share this lock); later ones wait for this and then find it
    // gone.
    Locks::new().bucket(name, true).take(t).await?;
    let (lo, hi) = bucket_range(name);
    let row = one(
        t,
        "SELECT EXISTS (SELECT 1 FROM buckets WHERE name = $1), \
                EXISTS (SELECT 1 FROM objects WHERE okey >= $2 AND okey < $3)",
        &[&name.as_str(), &lo, &hi],
    )
    .await?;
    if let Err(e) = check_bucket_deletion(row.get(0), row.get(1)) {
        return Ok(Err(e));
    }
    super::multipart::abort_bucket_uploads(t, name, now_ms).await?;
    exec(t, "DELETE FROM buckets WHERE name = $1", &[&name.as_str()]).await?;
    Ok(Ok(()))
}

/// Whether `version` names live or retired data: a new write may not take it.
pub(super) async fn version_taken(
    t: &Transaction<'_>,
    version: VersionId,
) -> Result<bool, tokio_postgres::Error> {
    Ok(one(
        t,
        "SELECT EXISTS (SELECT 1 FROM data WHERE version = $1) \
             OR EXISTS (SELECT 1 FROM garbage WHERE version = $1)",
        &[&version.0],
    )
    .await?
    .get(0))
}

/// Moves a version's data out of `data`: striped data to `garbage` for the
/// collector, inline data simply dropped (it has no shards to collect).
pub(super) async fn discard_data(
    t: &Transaction<'_>,
    version: VersionId,
    now_ms: i64,
) -> Result<(), TxError> {
    let Some(row) = opt(
        t,
        "DELETE FROM data WHERE version = $1 RETURNING data",
        &[&version.0],
    )
    .await?
    else {
        tracing::warn!(%version, "replaced version had no data record");
        return Ok(());
    };
    retire(t, version, row.get(0), now_ms).await
}

/// Writes a garbage row for `raw` (an encoded `ObjectData`) if it names
/// shards.
pub(super) async fn retire(
    t: &Transaction<'_>,
    version: VersionId,
    raw: &[u8],
    now_ms: i64,
) -> Result<(), TxError> {
    if is_striped(raw)? {
        exec(
            t,
            "INSERT INTO garbage (version, since_unix_ms, data) VALUES ($1, $2, $3)",
            &[&version.0, &now_ms, &raw],
        )
        .await?;
    }
    Ok(())
}

/// The pre-encoded parts of a commit.
pub(super) struct Commit<'a> {
    pub bucket: &'a BucketName,
    pub key: &'a str,
    pub version: VersionId,
    pub meta: &'a [u8],
    pub data: &'a [u8],
    pub files: &'a [Vec<u8>],
    pub condition: &'a WriteCondition,
}

pub(super) async fn commit_object(
    t: &Transaction<'_>,
    c: &Commit<'_>,
    now_ms: i64,
) -> TxResult<Option<ObjectMeta>> {
    let okey = object_key(c.bucket, c.key.as_bytes());
    Locks::new()
        .bucket(c.bucket, false)
        .object(&okey)
        .version(c.version.0)
        .take(t)
        .await?;
    // The bucket, the key's current version and whether the new version id
    // is taken, in one round trip.
    let row = one(
        t,
        "SELECT (SELECT info FROM buckets WHERE name = $1), \
                (SELECT meta FROM objects WHERE okey = $2), \
                EXISTS (SELECT 1 FROM data WHERE version = $3) \
                    OR EXISTS (SELECT 1 FROM garbage WHERE version = $3)",
        &[&c.bucket.as_str(), &okey, &c.version.0],
    )
    .await?;
    if let Err(e) = check_bucket(row.get(0), c.condition.bucket_id) {
        return Ok(Err(e));
    }
    let old: Option<ObjectMeta> = match row.get::<_, Option<&[u8]>>(1) {
        Some(raw) => Some(decode("object", raw)?),
        None => None,
    };
    let taken: bool = row.get(2);
    let retry = old.as_ref().is_some_and(|o| o.version == c.version);
    if !retry {
        if let Err(e) = check_condition(c.condition, old.as_ref()) {
            return Ok(Err(e));
        }
        // A version id names one write; reusing it would let the collector
        // delete shards a live manifest still names.
        if taken {
            return Ok(Err(StoreError::VersionInUse));
        }
        admit(t, c.files, c.condition.shards_written_since_unix_ms).await?;
    }
    exec(
        t,
        "INSERT INTO objects (okey, version, meta) VALUES ($1, $2, $3) \
         ON CONFLICT (okey) DO UPDATE SET version = EXCLUDED.version, meta = EXCLUDED.meta",
        &[&okey, &c.version.0, &c.meta],
    )
    .await?;
    exec(
        t,
        "INSERT INTO data (version, data) VALUES ($1, $2) \
         ON CONFLICT (version) DO UPDATE SET data = EXCLUDED.data",
        &[&c.version.0, &c.data],
    )
    .await?;
    match old {
        // A retried commit of the same version rewrote its data in place.
        Some(_) if retry => Ok(Ok(None)),
        Some(old) => {
            discard_data(t, old.version, now_ms).await?;
            Ok(Ok(Some(old)))
        }
        None => Ok(Ok(None)),
    }
}

pub(super) async fn delete_object(
    t: &Transaction<'_>,
    bucket: &BucketName,
    key: &str,
    now_ms: i64,
) -> TxResult<Option<ObjectMeta>> {
    let okey = object_key(bucket, key.as_bytes());
    Locks::new()
        .bucket(bucket, false)
        .object(&okey)
        .take(t)
        .await?;
    if !bucket_exists(t, bucket).await? {
        return Ok(Err(StoreError::NoSuchBucket));
    }
    let Some(row) = opt(
        t,
        "DELETE FROM objects WHERE okey = $1 RETURNING meta",
        &[&okey],
    )
    .await?
    else {
        return Ok(Ok(None));
    };
    let old: ObjectMeta = decode("object", row.get(0))?;
    discard_data(t, old.version, now_ms).await?;
    Ok(Ok(Some(old)))
}

/// Forgets garbage rows and drops their references.
pub(super) async fn remove_garbage(
    t: &Transaction<'_>,
    versions: &[Uuid],
    now_ms: i64,
) -> TxResult<()> {
    let rows = all(
        t,
        "DELETE FROM garbage WHERE version = ANY($1) RETURNING data",
        &[&versions],
    )
    .await?;
    let mut files = Vec::new();
    for row in rows {
        let data = decode("garbage", row.get(0))?;
        files.extend(crate::store::redb_writer::shard_refs::file_keys(&data));
    }
    drop_refs(t, &files, now_ms).await?;
    Ok(Ok(()))
}

/// The delimiter scan as one statement: a recursive walk of the primary key
/// index where each step is one index probe for the first key at or after
/// the previous entry's successor. After a key that rolls up into a common
/// prefix (the first delimiter after the listing prefix, parameter `$4`
/// found past byte `$3`; `cp_len` bytes long), the successor is the common
/// prefix's: its last byte plus one, never 0xff since the delimiter is
/// UTF-8. After any other key it is the key followed by a zero byte. So a folder of a million keys
/// costs one probe, and a page of 1000 entries one round trip. PostgreSQL
/// runs a recursive query only as far as the outer `LIMIT` pulls it.
const ROLLED_UP_SCAN: &str = "\
WITH RECURSIVE walk(okey, meta) AS ( \
    (SELECT okey, meta FROM objects WHERE okey >= $1 AND okey < $2 ORDER BY okey LIMIT 1) \
  UNION ALL \
    SELECT o.okey, o.meta FROM walk w \
    CROSS JOIN LATERAL (SELECT position($4 IN substring(w.okey FROM $3 + 1)) AS at) d \
    CROSS JOIN LATERAL (SELECT $3 + d.at + length($4) - 1 AS cp_len) c \
    CROSS JOIN LATERAL ( \
        SELECT okey, meta FROM objects \
        WHERE okey >= CASE WHEN d.at = 0 THEN w.okey || '\\x00'::bytea \
            ELSE set_byte(substring(w.okey FOR c.cp_len), c.cp_len - 1, \
                          get_byte(w.okey, c.cp_len - 1) + 1) END \
          AND okey < $2 \
        ORDER BY okey LIMIT 1) o \
) \
SELECT meta FROM walk LIMIT $5";

/// A listing scan (see [`crate::store::MetaStore::scan_objects`] and
/// `scan_rolled_up`) inside one read snapshot: one index range query, or
/// with a delimiter one [`ROLLED_UP_SCAN`].
pub(super) async fn scan(
    t: &Transaction<'_>,
    bucket: &BucketName,
    prefix: &str,
    delimiter: Option<&str>,
    from: Bound<&[u8]>,
    max: usize,
) -> Result<Vec<ObjectMeta>, TxError> {
    if !bucket_exists(t, bucket).await? {
        return Err(StoreError::NoSuchBucket.into());
    }
    let start = object_key(bucket, prefix.as_bytes());
    // Never None: a bucket name has no 0xff byte to carry over.
    let end = prefix_successor(&start)
        .ok_or_else(|| StoreError::Backend("no upper bound for the scan".into()))?;
    // The tighter of "starts with prefix" and the caller's bound, made
    // inclusive: the least key above `f` is `f` and a zero byte.
    let lower = match from {
        Bound::Included(f) if f > prefix.as_bytes() => object_key(bucket, f),
        Bound::Excluded(f) if f >= prefix.as_bytes() => {
            let mut k = object_key(bucket, f);
            k.push(0);
            k
        }
        _ => start.clone(),
    };
    let rows =
        match delimiter.filter(|d| !d.is_empty()) {
            None => all(
                t,
                "SELECT meta FROM objects WHERE okey >= $1 AND okey < $2 ORDER BY okey LIMIT $3",
                &[&lower, &end, &limit(max)],
            )
            .await?,
            Some(d) => {
                let prefix_len = i32::try_from(start.len())
                    .map_err(|_| StoreError::Backend("listing prefix too long".into()))?;
                all(
                    t,
                    ROLLED_UP_SCAN,
                    &[&lower, &end, &prefix_len, &d.as_bytes(), &limit(max)],
                )
                .await?
            }
        };
    rows.iter()
        .map(|row| decode("object", row.get(0)).map_err(TxError::from))
        .collect()
}
