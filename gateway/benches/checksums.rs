//! The cost of S3's additional checksums per byte, as the gateway computes
//! them while an upload streams through (s3s's `ChecksumHasher`, the same
//! code the upload path runs), beside MD5 (the ETag, always computed): the
//! `md-5` crate, and this crate's lanes, one body alone and four side by
//! side as the MD5 engine hashes concurrent uploads (`md5_four_lanes`
//! counts all four bodies' bytes).
//!
//! Run: `cargo bench -p gateway --bench checksums` (about half a minute).
//! Results are in the README ("Checksums").

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gateway::md5_lanes;
use md5::{Digest, Md5};
use s3s::checksum::ChecksumHasher;
use std::hint::black_box;
use std::time::Duration;

const LEN: usize = 4 << 20;

fn data() -> Vec<u8> {
    (0..LEN)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761) as u8)
        .collect()
}

fn hasher(name: &str) -> ChecksumHasher {
    let mut h = ChecksumHasher::default();
    match name {
        "crc32" => h.crc32 = Some(Default::default()),
        "crc32c" => h.crc32c = Some(Default::default()),
        "crc64nvme" => h.crc64nvme = Some(Default::default()),
        "sha1" => h.sha1 = Some(Default::default()),
        _ => h.sha256 = Some(Default::default()),
    }
    h
}

fn checksums(c: &mut Criterion) {
    let buf = data();
    let mut g = c.benchmark_group("checksum_4MiB");
    g.throughput(Throughput::Bytes(LEN as u64));
    g.measurement_time(Duration::from_secs(3));
    for name in ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut h = hasher(name);
                h.update(black_box(&buf));
                black_box(h.finalize())
            })
        });
    }
    g.bench_function("md5", |b| {
        b.iter(|| black_box(Md5::digest(black_box(&buf))))
    });
    g.bench_function("md5_one_lane", |b| {
        b.iter(|| {
            let mut state = [md5_lanes::INITIAL];
            md5_lanes::compress_lanes(&mut state, [black_box(&buf[..])], LEN / md5_lanes::BLOCK);
            black_box(state)
        })
    });
    g.finish();

    let bodies: Vec<Vec<u8>> = (0..4u8)
        .map(|n| buf.iter().map(|b| b ^ n).collect())
        .collect();
    let mut g = c.benchmark_group("checksum_4x4MiB");
    g.throughput(Throughput::Bytes(4 * LEN as u64));
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("md5_four_lanes", |b| {
        b.iter(|| {
            let mut states = [md5_lanes::INITIAL; 4];
            let data: [&[u8]; 4] = std::array::from_fn(|l| black_box(&bodies[l][..]));
            md5_lanes::compress_lanes(&mut states, data, LEN / md5_lanes::BLOCK);
            black_box(states)
        })
    });
    g.finish();
}

criterion_group!(benches, checksums);
criterion_main!(benches);
