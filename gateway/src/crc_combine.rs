//! Combining CRCs: the CRC of `a || b` from `crc(a)`, `crc(b)` and
//! `len(b)`, without the bytes. This is how a multipart upload gets the
//! full-object CRC S3 defines (`x-amz-checksum-type: FULL_OBJECT`) from the
//! CRCs of its parts. The method is zlib's `crc32_combine`: appending
//! `len(b)` zero bytes to `a` is a linear map over GF(2), applied by
//! repeated squaring of the one-zero-bit operator. It holds for every
//! reflected CRC whose initial value and final XOR are all ones, which is
//! true of CRC-32, CRC-32C and CRC-64/NVME.

/// A reflected CRC of `width` bits with the given (reflected) polynomial.
#[derive(Debug, Clone, Copy)]
pub struct Crc {
    pub width: u32,
    pub reflected_poly: u64,
}

pub const CRC32: Crc = Crc {
    width: 32,
    reflected_poly: 0xEDB8_8320,
};
pub const CRC32C: Crc = Crc {
    width: 32,
    reflected_poly: 0x82F6_3B78,
};
pub const CRC64NVME: Crc = Crc {
    width: 64,
    reflected_poly: 0x9A6C_9329_AC4B_C9B5,
};

type Matrix = [u64; 64];

fn times(mat: &Matrix, mut vec: u64) -> u64 {
    let mut sum = 0;
    let mut i = 0;
    while vec != 0 {
        if vec & 1 == 1 {
            sum ^= mat[i];
        }
        vec >>= 1;
        i += 1;
    }
    sum
}

fn square(width: usize, mat: &Matrix) -> Matrix {
    let mut out = [0u64; 64];
    for (n, row) in out.iter_mut().enumerate().take(width) {
        *row = times(mat, mat[n]);
    }
    out
}

impl Crc {
    /// The CRC of `a || b`, given `crc(a)`, `crc(b)` and the length of `b`.
    pub fn combine(&self, crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
        if len_b == 0 {
            return crc_a;
        }
        let width = self.width as usize;
        // The operator for one zero bit: shift right, folding in the
        // polynomial when the low bit falls off.
        let mut odd = [0u64; 64];
        odd[0] = self.reflected_poly;
        for (n, row) in odd.iter_mut().enumerate().take(width).skip(1) {
            *row = 1 << (n - 1);
        }
        let mut even = square(width, &odd); // two zero bits
        odd = square(width, &even); // four zero bits
        let mut crc = crc_a;
        let mut len = len_b;
        // Each round squares the operator (8, 16, 32, ... zero bits) and
        // applies it where the byte count has a one bit.
        loop {
            even = square(width, &odd);
            if len & 1 == 1 {
                crc = times(&even, crc);
            }
            len >>= 1;
            if len == 0 {
                break;
            }
            odd = square(width, &even);
            if len & 1 == 1 {
                crc = times(&odd, crc);
            }
            len >>= 1;
            if len == 0 {
                break;
            }
        }
        crc ^ crc_b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use proptest::prelude::*;
    use s3s::checksum::ChecksumHasher;

    /// The CRCs of `data` as s3s computes them (base64 of big-endian bytes).
    fn crcs(data: &[u8]) -> (u64, u64, u64) {
        let mut h = ChecksumHasher {
            crc32: Some(Default::default()),
            crc32c: Some(Default::default()),
            crc64nvme: Some(Default::default()),
            ..Default::default()
        };
        h.update(data);
        let c = h.finalize();
        let decode = |v: Option<String>| {
            let bytes = BASE64.decode(v.unwrap()).unwrap();
            bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
        };
        (
            decode(c.checksum_crc32),
            decode(c.checksum_crc32c),
            decode(c.checksum_crc64nvme),
        )
    }

    proptest! {
        #[test]
        fn combining_equals_hashing_the_concatenation(
            a in proptest::collection::vec(any::<u8>(), 0..300),
            b in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let (a32, a32c, a64) = crcs(&a);
            let (b32, b32c, b64) = crcs(&b);
            let whole: Vec<u8> = a.iter().chain(&b).copied().collect();
            let (w32, w32c, w64) = crcs(&whole);
            let n = b.len() as u64;
            prop_assert_eq!(CRC32.combine(a32, b32, n), w32);
            prop_assert_eq!(CRC32C.combine(a32c, b32c, n), w32c);
            prop_assert_eq!(CRC64NVME.combine(a64, b64, n), w64);
        }
    }

    #[test]
    fn long_second_parts_combine_too() {
        let a = vec![7u8; 1000];
        let b: Vec<u8> = (0..70_000u32).map(|i| (i * 31) as u8).collect();
        let (a32, _, a64) = crcs(&a);
        let (b32, _, b64) = crcs(&b);
        let whole: Vec<u8> = a.iter().chain(&b).copied().collect();
        let (w32, _, w64) = crcs(&whole);
        assert_eq!(CRC32.combine(a32, b32, b.len() as u64), w32);
        assert_eq!(CRC64NVME.combine(a64, b64, b.len() as u64), w64);
    }
}
