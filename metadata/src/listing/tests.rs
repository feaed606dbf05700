//! The listing against a reference model (every entry computed naively, then
//! filtered), over the real redb store.

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use proptest::prelude::*;

use super::list_objects;
use crate::ids::{BucketId, BucketName, UploadId, VersionId};
use crate::model::{
    BucketInfo, CompleteRequest, ListPage, ListQuery, MultipartUpload, NodeHeartbeat, ObjectData,
    ObjectMeta, PartRecord, PartsPage, UploadsPage, UploadsQuery,
};
use crate::store::conformance::{bucket, bucket_info, meta};
use crate::store::{GarbageEntry, MetaStore, NodeRecord, RedbOptions, RedbStore, StoreError};

/// A store that counts how many objects its scans returned, to prove that
/// the listing seeks over common prefixes instead of walking them. It keeps
/// the trait's default `scan_rolled_up`, so it also tests that generic path
/// (RedbStore overrides it).
struct Counting {
    inner: Arc<RedbStore>,
    scanned: AtomicUsize,
    scans: AtomicUsize,
}

#[async_trait]
impl MetaStore for Counting {
    async fn create_bucket(&self, info: BucketInfo) -> Result<(), StoreError> {
        self.inner.create_bucket(info).await
    }
    async fn get_bucket(&self, name: &BucketName) -> Result<Option<BucketInfo>, StoreError> {
        self.inner.get_bucket(name).await
    }
    async fn list_buckets(&self) -> Result<Vec<BucketInfo>, StoreError> {
        self.inner.list_buckets().await
    }
    async fn delete_bucket(&self, name: &BucketName) -> Result<(), StoreError> {
        self.inner.delete_bucket(name).await
    }
    async fn update_bucket(
        &self,
        name: &BucketName,
        update: crate::model::BucketUpdate,
    ) -> Result<BucketInfo, StoreError> {
        self.inner.update_bucket(name, update).await
    }
    async fn create_user(&self, user: crate::model::UserInfo) -> Result<(), StoreError> {
        self.inner.create_user(user).await
    }
    async fn list_users(&self) -> Result<Vec<crate::model::UserInfo>, StoreError> {
        self.inner.list_users().await
    }
    async fn delete_user(&self, name: &crate::ids::UserName) -> Result<(), StoreError> {
        self.inner.delete_user(name).await
    }
    async fn create_access_key(&self, key: crate::model::AccessKey) -> Result<(), StoreError> {
        self.inner.create_access_key(key).await
    }
    async fn get_access_key(
        &self,
        id: &crate::ids::AccessKeyId,
    ) -> Result<Option<crate::model::AccessKey>, StoreError> {
        self.inner.get_access_key(id).await
    }
    async fn list_access_keys(&self) -> Result<Vec<crate::model::AccessKey>, StoreError> {
        self.inner.list_access_keys().await
    }
    async fn delete_access_key(&self, id: &crate::ids::AccessKeyId) -> Result<(), StoreError> {
        self.inner.delete_access_key(id).await
    }
    async fn commit_object_if(
        &self,
        meta: ObjectMeta,
        data: ObjectData,
        condition: crate::model::WriteCondition,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        self.inner.commit_object_if(meta, data, condition).await
    }
    async fn get_object(
        &self,
        bucket: &BucketName,
        key: &str,
    ) -> Result<Option<(ObjectMeta, ObjectData)>, StoreError> {
        self.inner.get_object(bucket, key).await
    }
    async fn head_object(
        &self,
        bucket: &BucketName,
        key: &str,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        self.inner.head_object(bucket, key).await
    }
    async fn delete_object(
        &self,
        bucket: &BucketName,
        key: &str,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        self.inner.delete_object(bucket, key).await
    }
    async fn scan_objects(
        &self,
        bucket: &BucketName,
        prefix: &str,
        from: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ObjectMeta>, StoreError> {
        let out = self.inner.scan_objects(bucket, prefix, from, limit).await?;
        self.scans.fetch_add(1, Ordering::Relaxed);
        self.scanned.fetch_add(out.len(), Ordering::Relaxed);
        Ok(out)
    }
    async fn put_node(&self, hb: NodeHeartbeat, ms: i64) -> Result<(), StoreError> {
        self.inner.put_node(hb, ms).await
    }
    async fn list_nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        self.inner.list_nodes().await
    }
    async fn list_garbage(&self, limit: usize) -> Result<Vec<GarbageEntry>, StoreError> {
        self.inner.list_garbage(limit).await
    }
    async fn remove_garbage(&self, versions: &[VersionId]) -> Result<(), StoreError> {
        self.inner.remove_garbage(versions).await
    }
    async fn retire_data(&self, version: VersionId, data: ObjectData) -> Result<(), StoreError> {
        self.inner.retire_data(version, data).await
    }
    async fn pending_deletions(
        &self,
        node: &crate::ids::NodeId,
        limit: usize,
    ) -> Result<Vec<crate::ids::ShardHash>, StoreError> {
        self.inner.pending_deletions(node, limit).await
    }
    async fn confirm_deletions(
        &self,
        node: &crate::ids::NodeId,
        hashes: &[crate::ids::ShardHash],
    ) -> Result<(), StoreError> {
        self.inner.confirm_deletions(node, hashes).await
    }
    async fn set_node_draining(
        &self,
        id: &crate::ids::NodeId,
        draining: bool,
    ) -> Result<(), StoreError> {
        self.inner.set_node_draining(id, draining).await
    }
    async fn remove_node(&self, id: &crate::ids::NodeId) -> Result<(), StoreError> {
        self.inner.remove_node(id).await
    }
    async fn node_files(
        &self,
        node: &crate::ids::NodeId,
        after: Option<crate::ids::ShardHash>,
        limit: usize,
    ) -> Result<Vec<crate::ids::ShardHash>, StoreError> {
        self.inner.node_files(node, after, limit).await
    }
    async fn files_per_node(&self) -> Result<Vec<(crate::ids::NodeId, u64)>, StoreError> {
        self.inner.files_per_node().await
    }
    async fn scan_data(
        &self,
        after: Option<VersionId>,
        limit: usize,
    ) -> Result<Vec<(VersionId, ObjectData)>, StoreError> {
        self.inner.scan_data(after, limit).await
    }
    async fn move_shards(
        &self,
        moves: Vec<crate::model::ShardMove>,
    ) -> Result<Vec<crate::model::MoveOutcome>, StoreError> {
        self.inner.move_shards(moves).await
    }
    async fn gc_backlog(&self) -> Result<(u64, u64), StoreError> {
        self.inner.gc_backlog().await
    }
    async fn prune_deleted(&self, before_unix_ms: i64) -> Result<(), StoreError> {
        self.inner.prune_deleted(before_unix_ms).await
    }
    async fn create_upload(&self, upload: MultipartUpload) -> Result<(), StoreError> {
        self.inner.create_upload(upload).await
    }
    async fn get_upload(
        &self,
        bucket: &BucketName,
        key: &str,
        id: &UploadId,
    ) -> Result<Option<MultipartUpload>, StoreError> {
        self.inner.get_upload(bucket, key, id).await
    }
    async fn commit_part(
        &self,
        bucket: &BucketName,
        key: &str,
        id: &UploadId,
        part: PartRecord,
        data: ObjectData,
        bucket_id: Option<BucketId>,
    ) -> Result<Option<PartRecord>, StoreError> {
        self.inner
            .commit_part(bucket, key, id, part, data, bucket_id)
            .await
    }
    async fn list_parts(
        &self,
        bucket: &BucketName,
        key: &str,
        id: &UploadId,
        after: u32,
        limit: usize,
    ) -> Result<PartsPage, StoreError> {
        self.inner.list_parts(bucket, key, id, after, limit).await
    }
    async fn get_part(
        &self,
        bucket: &BucketName,
        key: &str,
        id: &UploadId,
        number: u32,
    ) -> Result<Option<(PartRecord, ObjectData)>, StoreError> {
        self.inner.get_part(bucket, key, id, number).await
    }
    async fn complete_upload(
        &self,
        req: CompleteRequest,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        self.inner.complete_upload(req).await
    }
    async fn abort_upload(
        &self,
        bucket: &BucketName,
        key: &str,
        id: &UploadId,
    ) -> Result<(), StoreError> {
        self.inner.abort_upload(bucket, key, id).await
    }
    async fn list_uploads(&self, q: &UploadsQuery) -> Result<UploadsPage, StoreError> {
        self.inner.list_uploads(q).await
    }
}

/// A store holding `keys` in bucket "list" (non-durable: test speed).
async fn store_with(dir: &tempfile::TempDir, keys: &[String]) -> Arc<RedbStore> {
    let options = RedbOptions {
        durable: false,
        cache_size_bytes: Some(16 << 20),
    };
    let store = Arc::new(RedbStore::open_with(dir.path(), options).unwrap());
    store.create_bucket(bucket_info("list", "o")).await.unwrap();
    let tasks: Vec<_> = keys
        .iter()
        .map(|k| {
            let (store, k) = (store.clone(), k.clone());
            tokio::spawn(async move {
                store
                    .commit_object(meta("list", &k, 0), ObjectData::Inline(Bytes::new()))
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    store
}

fn counting(inner: Arc<RedbStore>) -> Counting {
    Counting {
        inner,
        scanned: AtomicUsize::new(0),
        scans: AtomicUsize::new(0),
    }
}

fn query(
    prefix: &str,
    delimiter: Option<&str>,
    start_after: Option<&str>,
    max_keys: u32,
) -> ListQuery {
    ListQuery {
        bucket: bucket("list"),
        prefix: prefix.into(),
        delimiter: delimiter.map(Into::into),
        start_after: start_after.map(Into::into),
        max_keys,
    }
}

/// Keys and common prefixes of a page, merged in key order.
fn entries(page: &ListPage) -> Vec<String> {
    let mut all: Vec<String> = page.objects.iter().map(|m| m.key.clone()).collect();
    all.extend(page.common_prefixes.iter().cloned());
    all.sort();
    all
}

/// The reference: every entry of the whole bucket, rolled up and deduplicated,
/// then everything not strictly after `start_after` dropped (a common prefix
/// that `start_after` starts with sorts at or before it), then cut.
fn reference(keys: &[String], q: &ListQuery) -> (Vec<String>, bool) {
    let mut all: Vec<String> = keys
        .iter()
        .filter(|k| k.starts_with(&q.prefix))
        .map(|k| {
            let rest = &k[q.prefix.len()..];
            match q
                .delimiter
                .as_deref()
                .filter(|d| !d.is_empty())
                .and_then(|d| {
                    rest.find(d)
                        .map(|p| k[..q.prefix.len() + p + d.len()].to_owned())
                }) {
                Some(cp) => cp,
                None => k.clone(),
            }
        })
        .collect();
    all.sort();
    all.dedup();
    if let Some(sa) = &q.start_after {
        all.retain(|e| e.as_str() > sa.as_str());
    }
    // S3: max-keys 0 is an empty page that is not truncated.
    let truncated = q.max_keys > 0 && all.len() > q.max_keys as usize;
    all.truncate(q.max_keys as usize);
    (all, truncated)
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn arb_key() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "b", "/", "é", "-", "ab/"]),
        1..6,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn matches_the_reference_and_pages_exactly_once(
        keys in prop::collection::btree_set(arb_key(), 0..40),
        prefix in prop::sample::select(vec!["", "a", "a/", "é", "b/"]),
        delimiter in prop::sample::select(vec![None, Some("/"), Some("a"), Some("b/"), Some("")]),
        start_after in prop::option::of(arb_key()),
        max_keys in 0u32..8,
    ) {
        let keys: Vec<String> = keys.into_iter().collect();
        run(async {
            let dir = tempfile::tempdir().unwrap();
            let store = store_with(&dir, &keys).await;
            let q = query(prefix, delimiter, start_after.as_deref(), max_keys);
            let page = list_objects(store.as_ref(), &q).await.unwrap();
            let generic = counting(store.clone());
            prop_assert_eq!(&list_objects(&generic, &q).await.unwrap(), &page);
            let (want, truncated) = reference(&keys, &q);
            prop_assert_eq!(entries(&page), want.clone());
            prop_assert_eq!(page.is_truncated, truncated);
            prop_assert_eq!(page.next_start_after.clone(), if truncated { want.last().cloned() } else { None });
            // Objects are whole records, in key order.
            prop_assert!(page.objects.windows(2).all(|w| w[0].key < w[1].key));

            // Paging with next_start_after yields the full listing once.
            if max_keys > 0 {
                let full = reference(&keys, &query(prefix, delimiter, start_after.as_deref(), u32::MAX)).0;
                let mut seen = Vec::new();
                let mut q = q.clone();
                loop {
                    let page = list_objects(store.as_ref(), &q).await.unwrap();
                    prop_assert!(entries(&page).len() <= max_keys as usize);
                    seen.extend(entries(&page));
                    if !page.is_truncated {
                        break;
                    }
                    q.start_after = page.next_start_after.clone();
                }
                prop_assert_eq!(seen, full);
            }
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn a_delimiter_listing_skips_big_folders() {
    let dir = tempfile::tempdir().unwrap();
    let mut keys: Vec<String> = (0..5000).map(|i| format!("big/{i:05}")).collect();
    keys.extend((0..3000).map(|i| format!("c/{i}")));
    keys.extend(["a".to_owned(), "z".to_owned(), "big0".to_owned()]);
    let store = counting(store_with(&dir, &keys).await);
    let page = list_objects(&store, &query("", Some("/"), None, 1000))
        .await
        .unwrap();
    let keys: Vec<_> = page.objects.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(keys, ["a", "big0", "z"]);
    assert_eq!(page.common_prefixes, ["big/", "c/"]);
    assert!(!page.is_truncated);
    let scanned = store.scanned.load(Ordering::Relaxed);
    assert!(scanned < 100, "walked {scanned} keys");
    let scans = store.scans.load(Ordering::Relaxed);
    assert!(scans < 10, "{scans} scans");

    // Ending a page on a common prefix and resuming also skips it.
    let page = list_objects(&store, &query("", Some("/"), None, 2))
        .await
        .unwrap();
    assert_eq!(entries(&page), ["a", "big/"]);
    assert_eq!(page.next_start_after.as_deref(), Some("big/"));
    let next = list_objects(&store, &query("", Some("/"), Some("big/"), 2))
        .await
        .unwrap();
    assert_eq!(entries(&next), ["big0", "c/"]);
    assert!(next.is_truncated);
    assert!(store.scanned.load(Ordering::Relaxed) < 200);

    // The same through the redb override, which seeks inside one transaction.
    let page = list_objects(store.inner.as_ref(), &query("", Some("/"), None, 1000))
        .await
        .unwrap();
    assert_eq!(page.common_prefixes, ["big/", "c/"]);
    assert_eq!(page.objects.len(), 3);
}

#[tokio::test]
async fn empty_pages_and_missing_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(&dir, &["a".into(), "b".into()]).await;
    let page = list_objects(store.as_ref(), &query("", None, None, 0))
        .await
        .unwrap();
    assert!(page.objects.is_empty() && page.common_prefixes.is_empty());
    assert!(!page.is_truncated);
    assert_eq!(page.next_start_after, None);
    let mut q = query("", None, None, 10);
    q.bucket = bucket("missing");
    assert_eq!(
        list_objects(store.as_ref(), &q).await,
        Err(StoreError::NoSuchBucket)
    );
    q.max_keys = 0;
    assert_eq!(
        list_objects(store.as_ref(), &q).await,
        Err(StoreError::NoSuchBucket)
    );
}
