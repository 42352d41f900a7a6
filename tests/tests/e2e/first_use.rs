//! What a new organizer and member trip over (issue 16, the parts done):
//! invite commands that say what they did, and a mistyped proxy that is an
//! error rather than a direct connection.

use super::server_env;
use aman_tests::{aman, aman_env, binary, ServerProcess};
use std::path::Path;
use std::process::{Command, Output};

fn admin(data: &Path, args: &[&str]) -> Output {
    Command::new(binary("aman-server")).arg("--data").arg(data).args(args).output().unwrap()
}

#[test]
fn invite_commands_refuse_nonsense_and_say_when() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    // The database exists once a server has started on it.
    drop(ServerProcess::start(&data, "127.0.0.1:0", &server_env(&[])));

    let zero = admin(&data, &["invite", "create", "--uses", "0"]);
    assert_eq!(zero.status.code(), Some(2), "an invite nobody can use is refused");
    let made = admin(&data, &["--json", "invite", "create", "--uses", "2", "--expires", "7d"]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let list = String::from_utf8_lossy(&admin(&data, &["invite", "list"]).stdout).into_owned();
    assert!(list.contains(" UTC") && list.contains("uses left 2"), "expiry as a date: {list}");

    let unknown = admin(&data, &["invite", "revoke", "nosuchid"]);
    assert_eq!(unknown.status.code(), Some(1), "revoking nothing is an error");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no active invite"));
    let id: serde_json::Value = serde_json::from_slice(&made.stdout).unwrap();
    let revoked = admin(&data, &["invite", "revoke", id["id"].as_str().unwrap()]);
    assert!(revoked.status.success());
    assert_eq!(admin(&data, &["invite", "revoke", id["id"].as_str().unwrap()]).status.code(), Some(1), "twice");
}

#[test]
fn a_mistyped_proxy_never_connects_directly() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let server = ServerProcess::start(&data, "127.0.0.1:0", &server_env(&[]));
    let home = dir.path().join("member");
    let typo = aman(
        &home,
        "n0rmal-river-lamp\ndur3ss-cloud-fig\n",
        &["--proxy", "sock5h://127.0.0.1:9050", "init", "--server", &server.url],
    );
    assert!(!typo.status.success());
    assert!(
        String::from_utf8_lossy(&typo.stderr).contains("not a proxy URL"),
        "{}",
        String::from_utf8_lossy(&typo.stderr)
    );
    let from_env = aman_env(
        &home,
        "n0rmal-river-lamp\ndur3ss-cloud-fig\n",
        &["init", "--server", &server.url],
        &[("AMAN_PROXY", "tor")],
    );
    assert!(!from_env.status.success(), "AMAN_PROXY is read, and checked too");
    let stats: serde_json::Value = serde_json::from_slice(&admin(&data, &["--json", "stats"]).stdout).unwrap();
    assert_eq!(stats["accounts"], 0, "nothing reached the server");
    let no_scheme = aman(&home, "n0rmal-river-lamp\ndur3ss-cloud-fig\n", &["init", "--server", "aman.example.org"]);
    assert!(String::from_utf8_lossy(&no_scheme.stderr).contains("https://aman.example.org"));
}
