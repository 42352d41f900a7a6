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
    /// Run only the backup soak: `aman-server backup --to FILE` back to
    /// back for this many seconds, between a window of as many seconds
    /// before and after, while members check in at --paced-rate (default
    /// 500/s): check-in latency in each window, each backup's time and
    /// size, server RSS and CPU. --quick: 20,000 accounts, else 1,000,000.
    #[arg(long, value_name = "SECS")]
    backup_soak: Option<u64>,
    /// Where the backup soak's backups are written (default: beside the
    /// data directory, on its disk); each is removed once measured.
    #[arg(long, value_name = "DIR")]
    backup_to: Option<std::path::PathBuf>,
    /// Internal: run the bare baseline server on this address and data directory.
    #[arg(long, num_args = 2, value_names = ["ADDR", "DIR"], hide = true)]
    baseline_server: Option<Vec<String>>,
}

/// The allocator aman-server uses: the baseline server (this binary, run
/// as a child) and the load generator run on it too, so the ratio compares
/// what each server does, not which malloc it has.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// The bare baseline, running as a child process on a database in the
/// caller's directory, and the keys of its accounts. Dropping it stops the
/// process; the caller deletes the directory after the whole run (deleting
/// a database of that size stalls the disk for whatever phase comes next).
struct Baseline {
    child: std::process::Child,
    url: String,
    keys: Arc<Vec<SigningKey>>,
}

impl Drop for Baseline {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Baseline {
    fn start(dir: &Path, accounts: usize) -> anyhow::Result<Baseline> {
        use std::io::BufRead;
        let child = std::process::Command::new(std::env::current_exe()?)
            .args(["--baseline-server", "127.0.0.1:0"])
            .arg(dir.join("db"))
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        // Made at once, so that an error below still stops the process.
        let mut baseline = Baseline { child, url: String::new(), keys: Arc::new(Vec::new()) };
        let out = baseline.child.stdout.take().context("stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(out).read_line(&mut line)?;
        let url = line.trim().strip_prefix("baseline listening on ").context("baseline did not start")?;
        baseline.url = format!("{url}/checkin");
        baseline.keys = Arc::new((0..accounts).map(|_| SigningKey::generate()).collect::<Result<_, _>>()?);
        Ok(baseline)
    }

    /// Each account's check-ins `from..from + per`, signed on both cores
    /// (as Aman's are) before any clock starts.
    async fn sign(&self, from: u64, per: usize) -> anyhow::Result<Vec<Vec<Prepared>>> {
        let half = self.keys.len() / 2;
        let sign = |range: std::ops::Range<usize>| {
            let keys = self.keys.clone();
            tokio::task::spawn_blocking(move || {
                keys[range].iter().map(|k| baseline_bodies(k, from, per)).collect::<Vec<_>>()
            })
        };
        let (a, b) = (sign(0..half), sign(half..self.keys.len()));
        let mut queues = a.await?;
        queues.extend(b.await?);
        Ok(queues)
    }
}

/// The baseline driven exactly like the ingest phase: the same accounts,
/// the same number of check-ins each, the same workers and sharding
/// ([`ingest`] itself). Every check-in is a new one: its message carries
/// the account's next counter, as Aman's heartbeat does. (Until session 12
/// each account sent the same message every time, and sled skips an insert
/// whose value equals the stored one, so after its first pass over the
/// accounts the baseline wrote and flushed nothing: it measured axum, one
/// verification and a lookup, not a durable check-in.)
async fn baseline_rate(baseline: &Baseline, workers: usize, secs: u64, per_account: usize) -> anyhow::Result<Phase> {
    let queues = baseline.sign(1, per_account).await?;
    settle().await;
    Ok(ingest(&baseline.url, queues, workers, secs).await)
}

/// One baseline account's check-ins `from..from + count`: public key,
/// signature, and a 150-byte message whose first 8 bytes are the counter.
fn baseline_bodies(key: &SigningKey, from: u64, count: usize) -> Vec<Prepared> {
    (from..from + count as u64)
        .map(|counter| {
            let mut msg = [9u8; 150];
            msg[..8].copy_from_slice(&counter.to_be_bytes());
            let mut body = key.verifying_key().0.to_vec();
            body.extend_from_slice(&key.sign(&msg).0);
            body.extend_from_slice(&msg);
            Prepared { body }
        })
        .collect()
}

/// Before each timed phase: what earlier steps wrote (the million armed
/// deadlines, the other server's check-ins) is put on disk, so that no
/// phase's fsyncs queue behind another's write-back. Until session 13 the
/// baseline's database was also deleted just before the paced phase, and
/// its first two seconds read p99s of 34 and 43 ms against 5–13 ms after.
async fn settle() {
    let _ = tokio::task::spawn_blocking(|| std::process::Command::new("sync").status()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
}

struct Mode {
    armed: usize,
    ingest_accounts: usize,
    ingest_secs: u64,
    /// Check-ins pre-signed per account: half for the ingest phase (and as
    /// many for the baseline), half for the paced phase; enough that neither
    /// closed loop runs out before its time is up on this machine.
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
    per_account: 600,
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
    per_account: 400,
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
/// the store, in the current format, sealed under the key the server will
/// use, each with a stored sealed note of `note_bytes` (none if 0).
fn populate(data: &Path, count: usize, note_bytes: usize) -> anyhow::Result<()> {
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
        if note_bytes > 0 {
            // Never opened (the deadlines are far off): only its size counts.
            ops.push(Op::PutSealed(id, id.as_bytes().iter().copied().cycle().take(note_bytes).collect()));
        }
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

/// Waits until the server's schedule mirror (loaded in the background)
/// holds `armed` deadlines.
async fn wait_schedule_loaded(metrics_addr: &str, armed: usize) -> anyhow::Result<()> {
    let metrics_url = format!("http://{metrics_addr}/metrics");
    loop {
        let text = reqwest::get(&metrics_url).await?.text().await?;
        let armed_now = text
            .lines()
            .find_map(|l| l.strip_prefix("aman_armed_deadlines "))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if armed_now >= armed {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
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
/// What a closed-loop phase did: check-ins answered, seconds taken, and each
/// one's latency in milliseconds (sorted).
struct Phase {
    done: usize,
    elapsed: f64,
    latencies: Vec<f64>,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.done as f64 / self.elapsed
    }
}

/// Closed loop: `workers` connections post each account's check-ins in
/// order until `secs` have passed or every queue is empty. `url` is the
/// check-in route's whole address.
async fn ingest(url: &str, queues: Vec<Vec<Prepared>>, workers: usize, secs: u64) -> Phase {
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
        let (http, url, latencies, done) = (http.clone(), url.to_owned(), latencies.clone(), done.clone());
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
    Phase { done: done.load(Ordering::Relaxed), elapsed, latencies: sorted(lat) }
}

/// An open loop at `rate` check-ins a second for `secs` to `url` (the
/// check-in route's whole address). Its latencies (ms), each with the
/// second of the phase it was due in: a tail that gathers in one second is
/// a stall, one spread over all of them is the server's steady state.
async fn paced(url: &str, queues: Vec<Vec<Prepared>>, rate: usize, secs: u64) -> Vec<(u64, f64)> {
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
        let (http, url) = (http.clone(), url.to_owned());
        set.spawn(async move {
            let waited = due.elapsed().as_secs_f64() * 1000.0;
            let sent = send(&http, &url, p).await.ok();
            drop(permit);
            sent.map(|ms| ((i / rate) as u64, waited + ms))
        });
    }
    let mut lat = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok(Some(sample)) = r {
            lat.push(sample);
        }
    }
    lat
}

/// A paced phase's latencies alone, sorted.
fn latencies(samples: &[(u64, f64)]) -> Vec<f64> {
    sorted(samples.iter().map(|(_, ms)| *ms).collect())
}

/// The p99 of each second of the paced phase.
fn p99_by_second(samples: &[(u64, f64)], secs: u64) -> Vec<f64> {
    (0..secs)
        .map(|s| {
            let second: Vec<(u64, f64)> = samples.iter().filter(|(at, _)| *at == s).copied().collect();
            percentile(&latencies(&second), 0.99)
        })
        .collect()
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
    tokio::task::spawn_blocking(move || populate(&populate_dir, armed, 0)).await??;
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
    wait_schedule_loaded(&metrics_addr, mode.armed).await?;
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

    settle().await;
    say(&format!("ingest: {} workers for {} s…", mode.concurrency, mode.ingest_secs));
    let aman = ingest(&format!("{}{}", server.url, Checkin::PATH), queues, mode.concurrency, mode.ingest_secs).await;
    let ingest_per_s = aman.rate();

    say("baseline: bare axum + Ed25519 + sled group commit…");
    // As many check-ins per account as the ingest phase had (the other
    // half of Aman's is kept for the paced phase).
    let bare_dir = tempfile::tempdir()?;
    let bare_server = Baseline::start(bare_dir.path(), mode.ingest_accounts)?;
    let bare = baseline_rate(&bare_server, mode.concurrency, mode.ingest_secs, mode.per_account / 2).await?;
    let baseline = bare.rate();

    if args.paced_rate.is_none() {
        // Half of what the bare baseline did on this machine, in this run.
        mode.paced_rate = ((baseline / 2.0) as usize).max(1);
    }
    settle().await;
    say(&format!("paced: {} check-ins/s for {} s…", mode.paced_rate, mode.paced_secs));
    let checkin_url = format!("{}{}", server.url, Checkin::PATH);
    let paced_samples = paced(&checkin_url, paced_queues, mode.paced_rate, mode.paced_secs).await;
    let paced_lat = latencies(&paced_samples);
    // The same open loop against the baseline: what this machine's disk
    // and scheduler do to a tail at this rate, whatever the server.
    let want = (mode.paced_rate * mode.paced_secs as usize).div_ceil(mode.ingest_accounts.max(1));
    let bare_queues = bare_server.sign(mode.per_account as u64 + 1, want).await?;
    settle().await;
    say("paced: the same against the baseline…");
    let bare_paced = paced(&bare_server.url, bare_queues, mode.paced_rate, mode.paced_secs).await;
    drop(bare_server);
    let bare_paced_lat = latencies(&bare_paced);

    say("duress timing: normal and duress check-ins, interleaved…");
    let (normal_lat, duress_lat) = duress_timing(&api, 200).await?;

    say(&format!("alert latency: {} deadlines expiring together…", mode.alert_accounts));
    let (mailbox, webhook) = alert_latency(&api, mode.alert_accounts).await?;
    let rss_end = rss_mib(server.pid());
    server.stop();
    drop(bare_dir);

    Ok(json!({
        "mode": if args.quick { "quick" } else { "full" },
        "ingest_per_s": ingest_per_s.round(),
        "ingest_requests": aman.done,
        "ingest_p50_ms": percentile(&aman.latencies, 0.50),
        "ingest_p99_ms": percentile(&aman.latencies, 0.99),
        "ingest_p999_ms": percentile(&aman.latencies, 0.999),
        "verify_per_s_single_core": verify.round(),
        "baseline_per_s": baseline.round(),
        "baseline_requests": bare.done,
        "baseline_p50_ms": percentile(&bare.latencies, 0.50),
        "baseline_p99_ms": percentile(&bare.latencies, 0.99),
        "ingest_vs_baseline": ingest_per_s / baseline,
        "ingest_vs_single_core_verify": ingest_per_s / verify,
        "paced_rate_per_s": mode.paced_rate,
        "paced_requests": paced_lat.len(),
        "paced_p50_ms": percentile(&paced_lat, 0.50),
        "paced_p99_ms": percentile(&paced_lat, 0.99),
        "paced_p99_ms_by_second": p99_by_second(&paced_samples, mode.paced_secs),
        "baseline_paced_p50_ms": percentile(&bare_paced_lat, 0.50),
        "baseline_paced_p99_ms": percentile(&bare_paced_lat, 0.99),
        "baseline_paced_p99_ms_by_second": p99_by_second(&bare_paced, mode.paced_secs),
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

/// `--backup-soak SECS`: what taking backups costs the members. A server
/// with many accounts, each with a sealed note; members check in at a fixed
/// rate; check-in latency is compared across a window before any backup, a
/// window of `aman-server backup --to FILE` runs back to back (the real
/// command against the running server), and a window after.
mod backup_soak {
    use super::*;
    use aman_tests::soak::raise_open_file_limit;
    use std::path::PathBuf;
    use std::process::{Command, Stdio};
    use std::sync::atomic::AtomicBool;

    /// The database and the members checking in.
    struct Size {
        accounts: usize,
        note_bytes: usize,
        members: usize,
    }

    const QUICK: Size = Size { accounts: 20_000, note_bytes: 1_024, members: 1_000 };
    const FULL: Size = Size { accounts: 1_000_000, note_bytes: 1_024, members: 2_000 };

    /// Check-ins per second unless --paced-rate says otherwise.
    const RATE: usize = 500;

    /// Seconds of load before the before-window (connections warming up).
    const WARM_UP: f64 = 2.0;

    /// One check-in: when it was due to be sent (seconds since the load
    /// began), its latency from then (ms), and whether it was accepted.
    #[derive(Debug, Clone, Copy)]
    struct Sample {
        due_s: f64,
        ms: f64,
        ok: bool,
    }

    /// One `aman-server backup` run, in seconds since the load began.
    #[derive(Debug, Clone, Copy)]
    struct BackupRun {
        start: f64,
        /// The first byte reached `FILE.partial`: the server had read the
        /// store and spooled the backup (it sends nothing before).
        first_byte: f64,
        /// The last byte reached it: what follows is the command's fsync
        /// and rename.
        last_byte: f64,
        exit: f64,
        bytes: u64,
        /// The server's RSS just after (MiB).
        rss_mib: f64,
    }

    impl BackupRun {
        fn phase(&self, t: f64) -> Phase {
            if t < self.first_byte {
                Phase::Export
            } else if t <= self.last_byte {
                Phase::Send
            } else if t <= self.exit {
                Phase::Sync
            } else {
                Phase::Exited
            }
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Phase {
        /// The server reads the store, seals and spools it (its export).
        Export,
        /// The server sends the spool; the command writes `FILE.partial`.
        Send,
        /// The command's fsync and rename.
        Sync,
        /// The command has exited (the next one is starting).
        Exited,
    }

    const PHASES: [(Phase, &str); 4] =
        [(Phase::Export, "export"), (Phase::Send, "send"), (Phase::Sync, "sync"), (Phase::Exited, "exited")];

    fn phase_name(phase: Phase) -> &'static str {
        PHASES.iter().find(|(p, _)| *p == phase).map_or("", |(_, n)| n)
    }

    /// The server's CPU time (user + system), in seconds.
    fn cpu_secs(pid: u32) -> f64 {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                // Fields after the command name: state is field 3, utime 14, stime 15.
                let fields: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
                let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
                Some(ticks / 100.0)
            })
            .unwrap_or(f64::NAN)
    }

    /// MiB written to the block device that holds `path`, by anyone (the
    /// server's flushes, its spool's writeback, the command's file),
    /// from `/proc/diskstats`.
    fn device_written_mib(path: &Path) -> f64 {
        use std::os::unix::fs::MetadataExt;
        let Ok(dev) = std::fs::metadata(path).map(|m| m.dev()) else { return f64::NAN };
        let (major, minor) = (rustix::fs::major(dev).to_string(), rustix::fs::minor(dev).to_string());
        std::fs::read_to_string("/proc/diskstats")
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    // major minor name, then reads (4 fields), then writes: sectors written is the 10th.
                    (f.first() == Some(&major.as_str()) && f.get(1) == Some(&minor.as_str()))
                        .then(|| f.get(9).and_then(|v| v.parse::<f64>().ok()))
                        .flatten()
                })
            })
            .map_or(f64::NAN, |sectors| sectors * 512.0 / 1_048_576.0)
    }

    fn dir_bytes(dir: &Path) -> u64 {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
    }

    /// Runs `aman-server --data DATA backup --to FILE` against the running
    /// server, watching `FILE.partial` grow, and removes the backup after.
    fn one_backup(bin: &Path, data: &Path, file: &Path, t0: Instant) -> anyhow::Result<BackupRun> {
        let mut partial = file.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let start = t0.elapsed().as_secs_f64();
        let mut child = Command::new(bin)
            .arg("--data")
            .arg(data)
            .args(["--json", "backup", "--to"])
            .arg(file)
            .env("AMAN_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let (mut first_byte, mut last_byte, mut size) = (None, start, 0u64);
        loop {
            if child.try_wait()?.is_some() {
                break;
            }
            let now_size = std::fs::metadata(&partial).map_or(size, |m| m.len());
            if now_size > size {
                let now = t0.elapsed().as_secs_f64();
                first_byte.get_or_insert(now);
                last_byte = now;
                size = now_size;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let exit = t0.elapsed().as_secs_f64();
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!("aman-server backup failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        let reply: serde_json::Value = serde_json::from_slice(&out.stdout).context("aman-server backup --json")?;
        let bytes = reply["bytes"].as_u64().context("no size in the backup's report")?;
        std::fs::remove_file(file)?;
        Ok(BackupRun { start, first_byte: first_byte.unwrap_or(last_byte), last_byte, exit, bytes, rss_mib: f64::NAN })
    }

    /// Signs check-ins just ahead of the pacer, the members in turn, until
    /// the pacer stops taking them.
    fn produce(mut members: Vec<Member>, tx: tokio::sync::mpsc::Sender<Prepared>) {
        loop {
            for m in members.iter_mut() {
                let body = serde_json::to_vec(&m.next_checkin(3600, 600, false, false)).unwrap_or_default();
                if tx.blocking_send(Prepared { body }).is_err() {
                    return;
                }
            }
        }
    }

    /// Sends check-ins open loop at `rate` until `stop`, at most 1,024 in
    /// flight; each latency counts from the moment it was due to be sent.
    async fn pace(
        url: String,
        rate: usize,
        mut bodies: tokio::sync::mpsc::Receiver<Prepared>,
        stop: Arc<AtomicBool>,
        t0: tokio::time::Instant,
    ) -> anyhow::Result<Vec<Sample>> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
        let url = format!("{url}{}", Checkin::PATH);
        let samples = Arc::new(std::sync::Mutex::new(Vec::new()));
        let slots = Arc::new(tokio::sync::Semaphore::new(1024));
        let mut set = tokio::task::JoinSet::new();
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let due = t0 + Duration::from_secs_f64(i as f64 / rate as f64);
            i += 1;
            tokio::time::sleep_until(due).await;
            let Some(p) = bodies.recv().await else { break };
            let Ok(permit) = slots.clone().acquire_owned().await else { break };
            let (http, url, samples) = (http.clone(), url.clone(), samples.clone());
            set.spawn(async move {
                let sent = http.post(&url).header("content-type", "application/json").body(p.body).send().await;
                let ok = match sent {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                drop(permit);
                let sample = Sample { due_s: (due - t0).as_secs_f64(), ms: due.elapsed().as_secs_f64() * 1000.0, ok };
                samples.lock().unwrap_or_else(|e| e.into_inner()).push(sample);
            });
            while set.try_join_next().is_some() {}
        }
        while set.join_next().await.is_some() {}
        let mut out = std::mem::take(&mut *samples.lock().unwrap_or_else(|e| e.into_inner()));
        out.sort_by(|a, b| a.due_s.total_cmp(&b.due_s));
        Ok(out)
    }

    /// Latency figures of the check-ins due in `[from, to)`.
    fn window(samples: &[Sample], from: f64, to: f64) -> (Vec<f64>, usize) {
        let inside: Vec<&Sample> = samples.iter().filter(|s| s.due_s >= from && s.due_s < to).collect();
        let errors = inside.iter().filter(|s| !s.ok).count();
        (sorted(inside.iter().map(|s| s.ms).collect()), errors)
    }

    fn latency_json(lat: &[f64], errors: usize) -> serde_json::Value {
        json!({
            "checkins": lat.len(),
            "errors": errors,
            "p50_ms": round3(percentile(lat, 0.50)),
            "p99_ms": round3(percentile(lat, 0.99)),
            "p999_ms": round3(percentile(lat, 0.999)),
            "max_ms": round3(lat.last().copied().unwrap_or(f64::NAN)),
        })
    }

    fn round3(x: f64) -> f64 {
        (x * 1000.0).round() / 1000.0
    }

    fn median(v: &[f64]) -> f64 {
        percentile(&sorted(v.to_vec()), 0.5)
    }

    /// Usage sampled once a second: (seconds since the load began, RSS MiB).
    async fn sample_rss(pid: u32, stop: Arc<AtomicBool>, t0: tokio::time::Instant) -> Vec<(f64, f64)> {
        let mut out = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            out.push((t0.elapsed().as_secs_f64(), rss_mib(pid)));
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        out
    }

    pub async fn run(args: &Args, secs: u64) -> anyhow::Result<serde_json::Value> {
        let size = if args.quick { QUICK } else { FULL };
        let rate = args.paced_rate.unwrap_or(RATE).max(1);
        let during_secs = secs.max(1) as f64;
        let side_secs = (during_secs / 2.0).max(5.0);
        let say = |s: &str| {
            if !args.json {
                eprintln!("{s}");
            }
        };
        raise_open_file_limit(4_096).map_err(anyhow::Error::msg)?;
        let bin = aman_tests::binary("aman-server");
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("server");
        say(&format!("writing {} accounts with a {}-byte sealed note each…", size.accounts, size.note_bytes));
        let (populate_dir, accounts, note_bytes) = (data.clone(), size.accounts, size.note_bytes);
        tokio::task::spawn_blocking(move || populate(&populate_dir, accounts, note_bytes)).await??;
        wait_for_db_lock(&data.join("db").join("db")).await?;

        say("starting aman-server…");
        let metrics_addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.to_string();
        let mut env = vec![("AMAN_METRICS_LISTEN", metrics_addr.as_str())];
        env.extend_from_slice(BENCH_SERVER);
        // Each backup's "backup sent" line (its record count) goes to stderr.
        env.push(("AMAN_LOG", "aman_server::admin=info,warn"));
        let server = ServerProcess::start(&data, "127.0.0.1:0", &env);
        let pid = server.pid();
        let api = ApiClient::new(&server.url, None, Duration::from_secs(30))?;
        while api.health().await.is_err() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        wait_schedule_loaded(&metrics_addr, size.accounts).await?;
        say(&format!("registering {} members…", size.members));
        let ms = members(&api, size.members).await?;
        let db_mib = dir_bytes(&data.join("db")) as f64 / 1_048_576.0;

        say(&format!(
            "check-ins at {rate}/s: {side_secs:.0} s before, {during_secs:.0} s of back-to-back backups, {side_secs:.0} s after…"
        ));
        let (tx, rx) = tokio::sync::mpsc::channel(rate.max(64));
        let producer = std::thread::spawn(move || produce(ms, tx));
        let stop = Arc::new(AtomicBool::new(false));
        let t0 = tokio::time::Instant::now();
        let pacer = tokio::spawn(pace(server.url.clone(), rate, rx, stop.clone(), t0));
        let rss_samples = tokio::spawn(sample_rss(pid, stop.clone(), t0));
        let elapsed = || t0.elapsed().as_secs_f64();
        let at = |t: f64| t0 + Duration::from_secs_f64(t);

        tokio::time::sleep_until(at(WARM_UP)).await;
        let (cpu0, written0) = (cpu_secs(pid), device_written_mib(&data));
        tokio::time::sleep_until(at(WARM_UP + side_secs)).await;
        let during_start = elapsed();
        let (cpu1, written1) = (cpu_secs(pid), device_written_mib(&data));
        let backups_dir = tempfile::tempdir_in(args.backup_to.as_deref().unwrap_or(dir.path()))?;
        let backups = backups_dir.path().to_owned();
        let mut runs: Vec<BackupRun> = Vec::new();
        while elapsed() - during_start < during_secs {
            let (bin, data, file) = (bin.clone(), data.clone(), backups.join(format!("{}.aman", runs.len())));
            let t0_std = Instant::now() - t0.elapsed();
            let mut r = tokio::task::spawn_blocking(move || one_backup(&bin, &data, &file, t0_std)).await??;
            r.rss_mib = rss_mib(pid);
            say(&format!(
                "backup {}: {:.2} s ({:.2} s export, {:.2} s send, {:.2} s sync), {:.1} MiB; server RSS {:.0} MiB",
                runs.len() + 1,
                r.exit - r.start,
                r.first_byte - r.start,
                r.last_byte - r.first_byte,
                r.exit - r.last_byte,
                r.bytes as f64 / 1_048_576.0,
                r.rss_mib
            ));
            runs.push(r);
        }
        let during_end = elapsed();
        let (cpu2, written2) = (cpu_secs(pid), device_written_mib(&data));
        tokio::time::sleep_until(at(during_end + side_secs)).await;
        let (cpu3, written3) = (cpu_secs(pid), device_written_mib(&data));
        let rss_end = rss_mib(pid);
        stop.store(true, Ordering::Relaxed);
        let samples = pacer.await??;
        let rss = rss_samples.await?;
        let _ = producer.join();
        server.stop();

        // The three windows, by when each check-in was due.
        let bounds = [
            ("before", WARM_UP, during_start, cpu1 - cpu0, written1 - written0),
            ("during", during_start, during_end, cpu2 - cpu1, written2 - written1),
            ("after", during_end, during_end + side_secs, cpu3 - cpu2, written3 - written2),
        ];
        let mut windows = serde_json::Map::new();
        let mut p = std::collections::HashMap::new();
        for (name, from, to, cpu, written) in bounds {
            let (lat, errors) = window(&samples, from, to);
            let mut w = latency_json(&lat, errors);
            w["secs"] = json!(round3(to - from));
            w["server_cpu_cores"] = json!(round3(cpu / (to - from)));
            w["data_disk_write_mib_per_s"] = json!(round3(written / (to - from)));
            let rss_max = rss.iter().filter(|(t, _)| *t >= from && *t < to).map(|(_, r)| *r).fold(f64::NAN, f64::max);
            w["rss_max_mib"] = json!(rss_max);
            p.insert(name, (percentile(&lat, 0.5), percentile(&lat, 0.99), lat.last().copied().unwrap_or(f64::NAN)));
            windows.insert(name.to_owned(), w);
        }

        // Where in each backup the during-window's check-ins were due.
        let run_of = |t: f64| runs.iter().rposition(|r| r.start <= t).map(|i| (i, runs[i]));
        let mut phases = serde_json::Map::new();
        for (phase, name) in PHASES {
            let lat: Vec<f64> = samples
                .iter()
                .filter(|s| s.due_s >= during_start && s.due_s < during_end)
                .filter(|s| run_of(s.due_s).is_some_and(|(_, r)| r.phase(s.due_s) == phase))
                .map(|s| s.ms)
                .collect();
            let errors = samples
                .iter()
                .filter(|s| s.due_s >= during_start && s.due_s < during_end && !s.ok)
                .filter(|s| run_of(s.due_s).is_some_and(|(_, r)| r.phase(s.due_s) == phase))
                .count();
            phases.insert(name.to_owned(), latency_json(&sorted(lat), errors));
        }
        let mut worst: Vec<&Sample> =
            samples.iter().filter(|s| s.due_s >= during_start && s.due_s < during_end).collect();
        worst.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        let worst: Vec<serde_json::Value> = worst
            .iter()
            .take(5)
            .filter_map(|s| {
                let (i, r) = run_of(s.due_s)?;
                let done = s.due_s + s.ms / 1000.0;
                Some(json!({
                    "due_s": round3(s.due_s),
                    "ms": round3(s.ms),
                    "ok": s.ok,
                    "backup": i + 1,
                    "due_in": phase_name(r.phase(s.due_s)),
                    "done_in": phase_name(r.phase(done)),
                    "done_s_after_sync_start": round3(done - r.last_byte),
                    "done_s_after_exit": round3(done - r.exit),
                }))
            })
            .collect();

        // The slowest check-in due while each backup ran, and the phase of
        // that backup in which it was answered: where the stalls end.
        let worst_of = |r: &BackupRun| {
            samples.iter().filter(|s| s.due_s >= r.start && s.due_s < r.exit).max_by(|a, b| a.ms.total_cmp(&b.ms))
        };
        let mut stalls_end = serde_json::Map::new();
        for (phase, name) in PHASES {
            let n =
                runs.iter().filter(|r| worst_of(r).is_some_and(|s| r.phase(s.due_s + s.ms / 1000.0) == phase)).count();
            stalls_end.insert(name.to_owned(), json!(n));
        }
        // The slowest check-in due in the last second of each export (when
        // the journal closes and its keys are read again under the gate),
        // and when it was answered, from the export's end.
        let export_end = |r: &BackupRun| {
            samples
                .iter()
                .filter(|s| s.due_s >= r.first_byte - 1.0 && s.due_s < r.first_byte)
                .max_by(|a, b| a.ms.total_cmp(&b.ms))
                .map_or((f64::NAN, f64::NAN), |s| (s.ms, s.due_s + s.ms / 1000.0 - r.first_byte))
        };
        let export_ends = sorted(runs.iter().map(|r| export_end(r).0).collect());
        let worst_each = sorted(runs.iter().filter_map(|r| worst_of(r).map(|s| s.ms)).collect());
        let mib = |b: u64| b as f64 / 1_048_576.0;
        let per_run: Vec<serde_json::Value> = runs
            .iter()
            .map(|r| {
                let during_export = samples.iter().filter(|s| s.due_s >= r.start && s.due_s < r.first_byte).count();
                let worst = worst_of(r);
                let (end_ms, end_answered) = export_end(r);
                json!({
                    "export_end_worst_ms": round3(end_ms),
                    "export_end_worst_answered_s_after_export_end": round3(end_answered),
                    "worst_ms": round3(worst.map_or(f64::NAN, |s| s.ms)),
                    "worst_done_in": worst.map_or("", |s| phase_name(r.phase(s.due_s + s.ms / 1000.0))),
                    "total_s": round3(r.exit - r.start),
                    "export_s": round3(r.first_byte - r.start),
                    "send_s": round3(r.last_byte - r.first_byte),
                    "sync_s": round3(r.exit - r.last_byte),
                    "mib": round3(mib(r.bytes)),
                    "rss_after_mib": round3(r.rss_mib),
                    "checkins_during_export": during_export,
                })
            })
            .collect();
        let totals: Vec<f64> = runs.iter().map(|r| r.exit - r.start).collect();
        let exports: Vec<f64> = runs.iter().map(|r| r.first_byte - r.start).collect();
        let backup_mib = runs.last().map_or(f64::NAN, |r| mib(r.bytes));
        let (before, during, after) = (p["before"], p["during"], p["after"]);
        let ratio = |a: f64, b: f64| round3(a / b);
        let rss_start = rss.first().map_or(f64::NAN, |(_, r)| *r);
        let rss_max = rss.iter().map(|(_, r)| *r).fold(f64::NAN, f64::max);
        let v = json!({
            "mode": if args.quick { "backup-soak quick" } else { "backup-soak full" },
            "accounts": size.accounts,
            "note_bytes": size.note_bytes,
            "members_checking_in": size.members,
            "rate_per_s": rate,
            "db_mib": round3(db_mib),
            "windows": windows,
            "p50_during_vs_before": ratio(during.0, before.0),
            "p99_during_vs_before": ratio(during.1, before.1),
            "max_during_vs_before": ratio(during.2, before.2),
            "p99_after_vs_before": ratio(after.1, before.1),
            "backups": runs.len(),
            "backup_mib": round3(backup_mib),
            "backup_s_median": round3(median(&totals)),
            "backup_s_max": round3(totals.iter().copied().fold(f64::NAN, f64::max)),
            "backup_mib_per_s": round3(backup_mib / median(&totals)),
            "export_s_median": round3(median(&exports)),
            "export_mib_per_s": round3(backup_mib / median(&exports)),
            "during_by_phase": phases,
            "worst_per_backup_p50_ms": round3(percentile(&worst_each, 0.5)),
            "worst_per_backup_answered_in": stalls_end,
            "export_end_worst_p50_ms": round3(percentile(&export_ends, 0.5)),
            "export_end_worst_max_ms": round3(export_ends.last().copied().unwrap_or(f64::NAN)),
            "worst_during": worst,
            "each_backup": per_run,
            "rss_start_mib": rss_start,
            "rss_max_mib": rss_max,
            "rss_end_mib": rss_end,
        });
        if !args.json {
            let w = |name: &str| {
                let x = &v["windows"][name];
                format!(
                    "{name:>6}: {} check-ins ({} refused), p50 {} ms, p99 {} ms, max {} ms; server {} cores, RSS max {} MiB; data disk written {} MiB/s",
                    x["checkins"],
                    x["errors"],
                    x["p50_ms"],
                    x["p99_ms"],
                    x["max_ms"],
                    x["server_cpu_cores"],
                    x["rss_max_mib"],
                    x["data_disk_write_mib_per_s"]
                )
            };
            eprintln!("\n{} accounts, database {:.0} MiB, check-ins at {rate}/s", size.accounts, db_mib);
            for name in ["before", "during", "after"] {
                eprintln!("{}", w(name));
            }
            eprintln!(
                "during ÷ before: p50 {}, p99 {}, max {}",
                v["p50_during_vs_before"], v["p99_during_vs_before"], v["max_during_vs_before"]
            );
            eprintln!(
                "slowest check-in of each backup: median {} ms; answered in {}",
                v["worst_per_backup_p50_ms"], v["worst_per_backup_answered_in"]
            );
            eprintln!(
                "slowest check-in due in an export's last second: median {} ms, max {} ms",
                v["export_end_worst_p50_ms"], v["export_end_worst_max_ms"]
            );
            eprintln!(
                "{} backups of {:.1} MiB: median {:.2} s ({:.1} MiB/s), export median {:.2} s ({:.1} MiB/s)",
                runs.len(),
                backup_mib,
                median(&totals),
                backup_mib / median(&totals),
                median(&exports),
                backup_mib / median(&exports)
            );
            for (_, name) in PHASES {
                let x = &v["during_by_phase"][name];
                eprintln!(
                    "  due in {name:>6}: {} check-ins, p99 {} ms, max {} ms",
                    x["checkins"], x["p99_ms"], x["max_ms"]
                );
            }
        }
        Ok(v)
    }
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
    let result = match (args.mailbox_soak, args.availability_soak, args.backup_soak) {
        (Some(secs), _, _) => rt.block_on(soak(secs)),
        (None, Some(secs), _) => rt.block_on(siege(secs)),
        (None, None, Some(secs)) => rt.block_on(backup_soak::run(&args, secs)),
        (None, None, None) => rt.block_on(run(&args)),
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
