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
/// the same missed deadline or fired within [`SAME_EVENT_WINDOW`] of each
/// other. The servers' alert ids and words are not trusted for it.
pub fn same_event(a: &MailboxAlert, b: &MailboxAlert) -> bool {
    if a.reason != b.reason || a.sealed_alert.0 != b.sealed_alert.0 || a.reason == AlertReason::Drill {
        return false;
    }
    // A server that was down fires late, for the last deadline it knew
    // (older than the others' when it missed check-ins): the window, not
    // the deadline, decides, unless the deadlines agree.
    a.deadline.is_some() && a.deadline == b.deadline || a.fired_at.abs_diff(b.fired_at) <= SAME_EVENT_WINDOW
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
    /// earlier time); with the acknowledgements, earlier notes and notices
    /// of every copy, so that no server can hide what another shows.
    pub fn shown(&self, first_server: &str) -> MailboxAlert {
        let lead = self.copies.iter().find(|(s, _)| s == first_server).unwrap_or(&self.copies[0]);
        let mut shown = lead.1.clone();
        for (_, other) in &self.copies {
            for ack in &other.acks {
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

    /// The servers that fired it.
    pub fn servers(&self) -> Vec<String> {
        self.copies.iter().map(|(s, _)| s.clone()).collect()
    }
}

/// Groups alerts read from a member's servers into events, in firing order:
/// an alert joins the earliest event with the same note, reason and
/// deadline that has no copy from its server yet.
pub fn events(mut alerts: Vec<(String, MailboxAlert)>) -> Vec<Event> {
    alerts.sort_by_key(|(_, a)| (a.fired_at, a.updated_ms));
    let mut out: Vec<Event> = Vec::new();
    for (server, alert) in alerts {
        let joined =
            out.iter_mut().find(|e| !e.copies.iter().any(|(s, _)| *s == server) && same_event(&e.copies[0].1, &alert));
        match joined {
            Some(e) => e.copies.push((server, alert)),
            None => out.push(Event { copies: vec![(server, alert)] }),
        }
    }
    out
}

/// The copies (server, alert) to acknowledge so that an event this device
/// acknowledged on one server is acknowledged on every server that fired
/// it. Only an acknowledgement this device made counts (`m.acked`, each
/// matched by server, id, firing time and note): a server that claims "you
/// acknowledged", or gives a new alert an old one's id, cannot stop
/// another's escalation.
pub fn acks_to_spread(m: &Membership, events: &[Event]) -> Vec<(String, MailboxAlert)> {
    events
        .iter()
        .filter(|e| e.copies.len() > 1 && e.copies.iter().any(|(s, a)| m.acked.contains(&AckRecord::of(s, a))))
        .flat_map(|e| e.copies.iter())
        .filter(|(_, a)| !a.acks.iter().any(|k| k.mailbox == m.mailbox))
        .cloned()
        .collect()
}

/// How far one directory's sequence may pass the newest taken: a captor
/// holding `ID` cannot spend the sequence numbers in one step and so
/// shut out every later directory of the member's.
pub const MAX_DIRECTORY_STEP: u64 = 1 << 20;

/// Reads the member's sealed directory from each server of the membership
/// and takes the newest that opens with this membership's key, verifies
/// with the member's `ID` and names the member's account. Each server it
/// lists for the first time, once it answers the id the directory names,
/// is added, to be read after [`new_server_wait`]. A directory never takes
/// a server away by itself: one it no longer lists is marked so, and
/// forgotten only when it also no longer knows this mailbox (or was never
/// in use). Returns the membership's servers and the sequence taken (the
/// old one while a new server could not be checked, so it is tried again).
pub async fn learn_servers(
    ctx: &Ctx,
    m: &Membership,
    key: &SigningKey,
    cx: &EncryptionSecret,
) -> Option<(Vec<MemberMirror>, u64)> {
    let mut newest: Option<directory::ServerDirectory> = None;
    for feed in m.feeds() {
        let Ok(client) = ctx.client(&feed.server) else { continue };
        let Some(id) = feed.server_id else { continue };
        let sign = crate::api::Signer { server: id, caller: *m.mailbox.as_bytes(), key };
        let Ok(reply) = client.call(&routes::GetDirectory, &NoBody, &sign).await else { continue };
        let Some(sealed) = reply.directory else { continue };
        let Ok(dir) = directory::open(&sealed.0, cx, &m.member) else { continue };
        let fresh = dir.sequence > m.directory_sequence
            && dir.sequence - m.directory_sequence <= MAX_DIRECTORY_STEP
            && m.account.is_none_or(|a| a == dir.account);
        if fresh && newest.as_ref().is_none_or(|n| dir.sequence > n.sequence) {
            newest = Some(dir);
        }
    }
    let dir = newest?;
    let now = unix_now();
    let mut mirrors = m.mirrors.clone();
    for known in &mut mirrors {
        known.listed = dir.servers.iter().any(|(id, _)| *id == known.server_id);
    }
    let mut complete = true;
    for (id, url) in &dir.servers {
        if Some(*id) == m.server_id || mirrors.iter().any(|k| k.server_id == *id) {
            continue;
        }
        if mirrors.len() + 1 >= directory::MAX_SERVERS {
            break;
        }
        // The server must be the one the member named.
        let answered = match ctx.client(url) {
            Ok(client) => answers_as(&client, id).await.then(|| client.base().to_owned()),
            Err(_) => None,
        };
        let Some(server) = answered else {
            complete = false;
            continue;
        };
        mirrors.push(MemberMirror {
            server,
            server_id: *id,
            history: Vec::new(),
            unreachable_since: None,
            listed_at: now,
            listed: true,
            channels_added: false,
        });
    }
    // One taken back while it waited: the member changed its mind.
    mirrors.retain(|k| k.listed || k.in_use(now));
    Some((mirrors, if complete { dir.sequence } else { m.directory_sequence }))
}

async fn answers_as(client: &ApiClient, id: &aman_protocol::ServerId) -> bool {
    client.server_info().await.is_ok_and(|info| info.server_id == *id)
}

/// Learns every membership's servers (see [`learn_servers`]) and keeps
/// them, then gives the contact's channels to each server that came into
/// use; returns a line for each server listed for the first time and each
/// channel added.
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
        for (mailbox, label, (mirrors, sequence)) in learnt {
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
                m.directory_sequence = sequence;
            }
        }
    }
    // The contact's channels wake it for alerts from a server in use.
    let now = unix_now();
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
        let late = ("https://b".to_owned(), alert(2, AlertReason::Missed, 5000, Some(800), b"note"));
        let events = events(vec![a.clone(), late.clone()]);
        assert_eq!(events.len(), 1, "a server that was down fires late, for its older deadline");
        assert_eq!(events[0].servers(), ["https://a", "https://b"]);
        let other_note = ("https://b".to_owned(), alert(3, AlertReason::Missed, 1000, Some(990), b"forged"));
        assert_eq!(super::events(vec![a.clone(), other_note]).len(), 2, "not another note");
        let other_reason = ("https://b".to_owned(), alert(4, AlertReason::Panic, 1000, None, b"note"));
        assert_eq!(super::events(vec![a.clone(), other_reason]).len(), 2, "not another reason");
        let same_server = ("https://a".to_owned(), alert(5, AlertReason::Missed, 1001, Some(990), b"note"));
        assert_eq!(super::events(vec![a.clone(), same_server]).len(), 2, "never two of one server");
        let far =
            ("https://b".to_owned(), alert(6, AlertReason::Missed, 1000 + 2 * SAME_EVENT_WINDOW, Some(5), b"note"));
        assert_eq!(super::events(vec![a.clone(), far]).len(), 2, "not a day apart with other deadlines");
        let drill_a = ("https://a".to_owned(), alert(8, AlertReason::Drill, 1000, None, b"note"));
        let drill_b = ("https://b".to_owned(), alert(9, AlertReason::Drill, 1000, None, b"note"));
        assert_eq!(super::events(vec![drill_a, drill_b]).len(), 2, "drills are never merged");
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
        let evs = events(vec![("https://b".to_owned(), early), ("https://a".to_owned(), honest.clone())]);
        assert_eq!(evs.len(), 1);
        let shown = evs[0].shown("https://a");
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
        let evs = events(vec![("https://a".to_owned(), claimed.clone()), ("https://b".to_owned(), honest.clone())]);
        assert!(acks_to_spread(&m, &evs).is_empty(), "the first server's word alone");
        // An id this device acknowledged before, given to a new alert.
        let mut reused = claimed.clone();
        reused.fired_at = 500;
        m.remember_ack(AckRecord::of("https://a", &reused));
        assert!(acks_to_spread(&m, &evs).is_empty(), "an old acknowledgement's id on a new alert");
        m.remember_ack(AckRecord::of("https://a", &claimed));
        let spread: Vec<_> = acks_to_spread(&m, &evs).into_iter().map(|(s, a)| (s, a.alert)).collect();
        assert_eq!(spread, [("https://b".to_owned(), honest.alert)]);
    }
}
