//! Backups: consistent while writes go on, sealed, refused whole when
//! damaged, cut short or opened with the wrong key, and restored only into
//! an empty directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aman_protocol::at_rest::ServerKey;
use aman_server::backup::{self, BackupError};
use aman_server::store::SledStore;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use zeroize::Zeroizing;

fn key(byte: u8) -> ServerKey {
    ServerKey::from_bytes(Zeroizing::new([byte; 32]))
}

fn filled(dir: &std::path::Path, n: usize) -> SledStore {
    let store = SledStore::open(dir).unwrap();
    for i in 0..n {
        let value = vec![(i % 251) as u8; i % 3000];
        store.raw_write(format!("v{i:06}").as_bytes(), Some(&value)).unwrap();
    }
    store
}

fn backup_of(store: &SledStore, k: &ServerKey) -> Vec<u8> {
    let mut out = Vec::new();
    backup::write(store, k, 2, 1_800_000_000, &mut out).unwrap();
    out
}

fn restore(bytes: &[u8], k: &ServerKey, dir: &std::path::Path) -> Result<backup::Summary, BackupError> {
    backup::restore(k, &mut &bytes[..], dir)
}

#[test]
fn a_backup_restores_every_key_and_value_and_reveals_none_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled(&dir.path().join("db"), 2000);
    store.raw_write(b"secret-marker", Some(b"the stored bytes of a member")).unwrap();
    let before = store.raw_entries().unwrap();
    let k = key(1);
    let bytes = backup_of(&store, &k);
    assert!(bytes.len() > 64 * 1024 * 4, "spans many frames: {}", bytes.len());
    // Sealed: no stored key or value appears in it.
    for needle in [&b"secret-marker"[..], b"the stored bytes", b"v000123"] {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle), "{needle:?} is readable in the backup");
    }
    let restored = dir.path().join("restored");
    let summary = restore(&bytes, &k, &restored).unwrap();
    assert_eq!(summary.records, before.len() as u64);
    assert_eq!(summary.bytes, bytes.len() as u64);
    let again = SledStore::open(&restored.join("db")).unwrap();
    assert_eq!(again.raw_entries().unwrap(), before);
    assert!(!restored.join("db.restoring").exists());
    let mode = std::fs::metadata(&restored).unwrap().permissions();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777, 0o700);
}

#[test]
fn a_damaged_cut_short_or_foreign_backup_is_refused_and_nothing_is_restored() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled(&dir.path().join("db"), 500);
    let k = key(1);
    let bytes = backup_of(&store, &k);
    let nothing_written = |name: &str| {
        let at = dir.path().join(name);
        assert!(!at.join("db").exists() && !at.join("db.restoring").exists(), "{name}: a database was left");
    };

    let mut flipped = bytes.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 0x40;
    assert!(matches!(restore(&flipped, &k, &dir.path().join("a")), Err(BackupError::Damaged(_))));
    nothing_written("a");

    for cut in [bytes.len() - 1, bytes.len() / 2, 100, 49] {
        let r = restore(&bytes[..cut], &k, &dir.path().join("b"));
        assert!(matches!(r, Err(BackupError::CutShort(_))), "cut at {cut}: {r:?}");
        nothing_written("b");
    }

    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(restore(&longer, &k, &dir.path().join("c")), Err(BackupError::Damaged(_))));
    nothing_written("c");

    assert!(matches!(restore(&bytes, &key(2), &dir.path().join("d")), Err(BackupError::WrongKey { .. })));
    nothing_written("d");

    assert!(matches!(restore(b"not a backup at all", &k, &dir.path().join("e")), Err(BackupError::NotABackup)));
    let mut newer = bytes.clone();
    newer[9] = aman_server::engine::FORMAT + 1; // the header's format byte (it is also in every frame's AAD)
    assert!(matches!(restore(&newer, &k, &dir.path().join("f")), Err(BackupError::NewerFormat { .. })));
    nothing_written("f");

    // Framing alone (what the CLI checks of a running server's stream).
    assert!(backup::check_framing(&mut &bytes[..]).is_ok());
    assert!(matches!(backup::check_framing(&mut &bytes[..bytes.len() - 10]), Err(BackupError::CutShort(_))));
}

#[test]
fn a_restore_never_writes_into_a_directory_that_holds_anything() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled(&dir.path().join("db"), 10);
    let k = key(1);
    let bytes = backup_of(&store, &k);
    let target = dir.path().join("in-use");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("something"), b"x").unwrap();
    assert!(matches!(restore(&bytes, &k, &target), Err(BackupError::NotEmpty(_))));
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 1);
    // An empty directory (systemd's StateDirectory) is fine.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    restore(&bytes, &k, &empty).unwrap();
}

/// A writer writes `k<i>`, removes `k<i-50>` and marks it `gone<i-50>`,
/// then sets `last = i`, over and over, while backups are taken. Reading
/// alone would see a `last` newer than some `k` below it (the `k` keys sort
/// first and are read first); a backup must be the store as it was at one
/// moment: every `k` up to `last` there or marked gone, but one step's
/// removal half done.
fn backups_while_writes_go_on(store: SledStore, backups: usize, pause: Option<std::time::Duration>) {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..20_000u64 {
        store.raw_write(format!("pad{i:09}").as_bytes(), Some(&[1u8; 100])).unwrap();
    }
    store.raw_write(b"last", Some(&0u64.to_be_bytes())).unwrap();
    store.raw_write(b"k000000000", Some(b"0")).unwrap();
    let store = Arc::new(store);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 1u64;
            // Bounded, and small values: unpaced, the writer makes about
            // half a million steps while the backups run, and the test
            // should not need more disk than a small machine has spare.
            while !stop.load(Ordering::Relaxed) && i < 2_000_000 {
                store.raw_write(format!("k{i:09}").as_bytes(), Some(&[7u8; 8])).unwrap();
                if i > 50 && i % 2 == 0 {
                    store.raw_write(format!("k{:09}", i - 50).as_bytes(), None).unwrap();
                    store.raw_write(format!("gone{:09}", i - 50).as_bytes(), Some(b"")).unwrap();
                }
                store.raw_write(b"last", Some(&i.to_be_bytes())).unwrap();
                i += 1;
                if let Some(pause) = pause {
                    std::thread::sleep(pause);
                }
            }
            i
        })
    };
    let k = key(3);
    for n in 0..backups {
        std::thread::sleep(std::time::Duration::from_millis(30));
        let bytes = backup_of(&store, &k);
        let target = dir.path().join(format!("r{n}"));
        restore(&bytes, &k, &target).unwrap();
        let restored = SledStore::open(&target.join("db")).unwrap();
        let entries: std::collections::BTreeMap<Vec<u8>, Vec<u8>> =
            restored.raw_entries().unwrap().into_iter().collect();
        let last = u64::from_be_bytes(entries[&b"last".to_vec()].as_slice().try_into().unwrap());
        assert!(last > 0, "backup {n} was taken while the writer wrote");
        for j in 0..=last {
            let removed = entries.contains_key(format!("gone{j:09}").as_bytes());
            let present = entries.contains_key(format!("k{j:09}").as_bytes());
            let in_progress = j + 49 == last && !present && !removed; // step last+1 removed it, marker not yet written
            assert!(
                present != removed || in_progress,
                "backup {n}: k{j} present {present}, gone {removed}, last {last}"
            );
        }
        assert_eq!(entries.keys().filter(|k| k.starts_with(b"pad")).count(), 20_000);
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(written > 100, "the writer wrote during the backups: {written}");
    assert!(written < 2_000_000, "the writer was still writing when the last backup was taken");
}

#[test]
fn a_backup_taken_while_writes_go_on_is_the_store_at_one_moment() {
    let dir = tempfile::tempdir().unwrap();
    // Paced like a busy server (a few thousand writes a second): the read
    // passes them.
    let pause = Some(std::time::Duration::from_micros(200));
    backups_while_writes_go_on(SledStore::open(&dir.path().join("db")).unwrap(), 3, pause);
}

/// With more writes than its journal may hold, the read holds writes off
/// for the rest of its way: it ends, and is still the store at one moment.
#[test]
fn a_backup_under_more_writes_than_its_journal_holds_still_ends_consistent() {
    let dir = tempfile::tempdir().unwrap();
    backups_while_writes_go_on(SledStore::open(&dir.path().join("db")).unwrap().with_journal_max(200), 3, None);
}

/// A restore never writes into a directory another user owns (as root,
/// that user could redirect what it writes), nor through a link.
#[test]
fn a_restore_refuses_a_link_and_a_directory_of_another_user() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let store = filled(&dir.path().join("db"), 10);
    let k = key(1);
    let bytes = backup_of(&store, &k);

    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
    assert!(matches!(restore(&bytes, &k, &link), Err(BackupError::NotEmpty(_))));
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);

    // An empty directory of one's own is fine.
    let own = dir.path().join("own");
    std::fs::create_dir(&own).unwrap();
    restore(&bytes, &k, &own).unwrap();

    let theirs = dir.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    if std::fs::metadata(&theirs).unwrap().uid() != 0 {
        eprintln!("not root: a directory of another user cannot be made here");
        return;
    }
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    assert!(matches!(restore(&bytes, &k, &theirs), Err(BackupError::NotYours(_))));
    assert_eq!(std::fs::read_dir(&theirs).unwrap().count(), 0, "nothing was written there");
}

/// A backup's size tells the database's only to 64 KiB: a value a byte
/// shorter, or a key fewer, gives a backup of the same size.
#[test]
fn a_backup_size_tells_the_database_size_only_to_64_kib() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled(&dir.path().join("db"), 300);
    let k = key(1);
    let sizes: Vec<usize> = [Some(&b"revoked: false"[..]), Some(b"revoked: true"), None]
        .into_iter()
        .map(|invite| {
            store.raw_write(b"invite", invite).unwrap();
            backup_of(&store, &k).len()
        })
        .collect();
    assert_eq!(sizes[0], sizes[1]);
    assert_eq!(sizes[1], sizes[2]);
    let frame = aman_protocol::backup::FRAME_HEAD + aman_protocol::backup::CHUNK_MAX + aman_protocol::backup::TAG_LEN;
    assert_eq!((sizes[0] - aman_protocol::backup::HEADER_LEN) % frame, 0, "whole frames only: {sizes:?}");
}
