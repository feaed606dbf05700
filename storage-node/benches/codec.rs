//! Per-byte costs of the data path: Reed-Solomon encode and rebuild (through
//! [`storage_node::Codec`], so its one copy and allocation are included),
//! BLAKE3 (shard names and verification) and MD5 (the S3 ETag).
//!
//! Run: `cargo bench -p storage-node --bench codec` (about a minute).
//!
//! Results, 2026-11-24, 2-core shared VM, one thread, 1 MiB shards,
//! throughput in object (data) bytes per second:
//!
//! | bench | time | throughput (GiB/s) |
//! |---|---:|---:|
//! | `rs_encode/4+2` (`Codec::encode`: alloc + copy + parity) | 401 µs | 9.8 |
//! | `rs_encode/8+4` | 1.37 ms | 5.7 |
//! | `rs_encode_prealloc/4+2` (library alone, buffers reused) | 212 µs | 18.4 |
//! | `rs_encode_prealloc/8+4` | 943 µs | 8.3 |
//! | `rs_reconstruct_data/4+2/lost2` (= lost `parity`) | 285 µs | 13.7 |
//! | `rs_reconstruct_data/8+4/lost2` | 626 µs | 12.5 |
//! | `rs_reconstruct_data/8+4/lost4` (= lost `parity`) | 1.31 ms | 6.0 |
//! | `hash_4MiB/blake3` | 879 µs | 4.4 |
//! | `hash_4MiB/md5` | 8.31 ms | 0.47 |
//!
//! The VM is shared and noisy: repeated runs vary by ±25%. The gap between
//! `rs_encode` and `rs_encode_prealloc` is the fresh stripe buffer (page
//! faults plus one copy of the input); a per-stripe buffer pool would close
//! it if encode ever dominates a PUT (MD5, at a tenth of the speed, does now).

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use md5::{Digest, Md5};
use metadata::model::ErasureCode;
use std::hint::black_box;
use std::time::Duration;
use storage_node::Codec;

const SHARD: usize = 1 << 20;

fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761) as u8)
        .collect()
}

fn codes() -> [ErasureCode; 2] {
    [
        ErasureCode { data: 4, parity: 2 },
        ErasureCode { data: 8, parity: 4 },
    ]
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("rs_encode");
    for code in codes() {
        let codec = Codec::new(code).unwrap();
        let input = data(usize::from(code.data) * SHARD);
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function(format!("{}+{}", code.data, code.parity), |b| {
            b.iter(|| codec.encode(black_box(&input), SHARD).unwrap())
        });
    }
    g.finish();

    // The library alone, into buffers allocated once: the floor under `encode`.
    let mut g = c.benchmark_group("rs_encode_prealloc");
    for code in codes() {
        let rs = reed_solomon_erasure::galois_8::ReedSolomon::new(
            usize::from(code.data),
            usize::from(code.parity),
        )
        .unwrap();
        let input = data(usize::from(code.data) * SHARD);
        let shards: Vec<&[u8]> = input.chunks_exact(SHARD).collect();
        let mut parity = vec![vec![0u8; SHARD]; usize::from(code.parity)];
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function(format!("{}+{}", code.data, code.parity), |b| {
            b.iter(|| rs.encode_sep(black_box(&shards), &mut parity).unwrap())
        });
    }
    g.finish();
}

/// Degraded reads: `lost` data shards missing, rebuilt from the survivors
/// (`reconstruct_data`, as the read path calls it). Losing `parity` data
/// shards is the worst case the code survives.
fn reconstruct(c: &mut Criterion) {
    let mut g = c.benchmark_group("rs_reconstruct_data");
    for code in codes() {
        let codec = Codec::new(code).unwrap();
        let input = data(usize::from(code.data) * SHARD);
        let full: Vec<Option<Vec<u8>>> = codec
            .encode(&input, SHARD)
            .unwrap()
            .iter()
            .map(|s| Some(s.to_vec()))
            .collect();
        let mut losses = vec![2, usize::from(code.parity)];
        losses.dedup();
        g.throughput(Throughput::Bytes(input.len() as u64));
        for lost in losses {
            let id = BenchmarkId::new(
                format!("{}+{}", code.data, code.parity),
                format!("lost{lost}"),
            );
            g.bench_function(id, |b| {
                b.iter_batched(
                    || {
                        let mut shards = full.clone();
                        for s in shards.iter_mut().take(lost) {
                            *s = None;
                        }
                        shards
                    },
                    |mut shards| {
                        codec.reconstruct_data(&mut shards).unwrap();
                        shards
                    },
                    BatchSize::LargeInput,
                )
            });
        }
    }
    g.finish();
}

fn hashes(c: &mut Criterion) {
    let input = data(4 << 20);
    let mut g = c.benchmark_group("hash_4MiB");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.bench_function("blake3", |b| b.iter(|| blake3::hash(black_box(&input))));
    g.bench_function("md5", |b| b.iter(|| Md5::digest(black_box(&input))));
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = encode, reconstruct, hashes
}
criterion_main!(benches);
