//! The mailbox soak: what holding many long-polls and a noisy member cost
//! a real server. Used by the end-to-end test (30 s, with assertions) and
//! by `aman-bench --mailbox-soak SECS` (the full run, figures only).
//!
//! One member pairs as many mailboxes as the server allows, fills them
//! with 30 panics carrying a maximal note and holds 2,000 long-polls
//! across them; a second member changes its contacts' mailboxes twice a
//! second; an honest member checks in throughout, and its check-in latency
//! is compared with its own quiet latency measured first.

use crate::{Contact, Member, ServerProcess};
use aman_client::api::ApiClient;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Long-polls the attacker holds.
pub const HELD: usize = 2_000;
/// Mailboxes a member may pair (the server's default `max_mailboxes`).
pub const MAILBOXES: usize = 32;

/// The server settings the soak needs on top of a test server's: the
/// waiter caps raised so the 2,000 polls are all held (the point is what
/// holding them costs; the caps are tested in the server's own tests).
pub const SOAK_ENV: &[(&str, &str)] =
    &[("AMAN_MAX_WAITERS_PER_ACCOUNT", "4096"), ("AMAN_MAX_WAITERS_PER_MAILBOX", "128")];

/// What one soak run measured.
#[derive(Debug, Clone)]
pub struct SoakReport {
    /// Seconds of load.
    pub secs: u64,
    /// Honest check-ins during the load.
    pub checkins: usize,
    /// Their median and 99th percentile latency (ms).
    pub p50_ms: f64,
    /// See `p50_ms`.
    pub p99_ms: f64,
    /// The honest member's p99 before any load (ms).
    pub quiet_p99_ms: f64,
    /// Panics the noisy member fired.
    pub panics: usize,
    /// Long-polls the server held at the end (its gauge; lower when the
    /// end falls on the moment the 60 s polls all time out and poll again).
    pub held_at_end: f64,
    /// The fewest and most long-polls held, sampled every second of the load.
    pub held_min: f64,
    /// See `held_min`.
    pub held_max: f64,
    /// Long-polls refused.
    pub refusals: usize,
    /// A 33rd pairing was refused with `too_many_mailboxes`.
    pub pairing_capped: bool,
    /// Server RSS before the load and at its peak (MiB).
    pub rss_start_mib: f64,
    /// See `rss_start_mib`.
    pub rss_peak_mib: f64,
}

/// Resident memory of a process (MiB).
pub fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Lets this process and the servers it starts hold a few thousand sockets.
pub fn raise_open_file_limit(want: u64) -> Result<(), String> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    if limit.current.unwrap_or(u64::MAX) < want {
        let raised = Rlimit { current: Some(want.min(hard)), maximum: limit.maximum };
        setrlimit(Resource::Nofile, raised).map_err(|e| e.to_string())?;
    }
    let now = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    if now < want {
        return Err(format!("the soak needs {want} open files; the hard limit is {hard}"));
    }
    Ok(())
}

/// The server's `aman_mailbox_waiters` gauge, read from its metrics listener.
async fn waiters(metrics_addr: &str) -> f64 {
    let url = format!("http://{metrics_addr}/metrics");
    let Ok(resp) = reqwest::get(&url).await else { return 0.0 };
    let body = resp.text().await.unwrap_or_default();
    body.lines().find_map(|l| l.strip_prefix("aman_mailbox_waiters ")).and_then(|v| v.parse().ok()).unwrap_or(0.0)
}

/// How many alerts a mailbox holds, read page by page.
async fn held_alerts(contact: &Contact, api: &ApiClient) -> anyhow::Result<usize> {
    let (mut since, mut count) = (0, 0);
    loop {
        let page = contact.poll(api, since, 0).await?;
        count += page.alerts.len();
        since = page.cursor_ms;
        if !page.more {
            return Ok(count);
        }
    }
}

/// The `p` quantile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the soak for `secs` against `server`, whose metrics listener is at
/// `metrics_addr` and which was started with [`SOAK_ENV`], open
/// registration and no rate limits.
pub async fn mailbox_soak(server: &ServerProcess, metrics_addr: &str, secs: u64) -> anyhow::Result<SoakReport> {
    let api = ApiClient::new(&server.url, None, Duration::from_secs(90))?;
    let rss_start_mib = rss_mib(server.pid());

    // The attacker: as many mailboxes as it may pair, the 16 it may link
    // linked, a maximal note, 30 panics (so every mailbox it polls holds 30
    // alerts with that note: a poll that kept what it read while waiting
    // would pin them all), and 2,000 long-polls held across the mailboxes.
    let mut attacker = Member::new();
    attacker.register(&api).await?;
    for _ in 0..MAILBOXES {
        attacker.pair_contact(&api, 1).await?;
    }
    let pairing_capped =
        attacker.pair_contact(&api, 1).await.is_err_and(|e| e.to_string().contains("too_many_mailboxes"));
    let mut rest: Vec<Contact> = std::mem::take(&mut attacker.contacts);
    attacker.contacts = rest.drain(..16).collect();
    attacker.link_contacts(&api).await?;
    attacker.reseal(&"x".repeat(aman_protocol::alert::MAX_NOTE_LEN))?;
    attacker.checkin(&api, 3600, 600, false).await?;
    for _ in 0..30 {
        attacker.panic(&api).await?;
    }
    let start = Instant::now();
    while held_alerts(&attacker.contacts[0], &api).await? < 30 {
        anyhow::ensure!(start.elapsed() < Duration::from_secs(30), "the panics were not dispatched");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut polled: Vec<Contact> = std::mem::take(&mut attacker.contacts);
    polled.extend(rest);
    let polled = Arc::new(polled);

    // The honest member, and its check-in latency before any of the load:
    // the baseline of this run on this machine.
    let mut honest = Member::new();
    honest.register(&api).await?;
    honest.add_contact(&api, 1).await?;
    let mut quiet = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        honest.checkin(&api, 3600, 600, false).await?;
        quiet.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    quiet.sort_by(f64::total_cmp);
    let quiet_p99_ms = percentile(&quiet, 0.99);

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
    while waiters(metrics_addr).await < HELD as f64 {
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(60),
            "only {} long-polls held",
            waiters(metrics_addr).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The noisy member: 16 contacts, a panic every half second, so two
    // mailbox changes a second (each dispatched after the delay).
    let mut noisy = Member::new();
    noisy.register(&api).await?;
    for _ in 0..16 {
        noisy.pair_contact(&api, 1).await?;
    }
    noisy.link_contacts(&api).await?;
    let (noisy_stop, noisy_api) = (stop.clone(), api.clone());
    let noise = tokio::spawn(async move {
        let mut fired = 0usize;
        while !noisy_stop.load(Ordering::Relaxed) {
            let tick = Instant::now();
            if noisy.panic(&noisy_api).await.is_ok() {
                fired += 1;
            }
            tokio::time::sleep(Duration::from_millis(500).saturating_sub(tick.elapsed())).await;
        }
        fired
    });

    // The honest member checks in throughout; the server's memory is sampled.
    let mut latencies = Vec::new();
    let mut rss_peak_mib: f64 = 0.0;
    let (mut held_min, mut held_max) = (f64::MAX, 0.0_f64);
    let run = Instant::now();
    let mut sampled = Instant::now();
    while run.elapsed() < Duration::from_secs(secs) {
        let t = Instant::now();
        honest.checkin(&api, 3600, 600, false).await?;
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        rss_peak_mib = rss_peak_mib.max(rss_mib(server.pid()));
        if sampled.elapsed() >= Duration::from_secs(1) {
            let held = waiters(metrics_addr).await;
            (held_min, held_max) = (held_min.min(held), held_max.max(held));
            sampled = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let held_at_end = waiters(metrics_addr).await;
    stop.store(true, Ordering::Relaxed);
    let panics = noise.await?;
    for p in pollers {
        p.abort();
    }
    latencies.sort_by(f64::total_cmp);
    Ok(SoakReport {
        secs,
        checkins: latencies.len(),
        p50_ms: percentile(&latencies, 0.5),
        p99_ms: percentile(&latencies, 0.99),
        quiet_p99_ms,
        panics,
        held_at_end,
        held_min,
        held_max,
        refusals: refusals.load(Ordering::Relaxed),
        pairing_capped,
        rss_start_mib,
        rss_peak_mib,
    })
}
