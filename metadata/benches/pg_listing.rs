//! Listing from PostgreSQL at 10,000,000 keys: is a page still one short
//! index range scan when the table is far bigger than the server's cache?
//!
//! Run: `cargo bench -p metadata --features testing --bench pg_listing`
//! (`TESSERA_BENCH_KEYS` for another size). The bench starts a throwaway
//! PostgreSQL 15 server with its default memory settings (128 MB of shared
//! buffers), creates the schema through `PgStore::connect`, and fills the
//! `objects` table inside the server with `generate_series`: keys
//! `videos/<n>/seg-<m>.ts`, 100 segments a folder, each row carrying the
//! JSON metadata the store itself writes. Only `objects` is filled, because
//! listing reads nothing else. It then prints the plan of a page query
//! (`EXPLAIN (ANALYZE, BUFFERS)`) and times, through the store:
//!
//! - a page of 1000 keys from a random `start_after` (cold and warm pages
//!   alike: the random start lands anywhere in the 10M);
//! - a page of 1000 folders (`delimiter=/` under `videos/`), each a seek
//!   past the folder's 100 keys;
//! - a page of 100 keys under a random folder's prefix, without and with
//!   `delimiter=/` (what `aws s3 ls s3://bucket/videos/7/` sends).
//!
//! Results, 2026-12-06 at 10M keys (release build, 2 cores): 2.35 ms,
//! 9.2 ms, 0.56 ms and 0.73 ms. Before the delimiter scan became one
//! recursive query (one query per folder), same session: 2.32 ms,
//! 131.6 ms, 0.56 ms and 0.81 ms.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use metadata::ids::{BucketName, VersionId};
use metadata::listing::list_objects;
use metadata::model::{BucketInfo, ListQuery, ObjectMeta};
use metadata::store::{MetaStore, PgOptions, PgStore};
use metadata::testing::postgres::{Durability, TestDatabase};

/// Keys per folder, as in `key`.
const PER_FOLDER: usize = 100;
/// Rows inserted per statement while filling, so progress shows.
const FILL_STEP: usize = 1_000_000;
/// Stand-ins in the metadata template, replaced in SQL per row.
const KEY_MARK: &str = "KEY-PLACEHOLDER";

fn keys() -> usize {
    std::env::var("TESSERA_BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000)
}

fn key(i: usize) -> String {
    format!("videos/{}/seg-{}.ts", i / PER_FOLDER, i % PER_FOLDER)
}

/// The metadata JSON of one object as the store encodes it, with marks
/// where the key and the version go.
fn template(bucket: &BucketName, version: VersionId) -> String {
    let meta = ObjectMeta {
        bucket: bucket.clone(),
        key: KEY_MARK.into(),
        version,
        size: 4 << 20,
        etag: "d41d8cd98f00b204e9800998ecf8427e".into(),
        last_modified_unix_ms: 1_795_000_000_000,
        headers: Default::default(),
        user_metadata: Default::default(),
        checksums: Default::default(),
        part_sizes: Vec::new(),
        upload_id: None,
    };
    serde_json::to_string(&meta).expect("encode metadata")
}

async fn sql(url: &str, statement: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    let driver = tokio::spawn(conn);
    client.execute(statement, params).await.expect(statement);
    drop(client);
    let _ = driver.await;
}

/// Fills `objects` with `n` keys of `bucket`, in the server.
async fn fill(url: &str, bucket: &BucketName, n: usize) {
    let probe = VersionId::new();
    let template = template(bucket, probe).replace(&probe.to_string(), "VERSION-PLACEHOLDER");
    let fill = format!(
        "INSERT INTO objects (okey, version, meta) \
         SELECT convert_to($1, 'UTF8') || '\\x00'::bytea || convert_to(k, 'UTF8'), v, \
                convert_to(replace(replace($2, '{KEY_MARK}', k), 'VERSION-PLACEHOLDER', \
                                   replace(v::text, '-', '')), 'UTF8') \
         FROM (SELECT format('videos/%s/seg-%s.ts', i / {PER_FOLDER}, i % {PER_FOLDER}) AS k, \
                      gen_random_uuid() AS v \
               FROM generate_series($3::bigint, $4::bigint) AS i) AS rows"
    );
    for start in (0..n).step_by(FILL_STEP) {
        let end = n.min(start + FILL_STEP) - 1;
        let started = Instant::now();
        sql(
            url,
            &fill,
            &[&bucket.as_str(), &template, &(start as i64), &(end as i64)],
        )
        .await;
        eprintln!("  rows {start}..={end} in {:?}", started.elapsed());
    }
    sql(url, "VACUUM ANALYZE objects", &[]).await;
}

/// The plan of one page query, as the store sends it.
async fn explain(url: &str, bucket: &BucketName, after: &str) {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    let driver = tokio::spawn(conn);
    let head = |k: &str| [bucket.as_str().as_bytes(), &[0], k.as_bytes()].concat();
    let lower = head(after);
    let mut upper = head("");
    if let Some(last) = upper.last_mut() {
        *last += 1;
    }
    let rows = client
        .query(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT okey, meta FROM objects \
             WHERE okey > $1 AND okey < $2 ORDER BY okey LIMIT $3",
            &[&lower, &upper, &1000i64],
        )
        .await
        .expect("explain");
    for row in rows {
        eprintln!("  {}", row.get::<_, String>(0));
    }
    let size = client
        .query_one(
            "SELECT pg_size_pretty(pg_relation_size('objects')), \
                    pg_size_pretty(pg_relation_size('objects_pkey'))",
            &[],
        )
        .await
        .expect("sizes");
    eprintln!(
        "  objects table {}, primary key index {}",
        size.get::<_, String>(0),
        size.get::<_, String>(1)
    );
    drop(client);
    let _ = driver.await;
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let n = keys();
    let folders = n.div_ceil(PER_FOLDER);
    let bucket: BucketName = "bench".parse().expect("bucket");
    let Some(db) = rt
        .block_on(TestDatabase::create_with(Durability::Throwaway))
        .expect("postgres")
    else {
        eprintln!("PostgreSQL is not installed: nothing to measure");
        return;
    };
    let options = PgOptions {
        url: db.url().to_owned(),
        pool_size: 4,
    };
    let store = rt.block_on(PgStore::connect(&options)).expect("connect");
    rt.block_on(store.create_bucket(BucketInfo::new(bucket.clone(), "bench".into(), 0)))
        .expect("create bucket");
    let started = Instant::now();
    eprintln!("filling {n} keys");
    rt.block_on(fill(db.url(), &bucket, n));
    eprintln!("filled {n} keys in {:?}", started.elapsed());
    rt.block_on(explain(db.url(), &bucket, &key(n / 2)));

    let mut group = c.benchmark_group(format!("postgres listing at {n} keys"));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(20));
    let query = |prefix: String, delimiter: Option<&str>, start_after, max_keys| ListQuery {
        bucket: bucket.clone(),
        prefix,
        delimiter: delimiter.map(str::to_owned),
        start_after,
        max_keys,
    };
    // Nothing lists after the greatest key; every other start has a page.
    let last = (0..n).map(key).max();
    group.bench_function("page of 1000 keys from a random start", |b| {
        b.to_async(&rt).iter(|| {
            let q = query(
                String::new(),
                None,
                Some(key(rand::random_range(0..n))),
                1000,
            );
            let (store, last) = (&store, &last);
            async move {
                let page = list_objects(store, &q).await.expect("list");
                assert!(!page.objects.is_empty() || q.start_after == *last);
            }
        });
    });
    group.bench_function("page of 1000 folders (delimiter /)", |b| {
        b.to_async(&rt).iter(|| {
            let from = rand::random_range(0..folders);
            let q = query(
                "videos/".into(),
                Some("/"),
                Some(format!("videos/{from}")),
                1000,
            );
            let store = &store;
            async move {
                let page = list_objects(store, &q).await.expect("list");
                assert!(!page.common_prefixes.is_empty() || from + 1000 >= folders);
            }
        });
    });
    group.bench_function("one folder of 100 keys by prefix", |b| {
        b.to_async(&rt).iter(|| {
            let folder = rand::random_range(0..folders);
            let q = query(format!("videos/{folder}/"), None, None, 1000);
            let store = &store;
            async move {
                let page = list_objects(store, &q).await.expect("list");
                assert!(!page.objects.is_empty());
            }
        });
    });
    group.bench_function("one folder of 100 keys, delimiter /", |b| {
        b.to_async(&rt).iter(|| {
            let folder = rand::random_range(0..folders);
            let q = query(format!("videos/{folder}/"), Some("/"), None, 1000);
            let store = &store;
            async move {
                let page = list_objects(store, &q).await.expect("list");
                assert!(!page.objects.is_empty() && page.common_prefixes.is_empty());
            }
        });
    });
    group.finish();
    drop(store);
    drop(db);
}

criterion_group!(benches, bench);
criterion_main!(benches);
