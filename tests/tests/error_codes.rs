//! Error codes are named in one place: `aman_protocol::api::ErrorCode`. No
//! source file of the server or the client spells one as a string literal
//! (the end-to-end tests do, on purpose: they check the wire).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aman_protocol::api::ErrorCode;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The string literals of one line, roughly: what stands between pairs of
/// double quotes before a `//` comment (one outside quotes: a URL in a
/// string is no comment).
fn literals(line: &str) -> Vec<&str> {
    let mut quoted = false;
    let mut end = line.len();
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'/' if !quoted && bytes.get(i + 1) == Some(&b'/') => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    line[..end].split('"').skip(1).step_by(2).collect()
}

/// Configuration keys that happen to share a code's name (`body_timeout`
/// is both a setting and the refusal it causes).
fn allowed(file: &Path, literal: &str) -> bool {
    file.ends_with("server/src/config.rs") && ["body_timeout", "request_timeout"].contains(&literal)
}

#[test]
fn no_error_code_is_a_string_literal_in_the_server_or_the_client() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    rust_files(&root.join("server/src"), &mut files);
    rust_files(&root.join("client/src"), &mut files);
    assert!(files.len() > 40, "the sources were found: {}", files.len());
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for literal in literals(line) {
                if ErrorCode::from_code(literal).is_some() && !allowed(file, literal) {
                    found.push(format!("{}:{}: \"{literal}\"", file.display(), n + 1));
                }
            }
        }
    }
    assert!(found.is_empty(), "use ErrorCode, not a string:\n{}", found.join("\n"));
}

#[test]
fn the_scan_sees_a_literal() {
    assert_eq!(literals(r#"if code == "stale_counter" { // "not_found""#), ["stale_counter"]);
    assert_eq!(literals(r#"get("https://x", "drill_open") // "internal""#), ["https://x", "drill_open"]);
}
