//! Stripe and shard arithmetic: which shards, and which bytes of them, hold a
//! byte range of an object. Pure functions over a manifest, so the reader, the
//! edge cache and the property tests all agree on one answer.

use std::ops::Range;

use metadata::model::Manifest;

/// The bytes one data shard contributes to a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardSlice {
    /// Index of the data shard within its stripe (`0..code.data`).
    pub shard: usize,
    /// Byte range within the shard.
    pub within: Range<usize>,
}

/// The part of a read that falls in one stripe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeRead {
    pub stripe: usize,
    /// Data shards to fetch, in object order; their slices concatenated are
    /// exactly the stripe's part of the requested range.
    pub slices: Vec<ShardSlice>,
}

/// Plans the read of `range` (object byte offsets, end exclusive, within the
/// object's size) over `manifest`: the stripes it touches and, in each, only the
/// data shards it needs. An empty range plans nothing.
pub fn plan_read(manifest: &Manifest, range: Range<u64>) -> Vec<StripeRead> {
    let mut out = Vec::new();
    if range.start >= range.end {
        return out;
    }
    let mut stripe_start = 0u64;
    for (index, stripe) in manifest.stripes.iter().enumerate() {
        let stripe_end = stripe_start + stripe.data_len;
        if stripe_end <= range.start {
            stripe_start = stripe_end;
            continue;
        }
        if stripe_start >= range.end {
            break;
        }
        let lo = range.start.max(stripe_start) - stripe_start;
        let hi = range.end.min(stripe_end) - stripe_start;
        out.push(StripeRead {
            stripe: index,
            slices: slices_in_stripe(u64::from(stripe.shard_len), lo, hi),
        });
        stripe_start = stripe_end;
    }
    out
}

/// Splits stripe-relative bytes `lo..hi` over shards of `shard_len` bytes.
fn slices_in_stripe(shard_len: u64, lo: u64, hi: u64) -> Vec<ShardSlice> {
    let mut slices = Vec::new();
    if shard_len == 0 {
        return slices;
    }
    let mut pos = lo;
    while pos < hi {
        let shard = pos / shard_len;
        let shard_end = (shard + 1) * shard_len;
        let end = hi.min(shard_end);
        slices.push(ShardSlice {
            shard: usize::try_from(shard).unwrap_or(usize::MAX),
            within: to_usize(pos - shard * shard_len)..to_usize(end - shard * shard_len),
        });
        pos = end;
    }
    slices
}

fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use metadata::ids::{NodeId, ShardHash};
    use metadata::model::{ErasureCode, ShardRef, Stripe};
    use proptest::prelude::*;
    use storage_node::codec::Codec;

    fn codec(k: u8) -> Codec {
        Codec::new(ErasureCode { data: k, parity: 2 }).unwrap()
    }

    /// Cuts `size` bytes as the writer does: full stripes of `k * shard_size`
    /// bytes, shard lengths from the codec.
    fn manifest(k: u8, shard_size: usize, size: u64) -> Manifest {
        let codec = codec(k);
        let stripe_bytes = usize::from(k) * shard_size;
        let mut stripes = Vec::new();
        let mut left = size;
        while left > 0 {
            let len = left.min(stripe_bytes as u64);
            let shard_len = codec.shard_len_for(len as usize);
            stripes.push(Stripe {
                data_len: len,
                shard_len: u32::try_from(shard_len).unwrap(),
                shards: (0..usize::from(k) + 2)
                    .map(|i| ShardRef {
                        hash: ShardHash::of(&[i as u8]),
                        node: "n".parse::<NodeId>().unwrap(),
                    })
                    .collect(),
            });
            left -= len;
        }
        Manifest {
            code: ErasureCode { data: k, parity: 2 },
            stripes,
        }
    }

    /// Maps each planned byte back to its object offset, the way a reader
    /// would, and checks it is exactly the requested range.
    fn covered_offsets(m: &Manifest, plan: &[StripeRead]) -> Vec<u64> {
        let mut starts = Vec::new();
        let mut acc = 0;
        for s in &m.stripes {
            starts.push(acc);
            acc += s.data_len;
        }
        let mut out = Vec::new();
        for read in plan {
            let stripe = &m.stripes[read.stripe];
            for slice in &read.slices {
                assert!(slice.shard < usize::from(m.code.data));
                assert!(slice.within.end <= stripe.shard_len as usize);
                for b in slice.within.clone() {
                    out.push(
                        starts[read.stripe] + (slice.shard * stripe.shard_len as usize + b) as u64,
                    );
                }
            }
        }
        out
    }

    #[test]
    fn range_crossing_shard_and_stripe_edges() {
        let m = manifest(4, 8, 100); // stripes of 32 bytes: 32+32+32+4
        let plan = plan_read(&m, 30..42);
        assert_eq!(plan.len(), 2);
        assert_eq!(
            plan[0].slices,
            vec![ShardSlice {
                shard: 3,
                within: 6..8
            }]
        );
        assert_eq!(
            plan[1].slices,
            vec![
                ShardSlice {
                    shard: 0,
                    within: 0..8
                },
                ShardSlice {
                    shard: 1,
                    within: 0..2
                }
            ]
        );
        // The short last stripe: 4 bytes over 4 shards of 1 byte.
        let plan = plan_read(&m, 96..100);
        assert_eq!(plan[0].stripe, 3);
        assert_eq!(plan[0].slices.len(), 4);
    }

    #[test]
    fn empty_range_plans_nothing() {
        let m = manifest(4, 8, 100);
        assert!(plan_read(&m, 5..5).is_empty());
        assert!(plan_read(&manifest(4, 8, 0), 0..0).is_empty());
    }

    proptest! {
        #[test]
        fn plan_covers_exactly_the_range(
            k in 1u8..10,
            shard_size in 1usize..64,
            size in 1u64..2000,
            a in 0u64..2000,
            b in 0u64..2000,
        ) {
            let m = manifest(k, shard_size, size);
            let (lo, hi) = (a.min(b) % size, (a.max(b) % size) + 1);
            prop_assume!(lo < hi);
            let plan = plan_read(&m, lo..hi);
            let offsets = covered_offsets(&m, &plan);
            prop_assert_eq!(offsets, (lo..hi).collect::<Vec<_>>());
        }

        #[test]
        fn geometry_fits_data(k in 1usize..16, shard_size in 1usize..4096, len in 1usize..100_000) {
            let len = len.min(k * shard_size);
            let shard_len = codec(u8::try_from(k).unwrap()).shard_len_for(len);
            prop_assert!(shard_len * k >= len);
            prop_assert!(shard_len <= shard_size);
            prop_assert!(shard_len == 1 || (shard_len - 1) * k < len);
        }
    }
}
