//! A fuzzing smoke run on a stable toolchain: every target's body
//! (`aman_fuzz::TARGETS`) over its corpus (`corpus/<target>/`, when there is
//! one: it is not checked in), valid seeds built here with the targets' fixed
//! keys, and `AMAN_FUZZ_SMOKE_RUNS` (default 3000) mutations of them and
//! random inputs from a fixed seed. Not a fuzzer: no coverage feedback. It
//! catches a target that no longer builds or a property that fails near the
//! accepting paths; `cargo fuzz` (README.md) does the searching.

use aman_fuzz::{fixed_invite, key, TARGETS};
use aman_protocol::encoding::{labels, Writer};
use aman_protocol::{seal, AccountId, AlertBody, EncryptionSecret, Enrollment, MailboxId};
use std::path::Path;

/// The frozen known answers: made with the targets' fixed keys, so they
/// pass every check (what `seed_corpus.py` writes into the corpus).
const KAT: &str = include_str!("../../protocol/tests/data/known-answers.txt");

fn frozen_text(name: &str) -> &'static str {
    KAT.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(" = ")).expect("a frozen value")
}

fn frozen(name: &str) -> Vec<u8> {
    let hex = frozen_text(name);
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect()
}

fn prefixed(first: &[u8], rest: &[&[u8]]) -> Vec<u8> {
    let mut out = first.to_vec();
    rest.iter().for_each(|r| out.extend_from_slice(r));
    out
}

/// Inputs every check accepts.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let ph = frozen("heartbeat.public");
    match target {
        "heartbeat" => vec![ph],
        "proof" => [(2, "normal"), (3, "duress")]
            .into_iter()
            .flat_map(|(n, mode)| {
                let wire = frozen(&format!("heartbeat.proof.{mode}"));
                let signature = key(n).sign(&Writer::v2(labels::MODE_PROOF).fixed(&ph).finish());
                let inner = prefixed(key(n).verifying_key().as_bytes(), &[&signature.0]);
                [prefixed(&[0], &[&ph, &wire]), prefixed(&[1], &[&ph, &inner])]
            })
            .collect(),
        "registration" => {
            vec![prefixed(&[0], &[&frozen("registration.sealed")]), prefixed(&[1], &[&frozen("registration.signed")])]
        }
        "key_rotation" => vec![frozen("rotation.signed")],
        "request" => vec![frozen("request.encoding")],
        "server_seal" => vec![prefixed(&[3], &[b"ctx", &frozen("server.sealed")])],
        "sealed_alert" => {
            let body = AlertBody {
                contacts: vec![(MailboxId::from_bytes([0x22; 16]), "K.".into())],
                plan: "Call the lawyer.".into(),
                account: AccountId::from_bytes([0x11; 16]),
                sequence: 7,
                created: 1_800_000_000,
                note: "I went to meet K. at the bridge.".into(),
                location: "33.3152,44.3661".into(),
            };
            let recipient = EncryptionSecret::from_bytes(zeroize::Zeroizing::new([9; 32])).public();
            vec![seal(&body, &key(7), &[recipient]).expect("seal")]
        }
        "directory" => {
            let dir = aman_protocol::directory::ServerDirectory {
                account: AccountId::from_bytes([0x11; 16]),
                sequence: 3,
                created: 1_800_000_000,
                servers: vec![
                    (aman_fuzz::server().id(), "https://aman.example.org".into()),
                    (aman_protocol::ServerId::from_bytes([0x22; 16]), "http://aman2.example.onion".into()),
                ],
            };
            let recipient = EncryptionSecret::from_bytes(zeroize::Zeroizing::new([9; 32])).public();
            vec![aman_protocol::directory::seal(&dir, &key(7), &[recipient]).expect("seal")]
        }
        "invite" => vec![fixed_invite().to_text().as_bytes().to_vec(), frozen_text("invite.text").into()],
        "enrollment" => {
            let enrollment = Enrollment {
                identity: key(6).verifying_key(),
                encryption: EncryptionSecret::from_bytes(zeroize::Zeroizing::new([7; 32])).public(),
                mailbox: MailboxId::from_bytes([0x55; 16]),
            };
            vec![enrollment.seal(&fixed_invite(), &key(6)).expect("seal")]
        }
        other => panic!("no seeds for target {other}"),
    }
}

/// xorshift64*: the same inputs on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A mutation of one of `bases` (or of nothing): a few bit flips, byte
/// changes, cuts, insertions and splices.
fn mutate(rng: &mut Rng, bases: &[Vec<u8>]) -> Vec<u8> {
    let mut data = bases[rng.below(bases.len())].clone();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(6) {
            0 if at < data.len() => data[at] ^= 1 << rng.below(8),
            1 if at < data.len() => data[at] = rng.next() as u8,
            2 => data.truncate(at),
            3 => data.splice(at..at, (0..1 + rng.below(16)).map(|_| rng.next() as u8)).for_each(drop),
            4 => {
                let other = &bases[rng.below(bases.len())];
                let from = rng.below(other.len() + 1);
                data.splice(at..at.min(data.len()), other[from..].iter().copied()).for_each(drop);
            }
            _ => data = (0..rng.below(600)).map(|_| rng.next() as u8).collect(),
        }
    }
    data
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn run(name: &str) {
    let (_, target) = TARGETS.iter().find(|(n, _)| *n == name).expect("a target of that name");
    let runs: usize = std::env::var("AMAN_FUZZ_SMOKE_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    let mut bases = seeds(name);
    bases.extend(corpus(name));
    bases.push(Vec::new());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ name.len() as u64);
    let inputs = bases.clone().into_iter().chain((0..runs).map(|_| mutate(&mut rng, &bases)));
    for (i, input) in inputs.enumerate() {
        let outcome = std::panic::catch_unwind(|| target(&input));
        if outcome.is_err() {
            let hex: String = input.iter().map(|b| format!("{b:02x}")).collect();
            panic!("{name}: input {i} fails (replay it from a file with cargo fuzz): {hex}");
        }
    }
}

/// The seeds reach the accepting paths (a format change that left them
/// behind would quietly make the smoke run shallow).
#[test]
fn the_seeds_pass_every_check() {
    use aman_fuzz::{checkin_keys, identity, server, K_TR};
    use aman_protocol::heartbeat::{verify_proof, PUBLIC_HEARTBEAT_LEN};
    use aman_protocol::{alert, Heartbeat, InviteCode, KeyRotation, ProofKey, Registration, RequestAuth};
    let id = identity().verifying_key();
    assert!(Heartbeat::verify(&seeds("heartbeat")[0], &id).is_ok());
    let transport = ProofKey::from_bytes(zeroize::Zeroizing::new(K_TR));
    for (i, seed) in seeds("proof").iter().enumerate().filter(|(_, s)| s[0] == 0) {
        let (ph, proof) = seed[1..].split_at(PUBLIC_HEARTBEAT_LEN);
        assert_eq!(verify_proof(ph, proof, &transport, checkin_keys()), Ok(i / 2));
    }
    assert!(Registration::open(server(), &seeds("registration")[0][1..]).is_ok());
    assert!(KeyRotation::verify(&seeds("key_rotation")[0], &id).is_ok());
    assert!(RequestAuth::decode(&seeds("request")[0]).is_ok());
    assert!(server().open(b"ctx", &seeds("server_seal")[0][4..]).is_ok());
    assert!(alert::validate_sealed(&seeds("sealed_alert")[0]).is_ok());
    assert!(alert::open(&seeds("sealed_alert")[0], &aman_fuzz::alert_recipient(), aman_fuzz::alert_signer()).is_ok());
    let dir = &seeds("directory")[0];
    assert!(aman_protocol::directory::validate_sealed(dir).is_ok());
    assert!(aman_protocol::directory::open(dir, &aman_fuzz::alert_recipient(), aman_fuzz::alert_signer()).is_ok());
    for text in seeds("invite") {
        assert!(InviteCode::parse(std::str::from_utf8(&text).expect("text")).is_ok());
    }
    assert!(Enrollment::open(&seeds("enrollment")[0], &fixed_invite()).is_ok());
}

macro_rules! smoke {
    ($($target:ident),* $(,)?) => {
        $(#[test]
        fn $target() {
            run(stringify!($target));
        })*

        #[test]
        fn every_target_has_a_smoke_test() {
            let tested = [$(stringify!($target)),*];
            for (name, _) in TARGETS {
                assert!(tested.contains(name), "{name} has no smoke test here");
            }
        }
    };
}

smoke!(heartbeat, proof, registration, key_rotation, request, server_seal, sealed_alert, directory, invite, enrollment);
