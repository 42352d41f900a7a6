//! Junk cannot lock a member out: failed authentication is counted against
//! the address it came from, and a request that authenticates against its
//! caller only. Behind a reverse proxy or Tor every member shares one
//! address with every attacker.

use super::server_env;
use aman_client::api::{ApiClient, Signer};
use aman_protocol::routes::{AnswerPairing, Checkin, GetAccount, Healthz, NoBody, Register, Route};
use aman_tests::{Member, ServerProcess};
use reqwest::Method;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_and_forged_requests_from_the_members_address_do_not_stop_a_check_in_or_a_panic() {
    let _shared = super::LOAD.read().await;
    let dir = tempfile::tempdir().unwrap();
    // The default address budget (600 a minute); a small caller budget (10),
    // so that anything spending the member's would show at once.
    let env = server_env(&[("AMAN_RATE_LIMIT_IP", "600"), ("AMAN_RATE_LIMIT_ACCOUNT", "10")]);
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &env);
    let api = ApiClient::new(&server.url, None, Duration::from_secs(10)).unwrap();
    let mut member = Member::new();
    member.register(&api).await.unwrap();
    member.add_contact(&api, 1).await.unwrap();

    // Junk from the same address as the member: more than two minutes'
    // budget of check-ins that authenticate nothing.
    let http = reqwest::Client::new();
    let mut slowed = 0;
    for _ in 0..1_300 {
        let resp = http.post(format!("{}{}", server.url, Checkin::PATH)).body("{}").send().await.unwrap();
        if resp.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            slowed += 1;
        }
    }
    assert!(slowed > 0, "the address's budget holds for junk");

    // Forged requests naming the member's account, signed by someone else.
    let forger = aman_protocol::SigningKey::generate().unwrap();
    let signer = Signer { server: member.server_id(), caller: *member.account.as_bytes(), key: &forger };
    for _ in 0..150 {
        let refused = api.call(&GetAccount, &NoBody, &signer).await.unwrap_err();
        assert!(matches!(refused, aman_client::ClientError::Server { status: 401 | 429, .. }), "{refused}");
    }
    // Pairing answers "signed" by a key they bring, naming the member's
    // account and its contact's mailbox as the caller.
    for victim in [*member.account.as_bytes(), *member.contacts[0].mailbox.as_bytes()] {
        let signer = Signer { server: member.server_id(), caller: victim, key: &forger };
        let answer = serde_json::json!({
            "mailbox": aman_protocol::MailboxId::from_bytes(victim),
            "identity": forger.verifying_key(),
            "enrollment": "AAAA",
        });
        for _ in 0..30 {
            let path = AnswerPairing { invite: aman_protocol::InviteId::from_bytes([0xab; 16]) }.path();
            let body = serde_json::to_vec(&answer).unwrap();
            assert!(api.send(Method::POST, &path, body, &signer).await.is_err());
        }
    }
    // An old check-in of the member's, captured and replayed.
    let old = member.next_checkin(3600, 600, false, true);
    api.call_unsigned(&Checkin, &old, 1).await.unwrap();
    member.checkin(&api, 3600, 600, false).await.unwrap();
    for _ in 0..30 {
        let _ = http.post(format!("{}{}", server.url, Checkin::PATH)).json(&old).send().await.unwrap();
    }

    // The member, from the same address, still checks in and presses panic.
    member.checkin(&api, 3600, 600, false).await.expect("the check-in goes through");
    member.checkin(&api, 3600, 600, true).await.expect("a duress check-in too");
    member.panic(&api).await.expect("the panic goes through");
    assert_eq!(member.status(&api).await.unwrap().counter, member.counter);
    let mailbox = member.contacts[0].mailbox(&api).await;
    assert!(mailbox.is_ok(), "the contact still reads its mailbox: {mailbox:?}");
}

/// Connections that send half a request line or half a body, from the
/// members' own address, with the server's open-file limit at 256: the
/// member's check-in still goes through, and every slow socket is closed
/// within the configured header (or body) timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_connections_do_not_stop_a_check_in() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _shared = super::LOAD.read().await;
    let dir = tempfile::tempdir().unwrap();
    let timeout_s = 3;
    let timeout = format!("{timeout_s}s");
    let env = server_env(&[("AMAN_HEADER_TIMEOUT", &timeout), ("AMAN_BODY_TIMEOUT", &timeout)]);
    let server = ServerProcess::start_with_open_files(&dir.path().join("server"), "127.0.0.1:0", &env, 256);
    let api = ApiClient::new(&server.url, None, Duration::from_secs(20)).unwrap();
    let mut member = Member::new();
    member.register(&api).await.unwrap();
    let addr = server.url.strip_prefix("http://").unwrap().to_owned();

    let mut slow = Vec::new();
    for i in 0..300 {
        let mut socket = tokio::net::TcpStream::connect(&addr).await.expect("the kernel takes the connection");
        let half: &[u8] = if i % 2 == 0 {
            b"POST /v2/chec"
        } else {
            b"POST /v2/checkin HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"heartbeat\":"
        };
        let _ = socket.write_all(half).await; // may already be shed
        slow.push((socket, std::time::Instant::now()));
    }

    // A member's check-in, from a new client as the `aman` command makes one.
    let fresh = ApiClient::new(&server.url, None, Duration::from_secs(20)).unwrap();
    member.checkin(&fresh, 3600, 600, false).await.expect("the check-in goes through");
    assert_eq!(member.status(&fresh).await.unwrap().counter, member.counter);

    // Every slow socket is closed by the server within the timeout (and a
    // margin for a loaded machine), counted from when it was opened.
    let margin = Duration::from_secs(3);
    for (i, (mut socket, opened)) in slow.into_iter().enumerate() {
        let deadline = opened + Duration::from_secs(timeout_s) + margin;
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let mut buf = [0u8; 4096];
        let closed = tokio::time::timeout(left, async {
            loop {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {} // a 408 before the close
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "slow connection {i} was still open {timeout_s}s (+{margin:?}) after it was opened");
    }
    let mut served = reqwest::get(format!("{}{}", server.url, Healthz::PATH)).await.unwrap();
    assert!(served.status().is_success());
    served = reqwest::get(format!("{}{}", server.url, Healthz::PATH)).await.unwrap();
    assert!(served.status().is_success(), "the server still answers");
}

/// Behind a trusted proxy each client's address counts on its own (an
/// IPv6 address by its /64); without one, `X-Forwarded-For` is anyone's
/// words and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_are_believed_from_trusted_proxies_only() {
    let _shared = super::LOAD.read().await;
    let junk_from = |http: &reqwest::Client, url: &str, forwarded: &str| {
        http.post(format!("{url}{}", Checkin::PATH)).header("x-forwarded-for", forwarded).body("{}").send()
    };
    let status = |r: reqwest::Response| r.status().as_u16();
    let http = reqwest::Client::new();

    let dir = tempfile::tempdir().unwrap();
    let env = server_env(&[("AMAN_RATE_LIMIT_IP", "5"), ("AMAN_TRUSTED_PROXIES", "127.0.0.1, ::1")]);
    let proxied = ServerProcess::start(&dir.path().join("proxied"), "127.0.0.1:0", &env);
    for _ in 0..5 {
        assert_eq!(status(junk_from(&http, &proxied.url, "6.6.6.6, 198.51.100.1").await.unwrap()), 400);
    }
    assert_eq!(status(junk_from(&http, &proxied.url, "198.51.100.1").await.unwrap()), 429, "its budget is spent");
    assert_eq!(status(junk_from(&http, &proxied.url, "198.51.100.2").await.unwrap()), 400, "another client's is not");
    for _ in 0..5 {
        assert_eq!(status(junk_from(&http, &proxied.url, "2001:db8:0:7::1").await.unwrap()), 400);
    }
    assert_eq!(status(junk_from(&http, &proxied.url, "2001:db8:0:7::ffff").await.unwrap()), 429, "same /64");
    assert_eq!(status(junk_from(&http, &proxied.url, "2001:db8:0:8::1").await.unwrap()), 400, "next /64");

    let env = server_env(&[("AMAN_RATE_LIMIT_IP", "5")]);
    let direct = ServerProcess::start(&dir.path().join("direct"), "127.0.0.1:0", &env);
    for i in 0..5 {
        assert_eq!(status(junk_from(&http, &direct.url, &format!("198.51.100.{i}")).await.unwrap()), 400);
    }
    assert_eq!(status(junk_from(&http, &direct.url, "198.51.100.99").await.unwrap()), 429, "one peer, one budget");
}

/// Registration attempts without a usable invite cost a hash and a read:
/// 200,000 of them (self-signed and sealed to the server, from one address
/// with no rate limit) leave the server's memory where it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_floods_without_an_invite_do_not_grow_memory() {
    let _alone = super::LOAD.write().await;
    let dir = tempfile::tempdir().unwrap();
    let env = server_env(&[("AMAN_REGISTRATION", "invite")]);
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &env);
    let api = ApiClient::new(&server.url, None, Duration::from_secs(20)).unwrap();
    let info = api.server_info().await.unwrap();
    let bodies: Vec<Vec<u8>> = (0..64)
        .map(|i| {
            let invite = (i % 2 == 1).then(|| format!("junk-invite-{i}"));
            serde_json::to_vec(&Member::new().registration(&info, invite).unwrap()).unwrap()
        })
        .collect();
    let bodies = std::sync::Arc::new(bodies);
    let url = format!("{}{}", server.url, Register::PATH);
    let send = |count: usize| {
        let (bodies, url) = (bodies.clone(), url.clone());
        async move {
            let http = reqwest::Client::new();
            let mut refused = 0usize;
            for i in 0..count {
                let resp = http.post(&url).body(bodies[i % bodies.len()].clone()).send().await.unwrap();
                refused += usize::from(resp.status() == reqwest::StatusCode::FORBIDDEN);
            }
            refused
        }
    };
    // Warm up, then measure.
    send(2_000).await;
    let before = aman_tests::soak::rss_mib(server.pid());
    let (total, tasks) = (200_000, 8);
    let runs: Vec<_> = (0..tasks).map(|_| tokio::spawn(send(total / tasks))).collect();
    let mut refused = 0;
    for run in runs {
        refused += run.await.unwrap();
    }
    let after = aman_tests::soak::rss_mib(server.pid());
    assert_eq!(refused, total, "every attempt is refused: no invite");
    assert!(after - before < 50.0, "RSS grew from {before:.1} MiB to {after:.1} MiB");
    assert!(api.server_info().await.is_ok());
}

/// Someone who learned an invite's id answers it with junk: `aman contact
/// list` drops that invite and says so, and the other contact still links.
#[test]
fn a_junk_pairing_answer_is_dropped_and_the_other_contacts_still_link() {
    use aman_tests::aman;
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[]));
    let member = dir.path().join("member");
    let run = |home: &std::path::Path, stdin: &str, args: &[&str]| {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = aman(home, stdin, &full);
        assert!(out.status.success(), "aman {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    run(&member, "n0rmal-river-lamp\ndur3ss-cloud-fig\n", &["init", "--server", &server.url]);
    let targeted = run(&member, "n0rmal-river-lamp\n", &["contact", "invite", "--label", "alice"])["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let honest = run(&member, "n0rmal-river-lamp\n", &["contact", "invite", "--label", "bashir"])["code"]
        .as_str()
        .unwrap()
        .to_owned();
    run(&dir.path().join("bashir"), "bashir-pass-lantern\n", &["contact", "accept", &honest, "--label", "member"]);

    // The junk answer, on alice's invite id, well formed and self-signed.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let api = ApiClient::new(&server.url, None, Duration::from_secs(10)).unwrap();
        let info = api.server_info().await.unwrap();
        let id = aman_protocol::InviteCode::parse(&targeted).unwrap().id;
        let forger = aman_protocol::SigningKey::generate().unwrap();
        let mailbox = aman_protocol::MailboxId::random().unwrap();
        let signer = Signer { server: info.server_id, caller: *mailbox.as_bytes(), key: &forger };
        let junk = vec![7u8; aman_protocol::invite::ENROLLMENT_LEN];
        let answer = serde_json::json!({
            "mailbox": mailbox,
            "identity": forger.verifying_key(),
            "encryption": aman_protocol::EncryptionSecret::generate().unwrap().public(),
            "enrollment": aman_protocol::api::B64(junk),
        });
        let path = AnswerPairing { invite: id }.path();
        api.send(Method::POST, &path, serde_json::to_vec(&answer).unwrap(), &signer)
            .await
            .expect("the server takes it");
    });

    let list = run(&member, "n0rmal-river-lamp\n", &["contact", "list"]);
    let contacts = list["contacts"].as_array().unwrap();
    assert_eq!(contacts.len(), 1, "{list}");
    assert_eq!((contacts[0]["label"].as_str(), contacts[0]["state"].as_str()), (Some("bashir"), Some("linked")));
    assert_eq!(list["dropped_invites"], serde_json::json!(["alice"]));
    let out = aman(&member, "n0rmal-river-lamp\n", &["contact", "list"]);
    assert!(out.status.success(), "the list keeps working: {}", String::from_utf8_lossy(&out.stderr));
}

/// The client speaks plain http only where the network cannot read it,
/// and never follows a redirect (it would carry signed headers elsewhere).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_refuses_plain_http_to_the_network_and_redirects() {
    use aman_tests::aman;
    let dir = tempfile::tempdir().unwrap();
    let out = aman(
        &dir.path().join("m"),
        "alpha-bravo-quartz\nbeta-delta-velvet\n",
        &["init", "--server", "http://aman.example.org"],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refusing plain http://") && stderr.contains("--insecure-http"), "{stderr}");
    // With the flag it is allowed (and fails only for want of a network here).
    let out = aman(
        &dir.path().join("m"),
        "alpha-bravo-quartz\nbeta-delta-velvet\n",
        &["--insecure-http", "--timeout", "2", "init", "--server", "http://aman.example.invalid"],
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("refusing plain http://"));

    // A server that redirects every request to another listener.
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = format!("http://{}", elsewhere.local_addr().unwrap());
    let reached = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = reached.clone();
    tokio::spawn(async move {
        while let Ok((_socket, _)) = elsewhere.accept().await {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let to = format!("{target}{uri}");
        async move { axum::response::Redirect::permanent(&to) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let api = ApiClient::new(&url, None, Duration::from_secs(5)).unwrap();
    assert!(api.server_info().await.is_err(), "a redirect is an error, not followed");
    let member = Member::new();
    let signer =
        Signer { server: aman_protocol::ServerId::from_bytes([1; 16]), caller: [2; 16], key: &member.identity };
    assert!(api.call(&GetAccount, &NoBody, &signer).await.is_err());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!reached.load(std::sync::atomic::Ordering::SeqCst), "nothing went to the redirect's target");
}

/// The siege (see `aman_tests::siege`), quick: 30 s, or
/// `AMAN_SIEGE_SECS`. No honest check-in is refused, and the server's
/// memory is flat after warm-up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_siege_of_junk_slow_connections_and_long_polls_refuses_no_honest_check_in() {
    use aman_tests::siege::{siege, SIEGE_ENV};
    let _alone = super::LOAD.write().await;
    let secs: u64 = std::env::var("AMAN_SIEGE_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(SIEGE_ENV));
    let r = siege(&server, secs).await.unwrap();
    eprintln!("{r:?}");
    assert_eq!(r.honest_refused, 0, "honest check-ins refused: {r:?}");
    assert!(r.honest_checkins as u64 >= secs * 2, "the members kept checking in: {r:?}");
    assert!(r.junk_slowed > 0 && r.slow_opened > 100, "the siege was on: {r:?}");
    assert!(r.polls_answered > 0, "long-polls were answered: {r:?}");
    assert!(r.rss_end_mib - r.rss_warm_mib < 20.0, "RSS grew after warm-up: {r:?}");
}
