//! Writes racing each other, for every backend: each test hands the same
//! racing writes to several handles on one store (for PostgreSQL, separate
//! connection pools, as separate metadata replicas have) and checks the
//! rule the race could break. Every round starts its racers together, so
//! the interleavings vary from round to round.

use std::collections::HashSet;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::Barrier;

use super::multipart::{part, upload};
use super::{bucket, bucket_info, meta};
use crate::ids::{NodeId, ShardHash, VersionId};
use crate::model::{ErasureCode, Manifest, MoveOutcome, ObjectData, ShardMove, ShardSlot, Stripe};
use crate::store::{MetaStore, StoreError};

pub(crate) type Replicas = Vec<Arc<dyn MetaStore>>;

const ROUNDS: usize = 25;

fn node() -> NodeId {
    "node-1".parse().unwrap()
}

/// A 1+1 stripe on node-1 naming the files `data` and `parity`.
fn naming(data: &str, parity: &str) -> ObjectData {
    let shard = |s: &str| crate::model::ShardRef {
        hash: ShardHash::of(s.as_bytes()),
        node: node(),
    };
    ObjectData::Striped(Manifest {
        code: ErasureCode { data: 1, parity: 1 },
        stripes: vec![Stripe {
            data_len: 3,
            shard_len: 3,
            shards: vec![shard(data), shard(parity)],
        }],
    })
}

async fn pending(s: &dyn MetaStore) -> HashSet<ShardHash> {
    s.pending_deletions(&node(), 100_000)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// The collector drops the last reference to a file while a write names the
/// same file again: either the write is refused, or the file stays off the
/// deletion queue. Never both admitted and queued.
pub(crate) async fn collector_against_writer(r: Replicas) {
    r[0].create_bucket(bucket_info("collect", "o"))
        .await
        .unwrap();
    let b = bucket("collect");
    for round in 0..ROUNDS {
        let file = format!("shared-{round}");
        let old = meta("collect", &format!("old-{round}"), 3);
        r[0].commit_object(old.clone(), naming(&file, &format!("p-{round}")))
            .await
            .unwrap();
        r[0].delete_object(&b, &old.key).await.unwrap();
        let start = Arc::new(Barrier::new(2));
        let collector = {
            let (s, start, v) = (Arc::clone(&r[1]), start.clone(), old.version);
            tokio::spawn(async move {
                start.wait().await;
                s.remove_garbage(&[v]).await
            })
        };
        let writer = {
            let s = Arc::clone(&r[2 % r.len()]);
            let data = naming(&file, &format!("q-{round}"));
            tokio::spawn(async move {
                start.wait().await;
                s.commit_object(meta("collect", &format!("new-{round}"), 3), data)
                    .await
            })
        };
        collector.await.unwrap().unwrap();
        let queued = pending(&*r[0])
            .await
            .contains(&ShardHash::of(file.as_bytes()));
        match writer.await.unwrap() {
            Ok(_) => assert!(
                !queued,
                "round {round}: a file named by a live object is queued"
            ),
            Err(e) => {
                assert_eq!(e, StoreError::ShardsCollected);
                assert!(queued, "round {round}: refused, yet the file is not queued");
            }
        }
    }
}

/// A repair move that turned stale queues its copy for deletion unless
/// something names the file, while a write names that very file: the write
/// is admitted and the file is not queued, or the write is refused.
pub(crate) async fn stale_copy_against_writer(r: Replicas) {
    r[0].create_bucket(bucket_info("stale", "o")).await.unwrap();
    let other: NodeId = "node-2".parse().unwrap();
    for round in 0..ROUNDS {
        let file = format!("copy-{round}");
        let hash = ShardHash::of(file.as_bytes());
        let start = Arc::new(Barrier::new(2));
        let mover = {
            let (s, start, from) = (Arc::clone(&r[1]), start.clone(), other.clone());
            tokio::spawn(async move {
                start.wait().await;
                // No such version: the move is stale at once.
                s.move_shards(vec![ShardMove {
                    slot: ShardSlot {
                        version: VersionId::new(),
                        stripe: 0,
                        index: 0,
                    },
                    hash,
                    from,
                    to: node(),
                    written_since_unix_ms: 0,
                }])
                .await
            })
        };
        let writer = {
            let s = Arc::clone(&r[2 % r.len()]);
            let data = naming(&file, &format!("cp-{round}"));
            tokio::spawn(async move {
                start.wait().await;
                s.commit_object(meta("stale", &format!("k-{round}"), 3), data)
                    .await
            })
        };
        assert_eq!(mover.await.unwrap().unwrap(), [MoveOutcome::Stale]);
        let queued = pending(&*r[0]).await.contains(&hash);
        match writer.await.unwrap() {
            Ok(_) => assert!(!queued, "round {round}: a live object's file is queued"),
            Err(e) => {
                assert_eq!(e, StoreError::ShardsCollected);
                assert!(queued);
            }
        }
    }
}

/// DeleteBucket races writers that keep putting and removing keys: once
/// the deletion succeeds, no object of the bucket is left behind (a bucket
/// created again under that name is empty) and every later write finds no
/// bucket.
pub(crate) async fn delete_bucket_against_writers(r: Replicas) {
    for round in 0..ROUNDS / 5 {
        let name = format!("doomed-{round}");
        r[0].create_bucket(bucket_info(&name, "o")).await.unwrap();
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let (s, name) = (Arc::clone(&r[w % r.len()]), name.clone());
                tokio::spawn(async move {
                    let b = bucket(&name);
                    for i in 0.. {
                        let key = format!("w{w}-{i}");
                        let data = ObjectData::Inline(Bytes::from_static(b"x"));
                        match s.commit_object(meta(&name, &key, 1), data).await {
                            Ok(_) => {}
                            Err(StoreError::NoSuchBucket) => return i,
                            Err(e) => panic!("commit: {e}"),
                        }
                        // The key is there, so the bucket cannot be gone.
                        s.delete_object(&b, &key).await.unwrap().unwrap();
                        tokio::task::yield_now().await;
                    }
                    unreachable!()
                })
            })
            .collect();
        let deleter = Arc::clone(&r[1 % r.len()]);
        let b = bucket(&name);
        let mut tries = 0;
        loop {
            match deleter.delete_bucket(&b).await {
                Ok(()) => break,
                Err(StoreError::BucketNotEmpty) if tries < 100_000 => {
                    tries += 1;
                    tokio::task::yield_now().await;
                }
                Err(e) => panic!("delete bucket (try {tries}): {e}"),
            }
        }
        for w in writers {
            w.await.unwrap();
        }
        r[0].create_bucket(bucket_info(&name, "o")).await.unwrap();
        let left = r[0]
            .scan_objects(&b, "", Bound::Unbounded, 10)
            .await
            .unwrap();
        assert!(left.is_empty(), "objects outlived their bucket: {left:?}");
    }
}

/// One version id offered by two writes at once (a commit and the
/// retirement of a failed write's data): exactly one takes it.
pub(crate) async fn one_version_one_owner(r: Replicas) {
    r[0].create_bucket(bucket_info("ids", "o")).await.unwrap();
    for round in 0..ROUNDS {
        let m = meta("ids", &format!("k-{round}"), 3);
        let version = m.version;
        let start = Arc::new(Barrier::new(2));
        let committer = {
            let (s, start) = (Arc::clone(&r[1]), start.clone());
            let data = naming(&format!("v-{round}"), "vp");
            tokio::spawn(async move {
                start.wait().await;
                s.commit_object(m, data).await.map(|_| ())
            })
        };
        let retirer = {
            let s = Arc::clone(&r[2 % r.len()]);
            let data = naming(&format!("v-{round}"), "vp");
            tokio::spawn(async move {
                start.wait().await;
                s.retire_data(version, data).await
            })
        };
        let outcomes = [committer.await.unwrap(), retirer.await.unwrap()];
        let won = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(won, 1, "round {round}: {outcomes:?}");
        for o in outcomes {
            if let Err(e) = o {
                assert_eq!(e, StoreError::VersionInUse);
            }
        }
    }
}

/// Many attempts at one part number from several replicas: one stands,
/// and every other reaches the collector exactly once.
pub(crate) async fn part_attempts_race(r: Replicas) {
    r[0].create_bucket(bucket_info("parts", "o")).await.unwrap();
    let up = upload("parts", "movie");
    r[0].create_upload(up.clone()).await.unwrap();
    let attempts: Vec<_> = (0..24)
        .map(|i| {
            let (s, up) = (Arc::clone(&r[i % r.len()]), up.clone());
            tokio::spawn(async move {
                let (record, data) = part(1, 3, &format!("attempt-{i}"));
                let version = record.version;
                let replaced = s
                    .commit_part(&up.bucket, &up.key, &up.upload_id, record, data, None)
                    .await
                    .unwrap();
                (version, replaced.map(|p| p.version))
            })
        })
        .collect();
    let mut written = HashSet::new();
    let mut replaced = HashSet::new();
    for a in attempts {
        let (version, old) = a.await.unwrap();
        written.insert(version);
        if let Some(old) = old {
            assert!(replaced.insert(old), "an attempt was replaced twice");
        }
    }
    let standing = r[0]
        .get_part(&up.bucket, &up.key, &up.upload_id, 1)
        .await
        .unwrap()
        .unwrap()
        .0
        .version;
    assert_eq!(replaced.len(), written.len() - 1);
    assert!(!replaced.contains(&standing));
    let garbage: HashSet<_> = r[0]
        .list_garbage(1000)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.version)
        .collect();
    assert_eq!(garbage, replaced);
}

mod redb {
    use super::*;
    use crate::store::RedbStore;

    /// One embedded store behind three handles: its single writer is what
    /// the races run into.
    fn replicas(dir: &tempfile::TempDir) -> Replicas {
        let s: Arc<dyn MetaStore> = Arc::new(RedbStore::open(dir.path()).unwrap());
        vec![s.clone(), s.clone(), s]
    }

    macro_rules! redb_races {
        ($($name:ident),*) => {$(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let dir = tempfile::tempdir().unwrap();
                super::$name(replicas(&dir)).await;
            }
        )*};
    }

    redb_races!(
        collector_against_writer,
        stale_copy_against_writer,
        delete_bucket_against_writers,
        one_version_one_owner,
        part_attempts_race
    );
}

mod postgres {
    use super::*;
    use crate::store::conformance::postgres::{connect, open};

    macro_rules! pg_races {
        ($($name:ident),*) => {$(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some((first, db)) = open().await else { return };
                let r: Replicas = vec![
                    Arc::new(first),
                    Arc::new(connect(&db).await),
                    Arc::new(connect(&db).await),
                ];
                super::$name(r).await;
            }
        )*};
    }

    pg_races!(
        collector_against_writer,
        stale_copy_against_writer,
        delete_bucket_against_writers,
        one_version_one_owner,
        part_attempts_race
    );
}
