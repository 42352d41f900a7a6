//! What a trusted contact reads: every alert reason and notice in plain
//! words, each with a line on what to do. Most contacts are not technical;
//! a raw label such as `policy_weakening` tells them nothing.

use crate::t;
use aman_protocol::api::{AlertReason, NoticeKind};

/// A sentence said twice: in English for `--json` (machine-readable output
/// is the same in every language) and in this process's language for the
/// terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    /// In English, for the JSON.
    pub json: String,
    /// In the chosen language, for a person.
    pub text: String,
}

/// `said!(t!(ID, name = value, …))`: the message as a [`Said`]. (The
/// `t!` inside keeps the id where the unit test that checks ids finds it.)
macro_rules! said {
    (t!($id:literal $(, $name:ident = $value:expr)* $(,)?)) => {
        $crate::wording::Said {
            json: $crate::i18n::message_in(
                $crate::i18n::Lang::En,
                $id,
                &[$((stringify!($name), $crate::i18n::Arg::from($value))),*],
            ),
            text: $crate::t!($id $(, $name = $value)*),
        }
    };
}
pub(crate) use said;

/// A headline for an alert's reason, and what to do.
pub fn reason(reason: AlertReason) -> (String, String) {
    match reason {
        AlertReason::Missed => (t!("contact-reason-missed"), t!("contact-reason-missed-todo")),
        AlertReason::Duress => (t!("contact-reason-duress"), t!("contact-reason-duress-todo")),
        AlertReason::Panic => (t!("contact-reason-panic"), t!("contact-reason-panic-todo")),
        AlertReason::Drill => (t!("contact-reason-drill"), t!("contact-reason-drill-todo")),
        _ => (t!("contact-reason-unknown"), t!("contact-reason-unknown-todo")),
    }
}

/// The first line of a drill, which must never read as an alert.
pub fn drill(member: &str, id: &str) -> String {
    t!("contact-drill-line", member = member, id = id)
}

/// What a drill shows besides its first line.
pub fn drill_shows() -> String {
    t!("contact-drill-shows")
}

/// A sentence for a notice attached to an alert, and what to do.
pub fn alert_notice(kind: NoticeKind) -> (String, String) {
    match kind {
        NoticeKind::CheckedInLate => (t!("contact-alert-notice-late"), t!("contact-alert-notice-late-todo")),
        NoticeKind::Acknowledged => (t!("contact-alert-notice-acked"), t!("contact-alert-notice-acked-todo")),
        _ => (t!("contact-alert-notice-unknown"), t!("contact-alert-notice-unknown-todo")),
    }
}

/// A sentence for an account-level notice (a change to the member's
/// protection), and what to do.
pub fn account_notice(kind: NoticeKind) -> (String, String) {
    match kind {
        NoticeKind::PolicyWeakening => {
            (t!("contact-account-notice-weakening"), t!("contact-account-notice-weakening-todo"))
        }
        NoticeKind::CheckinKeysRotation => {
            (t!("contact-account-notice-rotation"), t!("contact-account-notice-rotation-todo"))
        }
        NoticeKind::AccountDeletion => {
            (t!("contact-account-notice-deletion"), t!("contact-account-notice-deletion-todo"))
        }
        NoticeKind::ContactLinked => (t!("contact-account-notice-linked"), t!("contact-account-notice-linked-todo")),
        NoticeKind::PendingChangeCancelled => {
            (t!("contact-account-notice-cancelled"), t!("contact-account-notice-cancelled-todo"))
        }
        _ => (t!("contact-account-notice-unknown"), t!("contact-account-notice-unknown-todo")),
    }
}

/// `text` safe to print on a terminal, cut to `max` characters: control
/// characters (escape sequences among them, which could rewrite or erase
/// what is on the screen, such as the client's own warnings) and bidi
/// overrides (which could make one line read as another) become `?`; line
/// breaks stay, and tabs become spaces. Arabic and every other script pass
/// unchanged. For what a member, a contact or a server wrote: made printable
/// before it goes into a message, since the messages' own isolation marks
/// (which keep a name in its place in an Arabic sentence) are bidi controls.
pub fn printable(text: &str, max: usize) -> String {
    printable_with(text, max, false)
}

/// A message this program composed, whose variables were made
/// [`printable`] already, safe to print and cut to `max` characters: as
/// [`printable`], but the isolation marks (U+2068, U+2069) that Fluent puts
/// around each variable of an Arabic message stay.
pub fn printable_message(text: &str, max: usize) -> String {
    printable_with(text, max, true)
}

fn printable_with(text: &str, max: usize, keep_isolates: bool) -> String {
    text.chars()
        .take(max)
        .map(|c| match c {
            '\n' => '\n',
            '\t' => ' ',
            c if c.is_control() => '?',
            '\u{2068}' | '\u{2069}' if keep_isolates => c,
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
        // A message's own isolation marks stay; every other control goes.
        let message = printable_message("\u{2068}Noor\u{2069} \u{202E}x\u{1b}", usize::MAX);
        assert_eq!(message, "\u{2068}Noor\u{2069} ?x?");
        assert_eq!(printable("\u{2068}x\u{2069}", usize::MAX), "?x?");
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
