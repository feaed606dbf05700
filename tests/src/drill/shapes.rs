//! What the drill writes: a mix of object shapes that takes every path of
//! the store. Small objects (below one stripe), medium ones (one stripe),
//! several-MiB ones (striped across many), and multipart uploads (parts of
//! at least 5 MiB, the S3 minimum, but for the last).

use rand::Rng;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
/// The smallest part S3 accepts except the last one.
pub const MIN_PART: usize = 5 * MIB;

/// How one object is uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// One PUT of this many bytes.
    Put(usize),
    /// A multipart upload with these part sizes.
    Multipart(Vec<usize>),
}

impl Shape {
    /// The `n`-th shape of a run: in every ten, four small, three medium,
    /// two striped and one multipart, so even a short run has each kind.
    /// The very first object is empty (a legal object that code paths
    /// built around stripes tend to forget).
    pub fn nth(n: u64, rng: &mut impl Rng) -> Self {
        if n == 0 {
            return Shape::Put(0);
        }
        match n % 10 {
            0..=3 => Shape::Put(rng.random_range(1..=64 * KIB)),
            4..=6 => Shape::Put(rng.random_range(64 * KIB..=MIB)),
            7 | 8 => Shape::Put(rng.random_range(MIB + 1..=8 * MIB)),
            _ => Shape::Multipart(vec![MIN_PART, rng.random_range(1..=3 * MIB)]),
        }
    }

    pub fn size(&self) -> usize {
        match self {
            Shape::Put(n) => *n,
            Shape::Multipart(parts) => parts.iter().sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_of_ten_has_every_kind() {
        let mut rng = rand::rng();
        let shapes: Vec<Shape> = (0..20).map(|n| Shape::nth(n, &mut rng)).collect();
        assert_eq!(shapes[0], Shape::Put(0));
        let small = shapes[1..].iter().filter(|s| s.size() <= 64 * KIB).count();
        let striped = shapes
            .iter()
            .filter(|s| matches!(s, Shape::Put(n) if *n > MIB))
            .count();
        let multipart: Vec<&Shape> = shapes
            .iter()
            .filter(|s| matches!(s, Shape::Multipart(_)))
            .collect();
        assert!(small >= 7, "{shapes:?}");
        assert_eq!(striped, 4);
        assert_eq!(multipart.len(), 2);
        for m in multipart {
            let Shape::Multipart(parts) = m else {
                unreachable!()
            };
            assert!(parts[..parts.len() - 1].iter().all(|&p| p >= MIN_PART));
            assert!(m.size() > MIN_PART);
        }
    }
}
