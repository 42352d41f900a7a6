//! `aman remind`: the member's own reminders. The server tells the member's
//! channels (ntfy, webhook, e-mail) shortly before a check-in is due and
//! before the grace ends, so a forgotten check-in is not a false alarm.
//! A reminder carries nothing but "an Aman check-in is due soon".

use crate::context::{Ctx, Report};
use crate::error::ClientError;
use crate::member::signer;
use crate::state::Vault;
use aman_protocol::api::{AddEndpoint, ChannelKind, ReminderSettings};
use aman_protocol::duration::format_duration;
use aman_protocol::routes::{self, NoBody};
use serde_json::json;

/// `aman remind add KIND TARGET`.
pub async fn add(ctx: &Ctx, vault: &mut Vault, kind: ChannelKind, target: &str) -> Result<Report, ClientError> {
    let (book, key) = vault.member()?;
    let client = ctx.client(&book.server)?;
    let body = AddEndpoint { kind, target: target.to_owned() };
    let added = client.call(&routes::AddReminderTarget, &body, &signer(book, key)?).await?;
    let mut text = crate::t!("member-remind-added", kind = kind.as_str(), id = added.id.to_string());
    if let Some(secret) = &added.secret {
        text.push('\n');
        text.push_str(&crate::t!("member-remind-secret", secret = secret));
    }
    Ok(Report { json: json!({ "id": added.id, "kind": kind.as_str(), "secret": added.secret }), text })
}

/// `aman remind list`.
pub async fn list(ctx: &Ctx, vault: &mut Vault) -> Result<Report, ClientError> {
    let (book, key) = vault.member()?;
    let client = ctx.client(&book.server)?;
    let r = client.call(&routes::GetReminders, &NoBody, &signer(book, key)?).await?;
    let mut lines = Vec::new();
    if r.before.is_empty() {
        lines.push(crate::t!("member-remind-no-times"));
    } else {
        let before: Vec<String> = r.before.iter().map(|b| format_duration(*b)).collect();
        lines.push(crate::t!("member-remind-before", before = before.join(", ")));
    }
    if r.targets.is_empty() {
        lines.push(crate::t!("member-remind-no-targets"));
    }
    for t in &r.targets {
        lines.push(format!("{}  {}  {}", t.id, t.kind, crate::wording::printable(&t.target, 512)));
    }
    let targets: Vec<_> = r.targets.iter().map(|t| json!({ "id": t.id, "kind": t.kind, "target": t.target })).collect();
    Ok(Report { json: json!({ "before": r.before, "targets": targets }), text: lines.join("\n") })
}

/// `aman remind remove ID`.
pub async fn remove(ctx: &Ctx, vault: &mut Vault, id: u8) -> Result<Report, ClientError> {
    let (book, key) = vault.member()?;
    let client = ctx.client(&book.server)?;
    client.call(&routes::RemoveReminderTarget { id }, &NoBody, &signer(book, key)?).await?;
    Ok(Report { json: json!({ "removed": id }), text: crate::t!("member-remind-removed", id = id.to_string()) })
}

/// `aman remind set --before 30m,5m` (seconds; empty: no reminders).
pub async fn set(ctx: &Ctx, vault: &mut Vault, before: &[u64]) -> Result<Report, ClientError> {
    let (book, key) = vault.member()?;
    let client = ctx.client(&book.server)?;
    let body = ReminderSettings { before: before.to_vec() };
    client.call(&routes::SetReminders, &body, &signer(book, key)?).await?;
    let mut sorted = before.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    let text = if sorted.is_empty() {
        crate::t!("member-remind-off")
    } else {
        let shown: Vec<String> = sorted.iter().map(|b| format_duration(*b)).collect();
        crate::t!("member-remind-set", before = shown.join(", "))
    };
    Ok(Report { json: json!({ "before": sorted }), text })
}
