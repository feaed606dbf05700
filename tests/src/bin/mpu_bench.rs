//! One large multipart upload through any S3 endpoint, parts sent in
//! parallel as aws-cli and boto3 send them, and the throughput it reached.
//! With `--checksum` each part carries that algorithm (computed by the SDK,
//! verified by the server) and the object gets its multipart checksum; with
//! `--checksum none` nothing beyond Content-MD5-free ETags is computed, so
//! the two runs side by side give the cost of checksum validation.
//!
//! ```text
//! cargo run --release -p tests --bin mpu_bench -- --size 1GiB --checksum crc32
//! ```

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use aws_sdk_s3::config::RequestChecksumCalculation;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use clap::Parser;
use tokio::sync::Semaphore;

#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    target: tests::Endpoint,
    #[arg(long, default_value = "mpubench")]
    bucket: String,
    /// Object size in MiB (1024 = 1 GiB).
    #[arg(long, default_value_t = 1024)]
    size_mib: usize,
    /// Part size in MiB (aws-cli's default is 8).
    #[arg(long, default_value_t = 8)]
    part_mib: usize,
    /// Parts in flight (aws-cli's default is 10).
    #[arg(long, default_value_t = 10)]
    concurrency: usize,
    /// none, crc32, crc32c, crc64nvme, sha1 or sha256.
    #[arg(long, default_value = "crc32")]
    checksum: String,
    /// Label printed with the result.
    #[arg(long, default_value = "tessera")]
    label: String,
}

fn algorithm(name: &str) -> anyhow::Result<Option<ChecksumAlgorithm>> {
    Ok(match name {
        "none" => None,
        "crc32" => Some(ChecksumAlgorithm::Crc32),
        "crc32c" => Some(ChecksumAlgorithm::Crc32C),
        "crc64nvme" => Some(ChecksumAlgorithm::Crc64Nvme),
        "sha1" => Some(ChecksumAlgorithm::Sha1),
        "sha256" => Some(ChecksumAlgorithm::Sha256),
        other => bail!("unknown checksum {other}"),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let algorithm = algorithm(&args.checksum)?;
    let base = args.target.client();
    // Without an algorithm, turn off the SDK's default CRC32 as well.
    let s3 = match algorithm {
        Some(_) => base,
        None => aws_sdk_s3::Client::from_conf(
            base.config()
                .to_builder()
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .build(),
        ),
    };
    if let Err(e) = s3.create_bucket().bucket(&args.bucket).send().await {
        let code = e.as_service_error().and_then(|s| {
            use aws_sdk_s3::error::ProvideErrorMetadata;
            s.code().map(str::to_owned)
        });
        if code.as_deref() != Some("BucketAlreadyOwnedByYou") {
            bail!("creating bucket {}: {e:?}", args.bucket);
        }
    }
    let part_size = args.part_mib << 20;
    let parts = args.size_mib.div_ceil(args.part_mib);
    // Distinct bytes per part (shards are content-addressed; identical parts
    // would not be a real upload), made before the clock starts.
    let bodies: Vec<bytes::Bytes> = (0..parts)
        .map(|i| {
            let len = part_size.min((args.size_mib << 20) - i * part_size);
            bytes::Bytes::from(tests::pattern(len, i as u64 + 1))
        })
        .collect();
    let key = format!("{}-{}MiB-{}", args.label, args.size_mib, args.checksum);

    let started = Instant::now();
    let created = s3
        .create_multipart_upload()
        .bucket(&args.bucket)
        .key(&key)
        .set_checksum_algorithm(algorithm.clone())
        .send()
        .await
        .context("create")?;
    let upload_id = created.upload_id().context("upload id")?.to_owned();
    let slots = Arc::new(Semaphore::new(args.concurrency));
    let mut tasks = Vec::new();
    for (i, body) in bodies.into_iter().enumerate() {
        let permit = Arc::clone(&slots).acquire_owned().await?;
        let s3 = s3.clone();
        let (bucket, key, upload_id, algorithm) = (
            args.bucket.clone(),
            key.clone(),
            upload_id.clone(),
            algorithm.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let n = i32::try_from(i + 1)?;
            let out = s3
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(n)
                .set_checksum_algorithm(algorithm)
                .body(body.into())
                .send()
                .await
                .with_context(|| format!("part {n}"))?;
            drop(permit);
            anyhow::Ok(
                CompletedPart::builder()
                    .part_number(n)
                    .set_e_tag(out.e_tag().map(str::to_owned))
                    .set_checksum_crc32(out.checksum_crc32().map(str::to_owned))
                    .set_checksum_crc32_c(out.checksum_crc32_c().map(str::to_owned))
                    .set_checksum_crc64_nvme(out.checksum_crc64_nvme().map(str::to_owned))
                    .set_checksum_sha1(out.checksum_sha1().map(str::to_owned))
                    .set_checksum_sha256(out.checksum_sha256().map(str::to_owned))
                    .build(),
            )
        }));
    }
    let mut done = Vec::with_capacity(tasks.len());
    for t in tasks {
        done.push(t.await??);
    }
    s3.complete_multipart_upload()
        .bucket(&args.bucket)
        .key(&key)
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .context("complete")?;
    let elapsed = started.elapsed();
    let head = s3
        .head_object()
        .bucket(&args.bucket)
        .key(&key)
        .send()
        .await?;
    let stored = head.content_length().unwrap_or(0);
    if stored != i64::try_from(args.size_mib << 20)? {
        bail!("stored {stored} bytes, sent {}", args.size_mib << 20);
    }
    println!(
        "{:<10} multipart {} MiB in {} MiB parts, {} in flight, checksum {:<9} {:>6.2} s {:>8.1} MB/s",
        args.label,
        args.size_mib,
        args.part_mib,
        args.concurrency,
        args.checksum,
        elapsed.as_secs_f64(),
        (args.size_mib << 20) as f64 / elapsed.as_secs_f64() / 1e6,
    );
    s3.delete_object()
        .bucket(&args.bucket)
        .key(&key)
        .send()
        .await?;
    Ok(())
}
