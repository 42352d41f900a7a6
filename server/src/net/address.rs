//! Whose a request is, as far as limits go: address ranges (for the
//! organizer's trusted proxies), the group an address is counted in, and the
//! client address behind a trusted proxy's `X-Forwarded-For`.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

/// An address range in CIDR notation (`10.0.0.0/8`, `::1`, `fd00::/8`); a
/// bare address is a range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRange {
    base: IpAddr,
    prefix: u8,
}

/// Why a range did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRange(pub String);

impl fmt::Display for BadRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not an address or an address range like 10.0.0.0/8", self.0)
    }
}

impl FromStr for AddressRange {
    type Err = BadRange;

    fn from_str(text: &str) -> Result<Self, BadRange> {
        let bad = || BadRange(text.to_owned());
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix.parse::<u8>().map_err(|_| bad())?)),
            None => (text.trim(), None),
        };
        let base = canonical(addr.parse::<IpAddr>().map_err(|_| bad())?);
        let bits = if base.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        if prefix > bits {
            return Err(bad());
        }
        Ok(AddressRange { base: masked(base, prefix), prefix })
    }
}

/// As it parses back: a bare address for a range of one, else `base/prefix`.
impl fmt::Display for AddressRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = if self.base.is_ipv4() { 32 } else { 128 };
        if self.prefix == bits {
            write!(f, "{}", self.base)
        } else {
            write!(f, "{}/{}", self.base, self.prefix)
        }
    }
}

impl AddressRange {
    /// True if `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        ip.is_ipv4() == self.base.is_ipv4() && masked(ip, self.prefix) == self.base
    }
}

/// True for this machine's own addresses (a local proxy or Tor), mapped
/// IPv4 included.
pub fn is_loopback(ip: IpAddr) -> bool {
    canonical(ip).is_loopback()
}

/// An IPv4-mapped IPv6 address is the IPv4 address it maps.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn masked(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix.min(32))).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix.min(128))).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// The unit requests and connections are counted in: an IPv4 address, or
/// the /64 of an IPv6 address (what one subscriber is given: counting single
/// IPv6 addresses would give an attacker 2^64 budgets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressGroup(IpAddr);

impl AddressGroup {
    /// The group `ip` belongs to.
    pub fn of(ip: IpAddr) -> Self {
        let ip = canonical(ip);
        AddressGroup(if ip.is_ipv4() { ip } else { masked(ip, 64) })
    }

    /// A key for the rate limiter: `i` and the group's address bytes.
    pub fn limiter_key(&self) -> Vec<u8> {
        let mut key = vec![b'i'];
        match self.0 {
            IpAddr::V4(v4) => key.extend_from_slice(&v4.octets()),
            IpAddr::V6(v6) => key.extend_from_slice(&v6.octets()[..8]),
        }
        key
    }

    /// The wider ranges an IPv6 group is also counted in, each with how
    /// many times the group's budget it gets: its /48 (8 times) and its /32
    /// (64 times). A tunnel broker's /48 holds 65,536 /64s: counted only by
    /// /64, one such range would be 65,536 budgets.
    pub fn wider_keys(&self) -> Vec<(Vec<u8>, u32)> {
        let IpAddr::V6(v6) = self.0 else { return Vec::new() };
        let octets = v6.octets();
        [(6usize, 8u32, b'w'), (4, 64, b'W')]
            .into_iter()
            .map(|(len, times, tag)| {
                let mut key = vec![tag];
                key.extend_from_slice(&octets[..len]);
                (key, times)
            })
            .collect()
    }
}

/// The proxies whose `X-Forwarded-For` the server believes (`trusted_proxies`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<AddressRange>);

impl TrustedProxies {
    /// Parses a list separated by commas or spaces (brackets and quotes, as
    /// a TOML array is written, are ignored).
    pub fn parse(text: &str) -> Result<Self, BadRange> {
        text.split(|c: char| c == ',' || c.is_whitespace() || matches!(c, '[' | ']' | '"' | '\''))
            .filter(|part| !part.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    /// The ranges, as `trusted_proxies` lists them.
    pub fn ranges(&self) -> &[AddressRange] {
        &self.0
    }

    /// True if `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(ip))
    }

    /// The client's address: the connection's peer, unless that is a trusted
    /// proxy; then the right-most `X-Forwarded-For` entry that is not itself
    /// a trusted proxy (entries further left were written by whoever sent
    /// the request and prove nothing). A proxy that sent no usable header
    /// leaves its own address.
    pub fn client<'a>(&self, peer: IpAddr, forwarded_for: impl DoubleEndedIterator<Item = &'a str>) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops = forwarded_for.rev().flat_map(|header| header.rsplit(','));
        for hop in hops {
            let Some(ip) = parse_hop(hop.trim()) else { return peer };
            if !self.trusts(ip) {
                return ip;
            }
        }
        peer
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port
/// (`1.2.3.4:5678`, `[::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_contain_what_they_say() {
        let r: AddressRange = "10.0.0.0/8".parse().unwrap();
        assert!(r.contains(ip("10.200.1.1")));
        assert!(r.contains(ip("::ffff:10.1.1.1")));
        assert!(!r.contains(ip("11.0.0.1")));
        assert!(!r.contains(ip("::1")));
        let one: AddressRange = "::1".parse().unwrap();
        assert!(one.contains(ip("::1")));
        assert!(!one.contains(ip("::2")));
        let all: AddressRange = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")));
        let v6: AddressRange = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        for bad in ["10.0.0.0/33", "::/129", "example.org", "10.0.0.0/x", ""] {
            assert!(bad.parse::<AddressRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ipv6_is_counted_by_its_64() {
        assert_eq!(AddressGroup::of(ip("2001:db8:1:2:aaaa::1")), AddressGroup::of(ip("2001:db8:1:2:ffff::9")));
        assert_ne!(AddressGroup::of(ip("2001:db8:1:2::1")), AddressGroup::of(ip("2001:db8:1:3::1")));
        assert_ne!(AddressGroup::of(ip("192.0.2.1")), AddressGroup::of(ip("192.0.2.2")));
        assert_eq!(AddressGroup::of(ip("::ffff:192.0.2.1")), AddressGroup::of(ip("192.0.2.1")));
        assert!(is_loopback(ip("::ffff:127.0.0.1")) && is_loopback(ip("::1")) && !is_loopback(ip("::2")));
        assert_ne!(AddressGroup::of(ip("192.0.2.1")).limiter_key(), AddressGroup::of(ip("2001:db8::1")).limiter_key());
    }

    #[test]
    fn forwarded_for_is_believed_from_trusted_proxies_only() {
        let proxies = TrustedProxies::parse("[\"127.0.0.1\", \"10.0.0.0/8\"]").unwrap();
        let client = |peer: &str, headers: &[&str]| proxies.client(ip(peer), headers.iter().copied());
        // Not a proxy: its header is anyone's words.
        assert_eq!(client("203.0.113.5", &["198.51.100.1"]), ip("203.0.113.5"));
        // The proxy's own entry is the right-most; the rest was sent by the client.
        assert_eq!(client("127.0.0.1", &["6.6.6.6, 198.51.100.7"]), ip("198.51.100.7"));
        // Chains of trusted proxies are walked through; headers in order.
        assert_eq!(client("127.0.0.1", &["6.6.6.6", "198.51.100.7, 10.1.1.1"]), ip("198.51.100.7"));
        assert_eq!(client("127.0.0.1", &["[2001:db8::5]:443"]), ip("2001:db8::5"));
        // No header, or garbage where the proxy's entry should be: the proxy.
        assert_eq!(client("127.0.0.1", &[]), ip("127.0.0.1"));
        assert_eq!(client("127.0.0.1", &["6.6.6.6, junk"]), ip("127.0.0.1"));
        assert!(TrustedProxies::parse("127.0.0.1, nonsense").is_err());
        assert_eq!(TrustedProxies::parse("").unwrap(), TrustedProxies::default());
    }
}
