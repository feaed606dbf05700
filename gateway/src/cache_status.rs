//! What the edge's caches did for a response, sent to the client as
//! `x-cache` so that operators (and players' developer tools) can tell a
//! cache hit from an origin fetch.

use std::sync::atomic::{AtomicU8, Ordering};

/// The response header that carries a [`CacheStatus`].
pub const X_CACHE: &str = "x-cache";

/// Ordered from best to worst: a response is as good as its worst shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CacheStatus {
    /// Everything came from memory.
    Hit = 0,
    /// Waited for a fetch another request had already started.
    Coalesced = 1,
    /// At least one shard came from a storage node.
    Miss = 2,
    /// The manifest could not be checked with metadata (unreachable) and a
    /// copy known earlier was served.
    Stale = 3,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "hit",
            CacheStatus::Coalesced => "coalesced",
            CacheStatus::Miss => "miss",
            CacheStatus::Stale => "stale",
        }
    }

    fn from_u8(n: u8) -> Self {
        match n {
            0 => CacheStatus::Hit,
            1 => CacheStatus::Coalesced,
            2 => CacheStatus::Miss,
            _ => CacheStatus::Stale,
        }
    }
}

/// The worst status seen so far by the several tasks serving one response.
#[derive(Debug, Default)]
pub struct CacheTally(AtomicU8);

impl CacheTally {
    pub fn note(&self, status: CacheStatus) {
        self.0.fetch_max(status as u8, Ordering::Relaxed);
    }

    pub fn status(&self) -> CacheStatus {
        CacheStatus::from_u8(self.0.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_is_as_good_as_its_worst_part() {
        let tally = CacheTally::default();
        assert_eq!(tally.status(), CacheStatus::Hit);
        tally.note(CacheStatus::Coalesced);
        tally.note(CacheStatus::Hit);
        assert_eq!(tally.status(), CacheStatus::Coalesced);
        tally.note(CacheStatus::Miss);
        assert_eq!(tally.status(), CacheStatus::Miss);
        tally.note(CacheStatus::Stale);
        assert_eq!(tally.status(), CacheStatus::Stale);
    }
}
