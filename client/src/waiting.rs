//! What waits at the server. The server holds one waiting policy change
//! (PROTOCOL.md §10, *Waiting changes share one slot*): a weaker schedule,
//! a pause, contact removals, together. Each new weakening request replaces
//! it, so it must carry what still waits, and the member's book must follow
//! whatever the server now holds: all of it waiting until the new time, or
//! none of it, after the waiting change was dropped.

use crate::state::MemberBook;
use aman_protocol::api::Policy;

/// A pause still waiting out its cooling-off whose end has not passed (one
/// whose end has passed would be refused as `invalid_pause`, and means
/// nothing any more).
pub fn pause(book: &MemberBook, now: u64) -> Option<crate::state::Pause> {
    book.pause.filter(|p| p.effective_at > now && p.until.is_none_or(|u| u > now))
}

/// `policy` with the waiting schedule change and pause carried (removals
/// are carried already: a contact being removed is left out of any policy
/// the client sends).
pub fn carry(policy: &mut Policy, book: &MemberBook, now: u64) {
    if let Some(p) = &book.pending_schedule {
        (policy.interval, policy.grace, policy.trips_only) = (Some(p.every), Some(p.grace), p.trips_only);
    }
    if let Some(p) = pause(book, now) {
        (policy.paused, policy.paused_until) = (true, p.until);
    }
}

/// After a request the server held until `effective_at`: everything that
/// waited with it waits as long.
pub fn retime(book: &mut MemberBook, effective_at: u64, now: u64) {
    if let Some(p) = book.pending_schedule.as_mut() {
        p.effective_at = effective_at;
    }
    if let Some(p) = book.pause.as_mut().filter(|p| p.effective_at > now) {
        p.effective_at = effective_at;
    }
    for c in book.contacts.iter_mut().filter(|c| c.removing_at.is_some_and(|t| t > now)) {
        c.removing_at = Some(effective_at);
    }
}

/// After the waiting change was dropped (`DELETE /v1/account/policy/pending`):
/// the removals that waited with it were dropped too, so those contacts stay
/// linked. Returns their labels, to tell the member.
pub fn drop_removals(book: &mut MemberBook, now: u64) -> Vec<String> {
    let mut kept = Vec::new();
    for c in book.contacts.iter_mut().filter(|c| c.removing_at.is_some_and(|t| t > now)) {
        c.removing_at = None;
        kept.push(c.label.clone());
    }
    kept
}

/// The sentence telling the member which removals were dropped.
pub fn kept_sentence(kept: &[String]) -> String {
    match kept {
        [] => String::new(),
        labels => format!(" {}", crate::t!("member-removal-dropped", labels = labels.join(", "))),
    }
}
