use super::*;
use std::sync::Arc;

fn opts() -> StoreOptions {
    StoreOptions {
        max_shard_size: 1 << 20,
        capacity: Some(10 << 20),
    }
}

fn shard(seed: u8, len: usize) -> (ShardHash, Bytes) {
    let bytes: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(seed)).collect();
    (ShardHash::of(&bytes), Bytes::from(bytes))
}

fn dir_len(path: &Path) -> usize {
    std::fs::read_dir(path).unwrap().count()
}

#[tokio::test]
async fn round_trip_and_idempotent_put_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = ShardStore::open(dir.path(), opts()).await.unwrap();
    let (hash, bytes) = shard(3, 5000);

    assert_eq!(
        store.put_bytes(&hash, bytes.clone()).await.unwrap(),
        PutOutcome::Stored
    );
    assert_eq!(
        store.put_bytes(&hash, bytes.clone()).await.unwrap(),
        PutOutcome::AlreadyPresent
    );
    assert_eq!(store.get(&hash).await.unwrap(), bytes);
    assert_eq!(store.size_of(&hash).await.unwrap(), Some(5000));
    assert!(shard_path(dir.path(), &hash).is_file());
    let u = store.usage();
    assert_eq!(
        (u.used_bytes, u.shard_count, u.capacity_bytes),
        (5000, 1, 10 << 20)
    );
    assert_eq!(dir_len(&tmp_dir(dir.path())), 0);

    assert!(store.delete(&hash).await.unwrap());
    assert!(!store.delete(&hash).await.unwrap());
    assert!(matches!(store.get(&hash).await, Err(StoreError::NotFound)));
    assert_eq!(store.size_of(&hash).await.unwrap(), None);
    assert_eq!(
        (store.usage().used_bytes, store.usage().shard_count),
        (0, 0)
    );
}

#[tokio::test]
async fn concurrent_identical_puts_count_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(ShardStore::open(dir.path(), opts()).await.unwrap());
    let (hash, bytes) = shard(5, 100_000);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (s, b) = (store.clone(), bytes.clone());
            tokio::spawn(async move { s.put_bytes(&hash, b).await.unwrap() })
        })
        .collect();
    let mut stored = 0;
    for t in tasks {
        if t.await.unwrap() == PutOutcome::Stored {
            stored += 1;
        }
    }
    assert_eq!(stored, 1);
    assert_eq!(
        (store.usage().used_bytes, store.usage().shard_count),
        (100_000, 1)
    );
}

#[tokio::test]
async fn hash_mismatch_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = ShardStore::open(dir.path(), opts()).await.unwrap();
    let (hash, _) = shard(3, 1000);
    let (_, other) = shard(4, 1000);
    let err = store.put_bytes(&hash, other).await.unwrap_err();
    assert!(matches!(err, StoreError::HashMismatch { expected, .. } if expected == hash));
    assert!(!shard_path(dir.path(), &hash).exists());
    assert_eq!(dir_len(&tmp_dir(dir.path())), 0);
    assert_eq!(store.usage().shard_count, 0);
}

#[tokio::test]
async fn corrupt_file_is_detected_and_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let store = ShardStore::open(dir.path(), opts()).await.unwrap();
    let (hash, bytes) = shard(7, 4096);
    store.put_bytes(&hash, bytes.clone()).await.unwrap();

    let path = shard_path(dir.path(), &hash);
    let mut rotten = std::fs::read(&path).unwrap();
    rotten[100] ^= 0x01;
    std::fs::write(&path, rotten).unwrap();

    assert!(matches!(store.get(&hash).await, Err(StoreError::Corrupt)));
    assert!(!path.exists());
    assert_eq!(dir_len(&quarantine_dir(dir.path())), 1);
    assert_eq!(store.usage().shard_count, 0);
    assert!(matches!(store.get(&hash).await, Err(StoreError::NotFound)));

    // Re-uploading the good bytes heals the node.
    assert_eq!(
        store.put_bytes(&hash, bytes.clone()).await.unwrap(),
        PutOutcome::Stored
    );
    assert_eq!(store.get(&hash).await.unwrap(), bytes);
}

/// Reads for peers are hashed by the peer: the store hands over what is on
/// disk (the client's check is what catches rot, see
/// `corrupt_shard_is_reported_and_quarantined` in the API tests),
/// and a later write of the good bytes replaces the rotten file.
#[tokio::test]
async fn reads_for_peers_hand_over_the_file_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let store = ShardStore::open(dir.path(), opts()).await.unwrap();
    let (hash, bytes) = shard(5, 4096);
    assert!(matches!(
        store.read_for_peer(&hash).await,
        Err(StoreError::NotFound)
    ));
    store.put_bytes(&hash, bytes.clone()).await.unwrap();
    assert_eq!(store.read_for_peer(&hash).await.unwrap(), bytes);

    let path = shard_path(dir.path(), &hash);
    let mut rotten = bytes.to_vec();
    rotten[10] ^= 0x01;
    std::fs::write(&path, &rotten).unwrap();
    assert_eq!(store.read_for_peer(&hash).await.unwrap(), rotten);
    assert_eq!(
        store.put_bytes(&hash, bytes.clone()).await.unwrap(),
        PutOutcome::Replaced
    );
    assert_eq!(store.read_for_peer(&hash).await.unwrap(), bytes);
    assert_eq!(dir_len(&quarantine_dir(dir.path())), 1);
}

#[tokio::test]
async fn put_over_a_corrupt_copy_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = ShardStore::open(dir.path(), opts()).await.unwrap();
    let (hash, bytes) = shard(9, 3000);
    store.put_bytes(&hash, bytes.clone()).await.unwrap();
    std::fs::write(shard_path(dir.path(), &hash), b"garbage").unwrap();
    assert_eq!(
        store.put_bytes(&hash, bytes.clone()).await.unwrap(),
        PutOutcome::Replaced
    );
    assert_eq!(store.get(&hash).await.unwrap(), bytes);
    assert_eq!(dir_len(&quarantine_dir(dir.path())), 1);
    assert_eq!(store.usage().shard_count, 1);
}

#[tokio::test]
async fn restart_rescans_usage_and_cleans_tmp() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = ShardStore::open(dir.path(), opts()).await.unwrap();
        for seed in 1..=3 {
            let (h, b) = shard(seed, 1000 * usize::from(seed));
            store.put_bytes(&h, b).await.unwrap();
        }
        // A second process must not share the folder.
        assert!(matches!(
            ShardStore::open(dir.path(), opts()).await,
            Err(StoreError::Locked(_))
        ));
    }
    std::fs::write(tmp_dir(dir.path()).join("crashed.part"), b"half a shard").unwrap();
    let store = ShardStore::open(dir.path(), opts()).await.unwrap();
    let u = store.usage();
    assert_eq!((u.used_bytes, u.shard_count), (6000, 3));
    assert_eq!(dir_len(&tmp_dir(dir.path())), 0);
}

#[tokio::test]
async fn refuses_oversize_and_full() {
    let dir = tempfile::tempdir().unwrap();
    let store = ShardStore::open(
        dir.path(),
        StoreOptions {
            max_shard_size: 1000,
            capacity: Some(1500),
        },
    )
    .await
    .unwrap();
    let (h, b) = shard(1, 1001);
    // Without a size hint the limit is enforced as the body streams in.
    let stream = futures::stream::iter(
        b.chunks(100)
            .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    );
    assert!(matches!(
        store.put_stream(&h, None, stream).await,
        Err(StoreError::TooLarge { limit: 1000 })
    ));
    let (h1, b1) = shard(2, 1000);
    store.put_bytes(&h1, b1).await.unwrap();
    let (h2, b2) = shard(3, 600);
    assert!(matches!(
        store.put_bytes(&h2, b2).await,
        Err(StoreError::Full)
    ));
    assert_eq!(dir_len(&tmp_dir(dir.path())), 0);
}

#[tokio::test]
async fn broken_body_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = ShardStore::open(dir.path(), opts()).await.unwrap();
    let (h, b) = shard(1, 2000);
    let stream = futures::stream::iter([
        Ok(b.slice(..1000)),
        Err(std::io::Error::other("connection reset")),
    ]);
    assert!(matches!(
        store.put_stream(&h, None, stream).await,
        Err(StoreError::Body(_))
    ));
    assert!(!shard_path(dir.path(), &h).exists());
    assert_eq!(dir_len(&tmp_dir(dir.path())), 0);
}
