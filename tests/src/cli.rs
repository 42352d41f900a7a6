//! The `aman` program as a person (or a captor) runs it.

use crate::process::binary;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// Runs `aman --home HOME --passphrase-stdin ARGS` with `stdin` as its
/// input (Argon2 at test costs) and returns what it printed.
pub fn aman(home: &Path, stdin: &str, args: &[&str]) -> Output {
    aman_env(home, stdin, args, &[])
}

/// [`aman`] with extra environment variables.
pub fn aman_env(home: &Path, stdin: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    spawn_aman(home, stdin, args, env).wait_with_output().unwrap()
}

/// Starts `aman` as [`aman_env`] does, with `stdin` already written, and
/// returns it running (for `aman alerts watch`).
pub fn spawn_aman(home: &Path, stdin: &str, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut child = Command::new(binary("aman"))
        .arg("--home")
        .arg(home)
        .arg("--passphrase-stdin")
        .args(args)
        .env("AMAN_INSECURE_TEST_KDF", "1")
        // Times are printed in the device's zone: the tests compare them in UTC.
        .env("TZ", "UTC")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child
}
