//! A real engine on a real sled database in a temporary directory, a manual
//! clock, and members and contacts that sign real requests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use aman_protocol::alert::{seal, sealed_hash, AlertBody};
use aman_protocol::api::{ContactLink, CreatePairing, PairingAnswer, Policy, RegisterAccount, ServerInfo, B64};
use aman_protocol::heartbeat::make_proof;
use aman_protocol::request::{HEADER_CALLER, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIME};
use aman_protocol::routes::{self, NoBody, Route};
use aman_protocol::{
    seal_to_server, AccountId, EncryptionSecret, Enrollment, Heartbeat, InviteCode, KeyRotation, MailboxId, ProofKey,
    Registration as Reg, RequestAuth, ServerId, SigningKey, VerifyingKey,
};
use aman_server::api::{app, AppState};
use aman_server::clock::{Clock, ManualClock};
use aman_server::config::{Config, Registration};
use aman_server::engine::Engine;
use aman_server::store::{SledStore, Store};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

pub const T0: u64 = 1_800_000_000;

pub struct TestApp {
    pub dir: tempfile::TempDir,
    pub store: Arc<SledStore>,
    pub engine: Arc<Engine>,
    pub clock: Arc<ManualClock>,
    pub router: Router,
}

pub fn test_config(dir: &std::path::Path) -> Config {
    Config {
        data_dir: dir.to_owned(),
        registration: Registration::Open,
        min_interval: 1,
        min_grace: 1,
        cooling_off: 3600,
        outage_grace: 600,
        escalation_delay: 300,
        rate_limit_ip: 0,
        rate_limit_account: 0,
        dispatch_delay: 0,
        ..Config::default()
    }
}

impl TestApp {
    pub fn new() -> Self {
        Self::with_config(|_| {})
    }

    pub fn with_config(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        tweak(&mut config);
        let store = Arc::new(SledStore::open(&dir.path().join("db")).unwrap());
        let clock = Arc::new(ManualClock::at(T0));
        let key = aman_server::keyfile::load_or_create(&dir.path().join("server.key")).unwrap();
        let engine = Engine::new(store.clone(), clock.clone(), Arc::new(config), key).unwrap();
        let router = app(AppState::new(engine.clone()));
        TestApp { dir, store, engine, clock, router }
    }

    /// A new engine over the same database and key, as after a restart at `now`.
    pub fn restart_at(&mut self, now: u64) {
        self.clock.set(now);
        let config = (*self.engine.config).clone();
        let key = aman_server::keyfile::load_or_create(&self.dir.path().join("server.key")).unwrap();
        self.engine = Engine::new(self.store.clone(), self.clock.clone(), Arc::new(config), key).unwrap();
        self.router = app(AppState::new(self.engine.clone()));
    }

    /// As `restart_at`, but the schedule loads only when `engine.load_schedule()` is called.
    pub fn restart_deferred_at(&mut self, now: u64) {
        self.clock.set(now);
        let config = (*self.engine.config).clone();
        let key = aman_server::keyfile::load_or_create(&self.dir.path().join("server.key")).unwrap();
        self.engine = Engine::new_deferred(self.store.clone(), self.clock.clone(), Arc::new(config), key);
        self.router = app(AppState::new(self.engine.clone()));
    }

    pub async fn send(&self, req: Request<Body>) -> (StatusCode, Vec<u8>) {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
        (status, body)
    }

    pub fn tick(&self) -> aman_server::engine::TickReport {
        self.engine.tick(self.now())
    }
}

/// Builds a request for `server` signed by `key` as `caller` at `time`.
pub fn signed(
    server: ServerId,
    method: &str,
    path: &str,
    body: Vec<u8>,
    caller: [u8; 16],
    key: &SigningKey,
    time: u64,
) -> Request<Body> {
    let auth = RequestAuth::new(server, method, path, &body, caller, time).unwrap();
    let h = auth.sign(key);
    Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header(HEADER_CALLER, h.caller)
        .header(HEADER_TIME, h.time)
        .header(HEADER_NONCE, h.nonce)
        .header(HEADER_SIGNATURE, h.signature)
        .body(Body::from(body))
        .unwrap()
}

/// The bytes of route `R`'s request: its envelope as JSON, none for `NoBody`.
pub fn body_of<R: Route>(body: &R::Request) -> Vec<u8> {
    if R::has_body() {
        serde_json::to_vec(body).unwrap()
    } else {
        Vec::new()
    }
}

/// Route `R`'s request, unsigned (registration, check-in).
pub fn unsigned_route<R: Route>(route: &R, body: &R::Request) -> Request<Body> {
    unsigned(R::METHOD.as_str(), &route.path(), body_of::<R>(body))
}

/// A request with a JSON body and no signature (registration, check-in).
pub fn unsigned(method: &str, path: &str, body: Vec<u8>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

pub struct TestMember {
    pub server: ServerInfo,
    pub account: AccountId,
    pub identity: SigningKey,
    pub normal: SigningKey,
    pub duress: SigningKey,
    pub transport: ProofKey,
    pub generation: u64,
    pub counter: u64,
    pub sealed: Vec<u8>,
    pub contacts: Vec<TestContact>,
}

pub struct TestContact {
    pub server: ServerId,
    pub mailbox: MailboxId,
    pub identity: SigningKey,
    pub encryption: EncryptionSecret,
    pub tier: u8,
}

impl TestContact {
    /// Route `R`'s request, signed by this contact for its mailbox.
    pub fn route<R: Route>(&self, route: &R, body: &R::Request, now: u64) -> Request<Body> {
        self.request(R::METHOD.as_str(), &route.path(), body_of::<R>(body), now)
    }

    /// A request signed by this contact for its mailbox.
    pub fn request(&self, method: &str, path: &str, body: Vec<u8>, now: u64) -> Request<Body> {
        signed(self.server, method, path, body, *self.mailbox.as_bytes(), &self.identity, now)
    }
}

impl TestMember {
    pub fn new(server: &ServerInfo) -> Self {
        TestMember {
            server: server.clone(),
            account: AccountId::random().unwrap(),
            identity: SigningKey::generate().unwrap(),
            normal: SigningKey::generate().unwrap(),
            duress: SigningKey::generate().unwrap(),
            transport: ProofKey::generate().unwrap(),
            generation: 0,
            counter: 0,
            sealed: Vec::new(),
            contacts: Vec::new(),
        }
    }

    /// The registration, sealed to the server.
    pub fn registration(&self) -> Vec<u8> {
        Reg {
            server: self.server.server_id,
            account: self.account,
            identity: self.identity.verifying_key(),
            normal: self.normal.verifying_key(),
            duress: self.duress.verifying_key(),
            transport: ProofKey::from_bytes(self.transport.to_bytes()),
            created: T0,
        }
        .seal(&self.identity, &self.server.server_key)
        .unwrap()
    }

    pub fn register_request(&self, invite: Option<&str>, _now: u64) -> Request<Body> {
        let body = RegisterAccount { invite: invite.map(str::to_owned), registration: B64(self.registration()) };
        unsigned_route(&routes::Register, &body)
    }

    /// A rotation to these new keys (each paired with the current key of
    /// the same role), sealed to the server, as the body of `PUT /v2/account/keys`.
    pub fn rotation_body(&self, new_normal: &VerifyingKey, new_duress: &VerifyingKey, created: u64) -> Value {
        let rotation = KeyRotation::build(
            self.server.server_id,
            self.account,
            self.generation + 1,
            created,
            [(&self.duress, new_duress), (&self.normal, new_normal)],
        )
        .sign(&self.identity)
        .unwrap();
        let label = aman_protocol::encoding::labels::KEY_ROTATION.as_bytes();
        json!({ "rotation": B64(seal_to_server(&self.server.server_key, label, &rotation).unwrap()) })
    }

    /// Takes over staged keys after a rotation applied.
    pub fn take_keys(&mut self, normal: SigningKey, duress: SigningKey) {
        self.normal = normal;
        self.duress = duress;
        self.generation += 1;
    }

    /// Route `R`'s request, signed by this member.
    pub fn route<R: Route>(&self, route: &R, body: &R::Request, now: u64) -> Request<Body> {
        self.raw_request(R::METHOD.as_str(), &route.path(), body_of::<R>(body), now)
    }

    pub fn request(&self, method: &str, path: &str, body: Value, now: u64) -> Request<Body> {
        let bytes = if body.is_null() { Vec::new() } else { serde_json::to_vec(&body).unwrap() };
        self.raw_request(method, path, bytes, now)
    }

    pub fn raw_request(&self, method: &str, path: &str, body: Vec<u8>, now: u64) -> Request<Body> {
        signed(self.server.server_id, method, path, body, *self.account.as_bytes(), &self.identity, now)
    }

    /// Seals a fresh alert to the current contacts.
    pub fn reseal(&mut self, note: &str, now: u64) {
        let recipients: Vec<_> = self.contacts.iter().map(|c| c.encryption.public()).collect();
        let recipients =
            if recipients.is_empty() { vec![EncryptionSecret::generate().unwrap().public()] } else { recipients };
        let body = AlertBody {
            contacts: Vec::new(),
            plan: String::new(),
            account: self.account,
            sequence: self.counter + 1,
            created: now,
            note: note.into(),
            location: "here".into(),
        };
        self.sealed = seal(&body, &self.identity, &recipients).unwrap();
    }

    /// The next public heartbeat (next counter) due in `every` with `grace`.
    pub fn heartbeat(&mut self, every: u64, grace: u64, now: u64) -> Vec<u8> {
        if self.sealed.is_empty() {
            self.reseal("note", now);
        }
        self.counter += 1;
        Heartbeat {
            server: self.server.server_id,
            account: self.account,
            counter: self.counter,
            client_time: now,
            next_due: now + every,
            grace,
            sealed_hash: sealed_hash(&self.sealed),
        }
        .sign(&self.identity)
    }

    /// A check-in body: the heartbeat, its mode proof by the normal or the
    /// duress key, and the sealed note.
    pub fn checkin_body(&mut self, duress: bool, every: u64, grace: u64, now: u64) -> Value {
        let ph = self.heartbeat(every, grace, now);
        let key = if duress { &self.duress } else { &self.normal };
        let proof = make_proof(&ph, key, &self.transport).unwrap();
        json!({ "heartbeat": B64(ph), "proof": B64(proof), "sealed_alert": B64(self.sealed.clone()) })
    }

    pub fn checkin_request(&mut self, duress: bool, every: u64, grace: u64, now: u64) -> Request<Body> {
        let body = self.checkin_body(duress, every, grace, now);
        unsigned(routes::Checkin::METHOD.as_str(), routes::Checkin::PATH, serde_json::to_vec(&body).unwrap())
    }
}

/// Talking to a server through its router: the in-process `TestApp`, or a
/// running server in the delivery tests. The pairing and mailbox steps are
/// written once, here.
pub trait Api {
    /// Sends a request and returns the status and JSON body.
    async fn call(&self, req: Request<Body>) -> (StatusCode, Value);
    /// The server's clock.
    fn now(&self) -> u64;
    /// The server's id and key.
    fn info(&self) -> ServerInfo;

    /// Registers a member (open registration).
    async fn member(&self) -> TestMember {
        let m = TestMember::new(&self.info());
        let (status, body) = self.call(m.register_request(None, self.now())).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        m
    }

    /// Pairs a contact through the relay and links it at `tier` (a contact
    /// linked beside others takes part only after the cooling-off period).
    async fn add_contact(&self, m: &mut TestMember, tier: u8) {
        self.pair_contact(m, tier).await;
        self.link_contacts(m).await;
    }

    /// Pairs contacts at these tiers and links them all at once: a
    /// member's first contacts take part at once.
    async fn add_contacts(&self, m: &mut TestMember, tiers: &[u8]) {
        for tier in tiers {
            self.pair_contact(m, *tier).await;
        }
        self.link_contacts(m).await;
    }

    /// Pairs a contact through the relay, without linking it.
    async fn pair_contact(&self, m: &mut TestMember, tier: u8) {
        let now = self.now();
        let invite = InviteCode::generate(m.identity.verifying_key(), "http://127.0.0.1").unwrap();
        let create = CreatePairing { invite: invite.id, expires_at: now + 3600 };
        let (s, b) = self.call(m.route(&routes::CreatePairing, &create, now)).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let c = TestContact {
            server: self.info().server_id,
            mailbox: MailboxId::random().unwrap(),
            identity: SigningKey::generate().unwrap(),
            encryption: EncryptionSecret::generate().unwrap(),
            tier,
        };
        let enrollment =
            Enrollment { identity: c.identity.verifying_key(), encryption: c.encryption.public(), mailbox: c.mailbox }
                .seal(&invite, &c.identity)
                .unwrap();
        let answer = PairingAnswer {
            mailbox: c.mailbox,
            identity: c.identity.verifying_key(),
            encryption: Some(c.encryption.public()),
            enrollment: B64(enrollment),
        };
        let (s, b) = self.call(c.route(&routes::AnswerPairing { invite: invite.id }, &answer, now)).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let (s, b) = self.call(m.route(&routes::GetPairing { invite: invite.id }, &NoBody, now)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let sealed: B64 = serde_json::from_value(b["enrollment"].clone()).unwrap();
        assert_eq!(Enrollment::open(&sealed.0, &invite).unwrap().mailbox, c.mailbox);
        m.contacts.push(c);
    }

    /// Links every paired contact of `m`.
    async fn link_contacts(&self, m: &mut TestMember) {
        let now = self.now();
        let mut policy = self.policy_of(m).await;
        policy.contacts =
            m.contacts.iter().map(|c| ContactLink { mailbox: c.mailbox, tier: c.tier, active_from: None }).collect();
        let (s, b) = self.call(m.route(&routes::SetPolicy, &policy, now)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }

    async fn policy_of(&self, m: &TestMember) -> Policy {
        let (s, b) = self.call(m.route(&routes::GetAccount, &NoBody, self.now())).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        serde_json::from_value(b["policy"].clone()).unwrap()
    }

    async fn mailbox(&self, c: &TestContact) -> Value {
        let (s, b) = self.call(c.route(&routes::MailboxAlerts::default(), &NoBody, self.now())).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b
    }
}

impl Api for TestApp {
    async fn call(&self, req: Request<Body>) -> (StatusCode, Value) {
        let (status, body) = self.send(req).await;
        let value = if body.is_empty() { Value::Null } else { serde_json::from_slice(&body).unwrap_or(Value::Null) };
        (status, value)
    }

    fn now(&self) -> u64 {
        self.clock.now()
    }

    fn info(&self) -> ServerInfo {
        self.engine.server_info()
    }
}

impl TestApp {
    pub async fn status_of(&self, m: &TestMember) -> Value {
        let (s, b) = self.call(m.route(&routes::GetAccount, &NoBody, self.now())).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b
    }

    pub fn stats(&self) -> aman_server::store::Stats {
        aman_server::store::Stats { armed_deadlines: self.engine.armed_deadlines(), ..self.store.stats().unwrap() }
    }
}

/// What one request changed in the store: every key written or removed, by
/// kind and length, with the length of what was written (an account record's
/// length is left out: it carries whatever the account had before).
pub fn delta(before: &[(Vec<u8>, Vec<u8>)], after: &[(Vec<u8>, Vec<u8>)]) -> Vec<(u8, usize, Option<usize>)> {
    let old: std::collections::HashMap<_, _> = before.iter().cloned().collect();
    let new: std::collections::HashMap<_, _> = after.iter().cloned().collect();
    let mut out = Vec::new();
    for (k, v) in &new {
        if old.get(k) != Some(v) {
            out.push((k[0], k.len(), (k[0] != b'a').then_some(v.len())));
        }
    }
    for k in old.keys().filter(|k| !new.contains_key(*k)) {
        out.push((k[0], k.len(), None));
    }
    out.sort();
    out
}
