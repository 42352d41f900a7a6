//! Organizer commands: registration invites and stats. They work whether or
//! not the server runs: sled admits one process, so while the server runs
//! they go through a Unix socket in the data directory (mode 0600), and
//! otherwise they open the database directly.

use crate::backup::{BackupError, Summary};
use crate::clock::Clock;
use crate::store::{InviteRecord, Op, Stats, Store, StoreError};
use aman_protocol::hash::sha256;
use aman_protocol::random::random_array;
use aman_protocol::ServerId;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
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
                Ok(AdminRequest::Backup) => return stream_backup(write, context.backup).await,
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

/// Sends [`AdminReply::BackupFollows`], then the backup as it is written.
/// A backup that fails stops the stream short of its last frame, which the
/// caller detects; the reason is logged here.
async fn stream_backup(mut write: tokio::net::unix::OwnedWriteHalf, backup: BackupWriter) {
    let mut text = serde_json::to_string(&AdminReply::BackupFollows).unwrap_or_default();
    text.push('\n');
    if write.write_all(text.as_bytes()).await.is_err() {
        return;
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
    let job = tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter { tx, buf: Vec::with_capacity(CHANNEL_CHUNK) };
        backup(&mut out)
    });
    while let Some(chunk) = rx.recv().await {
        if write.write_all(&chunk).await.is_err() {
            break; // the caller went away: the backup stops at its next write
        }
    }
    drop(rx);
    match job.await {
        Ok(Ok(summary)) => {
            let _ = write.shutdown().await;
            tracing::info!(records = summary.records, bytes = summary.bytes, "backup sent");
        }
        Ok(Err(e)) => tracing::error!(error = %e, "backup failed"),
        Err(e) => tracing::error!(error = %e, "backup task failed"),
    }
}

/// Bytes handed from the backup's thread to the socket at a time.
const CHANNEL_CHUNK: usize = 256 * 1024;

/// A blocking writer that hands its bytes to an async task.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Vec<u8>>,
    buf: Vec<u8>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= CHANNEL_CHUNK {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHANNEL_CHUNK));
        self.tx.blocking_send(chunk).map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

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
