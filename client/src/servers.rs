//! `aman server add | list | remove`: one member account on several
//! servers, run by different organizers, so that taking one server down
//! (a seizure, a block, a power cut) leaves the others alerting.
//!
//! The account is the same everywhere (its id, `ID` and both check-in keys);
//! every check-in, trip, panic and note goes to each server
//! ([`crate::fanout`]). Contacts keep one mailbox, registered by the member
//! on each server, and learn the servers from a directory sealed to them.

use crate::api::unix_now;
use crate::context::{format_time, Ctx, Report};
use crate::error::ClientError;
use crate::fanout::{self, signer_at};
use crate::member::{self, check_server};
use crate::state::{MemberBook, MirrorServer, ServerRef, Vault};
use aman_protocol::api::{AccountStatus, AddMailbox, DirectoryUpdate, PendingKind, PolicyReply, RegisterAccount, B64};
use aman_protocol::derive::transport_key;
use aman_protocol::directory::{self, ServerDirectory};
use aman_protocol::routes::{self, NoBody};
use aman_protocol::{Registration, SigningKey};
use serde_json::json;

/// `aman server add URL [--invite CODE]`: registers this member's account
/// with another server. Both passphrases, normal first, as at `init`: the
/// roles at a new server can only come from the member. Then the contacts'
/// mailboxes and the schedule are set there, the contacts are told of it
/// (the sealed directory), and a check-in goes to every server.
pub async fn add(
    ctx: &Ctx,
    home: &std::path::Path,
    url: &str,
    invite: Option<&str>,
    normal_pass: &[u8],
    duress_pass: &[u8],
) -> Result<Report, ClientError> {
    let mut vault = Vault::open(home, normal_pass)?;
    let now = unix_now();
    let path = vault.path().to_owned();
    let (normal, _) = crate::keystore::slot_rotation_keys(&path, normal_pass, now)?;
    let (duress, _) = crate::keystore::slot_rotation_keys(&path, duress_pass, now)?;
    if normal.verifying_key() == duress.verifying_key() {
        return Err(ClientError::State(crate::t!("member-server-add-both")));
    }
    let (book, key) = vault.member()?;
    let servers = fanout::servers_of(book)?;
    if servers.len() >= directory::MAX_SERVERS {
        return Err(ClientError::State(crate::t!("member-server-too-many", max = directory::MAX_SERVERS)));
    }
    // New check-in keys waiting out a rotation would leave the new server
    // with keys that stop working when the rotation applies.
    let first = &servers[0];
    let status: AccountStatus =
        ctx.client(&first.url)?.call(&routes::GetAccount, &NoBody, &signer_at(book, first, key)).await?;
    if status.pending.iter().any(|p| p.kind() == Some(PendingKind::CheckinKeysRotation)) {
        return Err(ClientError::State(crate::t!("member-server-add-rotating")));
    }
    let client = ctx.client(url)?;
    let info = client.server_info().await?;
    check_server(&info, invite)?;
    if servers.iter().any(|s| s.id == info.server_id || s.url == client.base()) {
        return Err(ClientError::State(crate::t!("member-server-known", server = client.base())));
    }
    let registration = Registration {
        server: info.server_id,
        account: book.account,
        identity: key.verifying_key(),
        normal: normal.verifying_key(),
        duress: duress.verifying_key(),
        transport: transport_key(key, &info.server_id),
        created: now,
    }
    .seal(key, &info.server_key)?;
    let body = RegisterAccount { invite: invite.map(str::to_owned), registration: B64(registration) };
    client.call_unsigned(&routes::Register, &body, 1).await?;
    // Kept at once: the account exists there now, whatever happens next.
    let mut updated = book.clone();
    updated.mirrors.push(MirrorServer {
        url: client.base().to_owned(),
        server_id: info.server_id,
        server_key: info.server_key,
        last_known: None,
        unreachable_since: None,
        removing_at: None,
        mailboxes: Vec::new(),
    });
    vault.book.member = Some(updated);
    vault.save()?;
    let mut lines = vec![crate::t!("member-server-added", server = client.base())];
    lines.extend(sync_mirrors(ctx, &mut vault).await);
    lines.extend(publish_directory(ctx, &mut vault).await?);
    let (book, _) = vault.member()?;
    let mut json = json!({ "added": client.base(), "servers": book.servers().len() });
    if book.every.is_some() {
        // Armed there as everywhere: the same check-in goes to every server.
        let checked = match member::checkin(ctx, &mut vault, None, None).await {
            Ok(r) => Ok(r),
            Err(ClientError::Partly { report }) => Ok(*report),
            Err(e) => Err(e),
        }?;
        lines.push(checked.text);
        json["checkin"] = checked.json;
    } else {
        lines.push(crate::t!("member-server-added-no-schedule"));
    }
    Ok(Report { json, text: lines.join("\n") })
}

/// `aman server list`: each server, whether it answers, and the deadline it holds.
pub async fn list(ctx: &Ctx, vault: &mut Vault) -> Result<Report, ClientError> {
    let (book, key) = vault.member()?;
    let answers = fanout::everywhere(ctx, fanout::servers_of(book)?, |server, client| async move {
        let status: AccountStatus = client.call(&routes::GetAccount, &NoBody, &signer_at(book, &server, key)).await?;
        Ok(status)
    })
    .await;
    let mut updated = book.clone();
    fanout::record_reach(&mut updated, &answers, unix_now());
    let mut rows = Vec::new();
    let mut text = Vec::new();
    for a in &answers {
        let removing_at =
            updated.mirrors.iter().find(|m| !a.server.first && m.url == a.server.url).and_then(|m| m.removing_at);
        let since = updated.unreachable().into_iter().find(|(u, _)| *u == a.server.url).map(|(_, s)| s);
        let mut row = json!({
            "server": a.server.url, "first": a.server.first, "reachable": a.result.is_ok(),
            "removing_at": removing_at, "unreachable_since": since,
        });
        let mut line = match &a.result {
            Ok(s) => {
                row["next_due"] = json!(s.next_due);
                row["deadline"] = json!(s.deadline);
                match s.deadline {
                    Some(d) => {
                        crate::t!("member-server-row-deadline", server = &a.server.url, deadline = format_time(d))
                    }
                    None => crate::t!("member-server-row-unarmed", server = &a.server.url),
                }
            }
            Err(e) => {
                row["error"] = json!(e.code());
                crate::t!("member-server-row-down", server = &a.server.url, reason = e.to_string())
            }
        };
        if let Some(at) = removing_at {
            line.push(' ');
            line.push_str(&crate::t!("member-server-row-removing", time = format_time(at)));
        }
        rows.push(row);
        text.push(line);
    }
    text.extend(member::long_down_lines(&updated, unix_now()));
    vault.book.member = Some(updated);
    vault.save()?;
    Ok(Report { json: json!({ "servers": rows }), text: text.join("\n") })
}

/// `aman server remove URL`: deleting the account on that server is a
/// weakening change, held for the server's cooling-off, and every contact
/// is told there. Until then it keeps getting every check-in (so its
/// contacts are not alerted by mistake); after, this device forgets it.
pub async fn remove(ctx: &Ctx, vault: &mut Vault, url: &str) -> Result<Report, ClientError> {
    let (book, key) = vault.member()?;
    let wanted = url.trim_end_matches('/');
    let Some(server) = fanout::mirrors(book).into_iter().find(|s| s.url.trim_end_matches('/') == wanted) else {
        return Err(match book.server.trim_end_matches('/') == wanted {
            true => ClientError::State(crate::t!("member-server-remove-first")),
            false => ClientError::State(crate::t!("member-server-unknown", server = url)),
        });
    };
    let client = ctx.client(&server.url)?;
    let reply: PolicyReply = client.call(&routes::DeleteAccount, &NoBody, &signer_at(book, &server, key)).await?;
    let mut updated = book.clone();
    if let Some(m) = updated.mirrors.iter_mut().find(|m| m.url == server.url) {
        m.removing_at = Some(reply.effective_at);
    }
    vault.book.member = Some(updated);
    vault.save()?;
    Ok(Report {
        json: json!({ "removing": server.url, "effective_at": reply.effective_at }),
        text: crate::t!("member-server-removing", server = &server.url, time = format_time(reply.effective_at)),
    })
}

/// Brings every mirror up to date with the first server: forgets those
/// whose removal has applied, registers each linked contact's mailbox that
/// a mirror lacks and sends it the policy. Run before every check-in and
/// after contacts change. A mirror that cannot be reached is tried again
/// next time; what happened is returned as lines to show.
pub async fn sync_mirrors(ctx: &Ctx, vault: &mut Vault) -> Vec<String> {
    let Ok((book, key)) = vault.member() else { return Vec::new() };
    let now = unix_now();
    let mut updated = book.clone();
    let gone = updated.mirrors.iter().any(|m| m.removing_at.is_some_and(|at| now > at));
    updated.mirrors.retain(|m| m.removing_at.is_none_or(|at| now <= at));
    let wanted: Vec<_> = updated.contacts.iter().filter(|c| c.removing_at.is_none()).cloned().collect();
    let behind: Vec<ServerRef> = fanout::mirrors(&updated)
        .into_iter()
        .filter(|s| {
            let had = updated.mirrors.iter().find(|m| m.url == s.url).map(|m| m.mailboxes.clone()).unwrap_or_default();
            !wanted.iter().all(|c| had.contains(&c.mailbox)) || wanted.len() != had.len()
        })
        .collect();
    let policy = member::policy_in_force(&updated);
    let answers = fanout::everywhere(ctx, behind, |server, client| {
        let (wanted, updated, policy) = (&wanted, &updated, &policy);
        async move {
            let sign = signer_at(updated, &server, key);
            // A mailbox id someone else took there first (409) leaves that
            // contact out on that server, and the others in: the policy is
            // sent with those registered, and the member is told.
            let mut registered = Vec::new();
            let mut taken = Vec::new();
            for c in wanted {
                let body = AddMailbox { mailbox: c.mailbox, identity: c.identity, encryption: c.encryption };
                match client.call(&routes::AddMailbox, &body, &sign).await {
                    Ok(_) => registered.push(c.mailbox),
                    Err(ClientError::Server { status: 409, .. }) => taken.push(c.label.clone()),
                    Err(e) => return Err(e),
                }
            }
            let mut policy = policy.clone();
            policy.contacts.retain(|l| registered.contains(&l.mailbox));
            let _: PolicyReply = client.call(&routes::SetPolicy, &policy, &sign).await?;
            Ok((registered, taken))
        }
    })
    .await;
    let mut lines = fanout::mirror_warnings(&answers);
    for a in &answers {
        let Ok((registered, taken)) = &a.result else { continue };
        if let Some(m) = updated.mirrors.iter_mut().find(|m| m.url == a.server.url) {
            m.mailboxes = registered.clone();
        }
        for label in taken {
            lines.push(crate::t!("member-server-mailbox-taken", server = &a.server.url, label = label));
        }
    }
    fanout::record_reach(&mut updated, &answers, now);
    vault.book.member = Some(updated);
    if vault.save().is_err() {
        return lines;
    }
    if gone {
        let _ = publish_directory(ctx, vault).await;
    }
    lines
}

/// Sends `policy` (already taken by the first server) to every mirror, so
/// that each holds the same schedule and contacts; returns a line for each
/// mirror that did not take it (the next check-in tries again).
pub async fn mirror_policy(
    ctx: &Ctx,
    book: &MemberBook,
    key: &SigningKey,
    policy: &aman_protocol::api::Policy,
) -> Vec<String> {
    on_mirrors(ctx, book, key, &routes::SetPolicy, policy).await
}

/// Sends `route` with `body` to every mirror at once, each signed for that
/// server; returns a line for each mirror that did not take it.
async fn on_mirrors<R: routes::Route>(
    ctx: &Ctx,
    book: &MemberBook,
    key: &SigningKey,
    route: &R,
    body: &R::Request,
) -> Vec<String> {
    let answers = fanout::everywhere(ctx, fanout::mirrors(book), |server, client| async move {
        client.call(route, body, &signer_at(book, &server, key)).await.map(|_| ())
    })
    .await;
    fanout::mirror_warnings(&answers)
}

/// `PUT /v1/account/policy` on the first server (its refusal is the
/// command's), then the same request on every mirror at once, so that a
/// weakening waits out each server's cooling-off side by side (a pause
/// applied on one server alone would let another alert). Returns the first
/// server's reply and a line for each mirror that did not take it.
pub async fn set_policy_everywhere(
    ctx: &Ctx,
    first: &crate::api::ApiClient,
    book: &MemberBook,
    key: &SigningKey,
    policy: &aman_protocol::api::Policy,
) -> Result<(PolicyReply, Vec<String>), ClientError> {
    let reply: PolicyReply = first.call(&routes::SetPolicy, policy, &member::signer(book, key)?).await?;
    Ok((reply, mirror_policy(ctx, book, key, policy).await))
}

/// `PUT /v1/account/sealed-alert` with `sealed` on every mirror (the first
/// server took it already): every server holds the same note. A mirror
/// that misses it gets it with the next check-in (`alert_hash_mismatch`).
pub async fn mirror_sealed(ctx: &Ctx, book: &MemberBook, key: &SigningKey, sealed: &[u8]) -> Vec<String> {
    let body = aman_protocol::api::SealedAlertUpdate { sealed_alert: B64(sealed.to_vec()) };
    on_mirrors(ctx, book, key, &routes::UpdateSealedAlert, &body).await
}

/// `DELETE /v1/account/policy/pending` on the first server, then on every mirror.
pub async fn cancel_pending_everywhere(
    ctx: &Ctx,
    first: &crate::api::ApiClient,
    book: &MemberBook,
    key: &SigningKey,
) -> Result<Vec<String>, ClientError> {
    let _: PolicyReply = first.call(&routes::CancelPendingPolicy, &NoBody, &member::signer(book, key)?).await?;
    Ok(on_mirrors(ctx, book, key, &routes::CancelPendingPolicy, &NoBody).await)
}

/// Seals the list of servers to every contact and puts it on every server,
/// so that each contact reads the member's alerts wherever they fire. A
/// server learns nothing of the others from it. Nothing is sent for a
/// member with one server and nothing to take back.
pub async fn publish_directory(ctx: &Ctx, vault: &mut Vault) -> Result<Vec<String>, ClientError> {
    let (book, key) = vault.member()?;
    let recipients: Vec<_> = book.contacts.iter().map(|c| c.encryption).collect();
    if recipients.is_empty() || (book.mirrors.is_empty() && book.directory_sequence == 0) {
        return Ok(Vec::new());
    }
    let mut updated = book.clone();
    updated.directory_sequence += 1;
    let servers = fanout::servers_of(&updated)?;
    let dir = ServerDirectory {
        account: updated.account,
        sequence: updated.directory_sequence,
        created: unix_now(),
        servers: servers.iter().map(|s| (s.id, s.url.clone())).collect(),
    };
    let sealed = directory::seal(&dir, key, &recipients)?;
    let body = DirectoryUpdate { directory: B64(sealed) };
    let answers = fanout::everywhere(ctx, servers, |server, client| {
        let (body, updated) = (&body, &updated);
        async move { client.call(&routes::PutDirectory, body, &signer_at(updated, &server, key)).await }
    })
    .await;
    fanout::record_reach(&mut updated, &answers, unix_now());
    vault.book.member = Some(updated);
    vault.save()?;
    Ok(fanout::mirror_warnings(&answers))
}
