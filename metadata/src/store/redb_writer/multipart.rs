//! The multipart writes of the group-commit writer. Like every operation of
//! a batch, each checks all its preconditions before it writes anything, so a
//! refusal leaves the batch's transaction untouched.
//!
//! A completion reads and decodes its parts' manifests here, on the writer
//! thread, because checking them and removing them must be one transaction.
//! That is bounded (at most 10,000 parts, a few hundred bytes of manifest
//! per 4 MiB stripe) and rare next to part commits, which stay pre-encoded.

use std::collections::HashSet;

use redb::ReadableTable;

use super::{StoreError, Tables, WriteOutcome, WriteResult, retire};
use crate::ids::{BucketId, BucketName, UploadId, VersionId};
use crate::model::{CompleteRequest, ErasureCode, Manifest, ObjectData, ObjectMeta, PartRecord};
use crate::store::codec::{decode, encode};
use crate::store::keys::{object_key, part_key, upload_id_of_upload_key, upload_key};
use crate::store::rules::{completed_object, completion_without_upload};

/// Which upload an operation names, and the bucket its request checked.
pub(super) type UploadName<'a> = (&'a BucketName, &'a String, &'a UploadId, Option<BucketId>);

impl Tables<'_> {
    pub(super) fn create_upload(
        &mut self,
        (bucket, key, upload_id, bucket_id): UploadName<'_>,
        value: &[u8],
    ) -> Result<WriteResult, StoreError> {
        if let Err(e) = self.check_bucket(bucket, bucket_id)? {
            return Ok(Err(e));
        }
        let ukey = upload_key(bucket, key.as_bytes(), upload_id);
        self.uploads.insert(ukey.as_slice(), value)?;
        Ok(Ok(WriteOutcome::Done))
    }

    pub(super) fn commit_part(
        &mut self,
        (bucket, key, upload_id, bucket_id): UploadName<'_>,
        part_number: u32,
        version: VersionId,
        (part, data): (&[u8], &[u8]),
        (files, written_since): (&[Vec<u8>], Option<i64>),
        now_ms: i64,
    ) -> Result<WriteResult, StoreError> {
        // Refused before the upload is looked at: the caller frees the
        // part's shards on `NoSuchBucket`.
        if let Err(e) = self.check_bucket(bucket, bucket_id)? {
            return Ok(Err(e));
        }
        let ukey = upload_key(bucket, key.as_bytes(), upload_id);
        if self.uploads.get(ukey.as_slice())?.is_none() {
            // The part's shards are written (a gateway commits only after
            // they are durable) and no record will ever name them: hand them
            // to the collector, unless the version is live somewhere else.
            if !self.version_taken(version)? {
                self.add_refs(files)?;
                retire(&mut self.garbage, version, data, now_ms)?;
            }
            return Ok(Err(StoreError::NoSuchUpload));
        }
        let pkey = part_key(upload_id, part_number);
        let old = match self.parts.get(pkey.as_slice())? {
            Some(v) => Some(decode::<PartRecord>("part", v.value())?),
            None => None,
        };
        let retry = old.as_ref().is_some_and(|o| o.version == version);
        if !retry && self.version_taken(version)? {
            return Ok(Err(StoreError::VersionInUse));
        }
        if !retry && let Err(e) = self.admit(files, written_since)? {
            return Ok(Err(e));
        }
        self.parts.insert(pkey.as_slice(), part)?;
        self.data.insert(version.0.as_u128(), data)?;
        match old {
            Some(old) if !retry => {
                self.discard_data(old.version, now_ms)?;
                Ok(Ok(WriteOutcome::ReplacedPart(Some(old))))
            }
            _ => Ok(Ok(WriteOutcome::ReplacedPart(None))),
        }
    }

    pub(super) fn complete_upload(
        &mut self,
        req: &CompleteRequest,
        now_ms: i64,
    ) -> Result<WriteResult, StoreError> {
        let object = &req.object;
        if let Err(e) = self.check_bucket(&object.bucket, req.condition.bucket_id)? {
            return Ok(Err(e));
        }
        let ukey = upload_key(&object.bucket, object.key.as_bytes(), &req.upload_id);
        if self.uploads.get(ukey.as_slice())?.is_none() {
            let okey = object_key(&object.bucket, object.key.as_bytes());
            let current = match self.objects.get(okey.as_slice())? {
                Some(c) => Some(decode::<ObjectMeta>("object", c.value())?),
                None => None,
            };
            return Ok(completion_without_upload(current.as_ref(), req).map(WriteOutcome::Replaced));
        }
        let listed = match self.check_listed_parts(req)? {
            Ok(listed) => listed,
            Err(e) => return Ok(Err(e)),
        };
        if self.version_taken(object.version)? {
            return Ok(Err(StoreError::VersionInUse));
        }
        let manifest = match self.concatenate(&listed)? {
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

        if !req.condition.is_empty() {
            let okey = object_key(&object.bucket, object.key.as_bytes());
            let current = match self.objects.get(okey.as_slice())? {
                Some(c) => Some(decode::<ObjectMeta>("object", c.value())?),
                None => None,
            };
            if let Err(e) = crate::store::rules::check_condition(&req.condition, current.as_ref()) {
                return Ok(Err(e));
            }
        }

        // Every check passed: from here on, only writes.
        let meta = completed_object(req, &listed);
        let okey = object_key(&meta.bucket, meta.key.as_bytes());
        let old = match self
            .objects
            .insert(okey.as_slice(), encode(&meta)?.as_slice())?
        {
            Some(old) => Some(decode::<ObjectMeta>("object", old.value())?),
            None => None,
        };
        let data = encode(&ObjectData::Striped(manifest))?;
        self.data
            .insert(meta.version.0.as_u128(), data.as_slice())?;
        if let Some(old) = &old {
            self.discard_data(old.version, now_ms)?;
        }
        self.uploads.remove(ukey.as_slice())?;
        // The listed attempts' shards now belong to the object: drop their
        // data rows without retiring them. Every other attempt is garbage.
        let kept: HashSet<VersionId> = listed.iter().map(|p| p.version).collect();
        for part in self.remove_parts(&req.upload_id)? {
            if kept.contains(&part.version) {
                self.data.remove(part.version.0.as_u128())?;
            } else {
                self.discard_data(part.version, now_ms)?;
            }
        }
        Ok(Ok(WriteOutcome::Replaced(old)))
    }

    pub(super) fn abort_upload(
        &mut self,
        bucket: &BucketName,
        key: &str,
        upload_id: &UploadId,
        now_ms: i64,
    ) -> Result<WriteResult, StoreError> {
        let ukey = upload_key(bucket, key.as_bytes(), upload_id);
        if !self.drop_upload(&ukey, now_ms)? {
            return Ok(Err(StoreError::NoSuchUpload));
        }
        Ok(Ok(WriteOutcome::Done))
    }

    /// Removes the upload under `ukey` and its parts, moving all their data
    /// to garbage: what aborting an upload means, by request or with its
    /// bucket. `false` if there was no such upload.
    pub(super) fn drop_upload(&mut self, ukey: &[u8], now_ms: i64) -> Result<bool, StoreError> {
        if self.uploads.remove(ukey)?.is_none() {
            return Ok(false);
        }
        let upload_id = upload_id_of_upload_key(ukey)
            .ok_or_else(|| StoreError::Corrupt("an upload key without an upload id".into()))?;
        for part in self.remove_parts(&upload_id)? {
            self.discard_data(part.version, now_ms)?;
        }
        Ok(true)
    }

    /// The completion's part list against the stored parts: order, ETags,
    /// minimum sizes and total size. Inner error: the refusal.
    fn check_listed_parts(
        &self,
        req: &CompleteRequest,
    ) -> Result<Result<Vec<PartRecord>, StoreError>, StoreError> {
        let ascending = req.parts.windows(2).all(|w| w[0].0 < w[1].0);
        if req.parts.is_empty() || !ascending {
            return Ok(Err(StoreError::InvalidPartOrder));
        }
        let mut listed = Vec::with_capacity(req.parts.len());
        for (number, etag) in &req.parts {
            let pkey = part_key(&req.upload_id, *number);
            let Some(raw) = self.parts.get(pkey.as_slice())? else {
                return Ok(Err(StoreError::InvalidPart(format!(
                    "part {number} was not uploaded"
                ))));
            };
            let part: PartRecord = decode("part", raw.value())?;
            // Clients echo ETags with or without their quotes.
            if part.etag.trim_matches('"') != etag.trim_matches('"') {
                return Ok(Err(StoreError::InvalidPart(format!(
                    "part {number} has ETag {}, not {etag}",
                    part.etag
                ))));
            }
            listed.push(part);
        }
        if let Some((_, all_but_last)) = listed.split_last()
            && let Some(small) = all_but_last.iter().find(|p| p.size < req.min_part_size)
        {
            return Ok(Err(StoreError::EntityTooSmall {
                part_number: small.part_number,
                size: small.size,
                min: req.min_part_size,
            }));
        }
        let total = listed
            .iter()
            .try_fold(0u64, |sum, p| sum.checked_add(p.size));
        if total != Some(req.object.size) {
            return Ok(Err(StoreError::Invalid(format!(
                "the object size {} is not the sum of its parts' sizes",
                req.object.size
            ))));
        }
        Ok(Ok(listed))
    }

    /// The object's manifest: the listed parts' stripes in order. The shards
    /// stay where the parts put them; nothing is rewritten.
    fn concatenate(
        &self,
        listed: &[PartRecord],
    ) -> Result<Result<Manifest, StoreError>, StoreError> {
        // The code of the first part with stripes; an empty part has none,
        // so its code constrains nothing.
        let mut code: Option<ErasureCode> = None;
        let mut first_code = None;
        let mut stripes = Vec::new();
        for part in listed {
            let Some(raw) = self.data.get(part.version.0.as_u128())? else {
                return Err(StoreError::Corrupt(format!(
                    "part {} (version {}) has no data record",
                    part.part_number, part.version
                )));
            };
            let manifest = match decode::<ObjectData>("data", raw.value())? {
                ObjectData::Striped(m) => m,
                ObjectData::Inline(_) => {
                    return Ok(Err(StoreError::Invalid(format!(
                        "part {} is stored inline; only striped parts can be assembled",
                        part.part_number
                    ))));
                }
            };
            first_code.get_or_insert(manifest.code);
            if manifest.stripes.is_empty() {
                continue;
            }
            match code {
                None => code = Some(manifest.code),
                Some(c) if c != manifest.code => {
                    return Ok(Err(StoreError::Invalid(format!(
                        "part {} uses erasure code {}+{}, earlier parts {}+{}",
                        part.part_number,
                        manifest.code.data,
                        manifest.code.parity,
                        c.data,
                        c.parity
                    ))));
                }
                Some(_) => {}
            }
            stripes.extend(manifest.stripes);
        }
        let Some(code) = code.or(first_code) else {
            return Ok(Err(StoreError::InvalidPartOrder));
        };
        Ok(Ok(Manifest { code, stripes }))
    }

    /// Removes every part record of an upload; returns them.
    fn remove_parts(&mut self, upload_id: &UploadId) -> Result<Vec<PartRecord>, StoreError> {
        let (lo, hi) = (part_key(upload_id, 0), part_key(upload_id, u32::MAX));
        let mut keys = Vec::new();
        let mut parts = Vec::new();
        for item in self.parts.range::<&[u8]>(lo.as_slice()..=hi.as_slice())? {
            let (k, v) = item?;
            keys.push(k.value().to_vec());
            parts.push(decode::<PartRecord>("part", v.value())?);
        }
        for k in keys {
            self.parts.remove(k.as_slice())?;
        }
        Ok(parts)
    }
}
