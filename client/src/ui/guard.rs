//! Who may talk to the local interface: the checks every request passes
//! before anything else looks at it. Pure functions over the request's
//! parts, so that each refusal is unit-tested.
//!
//! The interface listens on loopback, but any web page the user opens can
//! make the browser send requests there, and a rebinding DNS name can point
//! at 127.0.0.1. So, like a local admin interface:
//! - `Host` must name the loopback address and port we listen on (a
//!   rebinding name never passes);
//! - a one-time token, printed by `aman ui`, is swapped for a session
//!   cookie (`HttpOnly`, `SameSite=Strict`); every other request needs the
//!   cookie, compared in constant time;
//! - a request that changes anything (POST) must carry our own `Origin`
//!   and a JSON body, which a cross-site form cannot send.

use subtle::ConstantTimeEq;

/// The cookie that carries the session.
pub const COOKIE: &str = "aman_ui";

/// Why a request is refused: a stable code for the page and the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `Host` is not our loopback address and port (DNS rebinding).
    BadHost,
    /// No session cookie, or not ours.
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

/// The names the browser may use for us: `127.0.0.1:PORT`, `localhost:PORT`
/// and `[::1]:PORT`, whichever loopback address we listen on.
pub fn allowed_hosts(port: u16) -> Vec<String> {
    vec![format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")]
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

/// The session id a `Cookie` header carries, if any.
pub fn session_from_cookies(cookie_header: Option<&str>) -> Option<&str> {
    cookie_header?.split(';').map(str::trim).find_map(|pair| pair.strip_prefix(COOKIE)?.strip_prefix('='))
}

/// Whether `presented` is `expected`, in constant time for equal lengths.
pub fn same_secret(presented: &str, expected: &str) -> bool {
    presented.len() == expected.len() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

/// The `Set-Cookie` value that starts a session.
pub fn session_cookie(session: &str) -> String {
    format!("{COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/")
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
        let allowed = allowed_hosts(8123);
        assert_eq!(check_host(Some("127.0.0.1:8123"), &allowed), Ok(()));
        assert_eq!(check_host(Some("LOCALHOST:8123"), &allowed), Ok(()));
        assert_eq!(check_host(Some("[::1]:8123"), &allowed), Ok(()));
        for bad in ["127.0.0.1:8124", "evil.example:8123", "127.0.0.1", "127.0.0.1:8123.evil.example", ""] {
            assert_eq!(check_host(Some(bad), &allowed), Err(Refusal::BadHost), "{bad}");
        }
        assert_eq!(check_host(None, &allowed), Err(Refusal::BadHost));
    }

    #[test]
    fn only_our_origin_passes() {
        let allowed = allowed_hosts(8123);
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
    fn the_session_cookie_is_found_among_others() {
        assert_eq!(session_from_cookies(Some("a=1; aman_ui=abc; b=2")), Some("abc"));
        assert_eq!(session_from_cookies(Some("aman_ui_other=abc")), None);
        assert_eq!(session_from_cookies(None), None);
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abd", "abc"));
        assert!(!same_secret("ab", "abc"));
    }
}
