//! The advisory locks that order concurrent writes from several metadata
//! replicas on one database.
//!
//! Writes run at READ COMMITTED, where every statement sees what committed
//! before it started. That alone keeps a rule only when the rows it reads
//! are locked; the store's rules are also about rows that do not exist yet
//! (an `If-None-Match: *` write reads a key nobody holds; a bucket is
//! deleted only while nothing names it). So each write first takes, in one
//! statement, a transaction-scoped advisory lock per thing whose state it
//! decides on: the bucket (shared by writes inside it, exclusive for
//! deleting it), the object key, the upload (shared by its part writes,
//! exclusive for completing or aborting it), the part number, and the new
//! version id. Statements after that see every committed write that could
//! have changed the answer, and no such write can start until this one
//! commits. Shard reference counts need no advisory lock: each writer
//! changes its count rows first and checks the deletion queue after (see
//! [`super::shard_refs`]).
//!
//! Locks are 64-bit hashes, so two names may share one: that only makes
//! two writes wait for each other, never lets two conflicting ones pass.
//! Every write takes its locks in one fixed order (by kind, then by hash),
//! so two writes never wait for each other's locks in a cycle.

use deadpool_postgres::Transaction;
use uuid::Uuid;

use super::sql::exec;
use crate::ids::BucketName;

/// What a lock protects, in the order locks are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// Users and access keys, and bucket owners against user deletion.
    Identity,
    Bucket,
    Upload,
    Object,
    Part,
    Version,
}

impl Kind {
    fn tag(self) -> &'static [u8] {
        match self {
            Kind::Identity => b"identity",
            Kind::Bucket => b"bucket",
            Kind::Upload => b"upload",
            Kind::Object => b"object",
            Kind::Part => b"part",
            Kind::Version => b"version",
        }
    }
}

/// The locks one write takes, collected before any is taken.
#[derive(Debug, Default)]
pub(super) struct Locks {
    /// (kind, key, exclusive)
    wanted: Vec<(Kind, i64, bool)>,
}

impl Locks {
    pub(super) fn new() -> Self {
        Self::default()
    }

    fn add(mut self, kind: Kind, name: &[u8], exclusive: bool) -> Self {
        self.wanted.push((kind, key(kind, name), exclusive));
        self
    }

    /// Shared by every user and key change; exclusive to delete a user.
    pub(super) fn identity(self, exclusive: bool) -> Self {
        self.add(Kind::Identity, b"", exclusive)
    }

    /// Shared by writes inside the bucket; exclusive to create or delete it.
    pub(super) fn bucket(self, name: &BucketName, exclusive: bool) -> Self {
        self.add(Kind::Bucket, name.as_str().as_bytes(), exclusive)
    }

    /// Shared by part writes; exclusive to create, complete or abort.
    pub(super) fn upload(self, ukey: &[u8], exclusive: bool) -> Self {
        self.add(Kind::Upload, ukey, exclusive)
    }

    /// The current version of one key.
    pub(super) fn object(self, okey: &[u8]) -> Self {
        self.add(Kind::Object, okey, true)
    }

    /// One part number of one upload.
    pub(super) fn part(self, pkey: &[u8]) -> Self {
        self.add(Kind::Part, pkey, true)
    }

    /// A version id about to be written: whether it is taken is decided once.
    pub(super) fn version(self, version: Uuid) -> Self {
        self.add(Kind::Version, version.as_bytes(), true)
    }

    /// The locks in the order they are taken, one per key, exclusive if any
    /// request for it was.
    fn ordered(mut self) -> Vec<(i64, bool)> {
        self.wanted.sort_by_key(|&(kind, key, _)| (kind, key));
        let mut out: Vec<(Kind, i64, bool)> = Vec::with_capacity(self.wanted.len());
        for (kind, key, exclusive) in self.wanted {
            match out.last_mut() {
                Some(last) if last.0 == kind && last.1 == key => last.2 |= exclusive,
                _ => out.push((kind, key, exclusive)),
            }
        }
        out.into_iter().map(|(_, k, x)| (k, x)).collect()
    }

    /// Takes every lock, waiting for each, in one round trip; they are held
    /// until the transaction ends. Must be the write's first statement.
    pub(super) async fn take(self, t: &Transaction<'_>) -> Result<(), tokio_postgres::Error> {
        let (keys, exclusive): (Vec<i64>, Vec<bool>) = self.ordered().into_iter().unzip();
        if keys.is_empty() {
            return Ok(());
        }
        // `unnest` yields the rows in array order, so the locks are taken in
        // that order.
        exec(
            t,
            "SELECT CASE WHEN x THEN pg_advisory_xact_lock(k) \
                         ELSE pg_advisory_xact_lock_shared(k) END \
             FROM unnest($1::bigint[], $2::bool[]) AS l(k, x)",
            &[&keys, &exclusive],
        )
        .await?;
        Ok(())
    }
}

/// A lock's key: a hash of what it protects, tagged by kind and by this
/// store, so it neither collides across kinds nor with another
/// application's advisory locks except by chance.
fn key(kind: Kind, name: &[u8]) -> i64 {
    let mut h = blake3::Hasher::new_derive_key("tessera metadata advisory lock v1");
    h.update(kind.tag());
    h.update(&[0]);
    h.update(name);
    let mut out = [0u8; 8];
    out.copy_from_slice(&h.finalize().as_bytes()[..8]);
    i64::from_le_bytes(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_are_ordered_by_kind_then_key_and_deduplicated() {
        let b: BucketName = "media".parse().unwrap();
        let v = Uuid::from_u128(7);
        let ordered = Locks::new()
            .version(v)
            .object(b"media\0a")
            .bucket(&b, false)
            .bucket(&b, true)
            .ordered();
        assert_eq!(
            ordered,
            vec![
                (key(Kind::Bucket, b"media"), true),
                (key(Kind::Object, b"media\0a"), true),
                (key(Kind::Version, v.as_bytes()), true),
            ]
        );
    }

    #[test]
    fn kinds_do_not_share_keys() {
        assert_ne!(key(Kind::Bucket, b"x"), key(Kind::Object, b"x"));
        assert_ne!(key(Kind::Bucket, b"x"), key(Kind::Bucket, b"y"));
    }
}
