//! Organizer commands: registration invites and stats. They work whether or
//! not the server runs: sled admits one process, so while the server runs
//! they go through a Unix socket in the data directory (mode 0600), and
//! otherwise they open the database directly.

use crate::backup::{BackupError, Spool, Summary};
use crate::clock::Clock;
use crate::store::{InviteRecord, Op, Stats, Store, StoreError};
use aman_protocol::hash::sha256;
use aman_protocol::random::random_array;
use aman_protocol::ServerId;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// An admin request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum AdminRequest {
    /// Create a registration invite.
    InviteCreate {
        /// How many registrations it allows.
        uses: u32,
        /// Seconds until it expires.
        expires_in: Option<u64>,
    },
    /// List invites.
    InviteList,
    /// Revoke an invite by its short id.
    InviteRevoke {
        /// The short id from `invite list`.
        id: String,
    },
    /// Counts.
    Stats,
    /// A backup: the reply line is followed by the backup's bytes.
    Backup,
}

/// An invite as `invite list` shows it (never the code: only its hash is stored).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InviteInfo {
    /// Short id.
    pub id: String,
    /// Registrations left.
    pub uses_left: u32,
    /// Expiry.
    pub expires_at: Option<u64>,
    /// Revoked.
    pub revoked: bool,
}

/// An admin reply.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum AdminReply {
    /// A new invite: the code is shown this once.
    Invite {
        /// The code to hand to the member.
        code: String,
        /// Its short id.
        id: String,
    },
    /// The invites.
    Invites {
        /// The list.
        invites: Vec<InviteInfo>,
    },
    /// Whether an invite was revoked.
    Revoked {
        /// True if it existed.
        revoked: bool,
    },
    /// Counts.
    Stats(Stats),
    /// The backup's bytes follow this line, up to the end of the stream.
    BackupFollows,
    /// A failure.
    Error {
        /// What went wrong.
        message: String,
    },
}

/// Prefix of registration invite codes. A code is
/// `amanreg2-<secret>-<server id>`: the member's client checks that the
/// server it reaches has that id (a hash of the key registrations are sealed
/// to), so nobody on the path can stand in for the server at `init`.
pub const INVITE_CODE_PREFIX: &str = "amanreg2-";

/// Counts the armed deadlines. They are sealed at rest: a running server
/// reads its schedule, a stopped one opens every live state with the key.
pub type ArmedCount = Arc<dyn Fn() -> Result<u64, StoreError> + Send + Sync>;

/// Writes a backup of the running server to the writer it is given
/// (`crate::backup::write` with the server's key and format).
pub type BackupWriter = Arc<dyn Fn(&mut dyn std::io::Write) -> Result<Summary, BackupError> + Send + Sync>;

/// What the admin socket serves from.
#[derive(Clone)]
pub struct AdminContext {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// This server's id (written into invite codes).
    pub server: ServerId,
    /// Counts the armed deadlines.
    pub armed: ArmedCount,
    /// Writes a backup.
    pub backup: BackupWriter,
    /// Where a backup is spooled before it is sent (the data directory).
    pub spool_dir: PathBuf,
    /// One backup is taken and sent at a time.
    pub sending: Arc<tokio::sync::Semaphore>,
}

/// Runs one admin request against a store and makes it durable. `server` is
/// this server's id, written into invite codes.
pub fn execute(
    store: &dyn Store,
    clock: &dyn Clock,
    server: ServerId,
    armed: &ArmedCount,
    req: AdminRequest,
) -> Result<AdminReply, StoreError> {
    let now = clock.now();
    let reply = match req {
        AdminRequest::InviteCreate { uses, expires_in } => {
            let secret: [u8; 20] = random_array().map_err(|e| StoreError::Backend(e.to_string()))?;
            let secret = data_encoding::BASE32_NOPAD.encode(&secret).to_ascii_lowercase();
            let code = format!("{INVITE_CODE_PREFIX}{secret}-{server}");
            let hash = sha256(code.as_bytes());
            let id = data_encoding::HEXLOWER.encode(&hash[..6]);
            let record = InviteRecord {
                id: id.clone(),
                created: now,
                expires_at: expires_in.map(|s| now.saturating_add(s)),
                uses_left: uses.max(1),
                revoked: false,
            };
            store.apply(vec![Op::PutInvite(hash, record)])?;
            AdminReply::Invite { code, id }
        }
        AdminRequest::InviteList => AdminReply::Invites {
            invites: store
                .invites()?
                .into_iter()
                .map(|(_, r)| InviteInfo {
                    id: r.id,
                    uses_left: r.uses_left,
                    expires_at: r.expires_at,
                    revoked: r.revoked,
                })
                .collect(),
        },
        AdminRequest::InviteRevoke { id } => {
            let mut revoked = false;
            for (hash, mut record) in store.invites()? {
                if record.id == id && !record.revoked {
                    record.revoked = true;
                    store.apply(vec![Op::PutInvite(hash, record)])?;
                    revoked = true;
                }
            }
            AdminReply::Revoked { revoked }
        }
        AdminRequest::Stats => AdminReply::Stats(Stats { armed_deadlines: armed()?, ..store.stats()? }),
        AdminRequest::Backup => AdminReply::Error { message: "a backup is streamed, not answered".into() },
    };
    store.durable().wait_blocking()?;
    Ok(reply)
}

/// Serves admin requests on the socket until the listener is dropped.
pub async fn serve_socket(listener: UnixListener, context: AdminContext) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let context = context.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            if BufReader::new(read).read_line(&mut line).await.is_err() {
                return;
            }
            let reply = match serde_json::from_str::<AdminRequest>(&line) {
                Ok(AdminRequest::Backup) => match context.sending.clone().try_acquire_owned() {
                    // One spool at a time: callers that never read cannot pile them up.
                    Ok(_one) => return stream_backup(write, context.backup, context.spool_dir).await,
                    Err(_) => AdminReply::Error {
                        message: "a backup is already being taken or sent; try again when it ends".into(),
                    },
                },
                Ok(req) => {
                    let AdminContext { store, clock, server, armed, .. } = context;
                    tokio::task::spawn_blocking(move || execute(store.as_ref(), clock.as_ref(), server, &armed, req))
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|r| r.map_err(|e| e.to_string()))
                        .unwrap_or_else(|message| AdminReply::Error { message })
                }
                Err(e) => AdminReply::Error { message: format!("bad request: {e}") },
            };
            let mut text = serde_json::to_string(&reply).unwrap_or_default();
            text.push('\n');
            let _ = write.write_all(text.as_bytes()).await;
        });
    }
}

/// Writes the backup to a spool file first, then sends
/// [`AdminReply::BackupFollows`] and the spool. The export (which may hold
/// writes off if they outrun it) never waits on the caller: a caller that
/// reads slowly, or not at all, holds only its own spool. A backup that
/// fails is answered with [`AdminReply::Error`].
async fn stream_backup(mut write: tokio::net::unix::OwnedWriteHalf, backup: BackupWriter, spool_dir: PathBuf) {
    let spooled = tokio::task::spawn_blocking(move || -> Result<(std::fs::File, Summary), BackupError> {
        let mut spool = std::io::BufWriter::new(Spool::create(&spool_dir)?);
        let summary = backup(&mut spool)?;
        let spool = spool.into_inner().map_err(|e| e.into_error())?.rewind()?;
        Ok((spool, summary))
    })
    .await;
    let (spool, summary) = match spooled {
        Ok(Ok(done)) => done,
        failed => {
            let message = match failed {
                Ok(Err(e)) => e.to_string(),
                Err(e) => e.to_string(),
                Ok(Ok(_)) => String::new(),
            };
            tracing::error!(error = %message, "backup failed");
            let mut text = serde_json::to_string(&AdminReply::Error { message }).unwrap_or_default();
            text.push('\n');
            let _ = write.write_all(text.as_bytes()).await;
            return;
        }
    };
    let mut text = serde_json::to_string(&AdminReply::BackupFollows).unwrap_or_default();
    text.push('\n');
    // A blocking thread reads the spool into a short queue; it ends when the
    // spool is sent or the queue is dropped (the caller went away or timed out).
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    tokio::task::spawn_blocking(move || {
        let mut spool = spool;
        loop {
            let mut chunk = vec![0u8; SEND_CHUNK];
            let read = spool.read(&mut chunk).map(|n| {
                chunk.truncate(n);
                chunk
            });
            let end = matches!(&read, Ok(c) if c.is_empty()) || read.is_err();
            if tx.blocking_send(read).is_err() || end {
                return;
            }
        }
    });
    // Each write must make progress within the idle timeout: a slow
    // caller is fine, one that stopped reading lets go of its spool.
    let idle = |e: tokio::time::error::Elapsed| std::io::Error::new(std::io::ErrorKind::TimedOut, e);
    let sent = async {
        tokio::time::timeout(BACKUP_IDLE_TIMEOUT, write.write_all(text.as_bytes())).await.map_err(idle)??;
        while let Some(chunk) = rx.recv().await {
            let chunk = chunk?;
            if chunk.is_empty() {
                break;
            }
            tokio::time::timeout(BACKUP_IDLE_TIMEOUT, write.write_all(&chunk)).await.map_err(idle)??;
        }
        write.shutdown().await
    };
    match sent.await {
        Ok(()) => tracing::info!(records = summary.records, bytes = summary.bytes, "backup sent"),
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            tracing::warn!("backup not delivered: the caller stopped reading")
        }
        Err(e) => tracing::warn!(error = %e, "backup not delivered: the caller went away"),
    }
}

/// Bytes read from the spool, and sent, at a time.
const SEND_CHUNK: usize = 64 * 1024;

/// How long one chunk may take to send: a caller reading at 600 bytes a
/// second keeps its backup; one that stopped reading lets go of its spool.
const BACKUP_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Sends one request to a running server's socket; `None` if none is listening.
pub async fn call_socket(socket: &Path, req: &AdminRequest) -> Option<Result<AdminReply, String>> {
    let stream = UnixStream::connect(socket).await.ok()?;
    let (read, mut write) = stream.into_split();
    let result = async {
        let mut text = serde_json::to_string(req).map_err(|e| e.to_string())?;
        text.push('\n');
        write.write_all(text.as_bytes()).await.map_err(|e| e.to_string())?;
        let mut line = String::new();
        BufReader::new(read).read_line(&mut line).await.map_err(|e| e.to_string())?;
        serde_json::from_str(&line).map_err(|e| e.to_string())
    }
    .await;
    Some(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aman_protocol::backup::Header;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// The export behind a backup finishes whatever the caller does: one
    /// that asks and never reads holds only its spool, not the store.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_never_reads_does_not_hold_the_export() {
        let dir = tempfile::tempdir().unwrap();
        let finished = Arc::new(AtomicBool::new(false));
        let backup: BackupWriter = {
            let finished = finished.clone();
            Arc::new(move |out| {
                // Far more than a socket and a queue hold.
                for _ in 0..160 {
                    out.write_all(&[7u8; 128 * 1024])?;
                }
                finished.store(true, Ordering::SeqCst);
                let header = Header::new(2, 0, ServerId::from_bytes([1; 16]))?;
                Ok(Summary { header, records: 0, bytes: 160 * 128 * 1024 })
            })
        };
        let (server_side, client_side) = UnixStream::pair().unwrap();
        let (_read, write) = server_side.into_split();
        let sending = tokio::spawn(stream_backup(write, backup, dir.path().to_owned()));
        let start = std::time::Instant::now();
        while !finished.load(Ordering::SeqCst) {
            assert!(start.elapsed() < Duration::from_secs(20), "the export waits on a caller that does not read");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The spool has no name in the data directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        // The caller can still read it all, reply line first.
        let mut reader = BufReader::new(client_side);
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        assert_eq!(serde_json::from_str::<AdminReply>(&line).unwrap(), AdminReply::BackupFollows);
        let mut rest = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut rest).await.unwrap();
        assert_eq!(rest.len(), 160 * 128 * 1024);
        sending.await.unwrap();
    }
}
