//! The multipart reads of [`super::RedbStore`], each inside one read
//! transaction.

use std::ops::Bound;

use redb::ReadTransaction;

use super::{DATA, PARTS, UPLOADS, bucket_exists};
use crate::ids::{BucketName, UploadId};
use crate::model::{MultipartUpload, ObjectData, PartRecord, PartsPage, UploadsPage, UploadsQuery};
use crate::store::StoreError;
use crate::store::codec::decode;
use crate::store::keys::{object_key, part_key, prefix_successor, upload_key};

pub(super) fn read_upload(
    txn: &ReadTransaction,
    bucket: &BucketName,
    key: &str,
    upload_id: &UploadId,
) -> Result<Option<MultipartUpload>, StoreError> {
    let uploads = txn.open_table(UPLOADS)?;
    match uploads.get(upload_key(bucket, key.as_bytes(), upload_id).as_slice())? {
        Some(v) => Ok(Some(decode("upload", v.value())?)),
        None => Ok(None),
    }
}

fn require_upload(
    txn: &ReadTransaction,
    bucket: &BucketName,
    key: &str,
    upload_id: &UploadId,
) -> Result<(), StoreError> {
    let uploads = txn.open_table(UPLOADS)?;
    match uploads.get(upload_key(bucket, key.as_bytes(), upload_id).as_slice())? {
        Some(_) => Ok(()),
        None => Err(StoreError::NoSuchUpload),
    }
}

pub(super) fn list_parts(
    txn: &ReadTransaction,
    bucket: &BucketName,
    key: &str,
    upload_id: &UploadId,
    after: u32,
    limit: usize,
) -> Result<PartsPage, StoreError> {
    require_upload(txn, bucket, key, upload_id)?;
    let mut page = PartsPage {
        parts: Vec::new(),
        is_truncated: false,
        next_part_number_marker: None,
    };
    if limit == 0 || after == u32::MAX {
        return Ok(page);
    }
    let parts = txn.open_table(PARTS)?;
    let (lo, hi) = (
        part_key(upload_id, after + 1),
        part_key(upload_id, u32::MAX),
    );
    for item in parts.range::<&[u8]>(lo.as_slice()..=hi.as_slice())? {
        if page.parts.len() == limit {
            page.is_truncated = true;
            page.next_part_number_marker = page.parts.last().map(|p| p.part_number);
            break;
        }
        let (_, v) = item?;
        page.parts.push(decode::<PartRecord>("part", v.value())?);
    }
    Ok(page)
}

pub(super) fn get_part(
    txn: &ReadTransaction,
    bucket: &BucketName,
    key: &str,
    upload_id: &UploadId,
    part_number: u32,
) -> Result<Option<(PartRecord, ObjectData)>, StoreError> {
    require_upload(txn, bucket, key, upload_id)?;
    let parts = txn.open_table(PARTS)?;
    let Some(raw) = parts.get(part_key(upload_id, part_number).as_slice())? else {
        return Ok(None);
    };
    let part: PartRecord = decode("part", raw.value())?;
    let data = txn.open_table(DATA)?;
    let Some(raw) = data.get(part.version.0.as_u128())? else {
        return Err(StoreError::Corrupt(format!(
            "upload {upload_id} part {part_number}: no data for version {}",
            part.version
        )));
    };
    Ok(Some((part, decode("data", raw.value())?)))
}

pub(super) fn list_uploads(
    txn: &ReadTransaction,
    q: &UploadsQuery,
) -> Result<UploadsPage, StoreError> {
    if !bucket_exists(txn, &q.bucket)? {
        return Err(StoreError::NoSuchBucket);
    }
    let mut page = UploadsPage {
        uploads: Vec::new(),
        common_prefixes: Vec::new(),
        is_truncated: false,
        next_key_marker: None,
        next_upload_id_marker: None,
    };
    let limit = q.max_uploads as usize;
    if limit == 0 {
        return Ok(page);
    }
    let start = object_key(&q.bucket, q.prefix.as_bytes());
    // Never None: a bucket name has no 0xff byte to carry over.
    let end = prefix_successor(&start)
        .ok_or_else(|| StoreError::Backend("no upper bound for the scan".into()))?;
    // S3: a key marker alone skips every upload of that key; with an upload
    // id marker, only that key's uploads up to and including the marker.
    // An upload id marker without a key marker is ignored.
    let marker = match (&q.key_marker, &q.upload_id_marker) {
        (Some(k), Some(id)) => Some(Bound::Excluded(upload_key(&q.bucket, k.as_bytes(), id))),
        (Some(k), None) => {
            let mut all_of_key = object_key(&q.bucket, k.as_bytes());
            all_of_key.push(0);
            prefix_successor(&all_of_key).map(Bound::Included)
        }
        (None, _) => None,
    };
    let mut lower = match marker {
        Some(Bound::Included(m) | Bound::Excluded(m)) if m >= end => return Ok(page),
        Some(Bound::Included(m)) if m > start => Bound::Included(m),
        Some(Bound::Excluded(m)) if m >= start => Bound::Excluded(m),
        _ => Bound::Included(start),
    };
    let delimiter = q.delimiter.as_deref().filter(|d| !d.is_empty());
    let uploads = txn.open_table(UPLOADS)?;
    let mut entries = 0;
    // Each pass scans from `lower`; rolling a key up into a common prefix
    // seeks past every key under it (one seek per folder, not a read per
    // upload) and starts a new pass.
    'scan: loop {
        let lo = match &lower {
            Bound::Included(l) => Bound::Included(l.as_slice()),
            Bound::Excluded(l) => Bound::Excluded(l.as_slice()),
            Bound::Unbounded => Bound::Unbounded,
        };
        for item in uploads.range::<&[u8]>((lo, Bound::Excluded(end.as_slice())))? {
            let (_, v) = item?;
            let upload = decode::<MultipartUpload>("upload", v.value())?;
            let rolled = delimiter.and_then(|d| rolled_up(&upload.key, &q.prefix, d));
            if let Some(cp) = rolled {
                let past = prefix_successor(&object_key(&q.bucket, cp.as_bytes()));
                // A common prefix at or before the key marker was listed on
                // an earlier page.
                let listed_before = q.key_marker.as_deref().is_some_and(|m| cp <= m);
                if !listed_before {
                    if entries == limit {
                        truncate(&mut page);
                        break 'scan;
                    }
                    page.common_prefixes.push(cp.to_owned());
                    entries += 1;
                    page.next_key_marker = Some(cp.to_owned());
                    page.next_upload_id_marker = None;
                }
                match past {
                    Some(past) => {
                        lower = Bound::Included(past);
                        continue 'scan;
                    }
                    None => break 'scan,
                }
            }
            if entries == limit {
                truncate(&mut page);
                break 'scan;
            }
            page.next_key_marker = Some(upload.key.clone());
            page.next_upload_id_marker = Some(upload.upload_id);
            page.uploads.push(upload);
            entries += 1;
        }
        break;
    }
    if !page.is_truncated {
        page.next_key_marker = None;
        page.next_upload_id_marker = None;
    }
    Ok(page)
}

/// Marks a full page as truncated; its markers already name its last entry.
fn truncate(page: &mut UploadsPage) {
    page.is_truncated = true;
}

/// The common prefix `key` rolls up into: through the first `delimiter`
/// after `prefix`.
fn rolled_up<'a>(key: &'a str, prefix: &str, delimiter: &str) -> Option<&'a str> {
    let rest = key.get(prefix.len()..)?;
    let at = rest.find(delimiter)?;
    Some(&key[..prefix.len() + at + delimiter.len()])
}
