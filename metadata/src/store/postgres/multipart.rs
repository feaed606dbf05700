//! Multipart uploads in the PostgreSQL backend: the same rules as the
//! embedded store (see its writer's `multipart`), each operation one
//! transaction under the locks it takes first ([`super::locks`]): a part
//! write shares its upload's lock, so a completion or an abort (exclusive)
//! waits for the part writes in progress and sees all of them. A
//! completion checks its parts, builds the object's manifest from theirs
//! and removes them in that one transaction.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::Transaction;
use uuid::Uuid;

use super::locks::Locks;
use super::objects::{
    bucket_check, bucket_exists, bucket_range, discard_data, retire, version_taken,
};
use super::shard_refs::{add_refs, admit};
use super::sql::{all, exec, limit, opt};
use super::txn::{TxError, TxResult};
use crate::ids::{BucketId, BucketName, UploadId, VersionId};
use crate::model::{
    CompleteRequest, MultipartUpload, ObjectData, ObjectMeta, PartRecord, PartsPage, UploadsPage,
    UploadsQuery,
};
use crate::store::StoreError;
use crate::store::codec::{decode, encode};
use crate::store::keys::{
    object_key, part_key, prefix_successor, upload_id_of_upload_key, upload_key,
};
use crate::store::rules::{
    check_condition, check_listed_parts, completed_object, completion_without_upload, concatenate,
    rolled_up,
};

pub(super) async fn create_upload(
    t: &Transaction<'_>,
    upload: &MultipartUpload,
    value: &[u8],
) -> TxResult<()> {
    let ukey = upload_key(&upload.bucket, upload.key.as_bytes(), &upload.upload_id);
    Locks::new()
        .bucket(&upload.bucket, false)
        .upload(&ukey, true)
        .take(t)
        .await?;
    if let Err(e) = bucket_check(t, &upload.bucket, upload.bucket_id).await? {
        return Ok(Err(e));
    }
    exec(
        t,
        "INSERT INTO uploads (ukey, upload) VALUES ($1, $2) \
         ON CONFLICT (ukey) DO UPDATE SET upload = EXCLUDED.upload",
        &[&ukey, &value],
    )
    .await?;
    Ok(Ok(()))
}

async fn upload_exists(t: &Transaction<'_>, ukey: &[u8]) -> Result<bool, tokio_postgres::Error> {
    Ok(opt(t, "SELECT 1 FROM uploads WHERE ukey = $1", &[&ukey])
        .await?
        .is_some())
}

/// The pre-encoded parts of a part commit.
pub(super) struct PartCommit<'a> {
    pub bucket: &'a BucketName,
    /// The bucket the request checked.
    pub bucket_id: Option<BucketId>,
    pub key: &'a str,
    pub upload_id: &'a UploadId,
    pub part_number: u32,
    pub version: VersionId,
    pub part: &'a [u8],
    pub data: &'a [u8],
    pub files: &'a [Vec<u8>],
    pub written_since: Option<i64>,
}

pub(super) async fn commit_part(
    t: &Transaction<'_>,
    c: &PartCommit<'_>,
    now_ms: i64,
) -> TxResult<Option<PartRecord>> {
    let ukey = upload_key(c.bucket, c.key.as_bytes(), c.upload_id);
    let pkey = part_key(c.upload_id, c.part_number);
    Locks::new()
        .bucket(c.bucket, false)
        .upload(&ukey, false)
        .part(&pkey)
        .version(c.version.0)
        .take(t)
        .await?;
    // Refused before the upload is looked at: the caller frees the part's
    // shards on `NoSuchBucket`.
    if let Err(e) = bucket_check(t, c.bucket, c.bucket_id).await? {
        return Ok(Err(e));
    }
    if !upload_exists(t, &ukey).await? {
        // The part's shards are written and no record will ever name them:
        // hand them to the collector, unless the version is live elsewhere.
        if !version_taken(t, c.version).await? {
            add_refs(t, c.files).await?;
            retire(t, c.version, c.data, now_ms).await?;
        }
        return Ok(Err(StoreError::NoSuchUpload));
    }
    let old: Option<PartRecord> = match opt(
        t,
        "SELECT part FROM parts WHERE pkey = $1",
        &[&pkey.as_slice()],
    )
    .await?
    {
        Some(row) => Some(decode("part", row.get(0))?),
        None => None,
    };
    let retry = old.as_ref().is_some_and(|o| o.version == c.version);
    if !retry {
        if version_taken(t, c.version).await? {
            return Ok(Err(StoreError::VersionInUse));
        }
        admit(t, c.files, c.written_since).await?;
    }
    exec(
        t,
        "INSERT INTO parts (pkey, part) VALUES ($1, $2) \
         ON CONFLICT (pkey) DO UPDATE SET part = EXCLUDED.part",
        &[&pkey.as_slice(), &c.part],
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
        Some(old) if !retry => {
            discard_data(t, old.version, now_ms).await?;
            Ok(Ok(Some(old)))
        }
        _ => Ok(Ok(None)),
    }
}

/// Every part record of an upload, in number order.
async fn parts_of(
    t: &Transaction<'_>,
    upload_id: &UploadId,
    delete: bool,
) -> Result<Vec<PartRecord>, TxError> {
    let (lo, hi) = (part_key(upload_id, 0), part_key(upload_id, u32::MAX));
    let sql = if delete {
        "DELETE FROM parts WHERE pkey >= $1 AND pkey <= $2 RETURNING part"
    } else {
        "SELECT part FROM parts WHERE pkey >= $1 AND pkey <= $2 ORDER BY pkey"
    };
    let rows = all(t, sql, &[&lo.as_slice(), &hi.as_slice()]).await?;
    let mut parts = Vec::with_capacity(rows.len());
    for row in rows {
        parts.push(decode::<PartRecord>("part", row.get(0))?);
    }
    Ok(parts)
}

async fn current(t: &Transaction<'_>, okey: &[u8]) -> Result<Option<ObjectMeta>, TxError> {
    match opt(t, "SELECT meta FROM objects WHERE okey = $1", &[&okey]).await? {
        Some(row) => Ok(Some(decode("object", row.get(0))?)),
        None => Ok(None),
    }
}

pub(super) async fn complete_upload(
    t: &Transaction<'_>,
    req: &CompleteRequest,
    now_ms: i64,
) -> TxResult<Option<ObjectMeta>> {
    let object = &req.object;
    let ukey = upload_key(&object.bucket, object.key.as_bytes(), &req.upload_id);
    let okey = object_key(&object.bucket, object.key.as_bytes());
    Locks::new()
        .bucket(&object.bucket, false)
        .upload(&ukey, true)
        .object(&okey)
        .version(object.version.0)
        .take(t)
        .await?;
    if let Err(e) = bucket_check(t, &object.bucket, req.condition.bucket_id).await? {
        return Ok(Err(e));
    }
    if !upload_exists(t, &ukey).await? {
        return Ok(completion_without_upload(
            current(t, &okey).await?.as_ref(),
            req,
        ));
    }
    let stored: HashMap<u32, PartRecord> = parts_of(t, &req.upload_id, false)
        .await?
        .into_iter()
        .map(|p| (p.part_number, p))
        .collect();
    let listed = match check_listed_parts(req, |n| stored.get(&n).cloned()) {
        Ok(listed) => listed,
        Err(e) => return Ok(Err(e)),
    };
    if version_taken(t, object.version).await? {
        return Ok(Err(StoreError::VersionInUse));
    }
    let versions: Vec<Uuid> = listed.iter().map(|p| p.version.0).collect();
    let mut data: HashMap<Uuid, ObjectData> = HashMap::with_capacity(listed.len());
    // Locked: a repair move must not relocate a part's shard between this
    // read and the manifest built from it.
    for row in all(
        t,
        "SELECT version, data FROM data WHERE version = ANY($1) ORDER BY version FOR UPDATE",
        &[&versions],
    )
    .await?
    {
        data.insert(row.get(0), decode("data", row.get(1))?);
    }
    let mut in_order = Vec::with_capacity(listed.len());
    for part in &listed {
        let Some(d) = data.remove(&part.version.0) else {
            return Err(StoreError::Corrupt(format!(
                "part {} (version {}) has no data record",
                part.part_number, part.version
            ))
            .into());
        };
        in_order.push((part.part_number, d));
    }
    let manifest = match concatenate(in_order) {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    if manifest.data_len() != object.size {
        return Ok(Err(StoreError::Invalid(format!(
            "the parts' manifests hold {} bytes, not {}",
            manifest.data_len(),
            object.size
        ))));
    }
    let old = current(t, &okey).await?;
    if !req.condition.is_empty()
        && let Err(e) = check_condition(&req.condition, old.as_ref())
    {
        return Ok(Err(e));
    }

    // Every check passed: from here on, only writes.
    let meta = completed_object(req, &listed);
    exec(
        t,
        "INSERT INTO objects (okey, version, meta) VALUES ($1, $2, $3) \
         ON CONFLICT (okey) DO UPDATE SET version = EXCLUDED.version, meta = EXCLUDED.meta",
        &[&okey, &meta.version.0, &encode(&meta)?],
    )
    .await?;
    exec(
        t,
        "INSERT INTO data (version, data) VALUES ($1, $2)",
        &[&meta.version.0, &encode(&ObjectData::Striped(manifest))?],
    )
    .await?;
    if let Some(old) = &old {
        discard_data(t, old.version, now_ms).await?;
    }
    exec(t, "DELETE FROM uploads WHERE ukey = $1", &[&ukey]).await?;
    // The listed attempts' shards now belong to the object: drop their data
    // rows without retiring them. Every other attempt is garbage.
    let kept: HashSet<VersionId> = listed.iter().map(|p| p.version).collect();
    let mut dropped = Vec::new();
    for part in parts_of(t, &req.upload_id, true).await? {
        if kept.contains(&part.version) {
            dropped.push(part.version.0);
        } else {
            discard_data(t, part.version, now_ms).await?;
        }
    }
    exec(t, "DELETE FROM data WHERE version = ANY($1)", &[&dropped]).await?;
    Ok(Ok(old))
}

pub(super) async fn abort_upload(
    t: &Transaction<'_>,
    bucket: &BucketName,
    key: &str,
    upload_id: &UploadId,
    now_ms: i64,
) -> TxResult<()> {
    let ukey = upload_key(bucket, key.as_bytes(), upload_id);
    Locks::new()
        .bucket(bucket, false)
        .upload(&ukey, true)
        .take(t)
        .await?;
    if exec(t, "DELETE FROM uploads WHERE ukey = $1", &[&ukey]).await? == 0 {
        return Ok(Err(StoreError::NoSuchUpload));
    }
    drop_parts(t, upload_id, now_ms).await?;
    Ok(Ok(()))
}

/// Aborts every upload of a bucket being deleted, each as
/// [`abort_upload`] does. The caller holds the bucket's lock exclusively,
/// which every upload write shares, so none is in progress.
pub(super) async fn abort_bucket_uploads(
    t: &Transaction<'_>,
    bucket: &BucketName,
    now_ms: i64,
) -> Result<(), TxError> {
    let (lo, hi) = bucket_range(bucket);
    let rows = all(
        t,
        "DELETE FROM uploads WHERE ukey >= $1 AND ukey < $2 RETURNING ukey",
        &[&lo, &hi],
    )
    .await?;
    for row in rows {
        let upload_id = upload_id_of_upload_key(row.get(0))
            .ok_or_else(|| StoreError::Corrupt("an upload key without an upload id".into()))?;
        drop_parts(t, &upload_id, now_ms).await?;
    }
    Ok(())
}

/// Removes an upload's parts, moving their data to garbage.
async fn drop_parts(t: &Transaction<'_>, upload_id: &UploadId, now_ms: i64) -> Result<(), TxError> {
    for part in parts_of(t, upload_id, true).await? {
        discard_data(t, part.version, now_ms).await?;
    }
    Ok(())
}

pub(super) async fn get_upload(
    t: &Transaction<'_>,
    bucket: &BucketName,
    key: &str,
    upload_id: &UploadId,
) -> Result<Option<MultipartUpload>, TxError> {
    let ukey = upload_key(bucket, key.as_bytes(), upload_id);
    match opt(t, "SELECT upload FROM uploads WHERE ukey = $1", &[&ukey]).await? {
        Some(row) => Ok(Some(decode("upload", row.get(0))?)),
        None => Ok(None),
    }
}

async fn require_upload(
    t: &Transaction<'_>,
    bucket: &BucketName,
    key: &str,
    upload_id: &UploadId,
) -> Result<(), TxError> {
    if upload_exists(t, &upload_key(bucket, key.as_bytes(), upload_id)).await? {
        Ok(())
    } else {
        Err(StoreError::NoSuchUpload.into())
    }
}

pub(super) async fn list_parts(
    t: &Transaction<'_>,
    (bucket, key, upload_id): (&BucketName, &str, &UploadId),
    after: u32,
    max: usize,
) -> Result<PartsPage, TxError> {
    require_upload(t, bucket, key, upload_id).await?;
    let mut page = PartsPage {
        parts: Vec::new(),
        is_truncated: false,
        next_part_number_marker: None,
    };
    if max == 0 || after == u32::MAX {
        return Ok(page);
    }
    let (lo, hi) = (
        part_key(upload_id, after + 1),
        part_key(upload_id, u32::MAX),
    );
    // One row more than the page tells whether it is truncated.
    let rows = all(
        t,
        "SELECT part FROM parts WHERE pkey >= $1 AND pkey <= $2 ORDER BY pkey LIMIT $3",
        &[
            &lo.as_slice(),
            &hi.as_slice(),
            &limit(max.saturating_add(1)),
        ],
    )
    .await?;
    for row in rows {
        if page.parts.len() == max {
            page.is_truncated = true;
            page.next_part_number_marker = page.parts.last().map(|p| p.part_number);
            break;
        }
        page.parts.push(decode::<PartRecord>("part", row.get(0))?);
    }
    Ok(page)
}

pub(super) async fn get_part(
    t: &Transaction<'_>,
    (bucket, key, upload_id): (&BucketName, &str, &UploadId),
    part_number: u32,
) -> Result<Option<(PartRecord, ObjectData)>, TxError> {
    require_upload(t, bucket, key, upload_id).await?;
    let pkey = part_key(upload_id, part_number);
    let Some(row) = opt(
        t,
        "SELECT part FROM parts WHERE pkey = $1",
        &[&pkey.as_slice()],
    )
    .await?
    else {
        return Ok(None);
    };
    let part: PartRecord = decode("part", row.get(0))?;
    let Some(raw) = opt(
        t,
        "SELECT data FROM data WHERE version = $1",
        &[&part.version.0],
    )
    .await?
    else {
        return Err(StoreError::Corrupt(format!(
            "upload {upload_id} part {part_number}: no data for version {}",
            part.version
        ))
        .into());
    };
    Ok(Some((part, decode("data", raw.get(0))?)))
}

pub(super) async fn list_uploads(
    t: &Transaction<'_>,
    q: &UploadsQuery,
) -> Result<UploadsPage, TxError> {
    if !bucket_exists(t, &q.bucket).await? {
        return Err(StoreError::NoSuchBucket.into());
    }
    let mut page = UploadsPage {
        uploads: Vec::new(),
        common_prefixes: Vec::new(),
        is_truncated: false,
        next_key_marker: None,
        next_upload_id_marker: None,
    };
    let max = q.max_uploads as usize;
    if max == 0 {
        return Ok(page);
    }
    let start = object_key(&q.bucket, q.prefix.as_bytes());
    let end = prefix_successor(&start)
        .ok_or_else(|| StoreError::Backend("no upper bound for the scan".into()))?;
    // S3: a key marker alone skips every upload of that key; with an upload
    // id marker, only that key's uploads up to and including the marker.
    let marker = match (&q.key_marker, &q.upload_id_marker) {
        (Some(k), Some(id)) => Some((upload_key(&q.bucket, k.as_bytes(), id), false)),
        (Some(k), None) => {
            let mut all_of_key = object_key(&q.bucket, k.as_bytes());
            all_of_key.push(0);
            prefix_successor(&all_of_key).map(|m| (m, true))
        }
        (None, _) => None,
    };
    let (mut lower, mut inclusive) = match marker {
        Some((m, _)) if m >= end => return Ok(page),
        Some((m, true)) if m > start => (m, true),
        Some((m, false)) if m >= start => (m, false),
        _ => (start, true),
    };
    let delimiter = q.delimiter.as_deref().filter(|d| !d.is_empty());
    let mut entries = 0;
    // Each query scans from `lower`; rolling a key up into a common prefix
    // seeks past every key under it and starts a new query.
    'scan: loop {
        let sql = if inclusive {
            "SELECT ukey, upload FROM uploads WHERE ukey >= $1 AND ukey < $2 ORDER BY ukey LIMIT $3"
        } else {
            "SELECT ukey, upload FROM uploads WHERE ukey > $1 AND ukey < $2 ORDER BY ukey LIMIT $3"
        };
        let want = max + 1 - entries;
        let rows = all(t, sql, &[&lower, &end, &limit(want)]).await?;
        let exhausted = rows.len() < want;
        for row in &rows {
            let upload = decode::<MultipartUpload>("upload", row.get(1))?;
            let rolled = delimiter.and_then(|d| rolled_up(&upload.key, &q.prefix, d));
            if let Some(cp) = rolled {
                let past = prefix_successor(&object_key(&q.bucket, cp.as_bytes()));
                // A common prefix at or before the key marker was listed on
                // an earlier page.
                let listed_before = q.key_marker.as_deref().is_some_and(|m| cp <= m);
                if !listed_before {
                    if entries == max {
                        page.is_truncated = true;
                        break 'scan;
                    }
                    page.common_prefixes.push(cp.to_owned());
                    entries += 1;
                    page.next_key_marker = Some(cp.to_owned());
                    page.next_upload_id_marker = None;
                }
                match past {
                    Some(past) => {
                        (lower, inclusive) = (past, true);
                        continue 'scan;
                    }
                    None => break 'scan,
                }
            }
            if entries == max {
                page.is_truncated = true;
                break 'scan;
            }
            page.next_key_marker = Some(upload.key.clone());
            page.next_upload_id_marker = Some(upload.upload_id);
            page.uploads.push(upload);
            entries += 1;
            (lower, inclusive) = (row.get::<_, &[u8]>(0).to_vec(), false);
        }
        if exhausted {
            break;
        }
    }
    if !page.is_truncated {
        page.next_key_marker = None;
        page.next_upload_id_marker = None;
    }
    Ok(page)
}
