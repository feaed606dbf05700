//! The ledger: every write the store acknowledged during a drill, with what
//! it must read back as. A body is `pattern(size, seed)`, so the ledger keeps
//! the seed (to check any range) and the BLAKE3 hash of the whole body (to
//! check a whole read without regenerating it). Writes that failed are not
//! in it: the store promised nothing about them.

use std::sync::{Arc, RwLock};

use rand::Rng;

use crate::pattern;

/// One acknowledged write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledged {
    pub key: String,
    pub size: usize,
    pub seed: u64,
    pub blake3: blake3::Hash,
    /// Uploaded in parts rather than with one PUT.
    pub multipart: bool,
}

impl Acknowledged {
    /// `body` is what was sent; it must be `pattern(body.len(), seed)`.
    pub fn new(key: String, seed: u64, body: &[u8], multipart: bool) -> Self {
        Acknowledged {
            key,
            size: body.len(),
            seed,
            blake3: blake3::hash(body),
            multipart,
        }
    }

    /// Whether `body` is exactly what a read of `range` (or of the whole
    /// object) must return.
    pub fn matches(&self, range: Option<ByteRange>, body: &[u8]) -> bool {
        match range {
            None => body.len() == self.size && blake3::hash(body) == self.blake3,
            Some(r) => {
                let whole = pattern(self.size, self.seed);
                r.slice_of(&whole).is_some_and(|expected| expected == body)
            }
        }
    }
}

/// An inclusive byte range, as in `Range: bytes=first-last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub first: u64,
    pub last: u64,
}

impl ByteRange {
    /// A random range of an object of `size` bytes, at most `max_len` long;
    /// `None` for an empty object (it has no satisfiable range).
    pub fn random(size: usize, max_len: usize, rng: &mut impl Rng) -> Option<Self> {
        if size == 0 || max_len == 0 {
            return None;
        }
        let first = rng.random_range(0..size);
        let len = rng.random_range(1..=max_len.min(size - first));
        Some(ByteRange {
            first: first as u64,
            last: (first + len - 1) as u64,
        })
    }

    pub fn header(&self) -> String {
        format!("bytes={}-{}", self.first, self.last)
    }

    fn slice_of<'a>(&self, body: &'a [u8]) -> Option<&'a [u8]> {
        let first = usize::try_from(self.first).ok()?;
        let last = usize::try_from(self.last).ok()?;
        body.get(first..=last)
    }
}

/// The ledger, shared by writers (who append) and readers (who sample).
#[derive(Debug, Default)]
pub struct Ledger {
    entries: RwLock<Vec<Arc<Acknowledged>>>,
}

impl Ledger {
    pub fn record(&self, entry: Acknowledged) {
        self.write_lock().push(Arc::new(entry));
    }

    pub fn len(&self) -> usize {
        self.read_lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A uniformly random acknowledged object.
    pub fn pick(&self, rng: &mut impl Rng) -> Option<Arc<Acknowledged>> {
        let entries = self.read_lock();
        if entries.is_empty() {
            return None;
        }
        Some(Arc::clone(&entries[rng.random_range(0..entries.len())]))
    }

    /// Every entry, in the order acknowledged.
    pub fn snapshot(&self) -> Vec<Arc<Acknowledged>> {
        self.read_lock().clone()
    }

    // A panic while holding the lock leaves the Vec intact (a push either
    // happened or not), so a poisoned lock is still safe to use.
    fn read_lock(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Acknowledged>>> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_lock(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<Acknowledged>>> {
        self.entries.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(size: usize, seed: u64) -> Acknowledged {
        Acknowledged::new(format!("k{seed}"), seed, &pattern(size, seed), false)
    }

    #[test]
    fn whole_and_ranged_reads_are_checked() {
        let e = entry(1000, 3);
        let body = pattern(1000, 3);
        assert!(e.matches(None, &body));
        assert!(!e.matches(None, &body[..999]));
        let mut flipped = body.clone();
        flipped[500] ^= 1;
        assert!(!e.matches(None, &flipped));
        let r = ByteRange {
            first: 10,
            last: 19,
        };
        assert_eq!(r.header(), "bytes=10-19");
        assert!(e.matches(Some(r), &body[10..20]));
        assert!(!e.matches(Some(r), &body[11..21]));
        assert!(!e.matches(Some(r), &body[10..19]));
        // A range past the end can never have been served correctly.
        let past = ByteRange {
            first: 990,
            last: 1000,
        };
        assert!(!e.matches(Some(past), &body[990..]));
    }

    #[test]
    fn empty_objects_are_checked_whole() {
        let e = entry(0, 1);
        assert!(e.matches(None, &[]));
        assert!(!e.matches(None, &[0]));
        assert_eq!(ByteRange::random(0, 10, &mut rand::rng()), None);
    }

    #[test]
    fn random_ranges_stay_inside_the_object() {
        let mut rng = rand::rng();
        for size in [1usize, 2, 17, 4096] {
            for _ in 0..200 {
                let r = ByteRange::random(size, 100, &mut rng).unwrap();
                assert!(r.first <= r.last);
                assert!((r.last as usize) < size);
                assert!(r.last - r.first < 100);
            }
        }
    }

    #[test]
    fn the_ledger_hands_out_what_was_recorded() {
        let ledger = Ledger::default();
        assert!(ledger.is_empty());
        assert_eq!(ledger.pick(&mut rand::rng()), None);
        ledger.record(entry(5, 1));
        ledger.record(entry(6, 2));
        assert_eq!(ledger.len(), 2);
        let keys: Vec<String> = ledger.snapshot().iter().map(|e| e.key.clone()).collect();
        assert_eq!(keys, ["k1", "k2"]);
        let picked = ledger.pick(&mut rand::rng()).unwrap();
        assert!(picked.key == "k1" || picked.key == "k2");
    }
}
