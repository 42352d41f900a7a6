//! Alert delivery with real receivers on 127.0.0.1: a webhook that fails
//! twice, an ntfy-style topic, a real SMTP server (Debian's aiosmtpd), and
//! escalation to a second tier.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aman_protocol::api::{AddEndpoint, EndpointAdded};
use aman_protocol::at_rest::hmac_sha256;
use aman_server::clock::{Clock, ManualClock, SystemClock};
use aman_server::config::{Config, Registration};
use aman_server::delivery::target::{Resolve, Resolving};
use aman_server::serve::{start, start_with_resolver, RunningServer};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use common::{Api, TestContact, TestMember};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A receiver that records every request and answers from a script.
#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    arrived: Arc<Mutex<Vec<Instant>>>,
    script: Arc<Mutex<Vec<u16>>>,
}

impl Receiver {
    async fn start(script: Vec<u16>) -> (Self, String) {
        let r = Receiver { seen: Arc::default(), arrived: Arc::default(), script: Arc::new(Mutex::new(script)) };
        async fn hit(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
            r.seen.lock().unwrap().push((headers, body));
            r.arrived.lock().unwrap().push(Instant::now());
            let mut script = r.script.lock().unwrap();
            let code = if script.is_empty() { 200 } else { script.remove(0) };
            StatusCode::from_u16(code).unwrap()
        }
        let app = Router::new().route("/{*path}", post(hit)).with_state(r.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (r, url)
    }

    fn requests(&self) -> Vec<(HeaderMap, Bytes)> {
        self.seen.lock().unwrap().clone()
    }

    async fn await_count(&self, n: usize, within: Duration) -> Vec<(HeaderMap, Bytes)> {
        let start = Instant::now();
        while self.requests().len() < n && start.elapsed() < within {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.requests()
    }

    /// As `await_count`, counting each delivery once: an attempt the server
    /// sent again (its answer was late on a loaded machine) carries the
    /// same idempotency key and body, and is the same delivery.
    async fn await_distinct(&self, n: usize, within: Duration) -> Vec<(HeaderMap, Bytes)> {
        let distinct = |all: Vec<(HeaderMap, Bytes)>| {
            let mut seen = std::collections::HashSet::new();
            all.into_iter()
                .filter(|(h, body)| {
                    let key = ["idempotency-key", "x-idempotency-key"].map(|k| h.get(k).map(|v| v.as_bytes().to_vec()));
                    seen.insert((key, body.clone()))
                })
                .collect::<Vec<_>>()
        };
        let start = Instant::now();
        while distinct(self.requests()).len() < n && start.elapsed() < within {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        distinct(self.requests())
    }
}

fn config(dir: &Path) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.join("data"),
        registration: Registration::Open,
        min_interval: 1,
        min_grace: 1,
        allow_private_targets: true,
        delivery_backoff: 1,
        escalation_delay: 600,
        rate_limit_ip: 0,
        rate_limit_account: 0,
        dispatch_delay: 0,
        ..Config::default()
    }
}

/// Talks to a running server over real HTTP through the router it serves.
struct Live {
    server: RunningServer,
    clock: Arc<dyn Clock>,
}

impl Api for Live {
    async fn call(&self, req: axum::http::Request<axum::body::Body>) -> (StatusCode, Value) {
        use tower::ServiceExt;
        let router = aman_server::api::app(aman_server::api::AppState::new(self.server.engine.clone()));
        let resp = router.oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    fn now(&self) -> u64 {
        self.clock.now()
    }

    fn info(&self) -> aman_protocol::api::ServerInfo {
        self.server.engine.server_info()
    }
}

impl Live {
    async fn member_with_contacts(&self, tiers: &[u8]) -> TestMember {
        let mut m = self.member().await;
        self.add_contacts(&mut m, tiers).await;
        m
    }

    async fn add_endpoint(&self, c: &TestContact, kind: &str, target: &str) -> EndpointAdded {
        let body = serde_json::to_vec(&AddEndpoint { kind: kind.into(), target: target.into() }).unwrap();
        let req = c.request("POST", "/v1/mailbox/endpoints", body, self.clock.now());
        let (s, b) = self.call(req).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        serde_json::from_value(b).unwrap()
    }

    async fn panic(&self, m: &TestMember) -> String {
        let (s, b) = self.call(m.request("POST", "/v1/panic", Value::Null, self.clock.now())).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b["alert"].as_str().unwrap().to_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_failing_twice_gets_the_alert_with_one_idempotency_key() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let server = start(config(dir.path()), clock.clone()).await.unwrap();
    let live = Live { server, clock };
    let (receiver, url) = Receiver::start(vec![500, 500]).await;
    let m = live.member_with_contacts(&[1]).await;
    let added = live.add_endpoint(&m.contacts[0], "webhook", &format!("{url}/hook")).await;
    let secret = added.secret.expect("a webhook gets a signing secret");
    let alert = live.panic(&m).await;

    let seen = receiver.await_count(3, Duration::from_secs(20)).await;
    assert_eq!(seen.len(), 3, "two failures, then success");
    let keys: Vec<_> = seen.iter().map(|(h, _)| h["idempotency-key"].to_str().unwrap().to_owned()).collect();
    assert!(keys.iter().all(|k| k == &keys[0]), "{keys:?}");
    for (headers, body) in &seen {
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["alert"], alert.as_str());
        assert_eq!(v["idempotency_key"], keys[0].as_str());
        // No reason: a webhook provider must not tell a duress alert from any other.
        let keys_in_body: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys_in_body, ["alert", "event", "idempotency_key", "message", "type"]);
        let expected = format!("sha256={}", data_encoding::HEXLOWER.encode(&hmac_sha256(secret.as_bytes(), body)));
        assert_eq!(headers["x-aman-signature"].to_str().unwrap(), expected);
    }
    // The contact reads the log: two failures and a delivery, and no reason.
    // (The receiver counted the third request before the server read its
    // answer and recorded it: the log is read until it holds three.)
    let c = &m.contacts[0];
    let path = format!("/v1/mailbox/alerts/{alert}/deliveries");
    let started = std::time::Instant::now();
    let webhook = loop {
        let (s, log) = live.call(c.request("GET", &path, Vec::new(), live.clock.now())).await;
        assert_eq!(s, StatusCode::OK);
        let webhook: Vec<_> = log["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["channel"] == "webhook")
            .map(|a| (a["outcome"].clone(), a["detail"].clone()))
            .collect();
        if webhook.len() >= 3 || started.elapsed() > Duration::from_secs(10) {
            break webhook;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(webhook, [("failed".into(), "".into()), ("failed".into(), "".into()), ("delivered".into(), "".into())]);
    // Nothing left in the outbox but the re-notification `renotify_interval` on.
    assert_eq!(live.server.engine.store.stats().unwrap().deliveries_pending, 1);
    live.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ntfy_publish_matches_the_documented_format_and_a_4xx_is_permanent() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let live = Live { server: start(config(dir.path()), clock.clone()).await.unwrap(), clock };
    let (ntfy, url) = Receiver::start(vec![]).await;
    let (gone, gone_url) = Receiver::start(vec![410]).await;
    let m = live.member_with_contacts(&[1]).await;
    assert!(live.add_endpoint(&m.contacts[0], "ntfy", &format!("{url}/aman-topic-x7")).await.secret.is_none());
    live.add_endpoint(&m.contacts[0], "webhook", &format!("{gone_url}/gone")).await;
    live.panic(&m).await;
    let seen = ntfy.await_count(1, Duration::from_secs(20)).await;
    assert_eq!(seen.len(), 1);
    let (headers, body) = &seen[0];
    // ntfy publishing: POST the message as the body to the topic URL; title,
    // priority and tags as headers.
    assert_eq!(headers["title"], "Aman");
    // 5 ("max"): the priority that breaks through Android's Do Not Disturb.
    assert_eq!(headers["priority"], "5");
    assert_eq!(headers["tags"], "rotating_light");
    assert_eq!(
        std::str::from_utf8(body).unwrap(),
        "Aman needs your attention: an alert or news about someone you protect is waiting. Open Aman and run `aman alerts`."
    );
    // The 410 receiver is tried once and never again.
    assert_eq!(gone.await_count(1, Duration::from_secs(20)).await.len(), 1);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(gone.requests().len(), 1);
    live.server.shutdown().await.unwrap();
}

/// Ends a child process however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn system_python() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|p| {
        std::process::Command::new(p).args(["-c", "import aiosmtpd"]).output().is_ok_and(|o| o.status.success())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_reaches_a_real_smtp_server_and_carries_no_content() {
    let python = system_python().expect("python3-aiosmtpd is required (.ci/run installs it)");
    let maildir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _smtp = KillOnDrop(
        std::process::Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("mail"))
            .spawn()
            .unwrap(),
    );
    let start_wait = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && start_wait.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
    cfg.smtp_from = "alerts@aman.test".into();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let live = Live { server: start(cfg, clock.clone()).await.unwrap(), clock };
    let mut m = live.member_with_contacts(&[1]).await;
    m.reseal("NOTE-SHOULD-NOT-LEAK", live.clock.now());
    let body = json!({ "sealed_alert": aman_protocol::api::B64(m.sealed.clone()) });
    let (s, _) = live.call(m.request("POST", "/v1/panic", body, live.clock.now())).await;
    assert_eq!(s, StatusCode::OK);
    live.add_endpoint(&m.contacts[0], "email", "contact@example.org").await;
    // Endpoints added after the alert fired get later alerts; fire one more.
    live.panic(&m).await;
    let new_dir = maildir.path().join("mail").join("new");
    let start_wait = Instant::now();
    let mail = loop {
        let found = std::fs::read_dir(&new_dir).ok().and_then(|mut d| d.next()).and_then(|e| e.ok());
        if let Some(entry) = found {
            break std::fs::read_to_string(entry.path()).unwrap();
        }
        assert!(start_wait.elapsed() < Duration::from_secs(20), "no e-mail arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(mail.contains("To: contact@example.org"), "{mail}");
    assert!(mail.contains("Subject: Aman needs your attention"), "{mail}");
    assert!(mail.contains("aman alerts"));
    for leak in ["NOTE-SHOULD-NOT-LEAK", "here", "panic", &m.account.to_string()] {
        assert!(!mail.contains(leak), "e-mail contains {leak}");
    }
    live.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tier_two_hears_nothing_when_tier_one_acknowledges_and_everything_when_not() {
    let dir = tempfile::tempdir().unwrap();
    let manual = Arc::new(ManualClock::at(SystemClock.now()));
    let clock: Arc<dyn Clock> = manual.clone();
    let live = Live { server: start(config(dir.path()), clock.clone()).await.unwrap(), clock };
    let (tier1, url1) = Receiver::start(vec![]).await;
    let (tier2, url2) = Receiver::start(vec![]).await;
    let m = live.member_with_contacts(&[1, 2]).await;
    live.add_endpoint(&m.contacts[0], "webhook", &format!("{url1}/t1")).await;
    live.add_endpoint(&m.contacts[1], "webhook", &format!("{url2}/t2")).await;

    // Acknowledged in time: tier 2 gets nothing.
    let acked = live.panic(&m).await;
    assert_eq!(tier1.await_count(1, Duration::from_secs(20)).await.len(), 1);
    let c0 = &m.contacts[0];
    let path = format!("/v1/mailbox/alerts/{acked}/ack");
    let (s, _) = live.call(c0.request("POST", &path, Vec::new(), live.clock.now())).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    manual.advance(601);
    live.server.engine.tick(manual.now());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(tier2.requests().is_empty(), "tier 2 must not hear of an acknowledged alert");

    // Nobody acknowledges: tier 2 is told after the delay.
    let unacked = live.panic(&m).await;
    assert_eq!(tier1.await_count(2, Duration::from_secs(20)).await.len(), 2);
    manual.advance(599);
    live.server.engine.tick(manual.now());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(tier2.requests().is_empty(), "not before the delay");
    manual.advance(2);
    assert_eq!(live.server.engine.tick(manual.now()).escalated.len(), 1);
    let seen = tier2.await_count(1, Duration::from_secs(20)).await;
    assert_eq!(seen.len(), 1);
    let v: Value = serde_json::from_slice(&seen[0].1).unwrap();
    assert_eq!(v["alert"], unacked.as_str());
    live.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_sled_files_hold_no_notification_address_in_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // E-mail channels need a relay (none listens there: nothing is sent).
    let cfg = Config { smtp_url: Some("smtp://127.0.0.1:9".into()), ..config(dir.path()) };
    let live = Live { server: start(cfg, clock.clone()).await.unwrap(), clock };
    let m = live.member_with_contacts(&[1]).await;
    live.add_endpoint(&m.contacts[0], "email", "hidden.person@example.org").await;
    live.add_endpoint(&m.contacts[0], "ntfy", "http://127.0.0.1:9/secret-topic-name").await;
    live.server.shutdown().await.unwrap();
    let mut files = vec![dir.path().join("data").join("db")];
    let mut bytes = Vec::new();
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            bytes.extend(std::fs::read(&p).unwrap());
        }
    }
    assert!(bytes.len() > 1000, "the database was written");
    for needle in ["hidden.person", "example.org", "secret-topic-name", "127.0.0.1:9"] {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()), "database contains {needle}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_targets_are_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.allow_private_targets = false;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let live = Live { server: start(cfg, clock.clone()).await.unwrap(), clock };
    let m = live.member_with_contacts(&[1]).await;
    let c = &m.contacts[0];
    for target in [
        "https://127.0.0.1:8080/x",
        "https://10.0.0.5/x",
        "https://[::1]/x",
        "https://192.168.1.1/",
        "https://[64:ff9b::a00:1]/x",
        "https://[2002:a00:1::1]/x",
        "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x",
        "https://240.0.0.1/x",
    ] {
        let body = serde_json::to_vec(&AddEndpoint { kind: "webhook".into(), target: target.into() }).unwrap();
        let req = c.request("POST", "/v1/mailbox/endpoints", body, live.clock.now());
        let (s, b) = live.call(req).await;
        assert_eq!((s, b["code"].as_str()), (StatusCode::BAD_REQUEST, Some("private_target")), "{target}");
    }
    // Plain http:// is refused for any target unless the organizer allowed private ones.
    for target in ["http://127.0.0.1:8080/x", "http://93.184.215.14/x"] {
        let body = serde_json::to_vec(&AddEndpoint { kind: "ntfy".into(), target: target.into() }).unwrap();
        let req = c.request("POST", "/v1/mailbox/endpoints", body, live.clock.now());
        let (s, b) = live.call(req).await;
        assert_eq!((s, b["code"].as_str()), (StatusCode::BAD_REQUEST, Some("insecure_target")), "{target}");
    }
    // Public targets on ports other than 80 and 443 are refused: the server
    // is nobody's port scanner.
    let body = serde_json::to_vec(&AddEndpoint { kind: "webhook".into(), target: "https://93.184.215.14:22/".into() })
        .unwrap();
    let (s, b) = live.call(c.request("POST", "/v1/mailbox/endpoints", body, live.clock.now())).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::BAD_REQUEST, Some("target_port")));
    live.server.shutdown().await.unwrap();
}

/// Answers a public address the first `public_for` times it is asked, then
/// 127.0.0.1: a DNS-rebinding attacker's name server.
#[derive(Debug)]
struct Rebinding {
    public_for: usize,
    calls: std::sync::atomic::AtomicUsize,
}

impl Resolve for Rebinding {
    fn resolve<'a>(&'a self, _host: &'a str) -> Resolving<'a> {
        let call = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let ip = if call < self.public_for { "93.184.215.14" } else { "127.0.0.1" };
        Box::pin(async move { Ok(vec![ip.parse().unwrap()]) })
    }
}

/// Counts the TCP connections made to it (it never answers).
async fn connection_counter() -> (Arc<std::sync::atomic::AtomicUsize>, u16) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counting = count.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counting.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(socket);
        }
    });
    (count, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_rebinds_to_loopback_is_never_connected_to() {
    let (connections, port) = connection_counter().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.allow_private_targets = false;
    cfg.target_ports = vec![port];
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // Public when the endpoint is added and for the first attempt; loopback after.
    let resolver = Arc::new(Rebinding { public_for: 2, calls: Default::default() });
    let server = start_with_resolver(cfg, clock.clone(), resolver.clone()).await.unwrap();
    let live = Live { server, clock };
    let m = live.member_with_contacts(&[1]).await;
    let c = &m.contacts[0];
    // `localhost`: a connection that looked the name up again itself (in
    // the system's resolver) would reach the counter.
    let target = format!("https://localhost:{port}/hook");
    let body = serde_json::to_vec(&AddEndpoint { kind: "webhook".into(), target }).unwrap();
    let mut state = aman_server::api::AppState::new(live.server.engine.clone());
    state.resolver = resolver.clone();
    let added = {
        use tower::ServiceExt;
        let req = c.request("POST", "/v1/mailbox/endpoints", body, live.clock.now());
        aman_server::api::app(state).oneshot(req).await.unwrap()
    };
    assert_eq!(added.status(), StatusCode::CREATED);
    let alert = live.panic(&m).await;

    // The first attempt goes to the public address it vetted (unreachable
    // here); the retry's look-up answers 127.0.0.1, which is refused.
    let path = format!("/v1/mailbox/alerts/{alert}/deliveries");
    let started = Instant::now();
    let log = loop {
        // 404 until the alert is placed in the contact's mailbox.
        let (_, log) = live.call(c.request("GET", &path, Vec::new(), live.clock.now())).await;
        let attempts = log["attempts"].as_array().cloned().unwrap_or_default();
        let webhook: Vec<Value> = attempts.into_iter().filter(|a| a["channel"] == "webhook").collect();
        if webhook.len() >= 2 || started.elapsed() > Duration::from_secs(30) {
            break webhook;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(log.len() >= 2, "two attempts were made: {log:?}");
    assert!(log.iter().all(|a| a["outcome"] == "failed" && a["detail"] == ""), "{log:?}");
    assert!(resolver.calls.load(std::sync::atomic::Ordering::SeqCst) >= 3);
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing ever connected to 127.0.0.1");
    live.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_connects_to_the_vetted_address_and_looks_nothing_up() {
    let (receiver, url) = Receiver::start(vec![]).await;
    let port = url.rsplit(':').next().unwrap();
    let sender = aman_server::delivery::http::HttpSender::new().unwrap();
    // The name does not resolve anywhere: only the pinned address is used.
    let vetted = [format!("127.0.0.1:{port}").parse().unwrap()];
    let status = sender.post_to(&format!("http://name.invalid:{port}/hook"), &vetted, &[], b"{}".to_vec()).await;
    assert_eq!(status.unwrap(), 200);
    assert_eq!(receiver.requests().len(), 1);
}

/// A webhook or ntfy request with what varies from one notification to
/// the next masked: the id, the idempotency key and the signature over them.
fn masked(headers: &HeaderMap, body: &Bytes) -> (Vec<(String, String)>, String) {
    let mut text = String::from_utf8(body.to_vec()).unwrap();
    let mut headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            let v = v.to_str().unwrap().to_owned();
            let v = match k.as_str() {
                "idempotency-key" | "x-idempotency-key" | "x-aman-signature" => format!("<{} bytes>", v.len()),
                _ => v,
            };
            (k.as_str().to_owned(), v)
        })
        .collect();
    headers.sort();
    if let Ok(Value::Object(v)) = serde_json::from_str::<Value>(&text) {
        for key in ["alert", "idempotency_key"] {
            let value = v[key].as_str().unwrap();
            assert_eq!(value.len(), 32, "{key}: {value}");
            text = text.replace(value, "<32 bytes>");
        }
    }
    (headers, text)
}

/// Issue 16: a notice (a captor links a contact of their own, then weakens
/// the schedule) wakes every contact on every channel, in the same bytes as
/// an alert's wake-up but for its random id: nobody who sees the
/// notification can tell which it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weakening_change_and_a_new_contact_wake_every_contact_exactly_as_an_alert_does() {
    let python = system_python().expect("python3-aiosmtpd is required (.ci/run installs it)");
    let maildir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _smtp = KillOnDrop(
        std::process::Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("mail"))
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mails = || -> Vec<String> {
        let dir = maildir.path().join("mail").join("new");
        let mut paths: Vec<_> =
            std::fs::read_dir(dir).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
        paths.sort_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap());
        paths.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config { smtp_url: Some(format!("smtp://127.0.0.1:{port}")), ..config(dir.path()) };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let live = Live { server: start(cfg, clock.clone()).await.unwrap(), clock };
    let (webhook, url) = Receiver::start(vec![]).await;
    let (ntfy, ntfy_url) = Receiver::start(vec![]).await;
    let mut m = live.member_with_contacts(&[1]).await;
    live.add_endpoint(&m.contacts[0], "webhook", &format!("{url}/hook")).await;
    live.add_endpoint(&m.contacts[0], "ntfy", &format!("{ntfy_url}/topic")).await;
    live.add_endpoint(&m.contacts[0], "email", "contact@example.org").await;
    // A captor links a contact of their own: the existing contact hears of it.
    live.pair_contact(&mut m, 1).await;
    live.link_contacts(&mut m).await;
    assert_eq!(webhook.await_distinct(1, Duration::from_secs(20)).await.len(), 1);
    assert_eq!(ntfy.await_distinct(1, Duration::from_secs(20)).await.len(), 1);
    // And of a weakening change.
    let mut policy = live.policy_of(&m).await;
    policy.paused = true;
    let (s, _) = live
        .call(m.request("PUT", "/v1/account/policy", serde_json::to_value(&policy).unwrap(), live.clock.now()))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(webhook.await_distinct(2, Duration::from_secs(20)).await.len(), 2);
    assert_eq!(ntfy.await_distinct(2, Duration::from_secs(20)).await.len(), 2);
    // Then an alert.
    let alert = live.panic(&m).await;
    let hooks = webhook.await_distinct(3, Duration::from_secs(20)).await;
    let topics = ntfy.await_distinct(3, Duration::from_secs(20)).await;
    assert_eq!((hooks.len(), topics.len()), (3, 3));
    let alert_hook = hooks.iter().position(|(_, b)| String::from_utf8_lossy(b).contains(&alert)).unwrap();
    assert_eq!(alert_hook, 2, "the alert came last");
    let hooks: Vec<_> = hooks.iter().map(|(h, b)| masked(h, b)).collect();
    let topics: Vec<_> = topics.iter().map(|(h, b)| masked(h, b)).collect();
    for notice in 0..2 {
        assert_eq!(hooks[notice], hooks[2], "webhook: a notice reads as an alert");
        assert_eq!(topics[notice], topics[2], "ntfy: a notice reads as an alert");
    }
    let v: Value = serde_json::from_str(&hooks[0].1).unwrap();
    assert_eq!(v["event"], "alert");
    // E-mail: the same subject and words (only the Message-ID and the date
    // differ, and the receiving side's note of the connection's port).
    let started = Instant::now();
    while mails().len() < 3 && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mails: Vec<String> = mails()
        .iter()
        .map(|m| {
            let varying = ["Message-ID:", "Date:", "X-Peer:"];
            m.lines().filter(|l| !varying.iter().any(|v| l.starts_with(v))).collect::<Vec<_>>().join("\n")
        })
        .collect();
    assert_eq!(mails.len(), 3);
    assert!(mails[0] == mails[1] && mails[1] == mails[2], "{mails:#?}");
    for word in ["contact_linked", "policy_weakening", "notice", "changed", "paused"] {
        assert!(!hooks[0].1.contains(word) && !topics[0].1.contains(word), "{word}");
    }
    // Each recorded as delivered (the record follows the receiver's answer),
    // leaving only the alert's next re-notification on each channel (a
    // notice is not repeated).
    let started = Instant::now();
    while live.server.engine.store.stats().unwrap().deliveries_pending > 3
        && started.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(live.server.engine.store.stats().unwrap().deliveries_pending, 3);
    live.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_are_served_on_the_metrics_listener_only() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    async fn get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        out
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let server = start(cfg, clock).await.unwrap();
    let metrics = server.metrics_addr.expect("a metrics listener");
    assert_ne!(metrics, server.addr);
    let scraped = get(metrics, "/metrics").await;
    assert!(scraped.starts_with("HTTP/1.1 200") && scraped.contains("aman_alerts_fired_total"), "{scraped}");
    assert!(get(server.addr, "/metrics").await.starts_with("HTTP/1.1 404"));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_different_server_key_stops_the_server_from_starting() {
    // A store that was just closed lets go of its lock a moment later;
    // `SledStore::open` waits for that.
    async fn start_again(cfg: &Config, clock: &Arc<dyn Clock>) -> Result<RunningServer, String> {
        start(cfg.clone(), clock.clone()).await.map_err(|e| e.to_string())
    }
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let cfg = config(dir.path());
    let key_file = cfg.key_file();
    assert!(!key_file.starts_with(&cfg.data_dir), "the key lives outside the data directory");
    start(cfg.clone(), clock.clone()).await.unwrap().shutdown().await.unwrap();
    let good = std::fs::read(&key_file).unwrap();
    // Lost (a tmpfs that was not restored): refused, and no new key is made.
    std::fs::remove_file(&key_file).unwrap();
    let err = start_again(&cfg, &clock).await.unwrap_err();
    assert!(err.contains("is missing"), "{err}");
    assert!(!key_file.exists());
    // Another key: refused.
    std::fs::write(&key_file, [7u8; 32]).unwrap();
    let err = start_again(&cfg, &clock).await.unwrap_err();
    assert!(err.contains("not the key"), "{err}");
    // The right one again: it starts.
    std::fs::write(&key_file, good).unwrap();
    start_again(&cfg, &clock).await.unwrap().shutdown().await.unwrap();
}

/// Accepts connections and never answers: each attempt to it holds its
/// place until the attempt times out.
async fn tarpit() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

/// Member A's contacts have `per_contact` webhooks each that accept and
/// never answer, and A panics `panics` times; then member B checks in under
/// duress. Returns how long B's contact waited for its notification.
async fn tarpits_then_duress(contacts: usize, per_contact: usize, panics: usize) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let live = Live { server: start(config(dir.path()), clock.clone()).await.unwrap(), clock };
    let a = live.member_with_contacts(&vec![1; contacts]).await;
    for contact in &a.contacts {
        for _ in 0..per_contact {
            live.add_endpoint(contact, "webhook", &format!("{}/slow", tarpit().await)).await;
        }
    }
    let mut b = live.member_with_contacts(&[1]).await;
    let (receiver, url) = Receiver::start(vec![]).await;
    live.add_endpoint(&b.contacts[0], "webhook", &format!("{url}/b")).await;
    for _ in 0..panics {
        live.panic(&a).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await; // A's attempts are under way
    let started = Instant::now();
    let (s, _) = live.call(b.checkin_request(true, 3600, 600, live.clock.now())).await;
    assert_eq!(s, StatusCode::OK);
    let seen = receiver.await_count(1, Duration::from_secs(60)).await;
    let waited = started.elapsed();
    assert_eq!(seen.len(), 1, "B's contact was told");
    live.server.shutdown().await.unwrap();
    waited
}

/// 8 tarpit webhooks and 30 panics: 240 notifications that each hang for
/// the whole attempt timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_members_tarpits_do_not_delay_another_members_duress_alert() {
    let waited = tarpits_then_duress(4, 2, 30).await;
    assert!(waited < Duration::from_secs(5), "B's alert waited {waited:?} behind A's tarpits");
}

/// 32 tarpit webhooks and 130 panics: a backlog longer than one pass of the
/// worker looks at (4,160 entries, all due before B's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_longer_than_a_scan_does_not_hide_another_members_alert() {
    let waited = tarpits_then_duress(4, 8, 130).await;
    assert!(waited < Duration::from_secs(5), "B's alert waited {waited:?} behind A's backlog");
}

/// The (arrival, webhook body) of every request `r` received.
fn arrivals(r: &Receiver) -> Vec<(Instant, Value)> {
    let times = r.arrived.lock().unwrap().clone();
    r.requests()
        .iter()
        .zip(times)
        .map(|((_, body), at)| (at, serde_json::from_slice(body).unwrap_or(Value::Null)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_is_notified_again_every_interval_until_a_contact_acknowledges() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let cfg = Config { renotify_interval: 2, ..config(dir.path()) };
    let live = Live { server: start(cfg, clock.clone()).await.unwrap(), clock };
    let (hook0, url0) = Receiver::start(vec![]).await;
    let (hook1, url1) = Receiver::start(vec![]).await;
    let (ntfy, ntfy_url) = Receiver::start(vec![]).await;
    let m = live.member_with_contacts(&[1, 1]).await;
    live.add_endpoint(&m.contacts[0], "webhook", &format!("{url0}/c0")).await;
    live.add_endpoint(&m.contacts[0], "ntfy", &format!("{ntfy_url}/topic")).await;
    live.add_endpoint(&m.contacts[1], "webhook", &format!("{url1}/c1")).await;
    let alert = live.panic(&m).await;

    // Three notifications on every channel, two seconds apart, each under a
    // new idempotency key and otherwise the same. (At least three: on a
    // loaded machine a fourth may land before the last channel is looked
    // at; the gaps below are checked between every two that arrived.)
    for r in [&hook0, &hook1, &ntfy] {
        assert!(r.await_count(3, Duration::from_secs(20)).await.len() >= 3);
    }
    let seen = arrivals(&hook0);
    for pair in seen.windows(2) {
        let gap = pair[1].0.duration_since(pair[0].0);
        // The interval, the rounding up to a second, and the sending.
        assert!(gap >= Duration::from_millis(1900) && gap <= Duration::from_secs(5), "{gap:?}");
    }
    let keys: std::collections::HashSet<_> = seen.iter().map(|(_, v)| v["idempotency_key"].clone()).collect();
    assert_eq!(keys.len(), seen.len(), "a re-notification has a key of its own");
    for (_, v) in &seen {
        assert_eq!(v["event"], "alert");
        assert_eq!(v["alert"], alert.as_str());
        let fields: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(fields, ["alert", "event", "idempotency_key", "message", "type"]);
        assert_eq!(v["message"], seen[0].1["message"]);
    }
    let topics = ntfy.requests();
    assert!(topics.iter().all(|(h, b)| h["priority"] == "5" && b == &topics[0].1), "the same wake-up each time");
    assert_eq!(
        topics.iter().map(|(h, _)| h["x-idempotency-key"].clone()).collect::<std::collections::HashSet<_>>().len(),
        topics.len()
    );

    // The second contact acknowledges: the first is told so, and nobody is
    // woken for the alert again (one already on its way may still land).
    let path = format!("/v1/mailbox/alerts/{alert}/ack");
    let (s, _) = live.call(m.contacts[1].request("POST", &path, Vec::new(), live.clock.now())).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let alerts_then = |r: &Receiver| arrivals(r).iter().filter(|(_, v)| v["event"] == "alert").count();
    let counts = [alerts_then(&hook0), alerts_then(&hook1), ntfy.requests().len()];
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        [alerts_then(&hook0), alerts_then(&hook1), ntfy.requests().len()],
        counts,
        "nothing after the acknowledgement"
    );
    assert!(arrivals(&hook0).iter().any(|(_, v)| v["event"] == "acknowledged"));

    // The contact's delivery log shows every repeat as an attempt.
    let path = format!("/v1/mailbox/alerts/{alert}/deliveries");
    let (s, log) = live.call(m.contacts[0].request("GET", &path, Vec::new(), live.clock.now())).await;
    assert_eq!(s, StatusCode::OK);
    let delivered = log["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["channel"] == "webhook" && a["outcome"] == "delivered")
        .count();
    assert!(delivered >= counts[0], "{log}");
    live.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_notifications_stop_at_the_delivery_horizon_and_when_switched_off() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // A 6 s horizon: the first notification and the re-notifications due
    // within it (every 2 s, from a whole second), then none.
    let cfg = Config { renotify_interval: 2, delivery_horizon: 6, ..config(dir.path()) };
    let live = Live { server: start(cfg, clock.clone()).await.unwrap(), clock };
    let (hook, url) = Receiver::start(vec![]).await;
    let m = live.member_with_contacts(&[1]).await;
    live.add_endpoint(&m.contacts[0], "webhook", &format!("{url}/c0")).await;
    live.panic(&m).await;
    assert!(hook.await_count(2, Duration::from_secs(20)).await.len() >= 2);
    tokio::time::sleep(Duration::from_secs(7)).await;
    let seen = hook.requests().len();
    assert!((2..=4).contains(&seen), "{seen}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(hook.requests().len(), seen, "nothing past the horizon");
    assert_eq!(live.server.engine.store.stats().unwrap().deliveries_pending, 0);
    live.server.shutdown().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let cfg = Config { renotify_interval: 0, ..config(dir.path()) };
    let live = Live { server: start(cfg, clock.clone()).await.unwrap(), clock };
    let (hook, url) = Receiver::start(vec![]).await;
    let m = live.member_with_contacts(&[1]).await;
    live.add_endpoint(&m.contacts[0], "webhook", &format!("{url}/c0")).await;
    live.panic(&m).await;
    assert_eq!(hook.await_count(1, Duration::from_secs(20)).await.len(), 1);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(hook.requests().len(), 1, "0 switches re-notification off");
    live.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_notifications_carry_on_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let cfg = || Config { renotify_interval: 2, ..config(dir.path()) };
    let live = Live { server: start(cfg(), clock.clone()).await.unwrap(), clock: clock.clone() };
    let (hook, url) = Receiver::start(vec![]).await;
    let m = live.member_with_contacts(&[1]).await;
    live.add_endpoint(&m.contacts[0], "webhook", &format!("{url}/c0")).await;
    let alert = live.panic(&m).await;
    assert_eq!(hook.await_count(1, Duration::from_secs(20)).await.len(), 1);
    // The next one is in the outbox, written with the first one's outcome.
    let started = Instant::now();
    while live.server.engine.store.stats().unwrap().deliveries_pending == 0
        && started.elapsed() < Duration::from_secs(5)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    live.server.shutdown().await.unwrap();
    let before = hook.requests().len();
    // The store lets go of its lock a moment later; `SledStore::open` waits for that.
    let live = Live { server: start(cfg(), clock.clone()).await.unwrap(), clock };
    let seen = hook.await_count(before + 2, Duration::from_secs(20)).await;
    assert!(seen.len() >= before + 2, "re-notified after the restart");
    let v: Value = serde_json::from_slice(&seen[seen.len() - 1].1).unwrap();
    assert_eq!(v["alert"], alert.as_str());
    live.server.shutdown().await.unwrap();
}
