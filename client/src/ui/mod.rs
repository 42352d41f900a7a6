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
//! The passphrase is typed into the page and sent once to this process,
//! which opens the keystore with it and keeps the opened keystore in memory
//! (as `aman alerts watch` does) until the page locks it, it is idle for
//! [`IDLE_LOCK`], or the process ends. Neither the page nor this process
//! writes it anywhere.

mod api;
pub mod assets;
pub mod guard;

use crate::context::Ctx;
use crate::error::ClientError;
use crate::state::Vault;
use bytes_body::Body;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// An opened keystore is closed after this long without a request.
pub const IDLE_LOCK: Duration = Duration::from_secs(10 * 60);

/// The largest request body the interface reads.
const MAX_BODY: usize = 64 * 1024;

/// An opened keystore and when it was last used.
pub(crate) struct Opened {
    pub vault: Vault,
    pub ctx: Ctx,
    pub used: Instant,
}

/// What the interface keeps while it runs.
pub(crate) struct Ui {
    /// How to reach servers (the command line's settings).
    pub ctx: Ctx,
    /// The names the browser may use for us.
    pub hosts: Vec<String>,
    /// The one-time token, until it is swapped for a session.
    pub token: Mutex<Option<String>>,
    /// The session cookie's value, once the token was used.
    pub session: Mutex<Option<String>>,
    /// The opened keystore, if any.
    pub opened: Mutex<Option<Opened>>,
    /// The file that led the browser here, removed once the token is used.
    pub opener_page: Option<std::path::PathBuf>,
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
/// on it when `open` is set.
pub async fn run(ctx: &Ctx, listen: SocketAddr, open: bool) -> Result<(), ClientError> {
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
    let url = format!("http://{host}/?t={token}");
    // The address on a line of its own, outside any translation: nothing
    // (such as a bidi isolation mark) may stick to it when it is copied.
    println!("{}", crate::t!("ui-started"));
    println!("{url}");
    println!("{}", crate::t!("ui-stop-hint"));
    let opener_page = if open { open_browser(&ctx.home, &url) } else { None };
    let ui = Rc::new(Ui {
        ctx: ctx.clone(),
        hosts: guard::allowed_hosts(local.port()),
        token: Mutex::new(Some(token)),
        session: Mutex::new(None),
        opened: Mutex::new(None),
        opener_page,
    });
    let local_set = tokio::task::LocalSet::new();
    local_set
        .run_until(async move {
            let idle = ui.clone();
            tokio::task::spawn_local(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(15)).await;
                    api::lock_if_idle(&idle).await;
                }
            });
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(c) => c,
                    Err(_) => {
                        // Out of descriptors and the like: wait, then go on.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let ui = ui.clone();
                tokio::task::spawn_local(async move {
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
        })
        .await
}

/// Asks the desktop to open `url` in the default browser; if it cannot,
/// the printed address is there to copy. The browser is handed a file
/// (readable by this user only) that redirects to `url`, not `url` itself:
/// a command line is visible to every user of the machine, and the address
/// holds the one-time token. The file is removed once the token is used.
fn open_browser(home: &std::path::Path, url: &str) -> Option<std::path::PathBuf> {
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
    let target = if written { format!("file://{}", page.display()) } else { url.to_owned() };
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
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if let Err(refusal) = guard::check_host(header("host").as_deref(), &ui.hosts) {
        return api::refused(refusal);
    }
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let method = req.method().clone();

    // The one-time token: swapped for the session cookie, then gone.
    if method == hyper::Method::GET && path == "/" {
        if let Some(presented) = query.split('&').find_map(|p| p.strip_prefix("t=")) {
            return api::swap_token(ui, presented).await;
        }
    }
    let session_ok = {
        let session = ui.session.lock().await;
        match (session.as_deref(), guard::session_from_cookies(header("cookie").as_deref())) {
            (Some(expected), Some(presented)) => guard::same_secret(presented, expected),
            _ => false,
        }
    };
    if !session_ok {
        return api::refused(guard::Refusal::NoSession);
    }
    if method == hyper::Method::GET {
        if let Some(asset) = assets::get(&path) {
            return api::asset(asset);
        }
    }
    if method == hyper::Method::POST {
        if let Err(refusal) = guard::check_origin(header("origin").as_deref(), &ui.hosts) {
            return api::refused(refusal);
        }
        if let Err(refusal) = guard::check_json(header("content-type").as_deref()) {
            return api::refused(refusal);
        }
    }
    let body = if method == hyper::Method::POST {
        use http_body_util::BodyExt;
        match http_body_util::Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return api::error(413, "body_too_large", &crate::t!("ui-error-too-large")),
        }
    } else {
        hyper::body::Bytes::new()
    };
    api::route(ui, &method, &path, &body).await
}
