//! Which notification targets the server may contact. A webhook or ntfy
//! host is resolved once per attempt, every address it resolves to is
//! vetted with a complete "is this address global" test, and the attempt
//! then connects to exactly those addresses (`http::HttpSender::post_to`):
//! a name that answers a public address to the check and 127.0.0.1 to the
//! connection (DNS rebinding) never reaches 127.0.0.1. Internal addresses
//! are refused unless the organizer allows private targets.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::time::Duration;

use crate::target_policy::{Refusal, TargetPolicy, TargetReach};
pub use crate::urls::host_of;

/// How long a name may take to resolve.
pub const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// What a resolution yields.
pub type Resolving<'a> = Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'a>>;

/// Turns a host name into addresses: the system's resolver when serving;
/// tests inject their own.
pub trait Resolve: Send + Sync + std::fmt::Debug {
    /// The addresses `host` resolves to now.
    fn resolve<'a>(&'a self, host: &'a str) -> Resolving<'a>;
}

/// The system's resolver (getaddrinfo, through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> Resolving<'a> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, 0)).await?.map(|a| a.ip()).collect()) })
    }
}

/// A target resolved and vetted: connect to these addresses and no others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vetted {
    /// The addresses, with the URL's port.
    pub addrs: Vec<SocketAddr>,
    /// Where they lie.
    pub reach: TargetReach,
}

/// Resolves the URL's host once (an address literal is not resolved) and
/// says where its addresses lie. Fails if it is not an http(s) URL or does
/// not resolve in time.
pub async fn vet(resolver: &dyn Resolve, url: &str) -> Result<Vetted, String> {
    let (host, port) = host_of(url).ok_or("not an http(s) URL")?;
    let ips = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => match tokio::time::timeout(DNS_TIMEOUT, resolver.resolve(&host)).await {
            Ok(Ok(ips)) => ips,
            Ok(Err(_)) => return Err("the host does not resolve".into()),
            Err(_) => return Err("resolving the host timed out".into()),
        },
    };
    if ips.is_empty() {
        return Err("the host does not resolve".into());
    }
    let reach = if ips.iter().any(|ip| is_internal(*ip)) {
        TargetReach::Internal("targets on loopback, private or reserved networks are refused on this server".into())
    } else {
        TargetReach::Public
    };
    Ok(Vetted { addrs: ips.into_iter().map(|ip| SocketAddr::new(ip, port)).collect(), reach })
}

/// One attempt's look-up: resolves and vets `url` (`vet`), then applies the
/// organizer's policy to the addresses found. `Ok` holds the only addresses
/// the attempt may connect to; `Err((why, permanent))` otherwise (a look-up
/// that fails may work next time; a refusal will not).
pub async fn vet_for_send(
    resolver: &dyn Resolve,
    policy: TargetPolicy<'_>,
    url: &str,
) -> Result<Vetted, (String, bool)> {
    let vetted = vet(resolver, url).await.map_err(|why| (why, false))?;
    policy.check(url, &vetted.reach).map_err(|refusal| {
        let why = match refusal {
            Refusal::PlainHttp => "plain http to a public address".into(),
            Refusal::Internal(why) => why,
            Refusal::Port => "port not allowed on this server".into(),
        };
        (why, true)
    })?;
    Ok(vetted)
}

/// True for every address that is not globally reachable unicast: the
/// server must not send to it unless the organizer allows private targets.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(v4: Ipv4Addr) -> bool {
    let o = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || o[0] == 0 // "this network"
        || (o[0] == 100 && (64..128).contains(&o[1])) // carrier-grade NAT
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (18..20).contains(&o[1])) // benchmarking
        || o[0] >= 240 // reserved (and broadcast)
}

fn is_internal_v6(v6: Ipv6Addr) -> bool {
    let s = v6.segments();
    // Addresses that carry an IPv4 address are as internal as it is.
    if let Some(v4) = v6.to_ipv4_mapped() {
        return is_internal_v4(v4);
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_internal_v4(embedded(s[6], s[7])); // NAT64, well-known prefix
    }
    if s[0] == 0x2002 {
        return is_internal_v4(embedded(s[1], s[2])); // 6to4
    }
    v6.is_loopback()
        || v6.is_unspecified()
        || v6.is_multicast()
        || s[..6] == [0; 6] // IPv4-compatible (deprecated) and the rest of ::/96
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // NAT64, local use (64:ff9b:1::/48)
        || (s[0] == 0x100 && s[1..4] == [0; 3]) // discard-only
        || (s[0] == 0x2001 && s[1] < 0x200) // IETF protocol assignments, Teredo among them
        || (s[0] == 0x2001 && s[1] == 0xdb8) // documentation
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link local
        || (s[0] & 0xffc0) == 0xfec0 // site local (deprecated)
        || (s[0] & 0xe000) != 0x2000 // outside global unicast 2000::/3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ranges() {
        assert_eq!(host_of("https://ntfy.sh/topic"), Some(("ntfy.sh".into(), 443)));
        assert_eq!(host_of("http://127.0.0.1:8080/x"), Some(("127.0.0.1".into(), 8080)));
        assert_eq!(host_of("http://[::1]:9/x"), Some(("::1".into(), 9)));
        assert_eq!(host_of("http://user@host/"), None);
        assert_eq!(host_of("ftp://host/"), None);
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "172.16.0.1",
            "169.254.1.1",
            "0.1.2.3",
            "240.0.0.1",
            "255.255.255.255",
            "192.0.2.7",
            "198.18.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::10.0.0.1",
            "100.64.0.1",
            "64:ff9b::a00:1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2002:a00:1::1",
            "2002:7f00:1::",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:db8::1",
            "100::1",
            "4000::1",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
        for public in ["93.184.216.34", "2606:4700::1111", "8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"] {
            assert!(!is_internal(public.parse().unwrap()), "{public}");
        }
    }

    #[derive(Debug)]
    struct Fixed(Vec<IpAddr>);

    impl Resolve for Fixed {
        fn resolve<'a>(&'a self, _: &'a str) -> Resolving<'a> {
            let ips = self.0.clone();
            Box::pin(async move { Ok(ips) })
        }
    }

    #[tokio::test]
    async fn vetting_pins_the_addresses_it_checked() {
        let public = Fixed(vec!["93.184.216.34".parse().unwrap()]);
        let vetted = vet(&public, "https://hooks.example/x").await.unwrap();
        assert_eq!(vetted.reach, TargetReach::Public);
        assert_eq!(vetted.addrs, vec!["93.184.216.34:443".parse().unwrap()]);
        // One internal address among public ones makes the whole target internal.
        let mixed = Fixed(vec!["93.184.216.34".parse().unwrap(), "10.0.0.1".parse().unwrap()]);
        assert!(matches!(vet(&mixed, "https://hooks.example/x").await.unwrap().reach, TargetReach::Internal(_)));
        // Address literals are not resolved.
        let vetted = vet(&public, "http://[64:ff9b::a00:1]:8080/x").await.unwrap();
        assert!(matches!(vetted.reach, TargetReach::Internal(_)));
        assert_eq!(vetted.addrs, vec!["[64:ff9b::a00:1]:8080".parse().unwrap()]);
        assert!(vet(&Fixed(vec![]), "https://nowhere.example/").await.is_err());
        assert!(vet(&public, "gopher://x/").await.is_err());
    }
}
