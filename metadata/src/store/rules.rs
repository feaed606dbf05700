//! Rules every backend applies the same way, written once: whether a
//! conditional write may replace the current version, whether a write may
//! still land in its bucket, whether a bucket may be deleted, what a stored
//! data record is, how a completion's parts become one manifest and the
//! object it makes, and what a completion whose upload is gone answers.

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::StoreError;
use super::codec::decode;
use crate::ids::BucketId;
use crate::model::{
    CompleteRequest, ErasureCode, Manifest, ObjectData, ObjectMeta, PartRecord, WriteCondition,
};

/// Whether a conditional write may replace `current` (see
/// [`crate::store::MetaStore::commit_object_if`]).
pub(crate) fn check_condition(
    condition: &WriteCondition,
    current: Option<&ObjectMeta>,
) -> Result<(), StoreError> {
    if condition.if_none_match_any && current.is_some() {
        return Err(StoreError::PreconditionFailed);
    }
    if let Some(etag) = &condition.if_match {
        let wanted = etag.trim_matches('"');
        match current {
            None => return Err(StoreError::NoSuchKey),
            Some(c) if c.etag != wanted => return Err(StoreError::PreconditionFailed),
            Some(_) => {}
        }
    }
    Ok(())
}

/// The id in a stored `BucketInfo`, read without building the rest (a
/// CORS configuration, say): every write checks it.
#[derive(Deserialize)]
struct StoredBucketId {
    #[serde(default)]
    id: BucketId,
}

/// Whether a write may commit into the bucket stored as `stored` (its
/// encoded `BucketInfo`; `None`: no such bucket). `expected` is the bucket
/// the write's request checked; when the name now holds another creation
/// (deleted and created again meanwhile), the write is `NoSuchBucket` as if
/// it had come after the deletion, which it did. `None` checks existence
/// only.
pub(crate) fn check_bucket(
    stored: Option<&[u8]>,
    expected: Option<BucketId>,
) -> Result<(), StoreError> {
    let Some(raw) = stored else {
        return Err(StoreError::NoSuchBucket);
    };
    match expected {
        Some(id) if decode::<StoredBucketId>("bucket", raw)?.id != id => {
            Err(StoreError::NoSuchBucket)
        }
        _ => Ok(()),
    }
}

/// Whether DeleteBucket may go ahead, as S3 decides it: a bucket that holds
/// an object is `BucketNotEmpty`, but uploads in progress do not keep it.
/// On `Ok` the backend removes the bucket and, in the same transaction,
/// aborts each of its uploads exactly as AbortMultipartUpload does (their
/// parts' data to garbage), so no part outlives its bucket: a bucket
/// created later under the same name never inherits them, and `aws s3 rb
/// --force` succeeds after an abandoned upload.
pub(crate) fn check_bucket_deletion(exists: bool, holds_objects: bool) -> Result<(), StoreError> {
    if !exists {
        return Err(StoreError::NoSuchBucket);
    }
    if holds_objects {
        return Err(StoreError::BucketNotEmpty);
    }
    Ok(())
}

/// Which kind of `ObjectData` a record holds, read without building it.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum DataKind {
    #[allow(dead_code)]
    Inline(IgnoredAny),
    #[allow(dead_code)]
    Striped(IgnoredAny),
}

/// Whether an encoded `ObjectData` names shards (and so must pass through
/// garbage when it is discarded). Inline data has nothing to collect.
pub(crate) fn is_striped(raw: &[u8]) -> Result<bool, StoreError> {
    Ok(matches!(
        decode::<DataKind>("data", raw)?,
        DataKind::Striped(_)
    ))
}

/// A completion's part list against the stored parts (`stored` finds one by
/// number): order, ETags, minimum sizes and total size. The listed parts
/// in order, or the refusal.
pub(crate) fn check_listed_parts(
    req: &CompleteRequest,
    stored: impl Fn(u32) -> Option<PartRecord>,
) -> Result<Vec<PartRecord>, StoreError> {
    let ascending = req.parts.windows(2).all(|w| w[0].0 < w[1].0);
    if req.parts.is_empty() || !ascending {
        return Err(StoreError::InvalidPartOrder);
    }
    let mut listed = Vec::with_capacity(req.parts.len());
    for (number, etag) in &req.parts {
        let Some(part) = stored(*number) else {
            return Err(StoreError::InvalidPart(format!(
                "part {number} was not uploaded"
            )));
        };
        // Clients echo ETags with or without their quotes.
        if part.etag.trim_matches('"') != etag.trim_matches('"') {
            return Err(StoreError::InvalidPart(format!(
                "part {number} has ETag {}, not {etag}",
                part.etag
            )));
        }
        listed.push(part);
    }
    if let Some((_, all_but_last)) = listed.split_last()
        && let Some(small) = all_but_last.iter().find(|p| p.size < req.min_part_size)
    {
        return Err(StoreError::EntityTooSmall {
            part_number: small.part_number,
            size: small.size,
            min: req.min_part_size,
        });
    }
    let total = listed
        .iter()
        .try_fold(0u64, |sum, p| sum.checked_add(p.size));
    if total != Some(req.object.size) {
        return Err(StoreError::Invalid(format!(
            "the object size {} is not the sum of its parts' sizes",
            req.object.size
        )));
    }
    Ok(listed)
}

/// The version a completion makes current: the request's, with the listed
/// parts' sizes (GetObject with `partNumber` slices by them) and the upload
/// it came from (a retried completion is recognised by it).
pub(crate) fn completed_object(req: &CompleteRequest, listed: &[PartRecord]) -> ObjectMeta {
    let mut meta = req.object.clone();
    meta.part_sizes = listed.iter().map(|p| p.size).collect();
    meta.upload_id = Some(req.upload_id);
    meta
}

/// A completion whose upload is gone. If the key's current version is the
/// very version this request commits, the metadata call is a retry after
/// a lost answer: done already, nothing replaced. Anything else is
/// `NoSuchUpload`, a client's own retry included: it carries a fresh
/// version, and its gateway answers it from the current object when that
/// [`ObjectMeta::completed_from`] the upload.
pub(crate) fn completion_without_upload(
    current: Option<&ObjectMeta>,
    req: &CompleteRequest,
) -> Result<Option<ObjectMeta>, StoreError> {
    match current {
        Some(c) if c.version == req.object.version => Ok(None),
        _ => Err(StoreError::NoSuchUpload),
    }
}

/// The object's manifest: the listed parts' stripes in order. The shards
/// stay where the parts put them; nothing is rewritten. `Invalid` for an
/// inline part or parts of different erasure codes.
pub(crate) fn concatenate(
    parts: impl IntoIterator<Item = (u32, ObjectData)>,
) -> Result<Manifest, StoreError> {
    // The code of the first part with stripes; an empty part has none, so
    // its code constrains nothing.
    let mut code: Option<ErasureCode> = None;
    let mut first_code = None;
    let mut stripes = Vec::new();
    for (number, data) in parts {
        let manifest = match data {
            ObjectData::Striped(m) => m,
            ObjectData::Inline(_) => {
                return Err(StoreError::Invalid(format!(
                    "part {number} is stored inline; only striped parts can be assembled"
                )));
            }
        };
        first_code.get_or_insert(manifest.code);
        if manifest.stripes.is_empty() {
            continue;
        }
        match code {
            None => code = Some(manifest.code),
            Some(c) if c != manifest.code => {
                return Err(StoreError::Invalid(format!(
                    "part {number} uses erasure code {}+{}, earlier parts {}+{}",
                    manifest.code.data, manifest.code.parity, c.data, c.parity
                )));
            }
            Some(_) => {}
        }
        stripes.extend(manifest.stripes);
    }
    let Some(code) = code.or(first_code) else {
        return Err(StoreError::InvalidPartOrder);
    };
    Ok(Manifest { code, stripes })
}

/// The common prefix `key` rolls up into (ListMultipartUploads): through the
/// first `delimiter` after `prefix`.
pub(crate) fn rolled_up<'a>(key: &'a str, prefix: &str, delimiter: &str) -> Option<&'a str> {
    let rest = key.get(prefix.len()..)?;
    let at = rest.find(delimiter)?;
    Some(&key[..prefix.len() + at + delimiter.len()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BucketInfo;

    #[test]
    fn a_write_lands_only_in_the_bucket_it_checked() {
        let info = BucketInfo::new("media".parse().unwrap(), "alice".into(), 1);
        let raw = crate::store::codec::encode(&info).unwrap();
        assert_eq!(check_bucket(Some(&raw), Some(info.id)), Ok(()));
        assert_eq!(check_bucket(Some(&raw), None), Ok(()));
        assert_eq!(
            check_bucket(Some(&raw), Some(BucketId::new())),
            Err(StoreError::NoSuchBucket)
        );
        assert_eq!(check_bucket(None, None), Err(StoreError::NoSuchBucket));
        assert_eq!(
            check_bucket(None, Some(info.id)),
            Err(StoreError::NoSuchBucket)
        );
    }

    /// A bucket stored before buckets had ids reads as the nil id, which
    /// a request that loaded it carries; a creation after it has another.
    #[test]
    fn buckets_from_before_ids_are_the_nil_creation() {
        let old = br#"{"name":"media","owner":"alice","created_unix_ms":1,"public_read":false}"#;
        let info: BucketInfo = crate::store::codec::decode("bucket", old).unwrap();
        assert_eq!(info.id, BucketId::default());
        assert_eq!(check_bucket(Some(old), Some(info.id)), Ok(()));
        assert_eq!(
            check_bucket(Some(old), Some(BucketId::new())),
            Err(StoreError::NoSuchBucket)
        );
    }
}
