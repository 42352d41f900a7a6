//! The delivery worker: drains the durable outbox. Every entry is tried in
//! its own task, never inside a check-in. Fairness: first attempts and
//! retries have lanes of their own, and one mailbox (2) and one member (8)
//! have only so many attempts going at once, so one member's slow or dead
//! receivers cannot delay anyone else's alert; the result — delivered, retry later with backoff, or give up —
//! is written durably with a delivery-log line before the entry leaves the
//! outbox, so a crash at any point means another attempt, never a lost one.

use super::email::Mailer;
use super::http::{HttpSender, TransportError};
use super::target::{vet_for_send, Resolve};
use crate::engine::{log_op, renotify_key, secret_context, target_context, Engine};
use crate::store::{EndpointKind, Op, OutboxChannel, Purpose, QueuedDelivery, StoreError};
use aman_protocol::api::{DeliveryChannel, DeliveryOutcome};
use aman_protocol::at_rest::hmac_sha256;
use aman_protocol::random::random_array;
use aman_protocol::{AccountId, AlertId, MailboxId};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify, Semaphore};

/// First attempts in flight at once: a lane of their own, so a backlog
/// of retries to dead or slow receivers never holds up a new alert.
pub const FIRST_ATTEMPTS: usize = 96;
/// Retries in flight at once.
pub const RETRIES: usize = 32;
/// Attempts in flight (or waiting for a lane) for one mailbox...
pub const PER_MAILBOX: usize = 2;
/// ... and for all the mailboxes of one member: one member's tarpits
/// occupy at most this many of the lanes, whatever they hold.
pub const PER_ACCOUNT: usize = 8;
/// Attempts taken from the outbox at once (running, or waiting for a lane).
const MAX_TAKEN: usize = 4096;

/// Due entries looked at per pass at most.
const SCAN: usize = 4096;

/// Entries of one member passed over for its caps that keep their place.
const KEPT: usize = 2 * PER_ACCOUNT;

/// Seconds the rest are put back by (about one attempt's timeout: by then
/// one of its member's attempts has ended).
const DEFER: u64 = 15;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver accepted it.
    Delivered,
    /// Try again later (5xx, 408, 429, network trouble).
    Transient(String),
    /// Do not try again (4xx, refused address, endpoint gone).
    Permanent(String),
    /// Not attempted, and not logged: a re-notification of an alert a
    /// contact has acknowledged since it was queued.
    Stopped,
}

impl Outcome {
    /// Classifies an HTTP status.
    pub fn from_status(status: u16) -> Self {
        match status {
            200..=299 => Outcome::Delivered,
            408 | 429 => Outcome::Transient(format!("HTTP {status}")),
            400..=499 => Outcome::Permanent(format!("HTTP {status}")),
            _ => Outcome::Transient(format!("HTTP {status}")),
        }
    }
}

/// The delay before retry number `attempts` (1-based): doubling from
/// `base`, capped at `max`, plus up to a quarter more of random jitter.
pub fn backoff(attempts: u32, base: u64, max: u64) -> u64 {
    let delay = base.saturating_mul(1u64 << attempts.saturating_sub(1).min(30)).min(max);
    let jitter = random_array::<2>().map(|b| u64::from(u16::from_be_bytes(b))).unwrap_or(0);
    delay + jitter % (delay / 4 + 1)
}

/// ntfy's priority for an alert or a notice: 5, "max", the one that breaks
/// through Android's Do Not Disturb. The same for both, as everything else.
pub const NTFY_WAKE_PRIORITY: &str = "5";

/// What a notification says. Deliberately not whether an alert or a notice
/// is waiting: both are [`Wake::Waiting`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// An alert, or a notice about someone the contact protects.
    Waiting,
    /// Another contact acknowledged an alert this contact holds.
    Acknowledged,
}

impl Wake {
    /// The webhook's `event`.
    fn event(self) -> &'static str {
        match self {
            Wake::Waiting => "alert",
            Wake::Acknowledged => "acknowledged",
        }
    }

    /// The webhook's `message`.
    fn webhook_message(self) -> &'static str {
        match self {
            Wake::Waiting => {
                "Aman needs your attention: an alert or news about someone you protect is waiting. Run `aman alerts`."
            }
            Wake::Acknowledged => "Another contact acknowledged an Aman alert. Run `aman alerts`.",
        }
    }

    /// The ntfy `Priority` header: waking for an alert (or a notice, which
    /// must read the same); "another contact acknowledged" need not break
    /// through Do Not Disturb.
    fn ntfy_priority(self) -> &'static str {
        match self {
            Wake::Waiting => NTFY_WAKE_PRIORITY,
            Wake::Acknowledged => "4",
        }
    }

    /// The ntfy message.
    fn ntfy_message(self) -> &'static str {
        match self {
            Wake::Waiting => {
                "Aman needs your attention: an alert or news about someone you protect is waiting. Open Aman and run `aman alerts`."
            }
            Wake::Acknowledged => "Another contact acknowledged an Aman alert. Run `aman alerts`.",
        }
    }
}

type Key = (AlertId, MailboxId, OutboxChannel);

/// The deliveries taken from the outbox and not yet recorded, counted per
/// mailbox and per member for the caps.
#[derive(Default)]
struct InFlight {
    keys: HashSet<Key>,
    by_mailbox: HashMap<MailboxId, usize>,
    by_owner: HashMap<Owner, usize>,
}

/// Whose a delivery is: the member the mailbox belongs to (a mailbox
/// already gone counts on its own).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Owner {
    Member(AccountId),
    Orphan(MailboxId),
}

impl InFlight {
    /// Takes `key` if it is not in flight and its mailbox and owner are under their caps.
    fn take(&mut self, key: Key, owner: Owner) -> bool {
        let mailbox = key.1;
        if self.keys.contains(&key)
            || self.by_mailbox.get(&mailbox).copied().unwrap_or(0) >= PER_MAILBOX
            || self.by_owner.get(&owner).copied().unwrap_or(0) >= PER_ACCOUNT
        {
            return false;
        }
        self.keys.insert(key);
        *self.by_mailbox.entry(mailbox).or_insert(0) += 1;
        *self.by_owner.entry(owner).or_insert(0) += 1;
        true
    }

    fn release(&mut self, key: Key, owner: Owner) {
        self.keys.remove(&key);
        release_one(&mut self.by_mailbox, &key.1);
        release_one(&mut self.by_owner, &owner);
    }
}

/// Counts one fewer for `k`, forgetting it at zero (no scan of the map).
fn release_one<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, usize>, k: &K) {
    if let Some(n) = counts.get_mut(k) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            counts.remove(k);
        }
    }
}

struct Deliverer {
    engine: Arc<Engine>,
    resolver: Arc<dyn Resolve>,
    http: HttpSender,
    mailer: Option<Mailer>,
    in_flight: Mutex<InFlight>,
    first_attempts: Semaphore,
    retries: Semaphore,
    /// Told when an attempt ends: entries passed over may go now.
    finished: Notify,
}

/// Runs until `stop` changes.
pub async fn run(engine: Arc<Engine>, resolver: Arc<dyn Resolve>, mut stop: watch::Receiver<bool>) {
    let http = match HttpSender::new() {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the HTTP client: notifications are disabled");
            return;
        }
    };
    let mailer = Mailer::from_config(&engine.config).unwrap_or_else(|e| {
        tracing::error!(error = %e, "bad SMTP settings: e-mail notifications will be retried until they are fixed");
        None
    });
    let d = Arc::new(Deliverer {
        engine: engine.clone(),
        resolver,
        http,
        mailer,
        in_flight: Mutex::new(InFlight::default()),
        first_attempts: Semaphore::new(FIRST_ATTEMPTS),
        retries: Semaphore::new(RETRIES),
        finished: Notify::new(),
    });
    let reminder = super::remind::Reminder {
        engine: engine.clone(),
        resolver: d.resolver.clone(),
        http: d.http.clone(),
        mailer: d.mailer.clone(),
    };
    loop {
        // A member's reminders, from memory (never the outbox).
        for account in engine.take_due_reminders() {
            tokio::spawn(reminder.clone().send(account));
        }
        // The scan reads the store: off the async workers.
        let scanning = d.clone();
        let passed_over = tokio::task::spawn_blocking(move || scanning.start_due()).await.unwrap_or(false);
        let next_ms = match engine.store.next_delivery_due() {
            Ok(Some(due)) => due.saturating_mul(1000).saturating_sub(engine.clock.now_ms()),
            _ => 5_000,
        };
        // Entries passed over for their caps wait for an attempt to end,
        // not for a timer: no spinning on a member's backlog.
        let floor = if passed_over { 1_000 } else { 100 };
        let wait = Duration::from_millis(next_ms.clamp(floor, 5_000));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = engine.delivery_wake.notified() => {}
            _ = d.finished.notified() => {}
            _ = stop.changed() => return,
        }
    }
}

impl Deliverer {
    /// Starts an attempt for every due entry within its caps. Of a
    /// member's entries passed over for its caps, the first KEPT stay where
    /// they are (taken as soon as an attempt ends: an honest member's many
    /// contacts are all told at once); the rest are put back DEFER seconds,
    /// behind whatever is due before then, so that a backlog, however long,
    /// moves out of the way of another member's new alert instead of
    /// standing in front of it. True if some were passed over.
    fn start_due(self: &Arc<Self>) -> bool {
        let e = &self.engine;
        let now = e.clock.now();
        let mut owners: HashMap<MailboxId, Owner> = HashMap::new();
        let mut passed: HashMap<Owner, usize> = HashMap::new();
        let mut deferred = Vec::new();
        let mut looked_at = 0usize;
        let scanned = e.store.scan_due(now, &mut |q| {
            looked_at += 1;
            let owner = *owners.entry(q.mailbox).or_insert_with(|| match e.store.mailbox(&q.mailbox) {
                Ok(Some(mailbox)) => Owner::Member(mailbox.account),
                _ => Owner::Orphan(q.mailbox),
            });
            let key = (q.alert, q.mailbox, q.channel);
            let (took, running, taken) = {
                let mut in_flight = crate::engine::lock(&self.in_flight);
                let running = in_flight.keys.contains(&key);
                (!running && in_flight.take(key, owner), running, in_flight.keys.len())
            };
            if took {
                tokio::spawn(self.clone().attempt(q, owner));
            } else if !running {
                let count = passed.entry(owner).or_insert(0);
                *count += 1;
                if *count > KEPT {
                    deferred.push(q);
                }
            }
            // Tasks waiting for a lane cost little, but not nothing.
            looked_at < SCAN && taken < MAX_TAKEN
        });
        if let Err(err) = scanned {
            tracing::error!(error = %err, "reading the outbox failed");
        }
        let passed_over = !passed.is_empty();
        let ops: Vec<Op> = deferred
            .into_iter()
            .flat_map(|q| {
                [
                    Op::DeleteOutbox(q.due, q.alert, q.mailbox, q.channel),
                    Op::PutOutbox(now + DEFER, q.alert, q.mailbox, q.channel, q.entry),
                ]
            })
            .collect();
        if !ops.is_empty() {
            if let Err(err) = e.store.apply(ops) {
                tracing::error!(error = %err, "deferring notifications failed");
            }
        }
        passed_over
    }

    async fn attempt(self: Arc<Self>, q: QueuedDelivery, owner: Owner) {
        let key = (q.alert, q.mailbox, q.channel);
        let lane = if q.entry.attempts == 0 { &self.first_attempts } else { &self.retries };
        if let Ok(_permit) = lane.acquire().await {
            let (kind, outcome) = self.deliver(&q).await;
            if let Err(e) = self.record(&q, kind, outcome).await {
                tracing::error!(error = %e, "recording a delivery failed; it will be retried");
            }
        }
        crate::engine::lock(&self.in_flight).release(key, owner);
        self.finished.notify_one();
    }

    /// Tries once. Returns the channel kind (`unknown` when the endpoint is
    /// gone) and the outcome.
    async fn deliver(&self, q: &QueuedDelivery) -> (DeliveryChannel, Outcome) {
        let e = &self.engine;
        let endpoint_id = q.channel.endpoint();
        let purpose = q.channel.purpose();
        let notice = purpose == Purpose::Notice;
        // A notice wakes a contact exactly as an alert does: the same body,
        // headers and e-mail, its own random id in place of the alert's.
        let wake = if purpose == Purpose::Ack { Wake::Acknowledged } else { Wake::Waiting };
        let mailbox = match e.store.mailbox(&q.mailbox) {
            Ok(Some(m)) => m,
            Ok(None) => return (DeliveryChannel::Unknown, Outcome::Permanent("mailbox gone".into())),
            Err(err) => return (DeliveryChannel::Unknown, Outcome::Transient(format!("store: {err}"))),
        };
        let Some(endpoint) = mailbox.endpoints.iter().find(|ep| ep.id == endpoint_id) else {
            return (DeliveryChannel::Unknown, Outcome::Permanent("endpoint removed".into()));
        };
        let kind = DeliveryChannel::from(endpoint.kind);
        let Ok(target) = e.server_key().decrypt(&target_context(&q.mailbox, endpoint_id), &endpoint.target_sealed.0)
        else {
            return (kind, Outcome::Transient("endpoint does not decrypt (server key?)".into()));
        };
        let target = String::from_utf8_lossy(&target).into_owned();
        // Notifications never say why an alert fired: the reason is for the
        // contact's own client, behind its mailbox signature.
        if !notice {
            match e.store.alert(&q.alert) {
                // The acknowledgement's write stopped the re-notifications:
                // one queued before it is dropped unsent.
                Ok(Some(alert)) if purpose == Purpose::Renotify && !alert.acks.is_empty() => {
                    return (kind, Outcome::Stopped)
                }
                Ok(Some(_)) => {}
                Ok(None) => return (kind, Outcome::Permanent("alert gone".into())),
                Err(err) => return (kind, Outcome::Transient(format!("store: {err}"))),
            }
        }
        let outcome = match endpoint.kind {
            EndpointKind::Webhook | EndpointKind::Ntfy => {
                // Resolved once per attempt (DNS can change between
                // attempts), and the attempt connects to exactly the
                // addresses vetted here.
                let vetted = match vet_for_send(self.resolver.as_ref(), e.target_policy(), &target).await {
                    Ok(vetted) => vetted,
                    Err((why, true)) => return (kind, Outcome::Permanent(why)),
                    Err((why, false)) => return (kind, Outcome::Transient(why)),
                };
                let (headers, body) = if endpoint.kind == EndpointKind::Webhook {
                    let body = serde_json::json!({
                        "type": "aman.notification",
                        "event": wake.event(),
                        "alert": q.alert,
                        "idempotency_key": q.entry.idempotency_key,
                        "message": wake.webhook_message(),
                    })
                    .to_string()
                    .into_bytes();
                    let secret = endpoint
                        .secret_sealed
                        .as_ref()
                        .and_then(|s| e.server_key().decrypt(&secret_context(&q.mailbox, endpoint_id), &s.0).ok())
                        .map(|s| s.to_vec())
                        .unwrap_or_default();
                    let sig = data_encoding::HEXLOWER.encode(&hmac_sha256(&secret, &body));
                    let headers = vec![
                        ("content-type", "application/json".to_owned()),
                        ("idempotency-key", q.entry.idempotency_key.clone()),
                        ("x-aman-signature", format!("sha256={sig}")),
                        ("user-agent", "aman-server".to_owned()),
                    ];
                    (headers, body)
                } else {
                    let message = wake.ntfy_message();
                    let headers = vec![
                        ("title", "Aman".to_owned()),
                        ("priority", wake.ntfy_priority().to_owned()),
                        ("tags", "rotating_light".to_owned()),
                        ("x-idempotency-key", q.entry.idempotency_key.clone()),
                        ("content-type", "text/plain".to_owned()),
                    ];
                    (headers, message.as_bytes().to_vec())
                };
                match self.http.post_to(&target, &vetted.addrs, &headers, body).await {
                    Ok(status) => Outcome::from_status(status),
                    Err(TransportError::Invalid(_)) => Outcome::Permanent("invalid URL".into()),
                    Err(TransportError::Network(why)) => Outcome::Transient(why),
                }
            }
            EndpointKind::Email => match &self.mailer {
                None => Outcome::Transient("no SMTP relay configured".into()),
                Some(m) => match m.send(&target, &q.entry.idempotency_key).await {
                    Ok(()) => Outcome::Delivered,
                    Err(err) if err.permanent => Outcome::Permanent(err.detail),
                    Err(err) => Outcome::Transient(err.detail),
                },
            },
        };
        (kind, outcome)
    }

    /// Makes the outcome durable: delete, reschedule or give up, with a log line.
    async fn record(&self, q: &QueuedDelivery, kind: DeliveryChannel, outcome: Outcome) -> Result<(), StoreError> {
        let e = &self.engine;
        let now = e.clock.now();
        let now_ms = e.clock.now_ms();
        let mut ops = vec![Op::DeleteOutbox(q.due, q.alert, q.mailbox, q.channel)];
        // The contact's log says "delivered" or "failed" and nothing more:
        // a status code or "connect error" would make the server a probe of
        // whatever the target points at. The organizer's log has the reason.
        match &outcome {
            Outcome::Delivered => {
                e.metrics.inc(&e.metrics.deliveries_ok);
                ops.push(log_op(&q.alert, q.mailbox, kind, now_ms, DeliveryOutcome::Delivered));
                ops.extend(self.renotification(q, now)?);
            }
            Outcome::Stopped => {}
            Outcome::Permanent(why) => {
                e.metrics.inc(&e.metrics.deliveries_failed);
                tracing::warn!(channel = %kind, reason = %why, "notification failed; not retried");
                ops.push(log_op(&q.alert, q.mailbox, kind, now_ms, DeliveryOutcome::Failed));
            }
            Outcome::Transient(why) => {
                e.metrics.inc(&e.metrics.deliveries_failed);
                let mut entry = q.entry.clone();
                entry.attempts += 1;
                ops.push(log_op(&q.alert, q.mailbox, kind, now_ms, DeliveryOutcome::Failed));
                if now.saturating_sub(entry.first_queued) >= e.config.delivery_horizon {
                    tracing::warn!(channel = %kind, reason = %why, attempts = entry.attempts, "notification failed; gave up");
                } else {
                    tracing::info!(channel = %kind, reason = %why, attempts = entry.attempts, "notification failed; will retry");
                    let due = now + backoff(entry.attempts, e.config.delivery_backoff, e.config.delivery_backoff_max);
                    ops.push(Op::PutOutbox(due, q.alert, q.mailbox, q.channel, entry));
                }
            }
        }
        e.store.apply(ops)?;
        e.store.durable().wait().await?;
        Ok(())
    }

    /// The next re-notification after an alert's notification got through,
    /// written with its outcome (so it survives any crash): the same
    /// channel `renotify_interval` later, unless a contact has acknowledged
    /// the alert or the delivery horizon would have passed. The reason of
    /// the alert plays no part: a duress, panic or missed alert repeats
    /// alike. Notices and "acknowledged" notifications are not repeated.
    fn renotification(&self, q: &QueuedDelivery, now: u64) -> Result<Option<Op>, StoreError> {
        let e = &self.engine;
        let interval = e.config.renotify_interval;
        if interval == 0 || matches!(q.channel.purpose(), Purpose::Ack | Purpose::Notice) {
            return Ok(None);
        }
        // Whole seconds, rounded up: never sooner than the interval.
        let due = e.clock.now_ms().div_ceil(1000).max(now).saturating_add(interval);
        if due.saturating_sub(q.entry.first_queued) >= e.config.delivery_horizon {
            return Ok(None);
        }
        // An acknowledgement landing after this read still stops it: the
        // entry is dropped when it comes due (`Outcome::Stopped`).
        match e.store.alert(&q.alert)? {
            Some(alert) if alert.acks.is_empty() => {}
            _ => return Ok(None),
        }
        let entry = crate::store::OutboxEntry {
            endpoint: q.entry.endpoint,
            attempts: 0,
            idempotency_key: renotify_key(&q.entry.idempotency_key),
            first_queued: q.entry.first_queued,
        };
        Ok(Some(Op::PutOutbox(due, q.alert, q.mailbox, q.channel.with_purpose(Purpose::Renotify), entry)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_backoff() {
        assert_eq!(Outcome::from_status(204), Outcome::Delivered);
        assert!(matches!(Outcome::from_status(500), Outcome::Transient(_)));
        assert!(matches!(Outcome::from_status(429), Outcome::Transient(_)));
        assert!(matches!(Outcome::from_status(408), Outcome::Transient(_)));
        assert!(matches!(Outcome::from_status(404), Outcome::Permanent(_)));
        assert!(matches!(Outcome::from_status(410), Outcome::Permanent(_)));
        for attempts in 1..40 {
            let d = backoff(attempts, 5, 3600);
            let base = (5u64 << (attempts - 1).min(30)).min(3600);
            assert!(d >= base && d <= base + base / 4, "{attempts}: {d}");
        }
        // Default settings keep trying for well over a day before the 48 h horizon.
        let total: u64 = (1..=60).map(|a| (5u64 << (a - 1).min(30)).min(3600)).sum();
        assert!(total > 24 * 3600);
    }
}
