//! The client IP that rate limits, lockouts and sessions are keyed by. It
//! is the TCP peer, unless the peer is a trusted proxy (the
//! cluster's gateway and Knative hops); then `X-Forwarded-For` is walked from
//! the right, skipping trusted proxies, and the first untrusted entry wins.
//! Envoy, Kourier and Istio append what they saw, so entries left of that are
//! whatever the caller wrote and never count.
//!
//! Limits and lockouts count an IPv6 client by its network
//! ([`limit_key`], `RATE_LIMIT_IPV6_PREFIX`, /64 by default): one subscriber
//! line gets a whole /64, so keying by the full address would let a caller
//! rotate through 2^64 fresh budgets.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// An address block such as `10.0.0.0/8` or `::1/128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = ip
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an IP or CIDR"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse().ok().filter(|p| *p <= max),
            None => Some(max),
        }
        .ok_or_else(|| format!("{s:?} has a bad prefix length"))?;
        Ok(Self { addr, prefix })
    }
}

impl Cidr {
    /// Whether `ip` lies in this block (IPv4-mapped IPv6 counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Loopback (Knative's queue-proxy) and the private ranges cluster pods and
/// gateways live in. Public clients are never in them, so skipping them while
/// walking `X-Forwarded-For` cannot let a caller pick its own address.
pub const DEFAULT_TRUSTED_PROXIES: &str =
    "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7";

/// The configured trusted proxies (`TRUSTED_PROXIES`: comma-separated CIDRs,
/// or `none` to trust no one and key everything by the TCP peer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().eq_ignore_ascii_case("none") {
            return Ok(Self(Vec::new()));
        }
        s.split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(Cidr::from_str)
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

impl Default for TrustedProxies {
    fn default() -> Self {
        DEFAULT_TRUSTED_PROXIES.parse().expect("valid default")
    }
}

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client address for a request from `peer` carrying the given
    /// `X-Forwarded-For` header values (in order).
    pub fn client_ip<'a>(
        &self,
        peer: Option<IpAddr>,
        forwarded_for: impl Iterator<Item = &'a str>,
    ) -> Option<IpAddr> {
        let peer = peer?.to_canonical();
        if !self.trusts(peer) {
            return Some(peer);
        }
        let hops: Vec<&str> = forwarded_for.flat_map(|v| v.split(',')).collect();
        let mut nearest = peer;
        for hop in hops.iter().rev() {
            // An entry that is no address was not written by a proxy we trust.
            let Some(ip) = parse_hop(hop) else {
                return Some(nearest);
            };
            if !self.trusts(ip) {
                return Some(ip);
            }
            nearest = ip;
        }
        Some(nearest)
    }
}

/// What limits and lockouts count `ip` (a resolved client IP) under: an
/// IPv4 address as it is, an IPv6 address as its network of `v6_prefix`
/// bits (`2001:db8:1:2::/64`); anything else unchanged.
pub fn limit_key(ip: &str, v6_prefix: u8) -> Cow<'_, str> {
    match ip.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
        Ok(IpAddr::V6(v6)) if v6_prefix < 128 => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(v6_prefix))
                .unwrap_or(0);
            let network = Ipv6Addr::from(u128::from(v6) & mask);
            Cow::Owned(format!("{network}/{v6_prefix}"))
        }
        _ => Cow::Borrowed(ip),
    }
}

/// `1.2.3.4`, `1.2.3.4:567`, `::1` or `[::1]:567`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if hop.len() > 64 {
        return None;
    }
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(trusted: &str, peer: &str, xff: &[&str]) -> String {
        let trusted: TrustedProxies = trusted.parse().unwrap();
        trusted
            .client_ip(Some(peer.parse().unwrap()), xff.iter().copied())
            .unwrap()
            .to_string()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_writes() {
        assert_eq!(
            resolve(DEFAULT_TRUSTED_PROXIES, "198.51.100.7", &["1.2.3.4"]),
            "198.51.100.7"
        );
        assert_eq!(resolve("none", "127.0.0.1", &["1.2.3.4"]), "127.0.0.1");
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_entry_wins() {
        let d = DEFAULT_TRUSTED_PROXIES;
        assert_eq!(resolve(d, "127.0.0.1", &["203.0.113.9"]), "203.0.113.9");
        // The caller wrote the first two; the gateway appended the real peer.
        assert_eq!(
            resolve(d, "127.0.0.1", &["6.6.6.6, 7.7.7.7, 203.0.113.9, 10.1.2.3"]),
            "203.0.113.9"
        );
        assert_eq!(
            resolve(d, "::ffff:10.0.0.5", &["6.6.6.6", "203.0.113.9"]),
            "203.0.113.9"
        );
        assert_eq!(
            resolve(d, "127.0.0.1", &["[2001:db8::1]:443"]),
            "2001:db8::1"
        );
        assert_eq!(resolve(d, "127.0.0.1", &[]), "127.0.0.1");
        assert_eq!(
            resolve(d, "127.0.0.1", &["10.0.0.9"]),
            "10.0.0.9",
            "all trusted: the farthest hop"
        );
        assert_eq!(resolve(d, "127.0.0.1", &["garbage, 10.0.0.9"]), "10.0.0.9");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_network() {
        assert_eq!(limit_key("2001:db8:1:2:aaaa::1", 64), "2001:db8:1:2::/64");
        assert_eq!(
            limit_key("2001:db8:1:2:ffff:ffff:ffff:fffe", 64),
            "2001:db8:1:2::/64",
            "every address of one /64 shares a key"
        );
        assert_eq!(limit_key("2001:db8:1:3::1", 64), "2001:db8:1:3::/64");
        assert_eq!(limit_key("2001:db8:1:2:aaaa::1", 48), "2001:db8:1::/48");
        assert_eq!(limit_key("2001:db8::1", 128), "2001:db8::1");
        assert_eq!(limit_key("203.0.113.9", 64), "203.0.113.9");
        assert_eq!(limit_key("unknown", 64), "unknown");
    }

    #[test]
    fn cidrs_parse_and_match() {
        let c: Cidr = "172.16.0.0/12".parse().unwrap();
        assert!(c.contains("172.31.255.255".parse().unwrap()));
        assert!(!c.contains("172.32.0.0".parse().unwrap()));
        assert!(
            "0.0.0.0/0"
                .parse::<Cidr>()
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(
            "fc00::/7"
                .parse::<Cidr>()
                .unwrap()
                .contains("fd12::1".parse().unwrap())
        );
        for bad in ["10.0.0.0/33", "nope", "::1/129", "10.0.0.0/x"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert!("10.0.0.0/8, nope".parse::<TrustedProxies>().is_err());
    }
}
