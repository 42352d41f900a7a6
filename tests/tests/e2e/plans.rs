//! The member's response plan (issue 12): sealed to the contacts with the
//! note, shown to them with every alert (and, in `drills`, with a drill).

use super::pass::{ALICE, MEMBER_PASSES, NORMAL as MEMBER};
use super::server_env;
use super::{aman_json as json, ok};
use aman_tests::{aman, ServerProcess};
use std::path::{Path, PathBuf};

/// What `aman` printed, after checking it succeeded.
fn printed(home: &Path, stdin: &str, args: &[&str]) -> String {
    let out = aman(home, stdin, args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A member with Alice linked (she calls the member Noor).
pub fn member_and_alice(dir: &Path, server: &str) -> (PathBuf, PathBuf) {
    let (member, alice) = (dir.join("member"), dir.join("alice"));
    ok(&aman(&member, MEMBER_PASSES, &["init", "--server", server]));
    let code = json(&member, MEMBER, &["contact", "invite", "--label", "Alice"])["code"].as_str().unwrap().to_owned();
    ok(&aman(&alice, ALICE, &["contact", "accept", &code, "--label", "Noor"]));
    json(&member, MEMBER, &["contact", "list"]);
    json(&member, MEMBER, &["schedule", "set", "--every", "1h", "--grace", "10m", "--note", "At the square"]);
    (member, alice)
}

/// The plan the tests set: English and Arabic, several lines.
pub const PLAN: &str =
    "Call my lawyer Huda first: +964 770 000 0000.\nDo NOT call my family's landline.\nاتصلوا بمحاميّ أولاً.";

#[test]
fn a_plan_set_by_the_member_is_shown_to_the_contact_with_a_panic_alert() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[]));
    let (member, alice) = member_and_alice(dir.path(), &server.url);

    // Templates need no keystore, and fit.
    for lang in ["en", "ar"] {
        let t = json(&member, "", &["plan", "template", "--lang", lang]);
        let text = t["plan"].as_str().unwrap();
        assert!(text.contains("Front Line Defenders") && text.contains("Protection International"), "{text}");
        assert!(text.len() <= 4096);
    }
    let template = printed(&member, "", &["plan", "template", "--lang", "ar"]);
    let file = dir.path().join("plan.txt");
    std::fs::write(&file, &template).unwrap();
    let set = json(&member, MEMBER, &["plan", "set", "--file", file.to_str().unwrap()]);
    assert_eq!(set["sealed_to"], 1, "{set}");
    let shown = printed(&member, MEMBER, &["plan", "show"]);
    assert!(shown.contains("خطة الاستجابة"), "{shown}");

    // From stdin, after the passphrase line: replaces it.
    let set = json(&member, &format!("{MEMBER}{PLAN}\n"), &["plan", "set", "--file", "-"]);
    assert_eq!(set["plan_bytes"], PLAN.len(), "{set}");
    assert_eq!(json(&member, MEMBER, &["plan", "show"])["plan"], PLAN);

    // A plan over the limit is refused before anything is sent.
    std::fs::write(&file, "x".repeat(4097)).unwrap();
    let out = aman(&member, MEMBER, &["plan", "set", "--file", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert_eq!(json(&member, MEMBER, &["plan", "show"])["plan"], PLAN);

    json(&member, MEMBER, &["panic", "--note", "taken near the bridge"]);
    let start = std::time::Instant::now();
    let alert = loop {
        let listed = json(&alice, ALICE, &["alerts"]);
        if let Some(a) = listed["alerts"].as_array().and_then(|a| a.first().cloned()) {
            break a;
        }
        assert!(start.elapsed().as_secs() < 30, "no alert: {listed}");
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    assert_eq!(alert["reason"], "panic");
    assert_eq!(alert["plan"], PLAN, "{alert}");
    let text = printed(&alice, ALICE, &["alerts"]);
    assert!(text.contains("Their plan:\n    Call my lawyer Huda first"), "{text}");
    assert!(text.contains("    Do NOT call my family's landline."), "{text}");
    assert!(text.contains("    اتصلوا بمحاميّ أولاً."), "{text}");
    // The Arabic template it replaced is among the earlier notes.
    assert!(
        alert["earlier_notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["plan"].as_str().is_some_and(|p| p.contains("خطة"))),
        "{alert}"
    );
}
