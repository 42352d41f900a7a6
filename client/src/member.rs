//! What a member does: create the account, invite contacts, set the
//! schedule, check in, panic, see status.

use crate::api::ApiClient;
use crate::api::{unix_now, Signer};
use crate::context::{format_time, Ctx, Report};
use crate::error::ClientError;
use crate::fanout;
use crate::servers;
use crate::state::ServerRef;
use crate::state::{ContactEntry, FixedTimes, LastKnown, MemberBook, PendingInvite, PendingSchedule, SealedRef, Vault};
use crate::waiting;
use aman_protocol::alert::{seal, sealed_hash, AlertBody};
use aman_protocol::api::ErrorCode;
use aman_protocol::api::{
    AccountStatus, CheckinReply, CheckinRequest, ContactLink, CreatePairing, PairingState, PanicReply, PanicRequest,
    PendingKind, Policy, PolicyReply, RegisterAccount, SealedAlertUpdate, ServerInfo, B64,
};
use aman_protocol::derive::transport_key;
use aman_protocol::duration::format_duration;
use aman_protocol::encoding::labels;
use aman_protocol::heartbeat::make_proof;
use aman_protocol::routes::{self, NoBody};
use aman_protocol::{
    safety_number, seal_to_server, AccountId, EncryptionSecret, Enrollment, Heartbeat, InviteCode, KeyRotation,
    Registration, ServerId, SigningKey,
};
use serde_json::json;
use zeroize::Zeroizing;

/// How far a server may move this device's check-in counter forward after
/// a `stale_counter` refusal (another device, or a lost reply, can put the
/// server ahead; a server naming an absurd counter is not followed). The
/// server's own bound on one step, so whatever it accepted, the device follows.
pub const MAX_COUNTER_CATCH_UP: u64 = 1 << 32;

/// How long a contact invite stays open.
pub const INVITE_LIFETIME: u64 = 7 * 86_400;

pub(crate) fn signer<'a>(book: &MemberBook, key: &'a SigningKey) -> Result<Signer<'a>, ClientError> {
    let server = book.server_id.ok_or_else(|| ClientError::State(crate::t!("member-old-account")))?;
    Ok(Signer { server, caller: *book.account.as_bytes(), key })
}

/// `aman init`: keys, keystore, registration.
pub async fn init(
    ctx: &Ctx,
    server: &str,
    invite: Option<&str>,
    name: Option<&str>,
    normal_pass: &[u8],
    duress_pass: &[u8],
) -> Result<Report, ClientError> {
    let identity = SigningKey::generate()?;
    let normal = SigningKey::generate()?;
    let duress = SigningKey::generate()?;
    let account = AccountId::random()?;
    let client = ctx.client(server)?;
    let info = client.server_info().await?;
    check_server(&info, invite)?;
    let mut vault = Vault::create(&ctx.home, normal_pass, duress_pass, &normal.seed_bytes(), &duress.seed_bytes())?;
    vault.book.settings = ctx.settings_to_store();
    // The one message that names the roles, sealed to the server.
    let registration = Registration {
        server: info.server_id,
        account,
        identity: identity.verifying_key(),
        normal: normal.verifying_key(),
        duress: duress.verifying_key(),
        transport: transport_key(&identity, &info.server_id),
        created: unix_now(),
    }
    .seal(&identity, &info.server_key)?;
    let body = RegisterAccount { invite: invite.map(str::to_owned), registration: B64(registration) };
    client.call_unsigned(&routes::Register, &body, 1).await?;
    vault.book.member = Some(MemberBook {
        server: client.base().to_owned(),
        account,
        name: name.map(str::to_owned),
        counter: 0,
        sequence: 0,
        every: None,
        grace: None,
        note: String::new(),
        location: String::new(),
        contacts: Vec::new(),
        pending: Vec::new(),
        pending_schedule: None,
        server_id: Some(info.server_id),
        server_key: Some(info.server_key),
        sealed: None,
        last_known: None,
        at: None,
        trips_only: false,
        trip: None,
        plan: String::new(),
        pause: None,
        mirrors: Vec::new(),
        unreachable_since: None,
        sealed_bytes: None,
        directory_sequence: 0,
    });
    vault.secrets.identity = Some(identity);
    vault.save()?;
    Ok(Report {
        json: json!({ "account": account, "server": client.base() }),
        text: format!(
            "{}\n{}\n{}",
            crate::t!("member-init-created", server = client.base()),
            crate::t!("member-init-no-contact"),
            crate::t!("member-init-next")
        ),
    })
}

/// The server must be the one the registration invite names (an
/// `amanreg2-` code ends with the server's id), and its id must be the hash
/// of the key the registration is sealed to: so nobody on the path can stand
/// in for it at `init` and read which passphrase is which.
pub fn check_server(info: &ServerInfo, invite: Option<&str>) -> Result<(), ClientError> {
    if aman_protocol::server::server_id(&info.server_key) != info.server_id {
        return Err(ClientError::State(crate::t!("member-server-id-mismatch")));
    }
    let Some(rest) = invite.and_then(|code| code.trim().strip_prefix("amanreg2-")) else {
        return Ok(());
    };
    let named: ServerId = rest
        .rsplit('-')
        .next()
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| ClientError::State(crate::t!("member-invite-damaged")))?;
    if named != info.server_id {
        return Err(ClientError::State(crate::t!("member-wrong-server")));
    }
    Ok(())
}

/// `aman contact invite`.
pub async fn invite_contact(ctx: &Ctx, vault: &mut Vault, label: &str, tier: u8) -> Result<Report, ClientError> {
    if !(1..=9).contains(&tier) {
        return Err(ClientError::State(crate::t!("member-tier-range")));
    }
    let news = complete_quietly(ctx, vault).await;
    let (book, key) = vault.member()?;
    if book.contacts.iter().any(|c| c.label == label) || book.pending.iter().any(|p| p.label == label) {
        return Err(ClientError::State(crate::t!("member-label-taken", label = label)));
    }
    let code = InviteCode::generate(key.verifying_key(), &book.server)?;
    let expires_at = unix_now() + INVITE_LIFETIME;
    let client = ctx.client(&book.server)?;
    let body = CreatePairing { invite: code.id, expires_at };
    client.call(&routes::CreatePairing, &body, &signer(book, key)?).await?;
    let pending = PendingInvite {
        id: code.id,
        secret: data_encoding::HEXLOWER.encode(code.secret_bytes().as_ref()),
        label: label.to_owned(),
        tier,
        expires_at,
    };
    if let Some(b) = vault.book.member.as_mut() {
        b.pending.push(pending);
    }
    vault.save()?;
    let text = code.to_text();
    let report = Report {
        json: json!({ "code": text.as_str(), "label": label, "tier": tier, "expires_at": expires_at }),
        text: format!(
            "{}\n{}\n{}",
            crate::t!("member-invite-give", label = label),
            text.as_str(),
            crate::t!("member-invite-linked-once", label = label)
        ),
    };
    let (book, _) = vault.member()?;
    Ok(frame(report, &news, book))
}

/// The policy the member's book describes.
/// The policy in force as the book knows it: a pause counts once the
/// server has applied it (sending it earlier would restart its cooling-off),
/// and not after its end.
fn policy_from(book: &MemberBook) -> Policy {
    let now = unix_now();
    let pause = book.pause.filter(|p| now > p.effective_at && p.until.is_none_or(|u| u > now));
    Policy {
        interval: book.every,
        grace: book.grace,
        paused: pause.is_some(),
        paused_until: pause.and_then(|p| p.until),
        trips_only: book.trips_only,
        contacts: book
            .contacts
            .iter()
            .filter(|c| c.removing_at.is_none())
            .map(|c| ContactLink { mailbox: c.mailbox, tier: c.tier, active_from: None })
            .collect(),
        escalation_delays: Vec::new(),
    }
}

/// Seals the standing note to every contact, including one being removed
/// (the server alerts them until the removal applies, so they must still be
/// able to read it). With no contacts it seals to a throwaway key: the format
/// holds, and nobody can read it.
fn seal_for(
    book: &MemberBook,
    key: &SigningKey,
    note: &str,
    location: &str,
    sequence: u64,
) -> Result<Vec<u8>, ClientError> {
    let mut recipients: Vec<_> = book.contacts.iter().map(|c| c.encryption).collect();
    if recipients.is_empty() {
        recipients.push(EncryptionSecret::generate()?.public());
    }
    let body = AlertBody {
        account: book.account,
        sequence,
        created: unix_now(),
        note: note.to_owned(),
        location: location.to_owned(),
        contacts: roster(book),
        // A plan is sealed only with the roster (with contacts to read it).
        plan: if book.contacts.is_empty() { String::new() } else { book.plan.clone() },
    };
    Ok(seal(&body, key, &recipients)?)
}

/// The member's names for the contacts, sealed with the note so that each
/// contact can tell who acknowledged an alert (never readable by the server).
fn roster(book: &MemberBook) -> Vec<(aman_protocol::MailboxId, String)> {
    book.contacts.iter().map(|c| (c.mailbox, shorten(&c.label, aman_protocol::alert::MAX_CONTACT_NAME_LEN))).collect()
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn shorten(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// What the note is sealed from: the words and the recipients. The same
/// digest as the sealed alert on record means no re-seal is needed.
fn seal_digest(book: &MemberBook) -> String {
    let mut input = Vec::new();
    for part in [book.note.as_bytes(), book.location.as_bytes()] {
        input.extend_from_slice(&(part.len() as u64).to_be_bytes());
        input.extend_from_slice(part);
    }
    let mut recipients: Vec<[u8; 32]> = book.contacts.iter().map(|c| c.encryption.0).collect();
    recipients.sort_unstable();
    for r in recipients {
        input.extend_from_slice(&r);
    }
    // The names sealed with it (a note sealed before names were carries none).
    for (mailbox, name) in roster(book) {
        input.extend_from_slice(mailbox.as_bytes());
        input.extend_from_slice(&(name.len() as u64).to_be_bytes());
        input.extend_from_slice(name.as_bytes());
    }
    // The response plan (nothing is added without one, so a digest made
    // before plans still matches a book without one).
    if !book.plan.is_empty() {
        input.extend_from_slice(b"plan");
        input.extend_from_slice(&(book.plan.len() as u64).to_be_bytes());
        input.extend_from_slice(book.plan.as_bytes());
    }
    data_encoding::HEXLOWER.encode(&aman_protocol::hash::sha256(&input))
}

/// Seals the note afresh (next sequence) and records it in the book.
pub(crate) fn reseal(book: &mut MemberBook, key: &SigningKey) -> Result<Vec<u8>, ClientError> {
    book.sequence += 1;
    let sealed = seal_for(book, key, &book.note, &book.location, book.sequence)?;
    book.sealed = Some(SealedRef {
        digest: seal_digest(book),
        alert_hash: data_encoding::HEXLOWER.encode(&sealed_hash(&sealed)),
    });
    book.sealed_bytes = Some(data_encoding::BASE64.encode(&sealed));
    Ok(sealed)
}

/// The hash of the sealed alert on record, when the book's note, location
/// and recipients are still what it was sealed from.
pub(crate) fn unchanged_seal(book: &MemberBook) -> Option<[u8; 32]> {
    let sealed = book.sealed.as_ref().filter(|s| s.digest == seal_digest(book))?;
    let bytes = data_encoding::HEXLOWER.decode(sealed.alert_hash.as_bytes()).ok()?;
    <[u8; 32]>::try_from(bytes.as_slice()).ok()
}

/// What completing answered invites did.
#[derive(Debug, Default)]
pub struct Pairings {
    /// Contacts linked now.
    pub linked: Vec<String>,
    /// Invites answered by someone who did not hold them (dropped).
    pub forged: Vec<String>,
}

/// Completes every answered invite: opens the answer, links the new
/// contact's mailbox and re-seals the standing note to them. Run at every
/// command that talks to the server, so that a contact who accepted is
/// protected without the member having to list contacts first.
pub async fn complete_pairings(ctx: &Ctx, vault: &mut Vault) -> Result<Pairings, ClientError> {
    let (book, key) = vault.member()?;
    if book.pending.is_empty() {
        return Ok(Pairings::default());
    }
    let client = ctx.client(&book.server)?;
    let sign = signer(book, key)?;
    let mut completed = Vec::new();
    let mut still_pending = Vec::new();
    // Answers that do not open with the invite's secret: whoever wrote
    // them did not hold the invite. They are dropped (the invite is spent:
    // its slot holds their answer) and reported; the others still link.
    let mut forged = Vec::new();
    for p in &book.pending {
        let state: Result<PairingState, _> = client.call(&routes::GetPairing { invite: p.id }, &NoBody, &sign).await;
        let enrollment = match state {
            Ok(PairingState { enrollment: Some(e) }) => e,
            Ok(_) => {
                if p.expires_at > unix_now() {
                    still_pending.push(p.clone());
                }
                continue;
            }
            Err(ClientError::Server { status: 404, .. }) => continue,
            Err(e) => return Err(e),
        };
        let mut secret = Zeroizing::new([0u8; 32]);
        let raw = Zeroizing::new(
            data_encoding::HEXLOWER
                .decode(p.secret.as_bytes())
                .map_err(|_| ClientError::Keystore(crate::t!("member-bad-invite-secret")))?,
        );
        secret.copy_from_slice(
            raw.get(..32).ok_or_else(|| ClientError::Keystore(crate::t!("member-bad-invite-secret")))?,
        );
        let invite = InviteCode::from_parts(p.id, secret, key.verifying_key(), &book.server)?;
        let e = match Enrollment::open(&enrollment.0, &invite) {
            Ok(e) => e,
            Err(_) => {
                forged.push(p.label.clone());
                continue;
            }
        };
        completed.push(ContactEntry {
            label: p.label.clone(),
            tier: p.tier,
            mailbox: e.mailbox,
            identity: e.identity,
            encryption: e.encryption,
            safety_number: safety_number(&key.verifying_key(), &e.identity, &e.encryption),
            removing_at: None,
        });
    }
    if completed.is_empty() && still_pending.len() == book.pending.len() {
        return Ok(Pairings::default());
    }
    let mut updated = book.clone();
    // The policy sent must be the one in force: a weaker schedule the server
    // has applied since is adopted first, or this would shorten it back.
    updated.promote_pending_schedule(unix_now());
    updated.promote_removals(unix_now());
    updated.contacts.extend(completed.iter().cloned());
    updated.pending = still_pending;
    if !completed.is_empty() {
        // Link the new mailboxes (adding contacts strengthens: applies at once)
        // and re-seal the standing note so the new contacts can read it.
        let _: PolicyReply = client.call(&routes::SetPolicy, &policy_from(&updated), &sign).await?;
        let sealed = reseal(&mut updated, key)?;
        client
            .call(&routes::UpdateSealedAlert, &SealedAlertUpdate { sealed_alert: B64(sealed.clone()) }, &sign)
            .await?;
        // The other servers: the note now, the mailboxes and policy below.
        let _ = servers::mirror_sealed(ctx, &updated, key, &sealed).await;
    }
    vault.book.member = Some(updated);
    vault.save()?;
    if !completed.is_empty() && vault.member().is_ok_and(|(b, _)| !b.mirrors.is_empty()) {
        // Told of every server, and registered on each (a mirror that
        // cannot be reached now is brought up to date at the next check-in).
        let _ = servers::sync_mirrors(ctx, vault).await;
        let _ = servers::publish_directory(ctx, vault).await;
    }
    Ok(Pairings { linked: completed.into_iter().map(|c| c.label).collect(), forged })
}

/// Completes answered invites before a command that relies on contacts,
/// and says what happened. A failure here does not stop the command (a
/// check-in or panic must still be tried); the command's own request
/// reports an unreachable server.
async fn complete_quietly(ctx: &Ctx, vault: &mut Vault) -> Vec<String> {
    let mut lines = Vec::new();
    if let Ok(p) = complete_pairings(ctx, vault).await {
        for label in &p.linked {
            lines.push(crate::t!("member-contact-linked", label = label));
        }
        for label in &p.forged {
            lines.push(crate::t!("member-invite-forged", label = label));
        }
    }
    lines
}

/// Before a check-in or panic: completes answered invites first only while
/// nobody is linked (then the request would alert nobody); otherwise the
/// request goes first, and nothing delays it.
async fn before_alerting(ctx: &Ctx, vault: &mut Vault) -> Vec<String> {
    match vault.member() {
        Ok((book, _)) if book.linked_contacts() == 0 => complete_quietly(ctx, vault).await,
        _ => Vec::new(),
    }
}

/// After a check-in or panic: completes answered invites (when
/// [`before_alerting`] did not).
async fn after_alerting(ctx: &Ctx, vault: &mut Vault) -> Vec<String> {
    match vault.member() {
        Ok((book, _)) if !book.pending.is_empty() => complete_quietly(ctx, vault).await,
        _ => Vec::new(),
    }
}

/// The warning every command that arms or checks in gives while no
/// contact is linked.
fn no_contact_warning(book: &MemberBook) -> Option<String> {
    if book.linked_contacts() > 0 {
        return None;
    }
    let waiting = if book.pending.is_empty() {
        String::new()
    } else {
        format!(" {}", crate::t!("member-invited-not-accepted", count = book.pending.len()))
    };
    Some(format!("{}{waiting}", crate::t!("member-no-contact-warning")))
}

/// Puts the lines of pairing news and the no-contact warning around a report.
fn frame(mut report: Report, news: &[String], book: &MemberBook) -> Report {
    let warning = no_contact_warning(book);
    let mut text: Vec<String> = warning.iter().cloned().collect();
    text.extend(news.iter().cloned());
    text.push(report.text);
    report.text = text.join("\n");
    report.json["contacts_linked"] = json!(book.linked_contacts());
    if warning.is_some() {
        report.json["warning"] = json!("no_contact_linked");
    }
    report
}

/// `aman contact list`: completes answered invites, links them, lists contacts.
pub async fn list_contacts(ctx: &Ctx, vault: &mut Vault) -> Result<Report, ClientError> {
    let forged = complete_pairings(ctx, vault).await?.forged;
    let (book, _) = vault.member()?;
    let mut text = String::new();
    for c in &book.contacts {
        let state = match c.removing_at {
            Some(at) => crate::t!("member-contact-linked-until", time = format_time(at)),
            None => crate::t!("member-contact-state-linked"),
        };
        text.push_str(&format!(
            "{}  {}  {state}  {}\n",
            c.label,
            crate::t!("member-contact-tier", tier = c.tier.to_string()),
            crate::t!("member-contact-safety-number", number = aman_protocol::safety::format_groups(&c.safety_number))
        ));
    }
    for p in &book.pending {
        text.push_str(&format!(
            "{}  {}  {}\n",
            p.label,
            crate::t!("member-contact-tier", tier = p.tier.to_string()),
            crate::t!("member-contact-invited-waiting")
        ));
    }
    for label in &forged {
        text.push_str(&format!("{label}  {}\n", crate::t!("member-contact-list-forged", label = label)));
    }
    if text.is_empty() {
        text = format!("{}\n", crate::t!("member-no-contacts"));
    }
    let contacts: Vec<_> = book
        .contacts
        .iter()
        .map(|c| json!({ "label": c.label, "tier": c.tier, "state": "linked", "removing_at": c.removing_at, "mailbox": c.mailbox, "safety_number": c.safety_number }))
        .chain(book.pending.iter().map(|p| json!({ "label": p.label, "tier": p.tier, "state": "invited" })))
        .collect();
    Ok(Report { json: json!({ "contacts": contacts, "dropped_invites": forged }), text: text.trim_end().to_owned() })
}

/// `text` with `lines` after it, a line each.
fn with_lines(mut text: String, lines: &[String]) -> String {
    for line in lines {
        text.push('\n');
        text.push_str(line);
    }
    text
}

/// The policy the first server holds now: a weaker schedule or a removal
/// whose cooling-off has passed counts as applied.
pub(crate) fn policy_in_force(book: &MemberBook) -> Policy {
    let mut book = book.clone();
    book.promote_pending_schedule(unix_now());
    book.promote_removals(unix_now());
    policy_from(&book)
}

/// `aman contact remove LABEL`: a weakening change, held for the cooling-off period.
pub async fn remove_contact(ctx: &Ctx, vault: &mut Vault, label: &str) -> Result<Report, ClientError> {
    let (book, key) = vault.member()?;
    if !book.contacts.iter().any(|c| c.label == label) {
        return Err(ClientError::State(crate::t!("member-no-such-contact", label = label)));
    }
    let mut updated = book.clone();
    updated.promote_pending_schedule(unix_now());
    updated.promote_removals(unix_now());
    updated.contacts.retain(|c| c.label != label);
    let client = ctx.client(&book.server)?;
    // A schedule change or pause still waiting goes with the removal: the
    // server holds one waiting change, and this request becomes it.
    let now = unix_now();
    let mut policy = policy_from(&updated);
    waiting::carry(&mut policy, &updated, now);
    let (reply, mirrored) = servers::set_policy_everywhere(ctx, &client, book, key, &policy).await?;
    if !reply.applied {
        // Held for the cooling-off: keep sealing to them until it applies;
        // what waited with it now waits as long.
        updated = book.clone();
        updated.promote_pending_schedule(now);
        updated.promote_removals(now);
        for c in updated.contacts.iter_mut().filter(|c| c.label == label) {
            c.removing_at = Some(reply.effective_at);
        }
        waiting::retime(&mut updated, reply.effective_at, now);
    }
    vault.book.member = Some(updated);
    vault.save()?;
    Ok(Report {
        json: json!({ "removed": label, "applied": reply.applied, "effective_at": reply.effective_at }),
        text: with_lines(
            crate::t!("member-contact-removed-at", label = label, time = format_time(reply.effective_at)),
            &mirrored,
        ),
    })
}

/// How check-ins fall due when no trip is under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cadence {
    /// Every interval, counted from each check-in.
    Every,
    /// At fixed times of day; the interval is the longest wait they allow.
    At(FixedTimes),
    /// Only on trips: nothing is due between them, and the interval bounds
    /// how long one trip may last.
    TripsOnly,
}

impl Cadence {
    fn at(&self) -> Option<FixedTimes> {
        match self {
            Cadence::At(f) => Some(f.clone()),
            _ => None,
        }
    }

    fn of(book: &MemberBook) -> Cadence {
        match (&book.at, book.trips_only) {
            (_, true) => Cadence::TripsOnly,
            (Some(f), false) => Cadence::At(f.clone()),
            (None, false) => Cadence::Every,
        }
    }
}

/// `aman schedule set`. A weaker schedule (trips only among them) is held
/// by the server for its cooling-off period; until then the client keeps
/// using the old one. `every` is the interval the server enforces.
pub async fn set_schedule(
    ctx: &Ctx,
    vault: &mut Vault,
    every: u64,
    grace: u64,
    cadence: Cadence,
    note: Option<&str>,
) -> Result<Report, ClientError> {
    let news = complete_quietly(ctx, vault).await;
    let (book, key) = vault.member()?;
    let now = unix_now();
    let mut updated = book.clone();
    let client = ctx.client(&book.server)?;
    // The schedule in force asked for again while a change waits: the
    // server would take it for a contacts-only change and keep the waiting
    // one, so it is dropped first (every contact is told), and with it any
    // removal that waited with it (said below).
    let mut in_force = book.clone();
    in_force.promote_pending_schedule(now);
    let pending_pause = waiting::pause(book, now);
    let asks_what_holds = in_force.every == Some(every)
        && in_force.grace == Some(grace)
        && in_force.trips_only == (cadence == Cadence::TripsOnly)
        && pending_pause.is_none();
    let mut kept = Vec::new();
    if in_force.pending_schedule.is_some() && asks_what_holds {
        servers::cancel_pending_everywhere(ctx, &client, book, key).await?;
        kept = waiting::drop_removals(&mut updated, now);
    }
    let mut wanted = updated.clone();
    wanted.every = Some(every);
    wanted.grace = Some(grace);
    wanted.trips_only = cadence == Cadence::TripsOnly;
    let at = cadence.at();
    let mut policy = policy_from(&wanted);
    // A pause still waiting goes with the new schedule (the server holds one
    // weakening change at a time: this one replaces it, and waits with it).
    if let Some(p) = pending_pause {
        policy.paused = true;
        policy.paused_until = p.until;
    }
    let (reply, mirrored) = servers::set_policy_everywhere(ctx, &client, book, key, &policy).await?;
    if !reply.applied {
        waiting::retime(&mut updated, reply.effective_at, now);
    }
    if reply.applied {
        updated.every = Some(every);
        updated.grace = Some(grace);
        updated.at = at;
        updated.trips_only = wanted.trips_only;
        updated.pending_schedule = None;
    } else {
        updated.pending_schedule =
            Some(PendingSchedule { every, grace, effective_at: reply.effective_at, at, trips_only: wanted.trips_only });
    }
    if let Some(n) = note {
        updated.note = n.to_owned();
    }
    vault.book.member = Some(updated);
    vault.save()?;
    let applies = if reply.applied {
        crate::t!("member-schedule-applies-now")
    } else {
        crate::t!("member-schedule-applies-at", time = format_time(reply.effective_at))
    };
    let mut text = format!(
        "{} {applies}{}",
        crate::t!("member-schedule", schedule = describe_schedule(every, grace, &cadence)),
        waiting::kept_sentence(&kept)
    );
    // A shorter schedule moves an armed deadline up at once: say where it is now.
    let mut deadline = None;
    if reply.applied {
        let (book, key) = vault.member()?;
        if let Ok(s) = client.call(&routes::GetAccount, &NoBody, &signer(book, key)?).await {
            if let (Some(due), Some(d)) = (s.next_due, s.deadline) {
                text.push('\n');
                text.push_str(&crate::t!(
                    "member-schedule-next-due",
                    due = format_time(due),
                    deadline = format_time(d)
                ));
            }
            deadline = s.deadline;
            let mut updated = book.clone();
            updated.last_known = Some(LastKnown { at: unix_now(), next_due: s.next_due, deadline: s.deadline });
            vault.book.member = Some(updated);
            vault.save()?;
        }
    }
    text.push('\n');
    text.push_str(&crate::t!("member-schedule-check-in-yourself"));
    text = with_lines(text, &mirrored);
    let report = Report {
        json: json!({
            "every": every, "grace": grace, "trips_only": cadence == Cadence::TripsOnly,
            "applied": reply.applied, "effective_at": reply.effective_at, "deadline": deadline,
        }),
        text,
    };
    let (book, _) = vault.member()?;
    Ok(frame(report, &news, book))
}

/// `aman schedule pause [--until TIME]`: no missed-check-in alert until
/// then (a deadline that falls in the pause moves to its end plus the
/// grace). It weakens protection, so the server holds it for the
/// cooling-off and tells every contact at once.
pub async fn pause(ctx: &Ctx, vault: &mut Vault, until: Option<u64>) -> Result<Report, ClientError> {
    let news = complete_quietly(ctx, vault).await;
    let (book, key) = vault.member()?;
    let mut book = book.clone();
    book.promote_pending_schedule(unix_now());
    let mut wanted = policy_from(&book);
    wanted.paused = true;
    wanted.paused_until = until;
    // A weaker schedule still waiting goes with the pause (the server holds
    // one weakening change at a time: this one replaces it).
    let now = unix_now();
    waiting::carry(&mut wanted, &book, now);
    (wanted.paused, wanted.paused_until) = (true, until);
    let client = ctx.client(&book.server)?;
    let (reply, mirrored) = servers::set_policy_everywhere(ctx, &client, &book, key, &wanted).await?;
    let mut updated = book.clone();
    if !reply.applied {
        waiting::retime(&mut updated, reply.effective_at, now);
    }
    let effective_at = if reply.applied { 0 } else { reply.effective_at };
    updated.pause = Some(crate::state::Pause { until, effective_at });
    vault.book.member = Some(updated);
    vault.save()?;
    let end = match until {
        Some(u) => crate::t!("member-pause-until-time", time = format_time(u)),
        None => crate::t!("member-pause-until-resume"),
    };
    let applies = if reply.applied {
        crate::t!("member-pause-applies-now")
    } else {
        crate::t!("member-pause-applies-at", time = format_time(reply.effective_at))
    };
    let report = Report {
        json: json!({ "paused": true, "until": until, "applied": reply.applied, "effective_at": reply.effective_at }),
        text: with_lines(format!("{end} {applies}"), &mirrored),
    };
    let (book, _) = vault.member()?;
    Ok(frame(report, &news, book))
}

/// `aman schedule resume`: the pause ends now (it strengthens protection,
/// so it applies at once), and a check-in re-arms the regular schedule.
/// With the duress passphrase the check-in is a silent duress alert.
pub async fn resume(ctx: &Ctx, vault: &mut Vault) -> Result<Report, ClientError> {
    let (book, key) = vault.member()?;
    let mut book = book.clone();
    book.promote_pending_schedule(unix_now());
    let client = ctx.client(&book.server)?;
    let mut also = String::new();
    let mut dropped = false;
    if book.pause.is_some_and(|p| p.effective_at > unix_now()) {
        // Still waiting out its cooling-off: drop it (with the schedule
        // change and removals that wait with it) rather than send a policy
        // that the server would take for a contacts-only change.
        servers::cancel_pending_everywhere(ctx, &client, &book, key).await?;
        dropped = true;
        if book.pending_schedule.take().is_some() {
            also = format!(" {}", crate::t!("member-resume-schedule-dropped"));
        }
    } else {
        let mut wanted = policy_from(&book);
        wanted.paused = false;
        wanted.paused_until = None;
        // The check-in below says which servers it did not reach.
        let _ = servers::set_policy_everywhere(ctx, &client, &book, key, &wanted).await?;
    }
    let pending = book.pending_schedule.clone();
    let mut kept = Vec::new();
    let checked = checkin_with(ctx, vault, Due::Regular, |b| {
        b.pause = None;
        b.pending_schedule = pending;
        if dropped {
            kept = waiting::drop_removals(b, unix_now());
        }
        Ok(())
    })
    .await;
    also.push_str(&waiting::kept_sentence(&kept));
    amend(checked, |mut report| {
        report.text = format!("{}{also}\n{}", crate::t!("member-resume-over"), report.text);
        report.json["resumed"] = json!(true);
        report
    })
}

/// "every 6h", or "at 09:00, 21:00 (Asia/Baghdad)".
fn describe_schedule(every: u64, grace: u64, cadence: &Cadence) -> String {
    let grace = format_duration(grace);
    match cadence {
        Cadence::At(f) => {
            let times: Vec<String> = f.times.iter().map(|(h, m)| format!("{h:02}:{m:02}")).collect();
            crate::t!("member-schedule-at", times = times.join(", "), tz = &f.tz, grace = &grace)
        }
        Cadence::Every => crate::t!("member-schedule-every", every = format_duration(every), grace = &grace),
        Cadence::TripsOnly => crate::t!("member-schedule-trips-only", max = format_duration(every), grace = &grace),
    }
}

/// When the check-in after one made at `now` is due, on the regular schedule.
pub fn regular_due(every: u64, at: Option<&FixedTimes>, now: u64) -> Result<u64, ClientError> {
    match at {
        Some(f) => {
            let (tz, _) = crate::when::zone(Some(&f.tz))?;
            crate::when::next_at(&f.times, &tz, now, crate::when::early_allowance(&f.times))
        }
        None => Ok(now.saturating_add(every)),
    }
}

/// `aman schedule show [--from TIME]`: the schedule and, for a check-in at
/// `from` (now by default) and each one after, when the next is due.
pub fn show_schedule(vault: &Vault, from: Option<u64>) -> Result<Report, ClientError> {
    let (book, _) = vault.member()?;
    // A schedule the server has applied since is the one in force.
    let mut book = book.clone();
    book.promote_pending_schedule(unix_now());
    let (Some(every), Some(grace)) = (book.every, book.grace) else {
        return Ok(Report { json: json!({ "every": null, "grace": null }), text: crate::t!("member-no-schedule") });
    };
    let cadence = Cadence::of(&book);
    let mut text = crate::t!("member-schedule", schedule = describe_schedule(every, grace, &cadence));
    let mut dues = Vec::new();
    if cadence == Cadence::TripsOnly {
        text.push('\n');
        text.push_str(&crate::t!("member-schedule-trip-hint"));
    } else {
        let mut t = from.unwrap_or_else(unix_now);
        for _ in 0..4 {
            t = regular_due(every, book.at.as_ref(), t)?;
            dues.push(t);
        }
        text.push('\n');
        text.push_str(&crate::t!("member-schedule-next-dues"));
        for d in &dues {
            text.push_str(&format!("\n  {}", format_time(*d)));
        }
    }
    if let Some(trip) = &book.trip {
        text.push('\n');
        text.push_str(&crate::t!("member-schedule-on-trip", time = format_time(trip.back_by)));
    }
    Ok(Report {
        json: json!({
            "every": every, "grace": grace, "trips_only": book.trips_only, "note": book.note, "due": dues,
            "at": book.at.as_ref().map(|f| json!({ "times": f.times.iter().map(|(h, m)| format!("{h:02}:{m:02}")).collect::<Vec<_>>(), "tz": f.tz })),
            "trip": book.trip.as_ref().map(|t| json!({ "back_by": t.back_by, "grace": t.grace })),
        }),
        text,
    })
}

/// `aman checkin`. Signs with whichever check-in key the passphrase unlocked;
/// this code cannot tell which, so everything it prints is the same.
pub async fn checkin(
    ctx: &Ctx,
    vault: &mut Vault,
    note: Option<&str>,
    location: Option<&str>,
) -> Result<Report, ClientError> {
    let mut ended = false;
    let checked = checkin_with(ctx, vault, Due::Regular, |book| {
        // A trip whose return time has passed ends with a check-in (the
        // member is back, and late): its note gives way to the standing one.
        if let Some(trip) = book.trip.take_if(|t| t.back_by <= unix_now()) {
            (book.note, book.location, ended) = (trip.standing_note, trip.standing_location, true);
        }
        if let Some(n) = note {
            book.note = n.to_owned();
        }
        if let Some(l) = location {
            book.location = l.to_owned();
        }
        Ok(())
    })
    .await;
    amend(checked, |mut report| {
        if ended {
            report.text = format!("{}\n{}", crate::t!("member-checkin-trip-ended"), report.text);
            report.json["trip_ended"] = json!(true);
        }
        report
    })
}

/// When the check-in says the next one is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// The regular schedule (`every`, or the next of the fixed times), or a
    /// trip's return time while a trip is under way.
    Regular,
    /// At this time, with this grace (a trip: "back by").
    Until {
        /// The next due time.
        next_due: u64,
        /// The grace after it.
        grace: u64,
    },
}

/// A check-in: `adjust` changes the book first (a new note, a trip begun or
/// ended), then the note is re-sealed if its words or recipients changed,
/// and the heartbeat announces `due`. Everything printed is the same
/// whichever passphrase unlocked the keystore.
pub async fn checkin_with(
    ctx: &Ctx,
    vault: &mut Vault,
    due: Due,
    adjust: impl FnOnce(&mut MemberBook) -> Result<(), ClientError>,
) -> Result<Report, ClientError> {
    let mut news = before_alerting(ctx, vault).await;
    if vault.member().is_ok_and(|(b, _)| !b.mirrors.is_empty()) {
        news.extend(servers::sync_mirrors(ctx, vault).await);
    }
    let (book, key) = vault.member()?;
    let mut updated = book.clone();
    updated.promote_pending_schedule(unix_now());
    updated.promote_removals(unix_now());
    let (Some(mut every), Some(regular_grace)) = (updated.every, updated.grace) else {
        return Err(ClientError::State(crate::t!("member-no-schedule-yet")));
    };
    adjust(&mut updated)?;
    // A plain check-in during a trip keeps the trip's return time.
    let due = match (due, &updated.trip) {
        (Due::Regular, Some(trip)) if trip.back_by > unix_now() => {
            Due::Until { next_due: trip.back_by, grace: trip.grace }
        }
        (due, _) => due,
    };
    // Trips only, with no trip under way: the heartbeat stands down (a
    // next due time and grace of 0), and nothing is armed.
    let mut stand_down = matches!(due, Due::Regular) && updated.trips_only;
    let grace = match due {
        Due::Until { grace, .. } => grace,
        Due::Regular if stand_down => 0,
        Due::Regular => regular_grace,
    };
    // Re-seal only when the words or the recipients changed; the bytes on
    // record go to a server that lacks them, so every server holds the same.
    let (alert_hash, sealed, send_sealed) = match (unchanged_seal(&updated), sealed_on_record(&updated)) {
        (Some(hash), Some(bytes)) => (hash, bytes, false),
        _ => {
            let s = reseal(&mut updated, key)?;
            (sealed_hash(&s), s, true)
        }
    };
    let now = unix_now();
    // A trips-only stand-down that a server refuses (trips only still waits
    // there) becomes a check-in on the schedule that server holds.
    let fallback = match (stand_down && !book.trips_only, book.every, book.grace) {
        (true, Some(e), Some(g)) => Some((regular_due(e, book.at.as_ref(), now)?, g)),
        _ => None,
    };
    let round = Round {
        account: updated.account,
        key,
        checkin_key: vault.checkin_key(now),
        counter: updated.counter + 1,
        client_time: now,
        next_due: match due {
            Due::Until { next_due, .. } => next_due,
            Due::Regular if stand_down => 0,
            Due::Regular => regular_due(every, updated.at.as_ref(), now)?,
        },
        grace,
        alert_hash,
        sealed: &sealed,
        send_sealed,
        fallback,
    };
    // Every server at once: the check-in counts when any of them took it.
    let answers = fanout::everywhere(ctx, fanout::servers_of(&updated)?, |server, client| {
        let round = &round;
        async move { checkin_at(&client, &server, round).await }
    })
    .await;
    fanout::record_reach(&mut updated, &answers, unix_now());
    let Some(lead) = answers.iter().find_map(|a| a.result.as_ref().ok()) else {
        return Err(answers
            .into_iter()
            .find_map(|a| a.result.err())
            .unwrap_or_else(|| ClientError::State(crate::t!("member-counter-refused"))));
    };
    let reply = lead.reply.clone();
    if let Some(waits) = answers.iter().find_map(|a| a.result.as_ref().ok().and_then(|t| t.fell_back)) {
        // Trips only is waiting still at the server (its cooling-off ends
        // by the server's clock, and is applied on its next tick): the
        // schedule it holds stays, and trips only stays waiting if the
        // server still holds a change. (A refused duress stand-down has alerted.)
        (every, stand_down) = (book.every.unwrap_or(every), false);
        updated.every = book.every;
        updated.grace = book.grace;
        updated.at = book.at.clone();
        updated.trips_only = false;
        updated.pending_schedule = book.pending_schedule.clone().filter(|_| waits);
    }
    let at = unix_now();
    for a in &answers {
        let Ok(taken) = &a.result else { continue };
        updated.counter = updated.counter.max(taken.reply.counter);
        let armed = (!stand_down).then_some((taken.reply.next_due, taken.reply.deadline));
        let known = Some(LastKnown { at, next_due: armed.map(|a| a.0), deadline: armed.map(|a| a.1) });
        match updated.mirrors.iter_mut().find(|m| !a.server.first && m.url == a.server.url) {
            Some(m) => m.last_known = known,
            None => updated.last_known = known,
        }
    }
    // A stand-down's reply names no due time (0).
    let armed = (!stand_down).then_some((reply.next_due, reply.deadline));
    vault.book.member = Some(updated);
    vault.save()?;
    news.extend(after_alerting(ctx, vault).await);
    let (book, _) = vault.member()?;
    let who = if book.linked_contacts() > 0 { "linked" } else { "none" };
    // "In" counted from the time the heartbeat was signed (its next due
    // time less the check-in's own time is what was asked for): what is
    // printed does not depend on how long the reply and saving took.
    let asked = match due {
        Due::Until { .. } => None,
        Due::Regular if book.at.is_none() => Some(every),
        Due::Regular => None,
    };
    let mut text = match (armed, asked) {
        (Some((next_due, deadline)), Some(every)) => crate::t!(
            "member-checked-in-every",
            due = format_time(next_due),
            every = format_duration(every),
            who = who,
            deadline = format_time(deadline)
        ),
        (Some((next_due, deadline)), None) => {
            crate::t!("member-checked-in", due = format_time(next_due), who = who, deadline = format_time(deadline))
        }
        (None, _) => crate::t!("member-checked-in-trips-only"),
    };
    if let Some(trip) = &book.trip {
        text.push('\n');
        text.push_str(&on_trip_line(trip.back_by));
    }
    let mut report = Report {
        json: json!({
            "checked_in": true, "counter": reply.counter,
            "next_due": armed.map(|a| a.0), "deadline": armed.map(|a| a.1),
            "trip": book.trip.as_ref().map(|t| json!({ "back_by": t.back_by, "grace": t.grace })),
        }),
        text,
    };
    servers_part(&mut report, &answers, book);
    finish_partly(frame(report, &news, book), &answers)
}

/// Adds to a report what each server did with a request that went to all
/// of them, and the warning for servers down longer than
/// [`SERVER_DOWN_WARNING`] (a member with one server sees nothing new).
pub(crate) fn servers_part<T>(report: &mut Report, answers: &[fanout::Answer<T>], book: &MemberBook) {
    if answers.len() > 1 || answers.iter().any(|a| a.result.is_err()) {
        report.json["servers"] = fanout::servers_json(answers);
    }
    let mut lines = fanout::not_taken_lines(answers);
    lines.extend(long_down_lines(book, unix_now()));
    for line in lines {
        report.text.push('\n');
        report.text.push_str(&line);
    }
}

/// A request taken by some servers but not all: the report, with exit
/// code 4 (`ClientError::Partly`); by all: the report.
pub(crate) fn finish_partly<T>(mut report: Report, answers: &[fanout::Answer<T>]) -> Result<Report, ClientError> {
    if answers.iter().any(|a| a.result.is_err()) {
        report.json["warning_servers"] = json!("not_all_servers_took_it");
        return Err(ClientError::Partly { report: Box::new(report) });
    }
    Ok(report)
}

/// Rewrites the report of a request that went to every server, whether
/// all of them took it or only some (`ClientError::Partly`, exit 4).
pub(crate) fn amend(
    result: Result<Report, ClientError>,
    f: impl FnOnce(Report) -> Report,
) -> Result<Report, ClientError> {
    match result {
        Ok(report) => Ok(f(report)),
        Err(ClientError::Partly { report }) => Err(ClientError::Partly { report: Box::new(f(*report)) }),
        Err(e) => Err(e),
    }
}

/// How long a server may go unanswered before every check-in and `aman
/// status` say so, so that the member can add another.
pub const SERVER_DOWN_WARNING: u64 = 6 * 3600;

/// The warnings for servers that have not answered for longer than
/// [`SERVER_DOWN_WARNING`].
pub fn long_down_lines(book: &MemberBook, now: u64) -> Vec<String> {
    book.unreachable()
        .into_iter()
        .filter(|(_, since)| now.saturating_sub(*since) > SERVER_DOWN_WARNING)
        .map(|(url, since)| crate::t!("member-server-down-long", server = url, since = format_time(since)))
        .collect()
}

/// What one server is sent in a check-in round: the same for every server
/// but the server id the heartbeat names (and the key its proof is under).
struct Round<'a> {
    account: AccountId,
    key: &'a SigningKey,
    checkin_key: &'a SigningKey,
    counter: u64,
    client_time: u64,
    next_due: u64,
    grace: u64,
    alert_hash: [u8; 32],
    sealed: &'a [u8],
    send_sealed: bool,
    fallback: Option<(u64, u64)>,
}

/// What a server that took a check-in answered.
struct Taken {
    reply: CheckinReply,
    /// It refused a stand-down and took a check-in on its schedule instead;
    /// whether it still holds a change waiting.
    fell_back: Option<bool>,
}

/// One server's check-in, with the retries of §5.1: a counter it is ahead
/// of (another device, a lost reply), a sealed note it lacks, a stand-down
/// it does not allow yet. A heartbeat the server already accepted is
/// answered again the same, so sending it again when the network failed is safe.
async fn checkin_at(client: &ApiClient, server: &ServerRef, r: &Round<'_>) -> Result<Taken, ClientError> {
    let sign = Signer { server: server.id, caller: *r.account.as_bytes(), key: r.key };
    let transport = transport_key(r.key, &server.id);
    let (mut counter, mut send_sealed) = (r.counter, r.send_sealed);
    let (mut next_due, mut grace, mut fell_back) = (r.next_due, r.grace, None);
    for _ in 0..3 {
        let heartbeat = Heartbeat {
            server: server.id,
            account: r.account,
            counter,
            client_time: r.client_time,
            next_due,
            grace,
            sealed_hash: r.alert_hash,
        }
        .sign(r.key);
        let proof = make_proof(&heartbeat, r.checkin_key, &transport)?;
        let body = CheckinRequest {
            heartbeat: B64(heartbeat),
            proof: B64(proof),
            sealed_alert: send_sealed.then(|| B64(r.sealed.to_vec())),
        };
        match client.call_unsigned(&routes::Checkin, &body, 3).await {
            Ok(reply) if reply.counter == counter => return Ok(Taken { reply, fell_back }),
            Ok(reply) => {
                return Err(ClientError::State(crate::t!(
                    "member-counter-mismatch",
                    got = reply.counter.to_string(),
                    sent = counter.to_string()
                )))
            }
            Err(ClientError::Server { code, .. }) if code == ErrorCode::StaleCounter.as_str() => {
                let status: AccountStatus = client.call(&routes::GetAccount, &NoBody, &sign).await?;
                // The counter is member-wide and signed into every heartbeat
                // contacts see: a server that names an absurd one is not
                // followed (contacts would then refuse every later heartbeat).
                if status.counter.saturating_sub(counter) > MAX_COUNTER_CATCH_UP {
                    return Err(ClientError::State(crate::t!(
                        "member-counter-far",
                        server = status.counter.to_string(),
                        device = counter.to_string()
                    )));
                }
                counter = status.counter.max(counter) + 1;
            }
            Err(ClientError::Server { code, .. }) if code == ErrorCode::AlertHashMismatch.as_str() && !send_sealed => {
                send_sealed = true;
            }
            Err(ClientError::Server { code, .. })
                if code == ErrorCode::StandDownRefused.as_str() && fell_back.is_none() && r.fallback.is_some() =>
            {
                (next_due, grace) = r.fallback.unwrap_or((next_due, grace));
                // Kept only if the server still holds a change waiting (it
                // may have been dropped meanwhile): else it never comes.
                let status: AccountStatus = client.call(&routes::GetAccount, &NoBody, &sign).await?;
                fell_back = Some(status.pending.iter().any(|p| p.kind() == Some(PendingKind::PolicyWeakening)));
            }
            Err(e) => return Err(e),
        }
    }
    Err(ClientError::State(crate::t!("member-counter-refused")))
}

/// The sealed alert on record, when the book holds its bytes and they are
/// the ones its hash names.
fn sealed_on_record(book: &MemberBook) -> Option<Vec<u8>> {
    let bytes = data_encoding::BASE64.decode(book.sealed_bytes.as_ref()?.as_bytes()).ok()?;
    let named = book.sealed.as_ref()?.alert_hash.as_str();
    (data_encoding::HEXLOWER.encode(&sealed_hash(&bytes)) == named).then_some(bytes)
}

/// The line a check-in adds while a trip is under way.
pub(crate) fn on_trip_line(back_by: u64) -> String {
    format!("{} {}", crate::t!("member-on-trip-back-by", time = format_time(back_by)), crate::t!("member-trip-hint"))
}

/// `aman key rotate`: new check-in keys for both passphrases, typed in
/// either order. Each new key is paired with the key of the same slot, and
/// the server gives it that key's role: this code never knows which
/// passphrase is the duress one, and neither does anything it sends. The
/// server holds the change for its cooling-off period (and tells the
/// contacts); until then the old keys keep working, and the keystore
/// switches by itself.
pub async fn rotate_keys(
    ctx: &Ctx,
    home: &std::path::Path,
    pass_a: &[u8],
    pass_b: &[u8],
) -> Result<Report, ClientError> {
    let vault = Vault::open(home, pass_a)?;
    let now = unix_now();
    let path = vault.path().to_owned();
    let (old_a, staged_a) = crate::keystore::slot_rotation_keys(&path, pass_a, now)?;
    let (old_b, staged_b) = crate::keystore::slot_rotation_keys(&path, pass_b, now)?;
    if old_a.verifying_key() == old_b.verifying_key() {
        return Err(ClientError::State(crate::t!("member-rotate-both")));
    }
    let (server_id, server_key) = vault.member_server()?;
    let (book, key) = vault.member()?;
    // Each server keeps its own key generation and cooling-off: until a
    // rotation goes to each of them, one with several servers is refused
    // rather than leave a server with keys that no longer sign.
    if !book.mirrors.is_empty() {
        return Err(ClientError::State(crate::t!("member-rotate-mirrors")));
    }
    let client = ctx.client(&book.server)?;
    let status: AccountStatus = client.call(&routes::GetAccount, &NoBody, &signer(book, key)?).await?;
    // Keys staged by a rotation whose answer never came are sent again: the
    // server answers the same rotation the same way, and nothing is lost.
    let (new_a, new_b) = match (staged_a, staged_b) {
        (Some(a), Some(b)) => (a, b),
        _ => (SigningKey::generate()?, SigningKey::generate()?),
    };
    // Stage the new keys inactive first: if the server refuses, nothing changes.
    let stage = |at: u64| {
        crate::keystore::stage_rotation(&path, pass_a, pass_b, &new_a.seed_bytes(), &new_b.seed_bytes(), at, now)
    };
    stage(u64::MAX)?;
    // Each slot's key signs its own successor: the server gives each new key
    // the role of the key it succeeds, whatever order the passphrases came in.
    let rotation = KeyRotation::build(
        server_id,
        book.account,
        status.key_generation + 1,
        now,
        [(&old_a, &new_a.verifying_key()), (&old_b, &new_b.verifying_key())],
    )
    .sign(key)?;
    let sealed = seal_to_server(&server_key, labels::KEY_ROTATION.as_bytes(), &rotation)?;
    let body = aman_protocol::api::RotateKeys { rotation: B64(sealed) };
    let reply: PolicyReply = client.call(&routes::RotateKeys, &body, &signer(book, key)?).await?;
    stage(reply.effective_at)?;
    Ok(Report {
        json: json!({ "rotated": true, "effective_at": reply.effective_at }),
        text: crate::t!("member-rotate-done", time = format_time(reply.effective_at)),
    })
}

/// `aman panic`: alert the contacts now.
/// Nothing here may stop the panic request itself: a note that cannot be
/// sealed sends the panic with the note already on record.
pub async fn panic(ctx: &Ctx, vault: &mut Vault, note: Option<&str>) -> Result<Report, ClientError> {
    let mut news = before_alerting(ctx, vault).await;
    let (book, key) = vault.member()?;
    let mut updated = book.clone();
    updated.promote_removals(unix_now());
    // The panic's words are added to the standing note, for this alert: the
    // standing note itself stays (the next check-in seals it alone again).
    let sealed = match note.filter(|n| !n.is_empty()) {
        Some(n) => {
            let standing = std::mem::take(&mut updated.note);
            updated.note = with_panic_words(&standing, n, unix_now());
            let sealed = reseal(&mut updated, key).ok();
            updated.note = standing;
            sealed.map(B64)
        }
        // The note on record, unless the words or the recipients changed.
        None => match unchanged_seal(&updated) {
            Some(_) => None,
            None => reseal(&mut updated, key).ok().map(B64),
        },
    };
    let body = PanicRequest { sealed_alert: sealed };
    // Every server alerts: whichever of them can still reach the contacts.
    let answers = fanout::everywhere(ctx, fanout::servers_of(&updated)?, |server, client| {
        let (body, updated) = (&body, &updated);
        async move {
            let reply: PanicReply =
                client.call(&routes::Panic, body, &fanout::signer_at(updated, &server, key)).await?;
            Ok(reply)
        }
    })
    .await;
    fanout::record_reach(&mut updated, &answers, unix_now());
    let Some(reply) = answers.iter().find_map(|a| a.result.as_ref().ok()).cloned() else {
        vault.book.member = Some(updated);
        vault.save()?;
        return Err(answers
            .into_iter()
            .find_map(|a| a.result.err())
            .unwrap_or_else(|| ClientError::State(crate::t!("member-old-account"))));
    };
    vault.book.member = Some(updated);
    vault.save()?;
    news.extend(after_alerting(ctx, vault).await);
    let (book, _) = vault.member()?;
    let mut report = Report {
        json: json!({ "alert": reply.alert }),
        text: crate::t!("member-panic-sent", alert = reply.alert.to_string()),
    };
    servers_part(&mut report, &answers, book);
    finish_partly(frame(report, &news, book), &answers)
}

/// The standing note with a panic's words after it, marked with the time,
/// within the protocol's limit: the panic's words are kept whole and the
/// standing note is cut from its end to make room.
pub fn with_panic_words(standing: &str, words: &str, now: u64) -> String {
    let limit = aman_protocol::alert::MAX_NOTE_LEN;
    let added = shorten(&format!("PANIC ({}): {words}", format_time(now)), limit);
    let room = limit.saturating_sub(added.len() + 2);
    match shorten(standing, room) {
        kept if kept.is_empty() => added,
        kept => format!("{kept}\n\n{added}"),
    }
}

/// `aman status`: leads with whether anyone would be alerted; when the
/// server cannot be reached, shows the deadline it last reported.
pub async fn status(ctx: &Ctx, vault: &mut Vault) -> Result<Report, ClientError> {
    let news = complete_quietly(ctx, vault).await;
    let (book, key) = vault.member()?;
    let client = ctx.client(&book.server)?;
    let reply: Result<AccountStatus, _> = client.call(&routes::GetAccount, &NoBody, &signer(book, key)?).await;
    let s = match reply {
        Ok(s) => s,
        Err(cause @ ClientError::Unreachable { .. }) => {
            let report = last_known_report(book);
            return Err(ClientError::Degraded { report: Box::new(frame(report, &news, book)), cause: Box::new(cause) });
        }
        Err(e) => return Err(e),
    };
    let mut updated = book.clone();
    updated.last_known = Some(LastKnown { at: unix_now(), next_due: s.next_due, deadline: s.deadline });
    vault.book.member = Some(updated);
    vault.save()?;
    let (book, _) = vault.member()?;
    let mut text = match &ctx.proxy {
        Some(p) => crate::t!(
            "member-status-reachable-proxy",
            server = &book.server,
            proxy = crate::api::without_credentials(p)
        ),
        None => crate::t!("member-status-reachable", server = &book.server),
    };
    text.push('\n');
    match s.deadline {
        Some(d) => text.push_str(&crate::t!(
            "member-status-next-due",
            due = s.next_due.map(format_time).unwrap_or_default(),
            deadline = format_time(d),
            left = format_duration(d.saturating_sub(s.server_time))
        )),
        None if s.policy.trips_only => text.push_str(&crate::t!("member-status-trips-only")),
        None => text.push_str(&crate::t!("member-status-not-armed")),
    }
    text.push('\n');
    if let Some(p) = book.pause {
        let until = p.until.map(format_time);
        let from = (p.effective_at > s.server_time).then(|| format_time(p.effective_at));
        text.push_str(&match (from, until) {
            (None, None) => crate::t!("member-status-paused"),
            (None, Some(until)) => crate::t!("member-status-paused-until", until = until),
            (Some(from), None) => crate::t!("member-status-paused-from", from = from),
            (Some(from), Some(until)) => crate::t!("member-status-paused-from-until", from = from, until = until),
        });
        text.push('\n');
    }
    if let Some(trip) = &book.trip {
        text.push_str(&crate::t!(
            "member-status-on-trip",
            time = format_time(trip.back_by),
            left = format_duration(trip.back_by.saturating_sub(s.server_time))
        ));
        text.push('\n');
    }
    text.push_str(&contacts_line(book));
    text.push('\n');
    for p in &s.pending {
        let what = match p.kind() {
            Some(PendingKind::PolicyWeakening) => crate::t!("member-pending-weakening"),
            Some(PendingKind::CheckinKeysRotation) => crate::t!("member-pending-keys"),
            Some(PendingKind::AccountDeletion) => crate::t!("member-pending-deletion"),
            None => crate::t!("member-pending-unknown"),
        };
        match p.effective_at() {
            Some(at) => text.push_str(&crate::t!("member-pending-applies-at", what = what, time = format_time(at))),
            None => text.push_str(&crate::t!("member-pending-waiting", what = what)),
        }
        text.push('\n');
    }
    let report = Report {
        json: json!({
            "reachable": true, "server": book.server, "account": book.account, "counter": s.counter,
            "next_due": s.next_due, "deadline": s.deadline, "server_time": s.server_time,
            "time_left": s.deadline.map(|d| d.saturating_sub(s.server_time)),
            "contacts": book.contacts.len(), "pending_invites": book.pending.len(),
            "pending_changes": s.pending,
            "trip": book.trip.as_ref().map(|t| json!({ "back_by": t.back_by, "grace": t.grace, "time_left": t.back_by.saturating_sub(s.server_time) })),
        }),
        text: text.trim_end().to_owned(),
    };
    // Servers that have not answered for long: time to add another.
    let mut report = report;
    for line in long_down_lines(book, unix_now()) {
        report.text.push('\n');
        report.text.push_str(&line);
    }
    if !book.mirrors.is_empty() {
        report.json["servers"] = json!(book.servers().len());
    }
    Ok(frame(report, &news, book))
}

/// "2 linked contact(s), 1 invited."
fn contacts_line(book: &MemberBook) -> String {
    crate::t!("member-status-contacts", linked = book.contacts.len(), invited = book.pending.len())
}

/// What `status` shows without the server: the deadline it last reported.
fn last_known_report(book: &MemberBook) -> Report {
    let mut text = crate::t!("member-status-unreachable", server = &book.server);
    text.push('\n');
    match book.last_known {
        Some(LastKnown { at, next_due, deadline: Some(d) }) => {
            let (at, due, deadline) = (format_time(at), next_due.map(format_time).unwrap_or_default(), format_time(d));
            text.push_str(&if d <= unix_now() {
                crate::t!("member-status-last-known-passed", at = at, due = due, deadline = deadline)
            } else {
                crate::t!("member-status-last-known", at = at, due = due, deadline = deadline)
            });
        }
        Some(_) => text.push_str(&crate::t!("member-status-last-known-not-armed")),
        None => text.push_str(&crate::t!("member-status-nothing-known")),
    }
    text.push('\n');
    text.push_str(&contacts_line(book));
    let last = book.last_known;
    Report {
        json: json!({
            "reachable": false, "server": book.server, "account": book.account,
            "last_known": last.map(|l| json!({ "at": l.at, "next_due": l.next_due, "deadline": l.deadline })),
            "contacts": book.contacts.len(), "pending_invites": book.pending.len(),
        }),
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aman_protocol::at_rest::ServerKey;
    use aman_protocol::ServerIdentity;

    /// A server that has not answered for longer than the grace is named in
    /// a warning (and one down for less is not): the member can add another.
    #[test]
    fn a_server_down_long_is_warned_of() {
        let server = ServerIdentity::derive(&ServerKey::generate().unwrap());
        let mut book: MemberBook = serde_json::from_value(json!({
            "server": "https://first.example", "account": AccountId::from_bytes([1; 16]), "name": null,
            "counter": 0, "sequence": 0, "every": 3600, "grace": 600, "note": "", "location": "",
            "contacts": [], "pending": [],
            "mirrors": [{ "url": "https://second.example", "server_id": server.id(), "server_key": server.public() }],
        }))
        .unwrap();
        let now = 1_000_000;
        book.mark_reached("https://second.example", false, now - SERVER_DOWN_WARNING - 1);
        book.mark_reached("https://first.example", false, now - 60);
        let lines = long_down_lines(&book, now);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("https://second.example"));
        // It answers again: no warning.
        book.mark_reached("https://second.example", true, now);
        assert!(long_down_lines(&book, now).is_empty());
    }

    #[test]
    fn a_panics_words_always_fit_and_are_kept_whole() {
        let limit = aman_protocol::alert::MAX_NOTE_LEN;
        let standing = "ب".repeat(limit); // two bytes a letter: twice the limit
        let note = with_panic_words(&standing, "taken at the checkpoint", 0);
        assert!(note.len() <= limit, "{}", note.len());
        assert!(note.ends_with("PANIC (1970-01-01 00:00:00 UTC): taken at the checkpoint"));
        assert!(note.starts_with("بب"), "the standing note is cut from its end");
        assert_eq!(with_panic_words("", "help", 0), "PANIC (1970-01-01 00:00:00 UTC): help");
        assert!(with_panic_words("", &"w".repeat(limit), 0).len() <= limit);
    }

    /// The messages built from pieces read as they did in English, and every
    /// Arabic form is whole (a select or variable Fluent could not resolve
    /// shows as `{`).
    #[test]
    fn composed_messages_read_the_same_in_english_and_whole_in_arabic() {
        use crate::i18n::{message_in, Arg, Lang};
        let checked_in = |lang, who: &'static str| {
            message_in(
                lang,
                "member-checked-in-every",
                &[
                    ("due", Arg::from("D")),
                    ("every", Arg::from("6h")),
                    ("who", Arg::from(who)),
                    ("deadline", Arg::from("X")),
                ],
            )
        };
        assert_eq!(
            checked_in(Lang::En, "linked"),
            "Checked in. Next check-in due by D (in 6h); your contacts are alerted at X if you have not checked in."
        );
        assert_eq!(
            checked_in(Lang::En, "none"),
            "Checked in. Next check-in due by D (in 6h); the alert would go at X if you have not checked in."
        );
        assert_ne!(checked_in(Lang::Ar, "linked"), checked_in(Lang::Ar, "none"));
        let contacts = |lang, linked: u64, invited: u64| {
            message_in(
                lang,
                "member-status-contacts",
                &[("linked", Arg::Count(linked)), ("invited", Arg::Count(invited))],
            )
        };
        assert_eq!(contacts(Lang::En, 1, 0), "1 linked contact(s), 0 invited.");
        assert_eq!(contacts(Lang::En, 3, 12), "3 linked contact(s), 12 invited.");
        for n in [0, 1, 2, 3, 11, 100] {
            let ar = contacts(Lang::Ar, n, n);
            assert!(!ar.contains('{') && ar.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)), "{ar}");
        }
        let drill = message_in(Lang::En, "member-drill-sent", &[("count", Arg::Count(1))]);
        assert!(drill.starts_with("Drill sent to your 1 contact(s): after"), "{drill}");
        let waiting = message_in(Lang::En, "member-invited-not-accepted", &[("count", Arg::Count(2))]);
        assert_eq!(waiting, "(2 invited, not yet accepted)");
    }

    #[test]
    fn init_checks_the_server_against_its_invite() {
        let real = ServerIdentity::derive(&ServerKey::generate().unwrap());
        let other = ServerIdentity::derive(&ServerKey::generate().unwrap());
        let info = ServerInfo { server_id: real.id(), server_key: real.public() };
        let code = format!("amanreg2-abcdef-{}", real.id());
        assert!(check_server(&info, Some(&code)).is_ok());
        assert!(check_server(&info, None).is_ok(), "an open server has no invite to check against");
        assert!(check_server(&info, Some("amanreg1-old")).is_ok(), "older codes name no server");
        let elsewhere = format!("amanreg2-abcdef-{}", other.id());
        assert!(check_server(&info, Some(&elsewhere)).is_err(), "a server that is not the invite's");
        assert!(check_server(&info, Some("amanreg2-abcdef-zz")).is_err(), "a damaged code");
        let lying = ServerInfo { server_id: real.id(), server_key: other.public() };
        assert!(check_server(&lying, Some(&code)).is_err(), "an id that is not its key's hash");
    }
}
