//! What a trusted contact does: accept an invite, read and acknowledge
//! alerts, add notification channels.

use crate::api::{unix_now, ApiClient, Signer};
use crate::context::{format_time, Ctx, Report};
use crate::error::ClientError;
use crate::state::{ContactBook, Membership, NotifyEntry, Vault};
use aman_protocol::api::{AddEndpoint, EndpointAdded, MailboxAlert, MailboxContents, PairingAnswer, B64};
use aman_protocol::{open, safety_number, EncryptionSecret, Enrollment, InviteCode, MailboxId, SigningKey};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

/// `aman contact accept CODE`: registers a mailbox on the member's server
/// and sends the encrypted enrollment.
pub async fn accept(ctx: &Ctx, vault: &mut Vault, code: &str, label: Option<&str>) -> Result<Report, ClientError> {
    let invite =
        InviteCode::parse(code).map_err(|e| ClientError::State(format!("that is not a valid invite code: {e}")))?;
    if vault.secrets.contact_identity.is_none() {
        vault.secrets.contact_identity = Some(SigningKey::generate()?);
        vault.secrets.contact_encryption = Some(EncryptionSecret::generate()?);
    }
    let book = vault.book.contact.get_or_insert_with(ContactBook::default);
    let label = label.map(str::to_owned).unwrap_or_else(|| format!("member-{}", book.memberships.len() + 1));
    if book.memberships.iter().any(|m| m.label == label) {
        return Err(ClientError::State(format!("a member is already labelled `{label}`")));
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
    let body = serde_json::to_vec(&answer).map_err(|e| ClientError::State(e.to_string()))?;
    client.send(Method::POST, &format!("/v1/pairings/{}/reply", invite.id), body, &signer).await?;
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
    };
    if let Some(b) = vault.book.contact.as_mut() {
        b.memberships.push(membership);
    }
    vault.save()?;
    Ok(Report {
        json: json!({ "label": label, "mailbox": mailbox, "safety_number": safety }),
        text: format!(
            "You are now a trusted contact of {label}.\nSafety number (compare it with theirs in person):\n{}",
            aman_protocol::safety::format_groups(&safety)
        ),
    })
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
fn earlier_notes(m: &Membership, a: &MailboxAlert, cx: &EncryptionSecret, latest: (&str, &str)) -> Vec<Value> {
    let mut shown: Vec<(String, String)> = vec![(latest.0.to_owned(), latest.1.to_owned())];
    let mut out = Vec::new();
    for n in &a.earlier_notes {
        match open(&n.sealed_alert.0, cx, &m.member) {
            Ok(body) => {
                let words = (body.note.clone(), body.location.clone());
                if shown.contains(&words) || (body.note.is_empty() && body.location.is_empty()) {
                    continue;
                }
                shown.push(words);
                out.push(json!({
                    "received_at": n.received_at, "note": body.note, "location": body.location,
                    "written_at": body.created, "readable": true,
                }));
            }
            Err(_) => out.push(json!({ "received_at": n.received_at, "readable": false })),
        }
    }
    out
}

/// One alert, decrypted and verified (or with a warning saying why not).
fn render_alert(m: &Membership, a: &MailboxAlert, cx: &EncryptionSecret) -> Value {
    let mut warnings = Vec::new();
    let (note, location, sequence) = if a.sealed_alert.0.is_empty() {
        warnings.push("the member had not sealed a note".to_owned());
        (None, None, None)
    } else {
        match open(&a.sealed_alert.0, cx, &m.member) {
            Ok(body) => {
                if body.account != a.account {
                    warnings.push("the sealed note names another account: do not trust it".to_owned());
                }
                if body.sequence < m.highest_sequence {
                    warnings.push("this note is older than one already seen".to_owned());
                }
                (Some(body.note.clone()), Some(body.location.clone()), Some(body.sequence))
            }
            Err(aman_protocol::Error::BadSignature) => {
                warnings.push("the note is NOT signed by the member: it may be forged".to_owned());
                (None, None, None)
            }
            Err(_) => {
                warnings.push("the note could not be decrypted with your key".to_owned());
                (None, None, None)
            }
        }
    };
    let acks: Vec<Value> = a
        .acks
        .iter()
        .map(|k| json!({ "by": if k.mailbox == m.mailbox { "you" } else { "another contact" }, "at": k.at }))
        .collect();
    let earlier = earlier_notes(m, a, cx, (note.as_deref().unwrap_or(""), location.as_deref().unwrap_or("")));
    json!({
        "alert": a.alert, "member": m.label, "reason": a.reason, "fired_at": a.fired_at,
        "deadline": a.deadline, "server_was_down": a.server_was_down,
        "note": note, "location": location, "sequence": sequence, "note_received_at": a.note_received_at,
        "earlier_notes": earlier,
        "notices": a.notices, "acks": acks, "warnings": warnings,
    })
}

/// A sentence for an account-level notice.
fn notice_text(n: &Value) -> String {
    let member = n["member"].as_str().unwrap_or("");
    let when = format_time(n["effective_at"].as_u64().unwrap_or(0));
    match n["kind"].as_str().unwrap_or("") {
        "contact_linked" => {
            let prefix: String = n["new_contact_safety_number"].as_str().unwrap_or("").chars().take(10).collect();
            format!(
                "NOTICE from {member}: a new contact was linked (safety number begins {prefix}). It receives nothing before {when}. If {member} did not tell you, ask them."
            )
        }
        "pending_change_cancelled" => format!("NOTICE from {member}: a pending change was cancelled."),
        kind => format!("NOTICE from {member}: {kind} (takes effect {when})"),
    }
}

fn alert_text(v: &Value) -> String {
    let mut t = format!(
        "ALERT {} from {}: {} at {}",
        v["alert"].as_str().unwrap_or(""),
        v["member"].as_str().unwrap_or(""),
        v["reason"].as_str().unwrap_or(""),
        format_time(v["fired_at"].as_u64().unwrap_or(0))
    );
    if v["server_was_down"] == true {
        t.push_str(" (the server had been down before this deadline)");
    }
    if let Some(n) = v["note"].as_str() {
        t.push_str(&format!("\n  note: {n}"));
    }
    if let Some(l) = v["location"].as_str().filter(|l| !l.is_empty()) {
        t.push_str(&format!("\n  location: {l}"));
    }
    for n in v["earlier_notes"].as_array().into_iter().flatten() {
        let when = format_time(n["received_at"].as_u64().unwrap_or(0));
        if n["readable"] == true {
            t.push_str(&format!("\n  earlier note (received {when}): {}", n["note"].as_str().unwrap_or("")));
            if let Some(l) = n["location"].as_str().filter(|l| !l.is_empty()) {
                t.push_str(&format!("\n    location: {l}"));
            }
        } else {
            t.push_str(&format!("\n  earlier note (received {when}): sealed so that you cannot open it"));
        }
    }
    for n in v["notices"].as_array().into_iter().flatten() {
        t.push_str(&format!(
            "\n  {} at {}",
            n["kind"].as_str().unwrap_or(""),
            format_time(n["at"].as_u64().unwrap_or(0))
        ));
    }
    for a in v["acks"].as_array().into_iter().flatten() {
        t.push_str(&format!(
            "\n  acknowledged by {} at {}",
            a["by"].as_str().unwrap_or(""),
            format_time(a["at"].as_u64().unwrap_or(0))
        ));
    }
    for w in v["warnings"].as_array().into_iter().flatten() {
        t.push_str(&format!("\n  WARNING: {}", w.as_str().unwrap_or("")));
    }
    t
}

async fn fetch(
    client: &ApiClient,
    m: &Membership,
    key: &SigningKey,
    since: u64,
    wait: u64,
) -> Result<MailboxContents, ClientError> {
    let path = format!("/v1/mailbox/alerts?since={since}&wait={wait}");
    client.call::<(), _>(Method::GET, &path, None, &signer_for(client, m, key).await?).await
}

/// `aman alerts [--all]`: recent or unacknowledged alerts (all with `--all`).
pub async fn list_alerts(ctx: &Ctx, vault: &mut Vault, all: bool) -> Result<Report, ClientError> {
    let (book, _, _) = vault.contact()?;
    let mut alerts = Vec::new();
    let mut notices = Vec::new();
    let mut learnt = Vec::new();
    let week_ago = unix_now().saturating_sub(7 * 86_400);
    for m in &book.memberships {
        let client = ctx.client(&m.server)?;
        let keys = vault.membership_keys(m)?;
        let contents = fetch(&client, m, &keys.identity, 0, 0).await?;
        for a in &contents.alerts {
            if all || a.acks.is_empty() || a.fired_at >= week_ago {
                let v = render_alert(m, a, &keys.encryption);
                if let Some(seq) = v["sequence"].as_u64() {
                    learnt.push((m.mailbox, a.account, seq));
                }
                alerts.push(v);
            }
        }
        for n in contents.notices {
            // A new contact's safety number, as the member sees it in `aman contact list`.
            let safety = match (n.notice.contact, n.notice.contact_encryption) {
                (Some(cid), Some(cx)) => Some(safety_number(&m.member, &cid, &cx)),
                _ => None,
            };
            notices.push(json!({
                "member": m.label, "kind": n.notice.kind, "at": n.notice.at,
                "effective_at": n.notice.effective_at, "new_contact_safety_number": safety,
            }));
        }
    }
    if let Some(b) = vault.book.contact.as_mut() {
        for (mailbox, account, seq) in learnt {
            if let Some(m) = b.memberships.iter_mut().find(|m| m.mailbox == mailbox) {
                m.account.get_or_insert(account);
                m.highest_sequence = m.highest_sequence.max(seq);
            }
        }
        vault.save()?;
    }
    let mut text: Vec<String> = alerts.iter().map(alert_text).collect();
    for n in &notices {
        text.push(notice_text(n));
    }
    if text.is_empty() {
        text.push("No alerts.".into());
    }
    Ok(Report { json: json!({ "alerts": alerts, "notices": notices }), text: text.join("\n") })
}

/// `aman alerts watch`: prints each new or changed alert as it arrives.
/// Stops after `limit` alerts when given (for scripts and tests).
pub async fn watch(
    ctx: &Ctx,
    vault: &Vault,
    limit: Option<usize>,
    mut emit: impl FnMut(&Value, &str),
) -> Result<(), ClientError> {
    let (book, _, _) = vault.contact()?;
    let keys = book.memberships.iter().map(|m| vault.membership_keys(m)).collect::<Result<Vec<_>, _>>()?;
    let mut cursors: Vec<u64> = vec![0; book.memberships.len()];
    let mut seen = std::collections::HashMap::new();
    let mut shown = 0usize;
    let mut first = true;
    loop {
        for (i, m) in book.memberships.iter().enumerate() {
            let client = ctx.client(&m.server)?;
            let wait = if first || book.memberships.len() > 1 { 0 } else { 25 };
            let contents = fetch(&client, m, &keys[i].identity, cursors[i], wait).await?;
            cursors[i] = cursors[i].max(contents.cursor_ms);
            for a in &contents.alerts {
                if seen.get(&a.alert) == Some(&a.updated_ms) {
                    continue;
                }
                seen.insert(a.alert, a.updated_ms);
                if first {
                    continue; // only what arrives from now on
                }
                let v = render_alert(m, a, &keys[i].encryption);
                emit(&v, &alert_text(&v));
                shown += 1;
                if limit.is_some_and(|l| shown >= l) {
                    return Ok(());
                }
            }
        }
        if !first && book.memberships.len() > 1 {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        first = false;
    }
}

/// `aman alerts ack ID`.
pub async fn ack(ctx: &Ctx, vault: &Vault, alert: &str) -> Result<Report, ClientError> {
    let (book, _, _) = vault.contact()?;
    let id: aman_protocol::AlertId =
        alert.parse().map_err(|_| ClientError::State(format!("`{alert}` is not an alert id")))?;
    for m in &book.memberships {
        let client = ctx.client(&m.server)?;
        let keys = vault.membership_keys(m)?;
        let path = format!("/v1/mailbox/alerts/{id}/ack");
        match client.send(Method::POST, &path, Vec::new(), &signer_for(&client, m, &keys.identity).await?).await {
            Ok(_) => {
                return Ok(Report {
                    json: json!({ "acknowledged": id, "member": m.label }),
                    text: format!("Acknowledged. Escalation stops, and {}'s other contacts are told.", m.label),
                })
            }
            Err(ClientError::Server { status: 404, .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ClientError::State(format!("no alert {id} in your mailboxes")))
}

/// `aman notify add KIND TARGET`: adds the channel to every mailbox.
pub async fn notify_add(ctx: &Ctx, vault: &mut Vault, kind: &str, target: &str) -> Result<Report, ClientError> {
    let (book, _, _) = vault.contact()?;
    let mut endpoints = Vec::new();
    let mut secrets = Vec::new();
    for m in &book.memberships {
        let client = ctx.client(&m.server)?;
        let keys = vault.membership_keys(m)?;
        let body = AddEndpoint { kind: kind.to_owned(), target: target.to_owned() };
        let added: EndpointAdded = client
            .call(Method::POST, "/v1/mailbox/endpoints", Some(&body), &signer_for(&client, m, &keys.identity).await?)
            .await?;
        endpoints.push((m.mailbox, added.id));
        if let Some(s) = added.secret {
            secrets.push(json!({ "member": m.label, "secret": s }));
        }
    }
    let id = book.notify.iter().map(|n| n.id).max().unwrap_or(0) + 1;
    if let Some(b) = vault.book.contact.as_mut() {
        b.notify.push(NotifyEntry { id, kind: kind.to_owned(), target: target.to_owned(), endpoints });
    }
    vault.save()?;
    let mut text =
        format!("Added {kind} notification {id}. Notifications say only that an alert is waiting: run `aman alerts`.");
    for s in &secrets {
        text.push_str(&format!(
            "\nWebhook signing secret for {} (shown once; requests carry an HMAC-SHA256 signature with it): {}",
            s["member"].as_str().unwrap_or(""),
            s["secret"].as_str().unwrap_or("")
        ));
    }
    Ok(Report { json: json!({ "id": id, "kind": kind, "secrets": secrets }), text })
}

/// `aman notify list`.
pub fn notify_list(vault: &Vault) -> Result<Report, ClientError> {
    let (book, _, _) = vault.contact()?;
    let list: Vec<Value> =
        book.notify.iter().map(|n| json!({ "id": n.id, "kind": n.kind, "target": n.target })).collect();
    let text = if list.is_empty() {
        "No notification channels. Add one with `aman notify add webhook URL | ntfy URL | email ADDRESS`.".to_owned()
    } else {
        book.notify.iter().map(|n| format!("{}  {}  {}", n.id, n.kind, n.target)).collect::<Vec<_>>().join("\n")
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
        .ok_or_else(|| ClientError::State(format!("no notification channel {id}")))?;
    for (mailbox, endpoint) in &entry.endpoints {
        if let Some(m) = book.memberships.iter().find(|m| m.mailbox == *mailbox) {
            let client = ctx.client(&m.server)?;
            let keys = vault.membership_keys(m)?;
            let path = format!("/v1/mailbox/endpoints/{endpoint}");
            match client.send(Method::DELETE, &path, Vec::new(), &signer_for(&client, m, &keys.identity).await?).await {
                Ok(_) | Err(ClientError::Server { status: 404, .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    if let Some(b) = vault.book.contact.as_mut() {
        b.notify.retain(|n| n.id != id);
    }
    vault.save()?;
    Ok(Report { json: json!({ "removed": id }), text: format!("Removed notification channel {id}.") })
}

/// `aman verify`: every safety number this keystore knows.
pub fn verify(vault: &Vault) -> Report {
    let mut rows = Vec::new();
    let mut text = Vec::new();
    if let Some(b) = &vault.book.member {
        for c in &b.contacts {
            rows.push(json!({ "role": "member", "with": c.label, "safety_number": c.safety_number }));
            text.push(format!("your contact {}: {}", c.label, aman_protocol::safety::format_groups(&c.safety_number)));
        }
    }
    if let Some(b) = &vault.book.contact {
        for m in &b.memberships {
            rows.push(json!({ "role": "contact", "with": m.label, "safety_number": m.safety_number }));
            text.push(format!("member {}: {}", m.label, aman_protocol::safety::format_groups(&m.safety_number)));
        }
    }
    if text.is_empty() {
        text.push("No paired keys yet.".into());
    }
    Report { json: json!({ "safety_numbers": rows }), text: text.join("\n") }
}
