//! A contact's view of a member with several servers: which servers they
//! are (from the directory the member sealed to its contacts, never from a
//! server's word), and which alerts from different servers are one event.

use crate::api::ApiClient;
use crate::context::Ctx;
use crate::error::ClientError;
use crate::state::{MemberMirror, Membership, Vault};
use aman_protocol::api::{AlertReason, MailboxAlert, Notice};
use aman_protocol::routes::{self, NoBody};
use aman_protocol::{directory, EncryptionSecret, SigningKey};

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
    /// The copy shown: the earliest, with every server's acknowledgements.
    pub fn shown(&self) -> MailboxAlert {
        let mut first = self.copies[0].1.clone();
        for (_, other) in &self.copies[1..] {
            for ack in &other.acks {
                if !first.acks.iter().any(|a| a.mailbox == ack.mailbox) {
                    first.acks.push(ack.clone());
                }
            }
            first.updated_ms = first.updated_ms.max(other.updated_ms);
        }
        first
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
/// it. Only an acknowledgement this device made counts (`m.acked`): a
/// server that claims "you acknowledged" cannot stop another's escalation.
pub fn acks_to_spread(m: &Membership, events: &[Event]) -> Vec<(String, aman_protocol::AlertId)> {
    events
        .iter()
        .filter(|e| e.copies.len() > 1 && e.copies.iter().any(|(_, a)| m.acked.contains(&a.alert)))
        .flat_map(|e| e.copies.iter())
        .filter(|(_, a)| !a.acks.iter().any(|k| k.mailbox == m.mailbox))
        .map(|(server, a)| (server.clone(), a.alert))
        .collect()
}

/// Reads the member's sealed directory from each server of the membership
/// and takes the newest that opens with this membership's key and verifies
/// with the member's `ID` (for this account): the servers it names become
/// the membership's mirrors (each asked for its id, which must be the one
/// the directory names). Returns the servers added and removed.
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
        if m.account.is_some_and(|a| a != dir.account) || dir.sequence <= m.directory_sequence {
            continue;
        }
        if newest.as_ref().is_none_or(|n| dir.sequence > n.sequence) {
            newest = Some(dir);
        }
    }
    let dir = newest?;
    let mut mirrors = Vec::new();
    for (id, url) in &dir.servers {
        if Some(*id) == m.server_id {
            continue;
        }
        match m.mirrors.iter().find(|k| k.server_id == *id) {
            Some(known) => mirrors.push(known.clone()),
            None => {
                // The server must be the one the member named.
                let Ok(client) = ctx.client(url) else { continue };
                if !answers_as(&client, id).await {
                    continue;
                }
                mirrors.push(MemberMirror {
                    server: client.base().to_owned(),
                    server_id: *id,
                    history: Vec::new(),
                    unreachable_since: None,
                });
            }
        }
    }
    Some((mirrors, dir.sequence))
}

async fn answers_as(client: &ApiClient, id: &aman_protocol::ServerId) -> bool {
    client.server_info().await.is_ok_and(|info| info.server_id == *id)
}

/// Learns every membership's servers (see [`learn_servers`]) and keeps
/// them; returns a line for each server learnt.
pub async fn learn_all(ctx: &Ctx, vault: &mut Vault) -> Result<Vec<String>, ClientError> {
    let (book, _, _) = vault.contact()?;
    let mut learnt = Vec::new();
    for m in &book.memberships {
        let keys = vault.membership_keys(m)?;
        if let Some(found) = learn_servers(ctx, m, &keys.identity, &keys.encryption).await {
            learnt.push((m.mailbox, m.label.clone(), found));
        }
    }
    if learnt.is_empty() {
        return Ok(Vec::new());
    }
    let mut lines = Vec::new();
    let mut new_feeds = Vec::new();
    if let Some(b) = vault.book.contact.as_mut() {
        for (mailbox, label, (mirrors, sequence)) in learnt {
            if let Some(m) = b.memberships.iter_mut().find(|m| m.mailbox == mailbox) {
                for added in mirrors.iter().filter(|n| !m.mirrors.iter().any(|o| o.server_id == n.server_id)) {
                    lines.push(crate::t!("contact-server-learnt", member = &label, server = &added.server));
                    new_feeds.push((mailbox, added.server.clone()));
                }
                m.mirrors = mirrors;
                m.directory_sequence = sequence;
            }
        }
    }
    vault.save()?;
    // The contact's channels wake it for alerts from a new server too.
    for (mailbox, server) in new_feeds {
        let feed = vault
            .contact()
            .ok()
            .and_then(|(b, _, _)| b.memberships.iter().find(|m| m.mailbox == mailbox).cloned())
            .and_then(|m| m.feeds().into_iter().find(|f| f.server == server));
        if let Some(feed) = feed {
            if let Ok(report) = crate::contact::add_channels_to(ctx, vault, &feed).await {
                lines.extend(report.text.lines().filter(|l| !l.is_empty()).map(str::to_owned));
            }
        }
    }
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

    /// Only an acknowledgement this device made is spread to the other
    /// servers: a server's claim that the contact acknowledged is not.
    #[test]
    fn only_this_device_s_acknowledgements_spread() {
        let mut m = membership();
        let mut claimed = alert(1, AlertReason::Missed, 1000, Some(990), b"note");
        claimed.acks.push(Ack { mailbox: m.mailbox, at: 1001 });
        let honest = alert(2, AlertReason::Missed, 1002, Some(990), b"note");
        let evs = events(vec![("https://a".to_owned(), claimed.clone()), ("https://b".to_owned(), honest.clone())]);
        assert_eq!(acks_to_spread(&m, &evs), [], "the first server's word alone");
        m.remember_ack(claimed.alert);
        assert_eq!(acks_to_spread(&m, &evs), [("https://b".to_owned(), honest.alert)]);
    }
}
