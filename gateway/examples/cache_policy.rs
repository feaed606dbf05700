//! Chooses the shard cache's eviction policy by measurement: replays a
//! video-on-demand workload against the real `ShardCache` with LRU and with
//! TinyLFU and prints the byte hit ratio of each, overall and for a video
//! published halfway through that becomes the most popular one.
//!
//!   cargo run --release -p gateway --example cache_policy
//!
//! The workload: a catalog of videos of 40 to 400 shards (1 MiB each, so
//! 40 MiB to 400 MiB), Zipf-popular (s = 0.9); each view starts at the
//! beginning and watches a random fraction, shard after shard, with a seek
//! now and then. The cache holds a tenth of the catalog.

use std::time::Duration;

use bytes::Bytes;
use gateway::cache_status::CacheStatus;
use gateway::config::{CacheConfig, EvictionPolicy};
use gateway::shard_cache::ShardCache;
use metadata::ids::ShardHash;

const VIDEOS: usize = 400;
const VIEWS: usize = 6_000;
/// Cached shards are weighed by length; small stand-ins keep memory low
/// while keeping the proportions.
const SHARD_BYTES: usize = 1024;

/// xorshift64*: a reproducible stream without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Video {
    id: usize,
    shards: usize,
}

fn shard(video: usize, index: usize) -> ShardHash {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&(video as u64).to_le_bytes());
    bytes[8..].copy_from_slice(&(index as u64).to_le_bytes());
    ShardHash::of(&bytes)
}

#[derive(Default)]
struct Tally {
    hits: u64,
    reads: u64,
}

impl Tally {
    fn ratio(&self) -> f64 {
        self.hits as f64 / self.reads.max(1) as f64
    }
}

async fn replay(policy: EvictionPolicy) -> (Tally, Tally) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut catalog: Vec<Video> = (0..VIDEOS)
        .map(|id| Video {
            id,
            shards: 40 + (rng.next() % 361) as usize,
        })
        .collect();
    let total: usize = catalog.iter().map(|v| v.shards).sum();
    let cache = ShardCache::new(&CacheConfig {
        shard_bytes: (total * SHARD_BYTES / 10) as u64,
        policy,
        ..CacheConfig::default()
    });
    // Zipf weights over popularity ranks; rank 0 is the most popular.
    let weights: Vec<f64> = (1..=VIDEOS + 1)
        .map(|r| 1.0 / (r as f64).powf(0.9))
        .collect();
    let mut all = Tally::default();
    let mut fresh = Tally::default();
    let body = Bytes::from(vec![0u8; SHARD_BYTES]);
    for view in 0..VIEWS {
        if view == VIEWS / 2 {
            // A new video, at once the most popular.
            catalog.insert(
                0,
                Video {
                    id: VIDEOS,
                    shards: 120,
                },
            );
        }
        let sum: f64 = weights[..catalog.len()].iter().sum();
        let mut pick = rng.unit() * sum;
        let rank = weights[..catalog.len()]
            .iter()
            .position(|w| {
                pick -= w;
                pick <= 0.0
            })
            .unwrap_or(0);
        let video = &catalog[rank];
        let watched = 1 + (rng.unit() * video.shards as f64) as usize;
        let mut at = 0;
        for _ in 0..watched {
            if rng.unit() < 0.02 {
                at = (rng.next() % video.shards as u64) as usize; // a seek
            }
            let (_, status) = cache
                .get_or_fetch(&shard(video.id, at), async { Ok(body.clone()) })
                .await
                .expect("the stand-in fetch never fails");
            let hit = status != CacheStatus::Miss;
            all.reads += 1;
            all.hits += u64::from(hit);
            if video.id == VIDEOS {
                fresh.reads += 1;
                fresh.hits += u64::from(hit);
            }
            at = (at + 1) % video.shards;
        }
        if view % 500 == 0 {
            cache.settle().await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    (all, fresh)
}

#[tokio::main]
async fn main() {
    println!("{VIDEOS} videos, {VIEWS} views, cache = 10% of the catalog");
    for policy in [EvictionPolicy::Lru, EvictionPolicy::TinyLfu] {
        let (all, fresh) = replay(policy).await;
        println!(
            "{policy:?}: byte hit ratio {:.1}% overall, {:.1}% on the video published halfway",
            all.ratio() * 100.0,
            fresh.ratio() * 100.0
        );
    }
}
