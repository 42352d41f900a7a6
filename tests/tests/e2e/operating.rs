//! Operating a server: a backup taken under check-in load, the server
//! killed, the backup restored into a new directory and started there.

use super::server_env;
use aman_client::api::ApiClient;
use aman_client::ClientError;
use aman_protocol::kinds::AlertReason;
use aman_protocol::AlertId;
use aman_tests::process::binary;
use aman_tests::{Member, ServerProcess};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn api(url: &str) -> ApiClient {
    ApiClient::new(url, None, Duration::from_secs(10)).unwrap()
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The last acknowledged check-in (counter, deadline) and the panics
/// acknowledged, per member, as the load saw them.
#[derive(Default, Clone)]
struct Acked {
    last: Option<(u64, u64)>,
    alerts: Vec<AlertId>,
}

async fn load(mut m: Member, api: ApiClient, stop: Arc<AtomicBool>, seen: Arc<Mutex<Acked>>, n: usize) -> Member {
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        if (i + n) % 25 == 0 {
            match m.panic(&api).await {
                Ok(alert) => seen.lock().unwrap().alerts.push(alert),
                Err(_) => break,
            }
            continue;
        }
        match m.checkin(&api, 3600, 600, n % 3 == 0).await {
            Ok(reply) => seen.lock().unwrap().last = Some((reply.counter, reply.deadline)),
            Err(ClientError::Server { code, .. }) if code == "stale_counter" => {}
            Err(_) => break, // the server was killed
        }
    }
    m
}

fn admin(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(binary("aman-server")).arg("--data").arg(data).args(args).env("NO_COLOR", "1").output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_survives_a_kill_9_and_restores_with_the_outage_rule() {
    let _alone = super::LOAD.write().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let env = server_env(&[("AMAN_OUTAGE_GRACE", "8s")]);
    let server = ServerProcess::start(&data, "127.0.0.1:0", &env);
    let client = api(&server.url);
    let mut members = Vec::new();
    for _ in 0..8 {
        let mut m = Member::new();
        m.register(&client).await.unwrap();
        m.add_contact(&client, 1).await.unwrap();
        members.push(m);
    }
    // A member whose deadline passes while the server is down.
    let mut late = Member::new();
    late.register(&client).await.unwrap();
    late.add_contact(&client, 1).await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let seen: Vec<Arc<Mutex<Acked>>> = (0..members.len()).map(|_| Arc::default()).collect();
    let tasks: Vec<_> = members
        .drain(..)
        .enumerate()
        .map(|(n, m)| tokio::spawn(load(m, api(&server.url), stop.clone(), seen[n].clone(), n)))
        .collect();
    // Until the load has check-ins acknowledged for most members and a
    // panic for one (a fixed wait was too short on a stalled machine).
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        let got: Vec<Acked> = seen.iter().map(|s| s.lock().unwrap().clone()).collect();
        if got.iter().filter(|a| a.last.is_some()).count() >= 6 && got.iter().any(|a| !a.alerts.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Due in 3 s: after the backup, before the restored server starts.
    let due = late.checkin(&client, 2, 1, false).await.unwrap().deadline;
    // What was acknowledged before the backup began.
    let before: Vec<Acked> = seen.iter().map(|s| s.lock().unwrap().clone()).collect();
    let file = dir.path().join("backup.aman");
    let backup = {
        let (data, file) = (data.clone(), file.clone());
        tokio::task::spawn_blocking(move || admin(&data, &["backup", "--to", file.to_str().unwrap()])).await.unwrap()
    };
    assert!(backup.status.success(), "backup: {}", String::from_utf8_lossy(&backup.stderr));
    let said = String::from_utf8_lossy(&backup.stdout);
    assert!(said.contains("Backup written to") && said.contains("keep a copy of"), "{said}");
    // The load goes on past the backup, then the server dies without warning.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopped = server.kill9();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        members.push(task.await.unwrap());
    }
    let acked_before: usize = before.iter().filter(|a| a.last.is_some()).count();
    assert!(acked_before >= 6, "the load got check-ins acknowledged before the backup ({acked_before} members)");
    drop(stopped);

    // Only its header is in clear (server/tests/backup.rs shows the rest is sealed).
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"AMANBAK\x01"));
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions()) & 0o777,
        0o600
    );

    // Restore into a new directory: refused without the key, then with it.
    while unix_now() <= due + 1 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let restored = dir.path().join("restored");
    let refused = admin(&restored, &["restore", "--from", file.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no server key"), "{refused:?}");
    assert!(!restored.join("db").exists());
    let key = dir.path().join("server.key");
    let restore = admin(&restored, &["restore", "--from", file.to_str().unwrap(), "--key", key.to_str().unwrap()]);
    assert!(restore.status.success(), "restore: {}", String::from_utf8_lossy(&restore.stderr));
    let said = String::from_utf8_lossy(&restore.stdout);
    assert!(said.contains("Restored") && said.contains("restored.key"), "{said}");
    // Restoring again over it is refused.
    let again = admin(&restored, &["restore", "--from", file.to_str().unwrap(), "--key", key.to_str().unwrap()]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("not empty"));
    std::fs::copy(&key, dir.path().join("restored.key")).unwrap();

    let starting = unix_now();
    let server = ServerProcess::start(&restored, "127.0.0.1:0", &env);
    let started = unix_now();
    let client = api(&server.url);

    // Every check-in acknowledged before the backup began is there.
    for (n, m) in members.iter().enumerate() {
        let status = m.status(&client).await.unwrap();
        if let Some((counter, deadline)) = before[n].last {
            assert!(status.counter >= counter, "member {n} lost check-in {counter} (has {})", status.counter);
            if status.counter == counter {
                assert_eq!(status.deadline, Some(deadline), "member {n}'s deadline");
            }
        }
    }
    // And every panic acknowledged before it reaches its contact's mailbox
    // (after the dispatch delay, which a restore does not reset).
    let wanted: Vec<(usize, AlertId)> =
        before.iter().enumerate().flat_map(|(n, a)| a.alerts.iter().map(move |alert| (n, *alert))).collect();
    assert!(!wanted.is_empty(), "the load got panics acknowledged before the backup");
    let mut missing = wanted.clone();
    for _ in 0..100 {
        let mut found = Vec::new();
        for (n, alert) in &missing {
            let mailbox = members[*n].contacts[0].mailbox(&client).await.unwrap();
            if mailbox.alerts.iter().any(|a| a.alert == *alert) {
                found.push(*alert);
            }
        }
        missing.retain(|(_, a)| !found.contains(a));
        if missing.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(missing.is_empty(), "acknowledged panics lost in the restore: {missing:?}");

    // The deadline that passed while the server was down moved to
    // start-up + outage_grace, once: no alert yet, then one.
    let status = late.status(&client).await.unwrap();
    let moved = status.deadline.expect("the late member is still armed");
    assert!(
        (starting + 8..=started + 8).contains(&moved),
        "deadline {due} passed during the outage: moved to {moved}, expected start-up ({starting}..{started}) + 8 s"
    );
    assert!(late.contacts[0].mailbox(&client).await.unwrap().alerts.is_empty(), "alerted before the moved deadline");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let alerts = loop {
        let alerts = late.contacts[0].mailbox(&client).await.unwrap().alerts;
        if !alerts.is_empty() || std::time::Instant::now() > deadline {
            break alerts;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(alerts.len(), 1, "the moved deadline fires once");
    assert!(alerts[0].reason == AlertReason::Missed, "{:?}", alerts[0].reason);
    assert!(unix_now() >= moved, "it fired at the moved deadline, not before");
}

/// A server that cannot start until the organizer acts (its key file gone,
/// or another key in its place) exits 2, as for a configuration it refuses,
/// so the unit's `RestartPreventExitStatus=2` stops restarting it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_wrong_key_exits_2_so_the_service_stops_restarting() {
    let _shared = super::LOAD.read().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let server = ServerProcess::start(&data, "127.0.0.1:0", &server_env(&[]));
    let mut m = Member::new();
    m.register(&api(&server.url)).await.unwrap();
    drop(server.stop());
    let key = dir.path().join("server.key");
    let kept = std::fs::read(&key).unwrap();
    let serve = || admin(&data, &["serve", "--listen", "127.0.0.1:0"]);

    std::fs::remove_file(&key).unwrap();
    let out = serve();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is missing"));
    assert!(!key.exists(), "no new key was made for a database that had one");

    std::fs::write(&key, [9u8; 32]).unwrap();
    let out = serve();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not the key"));

    std::fs::write(&key, kept).unwrap();
    let server = ServerProcess::start(&data, "127.0.0.1:0", &server_env(&[]));
    m.status(&api(&server.url)).await.unwrap();
}
