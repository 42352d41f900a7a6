//! `kill -9` under concurrent check-in load.

use super::server_env;
use aman_client::api::ApiClient;
use aman_client::ClientError;
use aman_protocol::AlertId;
use aman_tests::{Member, Receiver, ServerProcess};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn api(url: &str) -> ApiClient {
    ApiClient::new(url, None, Duration::from_secs(10)).unwrap()
}

/// What a member's load task saw acknowledged.
#[derive(Default)]
struct Acked {
    /// (counter, deadline) of the last acknowledged check-in.
    last: Option<(u64, u64)>,
    /// How many check-ins were acknowledged.
    checkins: usize,
    alerts: Vec<AlertId>,
}

async fn load(mut m: Member, api: ApiClient, stop: Arc<AtomicBool>, n: usize) -> (Member, Acked) {
    let mut acked = Acked::default();
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        if (i + n) % 40 == 0 {
            match m.panic(&api).await {
                Ok(alert) => acked.alerts.push(alert),
                Err(_) => break,
            }
            continue;
        }
        match m.checkin(&api, 3600, 600, false).await {
            Ok(reply) => {
                acked.last = Some((reply.counter, reply.deadline));
                acked.checkins += 1;
            }
            Err(ClientError::Server { code, .. }) if code == "stale_counter" => {}
            Err(_) => break,
        }
    }
    (m, acked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_acknowledged_checkin_or_alert() {
    let _alone = super::LOAD.write().await;
    let cycles: usize = std::env::var("AMAN_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let receiver = Receiver::start("127.0.0.1:0").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[]));
    let mut members = Vec::new();
    for _ in 0..12 {
        let client = api(&server.url);
        let mut m = Member::new();
        m.register(&client).await.unwrap();
        m.add_contact(&client, 1).await.unwrap();
        m.contacts[0].add_endpoint(&client, "webhook", &format!("{}/hook", receiver.url)).await.unwrap();
        members.push(m);
    }
    let mut expected: HashMap<usize, (u64, u64)> = HashMap::new();
    let mut all_alerts: Vec<AlertId> = Vec::new();
    let mut total_acked = 0usize; // check-ins acknowledged over the run
    for cycle in 0..cycles {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = members
            .drain(..)
            .enumerate()
            .map(|(n, m)| tokio::spawn(load(m, api(&server.url), stop.clone(), n)))
            .collect();
        // Kill at a moment that differs from cycle to cycle.
        let wait = 300 + (aman_protocol::random::random_array::<2>().map(u16::from_be_bytes).unwrap() % 700) as u64;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        let stopped = server.kill9();
        stop.store(true, Ordering::Relaxed);
        for (n, task) in tasks.into_iter().enumerate() {
            let (m, acked) = task.await.unwrap();
            if let Some(last) = acked.last {
                expected.insert(n, last);
            }
            total_acked += acked.checkins;
            all_alerts.extend(acked.alerts);
            members.push(m);
        }
        server = stopped.restart();
        let client = api(&server.url);
        for (n, m) in members.iter_mut().enumerate() {
            let status = m.status(&client).await.unwrap();
            if let Some((counter, deadline)) = expected.get(&n) {
                assert!(
                    status.counter >= *counter,
                    "cycle {cycle}: member {n} lost check-in {counter} (has {})",
                    status.counter
                );
                if status.counter == *counter {
                    assert_eq!(status.deadline, Some(*deadline), "cycle {cycle}: member {n} deadline");
                }
            }
            // Carry on from what the server has (an unacknowledged write may have landed).
            m.counter = status.counter;
        }
        // Every acknowledged alert reaches its contact's mailbox (after the
        // dispatch delay, which a restart does not reset).
        let mut on_server = std::collections::HashSet::new();
        for _ in 0..100 {
            on_server.clear();
            for m in &members {
                on_server.extend(m.contacts[0].mailbox(&client).await.unwrap().alerts.into_iter().map(|a| a.alert));
            }
            if all_alerts.iter().all(|a| on_server.contains(a)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for alert in &all_alerts {
            assert!(on_server.contains(alert), "cycle {cycle}: acknowledged alert {alert} lost");
        }
    }
    assert!(total_acked > 0 && !all_alerts.is_empty(), "the load generator got nothing acknowledged");
    // Every acknowledged alert reaches the webhook; repeats carry the same key.
    let hits = receiver
        .await_hits(Duration::from_secs(60), |hits| {
            all_alerts.iter().all(|a| hits.iter().any(|h| h.body["alert"] == a.to_string()))
        })
        .await;
    let mut keys: HashMap<String, String> = HashMap::new();
    for h in &hits {
        let alert = h.body["alert"].as_str().unwrap().to_owned();
        let key = keys.entry(alert).or_insert_with(|| h.idempotency_key.clone());
        assert_eq!(*key, h.idempotency_key, "a duplicate delivery with a different idempotency key");
    }
    for a in &all_alerts {
        assert!(keys.contains_key(&a.to_string()), "alert {a} never reached its webhook");
    }
    eprintln!(
        "crash run: {cycles} cycles, {total_acked} acknowledged check-ins (each member's last one verified per cycle), {} acknowledged alerts all found and delivered, {} webhook hits",
        all_alerts.len(),
        hits.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_reaches_a_receiver_that_was_down_across_a_kill_9() {
    let _shared = super::LOAD.read().await;
    let dir = tempfile::tempdir().unwrap();
    let port = super::free_port();
    let receiver_addr = format!("127.0.0.1:{port}");
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[]));
    let client = api(&server.url);
    let mut m = Member::new();
    m.register(&client).await.unwrap();
    m.add_contact(&client, 1).await.unwrap();
    m.contacts[0].add_endpoint(&client, "webhook", &format!("http://{receiver_addr}/hook")).await.unwrap();
    let alert = m.panic(&client).await.unwrap();
    // The receiver is down: attempts fail. Then the server dies without warning.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let server = server.kill9().restart();
    let receiver = Receiver::start(&receiver_addr).await.unwrap();
    let hits = receiver.await_hits(Duration::from_secs(30), |h| !h.is_empty()).await;
    assert!(!hits.is_empty(), "the alert never arrived after the restart");
    assert_eq!(hits[0].body["alert"], alert.to_string());
    drop(server);
}

/// A duress check-in is acknowledged with only its sealed signal written:
/// the alert is made when the scheduler reads the signal, after the dispatch
/// delay. A `kill -9` right after the reply must not lose it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_duress_check_in_alerts_after_a_kill_9_before_its_signal_was_read() {
    let _shared = super::LOAD.read().await;
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", super::free_port());
    let env = server_env(&[("AMAN_DISPATCH_DELAY", "20s")]);
    let server = ServerProcess::start(&dir.path().join("server"), &listen, &env);
    let client = api(&server.url);
    let mut m = Member::new();
    m.register(&client).await.unwrap();
    m.add_contact(&client, 1).await.unwrap();
    m.checkin(&client, 3600, 600, true).await.unwrap();
    // The signal is due 10–20 s from now; the server dies at once.
    let server = server.kill9().restart();
    let start = std::time::Instant::now();
    let alerts = loop {
        let contents = m.contacts[0].mailbox(&client).await.unwrap();
        if !contents.alerts.is_empty() || start.elapsed() > Duration::from_secs(40) {
            break contents.alerts;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(alerts.len(), 1, "the duress alert survives the crash");
    assert_eq!(alerts[0].reason, "duress");
    drop(server);
}
