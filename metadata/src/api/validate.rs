//! Checks on what callers send, beyond what deserialization already checks
//! (bucket names and ids are validated types).

use crate::error::MetadataError;
use crate::ids::MAX_KEY_BYTES;
use crate::model::{
    BucketUpdate, CompleteRequest, ListQuery, MAX_CORS_RULES, Manifest, NodeHeartbeat, ObjectData,
    ObjectMeta, UploadsQuery,
};
use crate::wire::CommitPartRequest;

/// S3 never returns more than this many entries in one page.
pub(super) const MAX_KEYS_LIMIT: u32 = 1000;

/// S3's part numbers: 1 to 10,000, which also bounds a completion's list.
pub(super) const MAX_PART_NUMBER: u32 = 10_000;

fn invalid(msg: impl Into<String>) -> MetadataError {
    MetadataError::InvalidRequest(msg.into())
}

pub(super) fn key(key: &str) -> Result<(), MetadataError> {
    if key.is_empty() {
        return Err(invalid("the object key is empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(invalid(format!(
            "the object key is {} bytes; at most {MAX_KEY_BYTES} are allowed",
            key.len()
        )));
    }
    Ok(())
}

pub(super) fn owner(owner: &str) -> Result<(), MetadataError> {
    if owner.trim().is_empty() {
        return Err(invalid("the bucket owner is empty"));
    }
    Ok(())
}

pub(super) fn list_query(q: &ListQuery) -> Result<(), MetadataError> {
    if q.max_keys > MAX_KEYS_LIMIT {
        return Err(invalid(format!(
            "max_keys {} is above {MAX_KEYS_LIMIT}",
            q.max_keys
        )));
    }
    let too_long = |s: &str| s.len() > MAX_KEY_BYTES;
    if too_long(&q.prefix)
        || q.start_after.as_deref().is_some_and(too_long)
        || q.delimiter.as_deref().is_some_and(too_long)
    {
        return Err(invalid(
            "prefix, delimiter or start_after is longer than a key",
        ));
    }
    Ok(())
}

pub(super) fn page_size(what: &str, n: u32) -> Result<(), MetadataError> {
    if n > MAX_KEYS_LIMIT {
        return Err(invalid(format!("{what} {n} is above {MAX_KEYS_LIMIT}")));
    }
    Ok(())
}

pub(super) fn part_number(n: u32) -> Result<(), MetadataError> {
    if !(1..=MAX_PART_NUMBER).contains(&n) {
        return Err(invalid(format!(
            "part number {n} is outside 1..={MAX_PART_NUMBER}"
        )));
    }
    Ok(())
}

/// A part to commit: like an object version, its size must be what its data
/// holds, since a completion sums these sizes into the object's.
pub(super) fn commit_part(req: &CommitPartRequest) -> Result<(), MetadataError> {
    key(&req.upload.key)?;
    part_number(req.part.part_number)?;
    if req.part.etag.is_empty() {
        return Err(invalid("the part's etag is empty"));
    }
    data_matches(&req.data, req.part.size)
}

/// Order, ETags and sizes are the store's to check against the parts; here
/// only the shape, and a bound on the work one request may ask for.
pub(super) fn complete(req: &CompleteRequest) -> Result<(), MetadataError> {
    key(&req.object.key)?;
    if req.parts.len() > MAX_PART_NUMBER as usize {
        return Err(invalid(format!(
            "{} parts listed; at most {MAX_PART_NUMBER} exist",
            req.parts.len()
        )));
    }
    Ok(())
}

pub(super) fn uploads_query(q: &UploadsQuery) -> Result<(), MetadataError> {
    page_size("max_uploads", q.max_uploads)?;
    let too_long = |s: &str| s.len() > MAX_KEY_BYTES;
    if too_long(&q.prefix) || q.key_marker.as_deref().is_some_and(too_long) {
        return Err(invalid("prefix or key_marker is longer than a key"));
    }
    Ok(())
}

/// An object version to commit: its key, and data whose size and shape agree
/// with the metadata. A manifest the reader could not follow must never
/// become the current version of a key.
pub(super) fn commit(meta: &ObjectMeta, data: &ObjectData) -> Result<(), MetadataError> {
    key(&meta.key)?;
    // A plain write naming an upload would answer that upload's retried
    // completions with this version.
    if meta.upload_id.is_some() {
        return Err(invalid("only a completed upload names an upload id"));
    }
    // GetObject?partNumber slices the object by these sizes.
    if !meta.part_sizes.is_empty()
        && meta
            .part_sizes
            .iter()
            .try_fold(0u64, |a, &s| a.checked_add(s))
            != Some(meta.size)
    {
        return Err(invalid("part_sizes do not add up to the object's size"));
    }
    data_matches(data, meta.size)
}

/// `data` is a manifest a reader can follow, holding exactly `size` bytes.
fn data_matches(data: &ObjectData, size: u64) -> Result<(), MetadataError> {
    let data_len = match data {
        ObjectData::Inline(bytes) => bytes.len() as u64,
        ObjectData::Striped(manifest) => {
            manifest_shape(manifest)?;
            manifest.data_len()
        }
    };
    if data_len != size {
        return Err(invalid(format!(
            "size {size} does not match the {data_len} bytes the data holds"
        )));
    }
    Ok(())
}

fn manifest_shape(m: &Manifest) -> Result<(), MetadataError> {
    if m.code.data == 0 {
        return Err(invalid("the erasure code has no data shards"));
    }
    let total = m.code.total();
    for (i, s) in m.stripes.iter().enumerate() {
        if s.shards.len() != total {
            return Err(invalid(format!(
                "stripe {i} has {} shards; the code needs {total}",
                s.shards.len()
            )));
        }
        let capacity = u64::from(m.code.data) * u64::from(s.shard_len);
        if s.data_len > capacity {
            return Err(invalid(format!(
                "stripe {i} claims {} bytes but {} x {} bytes hold only {capacity}",
                s.data_len, m.code.data, s.shard_len
            )));
        }
    }
    Ok(())
}

pub(super) fn heartbeat(hb: &NodeHeartbeat) -> Result<(), MetadataError> {
    let ok = hb
        .addr
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !ok {
        return Err(invalid(format!(
            "node address {:?} is not host:port",
            hb.addr
        )));
    }
    Ok(())
}

/// A CORS configuration S3 would accept: 1 to 100 rules, each with an
/// origin and a known method, at most one `*` per origin and header.
pub(super) fn bucket_update(update: &BucketUpdate) -> Result<(), MetadataError> {
    if update.delete_cors && update.cors.is_some() {
        return Err(invalid("a bucket update both sets and deletes CORS"));
    }
    let Some(cors) = &update.cors else {
        return Ok(());
    };
    if cors.rules.is_empty() || cors.rules.len() > MAX_CORS_RULES {
        return Err(invalid(format!(
            "a CORS configuration has 1 to {MAX_CORS_RULES} rules"
        )));
    }
    for rule in &cors.rules {
        if rule.allowed_origins.is_empty() || rule.allowed_methods.is_empty() {
            return Err(invalid(
                "every CORS rule needs an AllowedOrigin and an AllowedMethod",
            ));
        }
        for method in &rule.allowed_methods {
            if !["GET", "PUT", "POST", "DELETE", "HEAD"].contains(&method.as_str()) {
                return Err(invalid(format!(
                    "Found unsupported HTTP method in CORS config. Unsupported method is {method}"
                )));
            }
        }
        for pattern in rule.allowed_origins.iter().chain(&rule.allowed_headers) {
            if pattern.matches('*').count() > 1 {
                return Err(invalid(format!(
                    "{pattern:?} can not have more than one wildcard"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ShardHash, VersionId};
    use crate::model::{ErasureCode, ShardRef, Stripe};

    fn meta(size: u64) -> ObjectMeta {
        ObjectMeta {
            bucket: "bucket".parse().unwrap(),
            key: "k".into(),
            version: VersionId::new(),
            size,
            etag: "e".into(),
            last_modified_unix_ms: 0,
            headers: Default::default(),
            user_metadata: Default::default(),
            checksums: Default::default(),
            part_sizes: Vec::new(),
            upload_id: None,
        }
    }

    fn manifest(shards: usize, data_len: u64) -> ObjectData {
        let shard = ShardRef {
            hash: ShardHash::of(b"x"),
            node: "n".parse().unwrap(),
        };
        ObjectData::Striped(Manifest {
            code: ErasureCode { data: 4, parity: 2 },
            stripes: vec![Stripe {
                data_len,
                shard_len: 10,
                shards: vec![shard; shards],
            }],
        })
    }

    #[test]
    fn manifests_must_fit_their_code() {
        assert!(commit(&meta(40), &manifest(6, 40)).is_ok());
        assert!(commit(&meta(40), &manifest(5, 40)).is_err());
        assert!(commit(&meta(41), &manifest(6, 41)).is_err());
        assert!(commit(&meta(39), &manifest(6, 40)).is_err());
        assert!(commit(&meta(3), &ObjectData::Inline("abc".into())).is_ok());
        let mut parts = meta(40);
        parts.part_sizes = vec![30, 10];
        assert!(commit(&parts, &manifest(6, 40)).is_ok());
        parts.part_sizes = vec![30, 11];
        assert!(commit(&parts, &manifest(6, 40)).is_err());
        let mut claims_upload = meta(40);
        claims_upload.upload_id = Some(crate::ids::UploadId::new());
        assert!(commit(&claims_upload, &manifest(6, 40)).is_err());
    }

    #[test]
    fn keys_and_addresses() {
        assert!(key("").is_err());
        assert!(key(&"k".repeat(MAX_KEY_BYTES)).is_ok());
        assert!(key(&"k".repeat(MAX_KEY_BYTES + 1)).is_err());
        let mut hb = NodeHeartbeat {
            id: "n".parse().unwrap(),
            addr: "127.0.0.1:80".into(),
            zone: None,
            capacity_bytes: 0,
            used_bytes: 0,
            shard_count: 0,
            deleted: Vec::new(),
            latency: None,
            scrub: None,
        };
        assert!(heartbeat(&hb).is_ok());
        hb.addr = "[::1]:9000".into();
        assert!(heartbeat(&hb).is_ok());
        hb.addr = "nohost".into();
        assert!(heartbeat(&hb).is_err());
    }
}
