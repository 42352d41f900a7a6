//! Every error code the API answers with, in one place: the server builds
//! its refusals from these, the client and the tests compare against them,
//! and a test holds the set equal to PROTOCOL.md's error table (§10.1). On
//! the wire a code is its string (`ErrorBody::code`), so a client meets a
//! code newer than itself as a string it does not know, never as a failure
//! to parse the body.

use std::fmt;

macro_rules! error_codes {
    ($($variant:ident = $code:literal,)*) => {
        /// A stable, machine-readable error code (the `code` of an error body).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $(#[doc = concat!("`", $code, "`")] $variant,)*
        }

        impl ErrorCode {
            /// Every code.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it travels.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }
        }
    };
}

error_codes! {
    AccountExists = "account_exists",
    AlertHashMismatch = "alert_hash_mismatch",
    AlertTooLarge = "alert_too_large",
    BadEncoding = "bad_encoding",
    BadSignature = "bad_signature",
    BodyTimeout = "body_timeout",
    BodyTooLarge = "body_too_large",
    ClockSkew = "clock_skew",
    CounterJump = "counter_jump",
    DirectoryTooLarge = "directory_too_large",
    DrillOpen = "drill_open",
    DuplicateContact = "duplicate_contact",
    EmailUnavailable = "email_unavailable",
    GraceOutOfRange = "grace_out_of_range",
    InsecureTarget = "insecure_target",
    Internal = "internal",
    IntervalOutOfRange = "interval_out_of_range",
    InvalidDirectory = "invalid_directory",
    InvalidEscalation = "invalid_escalation",
    InvalidExpiry = "invalid_expiry",
    InvalidField = "invalid_field",
    InvalidKind = "invalid_kind",
    InvalidPause = "invalid_pause",
    InvalidQuery = "invalid_query",
    InvalidReminders = "invalid_reminders",
    InvalidTarget = "invalid_target",
    InvalidTier = "invalid_tier",
    InvalidValue = "invalid_value",
    InviteExpired = "invite_expired",
    InviteRequired = "invite_required",
    InviteRevoked = "invite_revoked",
    InviteUnknown = "invite_unknown",
    InviteUsedUp = "invite_used_up",
    MailboxExists = "mailbox_exists",
    MalformedJson = "malformed_json",
    MissingAuth = "missing_auth",
    NoRoute = "no_route",
    NotFound = "not_found",
    NotSealedToThisServer = "not_sealed_to_this_server",
    Overloaded = "overloaded",
    PairingAnswered = "pairing_answered",
    PairingExists = "pairing_exists",
    PairingExpired = "pairing_expired",
    PrivateTarget = "private_target",
    ProtocolV1Unsupported = "protocol_v1_unsupported",
    RateLimited = "rate_limited",
    ReplayedRequest = "replayed_request",
    RequestExpired = "request_expired",
    RequestTimeout = "request_timeout",
    RotationMismatch = "rotation_mismatch",
    RotationPending = "rotation_pending",
    StaleCounter = "stale_counter",
    StaleGeneration = "stale_generation",
    StandDownRefused = "stand_down_refused",
    TargetPort = "target_port",
    TooLong = "too_long",
    TooManyContacts = "too_many_contacts",
    TooManyEndpoints = "too_many_endpoints",
    TooManyMailboxes = "too_many_mailboxes",
    TooManyPairings = "too_many_pairings",
    TooManyTargets = "too_many_targets",
    TooManyWaiters = "too_many_waiters",
    TrailingBytes = "trailing_bytes",
    Truncated = "truncated",
    Unauthorized = "unauthorized",
    UnknownMailbox = "unknown_mailbox",
    UnknownVersion = "unknown_version",
    WrongLabel = "wrong_label",
    WrongLength = "wrong_length",
}

impl ErrorCode {
    /// The code a wire string names, or `None` for one this version does
    /// not know (a newer server's).
    pub fn from_code(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert_eq!(ErrorCode::from_code(code.as_str()), Some(*code));
            assert!(code.as_str().bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()));
        }
        assert_eq!(ErrorCode::from_code("a_code_from_the_future"), None);
    }
}
