//! A real browser for the `aman ui` tests: Debian's headless Chromium driven
//! through chromedriver by a small W3C WebDriver client.
//!
//! **What it needs.** The Debian packages `chromium` and `chromium-driver`
//! (the two come from one source package, so their versions match), and a
//! font that covers Arabic and Latin: `fonts-noto-core` (Noto Sans, Noto
//! Sans Arabic, Noto Naskh Arabic). `.ci/run` installs all three with
//! apt-get when they are missing. The browser is `/usr/bin/chromium` and the
//! driver `/usr/bin/chromedriver`; the environment variables
//! `AMAN_CHROMIUM` and `AMAN_CHROMEDRIVER` name others. Without them a test
//! calls [`available_or_skip`]: it prints `skipped: no chromium` and returns,
//! or panics when `CI` is set (a CI run must not pass by skipping).
//!
//! **What it does.** [`Browser::start`] runs `chromedriver --port=N` on a
//! free port of 127.0.0.1 (in its own process group, killed with every
//! Chromium process on drop) and opens one headless session with rendering
//! made deterministic: device scale factor 1, no scrollbars, no font
//! hinting, sRGB colours, a fixed window size, a given `--lang`, a fresh
//! profile in a temporary directory, and no network besides loopback (every
//! host name but `127.0.0.1` and `localhost` resolves to nothing, and every
//! other address goes through a proxy that does not exist). Unhandled
//! `window.confirm` dialogs are left open (`unhandledPromptBehavior:
//! ignore`): a command other than [`Browser::accept_alert`],
//! [`Browser::dismiss_alert`] or [`Browser::alert_text`] fails with
//! "unexpected alert open" until one of those handles it.
//!
//! **Pixels.** [`Browser::screenshot`] is the viewport as PNG, exactly
//! `width` x `height`. [`Browser::screenshot_masked`] hides what changes on
//! its own (a clock), and the caret, before the picture; [`pixels_equal`]
//! compares two PNGs, [`diff_png`] draws where they differ, [`save_png`]
//! keeps one. Masking hides an element's pixels, not its box: an element
//! whose width follows its text moves its neighbours, so give a clock a
//! fixed width (or `font-variant-numeric: tabular-nums` in a fixed box).
//!
//! **Fonts.** Which font draws what is fontconfig's choice: on Debian with
//! these packages a bare `sans-serif` is Liberation Sans for Latin and
//! DejaVu Sans for Arabic (a fallback that covers it); a stylesheet that
//! names `"Noto Sans Arabic"` (and `"Noto Sans"`) gets Noto.
//! [`Browser::platform_fonts`] says which fonts drew an element's text.

#![deny(clippy::unwrap_used, clippy::expect_used)]

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The key under which W3C WebDriver names an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How often the `wait_for*` functions look again.
const POLL: Duration = Duration::from_millis(50);

/// The Chromium binary: `AMAN_CHROMIUM`, or `/usr/bin/chromium`.
pub fn chromium_path() -> PathBuf {
    std::env::var_os("AMAN_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// The chromedriver binary: `AMAN_CHROMEDRIVER`, or `/usr/bin/chromedriver`.
pub fn chromedriver_path() -> PathBuf {
    std::env::var_os("AMAN_CHROMEDRIVER").map_or_else(|| PathBuf::from("/usr/bin/chromedriver"), PathBuf::from)
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether Chromium and chromedriver are installed.
pub fn available() -> bool {
    executable(&chromium_path()) && executable(&chromedriver_path())
}

/// For a test that needs the browser: `true` when it is installed. When it
/// is not, panics if `CI` is set (and not empty), else prints
/// `skipped: no chromium` and returns `false`; the test then returns.
///
/// ```text
/// if !browser::available_or_skip() {
///     return;
/// }
/// ```
pub fn available_or_skip() -> bool {
    if available() {
        return true;
    }
    let missing: Vec<String> = [chromium_path(), chromedriver_path()]
        .iter()
        .filter(|p| !executable(p))
        .map(|p| p.display().to_string())
        .collect();
    let what = format!(
        "{} (Debian: apt-get install chromium chromium-driver fonts-noto-core; \
         or set AMAN_CHROMIUM and AMAN_CHROMEDRIVER)",
        missing.join(" and ")
    );
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("CI is set but the browser tests cannot run: missing {what}");
    }
    println!("skipped: no chromium (missing {what})");
    false
}

/// The browser window, and its language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Viewport width in CSS pixels (= screenshot pixels: the scale factor is 1).
    pub width: u32,
    /// Viewport height.
    pub height: u32,
    /// `--lang` and the `Accept-Language` / `navigator.language` of the
    /// session, e.g. `en-US` or `ar`.
    pub lang: String,
}

impl Options {
    /// A phone: 390 x 844.
    pub fn phone(lang: &str) -> Self {
        Options { width: 390, height: 844, lang: lang.to_owned() }
    }

    /// A desktop: 1280 x 800.
    pub fn desktop(lang: &str) -> Self {
        Options { width: 1280, height: 800, lang: lang.to_owned() }
    }
}

/// An error the WebDriver server answered with.
#[derive(Debug, Clone)]
pub struct WebDriverError {
    /// The command, e.g. `POST element`.
    pub command: String,
    /// The W3C error code, e.g. `no such element`, `unexpected alert open`.
    pub error: String,
    /// Its message.
    pub message: String,
}

impl fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // chromedriver's messages carry a long "(Session info: ...)" tail.
        let message = self.message.lines().next().unwrap_or_default();
        write!(f, "WebDriver {}: {}: {}", self.command, self.error, message)
    }
}

impl std::error::Error for WebDriverError {}

/// Whether `err` is the WebDriver error `code`.
fn is_error(err: &anyhow::Error, code: &str) -> bool {
    err.downcast_ref::<WebDriverError>().is_some_and(|e| e.error == code)
}

/// One WebDriver session: the HTTP client and the session's URL.
#[derive(Debug)]
struct Conn {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`
    session: String,
}

impl Conn {
    /// Sends a command to `path` below the session's URL and returns the
    /// answer's `value`.
    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let url = if path.is_empty() { self.session.clone() } else { format!("{}/{path}", self.session) };
        send(&self.http, method, &url, body).await
    }

    async fn get(&self, path: &str) -> Result<Value> {
        self.cmd(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        self.cmd(reqwest::Method::POST, path, Some(body)).await
    }
}

async fn send(http: &reqwest::Client, method: reqwest::Method, url: &str, body: Option<Value>) -> Result<Value> {
    // The command for messages: the path below the session (`element/ID/click`).
    let path = url.split("/session/").nth(1).map_or(url, |p| p.split_once('/').map_or("session", |x| x.1));
    let command = format!("{method} {path}");
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.with_context(|| format!("WebDriver {command}: no answer"))?;
    let status = response.status();
    let answer: Value =
        response.json().await.with_context(|| format!("WebDriver {command}: answer is not JSON ({status})"))?;
    let value = answer.get("value").cloned().unwrap_or(Value::Null);
    if !status.is_success() || value.get("error").is_some_and(Value::is_string) {
        let field = |k: &str| value.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        return Err(WebDriverError { command, error: field("error"), message: field("message") }.into());
    }
    Ok(value)
}

/// A headless Chromium session and its chromedriver. Dropping it ends the
/// session and kills chromedriver and every browser process.
#[derive(Debug)]
pub struct Browser {
    conn: Arc<Conn>,
    driver: Child,
    port: u16,
    session_id: String,
    open: bool,
    options: Options,
    /// Profile (`profile/`) and chromedriver's output (`driver.log`);
    /// removed on drop, after the processes are gone.
    dir: tempfile::TempDir,
}

/// The Chromium command line, besides what chromedriver adds.
fn chromium_args(options: &Options, profile: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--force-device-scale-factor=1",
        "--hide-scrollbars",
        "--font-render-hinting=none",
        "--disable-dev-shm-usage",
        "--force-color-profile=srgb",
        "--disable-lcd-text",
        // Re-rasterising only what changed can anti-alias a rounded corner
        // next to it differently from a full raster: screens that are the
        // same must be drawn the same way.
        "--disable-partial-raster",
        "--num-raster-threads=1",
        // Loopback only.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
        "--proxy-server=http://127.0.0.1:9",
        // Nothing in the background, nothing first-run.
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-sync",
        "--disable-breakpad",
        "--disable-crash-reporter",
        "--metrics-recording-only",
        "--password-store=basic",
        "--mute-audio",
        "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
        "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.push(format!("--window-size={},{}", options.width, options.height));
    args.push(format!("--lang={}", options.lang));
    args.push(format!("--user-data-dir={}", profile.display()));
    args
}

/// The last lines of chromedriver's output, for an error message.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Kills `child`'s process group (it leads one) and reaps it.
fn kill_group(child: &mut Child) {
    let pid = rustix::process::Pid::from_child(child);
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    let _ = child.kill();
    let _ = child.wait();
}

/// Starts chromedriver on a free port and waits until it is ready.
async fn start_driver(http: &reqwest::Client, log: &Path) -> Result<(Child, u16)> {
    use std::os::unix::process::CommandExt;
    let mut last = anyhow!("chromedriver did not start");
    // The port was free when asked; another process may take it before
    // chromedriver does: then try another.
    for _ in 0..3 {
        let port = free_port()?;
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
        let mut child = Command::new(chromedriver_path())
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", chromedriver_path().display()))?;
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                last = anyhow!("chromedriver exited ({status}) on port {port}:\n{}", log_tail(log));
                break;
            }
            if let Ok(v) = send(http, reqwest::Method::GET, &format!("http://127.0.0.1:{port}/status"), None).await {
                if v.get("ready").and_then(Value::as_bool) == Some(true) {
                    return Ok((child, port));
                }
            }
            if started.elapsed() > Duration::from_secs(15) {
                kill_group(&mut child);
                last = anyhow!("chromedriver not ready after 15 s on port {port}:\n{}", log_tail(log));
                break;
            }
            tokio::time::sleep(POLL).await;
        }
    }
    Err(last)
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session with `options`.
    pub async fn start(options: Options) -> Result<Browser> {
        if !available() {
            bail!(
                "no browser: {} or {} is missing (apt-get install chromium chromium-driver)",
                chromium_path().display(),
                chromedriver_path().display()
            );
        }
        let dir = tempfile::Builder::new().prefix("aman-browser-").tempdir()?;
        let profile = dir.path().join("profile");
        let log = dir.path().join("driver.log");
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(90))
            .build()
            .context("building the WebDriver HTTP client")?;
        let (mut driver, port) = start_driver(&http, &log).await?;
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "unhandledPromptBehavior": "ignore",
                    "timeouts": { "implicit": 0, "pageLoad": 30_000, "script": 30_000 },
                    "goog:chromeOptions": {
                        "binary": chromium_path(),
                        "args": chromium_args(&options, &profile),
                        "prefs": { "intl.accept_languages": options.lang },
                    },
                }
            }
        });
        let created =
            match send(&http, reqwest::Method::POST, &format!("http://127.0.0.1:{port}/session"), Some(capabilities))
                .await
            {
                Ok(v) => v,
                Err(e) => {
                    kill_group(&mut driver);
                    return Err(e.context(format!("starting Chromium; chromedriver said:\n{}", log_tail(&log))));
                }
            };
        let Some(session_id) = created.get("sessionId").and_then(Value::as_str).map(str::to_owned) else {
            kill_group(&mut driver);
            bail!("WebDriver new session: no sessionId in {created}");
        };
        let conn = Arc::new(Conn { http, session: format!("http://127.0.0.1:{port}/session/{session_id}") });
        let mut browser = Browser { conn, driver, port, session_id, open: true, options, dir };
        browser.fit_viewport().await?;
        Ok(browser)
    }

    /// Makes the viewport exactly the size asked for (a window may have
    /// borders; headless Chromium's has none, but that is not promised).
    async fn fit_viewport(&mut self) -> Result<()> {
        let (w, h) = (self.options.width, self.options.height);
        self.set_window_size(w, h).await
    }

    /// The options the session was started with (the size as last set).
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Its temporary directory: Chromium's profile and chromedriver's log
    /// (`driver.log`), removed on drop.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Opens `url` and waits for its load event.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.conn.post("url", json!({ "url": url })).await.with_context(|| format!("opening {url}"))?;
        Ok(())
    }

    /// The current page's URL.
    pub async fn current_url(&self) -> Result<String> {
        let v = self.conn.get("url").await?;
        v.as_str().map(str::to_owned).ok_or_else(|| anyhow!("current URL: not a string: {v}"))
    }

    /// The page's title.
    pub async fn title(&self) -> Result<String> {
        let v = self.conn.get("title").await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// The current DOM, serialised.
    pub async fn page_source(&self) -> Result<String> {
        let v = self.conn.get("source").await?;
        v.as_str().map(str::to_owned).ok_or_else(|| anyhow!("page source: not a string"))
    }

    /// Reloads the page.
    pub async fn refresh(&self) -> Result<()> {
        self.conn.post("refresh", json!({})).await?;
        Ok(())
    }

    /// Goes back in history.
    pub async fn back(&self) -> Result<()> {
        self.conn.post("back", json!({})).await?;
        Ok(())
    }

    /// The cookies visible to the current page (W3C cookie objects: `name`,
    /// `value`, `path`, `domain`, `secure`, `httpOnly`, `sameSite`, ...).
    pub async fn cookies(&self) -> Result<Vec<Value>> {
        let v = self.conn.get("cookie").await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// The first element matching the CSS selector `css`; an error if none.
    pub async fn find(&self, css: &str) -> Result<Element> {
        self.try_find(css).await?.ok_or_else(|| anyhow!("no element matches {css:?}"))
    }

    /// The first element matching `css`, if any.
    pub async fn try_find(&self, css: &str) -> Result<Option<Element>> {
        match self.conn.post("element", json!({ "using": "css selector", "value": css })).await {
            Ok(v) => Ok(Some(self.element(&v, css)?)),
            Err(e) if is_error(&e, "no such element") => Ok(None),
            Err(e) => Err(e.context(format!("finding {css:?}"))),
        }
    }

    /// Every element matching `css`, in document order.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        let v = self
            .conn
            .post("elements", json!({ "using": "css selector", "value": css }))
            .await
            .with_context(|| format!("finding all {css:?}"))?;
        let list = v.as_array().ok_or_else(|| anyhow!("find all {css:?}: not a list: {v}"))?;
        list.iter().map(|e| self.element(e, css)).collect()
    }

    fn element(&self, v: &Value, css: &str) -> Result<Element> {
        let id = v.get(ELEMENT_KEY).and_then(Value::as_str).ok_or_else(|| anyhow!("not an element reference: {v}"))?;
        Ok(Element { conn: self.conn.clone(), id: id.to_owned(), css: css.to_owned() })
    }

    /// Waits until an element matches `css` and returns it.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element> {
        let started = Instant::now();
        loop {
            if let Some(e) = self.try_find(css).await? {
                return Ok(e);
            }
            if started.elapsed() > timeout {
                bail!("no element matched {css:?} within {timeout:?} (at {})", self.current_url().await?);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the first element matching `css` has a text (as
    /// rendered) that contains `needle`, and returns it.
    pub async fn wait_for_text(&self, css: &str, needle: &str, timeout: Duration) -> Result<Element> {
        let started = Instant::now();
        let mut last = None;
        loop {
            if let Some(e) = self.try_find(css).await? {
                match e.text().await {
                    Ok(text) if text.contains(needle) => return Ok(e),
                    Ok(text) => last = Some(text),
                    // Replaced between the find and the read: look again.
                    Err(err) if is_error(&err, "stale element reference") => {}
                    Err(err) => return Err(err),
                }
            }
            if started.elapsed() > timeout {
                bail!("{css:?} did not show {needle:?} within {timeout:?}; last text: {last:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until `script` (a function body, `return`ing a value) returns
    /// something truthy, and returns that.
    pub async fn wait_until(&self, script: &str, timeout: Duration) -> Result<Value> {
        let started = Instant::now();
        loop {
            let v = self.exec(script, &[]).await?;
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return Ok(v);
            }
            if started.elapsed() > timeout {
                bail!("{script:?} stayed falsy for {timeout:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs `script` (a function body: `arguments[0]`..., `return`) in the
    /// page and returns its result. Elements go in as [`Element::arg`] and
    /// come back as `{"element-6066-...": id}`. Runs through the DevTools
    /// protocol, so the page's CSP does not stop it.
    pub async fn exec(&self, script: &str, args: &[Value]) -> Result<Value> {
        self.conn
            .post("execute/sync", json!({ "script": script, "args": args }))
            .await
            .with_context(|| format!("running script {:?}", short(script)))
    }

    /// Like [`Browser::exec`], for a script that finishes by calling its
    /// last argument (`arguments[arguments.length - 1](result)`).
    pub async fn exec_async(&self, script: &str, args: &[Value]) -> Result<Value> {
        self.conn
            .post("execute/async", json!({ "script": script, "args": args }))
            .await
            .with_context(|| format!("running async script {:?}", short(script)))
    }

    /// A Chrome DevTools Protocol command through chromedriver, e.g.
    /// `cdp("Emulation.setTimezoneOverride", json!({"timezoneId": "UTC"}))`.
    pub async fn cdp(&self, command: &str, params: Value) -> Result<Value> {
        self.conn
            .post("goog/cdp/execute", json!({ "cmd": command, "params": params }))
            .await
            .with_context(|| format!("DevTools {command}"))
    }

    /// The viewport as PNG (`width` x `height` pixels).
    pub async fn screenshot(&self) -> Result<Vec<u8>> {
        let v = self.conn.get("screenshot").await.context("screenshot")?;
        decode_base64(&v)
    }

    /// The viewport as PNG with every element that matches one of
    /// `selectors` hidden: `visibility: hidden` on it and all it holds, and
    /// a solid box painted over where it is (which also covers a node the
    /// page puts in its place meanwhile). The caret is made transparent too,
    /// and web fonts are waited for. Everything is undone afterwards, also
    /// when the screenshot fails.
    pub async fn screenshot_masked(&self, selectors: &[&str]) -> Result<Vec<u8>> {
        self.exec_async(MASK_SCRIPT, &[json!(selectors)]).await.context("masking before a screenshot")?;
        let shot = self.screenshot().await;
        let undo = self.exec(UNMASK_SCRIPT, &[]).await.context("unmasking after a screenshot");
        let shot = shot?;
        undo?;
        Ok(shot)
    }

    /// The text of the open `alert`/`confirm`/`prompt`, if one is open.
    pub async fn alert_text(&self) -> Result<Option<String>> {
        match self.conn.get("alert/text").await {
            Ok(v) => Ok(Some(v.as_str().unwrap_or_default().to_owned())),
            Err(e) if is_error(&e, "no such alert") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Waits until a dialog is open and returns its text.
    pub async fn wait_for_alert(&self, timeout: Duration) -> Result<String> {
        let started = Instant::now();
        loop {
            if let Some(text) = self.alert_text().await? {
                return Ok(text);
            }
            if started.elapsed() > timeout {
                bail!("no dialog opened within {timeout:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Accepts the open dialog (`confirm` returns true).
    pub async fn accept_alert(&self) -> Result<()> {
        self.conn.post("alert/accept", json!({})).await.context("accepting a dialog")?;
        Ok(())
    }

    /// Dismisses the open dialog (`confirm` returns false).
    pub async fn dismiss_alert(&self) -> Result<()> {
        self.conn.post("alert/dismiss", json!({})).await.context("dismissing a dialog")?;
        Ok(())
    }

    /// Resizes the viewport to `width` x `height` CSS pixels.
    pub async fn set_window_size(&mut self, width: u32, height: u32) -> Result<()> {
        self.conn.post("window/rect", json!({ "width": width, "height": height })).await?;
        let inner = self.exec("return [window.innerWidth, window.innerHeight]", &[]).await?;
        let (iw, ih) = (inner[0].as_u64().unwrap_or(0), inner[1].as_u64().unwrap_or(0));
        if (iw, ih) != (u64::from(width), u64::from(height)) {
            // Add the window's frame, once.
            let w = u64::from(width) * 2 - iw.min(u64::from(width) * 2);
            let h = u64::from(height) * 2 - ih.min(u64::from(height) * 2);
            self.conn.post("window/rect", json!({ "width": w, "height": h })).await?;
        }
        self.options.width = width;
        self.options.height = height;
        Ok(())
    }

    /// Which fonts drew the text of the first element matching `css` (not
    /// its descendants): family names and glyph counts, as Chromium reports
    /// them (DevTools `CSS.getPlatformFontsForNode`).
    pub async fn platform_fonts(&self, css: &str) -> Result<Vec<(String, u64)>> {
        self.cdp("DOM.enable", json!({})).await?;
        self.cdp("CSS.enable", json!({})).await?;
        let doc = self.cdp("DOM.getDocument", json!({ "depth": 0 })).await?;
        let root = doc["root"]["nodeId"].as_u64().ok_or_else(|| anyhow!("DOM.getDocument: no root"))?;
        let found = self.cdp("DOM.querySelector", json!({ "nodeId": root, "selector": css })).await?;
        let node = found["nodeId"].as_u64().filter(|n| *n != 0).ok_or_else(|| anyhow!("no element matches {css:?}"))?;
        let fonts = self.cdp("CSS.getPlatformFontsForNode", json!({ "nodeId": node })).await?;
        let list = fonts["fonts"].as_array().cloned().unwrap_or_default();
        Ok(list
            .iter()
            .map(|f| (f["familyName"].as_str().unwrap_or_default().to_owned(), f["glyphCount"].as_u64().unwrap_or(0)))
            .collect())
    }

    /// Ends the session (Chromium exits) and stops chromedriver.
    pub async fn quit(mut self) -> Result<()> {
        if self.open {
            self.open = false;
            self.conn.cmd(reqwest::Method::DELETE, "", None).await.context("ending the WebDriver session")?;
        }
        Ok(())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if self.open {
            // Blocking, without the async client: drop may run outside a
            // runtime or in one that is shutting down.
            let _ = delete_session(self.port, &self.session_id);
        }
        kill_group(&mut self.driver);
    }
}

/// `DELETE /session/ID` over a plain socket.
fn delete_session(port: u16, session_id: &str) -> std::io::Result<()> {
    let mut stream = std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    write!(
        stream,
        "DELETE /session/{session_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    // chromedriver may keep the connection open: read the head and as
    // much body as it announces, not to the end.
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        answer.extend_from_slice(&buf[..n]);
        let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if answer.len() >= end + 4 + length {
            return Ok(());
        }
    }
}

/// An element of the page, as found by [`Browser::find`]. Stale once the
/// page replaces it or navigates away.
#[derive(Debug, Clone)]
pub struct Element {
    conn: Arc<Conn>,
    id: String,
    css: String,
}

impl Element {
    /// The element as an argument of [`Browser::exec`].
    pub fn arg(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    /// The selector it was found by.
    pub fn selector(&self) -> &str {
        &self.css
    }

    /// Clicks its centre (scrolling it into view first).
    pub async fn click(&self) -> Result<()> {
        self.conn.post(&format!("element/{}/click", self.id), json!({})).await.with_context(|| self.what("click"))?;
        Ok(())
    }

    /// Types `text` into it (it gets the focus first).
    pub async fn send_keys(&self, text: &str) -> Result<()> {
        self.conn
            .post(&format!("element/{}/value", self.id), json!({ "text": text }))
            .await
            .with_context(|| self.what("type into"))?;
        Ok(())
    }

    /// Empties an input or textarea.
    pub async fn clear(&self) -> Result<()> {
        self.conn.post(&format!("element/{}/clear", self.id), json!({})).await.with_context(|| self.what("clear"))?;
        Ok(())
    }

    /// Its text as rendered (hidden parts left out).
    pub async fn text(&self) -> Result<String> {
        let v = self.conn.get(&format!("element/{}/text", self.id)).await.with_context(|| self.what("read"))?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// The attribute `name` (`None` if absent).
    pub async fn attr(&self, name: &str) -> Result<Option<String>> {
        let v = self
            .conn
            .get(&format!("element/{}/attribute/{name}", self.id))
            .await
            .with_context(|| self.what(&format!("read attribute {name} of")))?;
        Ok(v.as_str().map(str::to_owned))
    }

    /// The DOM property `name`, e.g. `value` of an input, `checked`.
    pub async fn property(&self, name: &str) -> Result<Value> {
        self.conn
            .get(&format!("element/{}/property/{name}", self.id))
            .await
            .with_context(|| self.what(&format!("read property {name} of")))
    }

    /// Whether it is displayed.
    pub async fn is_displayed(&self) -> Result<bool> {
        let v = self.conn.get(&format!("element/{}/displayed", self.id)).await.with_context(|| self.what("see"))?;
        Ok(v.as_bool().unwrap_or(false))
    }

    /// Its box in CSS pixels: `(x, y, width, height)`.
    pub async fn rect(&self) -> Result<(f64, f64, f64, f64)> {
        let v = self.conn.get(&format!("element/{}/rect", self.id)).await.with_context(|| self.what("measure"))?;
        let n = |k: &str| v[k].as_f64().unwrap_or(0.0);
        Ok((n("x"), n("y"), n("width"), n("height")))
    }

    /// A PNG of just this element.
    pub async fn screenshot(&self) -> Result<Vec<u8>> {
        let v =
            self.conn.get(&format!("element/{}/screenshot", self.id)).await.with_context(|| self.what("photograph"))?;
        decode_base64(&v)
    }

    fn what(&self, verb: &str) -> String {
        format!("{verb} {:?}", self.css)
    }
}

fn short(script: &str) -> String {
    let line = script.trim().lines().next().unwrap_or_default();
    line.chars().take(80).collect()
}

fn decode_base64(v: &Value) -> Result<Vec<u8>> {
    let text = v.as_str().ok_or_else(|| anyhow!("screenshot: not a string"))?;
    data_encoding::BASE64.decode(text.as_bytes()).context("screenshot: bad base64")
}

/// Hides every element matching the selectors in `arguments[0]` and paints
/// a box over each; then waits for web fonts. Undone by `UNMASK_SCRIPT`.
const MASK_SCRIPT: &str = r#"
const done = arguments[arguments.length - 1];
const state = { styles: [], boxes: [] };
window.__amanMask = state;
const hide = (el, prop, value) => {
  state.styles.push([el, prop, el.style.getPropertyValue(prop), el.style.getPropertyPriority(prop)]);
  el.style.setProperty(prop, value, 'important');
};
for (const selector of arguments[0]) {
  for (const el of document.querySelectorAll(selector)) {
    const r = el.getBoundingClientRect();
    for (const e of [el, ...el.querySelectorAll('*')]) hide(e, 'visibility', 'hidden');
    if (r.width > 0 && r.height > 0) {
      const box = document.createElement('div');
      for (const [k, v] of [['position', 'fixed'], ['left', r.left + 'px'], ['top', r.top + 'px'],
          ['width', r.width + 'px'], ['height', r.height + 'px'], ['background', '#ff00ff'],
          ['z-index', '2147483647'], ['pointer-events', 'none'], ['margin', '0'], ['border', '0']]) {
        box.style.setProperty(k, v, 'important');
      }
      document.documentElement.appendChild(box);
      state.boxes.push(box);
    }
  }
}
if (document.activeElement) hide(document.activeElement, 'caret-color', 'transparent');
(document.fonts ? document.fonts.ready : Promise.resolve()).then(() => done(true), () => done(true));
"#;

const UNMASK_SCRIPT: &str = r#"
const state = window.__amanMask;
if (!state) return false;
delete window.__amanMask;
for (const box of state.boxes) box.remove();
for (const [el, prop, value, priority] of state.styles.reverse()) {
  if (value) el.style.setProperty(prop, value, priority); else el.style.removeProperty(prop);
}
return true;
"#;

/// A decoded PNG: size and RGBA pixels.
struct Rgba {
    width: u32,
    height: u32,
    pixels: Vec<[u8; 4]>,
}

fn decode_png(png_bytes: &[u8]) -> Result<Rgba, String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|e| format!("not a PNG: {e}"))?;
    let size = reader.output_buffer_size().ok_or("PNG too large")?;
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).map_err(|e| format!("bad PNG: {e}"))?;
    let data = &buf[..info.buffer_size()];
    let pixels = match info.color_type {
        png::ColorType::Rgba => data.chunks_exact(4).map(|p| [p[0], p[1], p[2], p[3]]).collect(),
        png::ColorType::Rgb => data.chunks_exact(3).map(|p| [p[0], p[1], p[2], 255]).collect(),
        png::ColorType::GrayscaleAlpha => data.chunks_exact(2).map(|p| [p[0], p[0], p[0], p[1]]).collect(),
        png::ColorType::Grayscale => data.iter().map(|&g| [g, g, g, 255]).collect(),
        png::ColorType::Indexed => return Err("indexed PNG not expanded".into()),
    };
    Ok(Rgba { width: info.width, height: info.height, pixels })
}

/// Where two same-sized images differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelDiff {
    /// How many pixels differ.
    pub count: usize,
    /// Of how many.
    pub total: usize,
    /// The bounding box of the differing pixels, inclusive: left, top.
    pub x0: u32,
    /// Top.
    pub y0: u32,
    /// Right (inclusive).
    pub x1: u32,
    /// Bottom (inclusive).
    pub y1: u32,
}

impl fmt::Display for PixelDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let PixelDiff { count, total, x0, y0, x1, y1 } = *self;
        write!(f, "{count} of {total} pixels differ, within {x0},{y0}..{x1},{y1} ({}x{})", x1 - x0 + 1, y1 - y0 + 1)
    }
}

/// Compares two PNGs pixel for pixel (as 8-bit RGBA): `Ok(None)` when
/// equal, `Ok(Some(diff))` when not, `Err` when either is no PNG or their
/// sizes differ.
pub fn pixel_diff(png_a: &[u8], png_b: &[u8]) -> Result<Option<PixelDiff>, String> {
    let a = decode_png(png_a).map_err(|e| format!("first image: {e}"))?;
    let b = decode_png(png_b).map_err(|e| format!("second image: {e}"))?;
    if (a.width, a.height) != (b.width, b.height) {
        return Err(format!("sizes differ: {}x{} and {}x{}", a.width, a.height, b.width, b.height));
    }
    let width = a.width.max(1) as usize;
    let mut diff = PixelDiff { count: 0, total: a.pixels.len(), x0: u32::MAX, y0: u32::MAX, x1: 0, y1: 0 };
    for (i, (pa, pb)) in a.pixels.iter().zip(&b.pixels).enumerate() {
        if pa != pb {
            // Both fit in u32: they are at most the image's width and height.
            let (x, y) = ((i % width) as u32, (i / width) as u32);
            diff.count += 1;
            diff.x0 = diff.x0.min(x);
            diff.y0 = diff.y0.min(y);
            diff.x1 = diff.x1.max(x);
            diff.y1 = diff.y1.max(y);
        }
    }
    Ok((diff.count > 0).then_some(diff))
}

/// `Ok` when the two PNGs have the same size and every pixel equal;
/// otherwise what differs: the sizes, or how many pixels and their bounding
/// box (`x0,y0..x1,y1`, inclusive).
pub fn pixels_equal(png_a: &[u8], png_b: &[u8]) -> Result<(), String> {
    match pixel_diff(png_a, png_b)? {
        None => Ok(()),
        Some(diff) => Err(diff.to_string()),
    }
}

/// A PNG of where two same-sized PNGs differ: the first image faded, the
/// differing pixels pure red. For looking at a failed [`pixels_equal`].
pub fn diff_png(png_a: &[u8], png_b: &[u8]) -> Result<Vec<u8>, String> {
    let a = decode_png(png_a).map_err(|e| format!("first image: {e}"))?;
    let b = decode_png(png_b).map_err(|e| format!("second image: {e}"))?;
    if (a.width, a.height) != (b.width, b.height) {
        return Err(format!("sizes differ: {}x{} and {}x{}", a.width, a.height, b.width, b.height));
    }
    let mut data = Vec::with_capacity(a.pixels.len() * 4);
    for (pa, pb) in a.pixels.iter().zip(&b.pixels) {
        if pa == pb {
            let fade = |c: u8| 192 + c / 4;
            data.extend_from_slice(&[fade(pa[0]), fade(pa[1]), fade(pa[2]), 255]);
        } else {
            data.extend_from_slice(&[255, 0, 0, 255]);
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, a.width, a.height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(&data).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// The size of a PNG: `(width, height)`.
pub fn png_size(png_bytes: &[u8]) -> Result<(u32, u32), String> {
    let a = decode_png(png_bytes)?;
    Ok((a.width, a.height))
}

/// Writes a PNG to `path`, creating its directory.
pub fn save_png(path: impl AsRef<Path>, png_bytes: &[u8]) -> Result<()> {
    let path = path.as_ref();
    if !png_bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        bail!("not a PNG, not saved to {}", path.display());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, png_bytes).with_context(|| format!("writing {}", path.display()))
}
