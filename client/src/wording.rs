//! What a trusted contact reads: every alert reason and notice in plain
//! words, each with a line on what to do. Most contacts are not technical;
//! a raw label such as `policy_weakening` tells them nothing.

use aman_protocol::api::{AlertReason, NoticeKind};

/// A headline for an alert's reason, and what to do.
pub fn reason(reason: AlertReason) -> (&'static str, &'static str) {
    match reason {
        AlertReason::Missed => (
            "did not check in by their deadline",
            "Try to reach them now. If you cannot, follow the plan you agreed on (their note below says where they were).",
        ),
        AlertReason::Duress => (
            "checked in with their DURESS passphrase: someone may be forcing them",
            "Their check-in looked normal to whoever was with them. Do not call or message them in a way that could reveal this alert; follow the plan you agreed on.",
        ),
        AlertReason::Panic => (
            "pressed PANIC: they asked for help now",
            "Act now: follow the plan you agreed on. Their note below says what they know.",
        ),
        AlertReason::Drill => (
            "is testing their safety net: this is a DRILL, nothing has happened",
            "Acknowledge it with `aman alerts ack ID` to show you would have seen it.",
        ),
        _ => ("sent an alert of a kind this version does not know", "Update aman, and try to reach them."),
    }
}

/// The first line of a drill, which must never read as an alert.
pub fn drill(member: &str, id: &str) -> String {
    format!(
        "DRILL: {member} is testing their safety net — nothing has happened. Acknowledge it with `aman alerts ack {id}` to show you would have seen it."
    )
}

/// What a drill shows besides its first line.
pub const DRILL_SHOWS: &str = "Below is what you would read in a real alert.";

/// A sentence for a notice attached to an alert, and what to do.
pub fn alert_notice(kind: NoticeKind) -> (&'static str, &'static str) {
    match kind {
        NoticeKind::CheckedInLate => (
            "They checked in after this alert fired",
            "A check-in can be forced: confirm with them in a way only they would answer.",
        ),
        NoticeKind::Acknowledged => ("Another contact acknowledged this alert", "Coordinate with the other contacts."),
        _ => ("The server added a note of a kind this version does not know", "Update aman."),
    }
}

/// A sentence for an account-level notice (a change to the member's
/// protection), and what to do.
pub fn account_notice(kind: NoticeKind) -> (&'static str, &'static str) {
    match kind {
        NoticeKind::PolicyWeakening => (
            "asked for a change that weakens their protection (a longer schedule, checking in only on trips, a contact removed, or alerts paused)",
            "If they did not tell you about it, ask them in person: someone may be forcing them. It waits until the time shown, so there is time to act.",
        ),
        NoticeKind::CheckinKeysRotation => (
            "is changing the keys they check in with",
            "If they did not tell you, ask them in person: someone holding their phone could be doing this.",
        ),
        NoticeKind::AccountDeletion => (
            "asked to delete their account: alerts stop when it applies",
            "If they did not tell you, ask them in person before that time.",
        ),
        NoticeKind::ContactLinked => (
            "linked a new trusted contact",
            "If they did not tell you, ask them: someone holding their phone could be adding a contact of their own.",
        ),
        NoticeKind::PendingChangeCancelled => ("cancelled a pending change", "Nothing to do."),
        _ => ("made a change this version does not know", "Update aman, and ask them about it."),
    }
}

/// `text` safe to print on a terminal, cut to `max` characters: control
/// characters (escape sequences among them, which could rewrite or erase
/// what is on the screen, such as the client's own warnings) and bidi
/// overrides (which could make one line read as another) become `?`; line
/// breaks stay, and tabs become spaces. Arabic and every other script pass
/// unchanged.
pub fn printable(text: &str, max: usize) -> String {
    text.chars()
        .take(max)
        .map(|c| match c {
            '\n' => '\n',
            '\t' => ' ',
            c if c.is_control() => '?',
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}' => '?',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_printed_can_drive_the_terminal() {
        let hostile = "ok\u{1b}[2J\u{1b}[Hgone\r\u{9b}31m \u{202E}txt.exe\tend\nنص عربي";
        let shown = printable(hostile, usize::MAX);
        assert!(!shown.chars().any(|c| c.is_control() && c != '\n'), "{shown:?}");
        assert!(!shown.contains('\u{202E}'));
        assert!(shown.ends_with("end\nنص عربي"), "{shown:?}");
        assert_eq!(printable("abcdef", 3), "abc");
    }
    #[test]
    fn every_kind_the_protocol_names_has_its_own_words() {
        // Through the wire word, as a reply carries it.
        let word = |kind: NoticeKind| NoticeKind::parse(serde_json::to_value(kind).unwrap().as_str().unwrap());
        let unknown = account_notice(NoticeKind::parse("no such kind")).0;
        for kind in [
            NoticeKind::PolicyWeakening,
            NoticeKind::AccountDeletion,
            NoticeKind::CheckinKeysRotation,
            NoticeKind::ContactLinked,
            NoticeKind::PendingChangeCancelled,
        ] {
            assert_ne!(account_notice(word(kind)).0, unknown, "{kind}");
        }
        for kind in [NoticeKind::CheckedInLate, NoticeKind::Acknowledged] {
            assert_ne!(alert_notice(word(kind)).0, alert_notice(NoticeKind::parse("x")).0, "{kind}");
        }
        for r in ["missed", "duress", "panic", "drill"] {
            assert_ne!(reason(AlertReason::parse(r)).0, reason(AlertReason::parse("x")).0, "{r}");
        }
    }
}
