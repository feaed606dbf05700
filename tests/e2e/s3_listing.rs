//! ListObjectsV2: prefix, delimiter, paging and start-after.

use crate::harness::{TestCluster, put};

async fn list_all(
    t: &TestCluster,
    bucket: &str,
    prefix: Option<&str>,
    delimiter: Option<&str>,
    page: i32,
) -> (Vec<String>, Vec<String>, usize) {
    let mut keys = Vec::new();
    let mut prefixes = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let out =
            t.s3.list_objects_v2()
                .bucket(bucket)
                .set_prefix(prefix.map(str::to_owned))
                .set_delimiter(delimiter.map(str::to_owned))
                .max_keys(page)
                .set_continuation_token(token.clone())
                .send()
                .await
                .unwrap();
        pages += 1;
        assert!(out.key_count().unwrap_or(0) <= page);
        keys.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        prefixes.extend(
            out.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_owned)),
        );
        if out.is_truncated() == Some(true) {
            token = out.next_continuation_token().map(str::to_owned);
            assert!(token.is_some());
        } else {
            return (keys, prefixes, pages);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_with_prefix_delimiter_and_pages() {
    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("list").send().await.unwrap();
    let mut all = vec![
        "a.txt".to_owned(),
        "b/1".into(),
        "b/2".into(),
        "b/c/3".into(),
        "d/4".into(),
        "e".into(),
    ];
    for i in 0..25 {
        all.push(format!("videos/{i:03}.mp4"));
    }
    for k in &all {
        put(&t.s3, "list", k, k.as_bytes()).await;
    }
    all.sort();

    let (keys, prefixes, pages) = list_all(&t, "list", None, None, 7).await;
    assert_eq!(keys, all);
    assert!(prefixes.is_empty());
    assert_eq!(pages, all.len().div_ceil(7));

    let (keys, prefixes, _) = list_all(&t, "list", None, Some("/"), 2).await;
    assert_eq!(keys, vec!["a.txt", "e"]);
    assert_eq!(prefixes, vec!["b/", "d/", "videos/"]);

    let (keys, prefixes, _) = list_all(&t, "list", Some("b/"), Some("/"), 1000).await;
    assert_eq!(keys, vec!["b/1", "b/2"]);
    assert_eq!(prefixes, vec!["b/c/"]);

    let (keys, _, _) = list_all(&t, "list", Some("videos/01"), None, 1000).await;
    assert_eq!(keys.len(), 10);

    let out =
        t.s3.list_objects_v2()
            .bucket("list")
            .start_after("videos/020.mp4")
            .send()
            .await
            .unwrap();
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(
        keys,
        vec![
            "videos/021.mp4",
            "videos/022.mp4",
            "videos/023.mp4",
            "videos/024.mp4"
        ]
    );

    let out =
        t.s3.list_objects_v2()
            .bucket("list")
            .max_keys(0)
            .send()
            .await
            .unwrap();
    assert!(out.contents().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn list_v1_versions_and_delete_objects() {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};

    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("tools").send().await.unwrap();
    let keys: Vec<String> = (0..12).map(|i| format!("clip-{i:02}")).collect();
    for k in &keys {
        put(&t.s3, "tools", k, k.as_bytes()).await;
    }

    // ListObjects v1, paged with marker.
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out =
            t.s3.list_objects()
                .bucket("tools")
                .max_keys(5)
                .set_marker(marker.clone())
                .send()
                .await
                .unwrap();
        seen.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        if out.is_truncated() != Some(true) {
            break;
        }
        marker = out
            .next_marker()
            .map(str::to_owned)
            .or_else(|| seen.last().cloned());
    }
    assert_eq!(seen, keys);

    // ListObjectVersions on an unversioned bucket: one `null` version per key.
    let out =
        t.s3.list_object_versions()
            .bucket("tools")
            .send()
            .await
            .unwrap();
    assert_eq!(out.versions().len(), keys.len());
    assert!(
        out.versions()
            .iter()
            .all(|v| v.version_id() == Some("null") && v.is_latest() == Some(true))
    );

    // DeleteObjects: verbose, then quiet; absent keys count as deleted.
    let ids = |ks: &[String]| -> Vec<ObjectIdentifier> {
        ks.iter()
            .map(|k| ObjectIdentifier::builder().key(k).build().unwrap())
            .collect()
    };
    let out =
        t.s3.delete_objects()
            .bucket("tools")
            .delete(
                Delete::builder()
                    .set_objects(Some(ids(&keys[..4])))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    assert_eq!(out.deleted().len(), 4);
    assert!(out.errors().is_empty());
    let mut rest = keys[4..].to_vec();
    rest.push("never-existed".into());
    let out =
        t.s3.delete_objects()
            .bucket("tools")
            .delete(
                Delete::builder()
                    .set_objects(Some(ids(&rest)))
                    .quiet(true)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    assert!(out.deleted().is_empty());
    assert!(out.errors().is_empty());
    let left = t.s3.list_objects_v2().bucket("tools").send().await.unwrap();
    assert_eq!(left.key_count(), Some(0));

    // More than 1000 keys in one request is refused whole.
    let many: Vec<String> = (0..1001).map(|i| format!("k{i}")).collect();
    let err =
        t.s3.delete_objects()
            .bucket("tools")
            .delete(
                Delete::builder()
                    .set_objects(Some(ids(&many)))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("MalformedXML"));
    t.s3.delete_bucket().bucket("tools").send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn url_encoded_listings() {
    use aws_sdk_s3::types::EncodingType;

    let t = TestCluster::start().await;
    t.s3.create_bucket().bucket("odd").send().await.unwrap();
    let key = "dir one/a+b%c ü.mp4";
    put(&t.s3, "odd", key, b"x").await;

    let raw = t.s3.list_objects_v2().bucket("odd").send().await.unwrap();
    assert_eq!(raw.contents()[0].key(), Some(key));

    let encoded =
        t.s3.list_objects_v2()
            .bucket("odd")
            .encoding_type(EncodingType::Url)
            .delimiter("/")
            .send()
            .await
            .unwrap();
    assert_eq!(encoded.common_prefixes()[0].prefix(), Some("dir%20one/"));
    let inside =
        t.s3.list_objects()
            .bucket("odd")
            .prefix("dir one/")
            .encoding_type(EncodingType::Url)
            .send()
            .await
            .unwrap();
    assert_eq!(
        inside.contents()[0].key(),
        Some("dir%20one/a%2Bb%25c%20%C3%BC.mp4")
    );
}
