//! The account's policy as stored: a record of its own, read and written
//! through a serde adapter on the account record (`#[serde(with =
//! "policy_record::as_record")]`), so a change to the API's `Policy`
//! envelope changes no stored byte: only the conversions here must follow
//! it. The engine keeps working on `Policy`; the disk sees `PolicyRecord`.

use aman_protocol::api::{ContactLink, Policy};
use aman_protocol::MailboxId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A policy on disk (the same JSON the API's `Policy` had when the two
/// were parted; a test holds it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct PolicyRecord {
    #[serde(default)]
    interval: Option<u64>,
    #[serde(default)]
    grace: Option<u64>,
    #[serde(default)]
    paused: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    paused_until: Option<u64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    trips_only: bool,
    #[serde(default)]
    contacts: Vec<ContactRecord>,
    #[serde(default)]
    escalation_delays: Vec<u64>,
}

/// A linked contact on disk.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct ContactRecord {
    mailbox: MailboxId,
    tier: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    active_from: Option<u64>,
}

impl From<&Policy> for PolicyRecord {
    fn from(p: &Policy) -> Self {
        PolicyRecord {
            interval: p.interval,
            grace: p.grace,
            paused: p.paused,
            paused_until: p.paused_until,
            trips_only: p.trips_only,
            contacts: p
                .contacts
                .iter()
                .map(|c| ContactRecord { mailbox: c.mailbox, tier: c.tier, active_from: c.active_from })
                .collect(),
            escalation_delays: p.escalation_delays.clone(),
        }
    }
}

impl From<PolicyRecord> for Policy {
    fn from(r: PolicyRecord) -> Self {
        Policy {
            interval: r.interval,
            grace: r.grace,
            paused: r.paused,
            paused_until: r.paused_until,
            trips_only: r.trips_only,
            contacts: r
                .contacts
                .into_iter()
                .map(|c| ContactLink { mailbox: c.mailbox, tier: c.tier, active_from: c.active_from })
                .collect(),
            escalation_delays: r.escalation_delays,
        }
    }
}

/// The serde adapter: a `Policy` field stored as a `PolicyRecord`.
pub mod as_record {
    use super::*;

    /// Writes `policy` as its record.
    pub fn serialize<S: Serializer>(policy: &Policy, s: S) -> Result<S::Ok, S::Error> {
        PolicyRecord::from(policy).serialize(s)
    }

    /// Reads a record into the engine's `Policy`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Policy, D::Error> {
        PolicyRecord::deserialize(d).map(Policy::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_is_the_bytes_the_policy_had_and_reads_back_the_same() {
        let contact =
            |m: u8, active_from| ContactLink { mailbox: MailboxId::from_bytes([m; 16]), tier: m, active_from };
        let policies = [
            Policy::default(),
            Policy {
                interval: Some(3600),
                grace: Some(600),
                paused: true,
                paused_until: Some(1_800_000_000),
                trips_only: true,
                contacts: vec![contact(1, None), contact(2, Some(1_800_000_100))],
                escalation_delays: vec![300, 900],
            },
        ];
        for p in policies {
            let stored = serde_json::to_string(&PolicyRecord::from(&p)).unwrap();
            assert_eq!(stored, serde_json::to_string(&p).unwrap(), "the same bytes as the envelope");
            let back: PolicyRecord = serde_json::from_str(&stored).unwrap();
            assert_eq!(Policy::from(back), p);
        }
        // A record written before trips only existed still reads.
        let old = r#"{"interval":60,"grace":30,"paused":false,"contacts":[],"escalation_delays":[]}"#;
        let read: PolicyRecord = serde_json::from_str(old).unwrap();
        assert!(!Policy::from(read).trips_only);
    }
}
