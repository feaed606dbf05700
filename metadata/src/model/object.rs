use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::ids::{BucketId, BucketName, UploadId, VersionId};
use crate::model::Manifest;

/// The HTTP representation headers S3 stores with an object and returns on GET.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectHeaders {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// Everything about an object version except where its bytes are. Listings
/// return only this, so they never pay for large manifests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    pub bucket: BucketName,
    pub key: String,
    pub version: VersionId,
    pub size: u64,
    /// The ETag without quotes: hex MD5 of the body, or `<md5>-<parts>`.
    pub etag: String,
    pub last_modified_unix_ms: i64,
    #[serde(default)]
    pub headers: ObjectHeaders,
    /// `x-amz-meta-*` values, keyed by the lowercase name without the prefix.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_metadata: BTreeMap<String, String>,
    /// S3 checksums (`crc32`, `crc32c`, `crc64nvme`, `sha1`, `sha256`),
    /// base64 as S3 returns them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checksums: BTreeMap<String, String>,
    /// The sizes of the parts of a completed multipart upload, in order, so
    /// GetObject/HeadObject with `partNumber` can find a part's byte range
    /// without the upload. Empty for single PUTs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub part_sizes: Vec<u64>,
    /// The multipart upload this version was completed from. A client that
    /// lost the answer to CompleteMultipartUpload sends it again after the
    /// upload is gone; while this version is still current, that retry is
    /// recognised by it and answered as the first request was. Set by the
    /// store at completion; `None` for every other write (and for versions
    /// completed before it was recorded, which decode unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<UploadId>,
}

impl ObjectMeta {
    /// Whether this version is what completing `upload` made.
    pub fn completed_from(&self, upload: &UploadId) -> bool {
        self.upload_id.as_ref() == Some(upload)
    }
}

/// A conditional write's precondition on the key's current version, checked
/// inside the commit's transaction so that concurrent writers cannot both
/// win: `If-None-Match: *` (only if no current version) and `If-Match`
/// (only if the current version has this ETag); and what the write's
/// request checked before its body arrived (the bucket, when its shards
/// began), which must still hold when it commits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteCondition {
    #[serde(default)]
    pub if_none_match_any: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_match: Option<String>,
    /// When the write began storing its shards. A shard file the garbage
    /// collector deleted after that moment may be one this write found
    /// already present, so the commit is refused (`ShardsCollected`) and
    /// the client retries; without it, only collections under way refuse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards_written_since_unix_ms: Option<i64>,
    /// The bucket whose ownership the request checked. If the bucket was
    /// deleted (and perhaps created again by someone else) since, the
    /// commit is `NoSuchBucket`: a slow upload never lands in a bucket its
    /// signer was not checked against. `None`: not checked (internal
    /// writers, older gateways).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_id: Option<BucketId>,
}

impl WriteCondition {
    pub fn is_empty(&self) -> bool {
        !self.if_none_match_any
            && self.if_match.is_none()
            && self.shards_written_since_unix_ms.is_none()
            && self.bucket_id.is_none()
    }
}

/// Where an object's bytes are. Small objects live inline in the metadata
/// record: a 4 KiB PUT then costs one metadata write instead of six shard
/// writes, and they are exactly as durable as the manifests that name every
/// other object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectData {
    Inline(#[serde(with = "base64_bytes")] Bytes),
    Striped(Manifest),
}

impl ObjectData {
    /// Every shard the data names (none when inline), once per mention.
    pub fn shards(&self) -> impl Iterator<Item = &super::ShardRef> {
        let manifest = match self {
            ObjectData::Striped(m) => Some(m),
            ObjectData::Inline(_) => None,
        };
        manifest.into_iter().flat_map(|m| m.shards())
    }
}

mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        STANDARD
            .decode(s.as_bytes())
            .map(Bytes::from)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records written before versions named their upload decode unchanged
    /// (both backends store this JSON), and a version that names none is
    /// written exactly as before.
    #[test]
    fn versions_without_an_upload_id_decode_and_encode_as_before() {
        let version = VersionId::new();
        let old = format!(
            r#"{{"bucket":"media","key":"k","version":"{version}","size":3,"etag":"abc-1","last_modified_unix_ms":2,"headers":{{}},"part_sizes":[3]}}"#
        );
        let meta: ObjectMeta = serde_json::from_str(&old).unwrap();
        assert_eq!((meta.version, meta.upload_id), (version, None));
        assert!(!meta.completed_from(&UploadId::new()));
        let again = serde_json::to_string(&meta).unwrap();
        assert!(!again.contains("upload_id"), "{again}");

        let id = UploadId::new();
        let named = ObjectMeta {
            upload_id: Some(id),
            ..meta
        };
        let back: ObjectMeta =
            serde_json::from_slice(&serde_json::to_vec(&named).unwrap()).unwrap();
        assert!(back.completed_from(&id));
    }
}
