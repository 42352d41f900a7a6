//! Mailboxes that stay cheap, against the real binary: one member pairs as
//! many mailboxes as the server allows, fills them with 30 panics carrying
//! a maximal note and holds 2,000 long-polls across them, a second member changes its contacts' mailboxes twice a second,
//! and an honest member checks in throughout. The server's memory stays
//! bounded and the honest check-ins stay fast.
//!
//! Quick mode (the default) runs the load for 30 s; set
//! `AMAN_MAILBOX_SOAK_SECS` for a longer run.

use super::server_env;
use aman_client::api::ApiClient;
use aman_tests::{Contact, Member, ServerProcess};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Long-polls the attacker holds.
const HELD: usize = 2_000;
/// Mailboxes a member may pair (the server's default `max_mailboxes`).
const MAILBOXES: usize = 32;

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Lets this process and the server it starts hold a few thousand sockets.
fn raise_open_file_limit(want: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    if limit.current.unwrap_or(u64::MAX) < want {
        let raised = Rlimit { current: Some(want.min(hard)), maximum: limit.maximum };
        setrlimit(Resource::Nofile, raised).unwrap();
    }
    let now = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    assert!(now >= want, "this test needs {want} open files; the hard limit is {hard}");
}

/// The server's `aman_mailbox_waiters` gauge, read from its metrics listener.
async fn waiters(metrics_addr: &str) -> f64 {
    let url = format!("http://{metrics_addr}/metrics");
    let Ok(resp) = reqwest::get(&url).await else { return 0.0 };
    let body = resp.text().await.unwrap_or_default();
    body.lines().find_map(|l| l.strip_prefix("aman_mailbox_waiters ")).and_then(|v| v.parse().ok()).unwrap_or(0.0)
}

/// How many alerts a mailbox holds, read page by page.
async fn held_alerts(contact: &Contact, api: &ApiClient) -> usize {
    let (mut since, mut count) = (0, 0);
    loop {
        let page = contact.poll(api, since, 0).await.unwrap();
        count += page.alerts.len();
        since = page.cursor_ms;
        if !page.more {
            return count;
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_long_polls_and_a_noisy_member_leave_memory_bounded_and_check_ins_fast() {
    raise_open_file_limit(8_192);
    let secs: u64 = std::env::var("AMAN_MAILBOX_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let dir = tempfile::tempdir().unwrap();
    let metrics_addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let env = server_env(&[
        // Caps raised so the 2,000 polls are all held: the point is what
        // holding them costs (the caps themselves are tested in the server's tests).
        ("AMAN_MAX_WAITERS_PER_ACCOUNT", "4096"),
        ("AMAN_MAX_WAITERS_PER_MAILBOX", "128"),
        ("AMAN_METRICS_LISTEN", Box::leak(metrics_addr.clone().into_boxed_str())),
    ]);
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &env);
    let metrics = metrics_addr.as_str();
    let api = ApiClient::new(&server.url, None, Duration::from_secs(90)).unwrap();
    let rss_start = rss_mib(server.pid());

    // The attacker: as many mailboxes as it may pair, the 16 it may link
    // linked, a maximal note, and 2,000 long-polls held across them.
    let mut attacker = Member::new();
    attacker.register(&api).await.unwrap();
    for _ in 0..MAILBOXES {
        attacker.pair_contact(&api, 1).await.unwrap();
    }
    let refused = attacker.pair_contact(&api, 1).await.unwrap_err();
    assert!(refused.to_string().contains("too_many_mailboxes"), "{refused}");
    let mut rest: Vec<Contact> = std::mem::take(&mut attacker.contacts);
    attacker.contacts = rest.drain(..16).collect();
    attacker.link_contacts(&api).await.unwrap();
    attacker.reseal(&"x".repeat(aman_protocol::alert::MAX_NOTE_LEN)).unwrap();
    attacker.checkin(&api, 3600, 600, false).await.unwrap();
    // 30 panics, so every mailbox it polls holds 30 alerts with that note
    // (a poll that kept what it read while waiting would pin them all).
    for _ in 0..30 {
        attacker.panic(&api).await.unwrap();
    }
    let start = Instant::now();
    while held_alerts(&attacker.contacts[0], &api).await < 30 {
        assert!(start.elapsed() < Duration::from_secs(30), "the panics were dispatched");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut polled: Vec<Contact> = std::mem::take(&mut attacker.contacts);
    polled.extend(rest);
    let polled = Arc::new(polled);

    // The honest member, and its check-in latency before any of the load:
    // the baseline of this run on this machine.
    let mut honest = Member::new();
    honest.register(&api).await.unwrap();
    honest.add_contact(&api, 1).await.unwrap();
    let mut quiet = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        honest.checkin(&api, 3600, 600, false).await.unwrap();
        quiet.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    quiet.sort_by(f64::total_cmp);
    let quiet_p99 = percentile(&quiet, 0.99);

    let stop = Arc::new(AtomicBool::new(false));
    let refusals = Arc::new(AtomicUsize::new(0));
    let mut pollers = Vec::new();
    for i in 0..HELD {
        let (api, polled, stop, refusals) = (api.clone(), polled.clone(), stop.clone(), refusals.clone());
        pollers.push(tokio::spawn(async move {
            let contact = &polled[i % polled.len()];
            let mut since = contact.poll(&api, 0, 0).await.map(|c| c.cursor_ms).unwrap_or(0);
            while !stop.load(Ordering::Relaxed) {
                match contact.poll(&api, since, 60).await {
                    Ok(c) => since = since.max(c.cursor_ms),
                    Err(_) => {
                        refusals.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        }));
    }
    let start = Instant::now();
    while waiters(metrics).await < HELD as f64 {
        assert!(start.elapsed() < Duration::from_secs(60), "only {} long-polls held", waiters(metrics).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The noisy member: 16 contacts, a panic every half second, so two
    // mailbox changes a second (each dispatched after the delay).
    let mut noisy = Member::new();
    noisy.register(&api).await.unwrap();
    for _ in 0..16 {
        noisy.pair_contact(&api, 1).await.unwrap();
    }
    noisy.link_contacts(&api).await.unwrap();
    let noisy_stop = stop.clone();
    let noisy_api = api.clone();
    let noise = tokio::spawn(async move {
        let mut fired = 0usize;
        while !noisy_stop.load(Ordering::Relaxed) {
            let tick = Instant::now();
            noisy.panic(&noisy_api).await.unwrap();
            fired += 1;
            tokio::time::sleep(Duration::from_millis(500).saturating_sub(tick.elapsed())).await;
        }
        fired
    });

    // The honest member checks in throughout; the server's memory is sampled.
    let mut latencies = Vec::new();
    let mut rss_peak: f64 = 0.0;
    let run = Instant::now();
    while run.elapsed() < Duration::from_secs(secs) {
        let t = Instant::now();
        honest.checkin(&api, 3600, 600, false).await.unwrap();
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        rss_peak = rss_peak.max(rss_mib(server.pid()));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let held_at_end = waiters(metrics).await;
    stop.store(true, Ordering::Relaxed);
    let fired = noise.await.unwrap();
    for p in pollers {
        p.abort();
    }
    latencies.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    eprintln!(
        "mailbox soak {secs}s: {} check-ins p50 {p50:.1} ms p99 {p99:.1} ms (quiet p99 {quiet_p99:.1} ms); \
         {fired} panics; {held_at_end} polls held; RSS {rss_start:.0} MiB at start, peak {rss_peak:.0} MiB",
        latencies.len()
    );
    assert!(fired as u64 >= secs, "the noisy member kept changing mailboxes: {fired}");
    assert!(held_at_end >= HELD as f64 * 0.95, "the long-polls were held throughout: {held_at_end}");
    assert_eq!(refusals.load(Ordering::Relaxed), 0, "no long-poll was refused");
    assert!(rss_peak < 200.0, "server RSS peaked at {rss_peak:.0} MiB");
    // The target is 50 ms (met by a release build with room to spare, see
    // BENCHMARKS.md); an unoptimised build on a busy machine is held to
    // three times its own quiet p99 instead, measured in this same run.
    let bound = 50.0_f64.max(3.0 * quiet_p99);
    assert!(p99 < bound, "honest check-in p99 {p99:.1} ms under load, quiet p99 {quiet_p99:.1} ms");
    drop(server);
}
