//! Request authentication: the signature over method, path, body hash,
//! caller, time and nonce; the time window; the replay cache; rate limits.

use crate::engine::lock;
use crate::error::ApiError;
use aman_protocol::api::ErrorCode;
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
    let get = |name: &str| -> Result<String, ApiError> {
        headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned).ok_or_else(|| {
            ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::MissingAuth, format!("missing header {name}"))
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

/// Nonces seen within the time window, to refuse replays. Only requests that
/// authenticated and were within their caller's budget are remembered. The
/// cache is bounded: past [`REPLAY_CAPACITY`] only callers holding fewer
/// than [`REPLAY_FAIR_SHARE`] nonces may add one (so a few busy callers, an
/// insider's accounts, cannot fill it for everyone), and past twice the
/// capacity nobody may: the request is refused as "overloaded" rather than
/// the cache growing.
#[derive(Debug, Default)]
pub struct ReplayCache {
    inner: Mutex<ReplayInner>,
}

/// Nonces remembered at once before only light callers may add more
/// (about 100 bytes each).
pub const REPLAY_CAPACITY: usize = 200_000;

/// Nonces a caller may hold and still add one when the cache is past its
/// capacity: a member's or contact's ordinary use in a time window.
pub const REPLAY_FAIR_SHARE: u32 = 64;

/// (caller, nonce)
type NonceKey = ([u8; 16], [u8; 16]);

#[derive(Debug, Default)]
struct ReplayInner {
    seen: HashSet<NonceKey>,
    expiry: VecDeque<(u64, NonceKey)>,
    per_caller: HashMap<[u8; 16], u32>,
}

impl ReplayInner {
    /// Forgets entries older than twice the window: they can no longer
    /// pass the time check.
    fn expire(&mut self, now: u64) {
        while let Some((exp, key)) = self.expiry.front().copied() {
            if exp > now {
                break;
            }
            self.expiry.pop_front();
            self.seen.remove(&key);
            if let Some(count) = self.per_caller.get_mut(&key.0) {
                *count -= 1;
                if *count == 0 {
                    self.per_caller.remove(&key.0);
                }
            }
        }
    }
}

/// Why a nonce was not remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRemembered {
    /// Seen before: a replay.
    Replayed,
    /// The cache is full.
    Full,
}

impl ReplayCache {
    /// Whether `(caller, nonce)` was seen, remembering nothing: checked
    /// before a request spends its caller's budget, so that replaying a
    /// captured request cannot spend it.
    pub fn seen(&self, caller: [u8; 16], nonce: [u8; 16]) -> bool {
        lock(&self.inner).seen.contains(&(caller, nonce))
    }

    /// Records `(caller, nonce)`.
    pub fn remember(&self, caller: [u8; 16], nonce: [u8; 16], now: u64, window: u64) -> Result<(), NotRemembered> {
        let mut inner = lock(&self.inner);
        inner.expire(now);
        if inner.seen.contains(&(caller, nonce)) {
            return Err(NotRemembered::Replayed);
        }
        let held = inner.per_caller.get(&caller).copied().unwrap_or(0);
        let full = inner.seen.len() >= REPLAY_CAPACITY
            && (held >= REPLAY_FAIR_SHARE || inner.seen.len() >= 2 * REPLAY_CAPACITY);
        if full {
            return Err(NotRemembered::Full);
        }
        inner.seen.insert((caller, nonce));
        *inner.per_caller.entry(caller).or_insert(0) += 1;
        inner.expiry.push_back((now + 2 * window + 1, (caller, nonce)));
        Ok(())
    }

    /// The answer for a nonce that was not remembered.
    pub fn refusal(why: NotRemembered) -> ApiError {
        match why {
            NotRemembered::Replayed => {
                ApiError::new(StatusCode::CONFLICT, ErrorCode::ReplayedRequest, "this request was already received")
            }
            NotRemembered::Full => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Overloaded,
                "the server is busy; try again shortly",
            )
            .retry_after(5),
        }
    }
}

/// Stands in for an unknown caller's key, so that an unknown caller costs
/// the same verification as a known one with a bad signature and the two
/// cannot be told apart by time (RFC 8032 test 1's public key).
const STAND_IN_KEY: VerifyingKey = VerifyingKey([
    0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72,
    0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
]);

/// Checks a parsed request's signature (against the caller's key, or a
/// stand-in when the caller is unknown: the same work either way) and its
/// time. The nonce is not remembered here: the caller does that once the
/// request is within its budget ([`ReplayCache::remember`]).
pub fn authenticate(
    auth: &RequestAuth,
    sig: &Signature,
    key: Option<VerifyingKey>,
    now: u64,
    window: u64,
    boot_time: u64,
) -> Result<(), ApiError> {
    let known = key.is_some();
    let verified = auth.verify(&key.unwrap_or(STAND_IN_KEY), sig).is_ok();
    // Unknown caller and bad signature look the same from outside.
    if !(known && verified) {
        return Err(ApiError::unauthorized());
    }
    if auth.time.abs_diff(now) > window {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::RequestExpired,
            "request time is outside the accepted window; check the clock",
        ));
    }
    if auth.time < boot_time {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::RequestExpired,
            "request was signed before the server started; sign it again",
        ));
    }
    Ok(())
}

/// Fixed-window rate limiter per key: counts for the current minute only,
/// for at most `capacity` keys. Keys (address groups, caller ids) live in
/// memory only and are never logged or stored. When the minute turns, the
/// counts are dropped whole (no scan); when the map is full, a key not yet
/// counted this minute is refused rather than the map growing.
#[derive(Debug)]
pub struct RateLimiter {
    capacity: usize,
    window: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    minute: u64,
    counts: HashMap<Vec<u8>, u32>,
}

impl RateLimiter {
    /// A limiter for at most `capacity` keys a minute.
    pub fn new(capacity: usize) -> Self {
        RateLimiter { capacity, window: Mutex::new(Window::default()) }
    }

    /// Counts one request for `key` in the current minute; false over `per_minute`.
    pub fn allow(&self, key: &[u8], per_minute: u32, now: u64) -> bool {
        self.allow_all(&[(key, per_minute)], now)
    }

    /// Counts one request against every `(key, per_minute)` at once, or
    /// against none if any is over its budget (or is new when the map is
    /// full): a request refused by one range spends nothing of the others'.
    pub fn allow_all(&self, keys: &[(&[u8], u32)], now: u64) -> bool {
        let minute = now / 60;
        let mut window = lock(&self.window);
        if window.minute != minute {
            *window = Window { minute, counts: HashMap::new() };
        }
        let counted: Vec<&(&[u8], u32)> = keys.iter().filter(|(_, per_minute)| *per_minute > 0).collect();
        let new = counted.iter().filter(|(key, _)| !window.counts.contains_key(*key)).count();
        if window.counts.len() + new > self.capacity {
            return false;
        }
        let within = |(key, per_minute): &&(&[u8], u32)| window.counts.get(*key).copied().unwrap_or(0) < *per_minute;
        if !counted.iter().all(within) {
            return false;
        }
        for (key, _) in counted {
            *window.counts.entry(key.to_vec()).or_insert(0) += 1;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_cache_refuses_repeats_and_forgets_after_window() {
        let c = ReplayCache::default();
        assert!(c.remember([1; 16], [2; 16], 1000, 300).is_ok());
        assert_eq!(c.remember([1; 16], [2; 16], 1001, 300), Err(NotRemembered::Replayed));
        assert!(c.remember([3; 16], [2; 16], 1001, 300).is_ok());
        assert!(c.remember([1; 16], [2; 16], 1000 + 601 + 1, 300).is_ok());
    }

    #[test]
    fn a_full_replay_cache_still_takes_light_callers() {
        let c = ReplayCache::default();
        let nonce = |i: usize| {
            let mut n = [0u8; 16];
            n[..8].copy_from_slice(&(i as u64).to_be_bytes());
            n
        };
        // Two heavy callers fill it.
        for i in 0..REPLAY_CAPACITY {
            assert!(c.remember([(i % 2) as u8; 16], nonce(i), 1000, 300).is_ok());
        }
        assert_eq!(c.remember([0; 16], nonce(usize::MAX), 1000, 300), Err(NotRemembered::Full));
        // A member with a few requests in the window is still served.
        for i in 0..REPLAY_FAIR_SHARE as usize {
            assert!(c.remember([9; 16], nonce(i), 1000, 300).is_ok());
        }
        assert_eq!(c.remember([9; 16], nonce(999), 1000, 300), Err(NotRemembered::Full));
        assert!(c.seen([9; 16], nonce(0)) && !c.seen([9; 16], nonce(999)));
        // Once the window passes, all of it is forgotten.
        assert!(c.remember([0; 16], nonce(usize::MAX), 1000 + 601, 300).is_ok());
    }

    #[test]
    fn the_stand_in_key_is_a_valid_key() {
        // RFC 8032 test 1: the empty message, signed by the stand-in's owner.
        let sig = data_encoding::HEXLOWER
            .decode(b"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
            .unwrap();
        let sig = Signature(sig.try_into().unwrap());
        assert!(STAND_IN_KEY.verify(b"", &sig).is_ok());
    }

    #[test]
    fn rate_limiter_counts_per_minute() {
        let r = RateLimiter::new(2);
        assert!(r.allow(b"k", 2, 60));
        assert!(r.allow(b"k", 2, 61));
        assert!(!r.allow(b"k", 2, 62));
        assert!(r.allow(b"other", 2, 62));
        // Full: a third key is refused this minute, the two counted are not.
        assert!(!r.allow(b"third", 2, 62));
        assert!(r.allow(b"other", 2, 63));
        // A new minute starts from nothing.
        assert!(r.allow(b"k", 2, 120));
        assert!(r.allow(b"third", 2, 120));
        // Several ranges at once: one over its budget spends nothing of the others'.
        let r = RateLimiter::new(10);
        assert!(r.allow_all(&[(b"wide", 2), (b"narrow-a", 5)], 60));
        assert!(r.allow_all(&[(b"wide", 2), (b"narrow-b", 5)], 60));
        assert!(!r.allow_all(&[(b"wide", 2), (b"narrow-c", 5)], 60), "the wide range is spent");
        assert!(r.allow_all(&[(b"narrow-c", 5)], 60), "and narrow-c was not counted there");
        assert!(r.allow_all(&[(b"zero", 0), (b"narrow-c", 5)], 60), "a zero budget is no limit");
    }
}
