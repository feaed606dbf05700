//! Load balancers whose word about the client's address is believed. Behind
//! a balancer every connection comes from the balancer, so limits per client
//! address would see one client; the balancer names the real one in
//! `X-Forwarded-For`. That header is believed only from a configured proxy,
//! and read from the right: each trusted hop appends the address it saw, so
//! the rightmost address that is not a trusted proxy is the client (anything
//! to its left was written by the client itself and proves nothing).

use std::net::IpAddr;

use http::HeaderMap;

/// One network, `address/prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    base: IpAddr,
    prefix: u8,
}

impl Network {
    fn parse(text: &str) -> Option<Network> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let base: IpAddr = addr.trim().parse().ok()?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Network { base, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.base, ip) {
            (IpAddr::V4(b), IpAddr::V4(a)) => prefix_eq(&b.octets(), &a.octets(), self.prefix),
            (IpAddr::V6(b), IpAddr::V6(a)) => prefix_eq(&b.octets(), &a.octets(), self.prefix),
            _ => false,
        }
    }
}

/// An IPv4 client seen through an IPv6 socket is the IPv4 client.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if a[..full] != b[..full] {
        return false;
    }
    rest == 0 || (a[full] ^ b[full]) >> (8 - rest) == 0
}

/// The trusted proxies of a listener; empty trusts no one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Network>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("trusted proxy {0:?}: expected an IP address or ADDRESS/PREFIX")]
pub struct BadProxy(pub String);

impl TrustedProxies {
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, BadProxy> {
        entries
            .iter()
            .map(|e| Network::parse(e.as_ref()).ok_or_else(|| BadProxy(e.as_ref().to_owned())))
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy
    /// that named the client in `X-Forwarded-For`.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let mut client = peer;
        // Several headers are one list, in order.
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect::<Vec<_>>();
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                // Garbage: believe nothing further left.
                break;
            };
            client = canonical(ip);
            if !self.contains(client) {
                break;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn networks_match_by_prefix() {
        let t = TrustedProxies::parse(&["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]).unwrap();
        assert!(t.contains(ip("10.200.1.1")));
        assert!(!t.contains(ip("11.0.0.1")));
        assert!(t.contains(ip("192.0.2.7")));
        assert!(!t.contains(ip("192.0.2.8")));
        assert!(t.contains(ip("2001:db8:1::1")));
        assert!(t.contains(ip("::ffff:10.1.2.3")));
        let odd = TrustedProxies::parse(&["172.16.0.0/12"]).unwrap();
        assert!(odd.contains(ip("172.31.255.255")));
        assert!(!odd.contains(ip("172.32.0.0")));
        for bad in ["", "10.0.0.0/33", "nonsense", "::/129", "1.2.3.4/x"] {
            assert!(TrustedProxies::parse(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_header_is_believed_only_from_a_proxy() {
        let t = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        // A stranger cannot claim to be someone else.
        assert_eq!(
            t.client_address(ip("203.0.113.9"), &xff(&["198.51.100.1"])),
            ip("203.0.113.9")
        );
        // Through the balancer: the rightmost untrusted hop.
        assert_eq!(
            t.client_address(ip("10.0.0.2"), &xff(&["1.1.1.1, 198.51.100.1"])),
            ip("198.51.100.1")
        );
        // Two trusted hops, then the client; what the client wrote itself
        // (the leftmost entries) is ignored.
        assert_eq!(
            t.client_address(ip("10.0.0.2"), &xff(&["6.6.6.6", "198.51.100.1, 10.0.0.3"])),
            ip("198.51.100.1")
        );
        // No header, or garbage: the proxy itself.
        assert_eq!(
            t.client_address(ip("10.0.0.2"), &HeaderMap::new()),
            ip("10.0.0.2")
        );
        assert_eq!(
            t.client_address(ip("10.0.0.2"), &xff(&["not-an-ip"])),
            ip("10.0.0.2")
        );
        assert_eq!(
            TrustedProxies::default().client_address(ip("10.0.0.2"), &xff(&["1.2.3.4"])),
            ip("10.0.0.2")
        );
    }
}
