//! Load generator: PUT then GET objects of one size through any S3 endpoint
//! with aws-sdk-s3, from `concurrency` workers, and report throughput and
//! latency percentiles. Runs against this store and against peers alike
//! (`--endpoint`), so figures are compared side by side in one run.
//!
//! Every run writes fresh bytes (a random seed per run, and every PUT
//! stamped with its number): shards are content-addressed, so a body seen
//! before would be deduplicated on the storage nodes and found in an edge's
//! cache, and the run would measure neither.
//!
//! ```text
//! cargo run --release -p tests --bin loadgen -- \
//!     --endpoint http://127.0.0.1:9000 --size 1MiB --concurrency 16 --seconds 20
//! # every GET a first read (a cache miss on an edge):
//!     ... --first-reads
//! # random 1 MiB ranges of one 256 MiB object, each window read once:
//!     ... --size 1MiB --ranges-of 256MiB
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use clap::Parser;
use rand::Rng;
use rand::seq::SliceRandom;

#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    target: tests::Endpoint,
    /// Where the GETs go, when not to `--endpoint` (written through one
    /// edge, read through another).
    #[arg(long)]
    get_endpoint: Option<String>,
    #[arg(long, default_value = "loadgen")]
    bucket: String,
    /// Object size (or range length with `--ranges-of`), e.g. 4KiB, 1MiB.
    #[arg(long, default_value = "1MiB")]
    size: String,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Length of each phase.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Upper bound on operations per phase.
    #[arg(long, default_value_t = 100_000)]
    max_ops: u64,
    /// Label printed with the results (e.g. the system under test).
    #[arg(long, default_value = "tessera")]
    label: String,
    /// Read every written object once, in the order written: every GET is
    /// a first read. The phase ends when all were read or time is up.
    #[arg(long)]
    first_reads: bool,
    /// Write one object of this size, then GET `--size` ranges of it in
    /// random order, each window once (so each is a first read), shifted
    /// by a random offset so ranges do not line up with stripes.
    #[arg(long)]
    ranges_of: Option<String>,
}

/// `body` with the run's seed and the operation number stamped every
/// 64 KiB, so no two operations (and no two shards of at least 64 KiB, in
/// this run or another) share bytes.
fn stamped(body: &[u8], seed: u64, op: u64) -> Bytes {
    let mut stamp = [0u8; 16];
    stamp[..8].copy_from_slice(&seed.to_le_bytes());
    stamp[8..].copy_from_slice(&op.to_le_bytes());
    let mut out = body.to_vec();
    for chunk in out.chunks_mut(64 << 10) {
        let n = chunk.len().min(stamp.len());
        chunk[..n].copy_from_slice(&stamp[..n]);
    }
    Bytes::from(out)
}

fn parse_size(s: &str) -> anyhow::Result<usize> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: usize = n.parse().context("size")?;
    let mult = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        other => bail!("unknown size unit {other}"),
    };
    Ok(n * mult)
}

#[derive(Default)]
struct Phase {
    latencies: Vec<Duration>,
    bytes: u64,
    errors: u64,
    elapsed: Duration,
}

impl Phase {
    fn add(&mut self, worker: Phase) {
        self.latencies.extend(worker.latencies);
        self.bytes += worker.bytes;
        self.errors += worker.errors;
    }

    fn report(&self, label: &str, op: &str, size: usize, concurrency: usize) {
        let mut l = self.latencies.clone();
        l.sort();
        let pct = |p: f64| {
            if l.is_empty() {
                Duration::ZERO
            } else {
                l[((l.len() as f64 - 1.0) * p).round() as usize]
            }
        };
        let secs = self.elapsed.as_secs_f64();
        println!(
            "{label:<10} {op:<5} size={size:<9} conc={concurrency:<3} ops={:<6} errors={:<3} {:>8.1} MB/s {:>8.1} ops/s  p50={:>7.2} ms  p99={:>7.2} ms",
            l.len(),
            self.errors,
            self.bytes as f64 / secs / 1e6,
            l.len() as f64 / secs,
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
        );
    }
}

async fn create_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> anyhow::Result<()> {
    let Err(e) = s3.create_bucket().bucket(bucket).send().await else {
        return Ok(());
    };
    let code = e.as_service_error().and_then(|s| {
        use aws_sdk_s3::error::ProvideErrorMetadata;
        s.code().map(str::to_owned)
    });
    if matches!(
        code.as_deref(),
        Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")
    ) {
        return Ok(());
    }
    bail!("creating bucket {bucket}: {e:?}")
}

/// GETs `key` (a range of it when given) and returns the body's length.
async fn get(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    range: Option<String>,
) -> anyhow::Result<u64> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_range(range)
        .send()
        .await?;
    Ok(out.body.collect().await?.into_bytes().len() as u64)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let size = parse_size(&args.size)?;
    let s3 = args.target.client();
    let reader = match &args.get_endpoint {
        Some(url) => tests::Endpoint {
            endpoint: url.clone(),
            ..args.target.clone()
        }
        .client(),
        None => s3.clone(),
    };
    create_bucket(&s3, &args.bucket).await?;
    let seed: u64 = rand::rng().random();
    if let Some(total) = &args.ranges_of {
        return ranges(&args, &s3, &reader, size, parse_size(total)?, seed).await;
    }
    let body: Arc<[u8]> = tests::pattern(size, seed).into();
    let deadline = Duration::from_secs(args.seconds);

    // PUT phase: each worker writes its own keys; the GET phase reads them.
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let s3 = s3.clone();
        let body = Arc::clone(&body);
        let bucket = args.bucket.clone();
        let counter = Arc::clone(&counter);
        let max_ops = args.max_ops;
        workers.push(tokio::spawn(async move {
            let mut phase = Phase::default();
            let mut keys = Vec::new();
            loop {
                let op = counter.fetch_add(1, Ordering::Relaxed);
                if started.elapsed() >= deadline || op >= max_ops {
                    break;
                }
                let key = format!("{seed:016x}/{w}/{op}");
                let payload = stamped(&body, seed, op);
                let t0 = Instant::now();
                let r = s3
                    .put_object()
                    .bucket(&bucket)
                    .key(&key)
                    .body(ByteStream::from(payload))
                    .send()
                    .await;
                match r {
                    Ok(_) => {
                        phase.latencies.push(t0.elapsed());
                        phase.bytes += size as u64;
                        keys.push(key);
                    }
                    Err(_) => phase.errors += 1,
                }
            }
            (phase, keys)
        }));
    }
    let mut put = Phase::default();
    let mut all_keys = Vec::new();
    for w in workers {
        let (phase, keys) = w.await?;
        put.add(phase);
        all_keys.push(keys);
    }
    put.elapsed = started.elapsed();
    put.report(&args.label, "PUT", size, args.concurrency);

    // GET phase: with --first-reads every key once, in the order written
    // (interleaved across writers); else workers cycle through their own.
    let shared: Arc<[String]> = if args.first_reads {
        let longest = all_keys.iter().map(Vec::len).max().unwrap_or(0);
        (0..longest)
            .flat_map(|i| all_keys.iter().filter_map(move |k| k.get(i).cloned()))
            .collect()
    } else {
        Arc::from([])
    };
    let next = Arc::new(AtomicUsize::new(0));
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let own = std::mem::take(all_keys.get_mut(w).context("a writer per worker")?);
        if !args.first_reads && own.is_empty() {
            continue;
        }
        let s3 = reader.clone();
        let bucket = args.bucket.clone();
        let shared = Arc::clone(&shared);
        let next = Arc::clone(&next);
        let counter = Arc::clone(&counter);
        let max_ops = args.max_ops;
        let first_reads = args.first_reads;
        workers.push(tokio::spawn(async move {
            let mut phase = Phase::default();
            let mut i = 0;
            while started.elapsed() < deadline && counter.fetch_add(1, Ordering::Relaxed) < max_ops
            {
                let key = if first_reads {
                    match shared.get(next.fetch_add(1, Ordering::Relaxed)) {
                        Some(key) => key,
                        None => break,
                    }
                } else {
                    &own[i % own.len()]
                };
                i += 1;
                let t0 = Instant::now();
                match get(&s3, &bucket, key, None).await {
                    Ok(n) => {
                        phase.latencies.push(t0.elapsed());
                        phase.bytes += n;
                    }
                    Err(_) => phase.errors += 1,
                }
            }
            phase
        }));
    }
    let mut get_phase = Phase::default();
    for w in workers {
        get_phase.add(w.await?);
    }
    get_phase.elapsed = started.elapsed();
    get_phase.report(&args.label, "GET", size, args.concurrency);
    Ok(())
}

/// One object of `total` bytes, then its `len`-byte windows in random order.
async fn ranges(
    args: &Args,
    s3: &aws_sdk_s3::Client,
    reader: &aws_sdk_s3::Client,
    len: usize,
    total: usize,
    seed: u64,
) -> anyhow::Result<()> {
    if len == 0 || total < 2 * len {
        bail!("--ranges-of must be at least twice --size");
    }
    let key = format!("{seed:016x}/ranged");
    let body = stamped(&tests::pattern(total, seed), seed, 0);
    let t0 = Instant::now();
    s3.put_object()
        .bucket(&args.bucket)
        .key(&key)
        .body(ByteStream::from(body))
        .send()
        .await
        .context("writing the ranged object")?;
    let put = Phase {
        latencies: vec![t0.elapsed()],
        bytes: total as u64,
        errors: 0,
        elapsed: t0.elapsed(),
    };
    put.report(&args.label, "PUT", total, 1);

    let mut rng = rand::rng();
    let shift = rng.random_range(0..len);
    let mut windows: Vec<usize> = (0..total / len - 1).map(|i| i * len + shift).collect();
    windows.shuffle(&mut rng);
    let windows: Arc<[usize]> = windows.into();
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (s3, bucket, key) = (reader.clone(), args.bucket.clone(), key.clone());
        let (windows, next) = (Arc::clone(&windows), Arc::clone(&next));
        workers.push(tokio::spawn(async move {
            let mut phase = Phase::default();
            while started.elapsed() < deadline {
                let Some(&lo) = windows.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    break;
                };
                let range = format!("bytes={lo}-{}", lo + len - 1);
                let t0 = Instant::now();
                match get(&s3, &bucket, &key, Some(range)).await {
                    Ok(n) if n == len as u64 => {
                        phase.latencies.push(t0.elapsed());
                        phase.bytes += n;
                    }
                    _ => phase.errors += 1,
                }
            }
            phase
        }));
    }
    let mut phase = Phase::default();
    for w in workers {
        phase.add(w.await?);
    }
    phase.elapsed = started.elapsed();
    phase.report(&args.label, "RANGE", len, args.concurrency);
    Ok(())
}
