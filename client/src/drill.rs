//! Drills: the member tests their safety net. `aman drill` sends one
//! through the real path (every contact's mailbox and channels, marked as a
//! drill); `aman drill status` shows, per contact, whether it reached them,
//! how each channel fared, whether they acknowledged, and the day their
//! client first fetched the drill. The server builds that view from the
//! drill alone, and freezes it when the drill's window closes (a day after
//! it reached the contacts, by default): nothing about a real alert (a
//! duress one least of all) is in it, and nothing that happens after the
//! window moves it. One drill at a time: a new one waits for the window.

use crate::api::unix_now;
use crate::context::{format_time, Ctx, Report};
use crate::error::ClientError;
use crate::member::{complete_pairings, reseal, signer, unchanged_seal};
use crate::state::Vault;
use crate::wording::printable;
use aman_protocol::api::ErrorCode;
use aman_protocol::api::{ChannelOutcome, SealedAlertUpdate, B64};
use aman_protocol::routes::{self, NoBody};
use serde_json::{json, Value};

/// `aman drill`: completes answered invites, makes sure the sealed alert on
/// record is the current one (note, location, names, plan: what contacts
/// would read in an alert), then sends the drill.
pub async fn send(ctx: &Ctx, vault: &mut Vault) -> Result<Report, ClientError> {
    let linked = complete_pairings(ctx, vault).await?.linked;
    let (book, key) = vault.member()?;
    if book.linked_contacts() == 0 {
        return Err(ClientError::State(crate::t!("member-drill-nobody")));
    }
    let client = ctx.client(&book.server)?;
    if unchanged_seal(book).is_none() {
        let mut updated = book.clone();
        let sealed = reseal(&mut updated, key)?;
        let body = SealedAlertUpdate { sealed_alert: B64(sealed.clone()) };
        client.call(&routes::UpdateSealedAlert, &body, &signer(&updated, key)?).await?;
        let _ = crate::servers::mirror_sealed(ctx, &updated, key, &sealed).await;
        vault.book.member = Some(updated);
        vault.save()?;
    }
    let (book, key) = vault.member()?;
    let sent = client.call(&routes::SendDrill, &NoBody, &signer(book, key)?).await;
    let reply = match sent {
        Err(ClientError::Server { status: 409, code, .. }) if code == ErrorCode::DrillOpen.as_str() => {
            return Err(ClientError::State(drill_open(ctx, vault).await));
        }
        other => other?,
    };
    let contacts = book.linked_contacts();
    let mut text: Vec<String> = linked.iter().map(|l| crate::t!("member-contact-linked", label = l)).collect();
    text.push(crate::t!("member-drill-sent", count = contacts));
    Ok(Report { json: json!({ "drill": reply.drill, "contacts": contacts, "linked": linked }), text: text.join("\n") })
}

/// Why a drill was refused while the latest one is open, with when it
/// closes if the server says.
async fn drill_open(ctx: &Ctx, vault: &Vault) -> String {
    let closes = async {
        let (book, key) = vault.member().ok()?;
        let client = ctx.client(&book.server).ok()?;
        let auth = signer(book, key).ok()?;
        let status = client.call(&routes::LatestDrill, &NoBody, &auth).await.ok()?;
        status.drill?.window_closes
    }
    .await;
    match closes {
        Some(at) => crate::t!("member-drill-open-until", time = format_time(at)),
        None => crate::t!("member-drill-open-a-day"),
    }
}

/// A day number (days since 1970-01-01) as `YYYY-MM-DD`.
fn day(d: u64) -> String {
    let t = format_time(d.saturating_mul(86_400));
    t.get(..10).unwrap_or(&t).to_owned()
}

fn outcome(o: ChannelOutcome) -> String {
    match o {
        ChannelOutcome::Delivered => crate::t!("member-drill-delivered"),
        ChannelOutcome::Failed => crate::t!("member-drill-failed"),
        ChannelOutcome::Pending => crate::t!("member-drill-not-tried"),
    }
}

/// `aman drill status`: the latest drill, per contact by the member's names.
pub async fn status(ctx: &Ctx, vault: &mut Vault) -> Result<Report, ClientError> {
    let (book, key) = vault.member()?;
    let client = ctx.client(&book.server)?;
    let reply = client.call(&routes::LatestDrill, &NoBody, &signer(book, key)?).await?;
    let Some(d) = reply.drill else {
        return Ok(Report { json: json!({ "drill": null }), text: crate::t!("member-no-drill") });
    };
    let mut contacts = Vec::new();
    let mut lines = vec![crate::t!("member-drill-sent-at", drill = d.drill.to_string(), time = format_time(d.sent_at))];
    let now = unix_now();
    match d.window_closes {
        None => lines.push(crate::t!("member-drill-not-told", now = format_time(now))),
        Some(at) if at <= now => lines.push(crate::t!("member-drill-window-closed", time = format_time(at))),
        Some(at) => lines.push(crate::t!("member-drill-window-open", time = format_time(at))),
    }
    for c in &d.contacts {
        let label = book
            .contacts
            .iter()
            .find(|e| e.mailbox == c.mailbox)
            .map(|e| e.label.clone())
            .unwrap_or_else(|| crate::t!("member-drill-unlinked-contact"));
        let channels: Vec<Value> =
            c.channels.iter().map(|ch| json!({ "kind": ch.kind, "outcome": ch.outcome })).collect();
        contacts.push(json!({
            "label": label, "mailbox": c.mailbox, "in_mailbox": c.in_mailbox,
            "acknowledged": c.acknowledged_at.is_some(), "acknowledged_at": c.acknowledged_at,
            "channels": channels, "first_fetch_day": c.first_fetch_day.map(day),
        }));
        let mut parts = vec![if c.in_mailbox {
            crate::t!("member-drill-in-mailbox")
        } else {
            crate::t!("member-drill-not-in-mailbox")
        }];
        parts.push(match c.acknowledged_at {
            Some(at) => crate::t!("member-drill-acknowledged", time = format_time(at)),
            None => crate::t!("member-drill-not-acknowledged"),
        });
        if c.channels.is_empty() {
            parts.push(crate::t!("member-drill-no-channel"));
        }
        for ch in &c.channels {
            parts.push(format!("{} {}", printable(&ch.kind.to_string(), usize::MAX), outcome(ch.outcome)));
        }
        parts.push(match c.first_fetch_day {
            Some(d) => crate::t!("member-drill-fetched", day = day(d)),
            None => crate::t!("member-drill-not-fetched"),
        });
        // What the server or the member wrote is made safe to print; the
        // messages around it are the program's own (and an Arabic one keeps
        // its isolation marks).
        lines.push(format!("  {}: {}.", printable(&label, usize::MAX), parts.join("; ")));
    }
    Ok(Report {
        json: json!({
            "drill": d.drill, "sent_at": d.sent_at, "dispatched": d.dispatched,
            "window_closes": d.window_closes, "contacts": contacts,
        }),
        text: lines.join("\n"),
    })
}
