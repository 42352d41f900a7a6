//! Organizer commands: registration invites and stats. They work whether or
//! not the server runs: sled admits one process, so while the server runs
//! they go through a Unix socket in the data directory (mode 0600), and
//! otherwise they open the database directly.

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
    };
    store.durable().wait_blocking()?;
    Ok(reply)
}

/// Serves admin requests on the socket until the listener is dropped.
pub async fn serve_socket(
    listener: UnixListener,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    server: ServerId,
    armed: ArmedCount,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (store, clock, armed) = (store.clone(), clock.clone(), armed.clone());
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            if BufReader::new(read).read_line(&mut line).await.is_err() {
                return;
            }
            let reply = match serde_json::from_str::<AdminRequest>(&line) {
                Ok(req) => {
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
