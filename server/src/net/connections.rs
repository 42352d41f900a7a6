//! The open connections, capped in total and per address group. When a cap
//! is reached, or the process runs out of file descriptors, the oldest
//! connection that is not being answered (one still sending its headers or
//! its body, idle between requests, or a long-poll waiting for news) is shed
//! to make room: a slow, idle or waiting connection can be taken back, a
//! request being answered never is.
//! Only if every connection is being answered is the new one refused
//! (closed at once; the client's retry finds room once a request ends).

use super::address::{is_loopback, AddressGroup, TrustedProxies};
use crate::engine::lock;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// What one connection shares with the registry and its request (HTTP/1:
/// one request at a time).
#[derive(Debug, Default)]
pub struct ConnectionState {
    /// [`IDLE`], [`RECEIVING`], [`ANSWERING`] or [`WAITING`].
    phase: AtomicU8,
    /// Told when the connection is shed; its task then closes it.
    pub shed: Notify,
}

/// Waiting for a request's headers (or for nothing).
const IDLE: u8 = 0;
/// Headers in, body still arriving.
const RECEIVING: u8 = 1;
/// The whole request is in and is being answered.
const ANSWERING: u8 = 2;
/// A long-poll waiting for news: holds nothing but its socket, and its
/// client polls again if it is shed.
const WAITING: u8 = 3;

impl ConnectionState {
    /// Marks a request as begun (its body still to come); the connection is
    /// idle again when the guard is dropped.
    pub fn begin_request(self: &Arc<Self>) -> RequestGuard {
        self.phase.store(RECEIVING, Ordering::Release);
        RequestGuard(self.clone())
    }

    fn can_be_shed(&self) -> bool {
        self.phase.load(Ordering::Acquire) != ANSWERING
    }
}

/// A request in progress on a connection; travels in the request's
/// extensions so that the body reader can say when the body is in.
#[derive(Debug, Clone)]
pub struct RequestProgress(Arc<ConnectionState>);

impl RequestProgress {
    /// The body has arrived: from now on the connection is not shed.
    pub fn body_received(&self) {
        let _ = self.0.phase.compare_exchange(RECEIVING, ANSWERING, Ordering::AcqRel, Ordering::Acquire);
    }

    /// A long-poll starts waiting: the connection may be shed meanwhile
    /// (a contact's client polls again), so held polls cannot crowd out
    /// anyone's check-in.
    pub fn waiting(&self) {
        let _ = self.0.phase.compare_exchange(ANSWERING, WAITING, Ordering::AcqRel, Ordering::Acquire);
    }

    /// The long-poll has news to answer with: no longer shed.
    pub fn answering(&self) {
        let _ = self.0.phase.compare_exchange(WAITING, ANSWERING, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// A request in progress on a connection.
#[derive(Debug)]
pub struct RequestGuard(Arc<ConnectionState>);

impl RequestGuard {
    /// A handle for the request's extensions.
    pub fn progress(&self) -> RequestProgress {
        RequestProgress(self.0.clone())
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.phase.store(IDLE, Ordering::Release);
    }
}

/// The caps.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Connections open at once.
    pub total: usize,
    /// Connections open at once from one address group. A trusted proxy or
    /// a loopback peer (a reverse proxy or Tor on this machine) carries
    /// everyone's connections: it counts against the total only, or an
    /// attacker behind it would take the members' share.
    pub per_group: usize,
}

/// The registry of open connections.
#[derive(Debug)]
pub struct Connections {
    caps: Caps,
    proxies: TrustedProxies,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next: u64,
    /// By age: the oldest first.
    open: BTreeMap<u64, Slot>,
    per_group: HashMap<AddressGroup, usize>,
    shed: u64,
    refused: u64,
}

#[derive(Debug)]
struct Slot {
    group: Option<AddressGroup>,
    state: Arc<ConnectionState>,
}

/// A connection's place in the registry; dropping it frees the place.
#[derive(Debug)]
pub struct Admitted {
    id: u64,
    registry: Arc<Connections>,
    /// Shared with the connection's requests.
    pub state: Arc<ConnectionState>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut inner = lock(&self.registry.inner);
        if let Some(slot) = inner.open.remove(&self.id) {
            inner.release(slot.group);
        }
    }
}

/// Counts for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionCounts {
    /// Open now.
    pub open: usize,
    /// Shed to make room, since start.
    pub shed: u64,
    /// Refused because every connection was busy, since start.
    pub refused: u64,
}

impl Inner {
    fn release(&mut self, group: Option<AddressGroup>) {
        let Some(group) = group else { return };
        if let Some(count) = self.per_group.get_mut(&group) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.per_group.remove(&group);
            }
        }
    }

    /// The group holding clearly the most connections, if one does: an
    /// address group with more than one and more than the shared set (from
    /// trusted proxies and loopback, `Some(None)`), or the shared set when
    /// it holds more than one address's share. `None`: no group stands out,
    /// and the oldest connection anywhere makes room (so many addresses
    /// with one connection each cannot single out the proxy's users).
    fn group_standing_out(&self, per_group: usize) -> Option<Option<AddressGroup>> {
        let shared = self.open.len().saturating_sub(self.per_group.values().sum::<usize>());
        match self.per_group.iter().max_by_key(|(_, n)| **n) {
            Some((group, n)) if *n > 1 && *n > shared => Some(Some(*group)),
            _ if shared > per_group => Some(None),
            _ => None,
        }
    }

    /// Sheds the oldest connection not being answered that `wanted`
    /// accepts; false if none.
    fn shed_oldest(&mut self, wanted: impl Fn(&Slot) -> bool) -> bool {
        let Some(id) = self.open.iter().find(|(_, slot)| slot.state.can_be_shed() && wanted(slot)).map(|(id, _)| *id)
        else {
            return false;
        };
        if let Some(slot) = self.open.remove(&id) {
            slot.state.shed.notify_one();
            self.release(slot.group);
            self.shed += 1;
        }
        true
    }
}

impl Connections {
    /// An empty registry.
    pub fn new(caps: Caps, proxies: TrustedProxies) -> Arc<Self> {
        Arc::new(Connections { caps, proxies, inner: Mutex::new(Inner::default()) })
    }

    /// Admits a connection from `peer`, shedding an idle one if a cap is
    /// reached; `None` if there is no room (close it).
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<Admitted> {
        let shared = self.proxies.trusts(peer) || is_loopback(peer);
        let group = (!shared).then(|| AddressGroup::of(peer));
        let mut inner = lock(&self.inner);
        if let Some(group) = group {
            let from_group = inner.per_group.get(&group).copied().unwrap_or(0);
            if from_group >= self.caps.per_group && !inner.shed_oldest(|slot| slot.group == Some(group)) {
                inner.refused += 1;
                return None;
            }
        }
        // Full in total: room is made in the group holding the most
        // connections (one address's flood sheds its own first), else anywhere.
        if inner.open.len() >= self.caps.total {
            let standing_out = inner.group_standing_out(self.caps.per_group);
            let shed_there = standing_out.is_some_and(|group| inner.shed_oldest(|slot| slot.group == group));
            if !shed_there && !inner.shed_oldest(|_| true) {
                inner.refused += 1;
                return None;
            }
        }
        let id = inner.next;
        inner.next += 1;
        let state = Arc::new(ConnectionState::default());
        inner.open.insert(id, Slot { group, state: state.clone() });
        if let Some(group) = group {
            *inner.per_group.entry(group).or_insert(0) += 1;
        }
        Some(Admitted { id, registry: self.clone(), state })
    }

    /// Sheds the oldest connection not being answered (the process ran out
    /// of file descriptors); false if every connection is being answered.
    pub fn shed_one(&self) -> bool {
        lock(&self.inner).shed_oldest(|_| true)
    }

    /// What `/metrics` shows.
    pub fn counts(&self) -> ConnectionCounts {
        let inner = lock(&self.inner);
        ConnectionCounts { open: inner.open.len(), shed: inner.shed, refused: inner.refused }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn caps_shed_the_oldest_idle_connection_and_spare_busy_ones() {
        let proxies = TrustedProxies::parse("10.0.0.1").unwrap();
        let c = Connections::new(Caps { total: 4, per_group: 2 }, proxies);
        let a1 = c.admit(ip("192.0.2.1")).unwrap();
        let a2 = c.admit(ip("192.0.2.1")).unwrap();
        let busy = a1.state.begin_request();
        busy.progress().body_received();
        let slow = a2.state.begin_request();
        // The group is full: its oldest connection not being answered goes
        // (a2, whose body is still arriving; a1 is being answered).
        let a3 = c.admit(ip("192.0.2.1")).unwrap();
        assert!(a2.state.shed.notified().now_or_never_ready());
        drop(slow);
        assert_eq!(c.counts().open, 2);
        let b = a3.state.begin_request();
        b.progress().body_received();
        // Both of the group's are being answered now: a fourth is refused.
        assert!(c.admit(ip("192.0.2.1")).is_none());
        // A long-poll that waits may be shed; once it answers, not.
        b.progress().waiting();
        let a4 = c.admit(ip("192.0.2.1")).unwrap();
        assert!(a3.state.shed.notified().now_or_never_ready());
        let polled = a4.state.begin_request();
        polled.progress().body_received();
        polled.progress().waiting();
        polled.progress().answering();
        assert!(c.admit(ip("192.0.2.1")).is_none());
        // A proxy counts against the total only, and so does loopback.
        assert!(c.admit(ip("127.0.0.1")).is_some());
        let p1 = c.admit(ip("10.0.0.1")).unwrap();
        let _p2 = c.admit(ip("10.0.0.1")).unwrap();
        // Full in total, and no group stands out (two of 192.0.2.1's, both
        // being answered, two shared): the oldest that may be shed anywhere (p1).
        let _other = c.admit(ip("192.0.2.9")).unwrap();
        assert!(p1.state.shed.notified().now_or_never_ready());
        drop(busy);
        assert!(c.shed_one(), "a1 is idle again and can be shed");
        let counts = c.counts();
        assert_eq!((counts.shed, counts.refused), (4, 2));
        drop((a1, a2, a3, p1));
        assert_eq!(c.counts().open, 3, "a4 (answering), p2 and the other");
        drop((polled, a4));
    }

    trait NowOrNever {
        fn now_or_never_ready(self) -> bool;
    }

    impl<F: std::future::Future> NowOrNever for F {
        fn now_or_never_ready(self) -> bool {
            let waker = std::task::Waker::noop();
            let mut cx = std::task::Context::from_waker(waker);
            let mut fut = std::pin::pin!(self);
            fut.as_mut().poll(&mut cx).is_ready()
        }
    }
}
