//! Request authentication: the signature over method, path, body hash,
//! caller, time and nonce; the time window; the replay cache; rate limits.

use crate::engine::lock;
use crate::error::ApiError;
use aman_protocol::request::{AuthHeaders, RequestAuth, HEADER_CALLER, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIME};
use aman_protocol::{ServerId, Signature, VerifyingKey};
use axum::http::{HeaderMap, StatusCode};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

/// Reads the four auth headers and rebuilds the fields signed for `server`.
pub fn parse_request(
    server: ServerId,
    method: &str,
    path: &str,
    body: &[u8],
    headers: &HeaderMap,
) -> Result<(RequestAuth, Signature), ApiError> {
    let get =
        |name: &str| -> Result<String, ApiError> {
            headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned).ok_or_else(|| {
                ApiError::new(StatusCode::UNAUTHORIZED, "missing_auth", format!("missing header {name}"))
            })
        };
    let auth_headers = AuthHeaders {
        caller: get(HEADER_CALLER)?,
        time: get(HEADER_TIME)?,
        nonce: get(HEADER_NONCE)?,
        signature: get(HEADER_SIGNATURE)?,
    };
    RequestAuth::from_headers(server, method, path, body, &auth_headers)
        .map_err(|e| ApiError::decode("auth headers", e))
}

/// Nonces seen within the time window, to refuse replays.
#[derive(Debug, Default)]
pub struct ReplayCache {
    inner: Mutex<ReplayInner>,
}

/// (caller, nonce)
type NonceKey = ([u8; 16], [u8; 16]);

#[derive(Debug, Default)]
struct ReplayInner {
    seen: HashSet<NonceKey>,
    expiry: VecDeque<(u64, NonceKey)>,
}

impl ReplayCache {
    /// Records `(caller, nonce)`; false if it was already seen.
    pub fn check_and_insert(&self, caller: [u8; 16], nonce: [u8; 16], now: u64, window: u64) -> bool {
        let mut inner = lock(&self.inner);
        // Entries older than twice the window can no longer pass the time check.
        while let Some((exp, key)) = inner.expiry.front().copied() {
            if exp > now {
                break;
            }
            inner.expiry.pop_front();
            inner.seen.remove(&key);
        }
        if !inner.seen.insert((caller, nonce)) {
            return false;
        }
        inner.expiry.push_back((now + 2 * window + 1, (caller, nonce)));
        true
    }
}

/// Verifies a parsed request against the caller's key and the clock.
pub fn verify(
    auth: &RequestAuth,
    sig: &Signature,
    key: Option<VerifyingKey>,
    now: u64,
    window: u64,
    boot_time: u64,
    replay: &ReplayCache,
) -> Result<(), ApiError> {
    // Unknown caller and bad signature look the same from outside.
    let key = key.ok_or_else(ApiError::unauthorized)?;
    auth.verify(&key, sig).map_err(|_| ApiError::unauthorized())?;
    if auth.time.abs_diff(now) > window {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "request_expired",
            "request time is outside the accepted window; check the clock",
        ));
    }
    if auth.time < boot_time {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "request_expired",
            "request was signed before the server started; sign it again",
        ));
    }
    if !replay.check_and_insert(auth.caller, auth.nonce, now, window) {
        return Err(ApiError::new(StatusCode::CONFLICT, "replayed_request", "this request was already received"));
    }
    Ok(())
}

/// Fixed-window rate limiter per key. Keys (IP addresses, caller ids) live
/// in memory only and are never logged or stored.
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<Vec<u8>, (u64, u32)>>,
}

impl RateLimiter {
    /// Counts one request for `key` in the current minute; false over `per_minute`.
    pub fn allow(&self, key: &[u8], per_minute: u32, now: u64) -> bool {
        if per_minute == 0 {
            return true;
        }
        let minute = now / 60;
        let mut windows = lock(&self.windows);
        if windows.len() > 100_000 {
            windows.retain(|_, (m, _)| *m == minute);
        }
        let entry = windows.entry(key.to_vec()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 += 1;
        entry.1 <= per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_cache_refuses_repeats_and_forgets_after_window() {
        let c = ReplayCache::default();
        assert!(c.check_and_insert([1; 16], [2; 16], 1000, 300));
        assert!(!c.check_and_insert([1; 16], [2; 16], 1001, 300));
        assert!(c.check_and_insert([3; 16], [2; 16], 1001, 300));
        assert!(c.check_and_insert([1; 16], [2; 16], 1000 + 601 + 1, 300));
    }

    #[test]
    fn rate_limiter_counts_per_minute() {
        let r = RateLimiter::default();
        assert!(r.allow(b"k", 2, 60));
        assert!(r.allow(b"k", 2, 61));
        assert!(!r.allow(b"k", 2, 62));
        assert!(r.allow(b"other", 2, 62));
        assert!(r.allow(b"k", 2, 120));
    }
}
