//! The erasure codec: Reed-Solomon over GF(2^8), `data` data shards plus
//! `parity` parity shards per stripe, any `parity` of which may be lost.
//!
//! We use `reed-solomon-erasure` with `simd-accel` because it rebuilds lost
//! data shards as fast as it encodes (see design.md): a degraded read must
//! cost about what a healthy one does, so it can be the first resort, not the
//! last. This module knows nothing of HTTP or disks, so the gateway, the edge
//! and a rebuilding storage node all share it and the bench measures it alone.

use std::sync::Arc;

use bytes::Bytes;
use metadata::model::ErasureCode;
use reed_solomon_erasure::galois_8::ReedSolomon;

/// Why the codec refused a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error(
        "invalid erasure code {data}+{parity}: need data >= 1, parity >= 1, data + parity <= 255"
    )]
    InvalidCode { data: u8, parity: u8 },
    #[error("shard length must be at least 1 byte")]
    EmptyShard,
    #[error("{len} bytes do not fit in {data} data shards of {shard_len} bytes")]
    DataTooLong {
        len: usize,
        data: usize,
        shard_len: usize,
    },
    #[error("expected {expected} shards, got {got}")]
    WrongShardCount { expected: usize, got: usize },
    #[error("present shards differ in length")]
    UnequalShards,
    #[error("{present} shards present, need at least {needed} to reconstruct")]
    TooFewShards { present: usize, needed: usize },
    #[error("reed-solomon: {0}")]
    ReedSolomon(String),
}

/// A Reed-Solomon codec for one [`ErasureCode`]. Cheap to clone and share
/// between tasks: the coding matrix and its decode-matrix cache sit behind an
/// `Arc`, so every clone reuses inverted matrices that another already paid for.
#[derive(Clone)]
pub struct Codec {
    code: ErasureCode,
    rs: Arc<ReedSolomon>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Codec({}+{})", self.code.data, self.code.parity)
    }
}

impl Codec {
    pub fn new(code: ErasureCode) -> Result<Self, CodecError> {
        let invalid = CodecError::InvalidCode {
            data: code.data,
            parity: code.parity,
        };
        if code.data == 0 || code.parity == 0 || code.total() > 255 {
            return Err(invalid);
        }
        let rs = ReedSolomon::new(usize::from(code.data), usize::from(code.parity))
            .map_err(|_| invalid)?;
        Ok(Codec {
            code,
            rs: Arc::new(rs),
        })
    }

    pub fn code(&self) -> ErasureCode {
        self.code
    }

    fn data_shards(&self) -> usize {
        usize::from(self.code.data)
    }

    /// The shard length for a stripe holding `data_len` bytes:
    /// `ceil(data_len / data)`, and at least 1 because a shard cannot be empty.
    /// The caller caps `data_len` at `data * max_shard_len` when cutting stripes.
    pub fn shard_len_for(&self, data_len: usize) -> usize {
        data_len.div_ceil(self.data_shards()).max(1)
    }

    /// Splits `data` (at most `data * shard_len` bytes) into `data` shards of
    /// `shard_len` bytes, zero-padding the tail, and computes the `parity`
    /// shards. Returns all `data + parity` shards in order.
    ///
    /// The whole stripe lives in one allocation, filled with one copy of the
    /// input; the returned shards are zero-copy slices of it. Encoding runs at
    /// memory speed, so every extra copy or allocation would show. The cost is
    /// that any surviving shard keeps the whole stripe alive; callers send the
    /// shards and drop them together, so that is fine.
    pub fn encode(&self, data: &[u8], shard_len: usize) -> Result<Vec<Bytes>, CodecError> {
        if shard_len == 0 {
            return Err(CodecError::EmptyShard);
        }
        let k = self.data_shards();
        let total = self.code.total();
        let data_capacity = k.checked_mul(shard_len).ok_or(CodecError::DataTooLong {
            len: data.len(),
            data: k,
            shard_len,
        })?;
        if data.len() > data_capacity {
            return Err(CodecError::DataTooLong {
                len: data.len(),
                data: k,
                shard_len,
            });
        }
        let stripe_len = total
            .checked_mul(shard_len)
            .ok_or(CodecError::DataTooLong {
                len: data.len(),
                data: k,
                shard_len,
            })?;
        // `vec![0; n]` becomes a zeroed allocation (calloc), so the padding
        // and the parity area cost no extra pass.
        let mut stripe = vec![0u8; stripe_len];
        stripe[..data.len()].copy_from_slice(data);
        {
            let (data_area, parity_area) = stripe.split_at_mut(data_capacity);
            let data_shards: Vec<&[u8]> = data_area.chunks_exact(shard_len).collect();
            let mut parity_shards: Vec<&mut [u8]> =
                parity_area.chunks_exact_mut(shard_len).collect();
            self.rs
                .encode_sep(&data_shards, &mut parity_shards)
                .map_err(|e| CodecError::ReedSolomon(e.to_string()))?;
        }
        let stripe = Bytes::from(stripe);
        Ok((0..total)
            .map(|i| stripe.slice(i * shard_len..(i + 1) * shard_len))
            .collect())
    }

    /// Fills every `None` in `shards` (data and parity), given at least `data`
    /// present shards of equal length. On error nothing is filled.
    pub fn reconstruct(&self, shards: &mut [Option<Vec<u8>>]) -> Result<(), CodecError> {
        self.reconstruct_inner(shards, false)
    }

    /// Like [`Codec::reconstruct`], but only the data shards are guaranteed to
    /// be filled: a read needs the data, and skipping the parity saves work.
    pub fn reconstruct_data(&self, shards: &mut [Option<Vec<u8>>]) -> Result<(), CodecError> {
        self.reconstruct_inner(shards, true)
    }

    fn reconstruct_inner(
        &self,
        shards: &mut [Option<Vec<u8>>],
        data_only: bool,
    ) -> Result<(), CodecError> {
        let total = self.code.total();
        let k = self.data_shards();
        if shards.len() != total {
            return Err(CodecError::WrongShardCount {
                expected: total,
                got: shards.len(),
            });
        }
        let mut shard_len = None;
        let mut present = 0;
        for shard in shards.iter().flatten() {
            present += 1;
            match shard_len {
                None => shard_len = Some(shard.len()),
                Some(len) if len != shard.len() => return Err(CodecError::UnequalShards),
                Some(_) => {}
            }
        }
        if present < k {
            return Err(CodecError::TooFewShards { present, needed: k });
        }
        let shard_len = shard_len.unwrap_or(0);
        if shard_len == 0 {
            return Err(CodecError::EmptyShard);
        }
        let wanted = |i: usize| !data_only || i < k;
        if shards
            .iter()
            .enumerate()
            .all(|(i, s)| s.is_some() || !wanted(i))
        {
            return Ok(());
        }

        // Give each missing shard we want a zeroed buffer of its final size up
        // front (calloc), and let the library write into it in place, instead
        // of its `Option<Vec>` path that builds each buffer byte by byte.
        let missing: Vec<usize> = (0..total)
            .filter(|&i| shards[i].is_none() && wanted(i))
            .collect();
        for &i in &missing {
            shards[i] = Some(vec![0u8; shard_len]);
        }
        let result = {
            let mut slots: Vec<(&mut [u8], bool)> = shards
                .iter_mut()
                .enumerate()
                .map(|(i, s)| match s {
                    Some(buf) => (buf.as_mut_slice(), !missing.contains(&i)),
                    None => (&mut [][..], false),
                })
                .collect();
            if data_only {
                self.rs.reconstruct_data(&mut slots)
            } else {
                self.rs.reconstruct(&mut slots)
            }
        };
        if let Err(e) = result {
            for &i in &missing {
                shards[i] = None;
            }
            return Err(CodecError::ReedSolomon(e.to_string()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn code(data: u8, parity: u8) -> ErasureCode {
        ErasureCode { data, parity }
    }

    #[test]
    fn codec_is_shareable() {
        fn shareable<T: Send + Sync + Clone + 'static>() {}
        shareable::<Codec>();
    }

    #[test]
    fn rejects_invalid_codes() {
        assert!(Codec::new(code(0, 2)).is_err());
        assert!(Codec::new(code(4, 0)).is_err());
        assert!(Codec::new(code(200, 56)).is_err());
        assert!(Codec::new(code(200, 55)).is_ok());
    }

    #[test]
    fn shard_len_rounds_up() {
        let c = Codec::new(code(4, 2)).unwrap();
        assert_eq!(c.shard_len_for(0), 1);
        assert_eq!(c.shard_len_for(1), 1);
        assert_eq!(c.shard_len_for(4), 1);
        assert_eq!(c.shard_len_for(5), 2);
        assert_eq!(c.shard_len_for(4 << 20), 1 << 20);
    }

    #[test]
    fn encode_pads_and_checks_sizes() {
        let c = Codec::new(code(3, 2)).unwrap();
        let shards = c.encode(b"abcdefg", 3).unwrap();
        assert_eq!(shards.len(), 5);
        assert_eq!(&shards[0][..], b"abc");
        assert_eq!(&shards[1][..], b"def");
        assert_eq!(&shards[2][..], b"g\0\0");
        assert!(matches!(
            c.encode(b"0123456789", 3),
            Err(CodecError::DataTooLong { .. })
        ));
        assert_eq!(c.encode(b"", 0), Err(CodecError::EmptyShard));
    }

    #[test]
    fn reconstruct_refuses_bad_input_and_leaves_shards_alone() {
        let c = Codec::new(code(2, 1)).unwrap();
        let mut too_few = vec![Some(vec![1u8; 4]), None, None];
        assert!(matches!(
            c.reconstruct(&mut too_few),
            Err(CodecError::TooFewShards { .. })
        ));
        assert!(too_few[1].is_none() && too_few[2].is_none());
        let mut unequal = vec![Some(vec![1u8; 4]), Some(vec![1u8; 3]), None];
        assert_eq!(c.reconstruct(&mut unequal), Err(CodecError::UnequalShards));
        let mut wrong_count = vec![Some(vec![1u8; 4])];
        assert!(matches!(
            c.reconstruct(&mut wrong_count),
            Err(CodecError::WrongShardCount { .. })
        ));
    }

    #[test]
    fn reconstruct_data_may_leave_parity_missing() {
        let c = Codec::new(code(4, 2)).unwrap();
        let encoded = c.encode(&[7u8; 4000], 1000).unwrap();
        let mut shards: Vec<Option<Vec<u8>>> = encoded.iter().map(|s| Some(s.to_vec())).collect();
        shards[1] = None;
        shards[5] = None;
        c.reconstruct_data(&mut shards).unwrap();
        assert_eq!(shards[1].as_deref(), Some(&encoded[1][..]));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn lost_shards_come_back(
            data in 1u8..=12,
            parity in 1u8..=6,
            len in 0usize..5000,
            seed in any::<u64>(),
            lose in proptest::collection::vec(any::<proptest::sample::Index>(), 0..6),
            data_only in any::<bool>(),
        ) {
            let c = Codec::new(code(data, parity)).unwrap();
            let bytes: Vec<u8> = (0..len as u64)
                .map(|i| (i.wrapping_mul(seed | 1).wrapping_add(seed >> 7) >> 3) as u8)
                .collect();
            let shard_len = c.shard_len_for(len);
            let encoded = c.encode(&bytes, shard_len).unwrap();
            prop_assert_eq!(encoded.len(), c.code().total());
            let joined: Vec<u8> = encoded[..usize::from(data)].concat();
            prop_assert_eq!(&joined[..len], &bytes[..]);

            let mut shards: Vec<Option<Vec<u8>>> =
                encoded.iter().map(|s| Some(s.to_vec())).collect();
            let n = shards.len();
            for idx in lose.iter().take(usize::from(parity)) {
                shards[idx.index(n)] = None;
            }
            if data_only {
                c.reconstruct_data(&mut shards).unwrap();
                for i in 0..usize::from(data) {
                    prop_assert_eq!(shards[i].as_deref(), Some(&encoded[i][..]));
                }
            } else {
                c.reconstruct(&mut shards).unwrap();
                for (got, want) in shards.iter().zip(&encoded) {
                    prop_assert_eq!(got.as_deref(), Some(&want[..]));
                }
            }
        }
    }
}
