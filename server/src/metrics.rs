//! Counters exported at `/metrics` in the Prometheus text format. Counts
//! only: no ids, no addresses, no labels that could identify a member.

use crate::net::ConnectionCounts;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Process-wide counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Accepted check-ins.
    pub checkins: AtomicU64,
    /// Registered accounts.
    pub registrations: AtomicU64,
    /// Alerts dispatched to their contacts (any reason: the reason is not
    /// exported; counted by the scheduler, never inside a request).
    pub alerts_fired: AtomicU64,
    /// Requests answered with a 4xx.
    pub rejected: AtomicU64,
    /// Notifications delivered.
    pub deliveries_ok: AtomicU64,
    /// Notification attempts that failed.
    pub deliveries_failed: AtomicU64,
}

impl Metrics {
    /// Adds one.
    pub fn inc(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text; `armed` is the current number of armed
    /// deadlines, `waiting` of long-polls held, `connections` the public
    /// listener's.
    pub fn render(&self, armed: usize, waiting: usize, connections: ConnectionCounts) -> String {
        let mut out = String::new();
        let rows = [
            ("aman_checkins_total", "counter", "Accepted check-ins.", self.checkins.load(Ordering::Relaxed)),
            ("aman_registrations_total", "counter", "Registered accounts.", self.registrations.load(Ordering::Relaxed)),
            (
                "aman_alerts_fired_total",
                "counter",
                "Alerts dispatched to their contacts.",
                self.alerts_fired.load(Ordering::Relaxed),
            ),
            (
                "aman_requests_rejected_total",
                "counter",
                "Requests answered with a 4xx.",
                self.rejected.load(Ordering::Relaxed),
            ),
            (
                "aman_deliveries_ok_total",
                "counter",
                "Notifications delivered.",
                self.deliveries_ok.load(Ordering::Relaxed),
            ),
            (
                "aman_deliveries_failed_total",
                "counter",
                "Failed notification attempts.",
                self.deliveries_failed.load(Ordering::Relaxed),
            ),
            ("aman_armed_deadlines", "gauge", "Deadlines currently armed.", armed as u64),
            ("aman_mailbox_waiters", "gauge", "Long-polls held now.", waiting as u64),
            ("aman_connections_open", "gauge", "Connections open now.", connections.open as u64),
            ("aman_connections_shed_total", "counter", "Idle connections closed to make room.", connections.shed),
            (
                "aman_connections_refused_total",
                "counter",
                "Connections closed at once: every connection was busy.",
                connections.refused,
            ),
        ];
        for (name, kind, help, value) in rows {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        }
        out
    }
}
