//! A contact's view of a member with several servers: which servers they
//! are (from the directory the member sealed to its contacts, never from a
//! server's word), and which alerts from different servers are one event.

use crate::api::unix_now;
use crate::api::ApiClient;
use crate::context::Ctx;
use crate::error::ClientError;
use crate::state::{new_server_wait, AckRecord, MemberMirror, Membership, Vault};
use aman_protocol::api::{AlertReason, MailboxAlert, Notice};
use aman_protocol::routes::{self, NoBody};
use aman_protocol::{directory, EncryptionSecret, MailboxId, SigningKey};

/// How far apart two servers' alerts for one event may fire when they name
/// no deadline to compare (a panic, a duress check-in): a server that was
/// down fires late.
pub const SAME_EVENT_WINDOW: u64 = 86_400;

/// Whether alerts `a` and `b`, from two different servers, are one event:
/// the same reason and the same sealed note, byte for byte (so the same
/// member signature: every server holds the member's one sealed note), and
/// either the same missed deadline, or fired within [`SAME_EVENT_WINDOW`]
/// of each other with nothing to tell them apart: neither has a deadline (a
/// panic, a duress check-in), or the later one comes from a server that was
/// down (it fires late, for its deadline moved past its restart). Then
/// never when the member signed a heartbeat between them (`alive_at`, the
/// newest this device verified): the member was alive after the first.
pub fn same_event(a: &MailboxAlert, b: &MailboxAlert, alive_at: Option<u64>) -> bool {
    if a.reason != b.reason || a.sealed_alert.0 != b.sealed_alert.0 || a.reason == AlertReason::Drill {
        return false;
    }
    if a.deadline.is_some() && a.deadline == b.deadline {
        return true;
    }
    let (early, late) = if a.fired_at <= b.fired_at { (a, b) } else { (b, a) };
    if late.fired_at - early.fired_at > SAME_EVENT_WINDOW
        || alive_at.is_some_and(|t| early.fired_at < t && t < late.fired_at)
    {
        return false;
    }
    match (early.deadline, late.deadline) {
        (None, None) => true,
        // A server that was down fires late, for the deadline it knew moved
        // past its restart (§9): the deadlines differ, and only its word
        // that it was down (and the window, and no heartbeat between) ties
        // the two.
        (Some(_), Some(_)) => late.server_was_down,
        _ => false,
    }
}

/// Whether notices `a` and `b`, from two different servers, tell of one
/// change: the member sends each change to every server, and each tells
/// the contacts (a server that was down, later).
pub fn same_notice(a: &Notice, b: &Notice) -> bool {
    a.kind == b.kind
        && a.contact == b.contact
        && a.contact_encryption == b.contact_encryption
        && a.at.abs_diff(b.at) <= SAME_EVENT_WINDOW
}

/// The notices read from a member's servers, each change once (the first
/// server's copy, else the earliest).
pub fn distinct_notices(notices: Vec<(String, Notice)>) -> Vec<Notice> {
    let mut kept: Vec<(String, Notice)> = Vec::new();
    for (server, n) in notices {
        if !kept.iter().any(|(s, k)| *s != server && same_notice(k, &n)) {
            kept.push((server, n));
        }
    }
    kept.into_iter().map(|(_, n)| n).collect()
}

/// One event: the alerts each server fired for it, the earliest first.
#[derive(Debug, Clone)]
pub struct Event {
    /// (server URL, that server's alert).
    pub copies: Vec<(String, MailboxAlert)>,
}

impl Event {
    /// The copy shown: the first server's if it fired it, else the earliest
    /// (a server cannot make its own copy the one shown by naming an
    /// earlier time); with the other contacts' acknowledgements, the earlier
    /// notes and the notices of every copy, so that no server can hide what
    /// another shows.
    pub fn shown(&self, first_server: &str, mine: MailboxId, acked: Option<&[AckRecord]>) -> MailboxAlert {
        let lead = self.copies.iter().find(|(s, _)| s == first_server).unwrap_or(&self.copies[0]);
        let mut shown = lead.1.clone();
        // For a member with several servers, "acknowledged by you" only when
        // this device made it (`acked`): no server's word makes another's
        // real alert look handled. (With one server, its word is all there is.)
        if acked.is_some_and(|records| !self.acked_here(records)) {
            shown.acks.retain(|a| a.mailbox != mine);
        }
        for (_, other) in &self.copies {
            // This contact's own acknowledgement is the shown copy's word
            // (each copy's is in `copies`): another server cannot make the
            // shown one read "acknowledged by you".
            for ack in other.acks.iter().filter(|a| a.mailbox != mine) {
                if !shown.acks.iter().any(|a| a.mailbox == ack.mailbox) {
                    shown.acks.push(ack.clone());
                }
            }
            for note in &other.earlier_notes {
                if !shown.earlier_notes.iter().any(|n| n.sealed_alert.0 == note.sealed_alert.0) {
                    shown.earlier_notes.push(note.clone());
                }
            }
            for notice in &other.notices {
                if !shown.notices.iter().any(|n| n.kind == notice.kind && n.at.abs_diff(notice.at) <= SAME_EVENT_WINDOW)
                {
                    shown.notices.push(notice.clone());
                }
            }
            shown.updated_ms = shown.updated_ms.max(other.updated_ms);
        }
        shown.earlier_notes.sort_by_key(|n| std::cmp::Reverse(n.received_at));
        shown.notices.sort_by_key(|n| n.at);
        shown
    }

    /// Whether this device acknowledged one of its copies (its own records).
    pub fn acked_here(&self, acked: &[AckRecord]) -> bool {
        self.copies.iter().any(|(s, a)| acked.iter().any(|r| r.is_of(s, a)))
    }

    /// The servers that fired it.
    pub fn servers(&self) -> Vec<String> {
        self.copies.iter().map(|(s, _)| s.clone()).collect()
    }
}

/// How far ahead of this device's clock an alert's firing time or deadline
/// may be and still be grouped with another server's: beyond, it is a
/// server's invention (made to swallow a real alert to come), shown alone.
pub const FUTURE_SLACK: u64 = 600;

/// Whether an alert's times are ones a server could have seen by `now`.
pub fn plausible(a: &MailboxAlert, now: u64) -> bool {
    let limit = now.saturating_add(FUTURE_SLACK);
    a.fired_at <= limit && a.deadline.is_none_or(|d| d <= limit)
}

/// Groups alerts read from a member's servers into events, in firing order:
/// an alert joins the earliest event with the same note, reason and
/// deadline that has no copy from its server yet. An alert with times in
/// the future is an event of its own.
pub fn events(mut alerts: Vec<(String, MailboxAlert)>, now: u64, alive_at: Option<u64>) -> Vec<Event> {
    alerts.sort_by_key(|(_, a)| (a.fired_at, a.updated_ms));
    let mut out: Vec<Event> = Vec::new();
    for (server, alert) in alerts {
        let joined = out.iter_mut().find(|e| {
            plausible(&alert, now)
                && plausible(&e.copies[0].1, now)
                && !e.copies.iter().any(|(s, _)| *s == server)
                && same_event(&e.copies[0].1, &alert, alive_at)
        });
        match joined {
            Some(e) => e.copies.push((server, alert)),
            None => out.push(Event { copies: vec![(server, alert)] }),
        }
    }
    out
}

/// The alert of `server`'s, among `pool`, that is the same event as `to`
/// and fired closest to it: none when two are as close (ambiguous).
fn closest<'a>(
    pool: &'a [(String, MailboxAlert)],
    server: &str,
    to: &MailboxAlert,
    alive_at: Option<u64>,
) -> Option<&'a MailboxAlert> {
    let mut best: Option<(&MailboxAlert, u64)> = None;
    let mut tied = false;
    for (_, a) in pool.iter().filter(|(s, a)| s == server && same_event(a, to, alive_at)) {
        let gap = a.fired_at.abs_diff(to.fired_at);
        match best {
            Some((_, g)) if gap > g => {}
            Some((_, g)) if gap == g => tied = true,
            _ => (best, tied) = (Some((a, gap)), false),
        }
    }
    best.filter(|_| !tied).map(|(a, _)| a)
}

/// Whether an acknowledgement of `r` (on `r_server`) may be made on `c`
/// (on `c_server`): each is the other's closest match on its server, so a
/// server cannot steer one acknowledgement to another event, by sending an
/// alert of its own or by holding one back.
pub fn matched(
    pool: &[(String, MailboxAlert)],
    (r_server, r): (&str, &MailboxAlert),
    (c_server, c): (&str, &MailboxAlert),
    alive_at: Option<u64>,
) -> bool {
    closest(pool, c_server, r, alive_at).is_some_and(|x| x.alert == c.alert)
        && closest(pool, r_server, c, alive_at).is_some_and(|x| x.alert == r.alert)
}

/// The copies (server, alert) to acknowledge so that an event this device
/// acknowledged on one server is acknowledged on every server that fired
/// it. Only an acknowledgement this device made counts (`m.acked`, each
/// matched by server, id, firing time and note): a server that claims "you
/// acknowledged", or gives a new alert an old one's id, cannot stop
/// another's escalation; and only to a copy [`matched`] with it.
pub fn acks_to_spread(m: &Membership, events: &[Event]) -> Vec<(String, MailboxAlert)> {
    let alive_at = m.proof_of_life.as_ref().map(|p| p.signed_at);
    let pool: Vec<(String, MailboxAlert)> = events.iter().flat_map(|e| e.copies.iter().cloned()).collect();
    let mut out = Vec::new();
    for e in events.iter().filter(|e| e.copies.len() > 1) {
        let recorded: Vec<(&AckRecord, &(String, MailboxAlert))> = e
            .copies
            .iter()
            .filter_map(|copy| m.acked.iter().find(|r| r.is_of(&copy.0, &copy.1)).map(|r| (r, copy)))
            .collect();
        for (server, c) in e.copies.iter().filter(|(_, a)| !a.acks.iter().any(|k| k.mailbox == m.mailbox)) {
            let spread = recorded.iter().any(|(record, (rs, r))| {
                rs != server && matched(&pool, (rs, r), (server, c), alive_at) && after_ack_only_if_late(record, r, c)
            });
            if spread {
                out.push((server.clone(), c.clone()));
            }
        }
    }
    out
}

/// A copy that fired after the acknowledgement was made (a minute's slack
/// for clocks) takes it only as a missed alert of a server that was down,
/// firing late: any other later alert is news.
fn after_ack_only_if_late(record: &AckRecord, acked: &MailboxAlert, c: &MailboxAlert) -> bool {
    c.fired_at <= record.at.saturating_add(60) || c.server_was_down && c.deadline.is_some() && acked.deadline.is_some()
}

/// How far ahead of this device's clock a directory may be dated: a captor
/// holding `ID` cannot date one far ahead to shut out the member's later
/// ones (directories are ordered by date, then sequence).
pub const DIRECTORY_FUTURE_SLACK: u64 = 600;

/// Reads the member's sealed directory from each server of the membership
/// and takes the newest (by the member's date, then sequence) that opens
/// with this membership's key, verifies with the member's `ID`, names the
/// member's account and is dated no later than [`DIRECTORY_FUTURE_SLACK`]
/// ahead. Each server it lists for the first time is added, waiting: this
/// device does not connect to it before [`new_server_wait`] has passed
/// (then [`learn_all`] asks it its id). A directory never takes a server
/// away by itself: one it no longer lists is marked so, and forgotten only
/// if it was still waiting, or once it tells of the account's deletion.
/// Returns the membership's servers and the directory's date and sequence.
pub async fn learn_servers(
    ctx: &Ctx,
    m: &Membership,
    key: &SigningKey,
    cx: &EncryptionSecret,
) -> Option<(Vec<MemberMirror>, u64, u64)> {
    let now = unix_now();
    let mut newest: Option<directory::ServerDirectory> = None;
    for feed in m.feeds() {
        let Ok(client) = ctx.client(&feed.server) else { continue };
        let Some(id) = feed.server_id else { continue };
        let sign = crate::api::Signer { server: id, caller: *m.mailbox.as_bytes(), key };
        let Ok(reply) = client.call(&routes::GetDirectory, &NoBody, &sign).await else { continue };
        let Some(sealed) = reply.directory else { continue };
        let Ok(dir) = directory::open(&sealed.0, cx, &m.member) else { continue };
        let order = (dir.created, dir.sequence);
        let fresh = order > (m.directory_created, m.directory_sequence)
            && dir.created <= now.saturating_add(DIRECTORY_FUTURE_SLACK)
            && m.account.is_none_or(|a| a == dir.account);
        if fresh && newest.as_ref().is_none_or(|n| order > (n.created, n.sequence)) {
            newest = Some(dir);
        }
    }
    let dir = newest?;
    let mut mirrors = m.mirrors.clone();
    for known in &mut mirrors {
        known.listed = dir.servers.iter().any(|(id, _)| *id == known.server_id);
    }
    for (id, url) in &dir.servers {
        let url = url.trim_end_matches('/');
        // A server is known by its id and its address together: an entry
        // naming a known server's address with another id (or a known id at
        // another address) could only shadow the server already read.
        let known_url = |u: &str| u.trim_end_matches('/') == url;
        if Some(*id) == m.server_id
            || known_url(&m.server)
            || mirrors.iter().any(|k| k.server_id == *id || known_url(&k.server))
        {
            continue;
        }
        if mirrors.len() + 1 >= directory::MAX_SERVERS {
            break;
        }
        mirrors.push(MemberMirror {
            server: url.to_owned(),
            server_id: *id,
            history: Vec::new(),
            unreachable_since: None,
            listed_at: now,
            listed: true,
            verified: false,
            channels_added: false,
        });
    }
    // One taken back before it was ever read: the member changed its mind.
    mirrors.retain(|k| k.listed || k.in_use(now));
    Some((mirrors, dir.created, dir.sequence))
}

async fn answers_as(client: &ApiClient, id: &aman_protocol::ServerId) -> bool {
    client.server_info().await.is_ok_and(|info| info.server_id == *id)
}

/// Learns every membership's servers (see [`learn_servers`]) and keeps
/// them, asks each whose wait is over its id, then gives the contact's
/// channels to each server that came into use; returns a line for each
/// server listed for the first time and each channel added.
pub async fn learn_all(ctx: &Ctx, vault: &mut Vault) -> Result<Vec<String>, ClientError> {
    let (book, _, _) = vault.contact()?;
    let mut learnt = Vec::new();
    for m in &book.memberships {
        let keys = vault.membership_keys(m)?;
        if let Some(found) = learn_servers(ctx, m, &keys.identity, &keys.encryption).await {
            learnt.push((m.mailbox, m.label.clone(), found));
        }
    }
    let mut lines = Vec::new();
    if let Some(b) = vault.book.contact.as_mut() {
        for (mailbox, label, (mirrors, created, sequence)) in learnt {
            if let Some(m) = b.memberships.iter_mut().find(|m| m.mailbox == mailbox) {
                for added in mirrors.iter().filter(|n| !m.mirrors.iter().any(|o| o.server_id == n.server_id)) {
                    let from = crate::context::format_time(added.listed_at.saturating_add(new_server_wait()));
                    lines.push(crate::t!(
                        "contact-server-listed",
                        member = &label,
                        server = &added.server,
                        from = from
                    ));
                }
                m.mirrors = mirrors;
                (m.directory_created, m.directory_sequence) = (created, sequence);
            }
        }
    }
    // A server whose wait is over is asked its id, which must be the one
    // the member's directory names; only then is it read.
    let now = unix_now();
    let unchecked: Vec<(MailboxId, String, aman_protocol::ServerId)> = vault
        .book
        .contact
        .iter()
        .flat_map(|b| b.memberships.iter())
        .flat_map(|m| {
            m.mirrors
                .iter()
                .filter(|k| k.waited(now) && !k.verified)
                .map(|k| (m.mailbox, k.server.clone(), k.server_id))
        })
        .collect();
    for (mailbox, server, id) in unchecked {
        let answered = match ctx.client(&server) {
            Ok(client) => answers_as(&client, &id).await,
            Err(_) => false,
        };
        let mine = vault.book.contact.as_mut().and_then(|b| b.memberships.iter_mut().find(|m| m.mailbox == mailbox));
        if let Some(k) = mine.and_then(|m| m.mirrors.iter_mut().find(|k| k.server == server && k.server_id == id)) {
            k.verified = answered;
        }
    }
    // The contact's channels wake it for alerts from a server in use.

    let due: Vec<(MailboxId, String)> = vault
        .book
        .contact
        .iter()
        .flat_map(|b| b.memberships.iter())
        .flat_map(|m| {
            m.mirrors.iter().filter(|k| k.in_use(now) && !k.channels_added).map(|k| (m.mailbox, k.server.clone()))
        })
        .collect();
    for (mailbox, server) in due {
        let feed = vault
            .contact()
            .ok()
            .and_then(|(b, _, _)| b.memberships.iter().find(|m| m.mailbox == mailbox).cloned())
            .and_then(|m| m.feeds().into_iter().find(|f| f.server == server));
        let Some(feed) = feed else { continue };
        if let Ok(report) = crate::contact::add_channels_to(ctx, vault, &feed).await {
            lines.extend(report.text.lines().filter(|l| !l.is_empty()).map(str::to_owned));
            let mine =
                vault.book.contact.as_mut().and_then(|b| b.memberships.iter_mut().find(|m| m.mailbox == mailbox));
            if let Some(k) = mine.and_then(|m| m.mirrors.iter_mut().find(|k| k.server == server)) {
                k.channels_added = true;
            }
        }
    }
    vault.save()?;
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aman_protocol::api::{Ack, B64};
    use aman_protocol::{AccountId, AlertId, MailboxId};

    fn alert(id: u8, reason: AlertReason, fired_at: u64, deadline: Option<u64>, note: &[u8]) -> MailboxAlert {
        MailboxAlert {
            alert: AlertId::from_bytes([id; 16]),
            account: AccountId::from_bytes([1; 16]),
            reason,
            fired_at,
            deadline,
            server_was_down: false,
            sealed_alert: B64(note.to_vec()),
            note_received_at: None,
            earlier_notes: Vec::new(),
            acks: Vec::new(),
            notices: Vec::new(),
            updated_ms: fired_at * 1000,
        }
    }

    const NOW: u64 = 1_000_000;

    fn membership() -> Membership {
        serde_json::from_value(serde_json::json!({
            "label": "Noor", "server": "https://a", "mailbox": MailboxId::from_bytes([7; 16]),
            "member": aman_protocol::SigningKey::generate().unwrap().verifying_key(),
            "safety_number": "", "mirrors": [{ "server": "https://b", "server_id": "00000000000000000000000000000000" }],
        }))
        .unwrap()
    }

    /// One event per alert that both servers fired for one note; never one
    /// for two alerts of one server, nor for another note, reason or a drill.
    #[test]
    fn alerts_are_one_event_only_by_the_member_s_note() {
        let a = ("https://a".to_owned(), alert(1, AlertReason::Missed, 1000, Some(990), b"note"));
        let mut late = ("https://b".to_owned(), alert(2, AlertReason::Missed, 5000, Some(800), b"note"));
        assert_eq!(events(vec![a.clone(), late.clone()], NOW, None).len(), 2, "another deadline, fired on time");
        late.1.server_was_down = true;
        assert_eq!(
            events(vec![a.clone(), late.clone()], NOW, Some(3000)).len(),
            2,
            "the member signed a heartbeat between them"
        );
        // A server that was down fires for its deadline moved past its restart.
        let moved = ("https://b".to_owned(), alert(12, AlertReason::Missed, 5000, Some(4990), b"note"));
        let moved = (moved.0, MailboxAlert { server_was_down: true, ..moved.1 });
        assert_eq!(events(vec![a.clone(), moved], NOW, None).len(), 1, "a late server's moved deadline");
        let events = events(vec![a.clone(), late.clone()], NOW, None);
        assert_eq!(events.len(), 1, "a server that was down fires late, for its older deadline");
        assert_eq!(events[0].servers(), ["https://a", "https://b"]);
        let other_note = ("https://b".to_owned(), alert(3, AlertReason::Missed, 1000, Some(990), b"forged"));
        assert_eq!(super::events(vec![a.clone(), other_note], NOW, None).len(), 2, "not another note");
        let other_reason = ("https://b".to_owned(), alert(4, AlertReason::Panic, 1000, None, b"note"));
        assert_eq!(super::events(vec![a.clone(), other_reason], NOW, None).len(), 2, "not another reason");
        let same_server = ("https://a".to_owned(), alert(5, AlertReason::Missed, 1001, Some(990), b"note"));
        assert_eq!(super::events(vec![a.clone(), same_server], NOW, None).len(), 2, "never two of one server");
        let far =
            ("https://b".to_owned(), alert(6, AlertReason::Missed, 1000 + 2 * SAME_EVENT_WINDOW, Some(5), b"note"));
        assert_eq!(super::events(vec![a.clone(), far], NOW, None).len(), 2, "not a day apart with other deadlines");
        let drill_a = ("https://a".to_owned(), alert(8, AlertReason::Drill, 1000, None, b"note"));
        let drill_b = ("https://b".to_owned(), alert(9, AlertReason::Drill, 1000, None, b"note"));
        assert_eq!(super::events(vec![drill_a, drill_b], NOW, None).len(), 2, "drills are never merged");
    }

    /// The copy shown is the first server's whatever time another names,
    /// and every copy's earlier notes and acknowledgements are shown.
    #[test]
    fn no_server_hides_what_another_shows() {
        let mut honest = alert(1, AlertReason::Missed, 1000, Some(990), b"note");
        honest
            .earlier_notes
            .push(aman_protocol::api::ReceivedNote { received_at: 900, sealed_alert: B64(b"words".to_vec()) });
        let mut early = alert(2, AlertReason::Missed, 10, Some(990), b"note");
        early.acks.push(Ack { mailbox: MailboxId::from_bytes([9; 16]), at: 20 });
        let evs = events(vec![("https://b".to_owned(), early), ("https://a".to_owned(), honest.clone())], NOW, None);
        assert_eq!(evs.len(), 1);
        let shown = evs[0].shown("https://a", MailboxId::from_bytes([7; 16]), Some(&[]));
        assert_eq!(shown.alert, honest.alert, "the first server's copy");
        assert_eq!(shown.earlier_notes.len(), 1, "its earlier notes are not hidden");
        assert_eq!(shown.acks.len(), 1, "and the other's acknowledgement is shown");
    }

    /// Only an acknowledgement this device made is spread to the other
    /// servers: a server's claim that the contact acknowledged is not.
    #[test]
    fn only_this_device_s_acknowledgements_spread() {
        let mut m = membership();
        let mut claimed = alert(1, AlertReason::Missed, 1000, Some(990), b"note");
        claimed.acks.push(Ack { mailbox: m.mailbox, at: 1001 });
        let honest = alert(2, AlertReason::Missed, 1002, Some(990), b"note");
        let evs = events(
            vec![("https://a".to_owned(), claimed.clone()), ("https://b".to_owned(), honest.clone())],
            NOW,
            None,
        );
        assert!(acks_to_spread(&m, &evs).is_empty(), "the first server's word alone");
        // An id this device acknowledged before, given to a new alert.
        let mut reused = claimed.clone();
        reused.fired_at = 500;
        m.remember_ack(AckRecord::of("https://a", &reused, 1001));
        assert!(acks_to_spread(&m, &evs).is_empty(), "an old acknowledgement's id on a new alert");
        m.remember_ack(AckRecord::of("https://a", &claimed, 1001));
        let spread: Vec<_> = acks_to_spread(&m, &evs).into_iter().map(|(s, a)| (s, a.alert)).collect();
        assert_eq!(spread, [("https://b".to_owned(), honest.alert)]);
    }

    fn at(server: &str, a: &MailboxAlert) -> (String, MailboxAlert) {
        (server.to_owned(), a.clone())
    }

    /// An acknowledgement spreads only to the other server's closest match,
    /// when it is the closest the other way too: neither an outage nor a
    /// server's made-up or withheld alert steers it to another event.
    #[test]
    fn an_acknowledgement_is_not_steered_to_another_event() {
        let mine = membership().mailbox;
        let acked = |a: &MailboxAlert| {
            let mut a = a.clone();
            a.acks.push(Ack { mailbox: mine, at: a.fired_at + 1 });
            a
        };
        // The first server was down for the first panic: the contact
        // acknowledged the second server's. A second panic, the same note,
        // fires on both.
        let b1 = acked(&alert(1, AlertReason::Panic, 1000, None, b"note"));
        let a2 = alert(2, AlertReason::Panic, 5000, None, b"note");
        let b2 = alert(3, AlertReason::Panic, 5001, None, b"note");
        let mut m = membership();
        m.remember_ack(AckRecord::of("https://b", &b1, 1002));
        let evs = events(vec![at("https://b", &b1), at("https://a", &a2), at("https://b", &b2)], NOW, None);
        assert!(acks_to_spread(&m, &evs).is_empty(), "the second panic is not acknowledged: {evs:?}");

        // Both fired the first, acknowledged on both; the second server
        // withholds its copy of the second and makes one up before the first.
        let a1 = acked(&alert(4, AlertReason::Panic, 1000, None, b"note"));
        let b1 = acked(&alert(5, AlertReason::Panic, 1001, None, b"note"));
        let made_up = alert(6, AlertReason::Panic, 990, None, b"note");
        let a2 = alert(7, AlertReason::Panic, 5000, None, b"note");
        let mut m = membership();
        m.remember_ack(AckRecord::of("https://a", &a1, 1002));
        m.remember_ack(AckRecord::of("https://b", &b1, 1002));
        let evs = events(
            vec![at("https://a", &a1), at("https://b", &b1), at("https://b", &made_up), at("https://a", &a2)],
            NOW,
            None,
        );
        assert!(acks_to_spread(&m, &evs).iter().all(|(_, a)| a.alert != a2.alert), "{evs:?}");

        // A made-up alert for a deadline to come, acknowledged when shown;
        // the real alert for that deadline fires later on the other server:
        // it is news, and the acknowledgement does not reach it.
        let fake = acked(&alert(9, AlertReason::Missed, 2000, Some(6000), b"note"));
        let real = alert(10, AlertReason::Missed, 6001, Some(6000), b"note");
        let mut m = membership();
        m.remember_ack(AckRecord::of("https://a", &fake, 2100));
        let evs = events(vec![at("https://a", &fake), at("https://b", &real)], NOW, None);
        assert_eq!(evs.len(), 1, "the same deadline");
        assert!(acks_to_spread(&m, &evs).is_empty(), "fired after the acknowledgement: {evs:?}");

        // An alert dated in the future is shown alone, never grouped.
        let future = alert(8, AlertReason::Panic, NOW + 3600, None, b"note");
        let evs = events(vec![at("https://b", &future), at("https://a", &a2)], NOW, None);
        assert_eq!(evs.len(), 2);

        // Another server's claim that this contact acknowledged is not shown
        // on the first server's copy.
        let evs = events(vec![at("https://a", &a2), at("https://b", &acked(&b2))], NOW, None);
        assert_eq!(evs.len(), 1);
        assert!(evs[0].shown("https://a", mine, Some(&[])).acks.is_empty());
        // The first server's own claim, with no record on this device, is not shown either.
        let evs = events(vec![at("https://a", &acked(&a2)), at("https://b", &b2)], NOW, None);
        assert!(evs[0].shown("https://a", mine, Some(&[])).acks.is_empty());
    }
}
