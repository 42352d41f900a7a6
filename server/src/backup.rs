//! Backups: a consistent copy of the whole database, sealed with a key
//! derived from the server key (`aman_protocol::backup`), and its restore.
//!
//! Inside the frames is a stream of records:
//!
//! ```text
//! put    = 0x01 | key length u16 | key | value length u32 | value
//! remove = 0x02 | key length u16 | key
//! pad    = 0x04 | length u32 | zeros
//! end    = 0x03 | records before it u64
//! ```
//!
//! One pad record before the end brings the record stream to a whole
//! number of 64 KiB chunks, so a backup's size tells the database's size
//! only to 64 KiB (one revoked invite does not change it).
//!
//! Every stored key and value as read, then each key written meanwhile with
//! its value when the read closed, in key order ([`Store::export`]), then
//! the pad and the end record. A backup with no end
//! record, anything after it, or no last frame is refused whole: a restore
//! either gives the database as it was at one moment or writes nothing.
//!
//! The backup holds no key: without the server key that made it, it is
//! noise, and with that key it reveals what the data directory would.

use crate::engine::FORMAT;
use crate::store::{Import, KeyWrite, Store, StoreError};
use aman_protocol::at_rest::ServerKey;
use aman_protocol::backup::{frame_head, Header, Opener, Sealer, CHUNK_MAX, FRAME_HEAD, HEADER_LEN};
use aman_protocol::{DecodeError, ServerId, ServerIdentity};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;
use thiserror::Error;

const PUT: u8 = 1;
const REMOVE: u8 = 2;
const END: u8 = 3;
const PAD: u8 = 4;

/// Keys and values written to the new database per batch on restore.
const RESTORE_BATCH: usize = 4096;

/// What [`read`] hands each record to (`None`: a removal).
pub type RecordVisit<'a> = dyn FnMut(&[u8], Option<&[u8]>) -> Result<(), BackupError> + 'a;

/// What a backup holds, as its writer or its restore saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// The clear header.
    pub header: Header,
    /// Records (puts and removals) in it.
    pub records: u64,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Why a backup could not be written, checked or restored.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading or writing a file or socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The file does not start like a backup.
    #[error("this is not an Aman backup")]
    NotABackup,
    /// A newer aman-server wrote it.
    #[error("this backup was written by a newer aman-server (backup layout {0}); restore it with that version")]
    NewerLayout(u8),
    /// Its records are in a storage format this build does not read.
    #[error("this backup holds storage format {found}; this aman-server reads up to {reads}: restore it with a newer version")]
    NewerFormat {
        /// The backup's.
        found: u8,
        /// This build's.
        reads: u8,
    },
    /// The key is not the one of the server that made it.
    #[error("this backup was made by server {backup}, but the key given belongs to server {key}: use the key file of the server that made it")]
    WrongKey {
        /// The server named in the backup.
        backup: ServerId,
        /// The server the key belongs to.
        key: ServerId,
    },
    /// A frame or record did not open or parse.
    #[error("the backup is damaged or was changed (at byte {0})")]
    Damaged(u64),
    /// The stream ended before its last frame or end record.
    #[error("the backup is cut short (its frame at byte {0} is incomplete or missing, and its last frame never came): it cannot be restored")]
    CutShort(u64),
    /// The data directory for a restore is in use.
    #[error("{0} is not empty: restore into a new or empty directory")]
    NotEmpty(String),
    /// The data directory for a restore belongs to another user.
    #[error("{0} belongs to another user: restore into a directory that does not exist yet (move the old one aside), as the user the server runs as, or as root and then give it to that user (chown -R)")]
    NotYours(String),
    /// A stored key too long for the record format (never made by this server).
    #[error("a stored key is too long to back up")]
    KeyTooLong,
    /// Randomness or encryption failed.
    #[error("encryption: {0}")]
    Crypto(#[from] aman_protocol::Error),
}

/// Writes a backup of `store` to `out`, sealed for the server whose key
/// is `key`. `format` is the store's format version, `now` the time.
/// Writes go on meanwhile; the backup is the store as it was when its read
/// ended.
pub fn write(
    store: &dyn Store,
    key: &ServerKey,
    format: u8,
    now: u64,
    out: &mut dyn Write,
) -> Result<Summary, BackupError> {
    let header = Header::new(format, now, ServerIdentity::derive(key).id())?;
    let mut sink = FrameSink {
        out,
        sealer: Sealer::new(key, &header),
        buf: Vec::with_capacity(2 * CHUNK_MAX),
        bytes: 0,
        plain: 0,
    };
    sink.write_raw(&header.encode())?;
    let mut records = 0u64;
    let mut failed: Option<BackupError> = None;
    store
        .export(&mut |k, v| {
            let result = record(k, v).map_err(|_| BackupError::KeyTooLong).and_then(|r| sink.push(&r));
            result.map_err(|e| {
                let text = e.to_string();
                failed = Some(e);
                StoreError::Backend(text)
            })?;
            records += 1;
            Ok(())
        })
        .map_err(|e| failed.take().unwrap_or(BackupError::Store(e)))?;
    let fill = (CHUNK_MAX - (sink.plain + 5 + 9) % CHUNK_MAX) % CHUNK_MAX;
    let mut pad = vec![0u8; 5 + fill];
    pad[0] = PAD;
    pad[1..5].copy_from_slice(&(fill as u32).to_be_bytes());
    sink.push(&pad)?;
    let mut end = vec![END];
    end.extend_from_slice(&records.to_be_bytes());
    sink.push(&end)?;
    let bytes = sink.finish()?;
    Ok(Summary { header, records, bytes })
}

fn record(key: &[u8], value: Option<&[u8]>) -> Result<Vec<u8>, ()> {
    let klen = u16::try_from(key.len()).map_err(|_| ())?;
    let mut r = Vec::with_capacity(1 + 2 + key.len() + 4 + value.map_or(0, <[u8]>::len));
    r.push(if value.is_some() { PUT } else { REMOVE });
    r.extend_from_slice(&klen.to_be_bytes());
    r.extend_from_slice(key);
    if let Some(v) = value {
        let vlen = u32::try_from(v.len()).map_err(|_| ())?;
        r.extend_from_slice(&vlen.to_be_bytes());
        r.extend_from_slice(v);
    }
    Ok(r)
}

/// Buffers the record stream and seals it a chunk at a time.
struct FrameSink<'a> {
    out: &'a mut dyn Write,
    sealer: Sealer,
    buf: Vec<u8>,
    bytes: u64,
    /// Plaintext bytes pushed.
    plain: usize,
}

impl FrameSink<'_> {
    fn write_raw(&mut self, bytes: &[u8]) -> Result<(), BackupError> {
        self.out.write_all(bytes)?;
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    fn push(&mut self, record: &[u8]) -> Result<(), BackupError> {
        self.buf.extend_from_slice(record);
        self.plain += record.len();
        while self.buf.len() > CHUNK_MAX {
            let frame = self.sealer.frame(&self.buf[..CHUNK_MAX], false)?;
            self.write_raw(&frame)?;
            self.buf.drain(..CHUNK_MAX);
        }
        Ok(())
    }

    fn finish(mut self) -> Result<u64, BackupError> {
        let rest = std::mem::take(&mut self.buf);
        let frame = self.sealer.frame(&rest, true)?;
        self.write_raw(&frame)?;
        self.out.flush()?;
        Ok(self.bytes)
    }
}

/// Reads exactly `buf.len()` bytes; `false` at a clean end of input
/// before the first byte.
fn read_exact_or_end(input: &mut dyn Read, buf: &mut [u8]) -> Result<bool, std::io::Error> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Reads a backup's clear header.
pub fn read_header(input: &mut dyn Read) -> Result<Header, BackupError> {
    let mut bytes = [0u8; HEADER_LEN];
    if !read_exact_or_end(input, &mut bytes).map_err(|_| BackupError::NotABackup)? {
        return Err(BackupError::NotABackup);
    }
    Header::decode(&bytes).map_err(|e| match e {
        DecodeError::UnknownVersion(v) => BackupError::NewerLayout(v),
        _ => BackupError::NotABackup,
    })
}

/// Checks a backup's framing without its key: a header, then frames whose
/// heads are well formed, the last one flagged, and nothing after it. What
/// `aman-server backup` checks of the bytes a running server sent before
/// it keeps the file (it cannot open them: the key stays with the server).
pub fn check_framing(input: &mut dyn Read) -> Result<Summary, BackupError> {
    let header = read_header(input)?;
    let mut bytes = HEADER_LEN as u64;
    let mut ciphertext = vec![0u8; CHUNK_MAX + aman_protocol::backup::TAG_LEN];
    loop {
        let (last, len) = next_frame_head(input, bytes)?;
        input.read_exact(&mut ciphertext[..len]).map_err(|_| BackupError::CutShort(bytes))?;
        bytes += (FRAME_HEAD + len) as u64;
        if last {
            return expect_end_of_input(input, bytes).map(|()| Summary { header, records: 0, bytes });
        }
    }
}

fn next_frame_head(input: &mut dyn Read, at: u64) -> Result<(bool, usize), BackupError> {
    let mut head = [0u8; FRAME_HEAD];
    match read_exact_or_end(input, &mut head) {
        Ok(true) => frame_head(&head).map_err(|_| BackupError::Damaged(at)),
        _ => Err(BackupError::CutShort(at)),
    }
}

fn expect_end_of_input(input: &mut dyn Read, at: u64) -> Result<(), BackupError> {
    let mut extra = [0u8; 1];
    match read_exact_or_end(input, &mut extra)? {
        false => Ok(()),
        true => Err(BackupError::Damaged(at)),
    }
}

/// Opens a backup with `key` and hands every record to `visit`, in order,
/// as its frame is opened (each frame is authenticated before any of its
/// records is handed on). The records are the backup's only if this
/// returns `Ok`: a backup that is cut short or damaged further on fails
/// after some records were visited, so a caller writes them where a
/// failure can be thrown away whole.
pub fn read(key: &ServerKey, input: &mut dyn Read, visit: &mut RecordVisit<'_>) -> Result<Summary, BackupError> {
    let header = read_header(input)?;
    let own = ServerIdentity::derive(key).id();
    if header.server != own {
        return Err(BackupError::WrongKey { backup: header.server, key: own });
    }
    if header.format > FORMAT {
        return Err(BackupError::NewerFormat { found: header.format, reads: FORMAT });
    }
    let mut opener = Opener::new(key, &header);
    let mut bytes = HEADER_LEN as u64;
    let mut pending: Vec<u8> = Vec::new();
    let mut records = 0u64;
    let mut ended = None;
    let mut ciphertext = vec![0u8; CHUNK_MAX + aman_protocol::backup::TAG_LEN];
    while !opener.finished() {
        let (last, len) = next_frame_head(input, bytes)?;
        input.read_exact(&mut ciphertext[..len]).map_err(|_| BackupError::CutShort(bytes))?;
        let opened = opener.frame(last, &ciphertext[..len]).map_err(|_| BackupError::Damaged(bytes))?;
        if ended.is_some() && !opened.is_empty() {
            return Err(BackupError::Damaged(bytes)); // records after the end record
        }
        pending.extend_from_slice(&opened);
        let (used, end) = parse_records(&pending, &mut |k, v| {
            records += 1;
            visit(k, v)
        })
        .map_err(|e| e.unwrap_or(BackupError::Damaged(bytes)))?;
        pending.drain(..used);
        if end.is_some() {
            ended = end;
        }
        bytes += (FRAME_HEAD + len) as u64;
    }
    expect_end_of_input(input, bytes)?;
    if !pending.is_empty() || ended != Some(records) {
        return Err(BackupError::Damaged(bytes));
    }
    Ok(Summary { header, records, bytes })
}

/// Parses the complete records at the start of `buf`, visiting each: how
/// many bytes they took, and the end record's count if it was reached
/// (nothing may follow it). `Err(None)`: bytes no writer makes.
fn parse_records(buf: &[u8], visit: &mut RecordVisit<'_>) -> Result<(usize, Option<u64>), Option<BackupError>> {
    fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, tail) = rest.split_at_checked(n)?;
        *rest = tail;
        Some(head)
    }
    fn be<const N: usize>(bytes: &[u8]) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        out
    }
    let mut used = 0;
    loop {
        let mut rest = &buf[used..];
        let Some(&tag) = rest.first() else { return Ok((used, None)) };
        rest = &rest[1..];
        // `None` below: the record continues in the next frame.
        let parsed: Option<(Option<u64>, usize)> = match tag {
            PUT | REMOVE => (|| {
                let klen = u16::from_be_bytes(be(take(&mut rest, 2)?)) as usize;
                let key = take(&mut rest, klen)?;
                let value = if tag == PUT {
                    let vlen = u32::from_be_bytes(be(take(&mut rest, 4)?)) as usize;
                    Some(take(&mut rest, vlen)?)
                } else {
                    None
                };
                Some((key, value))
            })()
            .map(|(key, value)| visit(key, value).map(|()| (None, buf.len() - used - rest.len())))
            .transpose()
            .map_err(Some)?,
            END => take(&mut rest, 8).map(|c| (Some(u64::from_be_bytes(be(c))), 9)),
            PAD => match take(&mut rest, 4).map(|l| u32::from_be_bytes(be(l)) as usize) {
                None => None,
                Some(len) => match take(&mut rest, len) {
                    None => None,
                    Some(zeros) if zeros.iter().all(|b| *b == 0) => Some((None, 1 + 4 + len)),
                    Some(_) => return Err(None),
                },
            },
            _ => return Err(None),
        };
        match parsed {
            None => return Ok((used, None)),
            Some((Some(count), n)) => {
                if used + n != buf.len() {
                    return Err(None);
                }
                return Ok((used + n, Some(count)));
            }
            Some((None, n)) => used += n,
        }
    }
}

/// Restores a backup into `data_dir`, which must not exist or be empty:
/// the database goes to `<data_dir>/db`, written in full under another name
/// first, so a restore that fails leaves no database a server would start on.
pub fn restore(key: &ServerKey, input: &mut dyn Read, data_dir: &Path) -> Result<Summary, BackupError> {
    // An existing directory (systemd's StateDirectory, say) must be a real,
    // empty directory of whoever restores: writing as root into a directory
    // another user owns would let that user redirect what root writes.
    let made = match std::fs::symlink_metadata(data_dir) {
        Ok(meta) if !meta.is_dir() => return Err(BackupError::NotEmpty(data_dir.display().to_string())),
        Ok(meta) => {
            if std::fs::read_dir(data_dir)?.next().is_some() {
                return Err(BackupError::NotEmpty(data_dir.display().to_string()));
            }
            if meta.uid() != rustix::process::geteuid().as_raw() {
                return Err(BackupError::NotYours(data_dir.display().to_string()));
            }
            false
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(data_dir)?;
            true
        }
        Err(e) => return Err(e.into()),
    };
    std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))?;
    let partial = data_dir.join("db.restoring");
    let written = (|| {
        let import = Import::create(&partial)?;
        let mut batch: Vec<KeyWrite> = Vec::with_capacity(RESTORE_BATCH);
        let summary = read(key, input, &mut |k, v| {
            batch.push((k.to_vec(), v.map(<[u8]>::to_vec)));
            if batch.len() >= RESTORE_BATCH {
                import.write(&std::mem::take(&mut batch))?;
            }
            Ok(())
        })?;
        import.write(&batch)?;
        import.finish()?;
        Ok::<_, BackupError>(summary)
    })();
    match written {
        Ok(summary) => {
            std::fs::rename(&partial, data_dir.join("db"))?;
            std::fs::File::open(data_dir)?.sync_all()?;
            Ok(summary)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            if made {
                let _ = std::fs::remove_dir(data_dir); // made here, and empty again
            }
            Err(e)
        }
    }
}

/// Free space a spool leaves on its file system: the database beside it
/// must never be the one to meet a full disk (sled keeps failing until it
/// is reopened).
pub const SPOOL_RESERVE: u64 = 64 * 1024 * 1024;

/// How much a spool writes between two looks at the free space.
const SPOOL_CHECK_EVERY: u64 = 4 * 1024 * 1024;

/// An unnamed file in `dir` (created 0600 and unlinked at once, so a crash
/// leaves nothing and no other process can open it by name) that a backup
/// is written to before it is sent or copied out. It refuses to write once
/// the file system would keep less than [`SPOOL_RESERVE`] free.
#[derive(Debug)]
pub struct Spool {
    file: std::fs::File,
    dir: std::path::PathBuf,
    unchecked: u64,
}

impl Spool {
    /// A new spool in `dir`.
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let name: [u8; 8] = aman_protocol::random::random_array().map_err(|e| std::io::Error::other(e.to_string()))?;
        let path = dir.join(format!(".backup-spool-{}", data_encoding::HEXLOWER.encode(&name)));
        let file = std::fs::OpenOptions::new().read(true).write(true).create_new(true).mode(0o600).open(&path)?;
        std::fs::remove_file(&path)?;
        let spool = Spool { file, dir: dir.to_owned(), unchecked: 0 };
        spool.check_room(0)?;
        Ok(spool)
    }

    fn check_room(&self, more: u64) -> std::io::Result<()> {
        let fs = rustix::fs::statvfs(&self.dir).map_err(std::io::Error::from)?;
        let free = fs.f_bavail.saturating_mul(fs.f_frsize);
        if free < SPOOL_RESERVE.saturating_add(more) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                format!(
                    "{} has {} MiB free: a backup is written there first and must leave {} MiB for the database",
                    self.dir.display(),
                    free / (1024 * 1024),
                    SPOOL_RESERVE / (1024 * 1024)
                ),
            ));
        }
        Ok(())
    }

    /// The spool read from its start.
    pub fn rewind(mut self) -> std::io::Result<std::fs::File> {
        use std::io::Seek;
        self.file.flush()?;
        self.file.seek(std::io::SeekFrom::Start(0))?;
        Ok(self.file)
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.unchecked >= SPOOL_CHECK_EVERY {
            self.check_room(SPOOL_CHECK_EVERY)?;
            self.unchecked = 0;
        }
        let n = self.file.write(buf)?;
        self.unchecked += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}
