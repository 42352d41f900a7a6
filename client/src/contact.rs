//! What a trusted contact does: accept an invite, read and acknowledge
//! alerts, add notification channels.

use crate::api::{unix_now, ApiClient, Signer};
use crate::context::{format_time, Ctx, Report};
use crate::error::ClientError;
use crate::member_servers;
use crate::proof_of_life;
use crate::state::{AckRecord, ContactBook, Membership, NotifyEntry, ProofOfLife, Vault, HISTORY_KEPT};
use crate::t;
use crate::wording::{self, said, Said};
use aman_protocol::api::{
    AddEndpoint, AlertReason, ChannelKind, MailboxAlert, MailboxContents, NoticeKind, PairingAnswer, B64,
};
use aman_protocol::routes::{self, NoBody};
use aman_protocol::{open, safety_number, AccountId, EncryptionSecret, Enrollment, InviteCode, MailboxId, SigningKey};
use serde_json::{json, Value};
use std::time::Duration;

/// `aman contact accept CODE`: registers a mailbox on the member's server
/// and sends the encrypted enrollment, then adds every notification
/// channel this device already has to the new mailbox. `made` is set when
/// this command made the keystore: whether a duress passphrase was set.
pub async fn accept(
    ctx: &Ctx,
    vault: &mut Vault,
    code: &str,
    label: Option<&str>,
    made: Option<bool>,
    share_channels: bool,
) -> Result<Report, ClientError> {
    let invite =
        InviteCode::parse(code).map_err(|e| ClientError::State(t!("contact-invalid-invite", error = e.to_string())))?;
    if vault.secrets.contact_identity.is_none() {
        vault.secrets.contact_identity = Some(SigningKey::generate()?);
        vault.secrets.contact_encryption = Some(EncryptionSecret::generate()?);
    }
    let book = vault.book.contact.get_or_insert_with(ContactBook::default);
    let label = label.map(str::to_owned).unwrap_or_else(|| format!("member-{}", book.memberships.len() + 1));
    if book.memberships.iter().any(|m| m.label == label) {
        return Err(ClientError::State(t!("contact-label-taken", label = &label)));
    }
    let (_, master_identity, master_encryption) = vault.contact()?;
    let mailbox = MailboxId::random()?;
    // Keys of this membership alone: mailboxes of one contact cannot be linked by key.
    let (identity, encryption) = aman_protocol::derive::membership_keys(master_identity, master_encryption, &mailbox)?;
    let (identity, encryption) = (&identity, &encryption);
    let enrollment = Enrollment { identity: identity.verifying_key(), encryption: encryption.public(), mailbox };
    let sealed = enrollment.seal(&invite, identity)?;
    let client = ctx.client(&invite.server_url)?;
    let server_id = client.server_info().await?.server_id;
    let answer = PairingAnswer {
        mailbox,
        identity: identity.verifying_key(),
        encryption: Some(encryption.public()),
        enrollment: B64(sealed),
    };
    let signer = Signer { server: server_id, caller: *mailbox.as_bytes(), key: identity };
    client.call(&routes::AnswerPairing { invite: invite.id }, &answer, &signer).await?;
    let safety = safety_number(&invite.member, &identity.verifying_key(), &encryption.public());
    let membership = Membership {
        label: label.clone(),
        server: client.base().to_owned(),
        mailbox,
        member: invite.member,
        account: None,
        safety_number: safety.clone(),
        highest_sequence: 0,
        own_keys: true,
        server_id: Some(server_id),
        proof_of_life: None,
        history: Vec::new(),
        mirrors: Vec::new(),
        directory_sequence: 0,
        directory_created: 0,
        unreachable_since: None,
        acked: Vec::new(),
    };
    if let Some(b) = vault.book.contact.as_mut() {
        b.memberships.push(membership.clone());
    }
    vault.save()?;
    // Every channel wakes the contact for this member too, unless asked not
    // to (the channels' addresses are then told to this member's server).
    let channels = if share_channels {
        add_channels_to(ctx, vault, &membership).await?
    } else {
        Report { json: json!([]), text: String::new() }
    };
    let mut text = format!(
        "{}\n{}\n{}",
        t!("contact-accepted", member = &label),
        t!("contact-safety-number-heading"),
        aman_protocol::safety::format_groups(&safety)
    );
    text.push_str(&channels.text);
    match made {
        Some(false) => text.push_str(&format!("\n{}", t!("contact-one-passphrase"))),
        Some(true) => text.push_str(&format!("\n{}", t!("contact-duress-opens-too"))),
        None => {}
    }
    if vault.book.contact.as_ref().is_some_and(|b| b.notify.is_empty()) {
        text.push_str(&format!("\n{}", t!("contact-nothing-wakes-you")));
    }
    Ok(Report {
        json: json!({ "label": label, "mailbox": mailbox, "safety_number": safety, "channels": channels.json }),
        text,
    })
}

/// Adds this device's notification channels to one membership's mailbox:
/// a channel covers every member, present and future. A channel that
/// mailbox's server refuses is reported, not fatal (the membership stands).
pub(crate) async fn add_channels_to(ctx: &Ctx, vault: &mut Vault, m: &Membership) -> Result<Report, ClientError> {
    // On a member's other server (`m` a feed of a mirror): the channels
    // the contact gave this member's first server, and no others.
    let first = vault.book.contact.as_ref().and_then(|b| b.memberships.iter().find(|x| x.mailbox == m.mailbox));
    let mirror = first.is_some_and(|f| f.server != m.server);
    let entries: Vec<NotifyEntry> = vault
        .book
        .contact
        .as_ref()
        .map(|b| b.notify.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|n| !mirror || n.endpoints.iter().any(|(mb, _)| *mb == m.mailbox))
        .collect();
    if entries.is_empty() {
        return Ok(Report { json: json!([]), text: String::new() });
    }
    let client = ctx.client(&m.server)?;
    let keys = vault.membership_keys(m)?;
    let sign = signer_for(&client, m, &keys.identity).await?;
    let (mut rows, mut text) = (Vec::new(), String::new());
    let mut added = Vec::new();
    for entry in &entries {
        let body = AddEndpoint { kind: entry.kind, target: entry.target.clone() };
        match client.call(&routes::AddEndpoint, &body, &sign).await {
            Ok(endpoint) => {
                added.push((entry.id, endpoint.id));
                text.push_str(&format!(
                    "\n{}",
                    t!(
                        "contact-channel-covers",
                        kind = entry.kind.to_string(),
                        target = &entry.target,
                        member = &m.label
                    )
                ));
                if let Some(secret) = &endpoint.secret {
                    text.push_str(&format!("\n{}", t!("contact-webhook-secret", member = &m.label, secret = secret)));
                }
                rows.push(json!({ "id": entry.id, "added": true, "secret": endpoint.secret }));
            }
            Err(e) => {
                text.push_str(&format!(
                    "\n{}",
                    t!(
                        "contact-channel-failed",
                        kind = entry.kind.to_string(),
                        target = &entry.target,
                        member = &m.label,
                        error = e.to_string()
                    )
                ));
                rows.push(json!({ "id": entry.id, "added": false, "error": e.to_string() }));
            }
        }
    }
    if let Some(b) = vault.book.contact.as_mut() {
        for (id, endpoint) in added {
            if let Some(n) = b.notify.iter_mut().find(|n| n.id == id) {
                match mirror {
                    true => n.mirror_endpoints.push((m.mailbox, m.server.clone(), endpoint)),
                    false => n.endpoints.push((m.mailbox, endpoint)),
                }
            }
        }
    }
    vault.save()?;
    Ok(Report { json: json!(rows), text })
}

/// A signer for one membership's mailbox; asks the server its id when the
/// membership predates protocol version 2.
async fn signer_for<'a>(client: &ApiClient, m: &Membership, key: &'a SigningKey) -> Result<Signer<'a>, ClientError> {
    let server = match m.server_id {
        Some(id) => id,
        None => client.server_info().await?.server_id,
    };
    Ok(Signer { server, caller: *m.mailbox.as_bytes(), key })
}

/// The notes an alert carries besides the latest, newest first, each
/// opened (or marked as one you cannot open); repeats of words already shown
/// (a check-in re-seals the same note) are left out.
fn earlier_notes(m: &Membership, a: &MailboxAlert, cx: &EncryptionSecret, latest: (&str, &str, &str)) -> Vec<Value> {
    let mut shown: Vec<(String, String, String)> =
        vec![(latest.0.to_owned(), latest.1.to_owned(), latest.2.to_owned())];
    let mut out = Vec::new();
    for n in &a.earlier_notes {
        match open(&n.sealed_alert.0, cx, &m.member) {
            Ok(body) => {
                // A plan that changed is shown too: a captor replacing it
                // cannot erase the member's own.
                let words = (body.note.clone(), body.location.clone(), body.plan.clone());
                let blank = body.note.is_empty() && body.location.is_empty() && body.plan.is_empty();
                if shown.contains(&words) || blank {
                    continue;
                }
                shown.push(words);
                out.push(json!({
                    "received_at": n.received_at, "note": body.note, "location": body.location,
                    "plan": (!body.plan.is_empty()).then_some(body.plan),
                    "written_at": body.created, "readable": true,
                }));
            }
            Err(_) => out.push(json!({ "received_at": n.received_at, "readable": false })),
        }
    }
    out
}

/// One alert, decrypted and verified (or with a warning saying why not).
/// `pol` is the member's newest heartbeat this device verified: it says
/// whether the note is the one the member last vouched for, and whether a
/// "checked in late" notice is backed by the member's own signature.
/// `newest_before` is the highest note sequence among this member's alerts
/// that fired before this one: a note older than that is flagged (the
/// server handed out a stale note), and nothing else is.
fn render_alert(
    m: &Membership,
    a: &MailboxAlert,
    cx: &EncryptionSecret,
    pol: Option<&ProofOfLife>,
    newest_before: u64,
) -> Rendered {
    let mut warnings: Vec<Said> = Vec::new();
    let mut roster = Vec::new();
    let mut plan = None;
    let (note, location, sequence, written_at) = if a.sealed_alert.0.is_empty() {
        warnings.push(said!(t!("contact-warning-no-note")));
        (None, None, None, None)
    } else {
        match open(&a.sealed_alert.0, cx, &m.member) {
            Ok(body) => {
                if body.account != a.account {
                    warnings.push(said!(t!("contact-warning-other-account")));
                }
                if body.sequence < newest_before {
                    warnings.push(said!(t!("contact-warning-older-than-earlier")));
                }
                let vouched = pol.map(|p| p.sealed_hash.clone());
                let this = data_encoding::HEXLOWER.encode(&aman_protocol::alert::sealed_hash(&a.sealed_alert.0));
                // Only for an alert that fired after the member vouched for
                // another note: an earlier alert rightly carries an older one.
                let stale = |p: &&ProofOfLife| {
                    // (strictly after: times are whole seconds, and an alert
                    // fired in the second of the check-in may precede it)
                    vouched.as_deref() != Some(&this) && body.created < p.signed_at && a.fired_at > p.signed_at
                };
                if let Some(p) = pol.filter(stale) {
                    let (written, checkin) = (format_time(body.created), format_time(p.signed_at));
                    warnings.push(said!(t!("contact-warning-stale-note", written = &written, checkin = &checkin)));
                }
                roster = body.contacts.clone();
                plan = (!body.plan.is_empty()).then(|| body.plan.clone());
                (Some(body.note.clone()), Some(body.location.clone()), Some(body.sequence), Some(body.created))
            }
            Err(aman_protocol::Error::BadSignature) => {
                warnings.push(said!(t!("contact-warning-forged")));
                (None, None, None, None)
            }
            Err(_) => {
                warnings.push(said!(t!("contact-warning-undecryptable")));
                (None, None, None, None)
            }
        }
    };
    if a.deadline.is_some_and(|d| a.fired_at < d) {
        warnings.push(said!(t!("contact-warning-fired-early")));
    }
    let notices: Vec<Value> = a
        .notices
        .iter()
        .map(|n| {
            let mut v = json!(n);
            if n.kind == NoticeKind::CheckedInLate {
                v["verified"] = json!(proof_of_life::late_checkin_verified(pol, a.fired_at, a.deadline));
            }
            v
        })
        .collect();
    let acks: Vec<Value> = a
        .acks
        .iter()
        .map(|k| {
            // The member's name for whoever acknowledged, from the roster
            // sealed with the note: the server knows only a mailbox id.
            let by = if k.mailbox == m.mailbox {
                "you".to_owned()
            } else {
                roster
                    .iter()
                    .find(|(mailbox, _)| *mailbox == k.mailbox)
                    .map(|(_, name)| name.clone())
                    .unwrap_or_else(|| ANOTHER_CONTACT.to_owned())
            };
            json!({ "by": by, "at": k.at })
        })
        .collect();
    let earlier = earlier_notes(
        m,
        a,
        cx,
        (note.as_deref().unwrap_or(""), location.as_deref().unwrap_or(""), plan.as_deref().unwrap_or("")),
    );
    let json = json!({
        "alert": a.alert, "member": m.label, "reason": a.reason, "drill": a.reason == AlertReason::Drill, "fired_at": a.fired_at,
        "deadline": a.deadline, "server_was_down": a.server_was_down,
        "note": note, "location": location, "plan": plan, "sequence": sequence, "note_written_at": written_at,
        "note_received_at": a.note_received_at, "earlier_notes": earlier,
        "notices": notices, "acks": acks, "warnings": warnings.iter().map(|w| w.json.clone()).collect::<Vec<_>>(),
    });
    Rendered { json, warnings: warnings.into_iter().map(|w| w.text).collect() }
}

/// An alert, decrypted and verified: its JSON (in English, for scripts), and
/// its warnings in this process's language, for [`alert_text`].
struct Rendered {
    json: Value,
    warnings: Vec<String>,
}

/// A sentence for an account-level notice, with what to do.
fn notice_text(n: &Value) -> String {
    // What a member or a server wrote is made printable before it goes into
    // a message (whose own isolation marks must stay).
    let member = wording::printable(n["member"].as_str().unwrap_or(""), usize::MAX);
    let kind = NoticeKind::parse(n["kind"].as_str().unwrap_or(""));
    let (what, todo) = wording::account_notice(kind);
    let at = format_time(n["at"].as_u64().unwrap_or(0));
    let mut out = t!("contact-notice-line", member = &member, what = &what, at = &at);
    if let Some(at) = n["effective_at"].as_u64() {
        let at = format_time(at);
        let applies = if kind == NoticeKind::ContactLinked {
            t!("contact-notice-receives-from", at = &at)
        } else {
            t!("contact-notice-applies-at", at = &at)
        };
        out.push_str(&format!(" {applies}"));
    }
    if let Some(safety) = n["new_contact_safety_number"].as_str() {
        let prefix: String = safety.chars().take(10).collect();
        let prefix = wording::printable(&prefix, usize::MAX);
        out.push_str(&format!(" {}", t!("contact-notice-safety-number", prefix = &prefix)));
    }
    out.push_str(&format!("\n  {}", t!("contact-what-to-do", todo = &todo)));
    out
}

/// What `by` says in an acknowledgement's JSON when the member's roster
/// does not name who acknowledged.
const ANOTHER_CONTACT: &str = "another contact";

fn alert_text(r: &Rendered) -> String {
    let v = &r.json;
    // Notes, locations and names are the member's words, relayed by a
    // server: each is made printable before it goes into a message (whose
    // own isolation marks must stay).
    let p = |s: &str| wording::printable(s, usize::MAX);
    let (what, todo) = wording::reason(AlertReason::parse(v["reason"].as_str().unwrap_or("")));
    let (member, id) = (p(v["member"].as_str().unwrap_or("")), p(v["alert"].as_str().unwrap_or("")));
    let fired = format_time(v["fired_at"].as_u64().unwrap_or(0));
    // A drill never reads as an alert: its own first line, no "what to do".
    let mut out = if v["drill"] == true {
        format!(
            "{} {}\n  {}",
            wording::drill(&member, &id),
            t!("contact-drill-ref", id = &id, fired = &fired),
            wording::drill_shows()
        )
    } else {
        t!("contact-alert-line", member = &member, what = &what, id = &id, fired = &fired)
    };
    if v["server_was_down"] == true {
        out.push_str(&format!(" {}", t!("contact-server-was-down")));
    }
    if v["drill"] != true {
        out.push_str(&format!("\n  {}", t!("contact-what-to-do", todo = &todo)));
    }
    let written = v["note_written_at"].as_u64().map(format_time);
    if let Some(n) = v["note"].as_str() {
        let n = if n.is_empty() { t!("contact-note-empty") } else { p(n) };
        let line = match &written {
            Some(at) => t!("contact-note-written", written = at, note = &n),
            None => t!("contact-note", note = &n),
        };
        out.push_str(&format!("\n  {line}"));
    }
    if let Some(l) = v["location"].as_str().filter(|l| !l.is_empty()) {
        let l = p(l);
        let line = match &written {
            Some(at) => t!("contact-location-written", written = at, location = &l),
            None => t!("contact-location", location = &l),
        };
        out.push_str(&format!("\n  {line}"));
    }
    if let Some(plan) = v["plan"].as_str() {
        out.push_str(&format!("\n  {}\n{}", t!("contact-their-plan"), p(&indent(plan))));
    }
    for n in v["earlier_notes"].as_array().into_iter().flatten() {
        let when = format_time(n["received_at"].as_u64().unwrap_or(0));
        if n["readable"] == true {
            let written = format_time(n["written_at"].as_u64().unwrap_or(0));
            let note = p(n["note"].as_str().unwrap_or(""));
            out.push_str(&format!("\n  {}", t!("contact-earlier-note-written", written = &written, note = &note)));
            if let Some(l) = n["location"].as_str().filter(|l| !l.is_empty()) {
                let l = p(l);
                out.push_str(&format!("\n    {}", t!("contact-location-written", written = &written, location = &l)));
            }
            if let Some(plan) = n["plan"].as_str() {
                out.push_str(&format!("\n    {}\n{}", t!("contact-their-plan-then"), p(&indent(plan))));
            }
        } else {
            out.push_str(&format!("\n  {}", t!("contact-earlier-note-sealed", received = &when)));
        }
    }
    for n in v["notices"].as_array().into_iter().flatten() {
        let check = match n["verified"].as_bool() {
            Some(true) => format!(" {}", t!("contact-notice-verified")),
            Some(false) => format!(" {}", t!("contact-notice-unverified")),
            None => String::new(),
        };
        let (what, todo) = wording::alert_notice(NoticeKind::parse(n["kind"].as_str().unwrap_or("")));
        let at = format_time(n["at"].as_u64().unwrap_or(0));
        out.push_str(&format!(
            "\n  {}",
            t!("contact-alert-notice-line", what = &what, at = &at, check = &check, todo = &todo)
        ));
    }
    for a in v["acks"].as_array().into_iter().flatten() {
        let by = a["by"].as_str().unwrap_or("");
        let at = format_time(a["at"].as_u64().unwrap_or(0));
        if by == "you" {
            out.push_str(&format!("\n  {}", t!("contact-acked-by-you", at = &at)));
        } else {
            // Who acknowledged is the server's word (the name is the member's
            // own, sealed; the mailbox it is matched to is not signed).
            let by = if by == ANOTHER_CONTACT { t!("contact-another-contact") } else { p(by) };
            out.push_str(&format!("\n  {}", t!("contact-acked-by", by = &by, at = &at)));
        }
    }
    for w in &r.warnings {
        out.push_str(&format!("\n  {}", t!("contact-alert-warning", warning = w)));
    }
    out
}

/// The member's plan, each line indented under its heading.
fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

/// The highest note sequence among `seen` (fired_at, sequence) pairs that
/// fired before `fired_at`.
fn newest_sequence_before(seen: &[(u64, u64)], fired_at: u64) -> u64 {
    seen.iter().filter(|(at, _)| *at < fired_at).map(|(_, seq)| *seq).max().unwrap_or(0)
}

async fn fetch(
    client: &ApiClient,
    m: &Membership,
    key: &SigningKey,
    since: u64,
    wait: u64,
) -> Result<MailboxContents, ClientError> {
    client.call(&routes::MailboxAlerts { poll: Some((since, wait)) }, &NoBody, &signer_for(client, m, key).await?).await
}

/// What this device keeps of a member's alerts: what it kept before, with
/// each alert the server returned now replacing its older copy (the
/// server's is newer: acknowledgements, notices), in firing order, the
/// newest [`HISTORY_KEPT`] of them. An alert the server has let go stays.
fn merge_history(kept: &[MailboxAlert], from_server: &[MailboxAlert]) -> Vec<MailboxAlert> {
    let mut merged: Vec<MailboxAlert> =
        kept.iter().filter(|k| !from_server.iter().any(|a| a.alert == k.alert)).cloned().collect();
    merged.extend(from_server.iter().cloned());
    merged.sort_by_key(|a| (a.fired_at, a.updated_ms));
    let excess = merged.len().saturating_sub(HISTORY_KEPT);
    merged.drain(..excess);
    merged
}

/// Everything the mailbox holds, read in as many pieces as the server
/// gives. An alert that changed between two pieces comes twice; the later
/// copy is kept.
async fn fetch_all(client: &ApiClient, m: &Membership, key: &SigningKey) -> Result<MailboxContents, ClientError> {
    let mut all = fetch(client, m, key, 0, 0).await?;
    // Bounded: a server that always says `more` cannot keep us here.
    for _ in 0..1000 {
        if !all.more {
            break;
        }
        let next = fetch(client, m, key, all.cursor_ms, 0).await?;
        for alert in next.alerts {
            all.alerts.retain(|a| a.alert != alert.alert);
            all.alerts.push(alert);
        }
        all.notices.extend(next.notices);
        all.cursor_ms = all.cursor_ms.max(next.cursor_ms);
        all.more = next.more;
    }
    all.alerts.sort_by_key(|a| a.fired_at);
    Ok(all)
}

/// The member's latest public heartbeat as the server relays it.
async fn fetch_heartbeat(client: &ApiClient, m: &Membership, key: &SigningKey) -> Result<Option<Vec<u8>>, ClientError> {
    let list = client.call(&routes::Heartbeats, &NoBody, &signer_for(client, m, key).await?).await?;
    Ok(list.heartbeat.map(|h| h.0))
}

/// Takes the relayed heartbeat if it passes [`proof_of_life::judge`].
/// Returns the proof of life now in force and, if one was ignored, why.
fn take_heartbeat(
    m: &Membership,
    ph: Option<&[u8]>,
    now: u64,
) -> (Option<ProofOfLife>, Option<AccountId>, Option<Said>) {
    let Some(ph) = ph else { return (m.proof_of_life.clone(), None, None) };
    match proof_of_life::judge(&m.member, m.account, m.server_id, m.proof_of_life.as_ref(), ph, now) {
        Ok((pol, account)) => (Some(pol), Some(account), None),
        Err(why) => {
            // The same heartbeat again is the usual case, not worth a word.
            let same = m.proof_of_life.as_ref().is_some_and(|p| ph_counter(ph) == Some(p.counter));
            (m.proof_of_life.clone(), None, (!same).then_some(why))
        }
    }
}

fn ph_counter(ph: &[u8]) -> Option<u64> {
    aman_protocol::Heartbeat::decode(ph).ok().map(|h| h.counter)
}

/// The warning for a member whose deadline passed with no alert to show for it.
fn unconfirmed_entry(m: &Membership, pol: &ProofOfLife, reachable: bool) -> Value {
    json!({
        "member": m.label, "last_sign_of_life": pol.signed_at, "deadline": pol.deadline,
        "server_reachable": reachable, "stood_down": pol.stood_down,
    })
}

fn unconfirmed_text(v: &Value) -> String {
    let member = v["member"].as_str().unwrap_or("");
    let server = if v["server_reachable"] == true {
        t!("contact-unconfirmed-not-confirmed")
    } else {
        t!("contact-unconfirmed-cannot-confirm")
    };
    // A stand-down said nothing was due; it vouches for no longer than the
    // longest schedule any server allows.
    let at = format_time(v["deadline"].as_u64().unwrap_or(0));
    let deadline = match v["stood_down"] == true {
        true => t!("contact-unconfirmed-stood-down", at = &at),
        false => t!("contact-unconfirmed-deadline", at = &at),
    };
    let since = format_time(v["last_sign_of_life"].as_u64().unwrap_or(0));
    t!("contact-unconfirmed", member = member, since = &since, deadline = &deadline, server = &server)
}

/// `aman alerts [--all]`: recent or unacknowledged alerts (all with `--all`).
/// A member with several servers is read on each: an alert that several
/// fired is shown once, naming them, and an acknowledgement made on one is
/// made on the others; a server that cannot be read is named while another
/// still relays the member's heartbeats.
pub async fn list_alerts(ctx: &Ctx, vault: &mut Vault, all: bool) -> Result<Report, ClientError> {
    let learnt_servers = member_servers::learn_all(ctx, vault).await.unwrap_or_default();
    let (book, _, _) = vault.contact()?;
    let mut alerts = Vec::new();
    let mut notices = Vec::new();
    let mut unconfirmed = Vec::new();
    let mut ignored = Vec::new();
    let mut ignored_text = Vec::new();
    let mut alert_texts = Vec::new();
    let mut learnt = Vec::new();
    let mut proofs = Vec::new();
    let mut kept = Vec::new();
    let mut servers_down = Vec::new();
    let mut down_text = Vec::new();
    let mut acked = Vec::new();
    let mut forget = Vec::new();
    let mut failed = None;
    let mut partly = false;
    let now = unix_now();
    let week_ago = now.saturating_sub(7 * 86_400);
    for m in &book.memberships {
        let keys = vault.membership_keys(m)?;
        // Whatever one server does (unreachable, refusing, answering
        // nonsense), the others are still read and this member's own
        // deadline still judged from what this device verified before.
        let mut pol = m.proof_of_life.clone();
        let mut account = None;
        let mut read = Vec::new();
        let mut first_failure = None;
        for feed in m.feeds() {
            let client = ctx.client(&feed.server)?;
            let reached = match fetch_all(&client, &feed, &keys.identity).await {
                Ok(contents) => match fetch_heartbeat(&client, &feed, &keys.identity).await {
                    Ok(ph) => Some((contents, ph)),
                    Err(e) => {
                        first_failure.get_or_insert(e);
                        Some((contents, None))
                    }
                },
                // A server the member's newest directory no longer lists,
                // that no longer knows this mailbox (its retention sweep
                // removed it after the account's deletion).
                Err(ClientError::Server { status: 401, .. })
                    if m.mirrors.iter().any(|k| k.server == feed.server && !k.listed) =>
                {
                    forget.push((m.mailbox, feed.server.clone()));
                    continue;
                }
                Err(e) => {
                    first_failure.get_or_insert(e);
                    None
                }
            };
            // Each server's heartbeat names that server; the newest verified wins.
            let current = Membership { proof_of_life: pol.clone(), ..feed.clone() };
            let ph = reached.as_ref().and_then(|(_, ph)| ph.as_deref());
            let (p, a, why) = take_heartbeat(&current, ph, now);
            // One of several servers a check-in behind (it was down) relays
            // an older heartbeat: expected, and ignored without a word.
            let behind = !m.mirrors.is_empty()
                && ph.and_then(ph_counter).is_some_and(|c| pol.as_ref().is_some_and(|p| c < p.counter));
            if let Some(why) = why.filter(|_| !behind) {
                ignored.push(json!({ "member": m.label, "server": feed.server, "why": why.json }));
                ignored_text.push(t!("contact-heartbeat-ignored", member = &m.label, why = &why.text));
            }
            pol = p;
            account = account.or(a);
            read.push((feed, reached.map(|(contents, _)| contents)));
        }
        if let (Some(p), Some(a)) = (&pol, account) {
            proofs.push((m.mailbox, p.clone(), a));
        }
        let reached_any = read.iter().any(|(_, c)| c.is_some());
        for (feed, contents) in &read {
            if contents.is_none() {
                kept.push((m.mailbox, feed.server.clone(), None, false));
            }
            if contents.is_none() && reached_any {
                // Down here, read through another: say which, and how fresh
                // the member's own heartbeat is.
                partly = true;
                let fresh = pol.as_ref().map(|p| p.signed_at);
                servers_down.push(json!({ "member": m.label, "server": feed.server, "last_heartbeat": fresh }));
                down_text.push(match fresh {
                    Some(at) => {
                        t!("contact-server-down-fresh", member = &m.label, server = &feed.server, at = format_time(at))
                    }
                    None => t!("contact-server-down", member = &m.label, server = &feed.server),
                });
            }
        }
        if !reached_any {
            if let Some(e) = first_failure {
                failed.get_or_insert(e);
            }
            if let Some(p) = pol.as_ref().filter(|p| proof_of_life::overdue(p, now)) {
                unconfirmed.push(unconfirmed_entry(m, p, false));
            }
            continue;
        }
        // Each server's alerts, kept as before; then one event per alert
        // that several servers fired.
        let mut copies = Vec::new();
        let mut told = Vec::new();
        for (feed, contents) in read {
            let history = match contents {
                Some(c) => {
                    told.extend(c.notices.iter().map(|n| (feed.server.clone(), n.notice.clone())));
                    // A server the member's newest directory no longer lists,
                    // that says the member's account there is deleted (after
                    // its cooling-off, every contact told): read no more.
                    let unlisted = m.mirrors.iter().any(|k| k.server == feed.server && !k.listed);
                    let deleted = c.notices.iter().any(|n| {
                        n.notice.kind == NoticeKind::AccountDeletion
                            && n.notice.effective_at.is_some_and(|at| at <= now)
                    });
                    if unlisted && deleted {
                        forget.push((m.mailbox, feed.server.clone()));
                    }
                    let h = merge_history(&feed.history, &c.alerts);
                    kept.push((m.mailbox, feed.server.clone(), Some(h.clone()), true));
                    h
                }
                None => feed.history.clone(),
            };
            copies.extend(history.into_iter().map(|a| (feed.server.clone(), a)));
        }
        for n in member_servers::distinct_notices(told) {
            notices.push(notice_entry(m, &n));
        }
        let mut events = member_servers::events(copies, now, pol.as_ref().map(|p| p.signed_at));
        let acked_now = acknowledge_everywhere(ctx, m, &keys.identity, &events).await;
        for (_, c) in events
            .iter_mut()
            .flat_map(|e| e.copies.iter_mut())
            .filter(|(_, c)| acked_now.iter().any(|r| r.alert == c.alert))
        {
            c.acks.push(aman_protocol::api::Ack { mailbox: m.mailbox, at: now });
        }
        acked.extend(acked_now.into_iter().map(|record| (m.mailbox, record)));
        if let Some(p) = pol.as_ref().filter(|p| proof_of_life::overdue(p, now)) {
            // A drill never stands for an alert.
            let real = events
                .iter()
                .flat_map(|e| e.copies.iter().map(|(_, a)| a))
                .filter(|a| a.reason != AlertReason::Drill && member_servers::plausible(a, now));
            if !real.into_iter().any(|a| proof_of_life::alert_covers(p, a.fired_at, a.deadline)) {
                unconfirmed.push(unconfirmed_entry(m, p, true));
            }
        }
        // In firing order, each judged against the notes of the alerts before it.
        let mut sequences = Vec::new();
        for e in &events {
            let a = e.shown(&m.server, m.mailbox, (!m.mirrors.is_empty()).then_some(m.acked.as_slice()));
            let mut v =
                render_alert(m, &a, &keys.encryption, pol.as_ref(), newest_sequence_before(&sequences, a.fired_at));
            if let Some(seq) = v.json["sequence"].as_u64() {
                learnt.push((m.mailbox, a.account, seq));
                sequences.push((a.fired_at, seq));
            }
            if !m.mirrors.is_empty() {
                v.json["servers"] = json!(e.servers());
                v.json["copies"] = Value::Array(
                    e.copies
                        .iter()
                        .map(|(server, c)| {
                            let acked = c.acks.iter().any(|k| k.mailbox == m.mailbox);
                            json!({ "server": server, "alert": c.alert, "acknowledged_by_me": acked })
                        })
                        .collect(),
                );
            }
            if all || a.acks.is_empty() || a.fired_at >= week_ago {
                let mut text = alert_text(&v);
                if !m.mirrors.is_empty() {
                    text.push_str(&format!("\n    {}", t!("contact-alert-servers", servers = e.servers().join(", "))));
                }
                alert_texts.push(text);
                alerts.push(v.json);
            }
        }
    }
    // Each member's servers, for a member with more than one.
    let member_servers = book.memberships.iter().any(|m| !m.mirrors.is_empty()).then(|| {
        Value::Array(
            book.memberships
                .iter()
                .map(|m| {
                    let servers: Vec<String> = m.feeds().into_iter().map(|f| f.server).collect();
                    let waiting: Vec<Value> = m
                        .mirrors
                        .iter()
                        .filter(|k| !k.waited(now))
                        .map(|k| json!({ "server": k.server, "from": k.listed_at.saturating_add(crate::state::new_server_wait()) }))
                        .collect();
                    json!({ "member": m.label, "servers": servers, "waiting": waiting })
                })
                .collect(),
        )
    });
    if let Some(b) = vault.book.contact.as_mut() {
        for (mailbox, account, seq) in learnt {
            if let Some(m) = b.memberships.iter_mut().find(|m| m.mailbox == mailbox) {
                m.account.get_or_insert(account);
                m.highest_sequence = m.highest_sequence.max(seq);
            }
        }
        for (mailbox, pol, account) in proofs {
            if let Some(m) = b.memberships.iter_mut().find(|m| m.mailbox == mailbox) {
                m.account.get_or_insert(account);
                m.proof_of_life = Some(pol);
            }
        }
        for (mailbox, server, history, reached) in kept {
            if let Some(m) = b.memberships.iter_mut().find(|m| m.mailbox == mailbox) {
                m.absorb(&server, history, reached, now);
            }
        }
        for (mailbox, record) in acked {
            if let Some(m) = b.memberships.iter_mut().find(|m| m.mailbox == mailbox) {
                m.remember_ack(record);
            }
        }
        for (mailbox, server) in forget {
            if let Some(m) = b.memberships.iter_mut().find(|m| m.mailbox == mailbox) {
                m.mirrors.retain(|k| k.server != server);
            }
        }
        vault.save()?;
    }
    let mut text: Vec<String> = learnt_servers;
    text.extend(unconfirmed.iter().map(unconfirmed_text));
    text.extend(alert_texts);
    for n in &notices {
        text.push(notice_text(n));
    }
    text.extend(down_text);
    text.extend(ignored_text);
    if alerts.is_empty() && unconfirmed.is_empty() {
        text.insert(0, t!("contact-no-alerts"));
    }
    let mut json =
        json!({ "alerts": alerts, "notices": notices, "unconfirmed": unconfirmed, "ignored_heartbeats": ignored });
    if let Some(servers) = member_servers {
        json["member_servers"] = servers;
    }
    if !servers_down.is_empty() {
        json["servers_down"] = json!(servers_down);
    }
    let report = Report { json, text: text.join("\n") };
    match failed {
        Some(cause) => Err(ClientError::Degraded { report: Box::new(report), cause: Box::new(cause) }),
        None if partly => Err(ClientError::Partly { report: Box::new(report) }),
        None => Ok(report),
    }
}

/// An acknowledgement made on one server is made on every server that
/// fired the same event, so that escalation stops everywhere (a server
/// that cannot be reached now gets it the next time the alerts are read).
async fn acknowledge_everywhere(
    ctx: &Ctx,
    m: &Membership,
    key: &SigningKey,
    events: &[member_servers::Event],
) -> Vec<AckRecord> {
    let mut done = Vec::new();
    for (server, alert) in member_servers::acks_to_spread(m, events) {
        if ack_on(ctx, m, &server, key, alert.alert).await.is_ok() {
            done.push(AckRecord::of(&server, &alert, unix_now()));
        }
    }
    done
}

/// Acknowledges one alert on one of the member's servers.
async fn ack_on(
    ctx: &Ctx,
    m: &Membership,
    server: &str,
    key: &SigningKey,
    alert: aman_protocol::AlertId,
) -> Result<(), ClientError> {
    let feed = m
        .feeds()
        .into_iter()
        .find(|f| f.server == server)
        .ok_or_else(|| ClientError::State(t!("contact-no-such-alert", id = alert.to_string())))?;
    let client = ctx.client(&feed.server)?;
    client.call(&routes::AckAlert { alert }, &NoBody, &signer_for(&client, &feed, key).await?).await?;
    Ok(())
}

/// The longest wait between two tries at a server that cannot be reached.
const WATCH_BACKOFF_MAX: Duration = Duration::from_secs(60);

/// How many alerts and notices `watch` remembers having shown.
const WATCH_REMEMBERED: usize = 10_000;

/// A digest of what the server sent, to tell a changed copy from the same.
fn digest_of(value: &impl serde::Serialize) -> [u8; 32] {
    aman_protocol::hash::sha256(&serde_json::to_vec(value).unwrap_or_default())
}

/// `aman alerts watch`: prints each new or changed alert and each new
/// notice as it arrives, and raises a warning of its own when a member's
/// deadline (known from the member's own signed heartbeat) passes with no
/// alert, even while the server cannot be reached. It never gives up on a
/// server: a failed read is retried with back-off, and a line every
/// `status_every` says it is still watching. Alerts, notices and warnings
/// go to `emit`; how the watch itself is doing (started, still watching, a
/// server down or back) to `say`. Stops after `limit` events when given
/// (for scripts and tests).
pub async fn watch(
    ctx: &Ctx,
    vault: &Vault,
    limit: Option<usize>,
    status_every: Duration,
    mut emit: impl FnMut(&Value, &str),
    mut say: impl FnMut(&str),
) -> Result<(), ClientError> {
    let (book, _, _) = vault.contact()?;
    let keys = book.memberships.iter().map(|m| vault.membership_keys(m)).collect::<Result<Vec<_>, _>>()?;
    // One feed per server of each member (most members have one): each
    // with its own cursor; what is judged (proof of life, what was shown)
    // is the member's.
    let feeds: Vec<(usize, Membership)> =
        book.memberships.iter().enumerate().flat_map(|(i, m)| m.feeds().into_iter().map(move |f| (i, f))).collect();
    let clients = feeds.iter().map(|(_, f)| ctx.client(&f.server)).collect::<Result<Vec<_>, _>>()?;
    let n = book.memberships.len();
    let nf = feeds.len();
    let mut cursors: Vec<u64> = vec![0; nf];
    let mut more: Vec<bool> = vec![false; nf];
    let mut read_once: Vec<bool> = vec![false; nf];
    let mut reachable: Vec<bool> = vec![true; nf];
    let mut proofs: Vec<Option<ProofOfLife>> = book.memberships.iter().map(|m| m.proof_of_life.clone()).collect();
    // The real alerts each member's history kept from earlier reads: an
    // alert the server has since pruned still covers a deadline, as it does
    // for `aman alerts`.
    let mut alerts_seen: Vec<Vec<(u64, Option<u64>)>> = book
        .memberships
        .iter()
        .map(|m| {
            m.feeds()
                .iter()
                .flat_map(|f| f.history.iter())
                .filter(|a| a.reason != AlertReason::Drill && member_servers::plausible(a, unix_now()))
                .map(|a| (a.fired_at, a.deadline))
                .collect()
        })
        .collect();
    let mut sequences: Vec<Vec<(u64, u64)>> = vec![Vec::new(); n];
    let mut raised: Vec<Option<u64>> = vec![None; n];
    // The alerts shown per member, with the server each came from: another
    // server's copy of one of them is the same event, not news.
    let mut shown_events: Vec<Vec<member_servers::Event>> = vec![Vec::new(); n];
    let mut copy_ids: std::collections::HashSet<(usize, aman_protocol::AlertId)> = std::collections::HashSet::new();
    // What was already shown, by digest (bounded: a server inventing ids
    // must not grow it without end; forgetting only risks a repeat).
    let mut seen: std::collections::HashMap<(usize, aman_protocol::AlertId), [u8; 32]> =
        std::collections::HashMap::new();
    let mut notices_seen: std::collections::HashSet<[u8; 32]> = std::collections::HashSet::new();
    let mut notices_told: Vec<Vec<(String, aman_protocol::api::Notice)>> = vec![Vec::new(); n];
    // A server first read late (it could not be reached when the watch
    // began) still shows what changed since the watch began.
    let started_ms = unix_now().saturating_mul(1000);
    let mut shown = 0usize;
    let mut backoff = Duration::from_secs(5);
    let mut last_said = tokio::time::Instant::now();
    let mut last_checked: Option<u64> = None;
    say(&t!("contact-watch-start", count = n));
    loop {
        let mut any_unreachable = false;
        for (j, (i, m)) in feeds.iter().enumerate() {
            let (i, client) = (*i, &clients[j]);
            // A member with several servers is named with the server.
            let who = match book.memberships[i].mirrors.is_empty() {
                true => m.label.clone(),
                false => format!("{} ({})", m.label, m.server),
            };
            let first = !read_once[j];
            let wait = if first || nf > 1 || more[j] { 0 } else { 25 };
            let mut events = Vec::new();
            let read = if first {
                fetch_all(client, m, &keys[i].identity).await
            } else {
                match fetch(client, m, &keys[i].identity, cursors[j], wait).await {
                    // The server holds as many long-polls as it allows: it is
                    // there, so read without waiting (never refused) instead.
                    Err(ClientError::Server { status: 429 | 503, .. }) if wait > 0 => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        fetch(client, m, &keys[i].identity, cursors[j], 0).await
                    }
                    other => other,
                }
            };
            let was_reachable = reachable[j];
            reachable[j] = match read {
                Ok(contents) => {
                    read_once[j] = true;
                    more[j] = contents.more;
                    cursors[j] = cursors[j].max(contents.cursor_ms);
                    let current = Membership { proof_of_life: proofs[i].clone(), ..m.clone() };
                    let ph = fetch_heartbeat(client, m, &keys[i].identity).await.ok().flatten();
                    if let (Some(p), _, _) = take_heartbeat(&current, ph.as_deref(), unix_now()) {
                        proofs[i] = Some(p);
                    }
                    let mut alerts = contents.alerts.clone();
                    alerts.sort_by_key(|a| a.fired_at);
                    let now = unix_now();
                    let from_first = m.server == book.memberships[i].server;
                    let alive_at = proofs[i].as_ref().map(|p| p.signed_at);
                    for a in &alerts {
                        // Times in the future are a server's invention: they
                        // neither cover a deadline nor group with a real alert.
                        let plausible = member_servers::plausible(a, now);
                        if a.reason != AlertReason::Drill
                            && plausible
                            && !alerts_seen[i].contains(&(a.fired_at, a.deadline))
                        {
                            if alerts_seen[i].len() >= WATCH_REMEMBERED {
                                alerts_seen[i].remove(0);
                            }
                            alerts_seen[i].push((a.fired_at, a.deadline));
                        }
                        // The same copy again (a page read twice) is not news;
                        // any change is, however close in time.
                        let digest = digest_of(a);
                        if seen.get(&(j, a.alert)) == Some(&digest) {
                            continue;
                        }
                        if seen.len() >= WATCH_REMEMBERED {
                            seen.clear();
                        }
                        let known = seen.insert((j, a.alert), digest).is_some();
                        // Another server's copy of an event already shown is
                        // not news, nor are its changes: one event holds at
                        // most one copy per server, as for `aman alerts`.
                        if known && copy_ids.contains(&(j, a.alert)) {
                            continue;
                        }
                        if !known {
                            if shown_events[i].len() >= WATCH_REMEMBERED {
                                shown_events[i].clear();
                            }
                            if copy_ids.len() >= WATCH_REMEMBERED {
                                copy_ids.clear();
                            }
                            let joined = shown_events[i].iter_mut().find(|e| {
                                plausible
                                    && member_servers::plausible(&e.copies[0].1, now)
                                    && !e.copies.iter().any(|(s, _)| *s == m.server)
                                    && member_servers::same_event(&e.copies[0].1, a, alive_at)
                            });
                            match joined {
                                // Another server's copy of an event shown. The
                                // first server's own copy is always shown: a
                                // mirror cannot swallow it with one made up.
                                Some(e) if !from_first => {
                                    e.copies.push((m.server.clone(), a.clone()));
                                    copy_ids.insert((j, a.alert));
                                    continue;
                                }
                                Some(e) => e.copies.push((m.server.clone(), a.clone())),
                                None => shown_events[i]
                                    .push(member_servers::Event { copies: vec![(m.server.clone(), a.clone())] }),
                            }
                        }
                        let before = newest_sequence_before(&sequences[i], a.fired_at);
                        // For a member with several servers, "acknowledged by
                        // you" only from this device's records, as `aman alerts`.
                        let mut a = a.clone();
                        let member = &book.memberships[i];
                        if !member.mirrors.is_empty() && !member.acked.iter().any(|r| r.is_of(&m.server, &a)) {
                            a.acks.retain(|k| k.mailbox != m.mailbox);
                        }
                        let a = &a;
                        let v = render_alert(m, a, &keys[i].encryption, proofs[i].as_ref(), before);
                        if let Some(seq) = v.json["sequence"].as_u64() {
                            sequences[i].push((a.fired_at, seq));
                        }
                        if !first || a.updated_ms >= started_ms {
                            // Only what arrives from now on.
                            let text = alert_text(&v);
                            events.push((v.json, text));
                        }
                    }
                    for notice in &contents.notices {
                        if notices_seen.len() >= WATCH_REMEMBERED {
                            notices_seen.clear();
                        }
                        let key = digest_of(&(m.mailbox, &notice.notice));
                        let new_since_start = notice.notice.at.saturating_mul(1000) >= started_ms;
                        // Another server's copy of a change already told
                        // (the first server's own notices are always told).
                        let copy = !from_first
                            && notices_told[i]
                                .iter()
                                .any(|(s, n)| *s != m.server && member_servers::same_notice(n, &notice.notice));
                        if notices_told[i].len() >= WATCH_REMEMBERED {
                            notices_told[i].clear();
                        }
                        notices_told[i].push((m.server.clone(), notice.notice.clone()));
                        if notices_seen.insert(key) && !copy && (!first || new_since_start) {
                            let v = json!({ "notice": notice_entry(m, &notice.notice) });
                            let text = notice_text(&v["notice"]);
                            events.push((v, text));
                        }
                    }
                    last_checked = Some(unix_now());
                    true
                }
                // Unreachable, refusing or answering nonsense: keep watching,
                // and keep judging the deadline from what was verified.
                Err(e) => {
                    any_unreachable = true;
                    if was_reachable {
                        // The error's own words from a server were made printable
                        // when it was made; its isolation marks stay.
                        let error = wording::printable_message(&e.to_string(), 200);
                        say(&t!("contact-watch-unreachable", member = &who, error = &error));
                    }
                    false
                }
            };
            if reachable[j] && !was_reachable {
                say(&t!("contact-watch-back", member = &who));
            }
            if let Some(p) = proofs[i].as_ref().filter(|p| proof_of_life::overdue(p, unix_now())) {
                let covered = alerts_seen[i].iter().any(|(at, d)| proof_of_life::alert_covers(p, *at, *d));
                if !covered && raised[i] != Some(p.deadline) {
                    raised[i] = Some(p.deadline);
                    let member_reachable = feeds.iter().zip(&reachable).any(|((k, _), r)| *k == i && *r);
                    let v = json!({ "unconfirmed": unconfirmed_entry(m, p, member_reachable) });
                    let text = unconfirmed_text(&v["unconfirmed"]);
                    events.push((v, text));
                }
            }
            for (v, text) in events {
                emit(&v, &text);
                shown += 1;
                if limit.is_some_and(|l| shown >= l) {
                    return Ok(());
                }
            }
        }
        if last_said.elapsed() >= status_every {
            last_said = tokio::time::Instant::now();
            let when = last_checked.map(format_time).unwrap_or_else(|| t!("contact-watch-never"));
            let down = reachable.iter().filter(|r| !**r).count();
            let mut text = t!("contact-watch-still", count = n, when = &when);
            if down > 0 {
                text.push_str(&format!(" {}", t!("contact-watch-down", count = down)));
            }
            say(&text);
        }
        if any_unreachable {
            tokio::time::sleep(backoff.min(status_every)).await;
            backoff = (backoff * 2).min(WATCH_BACKOFF_MAX);
        } else if more.iter().any(|m| *m) {
            // The rest of a long mailbox, but never in a tight loop.
            tokio::time::sleep(Duration::from_millis(200)).await;
        } else {
            backoff = Duration::from_secs(5);
            if nf > 1 {
                tokio::time::sleep(Duration::from_secs(5).min(status_every)).await;
            }
        }
    }
}

/// A notice as `alerts` and `alerts watch` show it.
fn notice_entry(m: &Membership, n: &aman_protocol::api::Notice) -> Value {
    // A new contact's safety number, as the member sees it in `aman contact list`.
    let safety = match (n.contact, n.contact_encryption) {
        (Some(cid), Some(cx)) => Some(safety_number(&m.member, &cid, &cx)),
        _ => None,
    };
    json!({
        "member": m.label, "kind": n.kind, "at": n.at,
        "effective_at": n.effective_at, "new_contact_safety_number": safety,
    })
}

/// The one alert whose id starts with `prefix`, among what the mailboxes
/// hold now and what this device kept (as git takes a short commit id).
async fn alert_by_prefix(
    ctx: &Ctx,
    vault: &Vault,
    prefix: &str,
) -> Result<(aman_protocol::AlertId, usize), ClientError> {
    let (book, _, _) = vault.contact()?;
    let prefix = prefix.trim().to_ascii_lowercase();
    if prefix.len() < 4 {
        return Err(ClientError::State(t!("contact-prefix-too-short")));
    }
    let mut found: Vec<(aman_protocol::AlertId, usize)> = Vec::new();
    let mut unread = None;
    for (i, m) in book.memberships.iter().enumerate() {
        let keys = vault.membership_keys(m)?;
        let mut ids: Vec<aman_protocol::AlertId> = Vec::new();
        for feed in m.feeds() {
            ids.extend(feed.history.iter().map(|a| a.alert));
            let client = ctx.client(&feed.server)?;
            // A server that cannot be read now does not stop the others'.
            match fetch_all(&client, &feed, &keys.identity).await {
                Ok(contents) => ids.extend(contents.alerts.iter().map(|a| a.alert)),
                Err(e) => {
                    unread.get_or_insert(e);
                }
            }
        }
        for id in ids {
            if id.to_string().starts_with(&prefix) && !found.iter().any(|(f, _)| *f == id) {
                found.push((id, i));
            }
        }
    }
    match found.as_slice() {
        [one] => Ok(*one),
        [] => match unread {
            Some(e) => Err(e),
            None => Err(ClientError::State(t!("contact-prefix-none", prefix = &prefix))),
        },
        many => Err(ClientError::State(t!(
            "contact-prefix-ambiguous",
            prefix = &prefix,
            count = many.len(),
            ids = many.iter().map(|(id, _)| id.to_string()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// `aman alerts ack ID`: the whole id, or any unique start of it.
pub async fn ack(ctx: &Ctx, vault: &mut Vault, alert: &str) -> Result<Report, ClientError> {
    let (book, _, _) = vault.contact()?;
    // A whole id is tried on each membership's server in turn; a prefix
    // names the membership it was found in, and only its server is asked.
    let (id, only) = match alert.trim().parse() {
        Ok(id) => (id, None),
        Err(_) => {
            let (id, i) = alert_by_prefix(ctx, vault, alert).await?;
            (id, Some(i))
        }
    };
    let mut unreached = None;
    let memberships = book.memberships.clone();
    for (_, m) in memberships.iter().enumerate().filter(|(i, _)| only.is_none_or(|o| o == *i)) {
        let keys = vault.membership_keys(m)?;
        for feed in m.feeds() {
            let client = ctx.client(&feed.server)?;
            match client
                .call(&routes::AckAlert { alert: id }, &NoBody, &signer_for(&client, &feed, &keys.identity).await?)
                .await
            {
                Ok(_) => {
                    // The same event on the member's other servers: escalation
                    // stops there too.
                    let records = ack_siblings(ctx, m, &feed, id, &keys.identity).await;
                    let also: Vec<aman_protocol::AlertId> =
                        records.iter().filter(|r| r.alert != id || r.server != feed.server).map(|r| r.alert).collect();
                    let (mailbox, label) = (m.mailbox, m.label.clone());
                    let mine = vault
                        .book
                        .contact
                        .as_mut()
                        .and_then(|b| b.memberships.iter_mut().find(|x| x.mailbox == mailbox));
                    if let Some(m) = mine {
                        for record in records {
                            m.remember_ack(record);
                        }
                    }
                    vault.save()?;
                    return Ok(Report {
                        json: json!({ "acknowledged": id, "member": label, "also_acknowledged": also }),
                        text: t!("contact-acked", member = &label),
                    });
                }
                Err(ClientError::Server { status: 404, .. }) => continue,
                // Another of the member's servers may hold it.
                Err(e @ ClientError::Unreachable { .. }) if !m.mirrors.is_empty() => {
                    unreached.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
    }
    Err(unreached.unwrap_or_else(|| ClientError::State(t!("contact-no-such-alert", id = id.to_string()))))
}

/// After `acked` was acknowledged through `feed`: acknowledges the other
/// copies of the same event (the one group [`member_servers::events`] puts
/// it in: at most one copy per server) on the member's other servers, and
/// returns the record of each copy acknowledged, `acked` among them (none
/// for a member with one server). A server that cannot be reached gets it
/// when the alerts are next read.
async fn ack_siblings(
    ctx: &Ctx,
    m: &Membership,
    feed: &Membership,
    acked: aman_protocol::AlertId,
    key: &SigningKey,
) -> Vec<AckRecord> {
    let mut done = Vec::new();
    if m.mirrors.is_empty() {
        return done;
    }
    let mut copies = Vec::new();
    for f in m.feeds() {
        let Ok(client) = ctx.client(&f.server) else { continue };
        let Ok(read) = fetch_all(&client, &f, key).await else { continue };
        copies.extend(read.alerts.into_iter().map(|a| (f.server.clone(), a)));
    }
    let alive_at = m.proof_of_life.as_ref().map(|p| p.signed_at);
    let now = unix_now();
    let events = member_servers::events(copies.clone(), now, alive_at);
    let Some(event) = events.iter().find(|e| e.copies.iter().any(|(s, a)| *s == feed.server && a.alert == acked))
    else {
        return done;
    };
    let Some((_, this)) = event.copies.iter().find(|(s, a)| *s == feed.server && a.alert == acked) else {
        return done;
    };
    done.push(AckRecord::of(&feed.server, this, now));
    for (server, a) in event.copies.iter().filter(|(s, _)| *s != feed.server) {
        // Only the other server's closest match, and only when this is its
        // closest too: a server cannot steer the acknowledgement elsewhere.
        let matched = member_servers::matched(&copies, (&feed.server, this), (server, a), alive_at);
        let mine_already = a.acks.iter().any(|k| k.mailbox == m.mailbox);
        if matched && !mine_already && ack_on(ctx, m, server, key, a.alert).await.is_ok() {
            done.push(AckRecord::of(server, a, now));
        }
    }
    done
}

/// `aman notify add KIND TARGET`: adds the channel to every mailbox.
pub async fn notify_add(ctx: &Ctx, vault: &mut Vault, kind: ChannelKind, target: &str) -> Result<Report, ClientError> {
    let (book, _, _) = vault.contact()?;
    let mut endpoints = Vec::new();
    let mut mirror_endpoints = Vec::new();
    let mut secrets = Vec::new();
    for m in &book.memberships {
        let keys = vault.membership_keys(m)?;
        // Every server of the member: whichever alerts, the channel wakes.
        for feed in m.feeds() {
            let client = ctx.client(&feed.server)?;
            let body = AddEndpoint { kind, target: target.to_owned() };
            let sign = signer_for(&client, &feed, &keys.identity).await?;
            let added = match client.call(&routes::AddEndpoint, &body, &sign).await {
                Ok(added) => added,
                Err(e) if feed.server == m.server => return Err(e),
                // A mirror down now: the channel covers the member's other servers.
                Err(_) => continue,
            };
            match feed.server == m.server {
                true => endpoints.push((m.mailbox, added.id)),
                false => mirror_endpoints.push((m.mailbox, feed.server.clone(), added.id)),
            }
            if let Some(s) = added.secret {
                secrets.push(json!({ "member": m.label, "secret": s }));
            }
        }
    }
    let id = book.notify.iter().map(|n| n.id).max().unwrap_or(0) + 1;
    if let Some(b) = vault.book.contact.as_mut() {
        b.notify.push(NotifyEntry { id, kind, target: target.to_owned(), endpoints, mirror_endpoints });
    }
    vault.save()?;
    let mut text = t!("contact-notify-added", kind = kind.to_string(), id = id.to_string());
    for s in &secrets {
        let (member, secret) = (s["member"].as_str().unwrap_or(""), s["secret"].as_str().unwrap_or(""));
        text.push_str(&format!("\n{}", t!("contact-webhook-secret", member = member, secret = secret)));
    }
    Ok(Report { json: json!({ "id": id, "kind": kind, "secrets": secrets }), text })
}

/// `aman notify list`.
pub fn notify_list(vault: &Vault) -> Result<Report, ClientError> {
    let (book, _, _) = vault.contact()?;
    let list: Vec<Value> =
        book.notify.iter().map(|n| json!({ "id": n.id, "kind": n.kind, "target": n.target })).collect();
    let text = if list.is_empty() {
        t!("contact-notify-none")
    } else {
        let members = book.memberships.len();
        book.notify
            .iter()
            .map(|n| {
                let covered =
                    book.memberships.iter().filter(|m| n.endpoints.iter().any(|(mb, _)| *mb == m.mailbox)).count();
                let cover = if covered == members {
                    t!("contact-notify-covers-all", count = members)
                } else {
                    t!("contact-notify-covers-some", covered = covered, count = members)
                };
                format!("{}  {}  {}  {cover}", n.id, n.kind, n.target)
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(Report { json: json!({ "channels": list }), text })
}

/// `aman notify remove ID`.
pub async fn notify_remove(ctx: &Ctx, vault: &mut Vault, id: u32) -> Result<Report, ClientError> {
    let (book, _, _) = vault.contact()?;
    let entry = book
        .notify
        .iter()
        .find(|n| n.id == id)
        .ok_or_else(|| ClientError::State(t!("contact-no-such-channel", id = id.to_string())))?;
    let on_first = entry.endpoints.iter().map(|(mailbox, endpoint)| (*mailbox, None, *endpoint));
    let on_mirrors =
        entry.mirror_endpoints.iter().map(|(mailbox, server, endpoint)| (*mailbox, Some(server), *endpoint));
    for (mailbox, server, endpoint) in on_first.chain(on_mirrors) {
        let Some(m) = book.memberships.iter().find(|m| m.mailbox == mailbox) else { continue };
        let Some(feed) = m.feeds().into_iter().find(|f| server.is_none_or(|s| *s == f.server)) else { continue };
        let client = ctx.client(&feed.server)?;
        let keys = vault.membership_keys(m)?;
        let route = routes::RemoveEndpoint { id: endpoint };
        match client.call(&route, &NoBody, &signer_for(&client, &feed, &keys.identity).await?).await {
            Ok(_) | Err(ClientError::Server { status: 404, .. }) => {}
            Err(e) => return Err(e),
        }
    }
    if let Some(b) = vault.book.contact.as_mut() {
        b.notify.retain(|n| n.id != id);
    }
    vault.save()?;
    Ok(Report { json: json!({ "removed": id }), text: t!("contact-notify-removed", id = id.to_string()) })
}

/// `aman verify`: every safety number this keystore knows.
pub fn verify(vault: &Vault) -> Report {
    let mut rows = Vec::new();
    let mut text = Vec::new();
    if let Some(b) = &vault.book.member {
        for c in &b.contacts {
            rows.push(json!({ "role": "member", "with": c.label, "safety_number": c.safety_number }));
            let number = aman_protocol::safety::format_groups(&c.safety_number);
            text.push(t!("contact-verify-your-contact", label = &c.label, number = &number));
        }
    }
    if let Some(b) = &vault.book.contact {
        for m in &b.memberships {
            rows.push(json!({ "role": "contact", "with": m.label, "safety_number": m.safety_number }));
            let number = aman_protocol::safety::format_groups(&m.safety_number);
            text.push(t!("contact-verify-member", label = &m.label, number = &number));
        }
    }
    if text.is_empty() {
        text.push(t!("contact-verify-none"));
    }
    Report { json: json!({ "safety_numbers": rows }), text: text.join("\n") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aman_protocol::alert::{seal, AlertBody};
    use aman_protocol::api::{Notice, NoticeKind};
    use aman_protocol::{AccountId, AlertId};

    fn setup(created: u64) -> (Membership, EncryptionSecret, MailboxAlert) {
        let member = SigningKey::generate().unwrap();
        let cx = EncryptionSecret::generate().unwrap();
        let account = AccountId::from_bytes([1; 16]);
        let body = AlertBody {
            contacts: Vec::new(),
            plan: String::new(),
            account,
            sequence: 1,
            created,
            note: "the bridge".into(),
            location: String::new(),
        };
        let sealed = seal(&body, &member, &[cx.public()]).unwrap();
        let m = Membership {
            label: "Noor".into(),
            server: "http://127.0.0.1".into(),
            mailbox: MailboxId::from_bytes([2; 16]),
            member: member.verifying_key(),
            account: Some(account),
            safety_number: String::new(),
            highest_sequence: 0,
            own_keys: true,
            server_id: None,
            proof_of_life: None,
            history: Vec::new(),
            mirrors: Vec::new(),
            directory_sequence: 0,
            directory_created: 0,
            unreachable_since: None,
            acked: Vec::new(),
        };
        let alert = MailboxAlert {
            alert: AlertId::from_bytes([3; 16]),
            account,
            reason: AlertReason::Missed,
            fired_at: 5000,
            deadline: Some(5000),
            server_was_down: false,
            sealed_alert: B64(sealed),
            note_received_at: Some(created),
            earlier_notes: Vec::new(),
            acks: Vec::new(),
            notices: vec![Notice::new(NoticeKind::CheckedInLate, 5100, None)],
            updated_ms: 0,
        };
        (m, cx, alert)
    }

    #[test]
    fn a_late_check_in_notice_without_a_signed_heartbeat_is_unverified() {
        let (m, cx, alert) = setup(1000);
        // The newest heartbeat the contact verified was signed before the alert.
        let before =
            ProofOfLife { counter: 3, signed_at: 900, deadline: 5000, stood_down: false, sealed_hash: String::new() };
        let v = render_alert(&m, &alert, &cx, Some(&before), 0);
        assert_eq!(v.json["notices"][0]["verified"], false);
        assert!(alert_text(&v).contains("UNVERIFIED"), "{}", alert_text(&v));
        let v = render_alert(&m, &alert, &cx, None, 0);
        assert_eq!(v.json["notices"][0]["verified"], false);
        // A heartbeat signed after the alert backs it.
        let after =
            ProofOfLife { counter: 4, signed_at: 5100, deadline: 9000, stood_down: false, sealed_hash: String::new() };
        let v = render_alert(&m, &alert, &cx, Some(&after), 0);
        assert_eq!(v.json["notices"][0]["verified"], true);
        assert!(alert_text(&v).contains("verified: the member's device signed"));
    }

    #[test]
    fn every_note_shows_when_it_was_written_and_an_old_one_is_flagged() {
        let (m, cx, alert) = setup(1000);
        let this = data_encoding::HEXLOWER.encode(&aman_protocol::alert::sealed_hash(&alert.sealed_alert.0));
        let vouched = ProofOfLife { counter: 3, signed_at: 4000, deadline: 5000, stood_down: false, sealed_hash: this };
        let v = render_alert(&m, &alert, &cx, Some(&vouched), 0);
        assert_eq!(v.json["note_written_at"], 1000);
        assert_eq!(v.json["warnings"], json!([]), "the note the member last vouched for");
        assert!(alert_text(&v).contains("(written 1970-01-01 00:16:40 UTC)"));
        let other = ProofOfLife { sealed_hash: "00".repeat(32), ..vouched };
        let v = render_alert(&m, &alert, &cx, Some(&other), 0);
        assert!(
            v.json["warnings"][0].as_str().unwrap().contains("older than the member's latest check-in"),
            "{}",
            v.json
        );
        // An alert that fired before that check-in rightly carries an older note.
        let later = ProofOfLife { signed_at: 6000, ..other.clone() };
        let v = render_alert(&m, &alert, &cx, Some(&later), 0);
        assert_eq!(v.json["warnings"], json!([]), "{}", v.json);
        // A note older than an earlier alert's is flagged; one as new is not.
        let v = render_alert(&m, &alert, &cx, Some(&vouched), 2);
        assert!(
            v.json["warnings"][0].as_str().unwrap().contains("older than the note of an earlier alert"),
            "{}",
            v.json
        );
        assert_eq!(render_alert(&m, &alert, &cx, Some(&vouched), 1).json["warnings"], json!([]));
    }

    #[test]
    fn counts_read_in_english_as_before_and_in_arabic_by_its_plural_rules() {
        use crate::i18n::{message_in, Arg, Lang};
        let en = message_in(Lang::En, "contact-watch-start", &[("count", Arg::Count(1))]);
        assert_eq!(en, "Watching 1 member(s) for alerts and notices. Leave this running.");
        let forms: std::collections::BTreeSet<String> = [0u64, 1, 2, 5, 11, 100]
            .iter()
            .map(|n| message_in(Lang::Ar, "contact-watch-start", &[("count", Arg::Count(*n))]))
            .collect();
        assert_eq!(forms.len(), 6, "{forms:?}");
        let down = |n| message_in(Lang::En, "contact-watch-down", &[("count", Arg::Count(n))]);
        assert_eq!(down(3), "3 server(s) cannot be reached now.");
    }

    #[test]
    fn the_device_keeps_alerts_the_server_let_go_and_takes_the_servers_newer_copy() {
        let (_, _, alert) = setup(1000);
        let at = |n: u8, fired_at: u64, updated_ms: u64| MailboxAlert {
            alert: AlertId::from_bytes([n; 16]),
            fired_at,
            updated_ms,
            ..alert.clone()
        };
        let kept = vec![at(1, 100, 1), at(2, 200, 2)];
        // The server let alert 1 go (retention) and has a newer copy of 2, and a new 3.
        let mut newer = at(2, 200, 9);
        newer.acks.push(aman_protocol::api::Ack { mailbox: MailboxId::from_bytes([7; 16]), at: 250 });
        let merged = merge_history(&kept, &[newer, at(3, 300, 10)]);
        let ids: Vec<u8> = merged.iter().map(|a| a.alert.as_bytes()[0]).collect();
        assert_eq!(ids, vec![1, 2, 3], "kept, replaced, added, in firing order");
        assert_eq!(merged[1].acks.len(), 1, "the server's newer copy wins");
        // Bounded: the oldest go first.
        let many: Vec<MailboxAlert> = (0..(HISTORY_KEPT as u8 + 5)).map(|n| at(n, u64::from(n), 0)).collect();
        let merged = merge_history(&many, &[]);
        assert_eq!(merged.len(), HISTORY_KEPT);
        assert_eq!(merged[0].alert.as_bytes()[0], 5);
    }
}
