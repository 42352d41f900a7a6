//! The network edge, below the HTTP API: which address a request is counted
//! against, the connection caps and the accept loop with its timeouts.

pub mod address;
pub mod connections;
pub mod listen;

pub use address::{AddressGroup, AddressRange, TrustedProxies};
pub use connections::{Caps, ConnectionCounts, Connections, RequestProgress};
pub use listen::{serve, Timeouts};

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// File descriptors kept back from connections: the store, the listeners,
/// the admin socket and resolver (64), and every outbound delivery that may
/// be under way at once.
const DESCRIPTORS_KEPT: u64 = 64 + (crate::delivery::worker::FIRST_ATTEMPTS + crate::delivery::worker::RETRIES) as u64;

/// Raises the open-file limit to what the system allows, and returns how
/// many connections fit under it (`wanted` at most), so that the connection
/// cap, not a failing `accept`, is what an attacker meets first.
pub fn connections_that_fit(wanted: usize) -> usize {
    let mut limit = getrlimit(Resource::Nofile);
    let below_hard = match (limit.current, limit.maximum) {
        (Some(current), Some(hard)) => current < hard,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if below_hard && setrlimit(Resource::Nofile, Rlimit { current: limit.maximum, maximum: limit.maximum }).is_ok() {
        limit = getrlimit(Resource::Nofile);
    }
    match limit.current {
        Some(current) => {
            let room = usize::try_from(current.saturating_sub(DESCRIPTORS_KEPT)).unwrap_or(usize::MAX);
            wanted.min(room.max(16))
        }
        None => wanted, // unlimited
    }
}
