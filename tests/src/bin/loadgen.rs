//! Load generator: PUT then GET objects of one size through any S3 endpoint
//! with aws-sdk-s3, from `concurrency` workers, and report throughput and
//! latency percentiles. Runs against this store and against peers alike
//! (`--endpoint`), so figures are compared side by side in one run.
//!
//! ```text
//! cargo run --release -p tests --bin loadgen -- \
//!     --endpoint http://127.0.0.1:9000 --size 1MiB --concurrency 16 --seconds 20
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use clap::Parser;

#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    target: tests::Endpoint,
    #[arg(long, default_value = "loadgen")]
    bucket: String,
    /// Object size, e.g. 4KiB, 1MiB, 64MiB.
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
    /// Give every PUT its own bytes. By default all PUTs send the same
    /// body, which a content-addressed store keeps once per node: fine for
    /// request rates, wrong for filling disks (a rebuild would find most
    /// shards already in place).
    #[arg(long)]
    unique_bodies: bool,
}

/// `body` with the operation number stamped every 64 KiB, so no two
/// operations (and no two shards of at least 64 KiB) share bytes.
fn stamped(body: &Bytes, op: u64) -> Bytes {
    let mut out = body.to_vec();
    for chunk in out.chunks_mut(64 << 10) {
        let n = chunk.len().min(8);
        chunk[..n].copy_from_slice(&op.to_le_bytes()[..n]);
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

struct Phase {
    latencies: Vec<Duration>,
    bytes: u64,
    errors: u64,
    elapsed: Duration,
}

impl Phase {
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
            "{label:<10} {op:<4} size={size:<9} conc={concurrency:<3} ops={:<6} errors={:<3} {:>8.1} MB/s {:>8.1} ops/s  p50={:>7.2} ms  p99={:>7.2} ms",
            l.len(),
            self.errors,
            self.bytes as f64 / secs / 1e6,
            l.len() as f64 / secs,
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
        );
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let size = parse_size(&args.size)?;
    let s3 = args.target.client();
    match s3.create_bucket().bucket(&args.bucket).send().await {
        Ok(_) => {}
        Err(e) => {
            let code = e.as_service_error().and_then(|s| {
                use aws_sdk_s3::error::ProvideErrorMetadata;
                s.code().map(str::to_owned)
            });
            if !matches!(
                code.as_deref(),
                Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")
            ) {
                bail!("creating bucket {}: {e:?}", args.bucket);
            }
        }
    }
    let body = Bytes::from(tests::pattern(size, 7));
    let deadline = Duration::from_secs(args.seconds);

    // PUT phase: each worker writes its own keys; the GET phase reads them.
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let s3 = s3.clone();
        let body = body.clone();
        let bucket = args.bucket.clone();
        let counter = Arc::clone(&counter);
        let max_ops = args.max_ops;
        let unique = args.unique_bodies;
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut keys = Vec::new();
            let mut errors = 0;
            loop {
                let op = counter.fetch_add(1, Ordering::Relaxed);
                if started.elapsed() >= deadline || op >= max_ops {
                    break;
                }
                let key = format!("{w}/{}", keys.len() + errors as usize);
                let payload = if unique {
                    stamped(&body, op)
                } else {
                    body.clone()
                };
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
                        lat.push(t0.elapsed());
                        keys.push(key);
                    }
                    Err(_) => errors += 1,
                }
            }
            (lat, keys, errors)
        }));
    }
    let mut put = Phase {
        latencies: Vec::new(),
        bytes: 0,
        errors: 0,
        elapsed: Duration::ZERO,
    };
    let mut all_keys = Vec::new();
    for w in workers {
        let (lat, keys, errors) = w.await?;
        put.bytes += (lat.len() * size) as u64;
        put.latencies.extend(lat);
        put.errors += errors;
        all_keys.push(keys);
    }
    put.elapsed = started.elapsed();
    put.report(&args.label, "PUT", size, args.concurrency);

    // GET phase: workers cycle through what they wrote.
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for keys in all_keys {
        if keys.is_empty() {
            continue;
        }
        let s3 = s3.clone();
        let bucket = args.bucket.clone();
        let counter = Arc::clone(&counter);
        let max_ops = args.max_ops;
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut bytes = 0u64;
            let mut errors = 0;
            let mut i = 0;
            while started.elapsed() < deadline && counter.fetch_add(1, Ordering::Relaxed) < max_ops
            {
                let t0 = Instant::now();
                let r = s3
                    .get_object()
                    .bucket(&bucket)
                    .key(&keys[i % keys.len()])
                    .send()
                    .await;
                i += 1;
                match r {
                    Ok(out) => match out.body.collect().await {
                        Ok(b) => {
                            bytes += b.into_bytes().len() as u64;
                            lat.push(t0.elapsed());
                        }
                        Err(_) => errors += 1,
                    },
                    Err(_) => errors += 1,
                }
            }
            (lat, bytes, errors)
        }));
    }
    let mut get = Phase {
        latencies: Vec::new(),
        bytes: 0,
        errors: 0,
        elapsed: Duration::ZERO,
    };
    for w in workers {
        let (lat, bytes, errors) = w.await?;
        get.latencies.extend(lat);
        get.bytes += bytes;
        get.errors += errors;
    }
    get.elapsed = started.elapsed();
    get.report(&args.label, "GET", size, args.concurrency);
    Ok(())
}
