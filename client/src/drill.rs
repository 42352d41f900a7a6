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
        return Err(ClientError::State(
            "no contact is linked: there is nobody to drill. Invite one with `aman contact invite --label NAME`."
                .into(),
        ));
    }
    let client = ctx.client(&book.server)?;
    if unchanged_seal(book).is_none() {
        let mut updated = book.clone();
        let sealed = reseal(&mut updated, key)?;
        let body = SealedAlertUpdate { sealed_alert: B64(sealed) };
        client.call(&routes::UpdateSealedAlert, &body, &signer(&updated, key)?).await?;
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
    let mut text: Vec<String> = linked
        .iter()
        .map(|l| format!("{l} accepted your invite and is now linked (compare safety numbers: `aman verify`)."))
        .collect();
    text.push(format!(
        "Drill sent to your {contacts} contact(s): after the server's dispatch delay (under a minute by default) it reaches each one's mailbox and every channel, marked as a drill, with the note and plan they would read in an alert. Ask them to acknowledge it; `aman drill status` shows how it went."
    ));
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
    let until = match closes {
        Some(at) => format!("until {}", format_time(at)),
        None => "until a day after it reaches your contacts".to_owned(),
    };
    format!(
        "Your latest drill is still open ({until}): one drill at a time, so that drills cannot be used to flood your contacts. `aman drill status` shows how it is going; send the next one after that."
    )
}

/// A day number (days since 1970-01-01) as `YYYY-MM-DD`.
fn day(d: u64) -> String {
    let t = format_time(d.saturating_mul(86_400));
    t.get(..10).unwrap_or(&t).to_owned()
}

fn outcome(o: ChannelOutcome) -> &'static str {
    match o {
        ChannelOutcome::Delivered => "delivered",
        ChannelOutcome::Failed => "failed",
        ChannelOutcome::Pending => "not tried yet",
    }
}

/// `aman drill status`: the latest drill, per contact by the member's names.
pub async fn status(ctx: &Ctx, vault: &mut Vault) -> Result<Report, ClientError> {
    let (book, key) = vault.member()?;
    let client = ctx.client(&book.server)?;
    let reply = client.call(&routes::LatestDrill, &NoBody, &signer(book, key)?).await?;
    let Some(d) = reply.drill else {
        return Ok(Report {
            json: json!({ "drill": null }),
            text: "No drill yet: `aman drill` sends one to every contact.".into(),
        });
    };
    let mut contacts = Vec::new();
    let mut lines = vec![format!("Drill {} sent {}.", d.drill, format_time(d.sent_at))];
    let now = unix_now();
    match d.window_closes {
        None => lines.push(format!(
            "Your contacts have not been told yet: the server waits a random dispatch delay first (now {}).",
            format_time(now)
        )),
        Some(at) if at <= now => lines.push(format!(
            "Its window closed {}: this is how it stood then; nothing after it is shown.",
            format_time(at)
        )),
        Some(at) => lines.push(format!(
            "Its window is open until {}: what your contacts do until then is shown, nothing after it.",
            format_time(at)
        )),
    }
    for c in &d.contacts {
        let label = book
            .contacts
            .iter()
            .find(|e| e.mailbox == c.mailbox)
            .map(|e| e.label.clone())
            .unwrap_or_else(|| "a contact no longer linked".to_owned());
        let channels: Vec<Value> =
            c.channels.iter().map(|ch| json!({ "kind": ch.kind, "outcome": ch.outcome })).collect();
        contacts.push(json!({
            "label": label, "mailbox": c.mailbox, "in_mailbox": c.in_mailbox,
            "acknowledged": c.acknowledged_at.is_some(), "acknowledged_at": c.acknowledged_at,
            "channels": channels, "first_fetch_day": c.first_fetch_day.map(day),
        }));
        let mut parts = vec![if c.in_mailbox { "in their mailbox" } else { "not in their mailbox yet" }.to_owned()];
        parts.push(match c.acknowledged_at {
            Some(at) => format!("acknowledged {}", format_time(at)),
            None => "NOT acknowledged".to_owned(),
        });
        if c.channels.is_empty() {
            parts.push("no channel (nothing wakes them: they see it only when they run `aman alerts`)".to_owned());
        }
        for ch in &c.channels {
            parts.push(format!("{} {}", ch.kind, outcome(ch.outcome)));
        }
        parts.push(match c.first_fetch_day {
            Some(d) => format!("their client fetched it on {}", day(d)),
            None => "their client did not fetch it in its window".to_owned(),
        });
        lines.push(format!("  {label}: {}.", parts.join("; ")));
    }
    Ok(Report {
        json: json!({
            "drill": d.drill, "sent_at": d.sent_at, "dispatched": d.dispatched,
            "window_closes": d.window_closes, "contacts": contacts,
        }),
        text: crate::wording::printable(&lines.join("\n"), usize::MAX),
    })
}
