//! Rate limits per access key and per client address, so that one client
//! cannot starve the others. Token buckets: each key (or address) may make
//! `rate` requests per second on average and `burst` at once; past that the
//! edge answers `503 SlowDown`, which every S3 SDK backs off from and retries.
//! Checked before the protocol layer runs, so a flood of bad signatures is
//! limited as well.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use http::HeaderMap;

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
        if map.len() >= MAX_TRACKED {
            let limit = self.limit;
            map.retain(|_, b| {
                b.tokens + now.duration_since(b.at).as_secs_f64() * limit.rate < limit.burst
            });
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

    /// Whether a request from `peer` with these headers and query may go on.
    pub fn allow(&self, peer: IpAddr, headers: &HeaderMap, query: Option<&str>) -> bool {
        let now = Instant::now();
        if let Some(b) = &self.per_address
            && !b.allow(&peer.to_string(), now)
        {
            return false;
        }
        if let Some(b) = &self.per_key
            && let Some(key) = access_key(headers, query)
            && !b.allow(key, now)
        {
            return false;
        }
        true
    }
}

/// The access key a request claims (not yet verified: a forged key only
/// spends that key's allowance, and the address limit still applies).
fn access_key<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<&'a str> {
    let from_header = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("Credential=").nth(1))
        .and_then(|c| c.split('/').next());
    from_header.or_else(|| {
        query?.split('&').find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.eq_ignore_ascii_case("X-Amz-Credential")
                .then(|| v.split("%2F").next().unwrap_or(v))
        })
    })
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
        let mut h = HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            "AWS4-HMAC-SHA256 Credential=AKID/20261124/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
                .parse()
                .unwrap(),
        );
        assert_eq!(access_key(&h, None), Some("AKID"));
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=PRE%2F20261124%2Fus-east-1%2Fs3%2Faws4_request";
        assert_eq!(access_key(&HeaderMap::new(), Some(q)), Some("PRE"));
        assert_eq!(access_key(&HeaderMap::new(), None), None);
    }
}
