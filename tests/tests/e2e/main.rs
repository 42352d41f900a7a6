//! End-to-end scenarios against the real binaries, in one test binary.
//!
//! - `lifecycle`: organizer, member and contacts through the `aman` CLI:
//!   missed check-in, escalation, late check-in, outage, duress, panic.
//! - `crash`: `kill -9` under concurrent load; nothing acknowledged is lost
//!   and every alert reaches its webhook (quick mode here; set
//!   `AMAN_CRASH_CYCLES=50` for the full run); a duress check-in acknowledged
//!   just before a `kill -9` still alerts.
//! - `availability`: junk, forged requests, slow connections, floods and
//!   tarpits from a member's own address do not stop its check-in or panic;
//!   the siege soak; the client's transport rules.
//! - `drills`: a drill through the real path, marked as a drill for the
//!   contacts; its status per contact; a duress check-in kept out of it.
//! - `first_use`: what a new member trips over: nobody linked, a stored
//!   proxy and CA, passphrase rules, notes kept out of shell history.
//! - `first_contact`: channels for every member, a watch that keeps going,
//!   alerts in plain words.
//! - `organizer`: the server's side of first use.
//! - `bad_input`: malformed requests over real HTTP.
//! - `coercion`: every observer's view, normal against duress check-in,
//!   and duress against panic and missed alerts.
//! - `mailboxes`: 2,000 held long-polls and a noisy member against memory
//!   and honest check-in latency (30 s here; `AMAN_MAILBOX_SOAK_SECS` for longer).
//! - `plans`: a member's response plan, sealed with the note, shown to
//!   contacts with every alert.
//! - `proof_of_life`: a server killed or tampered with stops alerting; the
//!   contact client warns from the member's own signed heartbeat.
//! - `ui`: `aman ui` in headless Chromium: a member's check-ins and trip, a
//!   duress check-in's page pixel-identical to a normal one's, a contact's
//!   alert, acknowledgement and the Arabic page; the interface's guard.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod availability;
mod bad_input;
mod coercion;
mod crash;
mod drills;
mod first_contact;
mod first_use;
mod lifecycle;
mod mailboxes;
mod operating;
mod organizer;
mod plans;
mod proof_of_life;
mod reminders;
mod several_servers;
mod trips;
mod ui;

/// Settings for a server that tests can drive quickly.
pub const FAST_SERVER: &[(&str, &str)] = &[
    ("AMAN_MIN_INTERVAL", "1s"),
    ("AMAN_MIN_GRACE", "1s"),
    ("AMAN_ALLOW_PRIVATE_TARGETS", "true"),
    ("AMAN_DELIVERY_BACKOFF", "1s"),
    ("AMAN_DELIVERY_BACKOFF_MAX", "2s"),
    ("AMAN_RATE_LIMIT_IP", "0"),
    ("AMAN_RATE_LIMIT_ACCOUNT", "0"),
    ("AMAN_DISPATCH_DELAY", "1s"),
];

/// FAST_SERVER plus open registration and `extra`.
pub fn server_env<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = FAST_SERVER.to_vec();
    env.push(("AMAN_REGISTRATION", "open"));
    env.extend_from_slice(extra);
    env
}

/// The two cores are all there is. The scenarios that load the machine
/// (the kill -9 load run, the mailbox soak, which measures latency) hold it
/// for writing, so they run alone; every other scenario holds it for
/// reading, so those still run side by side. (An async lock: each test has
/// its own runtime, and the guard is held across its awaits.)
pub static LOAD: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Returns once the clock reads `unix` (seconds) or later: for a test that
/// must be past a deadline it was given, however long its commands took.
pub fn wait_until_unix(unix: u64) {
    while aman_client::api::unix_now() < unix {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// A port that was free a moment ago, for servers that must come back on the same address.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The passphrases the scenarios type (strong enough for `aman`'s rules),
/// as lines for `--passphrase-stdin`.
pub mod pass {
    /// A member's `init`: the normal, then the duress passphrase.
    pub const MEMBER_PASSES: &str = "n0rmal-river-lamp\ndur3ss-cloud-fig\n";
    /// The member's normal passphrase.
    pub const NORMAL: &str = "n0rmal-river-lamp\n";
    /// The member's duress passphrase.
    pub const DURESS: &str = "dur3ss-cloud-fig\n";
    /// Alice, a contact.
    pub const ALICE: &str = "alice-pass-harbor\n";
}

/// What `aman` printed as JSON, after checking it succeeded.
pub fn ok(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// `aman --json ARGS` with `stdin` (passphrase lines), checked and parsed.
pub fn aman_json(home: &std::path::Path, stdin: &str, args: &[&str]) -> serde_json::Value {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    ok(&aman_tests::aman(home, stdin, &full))
}

/// Waits up to `within` for a spawned `aman` (such as `alerts watch
/// --count N`) to stop by itself, stops it otherwise, and returns what it printed.
pub fn finish_within(mut child: std::process::Child, within: std::time::Duration) -> std::process::Output {
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() && start.elapsed() < within {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    child.wait_with_output().unwrap()
}
