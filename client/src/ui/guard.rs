//! Who may talk to the local interface: the checks every request passes
//! before anything else looks at it. Pure functions over the request's
//! parts, so that each refusal is unit-tested.
//!
//! The interface listens on loopback, but any web page the user opens can
//! make the browser send requests there, a rebinding DNS name can point at
//! 127.0.0.1, and another program on this machine can connect. So, like a
//! local admin interface:
//! - `Host` must be the loopback address and port we listen on, as printed (a
//!   rebinding name never passes, and learns nothing: the refusal is empty);
//! - the address `aman ui` prints carries a one-time token in its fragment
//!   (`/#t=…`, which a browser never sends); the page posts it once for a
//!   session secret, which it keeps in `sessionStorage` (this origin, this
//!   port, this tab) and sends as `X-Aman-Session` with every API request.
//!   Not a cookie: a cookie would go to every port of 127.0.0.1. A page
//!   elsewhere cannot set that header without a CORS preflight, which is
//!   never granted;
//! - a request that changes anything (POST) must also carry our own
//!   `Origin` and a JSON body, which a cross-site form cannot send.

use subtle::ConstantTimeEq;

/// The header that carries the session secret.
pub const SESSION_HEADER: &str = "x-aman-session";

/// Why a request is refused: a stable code for the page and the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `Host` is not our loopback address and port (DNS rebinding).
    BadHost,
    /// No session secret, or not ours.
    NoSession,
    /// The one-time token is wrong or was used already.
    BadToken,
    /// A POST without our `Origin`.
    BadOrigin,
    /// A POST whose body is not declared JSON.
    NotJson,
}

impl Refusal {
    /// The stable code.
    pub const fn code(self) -> &'static str {
        match self {
            Refusal::BadHost => "bad_host",
            Refusal::NoSession => "no_session",
            Refusal::BadToken => "bad_token",
            Refusal::BadOrigin => "bad_origin",
            Refusal::NotJson => "not_json",
        }
    }

    /// The HTTP status.
    pub const fn status(self) -> u16 {
        match self {
            Refusal::BadHost | Refusal::BadOrigin | Refusal::NotJson => 403,
            Refusal::NoSession | Refusal::BadToken => 401,
        }
    }
}

/// Whether a `Host` header names us.
pub fn check_host(host: Option<&str>, allowed: &[String]) -> Result<(), Refusal> {
    let host = host.ok_or(Refusal::BadHost)?;
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(host)) {
        Ok(())
    } else {
        Err(Refusal::BadHost)
    }
}

/// Whether an `Origin` header is one of ours (`http://` plus an allowed host).
pub fn check_origin(origin: Option<&str>, allowed: &[String]) -> Result<(), Refusal> {
    let origin = origin.ok_or(Refusal::BadOrigin)?;
    let host = origin.strip_prefix("http://").ok_or(Refusal::BadOrigin)?;
    check_host(Some(host), allowed).map_err(|_| Refusal::BadOrigin)
}

/// Whether a POST declares a JSON body (a cross-site HTML form cannot).
pub fn check_json(content_type: Option<&str>) -> Result<(), Refusal> {
    let ct = content_type.ok_or(Refusal::NotJson)?;
    let media = ct.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(Refusal::NotJson)
    }
}

/// Whether the session header carries the session secret.
pub fn check_session(presented: Option<&str>, expected: Option<&str>) -> Result<(), Refusal> {
    match (presented, expected) {
        (Some(p), Some(e)) if same_secret(p, e) => Ok(()),
        _ => Err(Refusal::NoSession),
    }
}

/// Whether `presented` is `expected`, in constant time for equal lengths.
pub fn same_secret(presented: &str, expected: &str) -> bool {
    presented.len() == expected.len() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

/// Headers every answer carries: nothing from elsewhere may load, run,
/// frame the page or be framed by it, nothing is cached, no referrer leaves.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_loopback_host_and_port_pass() {
        // Only the address bound: `localhost` may name another user's
        // listener on [::1] at the same port.
        let allowed = vec!["127.0.0.1:8123".to_owned()];
        assert_eq!(check_host(Some("127.0.0.1:8123"), &allowed), Ok(()));
        for bad in [
            "localhost:8123",
            "[::1]:8123",
            "127.0.0.1:8124",
            "evil.example:8123",
            "127.0.0.1",
            "127.0.0.1:8123.evil.example",
            "",
        ] {
            assert_eq!(check_host(Some(bad), &allowed), Err(Refusal::BadHost), "{bad}");
        }
        assert_eq!(check_host(None, &allowed), Err(Refusal::BadHost));
    }

    #[test]
    fn only_our_origin_passes() {
        let allowed = vec!["127.0.0.1:8123".to_owned()];
        assert_eq!(check_origin(Some("http://127.0.0.1:8123"), &allowed), Ok(()));
        for bad in ["https://127.0.0.1:8123", "http://evil.example", "null", "http://127.0.0.1:8123/x"] {
            assert_eq!(check_origin(Some(bad), &allowed), Err(Refusal::BadOrigin), "{bad}");
        }
        assert_eq!(check_origin(None, &allowed), Err(Refusal::BadOrigin));
    }

    #[test]
    fn a_form_body_is_not_json() {
        assert_eq!(check_json(Some("application/json")), Ok(()));
        assert_eq!(check_json(Some("application/json; charset=utf-8")), Ok(()));
        for bad in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
            assert_eq!(check_json(Some(bad)), Err(Refusal::NotJson), "{bad}");
        }
        assert_eq!(check_json(None), Err(Refusal::NotJson));
    }

    #[test]
    fn only_the_session_secret_passes() {
        assert_eq!(check_session(Some("abc"), Some("abc")), Ok(()));
        assert_eq!(check_session(Some("abd"), Some("abc")), Err(Refusal::NoSession));
        assert_eq!(check_session(Some("ab"), Some("abc")), Err(Refusal::NoSession));
        assert_eq!(check_session(None, Some("abc")), Err(Refusal::NoSession));
        assert_eq!(check_session(Some("abc"), None), Err(Refusal::NoSession), "before the token was used");
    }
}
