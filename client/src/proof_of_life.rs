//! Proof of life, judged by the contact itself.
//!
//! A contact fetches the member's latest public heartbeat (relayed by the
//! server, never woken by a check-in), verifies it with the member's `ID`
//! from pairing, and keeps the newest. From it the contact knows the
//! member's deadline without trusting the server: once that deadline has
//! passed with neither a newer heartbeat nor an alert, the contact client
//! says so itself, whether or not the server answers.

use crate::state::ProofOfLife;
use crate::wording::{said, Said};
use aman_protocol::{AccountId, Heartbeat, ServerId, VerifyingKey};

/// The longest interval a heartbeat may announce: the server default's
/// maximum (30 days) plus its clock window. A heartbeat beyond it is
/// ignored, so a seized server cannot push the alarm out with a heartbeat a
/// captor signed but no server accepted.
pub const MAX_INTERVAL: u64 = 30 * 86_400 + 300;
/// The longest grace a heartbeat may announce (the server default's maximum).
pub const MAX_GRACE: u64 = 7 * 86_400;
/// The most a heartbeat's counter may rise past the newest one seen (the
/// server's own bound).
pub const MAX_COUNTER_STEP: u64 = 1 << 32;
/// How far ahead of this device's clock a heartbeat may be signed.
pub const FUTURE_SLACK: u64 = 600;
/// How long after a deadline the server has to show its alert: the dispatch
/// delay, the scheduler's tick and a poll. `AMAN_ALARM_SLACK` (seconds)
/// changes it, for contacts of a server with a longer dispatch delay, and
/// for tests.
pub const ALARM_SLACK: u64 = 120;

fn alarm_slack() -> u64 {
    std::env::var("AMAN_ALARM_SLACK").ok().and_then(|v| v.parse().ok()).unwrap_or(ALARM_SLACK)
}
/// Clock difference allowed between the member's device and the server when
/// matching an alert or a notice to a heartbeat.
pub const CLOCK_SLACK: u64 = 300;

/// Judges a relayed heartbeat. Returns the proof of life to keep (and the
/// account it names), or why it was ignored (in English for the JSON and
/// in the chosen language for the terminal).
pub fn judge(
    member: &VerifyingKey,
    account: Option<AccountId>,
    server: Option<ServerId>,
    newest: Option<&ProofOfLife>,
    ph: &[u8],
    now: u64,
) -> Result<(ProofOfLife, AccountId), Said> {
    let hb = Heartbeat::verify(ph, member).map_err(|_| said!(t!("contact-heartbeat-not-signed")))?;
    if account.is_some_and(|a| a != hb.account) {
        return Err(said!(t!("contact-heartbeat-other-account")));
    }
    // The membership's own server: a heartbeat made for another server and
    // relayed here is not what this server saw.
    if server.is_some_and(|s| s != hb.server) {
        return Err(said!(t!("contact-heartbeat-other-server")));
    }
    // An equal counter is the same round seen at another server: nothing new.
    if newest.is_some_and(|p| hb.counter <= p.counter) {
        return Err(said!(t!("contact-heartbeat-not-newer")));
    }
    // The counter rises once per check-in: a leap would make every later
    // genuine heartbeat look old.
    if newest.is_some_and(|p| hb.counter - p.counter > MAX_COUNTER_STEP) {
        return Err(said!(t!("contact-heartbeat-counter-leap")));
    }
    if hb.client_time > now.saturating_add(FUTURE_SLACK) {
        return Err(said!(t!("contact-heartbeat-future")));
    }
    // A stand-down (trips only, back from a trip) announces no deadline.
    // It is trusted no further than any heartbeat: a contact cannot check
    // that the member's schedule is trips only, and a seized server could
    // keep one a captor signed, so it counts as due at the longest interval
    // and grace any server accepts (below).
    if !hb.stands_down()
        && (hb.next_due <= hb.client_time
            || hb.next_due > hb.client_time.saturating_add(MAX_INTERVAL)
            || hb.grace > MAX_GRACE)
    {
        return Err(said!(t!("contact-heartbeat-bad-schedule")));
    }
    let pol = ProofOfLife {
        counter: hb.counter,
        signed_at: hb.client_time,
        deadline: match hb.stands_down() {
            true => hb.client_time.saturating_add(MAX_INTERVAL).saturating_add(MAX_GRACE),
            false => hb.deadline(),
        },
        stood_down: hb.stands_down(),
        sealed_hash: data_encoding::HEXLOWER.encode(&hb.sealed_hash),
    };
    Ok((pol, hb.account))
}

/// Whether an alert answers for the deadline this proof of life announced:
/// a missed-deadline alert for that deadline (or a later one: the number is
/// the member's own, copied from the heartbeat), or any alert fired after
/// the heartbeat and no earlier than that deadline (the server's clock may
/// differ from the member's by the clock slack). An alert from before the
/// deadline does not: an honest server fires again at the deadline. A
/// missed-deadline alert for an earlier deadline covers it too when that
/// deadline and the alert both come after the heartbeat: the member
/// shortened the schedule since, and the server rightly held them to it
/// (it fires once, at the shorter deadline).
pub fn alert_covers(pol: &ProofOfLife, fired_at: u64, deadline: Option<u64>) -> bool {
    deadline.is_some_and(|d| d >= pol.deadline || (d >= pol.signed_at && fired_at >= pol.signed_at))
        || (fired_at >= pol.signed_at && fired_at.saturating_add(CLOCK_SLACK) >= pol.deadline)
}

/// Whether the member's deadline has passed, by this proof of life, with
/// nothing to show for it (for a stand-down, the longest any server allows).
pub fn overdue(pol: &ProofOfLife, now: u64) -> bool {
    now > pol.deadline.saturating_add(alarm_slack())
}

/// Whether a "checked in late" notice is backed by a heartbeat the member's
/// device signed after the alert fired and after the deadline it was for:
/// no slack, so a heartbeat from before the alert (which a seized server
/// can always show) never vouches for a notice after it.
pub fn late_checkin_verified(pol: Option<&ProofOfLife>, alert_fired_at: u64, alert_deadline: Option<u64>) -> bool {
    let after = alert_fired_at.max(alert_deadline.unwrap_or(0));
    pol.is_some_and(|p| p.signed_at > after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aman_protocol::SigningKey;

    fn hb(counter: u64, client_time: u64, next_due: u64, grace: u64) -> Heartbeat {
        Heartbeat {
            server: ServerId::from_bytes([1; 16]),
            account: AccountId::from_bytes([2; 16]),
            counter,
            client_time,
            next_due,
            grace,
            sealed_hash: [3; 32],
        }
    }

    #[test]
    fn acceptance_rules() {
        let id = SigningKey::generate().unwrap();
        let member = id.verifying_key();
        let now = 1_000_000;
        let good = hb(5, now, now + 3600, 600).sign(&id);
        let (pol, account) = judge(&member, None, None, None, &good, now).unwrap();
        assert_eq!((pol.counter, pol.deadline, account), (5, now + 4200, AccountId::from_bytes([2; 16])));

        let stranger = SigningKey::generate().unwrap();
        assert!(judge(&member, None, None, None, &hb(6, now, now + 60, 60).sign(&stranger), now).is_err());
        let mut flipped = good.clone();
        flipped[40] ^= 1;
        assert!(judge(&member, None, None, None, &flipped, now).is_err());
        let here = Some(ServerId::from_bytes([1; 16]));
        assert!(judge(&member, None, here, None, &good, now).is_ok());
        let elsewhere = Some(ServerId::from_bytes([7; 16]));
        assert!(judge(&member, None, elsewhere, None, &good, now).is_err(), "another server's heartbeat");
        assert!(judge(&member, Some(AccountId::from_bytes([9; 16])), None, None, &good, now).is_err());
        assert!(judge(&member, None, None, Some(&pol), &good, now).is_err(), "same counter");
        assert!(judge(&member, None, None, Some(&pol), &hb(4, now, now + 90_000, 60).sign(&id), now).is_err(), "older");
        assert!(judge(&member, None, None, None, &hb(6, now + 601, now + 700, 60).sign(&id), now).is_err(), "future");
        let far = hb(6, now, now + MAX_INTERVAL + 1, 60).sign(&id);
        assert!(judge(&member, None, None, None, &far, now).is_err(), "beyond any server's interval");
        assert!(judge(&member, None, None, None, &hb(6, now, now + 60, MAX_GRACE + 1).sign(&id), now).is_err());
        assert!(judge(&member, None, None, Some(&pol), &hb(6, now + 10, now + 100, 60).sign(&id), now).is_ok());
        let leap = hb(5 + MAX_COUNTER_STEP + 1, now, now + 100, 60).sign(&id);
        assert!(judge(&member, None, None, Some(&pol), &leap, now).is_err(), "a leaping counter");
        // A stand-down: nothing due, but trusted no longer than the longest
        // schedule any server accepts; a due time of 0 with a grace is no
        // stand-down, and is refused.
        let (down, _) = judge(&member, None, None, Some(&pol), &hb(6, now, 0, 0).sign(&id), now).unwrap();
        assert!(down.stood_down && !overdue(&down, now + MAX_INTERVAL + MAX_GRACE));
        assert!(overdue(&down, now + MAX_INTERVAL + MAX_GRACE + ALARM_SLACK + 1), "not for ever");
        assert!(judge(&member, None, None, Some(&pol), &hb(6, now, 0, 60).sign(&id), now).is_err());
        assert!(judge(&member, None, None, Some(&down), &hb(7, now, now + 100, 60).sign(&id), now)
            .is_ok_and(|(p, _)| !p.stood_down));
    }

    #[test]
    fn overdue_and_covered() {
        let pol =
            ProofOfLife { counter: 1, signed_at: 100, deadline: 1000, stood_down: false, sealed_hash: String::new() };
        assert!(!overdue(&pol, 1000 + ALARM_SLACK));
        assert!(overdue(&pol, 1001 + ALARM_SLACK));
        assert!(alert_covers(&pol, 1000, None));
        assert!(alert_covers(&pol, 1000 - CLOCK_SLACK, None));
        assert!(alert_covers(&pol, 5, Some(1000)), "the missed alert for this deadline");
        assert!(!alert_covers(&pol, 5, Some(999)), "a missed alert for an earlier deadline");
        assert!(alert_covers(&pol, 600, Some(500)), "the missed alert for a schedule shortened after the heartbeat");
        assert!(!alert_covers(&pol, 600, Some(50)), "a missed alert for a deadline before the heartbeat");
        assert!(!alert_covers(&pol, 1000 - CLOCK_SLACK - 1, None), "an alert from before the deadline");
        assert!(!alert_covers(&pol, 99, None), "an alert from before the heartbeat");
        assert!(late_checkin_verified(Some(&pol), 50, Some(40)));
        assert!(!late_checkin_verified(Some(&pol), 100, None), "signed no later than the alert");
        assert!(!late_checkin_verified(Some(&pol), 50, Some(100)), "signed no later than the deadline");
        assert!(!late_checkin_verified(None, 0, None));
    }
}
