//! Who may reach the watch listeners: an optional allow-list of source networks (a private
//! APN's address range), checked at accept, and a per-source-address token bucket for logins
//! with watch ids the registry does not know, so one address cannot make the gateway look up
//! ids in the database as fast as it can send them. The bucket table is bounded.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A source network in CIDR notation (`10.64.0.0/10`, `2001:db8::/32`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceNet(ipnet::IpNet);

impl SourceNet {
    /// Whether `ip` lies in this network (an IPv4 address mapped into IPv6 counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

impl std::str::FromStr for SourceNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let net = match s.parse::<ipnet::IpNet>() {
            Ok(n) => Ok(n),
            // One address: a network of one.
            Err(_) if !s.contains('/') => s.parse::<IpAddr>().map(ipnet::IpNet::from).map_err(|_| ()),
            Err(_) => Err(()),
        };
        net.map(SourceNet).map_err(|()| {
            format!("网段“{s}”格式不正确，应为 CIDR，如 10.64.0.0/10 / bad network '{s}': use CIDR, e.g. 10.64.0.0/10")
        })
    }
}

impl std::fmt::Display for SourceNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// How many logins with unknown watch ids one source address may try: `burst` at once, then
/// one every `every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownIdLimit {
    pub burst: u32,
    pub every: Duration,
}

impl Default for UnknownIdLimit {
    fn default() -> Self {
        UnknownIdLimit { burst: 5, every: Duration::from_secs(12) }
    }
}

/// Source addresses tracked at most; beyond, addresses not seen yet get no unknown-id logins
/// until buckets refill (known watches are never limited).
const MAX_SOURCES: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The per-address token buckets for unknown ids.
#[derive(Debug)]
pub(crate) struct UnknownIds {
    limit: UnknownIdLimit,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
    max_sources: usize,
}

impl UnknownIds {
    pub(crate) fn new(limit: UnknownIdLimit) -> Self {
        Self::with_capacity(limit, MAX_SOURCES)
    }

    fn with_capacity(limit: UnknownIdLimit, max_sources: usize) -> Self {
        UnknownIds { limit, buckets: Mutex::default(), max_sources }
    }

    fn refilled(&self, b: Bucket, now: Instant) -> f64 {
        let per_s =
            if self.limit.every.is_zero() { f64::INFINITY } else { 1.0 / self.limit.every.as_secs_f64() };
        (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_s)
            .min(f64::from(self.limit.burst))
    }

    /// Takes a token for an unknown-id login from `ip`; `false` when it has none left.
    pub(crate) fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        let ip = ip.to_canonical();
        let mut buckets = self.buckets.lock().expect("buckets lock");
        if !buckets.contains_key(&ip) && buckets.len() >= self.max_sources {
            // Full: forget the addresses whose buckets have refilled (they carry nothing).
            let burst = f64::from(self.limit.burst);
            buckets.retain(|_, b| self.refilled(*b, now) < burst);
            if buckets.len() >= self.max_sources {
                return false;
            }
        }
        let b = buckets.entry(ip).or_insert(Bucket { tokens: f64::from(self.limit.burst), at: now });
        let tokens = self.refilled(*b, now);
        if tokens >= 1.0 {
            *b = Bucket { tokens: tokens - 1.0, at: now };
            true
        } else {
            *b = Bucket { tokens, at: now };
            false
        }
    }

    /// Whether `ip` has no token left for an unknown-id login (nothing is taken).
    pub(crate) fn exhausted(&self, ip: IpAddr, now: Instant) -> bool {
        let ip = ip.to_canonical();
        let buckets = self.buckets.lock().expect("buckets lock");
        match buckets.get(&ip) {
            Some(b) => self.refilled(*b, now) < 1.0,
            None => false,
        }
    }

    /// Source addresses tracked now.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.lock().expect("buckets lock").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_parse_and_match() {
        let n: SourceNet = "10.64.0.0/10".parse().unwrap();
        assert!(n.contains("10.100.1.2".parse().unwrap()));
        assert!(!n.contains("10.128.0.1".parse().unwrap()));
        assert!(n.contains("::ffff:10.64.0.9".parse().unwrap()), "IPv4 mapped into IPv6");
        assert!(!n.contains("2001:db8::1".parse().unwrap()));
        let one: SourceNet = "192.0.2.7".parse().unwrap();
        assert_eq!(one.to_string(), "192.0.2.7/32");
        assert!(one.contains("192.0.2.7".parse().unwrap()) && !one.contains("192.0.2.8".parse().unwrap()));
        let v6: SourceNet = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        let any: SourceNet = "0.0.0.0/0".parse().unwrap();
        assert!(any.contains("203.0.113.1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "10.0.0/8", "x", "::/129"] {
            assert!(bad.parse::<SourceNet>().unwrap_err().contains("CIDR"), "{bad}");
        }
    }

    #[test]
    fn unknown_ids_are_limited_per_address_with_bounded_memory() {
        let limit = UnknownIdLimit { burst: 3, every: Duration::from_secs(10) };
        let u = UnknownIds::with_capacity(limit, 100);
        let t0 = Instant::now();
        let a: IpAddr = "198.51.100.1".parse().unwrap();
        let b: IpAddr = "198.51.100.2".parse().unwrap();
        assert_eq!((0..5).filter(|_| u.allow(a, t0)).count(), 3, "the burst");
        assert!(u.allow(b, t0), "another address has its own bucket");
        assert!(!u.allow(a, t0 + Duration::from_secs(5)));
        assert!(u.allow(a, t0 + Duration::from_secs(16)), "one token back after 10 s");
        // A flood from many addresses: the table stays bounded, and refilled entries make room.
        for i in 0..1000u32 {
            u.allow(IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i)), t0);
        }
        assert!(u.tracked() <= 100);
        assert!(u.allow("203.0.113.9".parse().unwrap(), t0 + Duration::from_secs(60)));
        assert!(u.tracked() <= 100);
    }
}
