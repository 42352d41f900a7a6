//! The closed sets the API names by a word: why an alert fired, what a notice
//! is about, a notification channel's kind, and how a delivery attempt went.
//!
//! Each is an enum whose wire form is the word PROTOCOL.md gives (one
//! `#[serde(rename)]` per variant, which [`as_str`](AlertReason::as_str)
//! returns too, so the two cannot differ).
//!
//! **Forward compatibility.** Every one of them has an `Unknown` variant
//! marked `#[serde(other)]`: a word this version does not know, sent by a
//! newer server, reads as `Unknown` instead of failing the whole reply, and
//! the client shows it as something it cannot name (a contact must still see
//! an alert whose reason is new). The server refuses it where a client sends
//! one (an endpoint of an unknown kind is `invalid_kind`, as any other word
//! was before) and writes it in one place only: a delivery log line for an
//! endpoint removed before its attempt ([`DeliveryChannel::Unknown`]).
//! Written back (a client keeping an alert in its keystore), it is the word
//! `unknown`.

use serde::{Deserialize, Serialize};

/// Declares a wire enum: its variants with their words, an `Unknown`
/// variant for words it does not know, `as_str`, `parse` (and `From<&str>`),
/// `Display` and comparison with the word.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $word:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[serde(rename = $word)]
                $variant,
            )+
            /// A word this version does not know (from a newer server),
            /// written as `unknown`.
            #[serde(other, rename = "unknown")]
            Unknown,
        }

        impl $name {
            /// Every variant this version knows, `Unknown` aside.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The word on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                    $name::Unknown => "unknown",
                }
            }

            /// The variant a word names; `Unknown` for any other word.
            pub fn parse(word: &str) -> Self {
                match word {
                    $($word => $name::$variant,)+
                    _ => $name::Unknown,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<&str> for $name {
            /// As [`parse`](Self::parse) (and as reading the word from JSON).
            fn from(word: &str) -> Self {
                Self::parse(word)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, word: &str) -> bool {
                self.as_str() == word
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, word: &&str) -> bool {
                self.as_str() == *word
            }
        }
    };
}

wire_enum! {
    /// Why an alert fired, as a contact's mailbox shows it.
    AlertReason {
        /// The deadline passed without a check-in.
        Missed = "missed",
        /// A check-in made with the duress passphrase.
        Duress = "duress",
        /// The member pressed panic.
        Panic = "panic",
        /// The member tests their safety net (`aman drill`).
        Drill = "drill",
    }
}

wire_enum! {
    /// What a notice is about.
    NoticeKind {
        /// The member checked in after the alert fired (it may have been forced).
        CheckedInLate = "checked_in_late",
        /// Another contact acknowledged the alert.
        Acknowledged = "acknowledged",
        /// A weakening policy change is pending.
        PolicyWeakening = "policy_weakening",
        /// The account will be deleted.
        AccountDeletion = "account_deletion",
        /// New check-in keys are pending.
        CheckinKeysRotation = "checkin_keys_rotation",
        /// A new contact was linked; it takes part from `effective_at`.
        ContactLinked = "contact_linked",
        /// A pending change was cancelled or replaced before it applied.
        PendingChangeCancelled = "pending_change_cancelled",
    }
}

wire_enum! {
    /// The kind of a notification channel (a contact's endpoint, a member's
    /// reminder target).
    ChannelKind {
        /// A signed JSON `POST` to an https URL.
        Webhook = "webhook",
        /// An ntfy topic URL.
        Ntfy = "ntfy",
        /// An e-mail address, through the organizer's SMTP relay.
        Email = "email",
    }
}

wire_enum! {
    /// Where a delivery attempt went: the contact's mailbox, or one of its
    /// channels (`unknown` when the endpoint was removed before the attempt).
    DeliveryChannel {
        /// The alert was placed in the mailbox.
        Mailbox = "mailbox",
        /// A webhook.
        Webhook = "webhook",
        /// An ntfy topic.
        Ntfy = "ntfy",
        /// An e-mail.
        Email = "email",
    }
}

wire_enum! {
    /// How a delivery attempt went.
    DeliveryOutcome {
        /// It was delivered.
        Delivered = "delivered",
        /// It failed (why is in the organizer's log only).
        Failed = "failed",
        /// Written before 0.4: a failure that was retried.
        TransientFailure = "transient_failure",
        /// Written before 0.4: a failure that was not retried.
        PermanentFailure = "permanent_failure",
    }
}

impl DeliveryChannel {
    /// The kind of channel, or `None` for the mailbox itself.
    pub fn kind(self) -> Option<ChannelKind> {
        match self {
            DeliveryChannel::Mailbox => None,
            DeliveryChannel::Webhook => Some(ChannelKind::Webhook),
            DeliveryChannel::Ntfy => Some(ChannelKind::Ntfy),
            DeliveryChannel::Email => Some(ChannelKind::Email),
            DeliveryChannel::Unknown => Some(ChannelKind::Unknown),
        }
    }
}

impl From<ChannelKind> for DeliveryChannel {
    fn from(kind: ChannelKind) -> Self {
        match kind {
            ChannelKind::Webhook => DeliveryChannel::Webhook,
            ChannelKind::Ntfy => DeliveryChannel::Ntfy,
            ChannelKind::Email => DeliveryChannel::Email,
            ChannelKind::Unknown => DeliveryChannel::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T>(known: &[T], word: fn(T) -> &'static str)
    where
        T: Copy + Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
    {
        for &v in known {
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(json, format!("\"{}\"", word(v)));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), v);
        }
    }

    #[test]
    fn words_are_the_wire_form_and_unknown_words_read() {
        round_trips(AlertReason::KNOWN, AlertReason::as_str);
        round_trips(NoticeKind::KNOWN, NoticeKind::as_str);
        round_trips(ChannelKind::KNOWN, ChannelKind::as_str);
        round_trips(DeliveryChannel::KNOWN, DeliveryChannel::as_str);
        round_trips(DeliveryOutcome::KNOWN, DeliveryOutcome::as_str);
        assert_eq!(serde_json::from_str::<AlertReason>("\"kidnap\"").unwrap(), AlertReason::Unknown);
        assert_eq!(serde_json::from_str::<ChannelKind>("\"sms\"").unwrap(), ChannelKind::Unknown);
        assert_eq!(AlertReason::parse("drill"), AlertReason::Drill);
        assert_eq!(ChannelKind::parse("sms"), ChannelKind::Unknown);
        assert!(AlertReason::Missed == "missed");
    }
}
