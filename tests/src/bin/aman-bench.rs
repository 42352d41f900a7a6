//! `aman-bench`: starts its own `aman-server` and measures, in one run,
//! ingest throughput and latency, this machine's single-core Ed25519 verify
//! rate, alert latency with many deadlines expiring together, and start-up
//! time and memory with many armed deadlines.
//!
//! `cargo run --release -p aman-tests --bin aman-bench -- [--quick] [--json]`

use aman_client::api::{unix_now, ApiClient};
use aman_protocol::api::B64;
use aman_protocol::routes::{Checkin, Route};
use aman_protocol::{AccountId, SigningKey, VerifyingKey};
use aman_server::config::Config;
use aman_server::engine::{seal_live, FORMAT, FORMAT_KEY};
use aman_server::store::{AccountRecord, LiveState, Op, SledStore, Store};
use aman_tests::{Member, Receiver, ServerProcess};
use anyhow::{bail, Context};
use clap::Parser;
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Measure Aman on this machine.
#[derive(Debug, Parser)]
struct Args {
    /// Small sizes; finishes in under two minutes.
    #[arg(long)]
    quick: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Concurrent requests in the ingest phase (default: 64).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Check-ins per second in the paced latency phase (default: half the
    /// baseline's rate measured in the same run).
    #[arg(long)]
    paced_rate: Option<usize>,
    /// Run only the mailbox soak for this many seconds (2,000 held
    /// long-polls, a member changing mailboxes twice a second, an honest
    /// member checking in): server RSS and honest check-in latency.
    #[arg(long, value_name = "SECS")]
    mailbox_soak: Option<u64>,
    /// Run only the availability soak for this many seconds (honest members
    /// checking in among junk, forged requests, slow connections and held
    /// long-polls from their own address, with the default rate limits):
    /// refusals, latency and server RSS.
    #[arg(long, value_name = "SECS")]
    availability_soak: Option<u64>,
    /// Internal: run the bare baseline server on this address and data directory.
    #[arg(long, num_args = 2, value_names = ["ADDR", "DIR"], hide = true)]
    baseline_server: Option<Vec<String>>,
}

/// The bare baseline: axum, one Ed25519 verify, one sled insert, the same
/// group commit. What Aman's ingest is compared against.
mod baseline {
    use aman_protocol::{Signature, VerifyingKey};
    use aman_server::store::commit::GroupCommit;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::StatusCode;
    use std::sync::Arc;

    struct Db {
        tree: sled::Tree,
        commit: GroupCommit,
    }

    async fn checkin(State(db): State<Arc<Db>>, body: Bytes) -> StatusCode {
        if body.len() < 96 {
            return StatusCode::BAD_REQUEST;
        }
        let mut pk = [0u8; 32];
        pk.copy_from_slice(&body[..32]);
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&body[32..96]);
        if VerifyingKey(pk).verify(&body[96..], &Signature(sig)).is_err() {
            return StatusCode::UNAUTHORIZED;
        }
        if db.tree.insert(pk, &body[96..]).is_err() {
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
        match db.commit.ticket().wait().await {
            Ok(()) => StatusCode::OK,
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn serve(addr: &str, dir: &str) -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        rt.block_on(async {
            let db = sled::Config::new().path(dir).cache_capacity(64 * 1024 * 1024).open()?;
            let state = Arc::new(Db { tree: db.open_tree("b")?, commit: GroupCommit::start(db.clone())? });
            let app = axum::Router::new().route("/checkin", axum::routing::post(checkin)).with_state(state);
            let listener = tokio::net::TcpListener::bind(addr).await?;
            println!("baseline listening on http://{}", listener.local_addr()?);
            axum::serve(listener, app).await?;
            anyhow::Ok(())
        })
    }
}

/// Runs the baseline as a child process and drives it like the ingest phase.
async fn baseline_rate(workers: usize, secs: u64, accounts: usize) -> anyhow::Result<f64> {
    use std::io::BufRead;
    let dir = tempfile::tempdir()?;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args(["--baseline-server", "127.0.0.1:0"])
        .arg(dir.path().join("db"))
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    let url = line.trim().strip_prefix("baseline listening on ").context("baseline did not start")?.to_owned();
    let keys: Vec<SigningKey> = (0..accounts).map(|_| SigningKey::generate()).collect::<Result<_, _>>()?;
    let bodies: Vec<Vec<u8>> = keys
        .iter()
        .map(|k| {
            let msg = [9u8; 150];
            let mut b = k.verifying_key().0.to_vec();
            b.extend_from_slice(&k.sign(&msg).0);
            b.extend_from_slice(&msg);
            b
        })
        .collect();
    let http = reqwest::Client::builder().pool_max_idle_per_host(workers).build()?;
    let done = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(bodies);
    let stop_at = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for w in 0..workers {
        let (http, url, done, bodies) = (http.clone(), format!("{url}/checkin"), done.clone(), bodies.clone());
        set.spawn(async move {
            let mut i = w;
            while Instant::now() < stop_at {
                let body = bodies[i % bodies.len()].clone();
                i += workers;
                if let Ok(r) = http.post(&url).body(body).send().await {
                    if r.status().is_success() {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    while set.join_next().await.is_some() {}
    let rate = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    let _ = child.kill();
    let _ = child.wait();
    Ok(rate)
}

struct Mode {
    armed: usize,
    ingest_accounts: usize,
    ingest_secs: u64,
    per_account: usize,
    concurrency: usize,
    paced_rate: usize,
    paced_secs: u64,
    alert_accounts: usize,
    verify_secs: f64,
}

const QUICK: Mode = Mode {
    armed: 20_000,
    ingest_accounts: 256,
    ingest_secs: 5,
    per_account: 300,
    concurrency: 64,
    paced_rate: 2_000,
    paced_secs: 3,
    alert_accounts: 200,
    verify_secs: 0.5,
};

const FULL: Mode = Mode {
    armed: 1_000_000,
    ingest_accounts: 2_048,
    ingest_secs: 20,
    per_account: 300,
    concurrency: 64,
    paced_rate: 5_000,
    paced_secs: 10,
    alert_accounts: 2_000,
    verify_secs: 2.0,
};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

/// One core's Ed25519 verify rate, measured like the server verifies.
fn verify_rate(secs: f64) -> f64 {
    let key = SigningKey::generate().unwrap_or_else(|_| std::process::exit(1));
    let msg = [7u8; 150];
    let sig = key.sign(&msg);
    let vk = key.verifying_key();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        for _ in 0..256 {
            let _ = std::hint::black_box(vk.verify(std::hint::black_box(&msg), &sig));
        }
        n += 256;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Writes `count` accounts with far-future armed deadlines straight into
/// the store, in the current format, sealed under the key the server will use.
fn populate(data: &Path, count: usize) -> anyhow::Result<()> {
    let store = SledStore::open(&data.join("db"))?;
    let config = Config::load(None, Vec::new(), &[("data_dir", data.display().to_string())])?;
    let key = aman_server::serve::checked_key(&config, &store)?;
    store.apply(vec![Op::PutMeta(FORMAT_KEY, vec![FORMAT])])?;
    let now = unix_now();
    let mut ops = Vec::with_capacity(20_000);
    for i in 0..count {
        let id = AccountId::random()?;
        let deadline = now + 30 * 86_400 + i as u64;
        let record = AccountRecord {
            checkin_keys: [VerifyingKey([2; 32]), VerifyingKey([3; 32])],
            duress_tag: B64(vec![0; 32]),
            ..AccountRecord::new(VerifyingKey([1; 32]), B64(Vec::new()), now)
        };
        let live =
            LiveState { counter: 1, next_due: Some(deadline - 60), deadline: Some(deadline), ..LiveState::default() };
        ops.push(Op::PutLive(id, seal_live(&key, &id, &live)?));
        ops.push(Op::PutAccount(id, record));
        if ops.len() >= 20_000 {
            store.apply(std::mem::take(&mut ops))?;
        }
    }
    store.apply(ops)?;
    store.flush()?;
    Ok(())
}

/// Waits until nothing in this process holds sled's lock on `file` any
/// more (the store's flusher thread closes the database after its last
/// flush, which takes a while after writing a million records).
async fn wait_for_db_lock(file: &Path) -> anyhow::Result<()> {
    use rustix::fs::{flock, FlockOperation};
    let start = Instant::now();
    loop {
        let f = std::fs::File::open(file)?;
        if flock(&f, FlockOperation::NonBlockingLockExclusive).is_ok() {
            flock(&f, FlockOperation::Unlock)?;
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(120) {
            bail!("the populated database is still locked");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// A prepared check-in: heartbeat and mode proof, no request signature.
struct Prepared {
    body: Vec<u8>,
}

fn prepare(m: &mut Member, count: usize) -> Vec<Prepared> {
    (0..count)
        .map(|_| Prepared { body: serde_json::to_vec(&m.next_checkin(3600, 600, false, false)).unwrap_or_default() })
        .collect()
}

async fn send(http: &reqwest::Client, url: &str, p: Prepared) -> anyhow::Result<f64> {
    let req = http.post(url).header("content-type", "application/json");
    let start = Instant::now();
    let resp = req.body(p.body).send().await?;
    let status = resp.status();
    let _ = resp.bytes().await?;
    if !status.is_success() {
        bail!("check-in answered {status}");
    }
    Ok(start.elapsed().as_secs_f64() * 1000.0)
}

/// Registers `n` members, each with a first check-in carrying its sealed alert.
async fn members(api: &ApiClient, n: usize) -> anyhow::Result<Vec<Member>> {
    let mut out = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(32) {
        let mut set = tokio::task::JoinSet::new();
        for _ in chunk {
            let api = api.clone();
            set.spawn(async move {
                let mut m = Member::new();
                m.register(&api).await?;
                m.checkin(&api, 3600, 600, false).await?;
                anyhow::Ok(m)
            });
        }
        while let Some(r) = set.join_next().await {
            out.push(r??);
        }
    }
    Ok(out)
}

/// Closed loop: `workers` tasks, each owning a slice of the accounts' queues.
async fn ingest(url: &str, queues: Vec<Vec<Prepared>>, workers: usize, secs: u64) -> (usize, f64, Vec<f64>) {
    let http = reqwest::Client::builder().pool_max_idle_per_host(workers).build().unwrap_or_default();
    let workers = workers.min(queues.len());
    let mut shards: Vec<Vec<std::vec::IntoIter<Prepared>>> = (0..workers).map(|_| Vec::new()).collect();
    for (i, q) in queues.into_iter().enumerate() {
        shards[i % workers].push(q.into_iter());
    }
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicUsize::new(0));
    let stop_at = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for mut shard in shards {
        let (http, url, latencies, done) =
            (http.clone(), format!("{url}{}", Checkin::PATH), latencies.clone(), done.clone());
        set.spawn(async move {
            let mut local = Vec::new();
            'outer: while Instant::now() < stop_at {
                let mut progressed = false;
                for q in shard.iter_mut() {
                    if Instant::now() >= stop_at {
                        break 'outer;
                    }
                    if let Some(p) = q.next() {
                        progressed = true;
                        match send(&http, &url, p).await {
                            Ok(ms) => {
                                local.push(ms);
                                done.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => eprintln!("ingest error: {e}"),
                        }
                    }
                }
                if !progressed {
                    break;
                }
            }
            latencies.lock().await.extend(local);
        });
    }
    while set.join_next().await.is_some() {}
    let elapsed = start.elapsed().as_secs_f64();
    let lat = std::mem::take(&mut *latencies.lock().await);
    (done.load(Ordering::Relaxed), elapsed, sorted(lat))
}

/// Open loop at a fixed rate; latency of each request.
async fn paced(url: &str, queues: Vec<Vec<Prepared>>, rate: usize, secs: u64) -> Vec<f64> {
    let http = reqwest::Client::new();
    let mut all: Vec<Prepared> = Vec::new();
    let mut iters: Vec<_> = queues.into_iter().map(|q| q.into_iter()).collect();
    // Interleave accounts so each account's counters stay in order in time.
    loop {
        let mut any = false;
        for it in iters.iter_mut() {
            if let Some(p) = it.next() {
                all.push(p);
                any = true;
            }
        }
        if !any || all.len() >= rate * secs as usize {
            break;
        }
    }
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = tokio::time::Instant::now();
    let mut set = tokio::task::JoinSet::new();
    // At most this many in flight (a server that cannot keep up must not be
    // buried in connections). Latency counts from the moment a check-in was
    // due to be sent, so time spent waiting for a free slot is counted too.
    let slots = Arc::new(tokio::sync::Semaphore::new(1024));
    for (i, p) in all.into_iter().enumerate() {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due).await;
        let Ok(permit) = slots.clone().acquire_owned().await else { break };
        let (http, url) = (http.clone(), format!("{url}{}", Checkin::PATH));
        set.spawn(async move {
            let waited = due.elapsed().as_secs_f64() * 1000.0;
            let sent = send(&http, &url, p).await.ok();
            drop(permit);
            sent.map(|ms| waited + ms)
        });
    }
    let mut lat = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok(Some(ms)) = r {
            lat.push(ms);
        }
    }
    sorted(lat)
}

/// Latency of normal and duress check-ins, interleaved one at a time, so a
/// network observer's view of the two can be compared.
async fn duress_timing(api: &ApiClient, rounds: usize) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let mut m = Member::new();
    m.register(api).await?;
    m.add_contact(api, 1).await?;
    let (mut normal, mut duress) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for i in 0..rounds * 2 {
        let is_duress = i % 2 == 1;
        let start = Instant::now();
        m.checkin(api, 3600, 600, is_duress).await?;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        if is_duress {
            duress.push(ms)
        } else {
            normal.push(ms)
        }
    }
    Ok((sorted(normal), sorted(duress)))
}

/// `n` members with a webhook each, all deadlines at the same second.
async fn alert_latency(api: &ApiClient, n: usize) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let receiver = Receiver::start("127.0.0.1:0").await?;
    let mut ms = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(32) {
        let mut set = tokio::task::JoinSet::new();
        for _ in chunk {
            let (api, hook) = (api.clone(), format!("{}/hook", receiver.url));
            set.spawn(async move {
                let mut m = Member::new();
                m.register(&api).await?;
                m.add_contact(&api, 1).await?;
                m.contacts[0].add_endpoint(&api, "webhook", &hook).await?;
                anyhow::Ok(m)
            });
        }
        while let Some(r) = set.join_next().await {
            ms.push(r??);
        }
    }
    let due = unix_now() + 5 + (n as u64 / 200);
    for chunk in ms.chunks_mut(32) {
        let mut set = tokio::task::JoinSet::new();
        for m in chunk.iter_mut() {
            let body = m.checkin_until(due, 1, false, true);
            let api = api.clone();
            set.spawn(async move { api.call_unsigned(&Checkin, &body, 1).await });
        }
        while let Some(r) = set.join_next().await {
            r??;
        }
    }
    let deadline_ms = (due + 1) * 1000;
    let hits = receiver.await_hits(Duration::from_secs(120 + n as u64 / 50), |h| h.len() >= n).await;
    if hits.len() < n {
        bail!("only {} of {n} webhooks arrived", hits.len());
    }
    let webhook = sorted(hits.iter().map(|h| h.unix_ms.saturating_sub(deadline_ms) as f64).collect());
    let mut mailbox = Vec::with_capacity(n);
    for m in &ms {
        let contents = m.contacts[0].mailbox(api).await?;
        let first = contents.alerts.first().context("no alert in the mailbox")?;
        mailbox.push(first.updated_ms.saturating_sub(deadline_ms) as f64);
    }
    Ok((sorted(mailbox), webhook))
}

async fn run(args: &Args) -> anyhow::Result<serde_json::Value> {
    let mut mode = if args.quick { QUICK } else { FULL };
    if let Some(c) = args.concurrency {
        mode.concurrency = c.max(1);
    }
    if let Some(r) = args.paced_rate {
        mode.paced_rate = r.max(1);
    }
    // Build (if needed) before anything is timed.
    let _ = aman_tests::binary("aman-server");
    let say = |s: &str| {
        if !args.json {
            eprintln!("{s}");
        }
    };
    say("measuring one core's Ed25519 verify rate…");
    let verify = tokio::task::spawn_blocking(move || verify_rate(mode.verify_secs)).await?;

    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    say(&format!("writing {} armed deadlines…", mode.armed));
    let populate_dir = data.clone();
    let armed = mode.armed;
    tokio::task::spawn_blocking(move || populate(&populate_dir, armed)).await??;
    wait_for_db_lock(&data.join("db").join("db")).await?;

    say("starting aman-server…");
    // Counters are served on their own listener, never on the public one.
    let metrics_addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.to_string();
    let mut env = vec![("AMAN_METRICS_LISTEN", metrics_addr.as_str())];
    env.extend_from_slice(BENCH_SERVER);
    env.extend_from_slice(&[
        ("AMAN_ALLOW_PRIVATE_TARGETS", "true"),
        // The server's own latency: in service every alert also waits out the
        // deliberate random dispatch delay (10-20 s by default).
        ("AMAN_DISPATCH_DELAY", "0s"),
        // The server's start-up line (open and load times) goes to stderr.
        ("AMAN_LOG", "aman_server::serve=info,warn"),
    ]);
    let started = Instant::now();
    let server = ServerProcess::start(&data, "127.0.0.1:0", &env);
    let api = ApiClient::new(&server.url, None, Duration::from_secs(30))?;
    while api.health().await.is_err() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let startup_s = started.elapsed().as_secs_f64();
    // The schedule mirror loads in the background; memory is read once it is full.
    let metrics_url = format!("http://{metrics_addr}/metrics");
    loop {
        let text = reqwest::get(&metrics_url).await?.text().await?;
        let armed_now = text
            .lines()
            .find_map(|l| l.strip_prefix("aman_armed_deadlines "))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if armed_now >= mode.armed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let schedule_loaded_s = started.elapsed().as_secs_f64();
    let rss = rss_mib(server.pid());

    say(&format!("registering {} accounts for ingest…", mode.ingest_accounts));
    let mut ms = members(&api, mode.ingest_accounts).await?;
    say("pre-signing check-ins…");
    let per = mode.per_account;
    let (mut first, mut second): (Vec<Member>, Vec<Member>) = (Vec::new(), Vec::new());
    for (i, m) in ms.drain(..).enumerate() {
        if i % 2 == 0 {
            first.push(m)
        } else {
            second.push(m)
        }
    }
    let a = tokio::task::spawn_blocking(move || first.iter_mut().map(|m| prepare(m, per)).collect::<Vec<_>>());
    let b = tokio::task::spawn_blocking(move || second.iter_mut().map(|m| prepare(m, per)).collect::<Vec<_>>());
    let mut queues = a.await?;
    queues.extend(b.await?);
    let paced_queues: Vec<Vec<Prepared>> = queues.iter_mut().map(|q| q.split_off(q.len() / 2)).collect();

    say(&format!("ingest: {} workers for {} s…", mode.concurrency, mode.ingest_secs));
    let (done, elapsed, lat) = ingest(&server.url, queues, mode.concurrency, mode.ingest_secs).await;
    let ingest_per_s = done as f64 / elapsed;

    say("baseline: bare axum + Ed25519 + sled group commit…");
    let baseline = baseline_rate(mode.concurrency, mode.ingest_secs, mode.ingest_accounts).await?;

    if args.paced_rate.is_none() {
        // Half of what the bare baseline did on this machine, in this run.
        mode.paced_rate = ((baseline / 2.0) as usize).max(1);
    }
    say(&format!("paced: {} check-ins/s for {} s…", mode.paced_rate, mode.paced_secs));
    let paced_lat = paced(&server.url, paced_queues, mode.paced_rate, mode.paced_secs).await;

    say("duress timing: normal and duress check-ins, interleaved…");
    let (normal_lat, duress_lat) = duress_timing(&api, 200).await?;

    say(&format!("alert latency: {} deadlines expiring together…", mode.alert_accounts));
    let (mailbox, webhook) = alert_latency(&api, mode.alert_accounts).await?;
    let rss_end = rss_mib(server.pid());
    server.stop();

    Ok(json!({
        "mode": if args.quick { "quick" } else { "full" },
        "ingest_per_s": ingest_per_s.round(),
        "ingest_requests": done,
        "ingest_p50_ms": percentile(&lat, 0.50),
        "ingest_p99_ms": percentile(&lat, 0.99),
        "ingest_p999_ms": percentile(&lat, 0.999),
        "verify_per_s_single_core": verify.round(),
        "baseline_per_s": baseline.round(),
        "ingest_vs_baseline": ingest_per_s / baseline,
        "ingest_vs_single_core_verify": ingest_per_s / verify,
        "paced_rate_per_s": mode.paced_rate,
        "paced_requests": paced_lat.len(),
        "paced_p50_ms": percentile(&paced_lat, 0.50),
        "paced_p99_ms": percentile(&paced_lat, 0.99),
        "checkin_normal_p50_ms": percentile(&normal_lat, 0.50),
        "checkin_duress_p50_ms": percentile(&duress_lat, 0.50),
        "checkin_normal_p90_ms": percentile(&normal_lat, 0.90),
        "checkin_duress_p90_ms": percentile(&duress_lat, 0.90),
        "alert_deadlines_together": mode.alert_accounts,
        "alert_latency_p50_ms": percentile(&mailbox, 0.50),
        "alert_latency_p99_ms": percentile(&mailbox, 0.99),
        "alert_webhook_p50_ms": percentile(&webhook, 0.50),
        "alert_webhook_p99_ms": percentile(&webhook, 0.99),
        "armed_deadlines": mode.armed,
        "startup_s": startup_s,
        "schedule_loaded_s": schedule_loaded_s,
        "rss_mib": rss,
        "rss_mib_after_run": rss_end,
    }))
}

/// Settings every server the benchmark starts has: open registration,
/// short schedules allowed, no rate limits (the load comes from one address).
const BENCH_SERVER: &[(&str, &str)] = &[
    ("AMAN_REGISTRATION", "open"),
    ("AMAN_MIN_INTERVAL", "1s"),
    ("AMAN_MIN_GRACE", "1s"),
    ("AMAN_RATE_LIMIT_IP", "0"),
    ("AMAN_RATE_LIMIT_ACCOUNT", "0"),
];

/// `--mailbox-soak SECS`: the mailbox soak against a server of its own.
async fn soak(secs: u64) -> anyhow::Result<serde_json::Value> {
    use aman_tests::soak::{mailbox_soak, raise_open_file_limit, SOAK_ENV};
    raise_open_file_limit(4_096).map_err(anyhow::Error::msg)?;
    let dir = tempfile::tempdir()?;
    let metrics_addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.to_string();
    let mut env = vec![("AMAN_METRICS_LISTEN", metrics_addr.as_str()), ("AMAN_DISPATCH_DELAY", "1s")];
    env.extend_from_slice(BENCH_SERVER);
    env.extend_from_slice(SOAK_ENV);
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &env);
    let r = mailbox_soak(&server, &metrics_addr, secs).await?;
    Ok(json!({
        "mailbox_soak_secs": r.secs,
        "held_long_polls_at_end": r.held_at_end,
        "held_long_polls_min": r.held_min,
        "held_long_polls_max": r.held_max,
        "long_polls_refused": r.refusals,
        "noisy_panics": r.panics,
        "honest_checkins": r.checkins,
        "honest_checkin_p50_ms": r.p50_ms,
        "honest_checkin_p99_ms": r.p99_ms,
        "honest_checkin_quiet_p99_ms": r.quiet_p99_ms,
        "rss_start_mib": r.rss_start_mib,
        "rss_peak_mib": r.rss_peak_mib,
    }))
}

/// `--availability-soak SECS`: the siege against a server of its own.
async fn siege(secs: u64) -> anyhow::Result<serde_json::Value> {
    use aman_tests::siege::{siege, SIEGE_ENV};
    use aman_tests::soak::raise_open_file_limit;
    raise_open_file_limit(4_096).map_err(anyhow::Error::msg)?;
    let dir = tempfile::tempdir()?;
    let mut env = vec![("AMAN_REGISTRATION", "open"), ("AMAN_DISPATCH_DELAY", "1s")];
    env.extend_from_slice(SIEGE_ENV);
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &env);
    let r = siege(&server, secs).await?;
    Ok(json!({
        "availability_soak_secs": r.secs,
        "honest_checkins": r.honest_checkins,
        "honest_refused": r.honest_refused,
        "first_refusal": r.first_refusal,
        "honest_checkin_p50_ms": r.p50_ms,
        "honest_checkin_p99_ms": r.p99_ms,
        "junk_sent": r.junk_sent,
        "junk_rate_limited": r.junk_slowed,
        "slow_connections_opened": r.slow_opened,
        "long_polls_answered": r.polls_answered,
        "long_polls_cut": r.polls_cut,
        "rss_warm_mib": r.rss_warm_mib,
        "rss_end_mib": r.rss_end_mib,
        "rss_max_mib": r.rss_max_mib,
    }))
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(b) = &args.baseline_server {
        return match baseline::serve(&b[0], &b[1]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("baseline: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match (args.mailbox_soak, args.availability_soak) {
        (Some(secs), _) => rt.block_on(soak(secs)),
        (None, Some(secs)) => rt.block_on(siege(secs)),
        (None, None) => rt.block_on(run(&args)),
    };
    match result {
        Ok(v) => {
            if args.json {
                println!("{v}");
            } else {
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
