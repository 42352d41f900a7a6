//! What an organizer trips over (issue 16, the server's side): a
//! duration that does not read says how to write one.

use aman_tests::binary;
use std::path::Path;
use std::process::{Command, Output};

/// `aman-server --data DATA ARGS` with exactly `env` (nothing inherited but `PATH`).
fn server_cmd(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(binary("aman-server"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_duration_that_does_not_read_says_how_to_write_one() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let out = server_cmd(&data, &["invite", "create", "--expires", "7x"], &[]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let said = text(&out.stderr);
    assert!(said.contains("`7x` is not a duration: write it like 30s, 10m, 6h or 7d"), "{said}");
    assert!(!said.contains("malformed"), "{said}");
    // The same words for a configuration value.
    let out = server_cmd(&data, &["stats"], &[("AMAN_MIN_INTERVAL", "5 parsecs")]);
    assert!(text(&out.stderr).contains("`min_interval`: `5 parsecs` is not a duration: write it like 30s"));
}
