//! Connection caps: how many connections are open in all and from each client
//! address. A connection over a cap is closed as soon as it is accepted, which
//! frees the kernel's backlog for clients within their share.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::trusted_proxies::TrustedProxies;

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The listener holds `max_connections`.
    Full,
    /// This address holds `max_connections_per_address`.
    AddressFull,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Full => "max_connections",
            Refusal::AddressFull => "max_connections_per_address",
        }
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    /// Only addresses with open connections: its size is bounded by the
    /// global cap.
    by_address: HashMap<IpAddr, usize>,
}

/// The caps of one listener and what is open now.
#[derive(Clone)]
pub struct ConnectionCaps {
    max: usize,
    per_address: usize,
    exempt: TrustedProxies,
    counts: Arc<Mutex<Counts>>,
}

/// An open connection's place under the caps, given back on drop.
pub struct Admitted {
    caps: ConnectionCaps,
    address: Option<IpAddr>,
}

impl ConnectionCaps {
    /// `exempt` addresses (load balancers) count towards the global cap only.
    pub fn new(max: usize, per_address: usize, exempt: TrustedProxies) -> Self {
        ConnectionCaps {
            max,
            per_address,
            exempt,
            counts: Arc::default(),
        }
    }

    /// Takes a place for a connection from `peer`, or says why there is none.
    pub fn admit(&self, peer: IpAddr) -> Result<Admitted, Refusal> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.total >= self.max {
            return Err(Refusal::Full);
        }
        let address = if self.exempt.contains(peer) {
            None
        } else {
            let n = counts.by_address.entry(peer).or_insert(0);
            if *n >= self.per_address {
                return Err(Refusal::AddressFull);
            }
            *n += 1;
            Some(peer)
        };
        counts.total += 1;
        Ok(Admitted {
            caps: self.clone(),
            address,
        })
    }

    /// Connections open now.
    #[cfg(test)]
    fn open(&self) -> usize {
        self.counts.lock().map(|c| c.total).unwrap_or(0)
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut counts = self.caps.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(address) = self.address
            && let Some(n) = counts.by_address.get_mut(&address)
        {
            *n -= 1;
            if *n == 0 {
                counts.by_address.remove(&address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_and_release() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let caps = ConnectionCaps::new(4, 2, TrustedProxies::parse(&["10.0.0.1"]).unwrap());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let a1 = caps.admit(a).unwrap();
        let _a2 = caps.admit(a).unwrap();
        assert_eq!(caps.admit(a).err(), Some(Refusal::AddressFull));
        let _b1 = caps.admit(b).unwrap();
        // The proxy is exempt from the per-address cap, not the global one.
        let _p1 = caps.admit(proxy).unwrap();
        assert_eq!(caps.admit(proxy).err(), Some(Refusal::Full));
        drop(a1);
        assert_eq!(caps.open(), 3);
        let _a3 = caps.admit(a).unwrap();
        assert_eq!(caps.counts.lock().unwrap().by_address.len(), 2);
    }
}
