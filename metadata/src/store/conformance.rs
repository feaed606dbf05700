//! The behaviour every [`MetaStore`] backend must have, written once against
//! the trait; each backend runs the whole suite (Garage's `db/test.rs`).

use std::collections::HashSet;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use super::keys::common_prefix_len;
use super::{MetaStore, StoreError};
use crate::ids::{BucketName, NodeId, ShardHash, UserName, VersionId};
use crate::model::{
    AccessKey, BucketInfo, BucketUpdate, CorsConfig, CorsRule, ErasureCode, Manifest,
    NodeHeartbeat, ObjectData, ObjectMeta, ShardRef, Stripe, UserInfo, WriteCondition,
};

pub(crate) mod multipart;
mod races;

pub(crate) fn bucket(name: &str) -> BucketName {
    name.parse().unwrap()
}

pub(crate) fn bucket_info(name: &str, owner: &str) -> BucketInfo {
    BucketInfo::new(bucket(name), owner.into(), 1)
}

pub(crate) fn meta(b: &str, key: &str, size: u64) -> ObjectMeta {
    ObjectMeta {
        bucket: bucket(b),
        key: key.into(),
        version: VersionId::new(),
        size,
        etag: "etag".into(),
        last_modified_unix_ms: 2,
        headers: Default::default(),
        user_metadata: Default::default(),
        checksums: Default::default(),
        part_sizes: Vec::new(),
        upload_id: None,
    }
}

pub(crate) fn striped(tag: &str) -> ObjectData {
    let node: NodeId = "node-1".parse().unwrap();
    ObjectData::Striped(Manifest {
        code: ErasureCode { data: 1, parity: 1 },
        stripes: vec![Stripe {
            data_len: 3,
            shard_len: 3,
            shards: vec![
                ShardRef {
                    hash: ShardHash::of(tag.as_bytes()),
                    node: node.clone(),
                },
                ShardRef {
                    hash: ShardHash::of(b"parity"),
                    node,
                },
            ],
        }],
    })
}

pub(crate) async fn bucket_lifecycle(s: &dyn MetaStore) {
    let b = bucket("photos");
    assert_eq!(s.get_bucket(&b).await.unwrap(), None);
    s.create_bucket(bucket_info("photos", "alice"))
        .await
        .unwrap();
    s.create_bucket(bucket_info("albums", "bob")).await.unwrap();
    assert_eq!(
        s.create_bucket(bucket_info("photos", "bob")).await,
        Err(StoreError::BucketAlreadyExists {
            owner: "alice".into()
        })
    );
    assert_eq!(s.get_bucket(&b).await.unwrap().unwrap().owner, "alice");
    let names: Vec<_> = s
        .list_buckets()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name.to_string())
        .collect();
    assert_eq!(names, ["albums", "photos"]);

    s.commit_object(
        meta("photos", "a.jpg", 3),
        ObjectData::Inline(Bytes::from_static(b"abc")),
    )
    .await
    .unwrap();
    assert_eq!(s.delete_bucket(&b).await, Err(StoreError::BucketNotEmpty));
    // A neighbour whose name extends this one is not "inside" it.
    s.create_bucket(bucket_info("photos-old", "alice"))
        .await
        .unwrap();
    s.commit_object(meta("photos-old", "x", 0), ObjectData::Inline(Bytes::new()))
        .await
        .unwrap();
    s.delete_object(&b, "a.jpg").await.unwrap();
    s.delete_bucket(&b).await.unwrap();
    assert_eq!(s.delete_bucket(&b).await, Err(StoreError::NoSuchBucket));
    assert_eq!(s.get_bucket(&b).await.unwrap(), None);
}

pub(crate) async fn commit_replace_and_garbage(s: &dyn MetaStore) {
    let b = bucket("media");
    s.create_bucket(bucket_info("media", "o")).await.unwrap();
    let v1 = meta("media", "video.mp4", 3);
    assert_eq!(
        s.commit_object(v1.clone(), striped("v1")).await.unwrap(),
        None
    );
    let (m, d) = s.get_object(&b, "video.mp4").await.unwrap().unwrap();
    assert_eq!((m, d), (v1.clone(), striped("v1")));
    assert_eq!(
        s.head_object(&b, "video.mp4").await.unwrap(),
        Some(v1.clone())
    );

    // Overwrite: the old version comes back and its data becomes garbage.
    let v2 = meta("media", "video.mp4", 3);
    assert_eq!(
        s.commit_object(v2.clone(), striped("v2")).await.unwrap(),
        Some(v1.clone())
    );
    assert_eq!(
        s.get_object(&b, "video.mp4").await.unwrap().unwrap().1,
        striped("v2")
    );
    let garbage = s.list_garbage(10).await.unwrap();
    assert_eq!(garbage.len(), 1);
    assert_eq!(garbage[0].version, v1.version);
    assert_eq!(garbage[0].data, striped("v1"));
    assert!(garbage[0].since_unix_ms > 0);

    // A retried commit of the same version replaces nothing, makes no garbage.
    assert_eq!(
        s.commit_object(v2.clone(), striped("v2")).await.unwrap(),
        None
    );
    assert_eq!(s.list_garbage(10).await.unwrap().len(), 1);

    // A version id is one write: not reusable under another key, nor once
    // it is garbage.
    let mut reused = meta("media", "other.mp4", 3);
    reused.version = v2.version;
    assert_eq!(
        s.commit_object(reused, striped("v2")).await,
        Err(StoreError::VersionInUse)
    );
    let mut revived = meta("media", "video.mp4", 3);
    revived.version = v1.version;
    assert_eq!(
        s.commit_object(revived, striped("v1")).await,
        Err(StoreError::VersionInUse)
    );
    assert_eq!(s.head_object(&b, "other.mp4").await.unwrap(), None);

    // Inline data has no shards: replacing it makes no garbage entry.
    let small = meta("media", "small.txt", 2);
    s.commit_object(small.clone(), ObjectData::Inline(Bytes::from_static(b"hi")))
        .await
        .unwrap();
    s.commit_object(
        meta("media", "small.txt", 0),
        ObjectData::Inline(Bytes::new()),
    )
    .await
    .unwrap();
    assert_eq!(s.list_garbage(10).await.unwrap().len(), 1);

    // Delete: returns the removed version; its data becomes garbage.
    assert_eq!(
        s.delete_object(&b, "video.mp4").await.unwrap(),
        Some(v2.clone())
    );
    assert_eq!(s.delete_object(&b, "video.mp4").await.unwrap(), None);
    assert_eq!(s.get_object(&b, "video.mp4").await.unwrap(), None);
    assert_eq!(s.head_object(&b, "video.mp4").await.unwrap(), None);
    let versions: Vec<_> = s
        .list_garbage(10)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.version)
        .collect();
    assert_eq!(versions, [v1.version, v2.version], "oldest first");
    assert_eq!(s.list_garbage(1).await.unwrap().len(), 1);

    s.remove_garbage(&[v1.version, VersionId::new()])
        .await
        .unwrap();
    assert_eq!(s.list_garbage(10).await.unwrap()[0].version, v2.version);
    s.remove_garbage(&[v2.version]).await.unwrap();
    assert!(s.list_garbage(10).await.unwrap().is_empty());

    // Missing bucket: every object operation says so.
    let nb = bucket("nope");
    assert_eq!(
        s.commit_object(meta("nope", "k", 0), ObjectData::Inline(Bytes::new()))
            .await,
        Err(StoreError::NoSuchBucket)
    );
    assert_eq!(s.get_object(&nb, "k").await, Err(StoreError::NoSuchBucket));
    assert_eq!(s.head_object(&nb, "k").await, Err(StoreError::NoSuchBucket));
    assert_eq!(
        s.delete_object(&nb, "k").await,
        Err(StoreError::NoSuchBucket)
    );
    assert_eq!(
        s.scan_objects(&nb, "", Bound::Unbounded, 10).await,
        Err(StoreError::NoSuchBucket)
    );
}

/// Concurrent writes are grouped into shared transactions; each still gets
/// its own answer, and a refused one never takes its batch down with it. A
/// reader never sees an object version without its data.
pub(crate) async fn concurrent_commits_are_atomic(s: Arc<dyn MetaStore>) {
    s.create_bucket(bucket_info("busy", "o")).await.unwrap();
    let b = bucket("busy");
    let mut tasks = Vec::new();
    for i in 0..400 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            // Every third write goes to a missing bucket.
            let target = if i % 3 == 0 { "missing" } else { "busy" };
            let key = format!("k{}", i % 20);
            let mut m = meta(target, &key, 0);
            m.etag = m.version.to_string();
            let data = ObjectData::Inline(Bytes::from(m.version.to_string()));
            m.size = data_len(&data);
            (i, s.commit_object(m, data).await)
        }));
    }
    let reader = {
        let (s, b) = (s.clone(), b.clone());
        tokio::spawn(async move {
            for round in 0..200 {
                let key = format!("k{}", round % 20);
                if let Some((m, d)) = s.get_object(&b, &key).await.unwrap() {
                    // The data is the one committed with this very version.
                    assert_eq!(d, ObjectData::Inline(Bytes::from(m.version.to_string())));
                }
            }
        })
    };
    let mut replaced = HashSet::new();
    for t in tasks {
        let (i, result) = t.await.unwrap();
        if i % 3 == 0 {
            assert_eq!(result, Err(StoreError::NoSuchBucket));
        } else if let Some(old) = result.unwrap() {
            assert!(replaced.insert(old.version), "a version was replaced twice");
        }
    }
    reader.await.unwrap();
    let all = s
        .scan_objects(&b, "", Bound::Unbounded, 1000)
        .await
        .unwrap();
    assert_eq!(all.len(), 20);
    for m in all {
        let (_, d) = s.get_object(&b, &m.key).await.unwrap().unwrap();
        assert_eq!(d, ObjectData::Inline(Bytes::from(m.etag.clone())));
    }
}

fn data_len(d: &ObjectData) -> u64 {
    match d {
        ObjectData::Inline(b) => b.len() as u64,
        ObjectData::Striped(m) => m.data_len(),
    }
}

/// Conditional commits: `If-None-Match: *` lets exactly one of many racing
/// writers create a key; `If-Match` replaces only the version it names.
pub(crate) async fn conditional_commits(s: Arc<dyn MetaStore>) {
    use crate::model::WriteCondition;
    s.create_bucket(bucket_info("cond", "o")).await.unwrap();
    let create_only = WriteCondition {
        if_none_match_any: true,
        ..WriteCondition::default()
    };
    let racers: Vec<_> = (0..16)
        .map(|_| {
            let s = Arc::clone(&s);
            let c = create_only.clone();
            tokio::spawn(async move {
                s.commit_object_if(meta("cond", "once", 1), striped("r"), c)
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for r in racers {
        match r.await.unwrap() {
            Ok(_) => won += 1,
            Err(e) => assert_eq!(e, StoreError::PreconditionFailed),
        }
    }
    assert_eq!(won, 1, "exactly one create-only writer wins");

    let (current, _) = s
        .get_object(&bucket("cond"), "once")
        .await
        .unwrap()
        .unwrap();
    let stale = WriteCondition {
        if_match: Some("\"not-it\"".into()),
        ..WriteCondition::default()
    };
    assert_eq!(
        s.commit_object_if(meta("cond", "once", 1), striped("x"), stale.clone())
            .await,
        Err(StoreError::PreconditionFailed)
    );
    assert_eq!(
        s.commit_object_if(meta("cond", "absent", 1), striped("x"), stale)
            .await,
        Err(StoreError::NoSuchKey)
    );
    let fresh = WriteCondition {
        if_match: Some(current.etag.clone()),
        ..WriteCondition::default()
    };
    let replaced = s
        .commit_object_if(meta("cond", "once", 1), striped("y"), fresh)
        .await
        .unwrap();
    assert_eq!(replaced.map(|m| m.version), Some(current.version));
}

pub(crate) async fn scans_are_ordered_and_bounded(s: &dyn MetaStore) {
    s.create_bucket(bucket_info("scan", "o")).await.unwrap();
    s.create_bucket(bucket_info("scan-2", "o")).await.unwrap();
    let b = bucket("scan");
    let keys = ["a", "a/b", "a/c", "a0", "b", "é", "é/x", "ø"];
    // Inserted out of order.
    for k in keys.iter().rev() {
        s.commit_object(meta("scan", k, 0), ObjectData::Inline(Bytes::new()))
            .await
            .unwrap();
    }
    s.commit_object(meta("scan-2", "a", 0), ObjectData::Inline(Bytes::new()))
        .await
        .unwrap();
    let scan = |prefix: &'static str, from: Bound<&'static [u8]>, limit| {
        let b = b.clone();
        async move {
            s.scan_objects(&b, prefix, from, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|m| m.key)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(scan("", Bound::Unbounded, 100).await, keys);
    assert_eq!(scan("", Bound::Unbounded, 2).await, ["a", "a/b"]);
    assert_eq!(scan("a/", Bound::Unbounded, 100).await, ["a/b", "a/c"]);
    assert_eq!(scan("", Bound::Excluded(b"a/b"), 2).await, ["a/c", "a0"]);
    assert_eq!(scan("", Bound::Included(b"a/b"), 1).await, ["a/b"]);
    // A bound below the prefix is the prefix; above its end, nothing.
    assert_eq!(scan("a/", Bound::Excluded(b"a"), 100).await, ["a/b", "a/c"]);
    assert!(scan("a/", Bound::Included(b"b"), 100).await.is_empty());
    // Non-UTF-8 bound: the successor of "é" (c3 a9) is c3 aa.
    assert_eq!(scan("", Bound::Included(b"\xc3\xaa"), 100).await, ["ø"]);
    assert!(scan("", Bound::Unbounded, 0).await.is_empty());
}

/// Delimiter scans against a naive reference: every key in range, then only
/// the first of each run rolling up into one common prefix.
pub(crate) async fn rolled_up_scans_skip_folders(s: &dyn MetaStore) {
    s.create_bucket(bucket_info("roll", "o")).await.unwrap();
    let b = bucket("roll");
    let keys = [
        "a", "a/", "a/b", "a/b/c", "a/c", "a0", "ab/x", "b", "b/x/y", "b/z", "bb/", "x//y", "x/y",
        "é", "é/x", "é/y", "éé", "ø",
    ];
    for k in keys {
        s.commit_object(meta("roll", k, 0), ObjectData::Inline(Bytes::new()))
            .await
            .unwrap();
    }
    let reference = |prefix: &str, delimiter: &str, from: Bound<&[u8]>, limit: usize| {
        let mut out: Vec<&str> = Vec::new();
        let mut open: Option<&[u8]> = None;
        for k in keys {
            let kb = k.as_bytes();
            let in_range = match from {
                Bound::Included(f) => kb >= f,
                Bound::Excluded(f) => kb > f,
                Bound::Unbounded => true,
            };
            if !k.starts_with(prefix) || !in_range {
                continue;
            }
            if open.is_some_and(|cp| kb.starts_with(cp)) {
                continue;
            }
            open = common_prefix_len(kb, prefix.as_bytes(), delimiter.as_bytes()).map(|n| &kb[..n]);
            out.push(k);
        }
        out.truncate(limit);
        out
    };
    let bounds: Vec<Bound<&[u8]>> = [
        b"".as_slice(),
        b"a/",
        b"a/b",
        b"b/x/y",
        b"b/zz",
        b"x/",
        b"\xc3\xaa",
    ]
    .into_iter()
    .flat_map(|f| [Bound::Included(f), Bound::Excluded(f)])
    .chain([Bound::Unbounded])
    .collect();
    for prefix in ["", "a", "a/", "b", "x/", "é", "zz"] {
        for delimiter in ["/", "b/", "é", "//"] {
            for &from in &bounds {
                for limit in [1, 2, 3, 100] {
                    let got = s
                        .scan_rolled_up(&b, prefix, delimiter, from, limit)
                        .await
                        .unwrap();
                    let got: Vec<&str> = got.iter().map(|m| m.key.as_str()).collect();
                    assert_eq!(
                        got,
                        reference(prefix, delimiter, from, limit),
                        "prefix {prefix:?} delimiter {delimiter:?} from {from:?} limit {limit}"
                    );
                }
            }
        }
    }
    assert_eq!(
        s.scan_rolled_up(&bucket("nope"), "", "/", Bound::Unbounded, 10)
            .await,
        Err(StoreError::NoSuchBucket)
    );
}

/// A heartbeat of node `id`, reachable at `addr`.
fn heartbeat(id: &str, addr: &str) -> NodeHeartbeat {
    NodeHeartbeat {
        id: id.parse().unwrap(),
        addr: addr.into(),
        zone: Some("z1".into()),
        capacity_bytes: 10,
        used_bytes: 1,
        shard_count: 2,
        deleted: Vec::new(),
        latency: None,
        scrub: None,
    }
}

pub(crate) async fn nodes_persist(s: &dyn MetaStore) {
    let hb = heartbeat;
    s.put_node(hb("n2", "h:2"), 5).await.unwrap();
    s.put_node(hb("n1", "h:1"), 6).await.unwrap();
    s.put_node(hb("n2", "h:3"), 7).await.unwrap();
    let nodes = s.list_nodes().await.unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0].heartbeat, hb("n1", "h:1"));
    assert_eq!(nodes[1].heartbeat.addr, "h:3");
    assert_eq!(nodes[1].last_seen_unix_ms, 7);
}

pub(crate) async fn bucket_settings(s: &dyn MetaStore) {
    let b = bucket("media");
    s.create_bucket(bucket_info("media", "alice"))
        .await
        .unwrap();
    let cors = CorsConfig {
        rules: vec![CorsRule {
            allowed_origins: vec!["https://example.com".into()],
            allowed_methods: vec!["GET".into()],
            ..CorsRule::default()
        }],
    };
    let set_public = BucketUpdate {
        public_read: Some(true),
        ..BucketUpdate::default()
    };
    let set_cors = BucketUpdate {
        cors: Some(cors.clone()),
        ..BucketUpdate::default()
    };
    // Two updates of different settings both stick.
    let (a, c) = tokio::join!(
        s.update_bucket(&b, set_public),
        s.update_bucket(&b, set_cors)
    );
    a.unwrap();
    c.unwrap();
    let info = s.get_bucket(&b).await.unwrap().unwrap();
    assert!(info.public_read);
    assert_eq!(info.cors, Some(cors));
    assert_eq!(info.owner, "alice");
    let cleared = s
        .update_bucket(
            &b,
            BucketUpdate {
                delete_cors: true,
                ..BucketUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.cors, None);
    assert!(cleared.public_read);
    assert_eq!(
        s.update_bucket(&bucket("nowhere"), BucketUpdate::default())
            .await,
        Err(StoreError::NoSuchBucket)
    );
}

pub(crate) async fn users_and_keys(s: &dyn MetaStore) {
    let alice: UserName = "alice".parse().unwrap();
    let bob: UserName = "bob".parse().unwrap();
    for name in [&bob, &alice] {
        s.create_user(UserInfo {
            name: name.clone(),
            created_unix_ms: 1,
            configured: false,
        })
        .await
        .unwrap();
    }
    assert_eq!(
        s.create_user(UserInfo {
            name: alice.clone(),
            created_unix_ms: 2,
            configured: false,
        })
        .await,
        Err(StoreError::UserAlreadyExists)
    );
    let users: Vec<_> = s
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(users, vec![alice.clone(), bob.clone()]);

    let k1 = AccessKey::generate(alice.clone(), 3);
    let k2 = AccessKey::generate(alice.clone(), 4);
    let k3 = AccessKey::generate(bob.clone(), 5);
    for k in [&k1, &k2, &k3] {
        s.create_access_key(k.clone()).await.unwrap();
    }
    assert_eq!(
        s.create_access_key(k1.clone()).await,
        Err(StoreError::AccessKeyExists)
    );
    assert_eq!(
        s.create_access_key(AccessKey::generate("carol".parse().unwrap(), 6))
            .await,
        Err(StoreError::NoSuchUser)
    );
    assert_eq!(
        s.get_access_key(&k1.access_key).await.unwrap(),
        Some(k1.clone())
    );
    assert_eq!(s.list_access_keys().await.unwrap().len(), 3);

    // Revoking one key leaves the user's others.
    s.delete_access_key(&k1.access_key).await.unwrap();
    assert_eq!(s.get_access_key(&k1.access_key).await.unwrap(), None);
    assert_eq!(
        s.delete_access_key(&k1.access_key).await,
        Err(StoreError::NoSuchAccessKey)
    );
    assert!(s.get_access_key(&k2.access_key).await.unwrap().is_some());

    // A name that owns buckets without being a user (the user of a key in
    // the edges' configuration) cannot become one: it would sign for them.
    s.create_bucket(bucket_info("configured", "from-config"))
        .await
        .unwrap();
    assert_eq!(
        s.create_user(UserInfo {
            name: "from-config".parse().unwrap(),
            created_unix_ms: 7,
            configured: false,
        })
        .await,
        Err(StoreError::UserAlreadyExists)
    );
    // Its edge claims the name as a configured user, buckets and all; the
    // claim then keeps an admin-made user of that name out for good.
    let configured = UserInfo {
        name: "from-config".parse().unwrap(),
        created_unix_ms: 8,
        configured: true,
    };
    s.create_user(configured.clone()).await.unwrap();
    assert_eq!(
        s.create_user(configured.clone()).await,
        Err(StoreError::UserAlreadyExists)
    );
    assert_eq!(
        s.create_user(UserInfo {
            configured: false,
            ..configured.clone()
        })
        .await,
        Err(StoreError::UserAlreadyExists)
    );
    assert!(s.list_users().await.unwrap().contains(&configured));
    // It owns its bucket like any user: not deleted while that stays.
    assert_eq!(
        s.delete_user(&configured.name).await,
        Err(StoreError::UserOwnsBuckets)
    );

    // A user who owns a bucket stays; without it, the user goes with all
    // its keys, and the other user's keys stay.
    s.create_bucket(bucket_info("alices", "alice"))
        .await
        .unwrap();
    assert_eq!(
        s.delete_user(&alice).await,
        Err(StoreError::UserOwnsBuckets)
    );
    s.delete_bucket(&bucket("alices")).await.unwrap();
    s.delete_user(&alice).await.unwrap();
    assert_eq!(s.delete_user(&alice).await, Err(StoreError::NoSuchUser));
    assert_eq!(s.get_access_key(&k2.access_key).await.unwrap(), None);
    assert_eq!(s.get_access_key(&k3.access_key).await.unwrap(), Some(k3));
}

pub(crate) async fn shard_files_are_counted_and_freed(s: &dyn MetaStore) {
    use crate::model::now_unix_ms;
    let b = bucket("refs");
    let node: NodeId = "node-1".parse().unwrap();
    s.create_bucket(bucket_info("refs", "o")).await.unwrap();
    // Every `striped` names its own file and the shared "parity" file.
    let a = meta("refs", "a", 3);
    s.commit_object(a.clone(), striped("a")).await.unwrap();
    s.commit_object(meta("refs", "b", 3), striped("b"))
        .await
        .unwrap();
    s.delete_object(&b, "a").await.unwrap();
    assert!(s.pending_deletions(&node, 10).await.unwrap().is_empty());

    // Collecting a's garbage frees its own file, not the one b still names.
    s.remove_garbage(&[a.version]).await.unwrap();
    let a_file = ShardHash::of(b"a");
    assert_eq!(s.pending_deletions(&node, 10).await.unwrap(), [a_file]);

    // A write naming a file being deleted is refused, as is one that began
    // before the node confirmed the deletion; one that began after stands.
    let began = now_unix_ms() - 1;
    let again = |since: i64| WriteCondition {
        shards_written_since_unix_ms: Some(since),
        ..WriteCondition::default()
    };
    assert_eq!(
        s.commit_object_if(meta("refs", "a2", 3), striped("a"), again(began))
            .await,
        Err(StoreError::ShardsCollected)
    );
    s.confirm_deletions(&node, &[a_file]).await.unwrap();
    assert!(s.pending_deletions(&node, 10).await.unwrap().is_empty());
    assert_eq!(
        s.commit_object_if(meta("refs", "a2", 3), striped("a"), again(began))
            .await,
        Err(StoreError::ShardsCollected)
    );
    s.commit_object_if(
        meta("refs", "a2", 3),
        striped("a"),
        again(now_unix_ms() + 1000),
    )
    .await
    .unwrap();

    // A refused upload's data is collected like any other garbage.
    let refused = VersionId::new();
    s.retire_data(refused, striped("c")).await.unwrap();
    assert_eq!(
        s.retire_data(refused, striped("c")).await,
        Err(StoreError::VersionInUse)
    );
    s.remove_garbage(&[refused]).await.unwrap();
    assert_eq!(
        s.pending_deletions(&node, 10).await.unwrap(),
        [ShardHash::of(b"c")]
    );
    // The shared file goes once nothing names it.
    let listed: Vec<_> = s.list_garbage(10).await.unwrap();
    assert!(listed.is_empty());
    for key in ["b", "a2"] {
        let old = s.delete_object(&b, key).await.unwrap().unwrap();
        s.remove_garbage(&[old.version]).await.unwrap();
    }
    let pending = s.pending_deletions(&node, 10).await.unwrap();
    assert!(pending.contains(&ShardHash::of(b"parity")), "{pending:?}");
    assert!(pending.contains(&a_file) && pending.contains(&ShardHash::of(b"b")));
    s.prune_deleted(now_unix_ms() + 10_000).await.unwrap();
}

/// Repair's moves: a shard's file changes node in the manifest, with its
/// references; a move that no longer applies changes nothing.
pub(crate) async fn shard_moves(s: &dyn MetaStore) {
    use crate::model::{MoveOutcome, ShardMove, ShardSlot, now_unix_ms};
    let n1: NodeId = "node-1".parse().unwrap();
    let n2: NodeId = "node-2".parse().unwrap();
    let n3: NodeId = "node-3".parse().unwrap();
    s.create_bucket(bucket_info("moves", "o")).await.unwrap();
    let m = meta("moves", "k", 3);
    s.commit_object(m.clone(), striped("k")).await.unwrap();
    let hash = ShardHash::of(b"k");
    let slot = ShardSlot {
        version: m.version,
        stripe: 0,
        index: 0,
    };
    let mv = |from: &NodeId, to: &NodeId, since: i64| ShardMove {
        slot,
        hash,
        from: from.clone(),
        to: to.clone(),
        written_since_unix_ms: since,
    };
    assert_eq!(s.node_files(&n1, None, 10).await.unwrap().len(), 2);

    let out = s
        .move_shards(vec![mv(&n1, &n2, now_unix_ms()), mv(&n3, &n2, 0)])
        .await
        .unwrap();
    assert_eq!(out, [MoveOutcome::Moved, MoveOutcome::Stale]);
    let (_, data) = s.get_object(&bucket("moves"), "k").await.unwrap().unwrap();
    let nodes: Vec<_> = data.shards().map(|r| r.node.clone()).collect();
    assert_eq!(nodes, [n2.clone(), n1.clone()]);
    // The old file has no name left: queued on its node. The new one is
    // what node-2 must hold.
    assert_eq!(s.pending_deletions(&n1, 10).await.unwrap(), [hash]);
    assert_eq!(s.node_files(&n2, None, 10).await.unwrap(), [hash]);
    let per_node = s.files_per_node().await.unwrap();
    assert_eq!(per_node, [(n1.clone(), 1), (n2.clone(), 1)]);

    // Moving onto a node that holds another shard of the stripe is stale,
    // and so is a move of a slot that changed.
    let out = s.move_shards(vec![mv(&n2, &n1, 0)]).await.unwrap();
    assert_eq!(out, [MoveOutcome::Stale]);
    // A copy on a node whose file of that name is being deleted cannot be
    // named.
    let back = s.move_shards(vec![mv(&n2, &n3, 0)]).await.unwrap();
    assert_eq!(back, [MoveOutcome::Moved]);
    s.confirm_deletions(&n1, &[hash]).await.unwrap();
    let began_before = now_unix_ms() - 60_000;
    assert_eq!(
        s.move_shards(vec![mv(&n3, &n2, began_before)])
            .await
            .unwrap(),
        [MoveOutcome::Collected]
    );

    // A stale move's copy is garbage unless something names it.
    s.delete_object(&bucket("moves"), "k").await.unwrap();
    let out = s.move_shards(vec![mv(&n3, &n1, 0)]).await.unwrap();
    assert_eq!(out, [MoveOutcome::Stale]);
}

/// Draining survives heartbeats; a node is forgotten only once nothing
/// names a file on it.
pub(crate) async fn draining_and_removing_nodes(s: &dyn MetaStore) {
    let n1: NodeId = "node-1".parse().unwrap();
    let hb = heartbeat("node-1", "h:1");
    assert_eq!(
        s.set_node_draining(&n1, true).await,
        Err(StoreError::NoSuchNode)
    );
    s.put_node(hb.clone(), 1).await.unwrap();
    s.set_node_draining(&n1, true).await.unwrap();
    s.put_node(hb, 2).await.unwrap();
    assert!(s.list_nodes().await.unwrap()[0].draining);

    s.create_bucket(bucket_info("removal", "o")).await.unwrap();
    let m = meta("removal", "k", 3);
    s.commit_object(m.clone(), striped("k")).await.unwrap();
    assert_eq!(
        s.remove_node(&n1).await,
        Err(StoreError::NodeHoldsShards { files: 2 })
    );
    s.delete_object(&bucket("removal"), "k").await.unwrap();
    s.remove_garbage(&[m.version]).await.unwrap();
    assert_eq!(s.pending_deletions(&n1, 10).await.unwrap().len(), 2);
    s.remove_node(&n1).await.unwrap();
    assert!(s.list_nodes().await.unwrap().is_empty());
    assert!(s.pending_deletions(&n1, 10).await.unwrap().is_empty());
    assert_eq!(s.remove_node(&n1).await, Err(StoreError::NoSuchNode));
}

/// The walk over data rows: every row once, in pages.
pub(crate) async fn data_walk(s: &dyn MetaStore) {
    s.create_bucket(bucket_info("walk", "o")).await.unwrap();
    let mut versions = Vec::new();
    for i in 0..5 {
        let m = meta("walk", &format!("k{i}"), 3);
        versions.push(m.version);
        s.commit_object(m, striped(&format!("d{i}"))).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s.scan_data(after, 2).await.unwrap();
        after = page.last().map(|(v, _)| *v);
        seen.extend(page.iter().map(|(v, _)| *v));
        if page.len() < 2 {
            break;
        }
    }
    versions.sort();
    assert_eq!(seen, versions);
}

mod redb {
    use super::*;
    use crate::store::RedbStore;

    fn open(dir: &tempfile::TempDir) -> RedbStore {
        RedbStore::open(dir.path()).unwrap()
    }

    #[tokio::test]
    async fn bucket_lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        super::bucket_lifecycle(&open(&dir)).await;
    }

    #[tokio::test]
    async fn commit_replace_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        super::commit_replace_and_garbage(&open(&dir)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn conditional_commits() {
        let dir = tempfile::tempdir().unwrap();
        super::conditional_commits(Arc::new(open(&dir))).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_commits_are_atomic() {
        let dir = tempfile::tempdir().unwrap();
        super::concurrent_commits_are_atomic(Arc::new(open(&dir))).await;
    }

    #[tokio::test]
    async fn scans_are_ordered_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        super::scans_are_ordered_and_bounded(&open(&dir)).await;
    }

    #[tokio::test]
    async fn rolled_up_scans_skip_folders() {
        let dir = tempfile::tempdir().unwrap();
        super::rolled_up_scans_skip_folders(&open(&dir)).await;
    }

    #[tokio::test]
    async fn bucket_settings() {
        let dir = tempfile::tempdir().unwrap();
        super::bucket_settings(&open(&dir)).await;
    }

    #[tokio::test]
    async fn users_and_keys() {
        let dir = tempfile::tempdir().unwrap();
        super::users_and_keys(&open(&dir)).await;
    }

    #[tokio::test]
    async fn shard_files_are_counted_and_freed() {
        let dir = tempfile::tempdir().unwrap();
        super::shard_files_are_counted_and_freed(&open(&dir)).await;
    }

    /// A file written before references were counted gets its counts on
    /// open, so collecting one version never frees a file another names.
    #[tokio::test]
    async fn reopening_counts_existing_references() {
        let dir = tempfile::tempdir().unwrap();
        let node: NodeId = "node-1".parse().unwrap();
        let first = meta("old", "first", 3);
        {
            let s = open(&dir);
            s.create_bucket(bucket_info("old", "o")).await.unwrap();
            s.commit_object(first.clone(), striped("x")).await.unwrap();
            s.commit_object(meta("old", "second", 3), striped("y"))
                .await
                .unwrap();
        }
        // Forget the counts, as a file from before counting would have none.
        {
            let db =
                ::redb::Database::open(dir.path().join(super::super::redb_store::DB_FILE_NAME))
                    .unwrap();
            let txn = db.begin_write().unwrap();
            txn.delete_table(super::super::redb_store::SHARD_REFS)
                .unwrap();
            txn.delete_table(::redb::TableDefinition::<&str, i64>::new("upgrades"))
                .unwrap();
            txn.commit().unwrap();
        }
        let s = open(&dir);
        s.delete_object(&bucket("old"), "first").await.unwrap();
        s.remove_garbage(&[first.version]).await.unwrap();
        // "x" is free; "parity" is still named by "second".
        assert_eq!(
            s.pending_deletions(&node, 10).await.unwrap(),
            [ShardHash::of(b"x")]
        );
    }

    #[tokio::test]
    async fn shard_moves() {
        let dir = tempfile::tempdir().unwrap();
        super::shard_moves(&open(&dir)).await;
    }

    #[tokio::test]
    async fn draining_and_removing_nodes() {
        let dir = tempfile::tempdir().unwrap();
        super::draining_and_removing_nodes(&open(&dir)).await;
    }

    #[tokio::test]
    async fn data_walk() {
        let dir = tempfile::tempdir().unwrap();
        super::data_walk(&open(&dir)).await;
    }

    #[tokio::test]
    async fn nodes_persist() {
        let dir = tempfile::tempdir().unwrap();
        super::nodes_persist(&open(&dir)).await;
    }

    /// Everything acknowledged is there after the store is dropped and the
    /// file reopened (the writer drains and releases the file on drop).
    #[tokio::test]
    async fn reopen_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let v1 = meta("keep", "k", 3);
        {
            let s = open(&dir);
            s.create_bucket(bucket_info("keep", "o")).await.unwrap();
            s.commit_object(v1.clone(), striped("a")).await.unwrap();
            s.commit_object(meta("keep", "k", 3), striped("b"))
                .await
                .unwrap();
            // A second handle on the same file is refused while it is open.
            assert!(RedbStore::open(dir.path()).is_err());
        }
        let s = open(&dir);
        assert_eq!(
            s.get_bucket(&bucket("keep")).await.unwrap().unwrap().owner,
            "o"
        );
        let (_, d) = s.get_object(&bucket("keep"), "k").await.unwrap().unwrap();
        assert_eq!(d, striped("b"));
        assert_eq!(s.list_garbage(10).await.unwrap()[0].version, v1.version);
    }

    /// A commit refused for a missing bucket leaves no data record behind
    /// (the data table is written in the same transaction, or not at all).
    #[tokio::test]
    async fn refused_commit_leaves_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let m = meta("ghost", "k", 3);
        let version = m.version;
        {
            let s = open(&dir);
            assert_eq!(
                s.commit_object(m, striped("x")).await,
                Err(StoreError::NoSuchBucket)
            );
        }
        let db = ::redb::Database::open(dir.path().join(super::super::redb_store::DB_FILE_NAME))
            .unwrap();
        let txn = db.begin_read().unwrap();
        let data = txn.open_table(super::super::redb_store::DATA).unwrap();
        use ::redb::ReadableTableMetadata;
        assert_eq!(data.len().unwrap(), 0);
        assert!(
            ::redb::ReadableTable::get(&data, version.0.as_u128())
                .unwrap()
                .is_none()
        );
    }
}

/// The same suite on PostgreSQL, each test in a fresh database of a
/// throwaway server (skipped with a message when PostgreSQL is not
/// installed, unless `TESSERA_REQUIRE_POSTGRES=1`).
pub(crate) mod postgres {
    use super::*;
    use crate::store::{PgOptions, PgStore};
    use crate::testing::postgres::TestDatabase;

    /// A store on a fresh database, with the database (dropped after the
    /// store). `None`: skip.
    pub(crate) async fn open() -> Option<(PgStore, TestDatabase)> {
        let db = TestDatabase::create().await.expect("test database")?;
        let store = connect(&db).await;
        Some((store, db))
    }

    /// Another replica's connection to the same database.
    pub(crate) async fn connect(db: &TestDatabase) -> PgStore {
        PgStore::connect(&PgOptions {
            url: db.url().to_owned(),
            pool_size: 8,
        })
        .await
        .expect("connecting to the test database")
    }

    /// One test per suite function: `by_ref` ones take `&dyn MetaStore`,
    /// `shared` ones an `Arc`.
    macro_rules! pg_tests {
        (by_ref: $($name:ident),*; shared: $($shared:ident),*) => {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some((s, _db)) = open().await else { return };
                    super::$name(&s).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $shared() {
                    let Some((s, _db)) = open().await else { return };
                    super::$shared(Arc::new(s)).await;
                }
            )*
        };
    }
    pub(crate) use pg_tests;

    pg_tests!(
        by_ref: bucket_lifecycle, commit_replace_and_garbage, scans_are_ordered_and_bounded,
            rolled_up_scans_skip_folders,
            bucket_settings, users_and_keys, shard_files_are_counted_and_freed, shard_moves,
            draining_and_removing_nodes, data_walk, nodes_persist;
        shared: conditional_commits, concurrent_commits_are_atomic
    );

    /// Replicas race on one database: `If-None-Match: *` still lets exactly
    /// one writer create the key, and concurrent overwrites from different
    /// connections pools never retire one version twice.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn conditional_writes_across_replicas() {
        let Some((first, db)) = open().await else {
            return;
        };
        let replicas: Vec<Arc<dyn MetaStore>> = vec![
            Arc::new(first),
            Arc::new(connect(&db).await),
            Arc::new(connect(&db).await),
        ];
        replicas[0]
            .create_bucket(bucket_info("race", "o"))
            .await
            .unwrap();
        let create_only = WriteCondition {
            if_none_match_any: true,
            ..WriteCondition::default()
        };
        for round in 0..5 {
            let key = format!("once-{round}");
            let racers: Vec<_> = (0..12)
                .map(|i| {
                    let s = Arc::clone(&replicas[i % replicas.len()]);
                    let (c, key) = (create_only.clone(), key.clone());
                    tokio::spawn(async move {
                        s.commit_object_if(meta("race", &key, 1), striped(&key), c)
                            .await
                    })
                })
                .collect();
            let mut won = 0;
            for r in racers {
                match r.await.unwrap() {
                    Ok(_) => won += 1,
                    Err(e) => assert_eq!(e, StoreError::PreconditionFailed),
                }
            }
            assert_eq!(won, 1, "exactly one create-only writer wins");
        }
        let writers: Vec<_> = (0..60)
            .map(|i| {
                let s = Arc::clone(&replicas[i % replicas.len()]);
                tokio::spawn(async move {
                    s.commit_object(meta("race", "hot", 3), striped(&format!("w{i}")))
                        .await
                })
            })
            .collect();
        let mut replaced = HashSet::new();
        for w in writers {
            if let Some(old) = w.await.unwrap().unwrap() {
                assert!(replaced.insert(old.version), "a version was replaced twice");
            }
        }
        // 60 commits of one key: 59 replaced versions, each garbage once.
        assert_eq!(replaced.len(), 59);
        let garbage = replicas[1].list_garbage(1000).await.unwrap();
        let in_garbage: HashSet<_> = garbage.iter().map(|g| g.version).collect();
        assert!(replaced.is_subset(&in_garbage));
    }

    /// The schema is migrated once; connecting again (a restart, another
    /// replica) finds it current and keeps every record.
    #[tokio::test]
    async fn reconnect_keeps_everything() {
        let Some((s, db)) = open().await else { return };
        s.create_bucket(bucket_info("keep", "o")).await.unwrap();
        let v1 = meta("keep", "k", 3);
        s.commit_object(v1.clone(), striped("a")).await.unwrap();
        s.commit_object(meta("keep", "k", 3), striped("b"))
            .await
            .unwrap();
        drop(s);
        let s = connect(&db).await;
        let (_, d) = s.get_object(&bucket("keep"), "k").await.unwrap().unwrap();
        assert_eq!(d, striped("b"));
        assert_eq!(s.list_garbage(10).await.unwrap()[0].version, v1.version);
    }

    /// A lease has one holder until it expires or is released.
    #[tokio::test]
    async fn leases_have_one_holder() {
        use std::time::Duration;

        use crate::store::LeaseHolder;
        let Some((a, db)) = open().await else { return };
        let b = connect(&db).await;
        let (ha, hb) = (
            LeaseHolder {
                id: "a".into(),
                addr: "127.0.0.1:1".into(),
            },
            LeaseHolder {
                id: "b".into(),
                addr: "127.0.0.1:2".into(),
            },
        );
        let ttl = Duration::from_millis(600);
        assert_eq!(
            a.acquire_lease("work", &ha, ttl).await.unwrap(),
            Some(ha.clone())
        );
        assert_eq!(
            b.acquire_lease("work", &hb, ttl).await.unwrap(),
            Some(ha.clone())
        );
        // Renewal keeps it; expiry frees it for the other.
        assert_eq!(
            a.acquire_lease("work", &ha, ttl).await.unwrap(),
            Some(ha.clone())
        );
        tokio::time::sleep(ttl + Duration::from_millis(200)).await;
        assert_eq!(
            b.acquire_lease("work", &hb, ttl).await.unwrap(),
            Some(hb.clone())
        );
        assert_eq!(
            a.acquire_lease("work", &ha, ttl).await.unwrap(),
            Some(hb.clone())
        );
        // Releasing another's lease does nothing; releasing one's own frees it.
        a.release_lease("work", &ha).await.unwrap();
        assert_eq!(
            a.acquire_lease("work", &ha, ttl).await.unwrap(),
            Some(hb.clone())
        );
        b.release_lease("work", &hb).await.unwrap();
        assert_eq!(a.acquire_lease("work", &ha, ttl).await.unwrap(), Some(ha));
    }
}
