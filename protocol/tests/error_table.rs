//! The error codes in `ErrorCode` are exactly the codes PROTOCOL.md's error
//! table (§10.1) lists: a code added to one and not the other fails here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aman_protocol::api::ErrorCode;
use std::collections::BTreeSet;

const PROTOCOL: &str = include_str!("../../PROTOCOL.md");

/// `text` with every parenthesised aside removed (they name settings and
/// sections, not codes), nesting included.
fn without_asides(text: &str) -> String {
    let mut depth = 0usize;
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The codes in the table's rows: each row is `| status | `code`, … |`.
fn table_codes() -> BTreeSet<String> {
    let start = PROTOCOL.find("### 10.1 Errors").expect("PROTOCOL.md has §10.1");
    let section = &PROTOCOL[start..];
    let mut codes = BTreeSet::new();
    let rows = section.lines().skip_while(|l| !l.starts_with("| status")).skip(2).take_while(|l| l.starts_with('|'));
    for row in rows {
        let cells: Vec<&str> = row.split('|').collect();
        let listed = without_asides(cells.get(2).expect("a row has a codes cell"));
        for (i, part) in listed.split('`').enumerate() {
            if i % 2 == 1 {
                codes.insert(part.to_owned());
            }
        }
    }
    codes
}

#[test]
fn the_enum_and_the_protocol_table_name_the_same_codes() {
    let table = table_codes();
    assert!(table.len() > 40, "the table was found and read: {table:?}");
    let known: BTreeSet<String> = ErrorCode::ALL.iter().map(|c| c.as_str().to_owned()).collect();
    let undocumented: Vec<_> = known.difference(&table).collect();
    let unknown: Vec<_> = table.difference(&known).collect();
    assert!(undocumented.is_empty(), "codes missing from PROTOCOL.md §10.1: {undocumented:?}");
    assert!(unknown.is_empty(), "codes in PROTOCOL.md §10.1 that no ErrorCode names: {unknown:?}");
}

#[test]
fn the_asides_are_left_out() {
    assert_eq!(without_asides("`a` (see `b` (and `c`)), `d`"), "`a` , `d`");
}
