//! Which notification targets the server may contact. Webhook and ntfy URLs
//! that resolve to loopback, private, link-local or otherwise internal
//! addresses are refused (unless the organizer allows them) so the server
//! cannot be used to probe its own network. Checked when an endpoint is added
//! and again before every delivery (DNS can change in between).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use crate::urls::host_of;

/// True for addresses the server must not send to by default.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_v4(v4);
            }
            let seg0 = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg0 & 0xfe00) == 0xfc00 // unique local
                || (seg0 & 0xffc0) == 0xfe80 // link local
                || v6 == Ipv6Addr::LOCALHOST
        }
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
        || o[0] == 0
        || (o[0] == 100 && (64..128).contains(&o[1])) // carrier-grade NAT
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 198 && (18..20).contains(&o[1]))
}

/// Resolves the URL's host and refuses internal addresses.
pub async fn check_public(url: &str) -> Result<(), String> {
    let (host, port) = host_of(url).ok_or("not an http(s) URL")?;
    let addrs: Vec<_> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|_| "the host does not resolve".to_owned())?
        .collect();
    if addrs.is_empty() {
        return Err("the host does not resolve".into());
    }
    if addrs.iter().any(|a| is_internal(a.ip())) {
        return Err("targets on loopback or private networks are refused on this server".into());
    }
    Ok(())
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
            "::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "100.64.0.1",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
        for public in ["93.184.216.34", "2606:4700::1111", "8.8.8.8"] {
            assert!(!is_internal(public.parse().unwrap()), "{public}");
        }
    }
}
