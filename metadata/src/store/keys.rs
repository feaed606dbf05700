//! Byte layout of ordered keys. Backends that order keys bytewise (redb,
//! PostgreSQL `bytea`) share it, so a listing means the same everywhere.

use crate::ids::{BucketName, NodeId, ShardHash, UploadId};

/// Separates the bucket from the key in the `objects` table.
const SEPARATOR: u8 = 0;

/// `bucket \0 key`: all keys of a bucket are contiguous and in key order.
pub(crate) fn object_key(bucket: &BucketName, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(bucket.as_str().len() + 1 + key.len());
    k.extend_from_slice(bucket.as_str().as_bytes());
    k.push(SEPARATOR);
    k.extend_from_slice(key);
    k
}

/// `bucket \0 key \0 upload id`: a bucket's uploads in (key, upload id)
/// order; the id is the fixed-length tail, so the key is never ambiguous.
pub(crate) fn upload_key(bucket: &BucketName, key: &[u8], upload_id: &UploadId) -> Vec<u8> {
    let mut k = object_key(bucket, key);
    k.reserve(17);
    k.push(SEPARATOR);
    k.extend_from_slice(upload_id.0.as_bytes());
    k
}

/// The upload id at the end of an [`upload_key`].
pub(crate) fn upload_id_of_upload_key(key: &[u8]) -> Option<UploadId> {
    let tail: [u8; 16] = key.get(key.len().checked_sub(16)?..)?.try_into().ok()?;
    Some(UploadId(uuid::Uuid::from_bytes(tail)))
}

/// `upload id, part number` big-endian: an upload's parts in number order.
pub(crate) fn part_key(upload_id: &UploadId, part_number: u32) -> [u8; 20] {
    let mut k = [0u8; 20];
    k[..16].copy_from_slice(upload_id.0.as_bytes());
    k[16..].copy_from_slice(&part_number.to_be_bytes());
    k
}

/// `node \0 hash`: one shard file on one node. A node's files are
/// contiguous, so its pending deletions are one range scan.
pub(crate) fn shard_file_key(node: &NodeId, hash: &ShardHash) -> Vec<u8> {
    let mut k = node_prefix(node);
    k.extend_from_slice(&hash.0);
    k
}

/// The prefix of every [`shard_file_key`] of `node`.
pub(crate) fn node_prefix(node: &NodeId) -> Vec<u8> {
    let mut k = Vec::with_capacity(node.as_str().len() + 33);
    k.extend_from_slice(node.as_str().as_bytes());
    k.push(SEPARATOR);
    k
}

/// The hash at the end of a [`shard_file_key`].
pub(crate) fn hash_of_shard_file_key(key: &[u8]) -> Option<ShardHash> {
    let tail: [u8; 32] = key.get(key.len().checked_sub(32)?..)?.try_into().ok()?;
    Some(ShardHash(tail))
}

/// The smallest byte string greater than every string that starts with
/// `prefix`, or `None` when there is none (empty prefix, or all `0xff`). Seeking
/// to it skips everything under the prefix without walking it.
///
/// The result can be invalid UTF-8 (`"a\u{7f}"` is fine, but `0xbf` becomes
/// `0xc0`), which is why scans take byte bounds.
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut s = prefix.to_vec();
    while let Some(last) = s.pop() {
        if last < u8::MAX {
            s.push(last + 1);
            return Some(s);
        }
    }
    None
}

/// Where the common prefix of `key` ends (S3's delimiter roll-up): the key up
/// to and including the first `delimiter` after `prefix`. `None` if the key
/// does not start with `prefix`, has no delimiter after it, or the delimiter
/// is empty. On bytes: for UTF-8 text, a byte-substring match is exactly a
/// character-substring match.
pub fn common_prefix_len(key: &[u8], prefix: &[u8], delimiter: &[u8]) -> Option<usize> {
    if delimiter.is_empty() {
        return None;
    }
    let rest = key.strip_prefix(prefix)?;
    rest.windows(delimiter.len())
        .position(|w| w == delimiter)
        .map(|pos| prefix.len() + pos + delimiter.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_bounds_the_prefix() {
        assert_eq!(prefix_successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
        assert_eq!(prefix_successor(b""), None);
        let p = "é".as_bytes(); // c3 a9
        let s = prefix_successor(p).unwrap();
        assert!(s.as_slice() > "é\u{10ffff}".as_bytes());
        assert!(std::str::from_utf8(&s).is_err() || s.as_slice() > p);
    }

    #[test]
    fn common_prefixes() {
        assert_eq!(common_prefix_len(b"a/b/c", b"", b"/"), Some(2));
        assert_eq!(common_prefix_len(b"a/b/c", b"a/", b"/"), Some(4));
        assert_eq!(common_prefix_len(b"a/b", b"a/", b"/"), None);
        assert_eq!(common_prefix_len(b"a/b", b"b", b"/"), None);
        assert_eq!(common_prefix_len(b"a--b", b"", b"--"), Some(3));
        assert_eq!(common_prefix_len(b"a/b", b"", b""), None);
    }

    #[test]
    fn an_upload_key_names_its_upload() {
        let b: BucketName = "abc".parse().unwrap();
        let id = UploadId::new();
        assert_eq!(
            upload_id_of_upload_key(&upload_key(&b, "k\0x".as_bytes(), &id)),
            Some(id)
        );
        assert_eq!(upload_id_of_upload_key(b"short"), None);
    }

    #[test]
    fn upload_and_part_keys_sort_as_listed() {
        let a: BucketName = "abc".parse().unwrap();
        let (u1, u2) = (UploadId::new(), UploadId::new());
        assert!(upload_key(&a, b"k", &u1) < upload_key(&a, b"k", &u2));
        assert!(upload_key(&a, b"k", &u2) < upload_key(&a, b"k/", &u1));
        assert!(upload_key(&a, b"k", &u2) < upload_key(&a, b"k0", &u1));
        assert!(part_key(&u1, 2) < part_key(&u1, 10));
        assert!(part_key(&u1, u32::MAX) < part_key(&u2, 0));
    }

    #[test]
    fn object_keys_group_by_bucket() {
        let a: BucketName = "abc".parse().unwrap();
        let b: BucketName = "abc-d".parse().unwrap();
        // Every key of "abc" sorts before any key of "abc-d", even "\u{7f}".
        assert!(object_key(&a, "\u{7f}".as_bytes()) < object_key(&b, b""));
        assert!(object_key(&a, b"x") < object_key(&a, b"x/"));
    }
}
