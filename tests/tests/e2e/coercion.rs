//! Coercion resistance as a system property (issue 9), tested as
//! `shared/DESIGN.md` ("observers and sequences") describes: one script, run
//! once per variant against real `aman-server` and `aman` processes, every
//! observer's whole view recorded, and the views compared.
//!
//! Variants: the member's trigger step is a normal check-in, a duress
//! check-in, a panic, or a missed deadline. Everything else is the same.
//!
//! | observer | recorder | compared |
//! |---|---|---|
//! | the captor running `aman` on the member's keystore | every command's exit code, stdout and stderr, text and `--json`, digits and ids masked | normal = duress |
//! | anyone who can reach the public listener | `/healthz`, `/metrics`, `/openapi.json`, an unauthenticated error | normal = duress |
//! | another member's contact, long-polling | when its poll wakes | normal = duress = no wake |
//! | a watcher of the server's network | connections to the receivers, and when | none after a normal check-in; never inside the request; the same delay for every kind |
//! | webhook, ntfy and mail providers | headers and bodies of the first notification and its re-notification, ids masked; the interval | duress = panic = missed |
//! | whoever copies the data directory | every key and value in the sled database, numbers and random bytes reduced to their shape; the raw files | duress = panic = missed; no key file, no reason in clear |
//!
//! The same script runs again with a second server the member added (issue
//! 13): every observer of the first server has its twin on the second, the
//! captor also runs `aman server list`, and the comparisons are the same.

use super::{free_port, server_env};
use aman_client::api::ApiClient;
use aman_protocol::routes::{Checkin, Healthz, OpenApi, Route};
use aman_tests::{aman, aman_env, binary, Member, Receiver, ServerProcess, SmtpServer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The dispatch delay the servers run with: every alert reaches its
/// contacts between 1 s and 2 s after it fired.
const DISPATCH_DELAY_S: u64 = 2;

/// Re-notification every 3 s within a 6 s delivery horizon: each channel
/// gets its first notification and exactly one re-notification (due 3 s on,
/// from the whole second after the first was recorded; the next would be
/// past the horizon), so the stored records settle the same in every run.
/// The first may be recorded up to 2 s after its dispatch (a slow machine)
/// and still leave room for the re-notification.
const RENOTIFY: (&str, &str) = ("AMAN_RENOTIFY_INTERVAL", "3s");
const HORIZON: (&str, &str) = ("AMAN_DELIVERY_HORIZON", "6s");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Normal,
    Duress,
    Panic,
    Missed,
    /// Trips only: the trigger is `trip end`, a stand-down, with the normal
    /// or the duress passphrase.
    StandDown,
    StandDownDuress,
}

impl Variant {
    fn trips_only(self) -> bool {
        matches!(self, Variant::StandDown | Variant::StandDownDuress)
    }
}

/// Everything each observer saw in one run.
#[derive(Debug, Default)]
struct Views {
    captor: Vec<String>,
    public: Vec<String>,
    webhook: Vec<String>,
    ntfy: Vec<String>,
    mail: Vec<String>,
    other_contact_wakes: usize,
    /// From the trigger to the first notification of any kind.
    first_notification_after: Option<Duration>,
    /// From each web channel's first notification to its re-notification.
    renotified_after: Vec<Duration>,
    stored: Vec<String>,
    /// The second server's database, in a run with one (issue 13).
    mirror_stored: Vec<String>,
    stored_raw_words: Vec<String>,
    key_file_in_data_dir: bool,
}

/// Masks what differs between any two runs whatever the passphrase: ids,
/// keys and codes (long tokens), times and durations (tokens with digits).
fn mask(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let mut words: Vec<String> = Vec::new();
        for word in line.split_whitespace() {
            let core = word.trim_matches(|c: char| "()[]{},.;:\"'`".contains(c));
            // Ids, keys, codes, signatures: a run of 16 or more token characters.
            let mut run = 0usize;
            let long_token = core.chars().any(|c| {
                run = if c.is_ascii_alphanumeric() || c == '_' || c == '-' { run + 1 } else { 0 };
                run >= 16
            });
            let timeish = core.chars().any(|c| c.is_ascii_digit())
                && core.chars().all(|c| c.is_ascii_digit() || "dhms:-+TZ.".contains(c));
            let url = core.starts_with("http://") || core.starts_with("https://");
            let masked = if long_token || timeish || url { "<v>".to_owned() } else { word.to_owned() };
            if !(masked == "<v>" && words.last().is_some_and(|w| w == "<v>")) {
                words.push(masked);
            }
        }
        out.push(words.join(" "));
    }
    out.join("\n")
}

/// A JSON value's shape: numbers zeroed, strings masked.
fn mask_json(v: &Value) -> Value {
    match v {
        Value::Number(_) => Value::from(0),
        Value::String(s) => Value::String(mask(s)),
        Value::Array(a) => Value::Array(a.iter().map(mask_json).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), mask_json(v))).collect()),
        other => other.clone(),
    }
}

fn record(out: &Output, args: &[&str]) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stdout = match serde_json::from_str::<Value>(&stdout) {
        Ok(v) => mask_json(&v).to_string(),
        Err(_) => mask(&stdout),
    };
    format!(
        "$ aman {}\nexit {:?}\n{}\n{}",
        args.join(" "),
        out.status.code(),
        stdout,
        mask(&String::from_utf8_lossy(&out.stderr))
    )
}

/// The public listener, as anyone on the network sees it.
async fn scrape_public(url: &str) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut seen = Vec::new();
    for (method, path) in [("GET", Healthz::PATH), ("GET", "/metrics"), ("GET", OpenApi::PATH), ("POST", Checkin::PATH)]
    {
        let req = match method {
            "POST" => http.post(format!("{url}{path}")).body("{}"),
            _ => http.get(format!("{url}{path}")),
        };
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap();
        let body = match serde_json::from_str::<Value>(&body) {
            Ok(v) => mask_json(&v).to_string(),
            Err(_) => mask(&body),
        };
        seen.push(format!("{method} {path} {status} {body}"));
    }
    seen
}

/// One request a provider received, reduced to what does not change between runs.
fn shape_of_request(headers: &[(String, String)], raw: &[u8]) -> String {
    let mut hs: Vec<String> =
        headers.iter().filter(|(k, _)| k != "content-length").map(|(k, v)| format!("{k}: {}", mask(v))).collect();
    hs.sort();
    let body = match serde_json::from_slice::<Value>(raw) {
        Ok(v) => mask_json(&v).to_string(),
        Err(_) => mask(&String::from_utf8_lossy(raw)),
    };
    format!("{}\n{body}", hs.join("\n"))
}

/// The shape of a stored value: JSON with numbers and random strings
/// reduced to their kind and length.
fn stored_shape(v: &Value) -> String {
    match v {
        Value::Number(_) => "n".into(),
        Value::String(s) if s.len() >= 16 => format!("s{}", s.len()),
        Value::String(s) => format!("{s:?}"),
        Value::Array(a) => {
            let mut items: Vec<String> = a.iter().map(stored_shape).collect();
            items.sort();
            format!("[{}]", items.join(","))
        }
        Value::Object(o) => {
            format!("{{{}}}", o.iter().map(|(k, v)| format!("{k}:{}", stored_shape(v))).collect::<Vec<_>>().join(","))
        }
        other => other.to_string(),
    }
}

/// Every key and value of a copied sled database, as a classifier without
/// the server key would see them: the record kind, the key's length, and
/// the value's shape. Equal multisets mean no classifier over them can do
/// better than chance.
fn stored_view(db_dir: &Path) -> Vec<String> {
    let db = sled::open(db_dir).unwrap();
    let mut features = Vec::new();
    for name in db.tree_names() {
        let tree = db.open_tree(&name).unwrap();
        for item in tree.iter() {
            let (k, v) = item.unwrap();
            let kind = k.first().map(|b| *b as char).unwrap_or('?');
            let value = match serde_json::from_slice::<Value>(&v) {
                Ok(json) => stored_shape(&json),
                Err(_) => format!("bytes{}", v.len()),
            };
            features.push(format!("{kind} key{} {value}", k.len()));
        }
    }
    features.sort();
    features
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(p) = todo.pop() {
        if p.is_dir() {
            todo.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            out.push(p);
        }
    }
    out
}

fn wait_until(within: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() && start.elapsed() < within {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One run of the script. With `mirrored`, the member has added a second
/// server (issue 13) before pairing, the contact has learnt it and added its
/// channels there, and every observer of the first server has its twin on
/// the second: its public listener, its providers, its data directory.
fn run(variant: Variant, mirrored: bool) -> Views {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let smtp = SmtpServer::start().unwrap();
    let webhook = rt.block_on(Receiver::start("127.0.0.1:0")).unwrap();
    let ntfy = rt.block_on(Receiver::start("127.0.0.1:0")).unwrap();
    let smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
    let delay = format!("{DISPATCH_DELAY_S}s");
    let mut env = server_env(&[]);
    let owned = [
        ("AMAN_SMTP_URL", smtp_url.as_str()),
        ("AMAN_SMTP_FROM", "alerts@aman.test"),
        ("AMAN_DISPATCH_DELAY", delay.as_str()),
        RENOTIFY,
        HORIZON,
        ("AMAN_COOLING_OFF", "1s"),
    ];
    env.retain(|(k, _)| !owned.iter().any(|(o, _)| o == k));
    let mut env: Vec<(&str, &str)> = env;
    env.extend_from_slice(&owned);
    let server = ServerProcess::start(&data, &format!("127.0.0.1:{}", free_port()), &env);
    let url = server.url.clone();
    let mirror_data = dir.path().join("mirror");
    let mirror = mirrored.then(|| ServerProcess::start(&mirror_data, &format!("127.0.0.1:{}", free_port()), &env));
    let servers = if mirrored { 2 } else { 1 };
    let mut views = Views::default();

    // Another member and its contact, long-polling all along.
    let api = ApiClient::new(&url, None, Duration::from_secs(90)).unwrap();
    let mut other = Member::new();
    rt.block_on(async {
        other.register(&api).await.unwrap();
        other.add_contact(&api, 1).await.unwrap();
    });
    let other_contact = other.contacts.remove(0);
    let wakes: Arc<Mutex<usize>> = Arc::default();
    let stop_polling = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let (wakes, stop) = (wakes.clone(), stop_polling.clone());
        rt.spawn(async move {
            let first = other_contact.poll(&api, 0, 0).await.unwrap();
            let mut cursor = first.cursor_ms;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let contents = other_contact.poll(&api, cursor, 2).await.unwrap();
                if contents.cursor_ms > cursor {
                    *wakes.lock().unwrap() += 1;
                    cursor = contents.cursor_ms;
                }
            }
        })
    };

    // The member and a contact, as people would set them up.
    let member = dir.path().join("member");
    let contact = dir.path().join("contact");
    let normal = "normal-passphrase-quilt\n";
    let duress = "duress-passphrase-jungle\n";
    let out = aman(&member, "normal-passphrase-quilt\nduress-passphrase-jungle\n", &["init", "--server", &url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    if let Some(mirror) = &mirror {
        let out = aman(&member, "normal-passphrase-quilt\nduress-passphrase-jungle\n", &["server", "add", &mirror.url]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = aman(&member, normal, &["--json", "contact", "invite", "--label", "sara"]);
    let code = serde_json::from_slice::<Value>(&out.stdout).unwrap()["code"].as_str().unwrap().to_owned();
    let out =
        aman(&contact, "contact-pass-orchid\ncontact-duress-maple\n", &["contact", "accept", &code, "--label", "noor"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for (kind, target) in [
        ("webhook", format!("{}/hook", webhook.url)),
        ("ntfy", format!("{}/aman-topic", ntfy.url)),
        ("email", "sara@example.org".to_owned()),
    ] {
        let out = aman(&contact, "contact-pass-orchid\n", &["notify", "add", kind, &target]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // The captor's commands, each recorded in text and JSON.
    let captor = |views: &mut Views, stdin: &str, args: &[&str]| {
        let out = aman(&member, stdin, args);
        views.captor.push(record(&out, args));
        out
    };
    let look_around = |views: &mut Views| {
        let mut commands = vec![
            &["status"][..],
            &["--json", "status"],
            &["schedule", "show"],
            &["--json", "schedule", "show"],
            &["contact", "list"],
            &["--json", "contact", "list"],
        ];
        if mirrored {
            commands.extend([&["server", "list"][..], &["--json", "server", "list"]]);
        }
        for args in commands {
            captor(views, normal, args);
            captor(views, duress, args);
        }
    };
    captor(&mut views, normal, &["contact", "list"]);
    if mirrored {
        // Once the member's client has completed the pairing (any command
        // does), the contact reads the member's directory of servers, and adds its
        // channels on the second one (the wait for a newly listed server cut
        // to nothing); one more read after that, for good measure.
        let learnt = || {
            let out = aman_env(
                &contact,
                "contact-pass-orchid\n",
                &["--json", "alerts", "--all"],
                &[("AMAN_NEW_SERVER_WAIT", "0")],
            );
            serde_json::from_slice::<Value>(&out.stdout)
                .is_ok_and(|v| v["member_servers"][0]["servers"].as_array().is_some_and(|s| s.len() == 2))
        };
        wait_until(Duration::from_secs(30), learnt);
        assert!(learnt(), "the contact learnt the member's second server");
    }
    // A missed deadline needs a short schedule; the captor's view is compared
    // only between the normal and the duress runs, which share this one.
    let (every, grace) = if variant == Variant::Missed { ("1s", "10s") } else { ("1h", "1h") };
    let note = "I went to meet K. at the old bridge.";
    captor(&mut views, normal, &["schedule", "set", "--every", every, "--grace", grace, "--note", note]);
    captor(&mut views, normal, &["checkin", "--location", "Karrada"]);
    if variant.trips_only() {
        // Trips only waits out the (1 s) cooling-off: until the server has
        // applied it (asked outside the captor's record, as often as it
        // takes), and a second more for the client's clock; then a trip,
        // ended by the trigger.
        captor(&mut views, normal, &["schedule", "set", "--trips-only", "--max-trip", every, "--grace", grace]);
        // Its notice, too, has reached every channel before the trigger.
        wait_until(Duration::from_secs(20), || {
            let out = aman(&member, normal, &["--json", "status"]);
            let applied = serde_json::from_slice::<Value>(&out.stdout)
                .is_ok_and(|v| v["pending_changes"] == serde_json::json!([]));
            applied && !webhook.hits().is_empty() && !ntfy.hits().is_empty() && !smtp.messages().is_empty()
        });
        std::thread::sleep(Duration::from_millis(1100));
        captor(&mut views, normal, &["trip", "start", "--back-by", "30m"]);
    }
    look_around(&mut views);
    let scrape = |views: &mut Views| {
        views.public.extend(rt.block_on(scrape_public(&url)));
        if let Some(mirror) = &mirror {
            views.public.extend(rt.block_on(scrape_public(&mirror.url)).into_iter().map(|l| format!("mirror {l}")));
        }
    };
    scrape(&mut views);

    // The trigger. What the channels had before it (trips only's notice)
    // is not what it causes.
    let before = [webhook.hits().len(), ntfy.hits().len(), smtp.messages().len()];
    let mut trigger = Instant::now();
    match variant {
        Variant::Normal => drop(captor(&mut views, normal, &["checkin"])),
        Variant::Duress => drop(captor(&mut views, duress, &["checkin"])),
        Variant::Panic => drop(captor(&mut views, normal, &["panic"])),
        Variant::StandDown => drop(captor(&mut views, normal, &["trip", "end"])),
        Variant::StandDownDuress => drop(captor(&mut views, duress, &["trip", "end"])),
        Variant::Missed => {
            let out = captor(&mut views, normal, &["--json", "checkin"]);
            let deadline = serde_json::from_slice::<Value>(&out.stdout).unwrap()["deadline"].as_u64().unwrap();
            // The alert fires when the deadline's second begins.
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
            std::thread::sleep(Duration::from_secs(deadline).saturating_sub(now));
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
            trigger = Instant::now() - now.saturating_sub(Duration::from_secs(deadline));
        }
    }
    // Right after: what anyone on the network and the captor can see.
    if variant != Variant::Missed {
        scrape(&mut views);
        look_around(&mut views);
    }

    // Give any alert time to reach every channel.
    let alerted = !matches!(variant, Variant::Normal | Variant::StandDown);
    let reached = |n: usize| {
        webhook.hits().len() >= before[0] + n
            && ntfy.hits().len() >= before[1] + n
            && smtp.messages().len() >= before[2] + n
    };
    // Every server alerts on its own: each channel hears from each.
    wait_until(Duration::from_secs(20), || !alerted || reached(servers));
    if !alerted {
        std::thread::sleep(Duration::from_secs(DISPATCH_DELAY_S + 2));
    }
    let firsts = [webhook.hits().get(before[0]).map(|h| h.at), ntfy.hits().get(before[1]).map(|h| h.at)];
    views.first_notification_after = firsts.into_iter().flatten().min().map(|at| at.duration_since(trigger));
    // And the re-notification nobody acknowledged, on every channel.
    wait_until(Duration::from_secs(20), || !alerted || reached(2 * servers));
    // (With two servers the channels' hits interleave: the one-server runs
    // time the re-notification.)
    for (hits, skip) in [(webhook.hits(), before[0]), (ntfy.hits(), before[1])] {
        if let ([first, second, ..], false) = (&hits[skip..], mirrored) {
            views.renotified_after.push(second.at.duration_since(first.at));
        }
    }
    views.webhook = webhook.hits().iter().map(|h| shape_of_request(&h.headers, &h.raw)).collect();
    views.ntfy = ntfy.hits().iter().map(|h| shape_of_request(&h.headers, &h.raw)).collect();
    views.mail = smtp.messages().iter().map(|m| mask(m)).collect();
    if mirrored {
        // Which server's request came first is a race, not a view.
        for seen in [&mut views.webhook, &mut views.ntfy, &mut views.mail] {
            seen.sort();
        }
    }

    // The member carries on; the captor looks again (with the short
    // schedule of the missed run, the server stops before the next deadline).
    captor(&mut views, normal, &["checkin"]);
    if variant != Variant::Missed {
        look_around(&mut views);
        scrape(&mut views);
    }

    // The late check-in's wake-up is dispatched after the same delay as an alert.
    std::thread::sleep(Duration::from_secs(DISPATCH_DELAY_S + 2)); // the delay, rounded up to a second, and a margin
    stop_polling.store(true, std::sync::atomic::Ordering::Relaxed);
    rt.block_on(poller).unwrap();
    views.other_contact_wakes = *wakes.lock().unwrap();

    // Every delivery recorded, then the server stops and its data directory is copied.
    let settled = |data: &Path| {
        wait_until(Duration::from_secs(10), || {
            let out =
                Command::new(binary("aman-server")).arg("--data").arg(data).args(["--json", "stats"]).output().unwrap();
            serde_json::from_slice::<Value>(&out.stdout).is_ok_and(|v| v["deliveries_pending"] == 0)
        })
    };
    settled(&data);
    drop(server.stop());
    let copy = dir.path().join("seized");
    copy_dir(&data, &copy);
    views.stored = stored_view(&copy.join("db"));
    let mut seized = vec![copy];
    if let Some(mirror) = mirror {
        settled(&mirror_data);
        drop(mirror.stop());
        let copy = dir.path().join("seized-mirror");
        copy_dir(&mirror_data, &copy);
        views.mirror_stored = stored_view(&copy.join("db"));
        seized.push(copy);
    }
    let files: Vec<PathBuf> = seized.iter().flat_map(|copy| files_under(copy)).collect();
    views.key_file_in_data_dir = files.iter().any(|p| p.file_name().is_some_and(|n| n == "server.key"));
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        // A reason as a stored value (field names such as `duress_tag` are in every account).
        for word in ["\"duress\"", "\"panic\"", "\"missed\"", "old bridge", "Karrada"] {
            if bytes.windows(word.len()).any(|w| w == word.as_bytes()) {
                views.stored_raw_words.push(format!("{word} in {}", file.display()));
            }
        }
    }
    views
}

fn diff(a: &[String], b: &[String]) -> String {
    let count = |v: &[String]| {
        let mut m: BTreeMap<String, i64> = BTreeMap::new();
        for x in v {
            *m.entry(x.clone()).or_default() += 1;
        }
        m
    };
    let (ca, cb) = (count(a), count(b));
    let mut lines = Vec::new();
    for (k, n) in &ca {
        let m = cb.get(k).copied().unwrap_or(0);
        if *n != m {
            lines.push(format!("{n} vs {m}: {k}"));
        }
    }
    for (k, m) in &cb {
        if !ca.contains_key(k) {
            lines.push(format!("0 vs {m}: {k}"));
        }
    }
    lines.join("\n")
}

/// What the one-server and the two-server scripts assert alike: the captor
/// and the public see the same after a normal and a duress check-in, nobody
/// else's contact is woken, nothing is sent after a normal check-in, every
/// alert's notifications leave after the dispatch delay (never inside the
/// request), each provider gets `per_channel` requests that are the same
/// whatever the reason and name none, and no data directory holds a key
/// file or a reason in clear.
fn assert_no_observer_tells(normal: &Views, duress: &Views, panic: &Views, missed: &Views, per_channel: usize) {
    // The captor, with either passphrase, over the whole sequence.
    assert_eq!(normal.captor.len(), duress.captor.len());
    for (n, d) in normal.captor.iter().zip(&duress.captor) {
        assert_eq!(n, d, "the captor's view differs");
    }
    // Anyone who can reach a server.
    assert_eq!(normal.public, duress.public);
    // Another member's contact is not woken by this member's alert.
    assert_eq!((normal.other_contact_wakes, duress.other_contact_wakes), (0, 0));

    // The network: nothing after a normal check-in; for every kind of alert
    // the notifications leave after the dispatch delay, never inside the request.
    assert!(normal.webhook.is_empty() && normal.ntfy.is_empty() && normal.mail.is_empty());
    for (name, v) in [("duress", duress), ("panic", panic), ("missed", missed)] {
        let after = v.first_notification_after.unwrap_or_else(|| panic!("{name}: no notification"));
        let min = Duration::from_millis(DISPATCH_DELAY_S * 1000 / 2);
        assert!(after >= min.saturating_sub(Duration::from_millis(100)), "{name}: notified after {after:?}");
        assert!(after <= Duration::from_secs(DISPATCH_DELAY_S + 10), "{name}: notified after {after:?}");
        let counts = (v.webhook.len(), v.ntfy.len(), v.mail.len());
        assert_eq!(counts, (per_channel, per_channel, per_channel), "{name}: first and re-notification");
    }

    // Providers: the same requests whatever the reason, and no reason in them.
    for (name, v) in [("panic", panic), ("missed", missed)] {
        assert_eq!(duress.webhook, v.webhook, "webhook: duress vs {name}");
        assert_eq!(duress.ntfy, v.ntfy, "ntfy: duress vs {name}");
        assert_eq!(duress.mail, v.mail, "mail: duress vs {name}");
    }
    for seen in duress.webhook.iter().chain(&duress.ntfy).chain(&duress.mail) {
        for word in ["duress", "panic", "missed", "reason"] {
            assert!(!seen.contains(word), "a provider sees `{word}`: {seen}");
        }
    }

    // Whoever copies a data directory: no key file in it, nothing in clear.
    for (name, v) in [("normal", normal), ("duress", duress), ("panic", panic), ("missed", missed)] {
        assert!(!v.key_file_in_data_dir, "{name}: a server key is inside a data directory");
        assert!(v.stored_raw_words.is_empty(), "{name}: {:?}", v.stored_raw_words);
    }
}

/// Every stored record the same shape whatever the alert's reason.
fn assert_stored_alike(server: &str, duress: &[String], panic: &[String], missed: &[String]) {
    assert!(duress.iter().any(|f| f.starts_with("A ")), "{server}: the alert is in the database");
    for (name, v) in [("panic", panic), ("missed", missed)] {
        assert!(duress == v, "{server} server's records, duress vs {name}:\n{}", diff(duress, v));
    }
}

#[test]
fn no_observer_tells_a_duress_check_in_and_no_provider_or_seized_disk_tells_an_alerts_reason() {
    let _shared = super::LOAD.blocking_read();
    let normal = run(Variant::Normal, false);
    let duress = run(Variant::Duress, false);
    let panic = run(Variant::Panic, false);
    let missed = run(Variant::Missed, false);
    assert_no_observer_tells(&normal, &duress, &panic, &missed, 2);
    // No counters at all for anyone who can reach the server.
    assert!(normal.public.iter().any(|l| l.starts_with("GET /metrics 404")), "{:?}", normal.public);
    // The re-notification nobody acknowledged, after the same interval.
    for (name, v) in [("duress", &duress), ("panic", &panic), ("missed", &missed)] {
        assert_eq!(v.renotified_after.len(), 2, "{name}");
        for gap in &v.renotified_after {
            // The interval, the rounding up to a second, and the sending.
            assert!(*gap >= Duration::from_millis(2900) && *gap <= Duration::from_secs(6), "{name}: {gap:?}");
        }
    }
    assert_stored_alike("the", &duress.stored, &panic.stored, &missed.stored);
}

/// Several servers (issue 13): with a second server the member added, every
/// observer of either server, and the captor with `aman server list` too,
/// sees what it saw with one. Each server alerts for a duress check-in as for
/// a panic or a missed deadline, and the second server's seized database no
/// more tells an alert's reason than the first's.
#[test]
fn with_a_second_server_no_observer_of_either_tells_a_duress_check_in_or_an_alerts_reason() {
    let _shared = super::LOAD.blocking_read();
    let normal = run(Variant::Normal, true);
    let duress = run(Variant::Duress, true);
    let panic = run(Variant::Panic, true);
    let missed = run(Variant::Missed, true);
    // Each channel hears each server's first notification and re-notification.
    assert_no_observer_tells(&normal, &duress, &panic, &missed, 4);
    // The captor's sequence lists both servers; the second server's public
    // listener has no counters either.
    let listed = normal.captor.iter().find(|c| c.starts_with("$ aman --json server list")).expect("server list");
    assert_eq!(listed.matches("\"reachable\":true").count(), 2, "{listed}");
    assert!(normal.public.iter().any(|l| l.starts_with("mirror GET /metrics 404")), "{:?}", normal.public);
    assert_stored_alike("first", &duress.stored, &panic.stored, &missed.stored);
    assert_stored_alike("second", &duress.mirror_stored, &panic.mirror_stored, &missed.mirror_stored);
    // The receivers are shared, so each server's share is read from its own
    // delivery log: every channel's first notification and re-notification
    // came from each server, not four from one.
    for (server, stored) in [("first", &duress.stored), ("second", &duress.mirror_stored)] {
        let delivered = stored.iter().filter(|r| r.starts_with("l ")).count();
        assert!(delivered >= 6, "{server} server logged {delivered} deliveries: {stored:?}");
    }
}

/// Trips only (issue 12): ending a trip stands down, and with the duress
/// passphrase it is a silent alert that no observer tells from the normal
/// stand-down, as for any check-in.
#[test]
fn no_observer_tells_a_duress_stand_down() {
    let _shared = super::LOAD.blocking_read();
    let normal = run(Variant::StandDown, false);
    let duress = run(Variant::StandDownDuress, false);
    assert_eq!(normal.captor.len(), duress.captor.len());
    for (n, d) in normal.captor.iter().zip(&duress.captor) {
        assert_eq!(n, d, "the captor's view differs");
    }
    assert!(normal.captor.iter().any(|c| c.contains("No check-in is due")), "{:?}", normal.captor);
    assert_eq!(normal.public, duress.public);
    assert_eq!((normal.other_contact_wakes, duress.other_contact_wakes), (0, 0));
    // Every channel heard trips only's notice (it weakens protection); the
    // normal stand-down adds nothing, the duress one an alert and its
    // re-notification, worded as the notice was.
    assert_eq!((normal.webhook.len(), normal.ntfy.len(), normal.mail.len()), (1, 1, 1), "a stand-down alerts nobody");
    assert_eq!(normal.first_notification_after, None);
    let after = duress.first_notification_after.expect("a duress stand-down alerts");
    assert!(after <= Duration::from_secs(DISPATCH_DELAY_S + 10), "notified after {after:?}");
    assert_eq!((duress.webhook.len(), duress.ntfy.len(), duress.mail.len()), (3, 3, 3));
    assert!(duress.webhook.iter().all(|w| *w == normal.webhook[0]), "an alert reads as the notice did");
    for v in [&normal, &duress] {
        assert!(v.stored_raw_words.is_empty(), "{:?}", v.stored_raw_words);
    }
}

/// What issue 16 added around the member's commands (pairing completed by
/// any command, the "nobody linked" warning, the deadline a schedule change
/// sets, the stored settings) reads the same to a captor whichever
/// passphrase every command of the sequence is given.
fn first_use_captor_view(passphrase: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[]));
    let (member, sara, bashir) = (dir.path().join("member"), dir.path().join("sara"), dir.path().join("bashir"));
    let out = aman(&member, "normal-passphrase-quilt\nduress-passphrase-jungle\n", &["init", "--server", &server.url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut view = Vec::new();
    let mut captor = |args: &[&str]| {
        let out = aman(&member, passphrase, args);
        view.push(record(&out, args));
        out
    };
    let invite =
        |out: Output| serde_json::from_slice::<Value>(&out.stdout).unwrap()["code"].as_str().unwrap().to_owned();
    let code = invite(captor(&["--json", "contact", "invite", "--label", "sara"]));
    assert!(aman(&sara, "contact-pass-orchid\n", &["contact", "accept", &code, "--label", "noor"]).status.success());
    captor(&["schedule", "set", "--every", "1h", "--grace", "1h"]); // links Sara first: nobody was linked
    captor(&["checkin"]);
    captor(&["status"]);
    captor(&["--json", "status"]);
    let code = invite(captor(&["--json", "contact", "invite", "--label", "bashir"]));
    assert!(aman(&bashir, "bashir-pass-lantern\n", &["contact", "accept", &code, "--label", "noor"]).status.success());
    captor(&["checkin"]); // links Bashir after the check-in
    captor(&["--json", "checkin"]);
    captor(&["schedule", "set", "--every", "30m", "--grace", "30m"]); // shorter: the deadline moves now
    captor(&["status"]);
    captor(&["config"]);
    captor(&["--json", "contact", "list"]);
    let _stopped = server.kill9();
    captor(&["status"]); // the last known deadline
    captor(&["--json", "status"]);
    view
}

#[test]
fn first_use_reads_the_same_to_a_captor_whichever_passphrase() {
    let _shared = super::LOAD.blocking_read();
    let normal = first_use_captor_view("normal-passphrase-quilt\n");
    let duress = first_use_captor_view("duress-passphrase-jungle\n");
    assert!(normal.iter().any(|v| v.contains("sara accepted your invite")), "{normal:#?}");
    assert!(normal.iter().any(|v| v.contains("bashir accepted your invite")), "{normal:#?}");
    assert!(normal.iter().any(|v| v.contains("Last known")), "{normal:#?}");
    assert_eq!(normal.len(), duress.len());
    for (n, d) in normal.iter().zip(&duress) {
        assert_eq!(n, d, "the captor's view differs");
    }
}
