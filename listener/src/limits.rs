//! What a listener allows a client: how long it may take to send a request
//! head, how long an idle connection stays open, how slowly it may send a body
//! or read a response, and how many connections it and everyone together may
//! hold. Each role starts from its own defaults ([`Limits::PUBLIC`],
//! [`Limits::ADMIN`], [`Limits::INTERNAL`]); a config file's `[limits]` table
//! ([`RawLimits`]) overrides any of them.

use std::time::Duration;

use serde::Deserialize;

/// The limits of one listener, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From the first byte of a request (or a new connection) to the end of
    /// its head. Slowloris sends a head a byte at a time; this ends it.
    pub header_timeout: Duration,
    /// How long a connection with no request in flight and nothing arriving
    /// stays open.
    pub idle_timeout: Duration,
    /// How long a response may wait on a client that reads nothing.
    pub send_timeout: Duration,
    /// Bytes per second a request body must arrive at, measured over
    /// [`Limits::body_rate_window`] of waiting on the client; 0 turns the
    /// check off. Time the server spends elsewhere does not count.
    pub body_min_rate: u64,
    /// The window [`Limits::body_min_rate`] is measured over.
    pub body_rate_window: Duration,
    /// Open connections, all clients together.
    pub max_connections: usize,
    /// Open connections from one client address (trusted proxies exempt).
    pub max_connections_per_address: usize,
    /// Concurrent HTTP/2 streams on one connection.
    pub h2_max_streams: u32,
    /// On shutdown, how long requests in flight may take to finish.
    pub drain_timeout: Duration,
}

impl Limits {
    /// The edge's S3 port, open to the internet. Generous enough for a
    /// browser's six connections or an SDK's pool of 50 behind one NAT
    /// address, small enough that one address cannot hold the server.
    pub const PUBLIC: Limits = Limits {
        header_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        send_timeout: Duration::from_secs(60),
        body_min_rate: 1024,
        body_rate_window: Duration::from_secs(10),
        max_connections: 4096,
        max_connections_per_address: 256,
        h2_max_streams: 128,
        drain_timeout: Duration::from_secs(30),
    };

    /// An edge's admin port: metrics scrapes and purges.
    pub const ADMIN: Limits = Limits {
        max_connections: 128,
        max_connections_per_address: 32,
        h2_max_streams: 16,
        ..Limits::PUBLIC
    };

    /// Metadata and storage nodes. Their clients are edges and peers that
    /// pool connections from a few addresses, so the per-address cap is
    /// high; the idle timeout outlasts the clients' own pool timeout, so a
    /// client never reuses a connection the server is closing.
    pub const INTERNAL: Limits = Limits {
        idle_timeout: Duration::from_secs(75),
        max_connections: 8192,
        max_connections_per_address: 2048,
        ..Limits::PUBLIC
    };
}

/// The `[limits]` table of a config file; every field optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Time to send a request head, e.g. "10s".
    #[serde(default, with = "humantime_serde")]
    pub header_timeout: Option<Duration>,
    /// Idle connections are closed after this, e.g. "60s".
    #[serde(default, with = "humantime_serde")]
    pub idle_timeout: Option<Duration>,
    /// A response waiting this long on a client that reads nothing is cut.
    #[serde(default, with = "humantime_serde")]
    pub send_timeout: Option<Duration>,
    /// Minimum request body rate in bytes per second (0: no minimum).
    pub body_min_rate: Option<u64>,
    /// Window of waiting the body rate is measured over, e.g. "10s".
    #[serde(default, with = "humantime_serde")]
    pub body_rate_window: Option<Duration>,
    /// Open connections in all.
    pub max_connections: Option<usize>,
    /// Open connections per client address.
    pub max_connections_per_address: Option<usize>,
    /// Concurrent HTTP/2 streams per connection.
    pub h2_max_streams: Option<u32>,
    /// Time given to requests in flight on shutdown, e.g. "30s".
    #[serde(default, with = "humantime_serde")]
    pub drain_timeout: Option<Duration>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("limits: {0}")]
pub struct LimitsError(String);

impl RawLimits {
    /// These settings over `defaults`, checked.
    pub fn over(&self, defaults: Limits) -> Result<Limits, LimitsError> {
        let limits = Limits {
            header_timeout: self.header_timeout.unwrap_or(defaults.header_timeout),
            idle_timeout: self.idle_timeout.unwrap_or(defaults.idle_timeout),
            send_timeout: self.send_timeout.unwrap_or(defaults.send_timeout),
            body_min_rate: self.body_min_rate.unwrap_or(defaults.body_min_rate),
            body_rate_window: self.body_rate_window.unwrap_or(defaults.body_rate_window),
            max_connections: self.max_connections.unwrap_or(defaults.max_connections),
            max_connections_per_address: self
                .max_connections_per_address
                .unwrap_or(defaults.max_connections_per_address),
            h2_max_streams: self.h2_max_streams.unwrap_or(defaults.h2_max_streams),
            drain_timeout: self.drain_timeout.unwrap_or(defaults.drain_timeout),
        };
        limits.check()?;
        Ok(limits)
    }
}

impl Limits {
    fn check(&self) -> Result<(), LimitsError> {
        let bad = |s: &str| Err(LimitsError(s.to_owned()));
        for (name, d) in [
            ("header_timeout", self.header_timeout),
            ("idle_timeout", self.idle_timeout),
            ("send_timeout", self.send_timeout),
            ("body_rate_window", self.body_rate_window),
        ] {
            if d.is_zero() {
                return bad(&format!("{name} must be more than 0s"));
            }
        }
        if self.max_connections == 0 || self.max_connections_per_address == 0 {
            return bad("connection caps must be at least 1");
        }
        if self.max_connections_per_address > self.max_connections {
            return bad("max_connections_per_address must not exceed max_connections");
        }
        if self.h2_max_streams == 0 {
            return bad("h2_max_streams must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_overrides_apply() {
        for l in [Limits::PUBLIC, Limits::ADMIN, Limits::INTERNAL] {
            assert_eq!(RawLimits::default().over(l), Ok(l));
        }
        let raw: RawLimits =
            toml::from_str("header_timeout = \"3s\"\nmax_connections_per_address = 8\n")
                .expect("parses");
        let l = raw.over(Limits::PUBLIC).expect("valid");
        assert_eq!(l.header_timeout, Duration::from_secs(3));
        assert_eq!(l.max_connections_per_address, 8);
        assert_eq!(l.idle_timeout, Limits::PUBLIC.idle_timeout);
    }

    #[test]
    fn nonsense_is_refused() {
        for text in [
            "header_timeout = \"0s\"",
            "max_connections = 0",
            "max_connections = 10\nmax_connections_per_address = 11",
            "h2_max_streams = 0",
        ] {
            let raw: RawLimits = toml::from_str(text).expect("parses");
            assert!(raw.over(Limits::PUBLIC).is_err(), "{text}");
        }
        assert!(toml::from_str::<RawLimits>("header_timeut = \"1s\"").is_err());
    }
}
