//! The accept loop, for plain HTTP and TLS alike: connection caps, a
//! handshake timeout, a header-read timeout (which also closes connections
//! left idle between requests), a whole-request timeout, back-off when
//! accepting fails, and a bounded graceful drain on shutdown.

use super::connections::{Admitted, Connections};
use crate::error::ApiError;
use aman_protocol::api::ErrorCode;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// How long each stage of a connection may take.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// A TLS handshake.
    pub handshake: Duration,
    /// A request's headers, from the first byte (or from the end of the
    /// previous response: an idle connection is closed after this long).
    pub headers: Duration,
    /// A whole request, body and answer included (above the longest long-poll).
    pub request: Duration,
    /// In-flight requests after shutdown begins.
    pub drain: Duration,
}

/// Longest pause after a failed accept.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` until `stop` turns true, then lets open
/// requests finish for at most `timeouts.drain`.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    connections: Arc<Connections>,
    timeouts: Timeouts,
    mut stop: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    let mut backoff = Duration::ZERO;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            _ = stopped(&mut stop) => break,
        };
        let (tcp, peer) = match accepted {
            Ok(pair) => {
                backoff = Duration::ZERO;
                pair
            }
            Err(e) => {
                // Usually out of file descriptors: take one back from an
                // idle connection, and pause so the loop does not spin.
                connections.shed_one();
                backoff = (backoff * 2).clamp(Duration::from_millis(5), MAX_ACCEPT_BACKOFF);
                tracing::warn!(error = %e, backoff_ms = backoff.as_millis(), "accepting a connection failed");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stopped(&mut stop) => break,
                }
                continue;
            }
        };
        let Some(admitted) = connections.admit(peer.ip()) else {
            drop(tcp); // every connection is busy: the client retries
            continue;
        };
        let (tls, router, stop) = (tls.clone(), router.clone(), stop.clone());
        tasks.spawn(serve_connection(tcp, peer, tls, router, admitted, timeouts, stop));
    }
    drop(listener);
    let drained = tokio::time::timeout(timeouts.drain, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(left = tasks.len(), "requests still open after the drain timeout were cut");
        tasks.shutdown().await;
    }
}

async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    router: Router,
    admitted: Admitted,
    timeouts: Timeouts,
    mut stop: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let Some(acceptor) = tls else {
        return drive(tcp, peer, router, admitted, timeouts, stop).await;
    };
    let handshake = tokio::select! {
        done = tokio::time::timeout(timeouts.handshake, acceptor.accept(tcp)) => done,
        _ = admitted.state.shed.notified() => return,
        _ = stopped(&mut stop) => return,
    };
    if let Ok(Ok(stream)) = handshake {
        drive(stream, peer, router, admitted, timeouts, stop).await;
    }
}

/// Serves HTTP/1.1 on one connection until it ends, is shed, or the server
/// stops (then the request in flight is finished and the connection closed).
async fn drive<IO>(
    io: IO,
    peer: SocketAddr,
    router: Router,
    admitted: Admitted,
    timeouts: Timeouts,
    mut stop: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let state = admitted.state.clone();
    let service = hyper::service::service_fn(move |mut req: axum::http::Request<Incoming>| {
        // The address feeds the rate limits only; never stored or logged.
        req.extensions_mut().insert(ConnectInfo(peer));
        let in_request = state.begin_request();
        req.extensions_mut().insert(in_request.progress());
        let router = router.clone();
        async move {
            let _in_request = in_request;
            match tokio::time::timeout(timeouts.request, router.oneshot(req)).await {
                Ok(answered) => answered,
                Err(_) => Ok(timed_out()),
            }
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(timeouts.headers).max_buf_size(64 * 1024);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = admitted.state.shed.notified() => {}
        _ = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Resolves once the server is stopping (the watch's guard is dropped
/// here, never held across an await).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

fn timed_out() -> axum::response::Response {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::RequestTimeout, "the request took too long; try again")
        .retry_after(5)
        .closing()
        .into_response()
}
