//! Validated identifiers. Every id that crosses a process boundary is a newtype
//! with a checked `FromStr`, so a malformed name is refused where it enters,
//! not deep inside a storage engine.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("invalid node id {0:?}: 1-64 characters of a-z, 0-9, '-' and '_'")]
    NodeId(String),
    #[error("invalid shard hash {0:?}: 64 hex digits")]
    ShardHash(String),
    #[error("invalid bucket name {0:?}")]
    BucketName(String),
    #[error("invalid version id {0:?}")]
    VersionId(String),
    #[error("invalid upload id {0:?}: 32 lowercase hex digits")]
    UploadId(String),
    #[error("invalid bucket id {0:?}: 32 lowercase hex digits")]
    BucketId(String),
    #[error("invalid user name {0:?}: 1-64 characters of A-Z, a-z, 0-9 and +=,.@_-")]
    UserName(String),
    #[error("invalid access key id {0:?}: 3-128 characters of A-Z, a-z, 0-9, '.', '_' and '-'")]
    AccessKeyId(String),
}

macro_rules! serde_via_str {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A storage node's stable identity. It survives restarts and address changes
/// (it lives in the node's data folder), so manifests can name it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(String);

impl NodeId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A fresh random id, for a node started without one.
    pub fn random() -> Self {
        let bytes: [u8; 8] = rand::random();
        NodeId(format!("node-{}", hex::encode(bytes)))
    }
}

impl FromStr for NodeId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(NodeId(s.to_owned()))
        } else {
            Err(IdError::NodeId(s.to_owned()))
        }
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.0)
    }
}
serde_via_str!(NodeId);

/// The BLAKE3 hash of a shard's bytes: its name on every storage node. Because a
/// shard is named by its content, a cached or stored shard can never be stale.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShardHash(pub [u8; 32]);

impl ShardHash {
    pub fn of(bytes: &[u8]) -> Self {
        ShardHash(*blake3::hash(bytes).as_bytes())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl From<blake3::Hash> for ShardHash {
    fn from(h: blake3::Hash) -> Self {
        ShardHash(*h.as_bytes())
    }
}

impl FromStr for ShardHash {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let mut out = [0u8; 32];
        if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(IdError::ShardHash(s.to_owned()));
        }
        hex::decode_to_slice(s, &mut out).map_err(|_| IdError::ShardHash(s.to_owned()))?;
        Ok(ShardHash(out))
    }
}

impl fmt::Display for ShardHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ShardHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShardHash({})", &self.to_hex()[..16])
    }
}
serde_via_str!(ShardHash);

/// A bucket name, checked against S3's rules for new buckets: 3-63 characters
/// of lowercase letters, digits, '.' and '-', starting and ending with a letter
/// or digit, no "..", and not shaped like an IPv4 address.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BucketName(String);

impl BucketName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether S3 reserves the name's prefix or suffix for its own features
    /// (access points, Outposts, directory buckets, ...). New buckets may not
    /// take such names; checked at creation only, so that a stored bucket
    /// always stays readable.
    pub fn is_reserved(&self) -> bool {
        const PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
        const SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
        PREFIXES.iter().any(|p| self.0.starts_with(p))
            || SUFFIXES.iter().any(|s| self.0.ends_with(s))
    }
}

impl FromStr for BucketName {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let bad = || IdError::BucketName(s.to_owned());
        let bytes = s.as_bytes();
        if !(3..=63).contains(&bytes.len()) {
            return Err(bad());
        }
        let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if !edge_ok(bytes[0]) || !edge_ok(bytes[bytes.len() - 1]) {
            return Err(bad());
        }
        if !bytes.iter().all(|&b| edge_ok(b) || b == b'.' || b == b'-') {
            return Err(bad());
        }
        if s.contains("..") || s.contains(".-") || s.contains("-.") {
            return Err(bad());
        }
        if s.parse::<std::net::Ipv4Addr>().is_ok() {
            return Err(bad());
        }
        Ok(BucketName(s.to_owned()))
    }
}

impl fmt::Display for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl fmt::Debug for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BucketName({})", self.0)
    }
}
serde_via_str!(BucketName);

/// Identifies one stored version of an object (UUIDv7: time-ordered). Every
/// write gets a fresh one, so an overwrite never touches the shards a reader of
/// the previous version may still be fetching.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VersionId(pub uuid::Uuid);

impl VersionId {
    pub fn new() -> Self {
        VersionId(uuid::Uuid::now_v7())
    }
}

impl Default for VersionId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for VersionId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        uuid::Uuid::parse_str(s)
            .map(VersionId)
            .map_err(|_| IdError::VersionId(s.to_owned()))
    }
}

impl fmt::Display for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.simple())
    }
}

impl fmt::Debug for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VersionId({})", self.0.simple())
    }
}
serde_via_str!(VersionId);

/// Names one multipart upload (UUIDv7, shown as 32 lowercase hex digits).
/// Time-ordered, so the uploads of one key list in the order they began, as
/// S3 lists them; and random enough that a client cannot guess another
/// client's upload.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UploadId(pub uuid::Uuid);

impl UploadId {
    pub fn new() -> Self {
        UploadId(uuid::Uuid::now_v7())
    }
}

impl Default for UploadId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for UploadId {
    type Err = IdError;
    /// Only the exact form [`fmt::Display`] writes: upload ids travel in S3
    /// query strings and XML, where two spellings of one id would be two ids
    /// to a client comparing them.
    fn from_str(s: &str) -> Result<Self, IdError> {
        let ok = s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !ok {
            return Err(IdError::UploadId(s.to_owned()));
        }
        uuid::Uuid::try_parse(s)
            .map(UploadId)
            .map_err(|_| IdError::UploadId(s.to_owned()))
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.simple())
    }
}

impl fmt::Debug for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UploadId({})", self.0.simple())
    }
}
serde_via_str!(UploadId);

/// Which creation of a bucket name a record or a request is about. A name
/// can be deleted and created again, by another user, while a request that
/// checked the first bucket's owner is still streaming its body: writes
/// carry the id of the bucket they checked, and metadata refuses them
/// (`NoSuchBucket`) in the committing transaction when the bucket under
/// that name is not that one any more. Random per creation, so a name's
/// creations never share one. The nil id (the default) stands for the one
/// creation of a bucket made before buckets had ids: at most one such
/// record exists per name, and every later creation gets a random id.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct BucketId(pub uuid::Uuid);

impl BucketId {
    pub fn new() -> Self {
        BucketId(uuid::Uuid::new_v4())
    }
}

impl FromStr for BucketId {
    type Err = IdError;
    /// Only the exact form [`fmt::Display`] writes, like [`UploadId`].
    fn from_str(s: &str) -> Result<Self, IdError> {
        let ok = s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !ok {
            return Err(IdError::BucketId(s.to_owned()));
        }
        uuid::Uuid::try_parse(s)
            .map(BucketId)
            .map_err(|_| IdError::BucketId(s.to_owned()))
    }
}

impl fmt::Display for BucketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.simple())
    }
}

impl fmt::Debug for BucketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BucketId({})", self.0.simple())
    }
}

serde_via_str!(BucketId);

/// A user: who owns buckets. Spelled as IAM spells user names, so names
/// carried over from AWS fit.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserName(String);

impl UserName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for UserName {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
        if ok {
            Ok(UserName(s.to_owned()))
        } else {
            Err(IdError::UserName(s.to_owned()))
        }
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl fmt::Debug for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserName({})", self.0)
    }
}
serde_via_str!(UserName);

/// The public half of an S3 credential, as it appears in a SigV4
/// `Credential=` field. The characters exclude `/`, which separates that
/// field's parts.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccessKeyId(String);

impl AccessKeyId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A fresh id shaped like AWS's: 20 characters, uppercase letters and
    /// digits, starting with `TK`.
    pub fn random() -> Self {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let bytes: [u8; 18] = rand::random();
        let tail: String = bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(b % 32)]))
            .collect();
        AccessKeyId(format!("TK{tail}"))
    }
}

impl FromStr for AccessKeyId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let ok = (3..=128).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if ok {
            Ok(AccessKeyId(s.to_owned()))
        } else {
            Err(IdError::AccessKeyId(s.to_owned()))
        }
    }
}

impl fmt::Display for AccessKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl fmt::Debug for AccessKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessKeyId({})", self.0)
    }
}
serde_via_str!(AccessKeyId);

/// The longest object key S3 accepts, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_ids_round_trip_in_one_spelling() {
        let id = BucketId::new();
        assert_eq!(id.to_string().parse::<BucketId>(), Ok(id));
        assert_ne!(id, BucketId::new());
        assert_eq!(
            BucketId::default().to_string(),
            "00000000000000000000000000000000"
        );
        for bad in ["", "xyz", &id.to_string().to_uppercase(), &id.0.to_string()] {
            assert!(bad.parse::<BucketId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn user_names_and_access_key_ids() {
        for ok in ["alice", "a", "svc+video@example.com", &"u".repeat(64)] {
            assert!(ok.parse::<UserName>().is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a/b", &"u".repeat(65), "ümlaut"] {
            assert!(bad.parse::<UserName>().is_err(), "{bad}");
        }
        for ok in ["AKIAIOSFODNN7EXAMPLE", "tessera", "test-access"] {
            assert!(ok.parse::<AccessKeyId>().is_ok(), "{ok}");
        }
        for bad in ["ab", "a/b", "a b", &"k".repeat(129)] {
            assert!(bad.parse::<AccessKeyId>().is_err(), "{bad}");
        }
        let fresh = AccessKeyId::random();
        assert_eq!(fresh.as_str().len(), 20);
        assert_eq!(fresh.as_str().parse::<AccessKeyId>(), Ok(fresh));
    }

    #[test]
    fn reserved_bucket_names() {
        for reserved in [
            "sthree-a",
            "amzn-s3-demo-b",
            "b-s3alias",
            "b--ol-s3",
            "b.mrap",
            "b--x-s3",
        ] {
            assert!(
                reserved.parse::<BucketName>().unwrap().is_reserved(),
                "{reserved}"
            );
        }
        assert!(!"media".parse::<BucketName>().unwrap().is_reserved());
    }

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket", "a.b.c", "123", &"a".repeat(63)] {
            assert!(ok.parse::<BucketName>().is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "Abc",
            "-abc",
            "abc-",
            "a..b",
            "a.-b",
            "a_b",
            "192.168.1.1",
            "a b",
        ] {
            assert!(bad.parse::<BucketName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shard_hash_round_trip() {
        let h = ShardHash::of(b"hello");
        let s = h.to_string();
        assert_eq!(s.parse::<ShardHash>().unwrap(), h);
        assert!(s.to_uppercase().parse::<ShardHash>().is_err());
        assert!("abc".parse::<ShardHash>().is_err());
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<ShardHash>(&json).unwrap(), h);
    }

    #[test]
    fn upload_ids() {
        let id = UploadId::new();
        let s = id.to_string();
        assert_eq!(s.len(), 32);
        assert_eq!(s.parse::<UploadId>().unwrap(), id);
        assert!(s.to_uppercase().parse::<UploadId>().is_err());
        assert!(id.0.hyphenated().to_string().parse::<UploadId>().is_err());
        assert!("".parse::<UploadId>().is_err());
        assert!("zz".repeat(16).parse::<UploadId>().is_err());
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{s}\""));
        assert_eq!(serde_json::from_str::<UploadId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<UploadId>("\"nope\"").is_err());
        // Text order is id order, so markers compare the same either way.
        let later = UploadId::new();
        assert_eq!(id.cmp(&later), s.cmp(&later.to_string()));
    }

    #[test]
    fn node_ids() {
        assert!("node-1".parse::<NodeId>().is_ok());
        assert!("Node".parse::<NodeId>().is_err());
        assert!("".parse::<NodeId>().is_err());
        assert!("a/b".parse::<NodeId>().is_err());
        assert!(NodeId::random().as_str().parse::<NodeId>().is_ok());
    }
}
