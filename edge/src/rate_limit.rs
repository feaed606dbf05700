//! Rate limits per access key and per client address, so that one client
//! cannot starve the others. Token buckets: each key (or address) may make
//! `rate` requests per second on average and `burst` at once; past that the
//! edge answers `503 SlowDown`, which every S3 SDK backs off from and retries.
//!
//! The address limit is checked before the protocol layer runs, so a flood
//! of bad signatures is limited as well; behind a load balancer it reads
//! the client's address from `X-Forwarded-For`, believed only from a
//! configured trusted proxy. The key limit is charged only once a request's
//! signature has been verified: a key id is no secret (every presigned URL
//! carries one), and a limit charged on the key a request merely claims
//! would let anyone lock its owner out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// `rate` requests per second sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub rate: f64,
    pub burst: f64,
}

impl std::str::FromStr for Limit {
    type Err = String;

    /// `"100"` (per second, burst the same) or `"100/200"` (rate/burst).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("invalid rate limit {s:?}: expected RATE or RATE/BURST, requests per second")
        };
        let (rate, burst) = match s.split_once('/') {
            Some((r, b)) => (r.trim().parse::<f64>(), b.trim().parse::<f64>()),
            None => (s.trim().parse::<f64>(), s.trim().parse::<f64>()),
        };
        let (rate, burst) = (rate.map_err(|_| bad())?, burst.map_err(|_| bad())?);
        if !(rate > 0.0 && burst >= 1.0 && rate.is_finite() && burst.is_finite()) {
            return Err(bad());
        }
        Ok(Limit { rate, burst })
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by name; idle ones are forgotten once the map grows.
struct Buckets {
    limit: Limit,
    map: Mutex<HashMap<String, Bucket>>,
}

/// Past this many tracked clients, full (idle) buckets are dropped.
const MAX_TRACKED: usize = 100_000;

impl Buckets {
    fn new(limit: Limit) -> Self {
        Buckets {
            limit,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn allow(&self, name: &str, now: Instant) -> bool {
        let Ok(mut map) = self.map.lock() else {
            return true;
        };
        if map.len() >= MAX_TRACKED && !map.contains_key(name) {
            let limit = self.limit;
            map.retain(|_, b| {
                b.tokens + now.duration_since(b.at).as_secs_f64() * limit.rate < limit.burst
            });
            if map.len() >= MAX_TRACKED {
                // Every tracked client is active: a new one goes untracked
                // rather than grow the map (the connection caps still hold).
                metrics::counter!("edge_rate_limit_untracked_total").increment(1);
                return true;
            }
        }
        let b = map.entry(name.to_owned()).or_insert(Bucket {
            tokens: self.limit.burst,
            at: now,
        });
        let refill = now.duration_since(b.at).as_secs_f64() * self.limit.rate;
        b.tokens = (b.tokens + refill).min(self.limit.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The edge's limits; either may be off.
pub struct RateLimits {
    per_key: Option<Buckets>,
    per_address: Option<Buckets>,
}

impl RateLimits {
    pub fn new(per_key: Option<Limit>, per_address: Option<Limit>) -> Self {
        RateLimits {
            per_key: per_key.map(Buckets::new),
            per_address: per_address.map(Buckets::new),
        }
    }

    /// Whether a request from `client` may go on. An IPv6 client is
    /// counted by its /64: one host is given a whole /64 and could
    /// otherwise change address with every request.
    pub fn allow_address(&self, client: IpAddr) -> bool {
        self.per_address
            .as_ref()
            .is_none_or(|b| b.allow(&address_key(client), Instant::now()))
    }

    /// Whether a request signed by `access_key` (verified) may go on.
    pub fn allow_key(&self, access_key: &str) -> bool {
        self.per_key
            .as_ref()
            .is_none_or(|b| b.allow(access_key, Instant::now()))
    }
}

fn address_key(client: IpAddr) -> String {
    match client {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn buckets_refill_at_their_rate() {
        let b = Buckets::new("2/3".parse().unwrap());
        let t0 = Instant::now();
        assert!(b.allow("k", t0) && b.allow("k", t0) && b.allow("k", t0));
        assert!(!b.allow("k", t0));
        assert!(b.allow("other", t0));
        assert!(b.allow("k", t0 + Duration::from_millis(500)));
        assert!(!b.allow("k", t0 + Duration::from_millis(500)));
    }

    #[test]
    fn addresses_are_counted_by_host() {
        let limits = RateLimits::new(None, Some("1/1".parse().unwrap()));
        assert!(limits.allow_address("2001:db8:1:2::1".parse().unwrap()));
        // Another address of the same /64 is the same client.
        assert!(!limits.allow_address("2001:db8:1:2::ffff".parse().unwrap()));
        assert!(limits.allow_address("2001:db8:1:3::1".parse().unwrap()));
        assert!(limits.allow_address("192.0.2.1".parse().unwrap()));
        assert!(!limits.allow_address("::ffff:192.0.2.1".parse().unwrap()));
        // The key limit is separate.
        assert!(limits.allow_key("AKID"));
    }

    #[test]
    fn parses_limits_and_keys() {
        assert_eq!(
            "10".parse::<Limit>().unwrap(),
            Limit {
                rate: 10.0,
                burst: 10.0
            }
        );
        assert_eq!(
            "5/20".parse::<Limit>().unwrap(),
            Limit {
                rate: 5.0,
                burst: 20.0
            }
        );
        for bad in ["", "0", "-1", "x/2", "3/0.5"] {
            assert!(bad.parse::<Limit>().is_err(), "{bad}");
        }
    }
}
