//! The real binaries as child processes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Path of a workspace binary in the profile that built this test, building
/// it first if needed (a plain `cargo test -p aman-tests` does not).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> or target/<profile>/<bin>
    let mut dir = exe.parent().unwrap().to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    if !path.exists() {
        let release = dir.ends_with("release");
        let package = if name == "aman" { "aman-client" } else { "aman-server" };
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args(["build", "-q", "-p", package, "--bin", name]);
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("running cargo build");
        assert!(status.success(), "building {name} failed");
    }
    path
}

/// A running `aman-server` process.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    env: Vec<(String, String)>,
    listen: String,
    open_files: Option<u64>,
}

impl ServerProcess {
    /// Starts the binary on `data_dir` listening on `listen` (`127.0.0.1:0`
    /// for any port), with `AMAN_*` settings in `env`.
    pub fn start(data_dir: &Path, listen: &str, env: &[(&str, &str)]) -> Self {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Self::spawn(data_dir.to_owned(), listen.to_owned(), env, None)
    }

    /// Like [`ServerProcess::start`], with the process's open-file limit
    /// (soft and hard) set to `limit` (by util-linux `prlimit`).
    pub fn start_with_open_files(data_dir: &Path, listen: &str, env: &[(&str, &str)], limit: u64) -> Self {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Self::spawn(data_dir.to_owned(), listen.to_owned(), env, Some(limit))
    }

    fn spawn(data_dir: PathBuf, listen: String, env: Vec<(String, String)>, open_files: Option<u64>) -> Self {
        let mut command = match open_files {
            Some(limit) => {
                let mut prlimit = Command::new("prlimit");
                prlimit.arg(format!("--nofile={limit}:{limit}")).arg("--").arg(binary("aman-server"));
                prlimit
            }
            None => Command::new(binary("aman-server")),
        };
        let mut child = command
            .args(["--data"])
            .arg(&data_dir)
            .args(["serve", "--listen", &listen])
            .env("AMAN_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting aman-server");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("aman-server listening on ")
            .unwrap_or_else(|| panic!("unexpected: {line}"))
            .to_owned();
        ServerProcess { child, url, data_dir, env, listen, open_files }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: no shutdown, no flush.
    pub fn kill9(mut self) -> Restartable {
        let _ = self.child.kill();
        let _ = self.child.wait();
        Restartable {
            data_dir: self.data_dir.clone(),
            env: std::mem::take(&mut self.env),
            listen: self.listen.clone(),
            open_files: self.open_files,
        }
    }

    /// SIGTERM and wait: a clean shutdown.
    pub fn stop(mut self) -> Restartable {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Restartable {
            data_dir: self.data_dir.clone(),
            env: std::mem::take(&mut self.env),
            listen: self.listen.clone(),
            open_files: self.open_files,
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A stopped server that can be started again on the same data.
#[derive(Debug)]
pub struct Restartable {
    data_dir: PathBuf,
    env: Vec<(String, String)>,
    listen: String,
    open_files: Option<u64>,
}

impl Restartable {
    /// Starts it again (on a new port if it had port 0).
    pub fn restart(self) -> ServerProcess {
        ServerProcess::spawn(self.data_dir, self.listen, self.env, self.open_files)
    }
}
