//! Per-byte costs of the data path: Reed-Solomon encode and rebuild (through
//! [`storage_node::Codec`], so its one copy and allocation are included),
//! BLAKE3 (shard names and verification) and MD5 (the S3 ETag).
//!
//! Run: `cargo bench -p storage-node --bench codec` (about a minute).
//!
//! Results, 2026-11-24, 2-core shared VM, one thread, 1 MiB shards,
//! throughput in object (data) bytes per second:
//!
//! RESULTS_TABLE

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
