//! Mailboxes that stay cheap, against the real binary: the mailbox soak
//! (see `aman_tests::soak`) for 30 s, or `AMAN_MAILBOX_SOAK_SECS`.

use super::server_env;
use aman_tests::soak::{mailbox_soak, raise_open_file_limit, HELD, SOAK_ENV};
use aman_tests::ServerProcess;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_long_polls_and_a_noisy_member_leave_memory_bounded_and_check_ins_fast() {
    let _alone = super::LOAD.write().await;
    raise_open_file_limit(4_096).unwrap();
    let secs: u64 = std::env::var("AMAN_MAILBOX_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let dir = tempfile::tempdir().unwrap();
    let metrics_addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let mut env = server_env(SOAK_ENV);
    env.push(("AMAN_METRICS_LISTEN", metrics_addr.as_str()));
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &env);
    let r = mailbox_soak(&server, &metrics_addr, secs).await.unwrap();
    eprintln!("{r:?}");
    assert!(r.pairing_capped, "a 33rd mailbox was refused");
    assert!(r.panics as u64 >= secs, "the noisy member kept changing mailboxes: {}", r.panics);
    assert!(r.held_max >= HELD as f64 * 0.95, "the long-polls were held: {r:?}");
    assert_eq!(r.refusals, 0, "no long-poll was refused");
    assert!(r.rss_peak_mib < 200.0, "server RSS peaked at {:.0} MiB", r.rss_peak_mib);
    // The target is 50 ms, measured by the release soak (BENCHMARKS.md:
    // p99 9.5 ms). This quick debug run on a shared two-core machine only
    // guards against the old failure (a median of 121 ms, a maximum of
    // 852 ms): its p99 is about five samples, one stall of the machine
    // moves it (a CI run read 65.6 ms), so it is held to 100 ms or three
    // times its own quiet p99 from this same run, whichever is more.
    let bound = 100.0_f64.max(3.0 * r.quiet_p99_ms);
    assert!(r.p99_ms < bound, "honest check-in p99 {:.1} ms under load, quiet p99 {:.1} ms", r.p99_ms, r.quiet_p99_ms);
}
