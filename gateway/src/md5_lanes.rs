//! MD5 of several independent messages at once, one message per lane.
//!
//! MD5 is a chain: each 64-byte block needs the previous block's result, so
//! one message cannot use a vector unit. Several messages can: lane `i` of
//! every vector holds message `i`'s state, and one pass of the 64 steps
//! advances all of them. The lanes are plain arrays; LLVM turns each
//! per-lane loop into vector instructions (SSE2 on any x86-64, NEON on
//! aarch64) with no `unsafe` and no target-specific code here. The
//! `md5_engine` module is what gathers concurrent uploads into lanes.

/// Bytes in one MD5 block.
pub const BLOCK: usize = 64;

/// The state before any block (RFC 1321, 3.3).
pub const INITIAL: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// `floor(abs(sin(i + 1)) * 2^32)` (RFC 1321, 3.4).
const K: [u32; 64] = [
    0xd76a_a478,
    0xe8c7_b756,
    0x2420_70db,
    0xc1bd_ceee,
    0xf57c_0faf,
    0x4787_c62a,
    0xa830_4613,
    0xfd46_9501,
    0x6980_98d8,
    0x8b44_f7af,
    0xffff_5bb1,
    0x895c_d7be,
    0x6b90_1122,
    0xfd98_7193,
    0xa679_438e,
    0x49b4_0821,
    0xf61e_2562,
    0xc040_b340,
    0x265e_5a51,
    0xe9b6_c7aa,
    0xd62f_105d,
    0x0244_1453,
    0xd8a1_e681,
    0xe7d3_fbc8,
    0x21e1_cde6,
    0xc337_07d6,
    0xf4d5_0d87,
    0x455a_14ed,
    0xa9e3_e905,
    0xfcef_a3f8,
    0x676f_02d9,
    0x8d2a_4c8a,
    0xfffa_3942,
    0x8771_f681,
    0x6d9d_6122,
    0xfde5_380c,
    0xa4be_ea44,
    0x4bde_cfa9,
    0xf6bb_4b60,
    0xbebf_bc70,
    0x289b_7ec6,
    0xeaa1_27fa,
    0xd4ef_3085,
    0x0488_1d05,
    0xd9d4_d039,
    0xe6db_99e5,
    0x1fa2_7cf8,
    0xc4ac_5665,
    0xf429_2244,
    0x432a_ff97,
    0xab94_23a7,
    0xfc93_a039,
    0x655b_59c3,
    0x8f0c_cc92,
    0xffef_f47d,
    0x8584_5dd1,
    0x6fa8_7e4f,
    0xfe2c_e6e0,
    0xa301_4314,
    0x4e08_11a1,
    0xf753_7e82,
    0xbd3a_f235,
    0x2ad7_d2bb,
    0xeb86_d391,
];

/// One 32-bit word per lane.
type Lanes<const N: usize> = [u32; N];

#[inline(always)]
fn zip2<const N: usize>(a: Lanes<N>, b: Lanes<N>, f: impl Fn(u32, u32) -> u32) -> Lanes<N> {
    let mut out = [0u32; N];
    for i in 0..N {
        out[i] = f(a[i], b[i]);
    }
    out
}

#[inline(always)]
fn zip3<const N: usize>(
    a: Lanes<N>,
    b: Lanes<N>,
    c: Lanes<N>,
    f: impl Fn(u32, u32, u32) -> u32,
) -> Lanes<N> {
    let mut out = [0u32; N];
    for i in 0..N {
        out[i] = f(a[i], b[i], c[i]);
    }
    out
}

#[inline(always)]
fn f(b: u32, c: u32, d: u32) -> u32 {
    (b & c) | (!b & d)
}
#[inline(always)]
fn g(b: u32, c: u32, d: u32) -> u32 {
    (d & b) | (!d & c)
}
#[inline(always)]
fn h(b: u32, c: u32, d: u32) -> u32 {
    b ^ c ^ d
}
#[inline(always)]
fn i(b: u32, c: u32, d: u32) -> u32 {
    c ^ (b | !d)
}

/// One step: `a = b + ((a + fun(b, c, d) + m + k) <<< s)`.
macro_rules! step {
    ($fun:ident, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $k:expr, $s:expr) => {
        let mixed = zip3($b, $c, $d, $fun);
        let sum = zip3($a, mixed, $m, |a, x, m| {
            a.wrapping_add(x).wrapping_add(m).wrapping_add($k)
        });
        $a = zip2(sum, $b, |t, b| t.rotate_left($s).wrapping_add(b));
    };
}

/// Four steps of one round, over message words `idx` from key `base` on.
macro_rules! four {
    ($fun:ident, $a:ident, $b:ident, $c:ident, $d:ident, $m:ident, $idx:expr, $s:expr, $base:expr) => {
        step!($fun, $a, $b, $c, $d, $m[$idx[0]], K[$base], $s[0]);
        step!($fun, $d, $a, $b, $c, $m[$idx[1]], K[$base + 1], $s[1]);
        step!($fun, $c, $d, $a, $b, $m[$idx[2]], K[$base + 2], $s[2]);
        step!($fun, $b, $c, $d, $a, $m[$idx[3]], K[$base + 3], $s[3]);
    };
}

/// Advances `N` states by one block each: lane `l` hashes the 64 bytes at
/// `blocks[l]`.
#[inline(always)]
fn compress<const N: usize>(state: &mut [Lanes<N>; 4], blocks: [&[u8]; N]) {
    let mut m = [[0u32; N]; 16];
    for (lane, block) in blocks.iter().enumerate() {
        for (j, w) in block[..BLOCK].chunks_exact(4).enumerate() {
            m[j][lane] = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        }
    }
    let [mut a, mut b, mut c, mut d] = *state;
    const R1: [u32; 4] = [7, 12, 17, 22];
    const R2: [u32; 4] = [5, 9, 14, 20];
    const R3: [u32; 4] = [4, 11, 16, 23];
    const R4: [u32; 4] = [6, 10, 15, 21];
    four!(f, a, b, c, d, m, [0, 1, 2, 3], R1, 0);
    four!(f, a, b, c, d, m, [4, 5, 6, 7], R1, 4);
    four!(f, a, b, c, d, m, [8, 9, 10, 11], R1, 8);
    four!(f, a, b, c, d, m, [12, 13, 14, 15], R1, 12);
    four!(g, a, b, c, d, m, [1, 6, 11, 0], R2, 16);
    four!(g, a, b, c, d, m, [5, 10, 15, 4], R2, 20);
    four!(g, a, b, c, d, m, [9, 14, 3, 8], R2, 24);
    four!(g, a, b, c, d, m, [13, 2, 7, 12], R2, 28);
    four!(h, a, b, c, d, m, [5, 8, 11, 14], R3, 32);
    four!(h, a, b, c, d, m, [1, 4, 7, 10], R3, 36);
    four!(h, a, b, c, d, m, [13, 0, 3, 6], R3, 40);
    four!(h, a, b, c, d, m, [9, 12, 15, 2], R3, 44);
    four!(i, a, b, c, d, m, [0, 7, 14, 5], R4, 48);
    four!(i, a, b, c, d, m, [12, 3, 10, 1], R4, 52);
    four!(i, a, b, c, d, m, [8, 15, 6, 13], R4, 56);
    four!(i, a, b, c, d, m, [4, 11, 2, 9], R4, 60);
    state[0] = zip2(state[0], a, u32::wrapping_add);
    state[1] = zip2(state[1], b, u32::wrapping_add);
    state[2] = zip2(state[2], c, u32::wrapping_add);
    state[3] = zip2(state[3], d, u32::wrapping_add);
}

/// Advances each of `N` states over `blocks` whole blocks of its own data:
/// `data[l]` must hold at least `blocks * 64` bytes.
pub fn compress_lanes<const N: usize>(states: &mut [[u32; 4]; N], data: [&[u8]; N], blocks: usize) {
    let mut lanes: [Lanes<N>; 4] = [[0; N]; 4];
    for (l, s) in states.iter().enumerate() {
        for w in 0..4 {
            lanes[w][l] = s[w];
        }
    }
    for b in 0..blocks {
        let at = b * BLOCK;
        compress(
            &mut lanes,
            std::array::from_fn(|l| &data[l][at..at + BLOCK]),
        );
    }
    for (l, s) in states.iter_mut().enumerate() {
        for w in 0..4 {
            s[w] = lanes[w][l];
        }
    }
}

/// The digest of a message whose whole blocks brought `state` where it is,
/// given its last partial block `tail` (under 64 bytes) and its total length
/// in bytes (RFC 1321, 3.1 and 3.2).
pub fn finish(mut state: [u32; 4], tail: &[u8], total_len: u64) -> [u8; 16] {
    debug_assert!(tail.len() < BLOCK);
    let mut pad = [0u8; 2 * BLOCK];
    pad[..tail.len()].copy_from_slice(tail);
    pad[tail.len()] = 0x80;
    let blocks = if tail.len() < BLOCK - 8 { 1 } else { 2 };
    let end = blocks * BLOCK;
    pad[end - 8..end].copy_from_slice(&total_len.wrapping_mul(8).to_le_bytes());
    let mut one = [state];
    compress_lanes(&mut one, [&pad[..end]], blocks);
    state = one[0];
    let mut out = [0u8; 16];
    for (w, word) in state.iter().enumerate() {
        out[w * 4..w * 4 + 4].copy_from_slice(&word.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::{Digest, Md5};
    use proptest::prelude::*;

    fn whole<const N: usize>(messages: [&[u8]; N]) -> [[u8; 16]; N] {
        let blocks = messages.iter().map(|m| m.len() / BLOCK).min().unwrap_or(0);
        let mut states = [INITIAL; N];
        compress_lanes(&mut states, messages, blocks);
        // Lanes that are longer go on one at a time, as the engine does.
        std::array::from_fn(|l| {
            let m = messages[l];
            let full = m.len() / BLOCK;
            let mut one = [states[l]];
            compress_lanes(&mut one, [&m[blocks * BLOCK..]], full - blocks);
            finish(one[0], &m[full * BLOCK..], m.len() as u64)
        })
    }

    #[test]
    fn rfc_1321_test_suite() {
        let cases: [(&str, &str); 7] = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, expected) in cases {
            let [got] = whole([input.as_bytes()]);
            assert_eq!(hex::encode(got), expected, "{input:?}");
        }
    }

    proptest! {
        #[test]
        fn lanes_agree_with_the_md5_crate(
            messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..700), 4),
        ) {
            let refs: [&[u8]; 4] = std::array::from_fn(|l| messages[l].as_slice());
            let got = whole(refs);
            for (l, m) in messages.iter().enumerate() {
                let expected: [u8; 16] = Md5::digest(m).into();
                prop_assert_eq!(got[l], expected, "lane {}", l);
            }
        }
    }
}
