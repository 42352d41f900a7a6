//! A member's requests to each of their servers at once: the first one and
//! every server added with `aman server add`. What one server does (down,
//! refusing, slow) never holds up or decides what another does: a
//! check-in counts when any server acknowledged it.

use crate::api::{ApiClient, Signer};
use crate::context::Ctx;
use crate::error::ClientError;
use crate::state::{MemberBook, ServerRef};
use aman_protocol::SigningKey;
use serde_json::{json, Value};
use std::future::Future;

/// One server's answer.
pub struct Answer<T> {
    /// The server.
    pub server: ServerRef,
    /// What it answered.
    pub result: Result<T, ClientError>,
}

/// Sends `request` to every server in `servers` at once and waits for all.
pub async fn everywhere<T, F, Fut>(ctx: &Ctx, servers: Vec<ServerRef>, request: F) -> Vec<Answer<T>>
where
    F: Fn(ServerRef, ApiClient) -> Fut,
    Fut: Future<Output = Result<T, ClientError>>,
{
    let calls = servers.into_iter().map(|server| {
        let call = ctx.client(&server.url).map(|client| request(server.clone(), client));
        async move {
            let result = match call {
                Ok(call) => call.await,
                Err(e) => Err(e),
            };
            Answer { server, result }
        }
    });
    futures_util::future::join_all(calls).await
}

/// Signs member requests for one server (its id is bound into the signature).
pub fn signer_at<'a>(book: &MemberBook, server: &ServerRef, key: &'a SigningKey) -> Signer<'a> {
    Signer { server: server.id, caller: *book.account.as_bytes(), key }
}

/// Every server of `book`, or a clear error for a book made before
/// protocol version 2 (which names no server id).
pub fn servers_of(book: &MemberBook) -> Result<Vec<ServerRef>, ClientError> {
    match book.servers() {
        none if none.is_empty() => Err(ClientError::State(crate::t!("member-old-account"))),
        servers => Ok(servers),
    }
}

/// The mirrors of `book` (every server but the first).
pub fn mirrors(book: &MemberBook) -> Vec<ServerRef> {
    book.servers().into_iter().filter(|s| !s.first).collect()
}

/// Records in `book` which servers answered (`at`: now).
pub fn record_reach<T>(book: &mut MemberBook, answers: &[Answer<T>], at: u64) {
    for a in answers {
        book.mark_reached(&a.server.url, !matches!(a.result, Err(ClientError::Unreachable { .. })), at);
    }
}

/// A line for each server that did not take the request, the same
/// whichever passphrase unlocked the keystore (it names the server and
/// what went wrong, nothing else).
pub fn not_taken_lines<T>(answers: &[Answer<T>]) -> Vec<String> {
    answers.iter().filter_map(not_taken_line).collect()
}

fn not_taken_line<T>(a: &Answer<T>) -> Option<String> {
    match &a.result {
        Ok(_) => None,
        Err(ClientError::Unreachable { reason, .. }) => {
            Some(crate::t!("member-server-not-reached", server = &a.server.url, reason = reason))
        }
        Err(e) => Some(crate::t!("member-server-refused", server = &a.server.url, reason = e.to_string())),
    }
}

/// Each server and whether it took the request, for `--json`.
pub fn servers_json<T>(answers: &[Answer<T>]) -> Value {
    Value::Array(
        answers
            .iter()
            .map(|a| match &a.result {
                Ok(_) => json!({ "server": a.server.url, "ok": true }),
                Err(e) => json!({ "server": a.server.url, "ok": false, "error": e.code() }),
            })
            .collect(),
    )
}

/// Mirrors (not the first server) that did not take the request, as
/// warnings: the request itself stands on the servers that took it.
pub fn mirror_warnings<T>(answers: &[Answer<T>]) -> Vec<String> {
    answers.iter().filter(|a| !a.server.first).filter_map(not_taken_line).collect()
}
