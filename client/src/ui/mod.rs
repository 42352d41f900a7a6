//! `aman ui`: the local web interface.
//!
//! The page comes from this program, on this machine, never from a server:
//! a seized server could otherwise serve a page that steals keys. Every
//! asset is embedded in the binary ([`assets`]), the page loads nothing from
//! anywhere else (its Content-Security-Policy says so), and it talks only to
//! this process, which talks to the member's server like the CLI does, by
//! the same library functions. So whatever the CLI shows the same after a
//! duress and a normal unlock, the page shows the same too.
//!
//! The passphrase is typed into the page and posted to this process, which
//! opens the keystore with it and keeps both in memory (as `aman alerts
//! watch` keeps the keystore) until the page locks it, nobody has used the
//! page for the idle time, or the process ends: the passphrase is kept to
//! read the keystore again when another `aman` command changed it, so that
//! the page never writes an old copy over what that command saved. Every
//! action that is a check-in (checking in, a trip's start, extension and
//! end) takes a passphrase of its own, as on the command line. Neither the
//! page nor this process writes a passphrase anywhere.

mod api;
pub mod assets;
pub mod guard;

use crate::context::Ctx;
use crate::error::ClientError;
use crate::state::Vault;
use aman_protocol::api::ErrorCode;
use bytes_body::Body;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// The largest request body the interface reads.
const MAX_BODY: usize = 64 * 1024;

/// Connections served at once (a browser opens a handful).
const MAX_CONNECTIONS: usize = 32;

/// An opened keystore, the passphrase that opened it, and what it was
/// opened from.
pub(crate) struct Opened {
    pub vault: Vault,
    pub ctx: Ctx,
    pub passphrase: Zeroizing<String>,
    /// The lock epoch it was opened in: a lock since then closes it.
    pub epoch: u64,
}

/// What the interface keeps while it runs.
pub(crate) struct Ui {
    /// How to reach servers (the command line's settings).
    pub ctx: Ctx,
    /// The names the browser may use for us.
    pub hosts: Vec<String>,
    /// Close the keystore after this long without the person using the page
    /// (the inbox's own polling does not count); `None`: never.
    pub idle_lock: Option<Duration>,
    /// The one-time token, until it is swapped for a session.
    pub token: std::sync::Mutex<Option<String>>,
    /// The session secret, once the token was used.
    pub session: std::sync::Mutex<Option<String>>,
    /// The opened keystore, if any (held across a command's requests).
    pub opened: tokio::sync::Mutex<Option<Opened>>,
    /// Bumped by every lock: whatever was opened before is closed, also
    /// when a command holding it is still waiting on a server.
    pub epoch: AtomicU64,
    /// What `/api/state` says of the opened keystore, answered without
    /// waiting on `opened`.
    pub roles: std::sync::Mutex<Option<serde_json::Value>>,
    /// When the person last used the page.
    pub last_use: std::sync::Mutex<Instant>,
    /// One passphrase tried at a time (each costs an Argon2 run).
    pub unlocking: tokio::sync::Mutex<()>,
    /// The file that led the browser here, removed once the token is used.
    pub opener_page: Option<PathBuf>,
}

impl Ui {
    /// Closes the opened keystore now, or as soon as the command holding it
    /// ends.
    pub(crate) fn lock(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        *lock(&self.roles) = None;
        if let Ok(mut opened) = self.opened.try_lock() {
            *opened = None;
        }
    }

    /// Whether the page has gone unused for the idle time.
    pub(crate) fn idle(&self) -> bool {
        self.idle_lock.is_some_and(|limit| lock(&self.last_use).elapsed() >= limit)
    }
}

/// A std mutex's guard, also after a panic elsewhere poisoned it.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

mod bytes_body {
    //! The response body type.
    pub type Body = http_body_util::Full<hyper::body::Bytes>;
}

fn random_secret() -> Result<String, ClientError> {
    let bytes = aman_protocol::random::random_array::<32>()?;
    Ok(data_encoding::BASE64URL_NOPAD.encode(&bytes))
}

/// Serves the interface on `listen` (loopback only) until interrupted,
/// printing its address with the one-time token, and opening the browser
/// on it when `open` is set. The keystore closes after `idle_lock` without
/// use (`None`: never).
pub async fn run(ctx: &Ctx, listen: SocketAddr, open: bool, idle_lock: Option<Duration>) -> Result<(), ClientError> {
    if !listen.ip().is_loopback() {
        return Err(ClientError::State(crate::t!("ui-error-not-loopback", address = listen.to_string())));
    }
    let listener =
        tokio::net::TcpListener::bind(listen).await.map_err(|e| ClientError::State(format!("{listen}: {e}")))?;
    let local = listener.local_addr().map_err(|e| ClientError::State(e.to_string()))?;
    let token = random_secret()?;
    let host = match local {
        SocketAddr::V4(_) => format!("127.0.0.1:{}", local.port()),
        SocketAddr::V6(_) => format!("[::1]:{}", local.port()),
    };
    // The token in the fragment: a browser keeps it to itself.
    let url = format!("http://{host}/#t={token}");
    // The address on a line of its own, outside any translation: nothing
    // (such as a bidi isolation mark) may stick to it when it is copied.
    println!("{}", crate::t!("ui-started"));
    println!("{url}");
    println!("{}", crate::t!("ui-stop-hint"));
    let opener_page = if open { open_browser(&ctx.home, &url) } else { None };
    let ui = Rc::new(Ui {
        ctx: ctx.clone(),
        hosts: vec![host.clone()],
        idle_lock,
        token: std::sync::Mutex::new(Some(token)),
        session: std::sync::Mutex::new(None),
        opened: tokio::sync::Mutex::new(None),
        epoch: AtomicU64::new(0),
        roles: std::sync::Mutex::new(None),
        last_use: std::sync::Mutex::new(Instant::now()),
        unlocking: tokio::sync::Mutex::new(()),
        opener_page,
    });
    let local_set = tokio::task::LocalSet::new();
    let served = ui.clone();
    let serving = local_set.run_until(async move {
        let idle = served.clone();
        tokio::task::spawn_local(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                if idle.idle() && lock(&idle.roles).is_some() {
                    idle.lock();
                }
            }
        });
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        loop {
            let Ok(permit) = slots.clone().acquire_owned().await else { break };
            let (stream, _) = match listener.accept().await {
                Ok(c) => c,
                Err(_) => {
                    // Out of descriptors and the like: wait, then go on.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let ui = served.clone();
            tokio::task::spawn_local(async move {
                let _permit = permit;
                let service = hyper::service::service_fn(move |req| {
                    let ui = ui.clone();
                    async move { Ok::<_, std::convert::Infallible>(handle(&ui, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .header_read_timeout(Duration::from_secs(10))
                    .timer(hyper_util::rt::TokioTimer::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    tokio::select! {
        () = serving => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    if let Some(page) = &ui.opener_page {
        let _ = std::fs::remove_file(page);
    }
    Ok(())
}

/// Asks the desktop to open `url` in the default browser; if it cannot,
/// the printed address is there to copy. The browser is handed a file
/// (readable by this user only) that redirects to `url`, not `url` itself:
/// a command line is visible to every user of the machine, and the address
/// holds the one-time token. The file is removed once the token is used,
/// and when `aman ui` ends.
fn open_browser(home: &Path, url: &str) -> Option<PathBuf> {
    let page = home.join("ui-open.html");
    let html = format!(
        "<!doctype html><meta charset=\"utf-8\"><meta name=\"referrer\" content=\"no-referrer\">\
         <meta http-equiv=\"refresh\" content=\"0;url={url}\"><a href=\"{url}\">Aman</a>\n"
    );
    let written = {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::remove_file(&page);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&page)
            .and_then(|mut f| f.write_all(html.as_bytes()))
            .is_ok()
    };
    if !written {
        // Never the address itself: a command line is seen by every user.
        // It is printed; the person opens it.
        return None;
    }
    let target = format!("file://{}", page.display());
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    let _ = std::process::Command::new(opener)
        .arg(&target)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    written.then_some(page)
}

/// One request: the guard's checks, then the page or the API.
async fn handle(ui: &Ui, req: Request<Incoming>) -> Response<Body> {
    let headers = req.headers().clone();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if let Err(refusal) = guard::check_host(header("host").as_deref(), &ui.hosts) {
        return api::refused(refusal);
    }
    let path = req.uri().path().to_owned();
    let method = req.method().clone();

    // The page itself holds nothing of the user's: it is served to whoever
    // names our host (a page elsewhere cannot read it: no CORS).
    if method == hyper::Method::GET {
        if let Some(asset) = assets::get(&path) {
            return api::asset(asset);
        }
    }
    let post = method == hyper::Method::POST;
    if post {
        if let Err(refusal) = guard::check_origin(header("origin").as_deref(), &ui.hosts) {
            return api::refused(refusal);
        }
        if let Err(refusal) = guard::check_json(header("content-type").as_deref()) {
            return api::refused(refusal);
        }
    }
    let body = if post {
        use http_body_util::BodyExt;
        let read = http_body_util::Limited::new(req.into_body(), MAX_BODY).collect();
        match tokio::time::timeout(Duration::from_secs(10), read).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(_)) => return api::error(413, ErrorCode::BodyTooLarge.as_str(), &crate::t!("ui-error-too-large")),
            // A body that never comes must not hold one of the few connections.
            Err(_) => return api::error(408, ErrorCode::BodyTimeout.as_str(), &crate::t!("ui-error-bad-request")),
        }
    } else {
        hyper::body::Bytes::new()
    };
    // The one-time token, posted by the page from its address's fragment.
    if post && path == "/api/session" {
        return api::swap_token(ui, &body);
    }
    let expected = lock(&ui.session).clone();
    if let Err(refusal) = guard::check_session(header(guard::SESSION_HEADER).as_deref(), expected.as_deref()) {
        return api::refused(refusal);
    }
    if ui.idle() && lock(&ui.roles).is_some() {
        ui.lock();
    }
    // The inbox's own polling says so; anything else is the person.
    if header("x-aman-background").is_none() {
        *lock(&ui.last_use) = Instant::now();
    }
    api::route(ui, &method, &path, &body).await
}
