//! Which notification targets the server may send to: the organizer's
//! `allow_private_targets` and `target_ports` over where a target's
//! addresses lie. Pure, no I/O: whoever resolved the target says where it
//! lies (`TargetReach`). The engine applies it when a target is added
//! (`Engine::check_new_target`), and delivery again at every attempt, to the
//! very addresses that attempt resolved and connects to
//! (`delivery::target::vet_for_send`), so a name that moved to an internal
//! address since it was added is refused at send time.

use crate::urls::host_of;

/// Where a webhook or ntfy target resolves, as the caller found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetReach {
    /// Every address is public (or the target is not a URL: an e-mail address).
    Public,
    /// It resolves to an internal address, or does not resolve: why.
    Internal(String),
}

/// Why a target is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Plain `http://`, to anything but a private target the organizer allowed.
    PlainHttp,
    /// An internal address on a server that allows none: why.
    Internal(String),
    /// A public address on a port outside `target_ports`.
    Port,
}

/// The organizer's rules for notification targets.
#[derive(Debug, Clone, Copy)]
pub struct TargetPolicy<'a> {
    /// `allow_private_targets`: loopback, private and reserved addresses
    /// may be targets (and only they may use plain `http://`).
    pub allow_private: bool,
    /// `target_ports`: the ports a target on a public address may use.
    pub ports: &'a [u16],
}

impl TargetPolicy<'_> {
    /// Plain `http://` exposes even a content-free notification's timing and
    /// idempotency key to the path: only for a private target the organizer
    /// allowed (a relay on the same host or network).
    pub fn plain_http_allowed(&self, reach: &TargetReach) -> bool {
        self.allow_private && matches!(reach, TargetReach::Internal(_))
    }

    /// Whether the URL's port may be used: any for a private target the
    /// organizer allowed, else `target_ports` (80 and 443 by default), so
    /// the server cannot be made to probe other services on the Internet.
    pub fn port_allowed(&self, url: &str, reach: &TargetReach) -> bool {
        self.plain_http_allowed(reach) || host_of(url).is_some_and(|(_, port)| self.ports.contains(&port))
    }

    /// The checks, in order, for a webhook or ntfy `url` whose addresses
    /// lie where `reach` says.
    pub fn check(&self, url: &str, reach: &TargetReach) -> Result<(), Refusal> {
        if url.starts_with("http://") && !self.plain_http_allowed(reach) {
            return Err(Refusal::PlainHttp);
        }
        if let (TargetReach::Internal(why), false) = (reach, self.allow_private) {
            return Err(Refusal::Internal(why.clone()));
        }
        if !self.port_allowed(url, reach) {
            return Err(Refusal::Port);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_targets_need_https_and_an_allowed_port_and_private_ones_permission() {
        let internal = TargetReach::Internal("loopback".into());
        let strict = TargetPolicy { allow_private: false, ports: &[443] };
        assert_eq!(strict.check("https://hooks.example/x", &TargetReach::Public), Ok(()));
        assert_eq!(strict.check("http://hooks.example/x", &TargetReach::Public), Err(Refusal::PlainHttp));
        assert_eq!(strict.check("https://hooks.example:8443/x", &TargetReach::Public), Err(Refusal::Port));
        assert_eq!(strict.check("https://127.0.0.1/x", &internal), Err(Refusal::Internal("loopback".into())));
        let relaxed = TargetPolicy { allow_private: true, ports: &[443] };
        assert_eq!(relaxed.check("http://127.0.0.1:8080/x", &internal), Ok(()));
        assert_eq!(relaxed.check("http://hooks.example/x", &TargetReach::Public), Err(Refusal::PlainHttp));
    }
}
