//! `aman ui` (issue 14): the local web interface in a real browser
//! (Debian's headless Chromium), against real servers on 127.0.0.1.
//!
//! - a member checks in and starts a trip through the page; after a duress
//!   check-in the page is pixel for pixel what it is after a normal one
//!   (clocks masked), while the contacts get the duress alert;
//! - a contact reads a missed check-in's alert with its note and its age,
//!   acknowledges it, and the other contact, on the Arabic page, sees the
//!   acknowledgement; the Arabic page is right to left with every string
//!   translated;
//! - the guard: no token, a used token, a foreign `Host` or `Origin`, a
//!   form body, a listen address off loopback: each refused.
//!
//! Screenshots are written to `$AMAN_SCREENSHOTS` when it is set (the
//! README's come from `AMAN_SCREENSHOTS=docs/ui cargo test -p aman-tests
//! --test e2e ui::`), else to a temporary directory.

use super::pass::{ALICE, DURESS, MEMBER_PASSES, NORMAL};
use super::{aman_json as json, ok, server_env};
use aman_tests::browser::{self, Browser, Options};
use aman_tests::{aman, spawn_aman, ServerProcess};
use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

const BASHIR: &str = "bashir-pass-lantern\n";
const WAIT: Duration = Duration::from_secs(20);

/// A running `aman ui` and the one-time address it printed.
struct Ui {
    child: Child,
    url: String,
    /// Kept open: `aman` must not write to a closed pipe.
    _stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Ui {
    fn start(home: &Path, lang: &str) -> Ui {
        let mut child = spawn_aman(home, "", &["--lang", lang, "ui", "--no-open"], &[]);
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut printed = String::new();
        let url = loop {
            let mut line = String::new();
            assert!(stdout.read_line(&mut line).unwrap() > 0, "aman ui printed no address: {printed}");
            if line.starts_with("http://") {
                break line.trim_end().to_owned();
            }
            printed.push_str(&line);
        };
        Ui { url, child, _stdout: stdout }
    }

    /// `aman ui` as a person starts it: it opens the browser itself, here a
    /// stand-in `xdg-open` that notes what it was handed (the file that
    /// leads the browser to the address), which the test's browser then opens.
    fn start_opening(home: &Path, lang: &str, bin: &Path) -> Ui {
        let opened = bin.join("opened");
        let script = bin.join("xdg-open");
        std::fs::write(
            &script,
            format!("#!/bin/sh\nprintf '%s' \"$1\" > {}.tmp && mv {0}.tmp {0}\n", opened.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        let mut child = spawn_aman(home, "", &["--lang", lang, "ui"], &[("PATH", &path)]);
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let start = std::time::Instant::now();
        let url = loop {
            if let Ok(url) = std::fs::read_to_string(&opened) {
                break url;
            }
            assert!(start.elapsed() < WAIT, "aman ui opened no browser");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(url.starts_with("file://"), "the browser is handed a file, not the token's address: {url}");
        let page = url.strip_prefix("file://").unwrap();
        let text = std::fs::read_to_string(page).unwrap();
        assert!(text.contains("#t="), "{text}");
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(page).unwrap().mode() & 0o777, 0o600, "only its user reads it");
        Ui { url, child, _stdout: stdout }
    }

    /// `http://127.0.0.1:PORT`.
    fn origin(&self) -> String {
        self.url.split("/#").next().unwrap().to_owned()
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshots() -> (PathBuf, Option<tempfile::TempDir>) {
    match std::env::var_os("AMAN_SCREENSHOTS") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).unwrap();
            (dir, None)
        }
        None => {
            let tmp = tempfile::tempdir().unwrap();
            (tmp.path().to_owned(), Some(tmp))
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// No string of the interface is left in English on an Arabic page: with
/// what people wrote (in `<bdi>`), times and safety numbers taken out, no
/// Latin word is left on the screen shown; and no string is empty.
async fn assert_translated(b: &Browser) {
    let untranslated = b
        .exec(
            "const out = []; \
             for (const e of document.querySelectorAll('[data-t]')) { \
               if (e.textContent.trim() === '') out.push(e.dataset.t + ': empty'); \
             } \
             const copy = document.querySelector('main').cloneNode(true); \
             for (const e of copy.querySelectorAll('bdi, .clock, code, [hidden], details:not([open]) > :not(summary)')) e.remove(); \
             for (const w of copy.textContent.match(/[A-Za-z]{3,}/g) || []) out.push(w); \
             return out;",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(untranslated, Value::Array(vec![]), "strings left in English on the Arabic page");
}

/// Opens the page and unlocks it with `passphrase`.
async fn open(b: &Browser, ui: &Ui, passphrase: &str) {
    b.goto(&ui.url).await.unwrap();
    let field = b.wait_for("#unlock-passphrase", WAIT).await.unwrap();
    field.send_keys(passphrase.trim_end()).await.unwrap();
    b.find("#unlock-form button[type=submit]").await.unwrap().click().await.unwrap();
    b.wait_until("return document.getElementById('screen-unlock').hidden", WAIT).await.unwrap();
}

/// Checks in through the page and waits until the page has settled.
async fn check_in(b: &Browser, passphrase: &str) {
    b.exec("document.getElementById('result').textContent = ''", &[]).await.unwrap();
    b.find("#checkin-passphrase").await.unwrap().send_keys(passphrase.trim_end()).await.unwrap();
    b.find("#checkin-form button[type=submit]").await.unwrap().click().await.unwrap();
    b.wait_for_text("#result", "Checked in.", WAIT).await.unwrap();
    settle(b).await;
}

/// Each of the member's screens, clocks masked, scrolled to the top and to
/// the bottom, ending back on the first.
async fn every_screen(b: &Browser) -> Vec<(&'static str, Vec<u8>)> {
    let mut shots = Vec::new();
    for (screen, ready) in [("contacts", "#drill-status"), ("safety", "#safety-list li"), ("member", "#deadline-at")] {
        b.find(&format!("#nav [data-screen={screen}]")).await.unwrap().click().await.unwrap();
        b.wait_for(ready, WAIT).await.unwrap();
        b.wait_until(&format!("return document.querySelector('{ready}').textContent.length > 2"), WAIT).await.unwrap();
        if screen == "member" {
            settle(b).await;
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
        for (end, script) in
            [("top", "window.scrollTo(0, 0)"), ("bottom", "window.scrollTo(0, document.body.scrollHeight)")]
        {
            b.exec(script, &[]).await.unwrap();
            let name = match (screen, end) {
                ("contacts", "top") => "contacts-top",
                ("contacts", _) => "contacts-bottom",
                ("safety", "top") => "safety-top",
                ("safety", _) => "safety-bottom",
                (_, "top") => "member-top",
                _ => "member-bottom",
            };
            shots.push((name, b.screenshot_masked(&[".clock"]).await.unwrap()));
        }
    }
    // The member's screen first, at its top, as the check-in left it.
    shots.rotate_right(2);
    b.exec("window.scrollTo(0, 0)", &[]).await.unwrap();
    shots
}

/// What the page's API answers for each of the member's screens, as the
/// page asks for it, with every number (times, counters) masked.
async fn api_view(b: &Browser) -> Vec<String> {
    let answers = b
        .exec_async(
            "const done = arguments[arguments.length - 1]; \
             const h = { 'x-aman-session': sessionStorage.getItem('aman-session') }; \
             const paths = ['/api/state', '/api/member/status', '/api/member/contacts', '/api/member/drill', \
                            '/api/member/reminders', '/api/safety-numbers']; \
             Promise.all(paths.map((p) => fetch(p, { headers: h }).then((r) => r.text().then((t) => r.status + ' ' + p + ' ' + t)))) \
               .then(done);",
            &[],
        )
        .await
        .unwrap();
    let digits = |text: &str| {
        let mut out = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() {
                if !out.ends_with('#') {
                    out.push('#');
                }
            } else {
                out.push(c);
            }
        }
        out
    };
    let answers: Vec<String> = answers.as_array().unwrap().iter().map(|a| digits(a.as_str().unwrap())).collect();
    for a in &answers {
        assert!(a.starts_with("# /api/") && a.len() > 40, "an answer: {a}");
    }
    answers
}

/// Waits until the deadline card shows a deadline and nothing is loading.
async fn settle(b: &Browser) {
    b.wait_until(
        "return document.getElementById('deadline-at').textContent.length > 3 \
         && !document.getElementById('result').textContent.includes('…')",
        WAIT,
    )
    .await
    .unwrap();
    // The status refresh after an action is a second request: let it land.
    tokio::time::sleep(Duration::from_millis(700)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_checks_in_and_starts_a_trip_in_the_page_and_a_duress_check_in_looks_the_same() {
    if !browser::available_or_skip() {
        return;
    }
    let _shared = super::LOAD.read().await;
    let dir = tempfile::tempdir().unwrap();
    let (shots, _keep) = screenshots();
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[]));
    let (member, alice) = (dir.path().join("member"), dir.path().join("alice"));
    let url = server.url.clone();
    let (m, a) = (member.clone(), alice.clone());
    blocking(move || {
        ok(&aman(&m, MEMBER_PASSES, &["init", "--server", &url]));
        let code = json(&m, NORMAL, &["contact", "invite", "--label", "Alice"])["code"].as_str().unwrap().to_owned();
        ok(&aman(&a, ALICE, &["contact", "accept", &code, "--label", "Noor"]));
        json(&m, NORMAL, &["contact", "list"]);
        json(&m, NORMAL, &["schedule", "set", "--every", "6h", "--grace", "30m", "--note", "Going to the square"]);
    })
    .await;

    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let ui = Ui::start_opening(&member, "en", &bin);
    let b = Browser::start(Options::phone("en")).await.unwrap();
    open(&b, &ui, NORMAL).await;
    b.wait_for_text("#contacts-state", "Linked contacts", WAIT).await.unwrap();
    let page = ui.url.strip_prefix("file://").unwrap().to_owned();
    assert!(!Path::new(&page).exists(), "the file that led the browser here is gone once its token was used");

    // Every screen after a normal check-in, then after a duress one.
    check_in(&b, NORMAL).await;
    let normal = every_screen(&b).await;
    let normal_api = api_view(&b).await;
    browser::save_png(shots.join("member-en.png"), &b.screenshot().await.unwrap()).unwrap();
    check_in(&b, DURESS).await;
    let duress_screens = every_screen(&b).await;
    assert_eq!(normal_api, api_view(&b).await, "what the page's API answers differs after a duress check-in");
    for ((name, normal), (_, duress)) in normal.iter().zip(&duress_screens) {
        if let Some(diff) = browser::pixel_diff(normal, duress).unwrap() {
            browser::save_png(shots.join(format!("{name}-normal.png")), normal).unwrap();
            browser::save_png(shots.join(format!("{name}-duress.png")), duress).unwrap();
            let picture = browser::diff_png(normal, duress).unwrap();
            browser::save_png(shots.join(format!("{name}-difference.png")), &picture).unwrap();
            panic!(
                "the {name} screen after a duress check-in differs from after a normal one: {diff} (see {})",
                shots.display()
            );
        }
    }
    let duress = duress_screens[0].1.clone();
    // It was a duress check-in all the same: the contact is alerted.
    let a = alice.clone();
    let duress_alert = blocking(move || {
        let start = std::time::Instant::now();
        loop {
            let alerts = json(&a, ALICE, &["alerts"]);
            if let Some(found) = alerts["alerts"].as_array().unwrap().iter().find(|x| x["reason"] == "duress") {
                return Some(found.clone());
            }
            if start.elapsed() > Duration::from_secs(30) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    })
    .await;
    assert!(duress_alert.is_some(), "the duress check-in made through the page alerted the contact");

    // A trip, back in two hours by this machine's clock.
    b.exec(
        "const d = new Date(Date.now() + 2 * 3600 * 1000); \
         document.getElementById('trip-back-by').value = \
           String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0');",
        &[],
    )
    .await
    .unwrap();
    b.find("#trip-note").await.unwrap().send_keys("Meeting at the café on Rasheed Street").await.unwrap();
    b.find("#trip-passphrase").await.unwrap().send_keys(NORMAL.trim_end()).await.unwrap();
    b.find("#trip-form button[type=submit]").await.unwrap().click().await.unwrap();
    b.wait_for_text("#result", "Trip started.", WAIT).await.unwrap();
    b.wait_until("return !document.getElementById('trip-actions').hidden", WAIT).await.unwrap();
    settle(&b).await;
    let on_trip = b.screenshot_masked(&[".clock"]).await.unwrap();
    assert!(
        browser::pixel_diff(&duress, &on_trip).unwrap().is_some(),
        "a trip changes the page: the comparison can fail"
    );
    b.exec("document.getElementById('deadline-card').scrollIntoView()", &[]).await.unwrap();
    browser::save_png(shots.join("member-trip-en.png"), &b.screenshot().await.unwrap()).unwrap();
    let m = member.clone();
    let status = blocking(move || json(&m, NORMAL, &["status"])).await;
    let back_by = status["trip"]["back_by"].as_u64().expect("the server has the trip");
    b.find("#trip-actions-passphrase").await.unwrap().send_keys(NORMAL.trim_end()).await.unwrap();
    b.find("#trip-actions .extend[data-by='1h']").await.unwrap().click().await.unwrap();
    b.wait_for_text("#result", "Trip extended.", WAIT).await.unwrap();
    let m = member.clone();
    let status = blocking(move || json(&m, NORMAL, &["status"])).await;
    assert_eq!(status["trip"]["back_by"].as_u64(), Some(back_by + 3600), "extended by an hour: {status}");

    // Panic asks first; cancelling sends nothing.
    b.find("#panic-button").await.unwrap().click().await.unwrap();
    b.wait_until("return document.getElementById('panic-dialog').open", WAIT).await.unwrap();
    browser::save_png(shots.join("member-panic-confirm-en.png"), &b.screenshot().await.unwrap()).unwrap();
    b.find("#panic-cancel").await.unwrap().click().await.unwrap();
    b.wait_until("return !document.getElementById('panic-dialog').open", WAIT).await.unwrap();

    b.find("#trip-actions-passphrase").await.unwrap().send_keys(NORMAL.trim_end()).await.unwrap();
    b.find("#trip-end").await.unwrap().click().await.unwrap();
    b.wait_for_text("#result", "Trip ended.", WAIT).await.unwrap();
    b.wait_until("return !document.getElementById('trip-form').hidden", WAIT).await.unwrap();
    let m = member.clone();
    let status = blocking(move || json(&m, NORMAL, &["status"])).await;
    assert!(status["trip"].is_null(), "the trip is over: {status}");

    // Contacts with their safety numbers.
    b.find("#nav [data-screen=contacts]").await.unwrap().click().await.unwrap();
    b.wait_for_text("#contacts-list", "Alice", WAIT).await.unwrap();
    let m = member.clone();
    let listed = blocking(move || json(&m, NORMAL, &["contact", "list"])).await;
    let number = listed["contacts"][0]["safety_number"].as_str().unwrap().to_owned();
    let shown = b.find("#contacts-list").await.unwrap().text().await.unwrap().replace(' ', "");
    assert!(shown.contains(&number), "the safety number is shown: {shown}");
    b.exec("window.scrollTo(0, 0)", &[]).await.unwrap();
    browser::save_png(shots.join("member-contacts-en.png"), &b.screenshot().await.unwrap()).unwrap();
    b.quit().await.unwrap();
    drop(ui);

    // The same member's screens in Arabic, right to left, every string translated.
    let ui = Ui::start(&member, "ar");
    let b = Browser::start(Options::phone("ar")).await.unwrap();
    open(&b, &ui, NORMAL).await;
    b.wait_until("return document.getElementById('deadline-at').textContent.length > 3", WAIT).await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(b.exec("return document.documentElement.dir", &[]).await.unwrap(), "rtl");
    assert_translated(&b).await;
    browser::save_png(shots.join("member-ar.png"), &b.screenshot().await.unwrap()).unwrap();
    b.find("#nav [data-screen=contacts]").await.unwrap().click().await.unwrap();
    b.wait_for_text("#contacts-list", "Alice", WAIT).await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_translated(&b).await;
    b.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_reads_a_missed_check_in_in_the_page_acknowledges_it_and_the_other_sees_it_in_arabic() {
    if !browser::available_or_skip() {
        return;
    }
    let _shared = super::LOAD.read().await;
    let dir = tempfile::tempdir().unwrap();
    let (shots, _keep) = screenshots();
    let server =
        ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[("AMAN_COOLING_OFF", "1s")]));
    let (member, alice, bashir) = (dir.path().join("member"), dir.path().join("alice"), dir.path().join("bashir"));
    let url = server.url.clone();
    let (m, a, bb) = (member.clone(), alice.clone(), bashir.clone());
    blocking(move || {
        ok(&aman(&m, MEMBER_PASSES, &["init", "--server", &url]));
        for (label, home, pass) in [("Alice", &a, ALICE), ("Bashir", &bb, BASHIR)] {
            let code = json(&m, NORMAL, &["contact", "invite", "--label", label])["code"].as_str().unwrap().to_owned();
            ok(&aman(home, pass, &["contact", "accept", &code, "--label", "Noor"]));
            json(&m, NORMAL, &["contact", "list"]);
        }
        std::thread::sleep(Duration::from_millis(1500)); // past the cooling-off for the second contact
        json(&m, NORMAL, &["schedule", "set", "--every", "2s", "--grace", "1s"]);
        json(
            &m,
            NORMAL,
            &[
                "checkin",
                "--note",
                "Going to the protest at Tahrir Square with Sara",
                "--location",
                "Tahrir Square, Baghdad",
            ],
        );
    })
    .await;
    // Noor checks in no more: the deadline passes and the server alerts.

    let alice_ui = Ui::start(&alice, "en");
    let bashir_ui = Ui::start(&bashir, "ar");
    let (a_browser, b_browser) =
        tokio::join!(Browser::start(Options::phone("en")), Browser::start(Options::phone("ar")));
    let (a_browser, b_browser) = (a_browser.unwrap(), b_browser.unwrap());
    open(&a_browser, &alice_ui, ALICE).await;
    open(&b_browser, &bashir_ui, BASHIR).await;

    let card = a_browser.wait_for_text("#alerts", "did not check in by their deadline", Duration::from_secs(40)).await;
    let card = card.unwrap().text().await.unwrap();
    assert!(card.contains("Noor"), "{card}");
    assert!(card.contains("Going to the protest at Tahrir Square with Sara"), "the note: {card}");
    assert!(card.contains("Tahrir Square, Baghdad"), "the location: {card}");
    assert!(card.contains("written"), "the note's age: {card}");
    browser::save_png(shots.join("contact-alert-en.png"), &a_browser.screenshot().await.unwrap()).unwrap();
    // The map is opt-in: no link to a map site until asked.
    assert!(a_browser.try_find("#alerts a[href*=openstreetmap]").await.unwrap().is_none());
    a_browser.find("#alerts .map button").await.unwrap().click().await.unwrap();
    a_browser.wait_for("#alerts a[href*=openstreetmap]", WAIT).await.unwrap();

    a_browser.find("#alerts .ack-button").await.unwrap().click().await.unwrap();
    a_browser.wait_for_text("#alerts", "Acknowledged by you", WAIT).await.unwrap();

    // Bashir's page, in Arabic, learns of it by itself (it polls).
    let acked = b_browser.wait_for_text("#alerts .ack", "Alice", Duration::from_secs(40)).await.unwrap();
    let acked = acked.text().await.unwrap();
    assert!(acked.contains("أكّد"), "the acknowledgement in Arabic: {acked}");
    let dir_attr = b_browser.exec("return document.documentElement.dir", &[]).await.unwrap();
    assert_eq!(dir_attr, "rtl");
    let lang_attr = b_browser.exec("return document.documentElement.lang", &[]).await.unwrap();
    assert_eq!(lang_attr, "ar");
    let headline = b_browser.find("#alerts .headline").await.unwrap().text().await.unwrap();
    assert!(headline.chars().any(|c| ('\u{0600}'..='\u{06ff}').contains(&c)), "the headline is Arabic: {headline}");
    assert_translated(&b_browser).await;
    browser::save_png(shots.join("contact-alert-ar.png"), &b_browser.screenshot().await.unwrap()).unwrap();
    a_browser.quit().await.unwrap();
    b_browser.quit().await.unwrap();
}

/// One request to the interface, as a browser (or a web page's script,
/// or a rebinding name) would send it.
async fn request(
    origin: &str,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> reqwest::Response {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut r = client.request(method, format!("{origin}{path}"));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    if let Some(b) = body {
        r = r.body(b.to_owned());
    }
    r.send().await.unwrap()
}

/// A server, a member registered there and `aman ui` on the member's
/// keystore (the directory and the server live as long as the test holds them).
async fn member_with_ui() -> (tempfile::TempDir, ServerProcess, PathBuf, Ui) {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[]));
    let member = dir.path().join("member");
    let (m, url) = (member.clone(), server.url.clone());
    blocking(move || ok(&aman(&m, MEMBER_PASSES, &["init", "--server", &url]))).await;
    let ui = Ui::start(&member, "en");
    (dir, server, member, ui)
}

async fn code_of(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    (status, v["error"]["code"].as_str().unwrap_or("").to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_interface_refuses_whoever_lacks_its_token_our_host_or_our_origin() {
    let _shared = super::LOAD.read().await;
    let (_dir, _server, member, ui) = member_with_ui().await;
    let origin = ui.origin();
    let token = ui.url.split("#t=").nth(1).unwrap().to_owned();
    let host = origin.strip_prefix("http://").unwrap().to_owned();
    let port = host.rsplit(':').next().unwrap().to_owned();
    use reqwest::Method;
    let json_ct = ("content-type", "application/json");
    let ours = ("origin", origin.as_str());

    // The page holds nothing of the user's; the API answers nothing without
    // the session.
    for path in ["/api/state", "/api/member/status", "/api/contact/alerts"] {
        assert_eq!(code_of(request(&origin, Method::GET, path, &[], None).await).await, (401, "no_session".into()));
    }
    let wrong = request(&origin, Method::POST, "/api/session", &[json_ct, ours], Some(r#"{"token":"AAAA"}"#)).await;
    assert_eq!(code_of(wrong).await, (401, "bad_token".into()));
    // A rebinding name pointing at 127.0.0.1, on our very port, never gets
    // in, even with the token, and learns nothing: not even that this is Aman.
    let rebound_host = format!("evil.example:{port}");
    let body = format!(r#"{{"token":"{token}"}}"#);
    for path in ["/", "/app.js", "/api/session"] {
        let rebound =
            request(&origin, Method::POST, path, &[("host", &rebound_host), json_ct, ours], Some(&body)).await;
        assert_eq!(rebound.status().as_u16(), 403, "{path}");
        assert_eq!(rebound.text().await.unwrap(), "", "a foreign Host learns nothing");
        let rebound = request(&origin, Method::GET, path, &[("host", &rebound_host)], None).await;
        assert_eq!((rebound.status().as_u16(), rebound.text().await.unwrap()), (403, String::new()), "{path}");
    }
    // The token is posted by our page only: our Origin, a JSON body.
    let cases = [
        (vec![json_ct], (403, "bad_origin")),
        (vec![json_ct, ("origin", "http://evil.example")], (403, "bad_origin")),
        (vec![json_ct, ("origin", "null")], (403, "bad_origin")),
        (vec![json_ct, ("origin", "http://127.0.0.1:1")], (403, "bad_origin")),
        (vec![("content-type", "text/plain"), ours], (403, "not_json")),
    ];
    for (headers, expected) in &cases {
        let got = code_of(request(&origin, Method::POST, "/api/session", headers, Some(&body)).await).await;
        assert_eq!((got.0, got.1.as_str()), *expected, "{headers:?}");
    }

    // The token, once, for the session secret.
    let first = request(&origin, Method::POST, "/api/session", &[json_ct, ours], Some(&body)).await;
    assert_eq!(first.status().as_u16(), 200);
    assert!(first.headers().get("set-cookie").is_none(), "no cookie: it would reach every port of 127.0.0.1");
    let session = first.json::<Value>().await.unwrap()["session"].as_str().unwrap().to_owned();
    let again = request(&origin, Method::POST, "/api/session", &[json_ct, ours], Some(&body)).await;
    assert_eq!(code_of(again).await, (401, "bad_token".into()), "the token works once");
    let with = ("x-aman-session", session.as_str());
    let wrong_session = "A".repeat(session.len());
    let state = request(&origin, Method::GET, "/api/state", &[("x-aman-session", &wrong_session)], None).await;
    assert_eq!(code_of(state).await, (401, "no_session".into()));

    // The page and its policy: nothing loads from elsewhere.
    let page = request(&origin, Method::GET, "/", &[], None).await;
    assert_eq!(page.status().as_u16(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("connect-src 'self'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"), "the page loads nothing from elsewhere");
    let js = request(&origin, Method::GET, "/app.js", &[], None).await.text().await.unwrap();
    assert_eq!(js.matches("https://").count(), 1, "the script names one outside address: the opt-in map link");

    // A session secret on a foreign Host (rebinding after the page loaded).
    let foreign = request(&origin, Method::GET, "/api/state", &[with, ("host", "evil.example")], None).await;
    assert_eq!(foreign.status().as_u16(), 403);
    // Changes need our Origin and a JSON body besides the session.
    let unlock = r#"{"passphrase":"n0rmal-river-lamp"}"#;
    for (headers, expected) in &cases {
        let mut h = vec![with];
        h.extend_from_slice(headers);
        let got = code_of(request(&origin, Method::POST, "/api/unlock", &h, Some(unlock)).await).await;
        assert_eq!((got.0, got.1.as_str()), *expected, "{headers:?}");
    }
    let state = request(&origin, Method::GET, "/api/state", &[with], None).await;
    assert_eq!(state.json::<Value>().await.unwrap()["unlocked"], false, "none of those unlocked anything");
    let guess = r#"{"passphrase":"guess"}"#;
    let wrong = request(&origin, Method::POST, "/api/unlock", &[with, json_ct, ours], Some(guess)).await;
    assert_eq!(code_of(wrong).await, (401, "wrong_passphrase".into()));
    let unlocked = request(&origin, Method::POST, "/api/unlock", &[with, json_ct, ours], Some(unlock)).await;
    assert_eq!(unlocked.status().as_u16(), 200);
    let status = request(&origin, Method::GET, "/api/member/status", &[with, ("host", host.as_str())], None).await;
    assert_eq!(status.status().as_u16(), 200);

    // What is a check-in takes a passphrase of its own: the open keystore
    // is not enough, and a wrong one does nothing.
    let post = |path: &'static str, body: String| {
        let (origin, session) = (origin.clone(), session.clone());
        async move {
            let h = [
                ("x-aman-session", session.as_str()),
                ("content-type", "application/json"),
                ("origin", origin.as_str()),
            ];
            code_of(request(&origin, Method::POST, path, &h, Some(&body)).await).await
        }
    };
    for (path, body) in [
        ("/api/member/checkin", "{}".to_owned()),
        ("/api/member/trip/start", r#"{"back_by":"23:00"}"#.to_owned()),
        ("/api/member/trip/extend", r#"{"by":"2h"}"#.to_owned()),
        ("/api/member/trip/end", "{}".to_owned()),
    ] {
        assert_eq!(post(path, body).await, (400, "bad_request".into()), "{path} without a passphrase");
    }
    for (path, body) in [
        ("/api/member/checkin", r#"{"passphrase":"guess"}"#),
        ("/api/member/trip/start", r#"{"passphrase":"guess","back_by":"23:00"}"#),
        ("/api/member/trip/extend", r#"{"passphrase":"guess","by":"2h"}"#),
        ("/api/member/trip/end", r#"{"passphrase":"guess"}"#),
    ] {
        assert_eq!(post(path, body.to_owned()).await, (401, "wrong_passphrase".into()), "{path}");
    }
    let m = member.clone();
    let status = blocking(move || json(&m, NORMAL, &["status"])).await;
    assert_eq!(status["counter"], 0, "none of those checked in: {status}");

    // The page never writes an old copy of the keystore over what another
    // aman command saved meanwhile.
    let m = member.clone();
    blocking(move || json(&m, NORMAL, &["contact", "invite", "--label", "Bashir"])).await;
    let h = [with];
    assert_eq!(request(&origin, Method::GET, "/api/member/status", &h, None).await.status().as_u16(), 200);
    assert_eq!(request(&origin, Method::GET, "/api/member/contacts", &h, None).await.status().as_u16(), 200);
    let m = member.clone();
    let listed = blocking(move || json(&m, NORMAL, &["contact", "list"])).await;
    assert_eq!(listed["contacts"][0]["label"], "Bashir", "the invite made on the command line is kept: {listed}");

    // Lock closes it: nothing answers until the passphrase again.
    let locked = request(&origin, Method::POST, "/api/lock", &[with, json_ct, ours], Some("{}")).await;
    assert_eq!(locked.status().as_u16(), 200);
    assert_eq!(
        code_of(request(&origin, Method::GET, "/api/member/status", &h, None).await).await,
        (401, "locked".into())
    );
    let state = request(&origin, Method::GET, "/api/state", &h, None).await;
    assert_eq!(state.json::<Value>().await.unwrap()["unlocked"], false);

    // It listens on loopback only.
    let out = aman(&member, "", &["ui", "--no-open", "--listen", "0.0.0.0:0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only on this machine"), "{out:?}");
}

#[test]
fn the_command_line_speaks_arabic_when_asked_and_its_json_does_not_change() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[]));
    let member = dir.path().join("member");
    ok(&aman(&member, MEMBER_PASSES, &["init", "--server", &server.url]));
    let arabic = |c: char| ('\u{0600}'..='\u{06ff}').contains(&c);
    let english = String::from_utf8(ok_output(aman(&member, NORMAL, &["--lang", "en", "status"]))).unwrap();
    assert!(english.contains("is reachable") && !english.chars().any(arabic), "{english}");
    let by_flag = String::from_utf8(ok_output(aman(&member, NORMAL, &["--lang", "ar", "status"]))).unwrap();
    assert!(by_flag.chars().any(arabic) && !by_flag.contains("is reachable"), "{by_flag}");
    let by_locale = aman_tests::aman_env(&member, NORMAL, &["status"], &[("LANG", "ar_IQ.UTF-8"), ("LC_ALL", "")]);
    let by_locale = String::from_utf8(ok_output(by_locale)).unwrap();
    assert!(by_locale.chars().any(arabic), "the locale chooses Arabic: {by_locale}");
    // --json is for programs: the same keys and values in every language
    // (the server's time aside).
    let mut en = json(&member, NORMAL, &["--lang", "en", "status"]);
    let mut ar = json(&member, NORMAL, &["--lang", "ar", "status"]);
    for v in [&mut en, &mut ar] {
        v["server_time"] = Value::Null;
    }
    assert_eq!(en, ar);
    let unknown = aman(&member, NORMAL, &["--lang", "fr", "status"]);
    assert_eq!(unknown.status.code(), Some(2), "an unknown language is a usage error");
}

fn ok_output(out: std::process::Output) -> Vec<u8> {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A request of the page's that waits on a stalled server does not write
/// its old copy of the keystore over what the command line saved meanwhile
/// (a stored Tor proxy dropped would send the next commands direct).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_never_saves_an_old_keystore_over_a_command_run_meanwhile() {
    let _shared = super::LOAD.read().await;
    let (_dir, server, member, ui) = member_with_ui().await;
    let origin = ui.origin();
    let token = ui.url.split("#t=").nth(1).unwrap().to_owned();
    use reqwest::Method;
    let (json_ct, ours) = (("content-type", "application/json"), ("origin", origin.as_str()));
    let body = format!(r#"{{"token":"{token}"}}"#);
    let reply = request(&origin, Method::POST, "/api/session", &[json_ct, ours], Some(&body)).await;
    let session = reply.json::<Value>().await.unwrap()["session"].as_str().unwrap().to_owned();
    let with = ("x-aman-session", session.as_str());
    let unlock = r#"{"passphrase":"n0rmal-river-lamp"}"#;
    assert_eq!(request(&origin, Method::POST, "/api/unlock", &[with, json_ct, ours], Some(unlock)).await.status(), 200);

    // The server stalls; the page asks for the status, which waits.
    let pid = server.pid().to_string();
    assert!(std::process::Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    let (o, s) = (origin.clone(), session.clone());
    let waiting = tokio::spawn(async move {
        request(&o, Method::GET, "/api/member/status", &[("x-aman-session", s.as_str())], None).await.status()
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Meanwhile the member stores a proxy on the command line (both passphrases).
    let m = member.clone();
    let set = blocking(move || {
        aman(&m, "n0rmal-river-lamp\ndur3ss-cloud-fig\n", &["config", "set-proxy", "socks5h://127.0.0.1:9050"])
    })
    .await;
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    assert!(std::process::Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
    let _ = waiting.await.unwrap();
    // The page goes on: its next request reads the keystore again (and
    // would reach the server through the proxy now).
    let _ = request(&origin, Method::GET, "/api/member/contacts", &[with], None).await;
    let m = member.clone();
    let shown = blocking(move || json(&m, NORMAL, &["config", "show"])).await;
    assert_eq!(shown["proxy"], "socks5h://127.0.0.1:9050", "the command line's proxy is kept: {shown}");
}
