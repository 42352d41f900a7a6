//! Junk cannot lock a member out: failed authentication is counted against
//! the address it came from, and a request that authenticates against its
//! caller only. Behind a reverse proxy or Tor every member shares one
//! address with every attacker.

use super::server_env;
use aman_client::api::{ApiClient, Signer};
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
        let resp = http.post(format!("{}/v2/checkin", server.url)).body("{}").send().await.unwrap();
        if resp.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            slowed += 1;
        }
    }
    assert!(slowed > 0, "the address's budget holds for junk");

    // Forged requests naming the member's account, signed by someone else.
    let forger = aman_protocol::SigningKey::generate().unwrap();
    let signer = Signer { server: member.server_id(), caller: *member.account.as_bytes(), key: &forger };
    for _ in 0..150 {
        let refused = api.call::<(), serde_json::Value>(Method::GET, "/v1/account", None, &signer).await.unwrap_err();
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
            let path = format!("/v1/pairings/{}/reply", "ab".repeat(16));
            let body = serde_json::to_vec(&answer).unwrap();
            assert!(api.send(Method::POST, &path, body, &signer).await.is_err());
        }
    }
    // An old check-in of the member's, captured and replayed.
    let old = member.next_checkin(3600, 600, false, true);
    let _: serde_json::Value = api.post_unsigned("/v2/checkin", &old, 1).await.unwrap();
    member.checkin(&api, 3600, 600, false).await.unwrap();
    for _ in 0..30 {
        let _ = http.post(format!("{}/v2/checkin", server.url)).json(&old).send().await.unwrap();
    }

    // The member, from the same address, still checks in and presses panic.
    member.checkin(&api, 3600, 600, false).await.expect("the check-in goes through");
    member.checkin(&api, 3600, 600, true).await.expect("a duress check-in too");
    member.panic(&api).await.expect("the panic goes through");
    assert_eq!(member.status(&api).await.unwrap().counter, member.counter);
    let mailbox = member.contacts[0].mailbox(&api).await;
    assert!(mailbox.is_ok(), "the contact still reads its mailbox: {mailbox:?}");
}
