//! The availability soak: honest members check in while junk requests,
//! forged requests naming them, slow connections and held long-polls all
//! come from their own address (as behind a reverse proxy or Tor), with
//! the server's default rate limits. Used by the end-to-end test (a quick
//! run, with assertions) and by `aman-bench --availability-soak SECS` (the
//! full ten-minute run, figures only).

use crate::soak::{percentile, rss_mib};
use crate::{Contact, Member, ServerProcess};
use aman_client::api::{ApiClient, Signer};
use aman_protocol::routes::{self, Route};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The server settings of the siege: the default rate limits (which a test
/// server turns off), and short header and body timeouts.
pub const SIEGE_ENV: &[(&str, &str)] = &[
    ("AMAN_RATE_LIMIT_IP", "600"),
    ("AMAN_RATE_LIMIT_ACCOUNT", "120"),
    ("AMAN_HEADER_TIMEOUT", "5s"),
    ("AMAN_BODY_TIMEOUT", "5s"),
];

/// Honest members, each checking in once a second from a new client (as the
/// `aman` command does) with one contact long-polling.
pub const HONEST: usize = 4;
/// Connections kept sending half a request or half a body.
pub const SLOW: usize = 100;
/// Long-polls each honest member's contact holds.
pub const POLLS_PER_CONTACT: usize = 6;

/// What one siege measured.
#[derive(Debug, Clone)]
pub struct SiegeReport {
    /// Seconds of load.
    pub secs: u64,
    /// Honest check-ins made, and how many of them were refused or failed.
    pub honest_checkins: usize,
    /// See `honest_checkins`.
    pub honest_refused: usize,
    /// The first refusal's error, if any.
    pub first_refusal: Option<String>,
    /// Honest check-in latency, median and 99th percentile (ms).
    pub p50_ms: f64,
    /// See `p50_ms`.
    pub p99_ms: f64,
    /// Junk and forged requests sent, and how many were answered 429.
    pub junk_sent: usize,
    /// See `junk_sent`.
    pub junk_slowed: usize,
    /// Slow connections opened (each is closed by the server, then opened again).
    pub slow_opened: usize,
    /// Long-polls answered, and those cut (shed to make room, or refused).
    pub polls_answered: usize,
    /// See `polls_answered`.
    pub polls_cut: usize,
    /// Server RSS after a quarter of the run (warm), at the end, and at most (MiB).
    pub rss_warm_mib: f64,
    /// See `rss_warm_mib`.
    pub rss_end_mib: f64,
    /// See `rss_warm_mib`.
    pub rss_max_mib: f64,
}

/// Runs the siege for `secs` against `server`, started with [`SIEGE_ENV`]
/// and open registration.
pub async fn siege(server: &ServerProcess, secs: u64) -> anyhow::Result<SiegeReport> {
    let api = ApiClient::new(&server.url, None, Duration::from_secs(30))?;
    let addr = server.url.strip_prefix("http://").unwrap_or(&server.url).to_owned();
    let mut members = Vec::new();
    for _ in 0..HONEST {
        let mut m = Member::new();
        m.register(&api).await?;
        m.add_contact(&api, 1).await?;
        m.checkin(&api, 3600, 600, false).await?;
        members.push(m);
    }
    let victims: Vec<[u8; 16]> = members.iter().map(|m| *m.account.as_bytes()).collect();
    let server_id = members[0].server_id();
    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(Counters::default());
    let mut load = Vec::new();

    // Junk: unauthenticated check-ins and requests signed by a stranger in
    // the members' names, about a hundred a second.
    {
        let (url, stop, counters) = (server.url.clone(), stop.clone(), counters.clone());
        let junk_api = api.clone();
        load.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let forger = aman_protocol::SigningKey::generate().expect("a key");
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let tick = Instant::now();
                let status = if i % 2 == 0 {
                    let sent = http
                        .post(format!("{url}{}", routes::Checkin::PATH))
                        .body("{\"heartbeat\":\"AAAA\"}")
                        .send()
                        .await;
                    sent.map(|r| r.status().as_u16()).unwrap_or(0)
                } else {
                    let signer = Signer { server: server_id, caller: victims[i % victims.len()], key: &forger };
                    match junk_api.call(&routes::GetAccount, &routes::NoBody, &signer).await {
                        Err(aman_client::ClientError::Server { status, .. }) => status,
                        _ => 0,
                    }
                };
                counters.junk_sent.fetch_add(1, Ordering::Relaxed);
                if status == 429 {
                    counters.junk_slowed.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(10).saturating_sub(tick.elapsed())).await;
            }
        }));
    }

    // Slow connections: each sends half a request line or half a body and
    // waits for the server to close it, then comes back.
    for slot in 0..SLOW {
        let (addr, stop, counters) = (addr.clone(), stop.clone(), counters.clone());
        load.push(tokio::spawn(async move {
            let half: &[u8] = if slot % 2 == 0 {
                b"POST /v2/chec"
            } else {
                b"POST /v2/checkin HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"heartbeat\":"
            };
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut socket) = tokio::net::TcpStream::connect(&addr).await else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                counters.slow_opened.fetch_add(1, Ordering::Relaxed);
                let _ = socket.write_all(half).await;
                let mut buf = [0u8; 1024];
                loop {
                    tokio::select! {
                        read = socket.read(&mut buf) => match read {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {}
                        },
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {
                            if stop.load(Ordering::Relaxed) {
                                return;
                            }
                        }
                    }
                }
            }
        }));
    }

    // Long-polls held by the honest members' contacts.
    let contacts: Vec<Arc<Contact>> = members.iter_mut().map(|m| Arc::new(m.contacts.remove(0))).collect();
    for contact in &contacts {
        for _ in 0..POLLS_PER_CONTACT {
            let (contact, stop, counters) = (contact.clone(), stop.clone(), counters.clone());
            let poll_api = api.clone();
            load.push(tokio::spawn(async move {
                let mut since = 0;
                while !stop.load(Ordering::Relaxed) {
                    match contact.poll(&poll_api, since, 10).await {
                        Ok(c) => {
                            since = since.max(c.cursor_ms);
                            counters.polls_answered.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            counters.polls_cut.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
            }));
        }
    }

    // The honest members check in once a second each, from new clients.
    let run = Instant::now();
    let mut honest = Vec::new();
    for mut m in members {
        let (url, stop) = (server.url.clone(), stop.clone());
        honest.push(tokio::spawn(async move {
            let (mut latencies, mut refused, mut first) = (Vec::new(), 0usize, None);
            while !stop.load(Ordering::Relaxed) {
                let tick = Instant::now();
                let fresh = ApiClient::new(&url, None, Duration::from_secs(30)).expect("a client");
                match m.checkin(&fresh, 3600, 600, false).await {
                    Ok(_) => latencies.push(tick.elapsed().as_secs_f64() * 1000.0),
                    Err(e) => {
                        refused += 1;
                        first.get_or_insert_with(|| e.to_string());
                    }
                }
                tokio::time::sleep(Duration::from_secs(1).saturating_sub(tick.elapsed())).await;
            }
            (latencies, refused, first)
        }));
    }
    let (mut rss_warm_mib, mut rss_max_mib) = (f64::NAN, 0.0_f64);
    while run.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss = rss_mib(server.pid());
        rss_max_mib = rss_max_mib.max(rss);
        if rss_warm_mib.is_nan() && run.elapsed() >= Duration::from_secs(secs) / 4 {
            rss_warm_mib = rss;
        }
    }
    let rss_end_mib = rss_mib(server.pid());
    stop.store(true, Ordering::Relaxed);
    let (mut latencies, mut honest_refused, mut first_refusal) = (Vec::new(), 0, None);
    for h in honest {
        let (l, r, f) = h.await?;
        latencies.extend(l);
        honest_refused += r;
        first_refusal = first_refusal.or(f);
    }
    for task in load {
        task.abort();
    }
    latencies.sort_by(f64::total_cmp);
    Ok(SiegeReport {
        secs,
        honest_checkins: latencies.len() + honest_refused,
        honest_refused,
        first_refusal,
        p50_ms: percentile(&latencies, 0.5),
        p99_ms: percentile(&latencies, 0.99),
        junk_sent: counters.junk_sent.load(Ordering::Relaxed),
        junk_slowed: counters.junk_slowed.load(Ordering::Relaxed),
        slow_opened: counters.slow_opened.load(Ordering::Relaxed),
        polls_answered: counters.polls_answered.load(Ordering::Relaxed),
        polls_cut: counters.polls_cut.load(Ordering::Relaxed),
        rss_warm_mib,
        rss_end_mib,
        rss_max_mib,
    })
}

#[derive(Default)]
struct Counters {
    junk_sent: AtomicUsize,
    junk_slowed: AtomicUsize,
    slow_opened: AtomicUsize,
    polls_answered: AtomicUsize,
    polls_cut: AtomicUsize,
}
