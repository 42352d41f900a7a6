//! `aman-server backup` and `aman-server restore` (part of the binary).
//!
//! A backup goes to `FILE.partial` and is renamed to FILE only once it is
//! whole (its last frame arrived) and on disk, so a FILE that exists is a
//! complete backup.

use aman_protocol::duration::format_utc;
use aman_server::backup::{self, Spool, Summary};
use aman_server::clock::{Clock, SystemClock};
use aman_server::config::Config;
use aman_server::engine::stored_format;
use aman_server::keyfile;
use aman_server::store::SledStore;
use anyhow::{bail, Context};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// `aman-server backup --to FILE`.
pub fn backup(config: &Config, to: &Path, json: bool) -> anyhow::Result<()> {
    let mut out = Output::open(to)?;
    let result = match UnixStream::connect(config.admin_socket()) {
        Ok(stream) => from_running(stream, &mut out),
        // No server answers (none runs, or a stale socket of one that died).
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => {
            from_stopped(config, &mut out)
        }
        Err(e) => Err(anyhow::Error::new(e)
            .context(format!("reaching the running server at {}", config.admin_socket().display()))),
    };
    let summary = match result {
        Ok(summary) => summary,
        Err(e) => {
            out.discard();
            return Err(e);
        }
    };
    let written = out.commit()?; // (a failed commit removes what it wrote)
    let key = config.key_file();
    if json {
        let mut value = serde_json::json!({
            "file": written.as_ref().map(|p| p.display().to_string()),
            "bytes": summary.bytes,
            "server": summary.header.server.to_string(),
            "format": summary.header.format,
            "created": summary.header.created,
        });
        if summary.records > 0 {
            value["records"] = summary.records.into();
        }
        report(written.is_none(), &value.to_string());
    } else {
        let place = written.as_ref().map_or("standard output".to_owned(), |p| p.display().to_string());
        let records = if summary.records > 0 { format!(", {} records", summary.records) } else { String::new() };
        report(
            written.is_none(),
            &format!(
                "Backup written to {place}: {} bytes{records}, server {}, storage format {}, taken {}.\n\
                 It is sealed with the server key and does not contain it: keep a copy of the \
                 server key ({}, or the file your service manager hands the server) somewhere \
                 else, or this backup cannot be restored.",
                summary.bytes,
                summary.header.server,
                summary.header.format,
                format_utc(summary.header.created),
                key.display()
            ),
        );
    }
    Ok(())
}

/// Where a report goes: standard error when the backup itself went to
/// standard output.
fn report(to_stderr: bool, text: &str) {
    if to_stderr {
        eprintln!("{text}");
    } else {
        println!("{text}");
    }
}

/// Asks the running server for a backup and keeps what it sends, checking
/// its framing: a stream that stops before its last frame is refused.
fn from_running(stream: UnixStream, out: &mut Output) -> anyhow::Result<Summary> {
    let mut request = serde_json::to_string(&aman_server::admin::AdminRequest::Backup)?;
    request.push('\n');
    (&stream).write_all(request.as_bytes()).context("asking the running server for a backup")?;
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    reader.read_line(&mut line).context("reading the server's answer")?;
    match serde_json::from_str(&line) {
        Ok(aman_server::admin::AdminReply::BackupFollows) => {}
        Ok(aman_server::admin::AdminReply::Error { message }) => bail!("{message}"),
        _ => bail!("the server did not answer with a backup (is it an older version?)"),
    }
    let mut tee = Tee { inner: reader, out, write_failed: None };
    let checked = backup::check_framing(&mut tee);
    if let Some(e) = tee.write_failed {
        return Err(anyhow::Error::new(e).context("writing the backup"));
    }
    checked.map_err(|e| match e {
        backup::BackupError::CutShort(_) => anyhow::anyhow!(
            "the server stopped sending the backup before its end (see the server's log); nothing was kept"
        ),
        other => other.into(),
    })
}

/// Backs up a stopped server's database directly.
fn from_stopped(config: &Config, out: &mut Output) -> anyhow::Result<Summary> {
    let db = config.db_dir();
    if !db.exists() {
        bail!("no database at {} (pass --data or --config for the server's data directory)", db.display());
    }
    let key_path = config.key_file();
    let key = keyfile::load(&key_path).with_context(|| {
        format!(
            "reading the server key {} (set server_key_file, or run this while the server runs)",
            key_path.display()
        )
    })?;
    // Written to an unnamed spool first, so the database (which a server
    // restarting meanwhile waits for) is closed before a slow output is.
    let mut spool = std::io::BufWriter::new(Spool::create(&config.data_dir)?);
    let summary = {
        let store =
            SledStore::open(&db).context("opening the database (is a server running without its admin socket?)")?;
        check_key(&store, &key, &key_path)?;
        let format = stored_format(&store)?;
        backup::write(&store, &key, format, SystemClock.now(), &mut spool)?
    };
    let mut spool = spool.into_inner().map_err(|e| e.into_error())?.rewind()?;
    std::io::copy(&mut spool, out).context("writing the backup")?;
    Ok(summary)
}

/// Refuses a key that is not the one the database was written with.
fn check_key(store: &SledStore, key: &aman_protocol::at_rest::ServerKey, path: &Path) -> anyhow::Result<()> {
    use aman_server::store::Store;
    let recorded = store.meta(aman_server::serve::KEY_CHECK)?;
    if recorded.is_some_and(|r| r != key.tag(aman_server::serve::KEY_CHECK_LABEL, &[])) {
        bail!("{} is not the key this database was written with", path.display());
    }
    Ok(())
}

/// A reader that writes what it reads, keeping a failure to write apart
/// from one to read (a full disk is not the server's fault).
struct Tee<'a, R> {
    inner: R,
    out: &'a mut Output,
    write_failed: Option<std::io::Error>,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Err(e) = self.out.write_all(&buf[..n]) {
            let kind = e.kind();
            self.write_failed = Some(e);
            return Err(kind.into());
        }
        Ok(n)
    }
}

/// The backup's destination.
enum Output {
    /// Standard output, through its own descriptor: Rust's `Stdout` treats
    /// a closed one as a sink, and a backup that went nowhere must fail.
    Stdout(File),
    File {
        file: std::io::BufWriter<File>,
        partial: PathBuf,
        target: PathBuf,
    },
}

impl Output {
    fn open(to: &Path) -> anyhow::Result<Self> {
        if to == Path::new("-") {
            use std::os::fd::AsFd;
            let fd = std::io::stdout().as_fd().try_clone_to_owned().context("standard output is closed")?;
            let file = File::from(fd);
            // A closed standard output is reopened on /dev/null at start-up:
            // a backup sent there would go nowhere, and say it went.
            let null = std::fs::metadata("/dev/null").ok().map(|m| std::os::unix::fs::MetadataExt::rdev(&m));
            let ours = file.metadata()?;
            if ours.file_type().is_char_device() && Some(std::os::unix::fs::MetadataExt::rdev(&ours)) == null {
                bail!("standard output is /dev/null (or was closed): the backup would go nowhere");
            }
            if std::io::IsTerminal::is_terminal(&file) {
                bail!("standard output is a terminal: send the backup to a file or a pipe");
            }
            return Ok(Output::Stdout(file));
        }
        if to.exists() {
            bail!("{} exists: a backup never replaces a file; choose a new name", to.display());
        }
        let mut partial = to.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial)
            .with_context(|| format!("creating {} (remove it if an earlier backup left it)", partial.display()))?;
        Ok(Output::File { file: std::io::BufWriter::new(file), partial, target: to.to_owned() })
    }

    /// Makes the backup durable under its name; the file's path, or `None`
    /// for standard output.
    fn commit(self) -> anyhow::Result<Option<PathBuf>> {
        match self {
            Output::Stdout(mut out) => {
                out.flush()?;
                Ok(None)
            }
            Output::File { file, partial, target } => {
                let kept = (|| -> std::io::Result<()> {
                    let file = file.into_inner().map_err(|e| e.into_error())?;
                    file.sync_all()?;
                    std::fs::rename(&partial, &target)?;
                    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                    File::open(dir)?.sync_all()
                })();
                if let Err(e) = kept {
                    let _ = std::fs::remove_file(&partial);
                    return Err(anyhow::Error::new(e).context(format!("writing {}", target.display())));
                }
                Ok(Some(target))
            }
        }
    }

    /// Removes what a failed backup wrote.
    fn discard(self) {
        if let Output::File { partial, .. } = self {
            let _ = std::fs::remove_file(partial);
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Output::Stdout(out) => out.write(buf),
            Output::File { file, .. } => file.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::Stdout(out) => out.flush(),
            Output::File { file, .. } => file.flush(),
        }
    }
}

/// `aman-server restore --from FILE [--key KEY]` into the data directory.
pub fn restore(config: &Config, from: &Path, key: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let key_path = key.map_or_else(|| config.key_file(), Path::to_owned);
    let server_key = match keyfile::load(&key_path) {
        Ok(k) => k,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "no server key at {}: a backup opens only with the key of the server that made it; pass --key FILE",
            key_path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("reading the server key {}", key_path.display())),
    };
    let mut input: Box<dyn Read> = if from == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(File::open(from).with_context(|| format!("opening {}", from.display()))?)
    };
    let mut input = BufReader::with_capacity(1 << 20, &mut input);
    let summary = backup::restore(&server_key, &mut input, &config.data_dir)?;
    let configured = config.key_file();
    let key_elsewhere = configured != key_path && !configured.exists();
    if json {
        let value = serde_json::json!({
            "data_dir": config.data_dir.display().to_string(),
            "records": summary.records,
            "server": summary.header.server.to_string(),
            "format": summary.header.format,
            "created": summary.header.created,
            "key_file": configured.display().to_string(),
            "key_in_place": !key_elsewhere,
        });
        println!("{value}");
        return Ok(());
    }
    println!(
        "Restored {} records into {} from a backup of server {} taken {}.",
        summary.records,
        config.data_dir.display(),
        summary.header.server,
        format_utc(summary.header.created)
    );
    if key_elsewhere {
        println!(
            "Without further settings the server reads its key from {}: before starting it, copy {} there, \
             or point server_key_file at where you keep it (a service under systemd gets it as a credential \
             instead; see docs/operating.md).",
            configured.display(),
            key_path.display()
        );
    }
    let age = SystemClock.now().saturating_sub(summary.header.created);
    println!(
        "The backup is {} old. The server will be as it was then: check-ins, alerts (duress alerts too), \
         acknowledgements, contacts, key rotations, revoked invites and deleted accounts since then are \
         undone. Revoke those invites and delete those accounts again, and tell members to check in and to \
         check their contacts and keys.",
        aman_protocol::duration::format_duration(age)
    );
    println!(
        "When it starts, deadlines that passed since the backup was taken move to start-up plus outage_grace, once."
    );
    Ok(())
}
