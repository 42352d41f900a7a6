//! What the `aman` program reads from a person: passphrases (from the
//! terminal, or lines on stdin with `--passphrase-stdin`) and notes (from a
//! file, stdin or a prompt, so that they never sit in shell history or `ps`).

use aman_client::passphrase::{check_pair, check_strength};
use aman_client::{t, ClientError};
use aman_protocol::alert::{MAX_LOCATION_LEN, MAX_NOTE_LEN};
use std::io::{BufRead, IsTerminal, Read};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The largest CA file read.
const MAX_CA_FILE: usize = 1024 * 1024;

/// Reads passphrases from stdin lines or from the terminal.
pub struct Passphrases {
    /// Lines on stdin, one per passphrase, no confirmation lines.
    pub stdin: bool,
}

impl Passphrases {
    /// One passphrase.
    pub fn read(&self, prompt: &str) -> Result<Zeroizing<String>, ClientError> {
        let line = if self.stdin {
            let mut line = Zeroizing::new(String::new());
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(ClientError::io(t!("member-reading-passphrase-stdin")))?;
            line
        } else {
            Zeroizing::new(
                rpassword::prompt_password(prompt).map_err(ClientError::io(t!("member-reading-passphrase")))?,
            )
        };
        let trimmed = Zeroizing::new(line.trim_end_matches(['\n', '\r']).to_owned());
        if trimmed.is_empty() {
            return Err(ClientError::State(t!("member-empty-passphrase")));
        }
        Ok(trimmed)
    }

    /// A new passphrase: far enough from `normal` (for a duress one),
    /// strong enough, and typed twice at a terminal. `which` names it as the
    /// person reads it; `prompt` asks for it (a space is put after both).
    fn read_new(&self, which: &str, prompt: &str, normal: Option<&str>) -> Result<Zeroizing<String>, ClientError> {
        let first = self.read(&format!("{prompt} "))?;
        if let Some(normal) = normal {
            check_pair(normal, &first)?;
        }
        check_strength(which, &first, normal.as_slice())?;
        if !self.stdin {
            let again = self.read(&format!("{} ", t!("member-passphrase-again", which = which)))?;
            if again != first {
                return Err(ClientError::State(t!("member-passphrases-differ", which = which)));
            }
        }
        Ok(first)
    }

    /// A member's two new passphrases.
    pub fn new_pair(&self) -> Result<(Zeroizing<String>, Zeroizing<String>), ClientError> {
        let normal = self.read_new(&t!("member-noun-passphrase"), &t!("member-prompt-new-passphrase"), None)?;
        let duress = self.read_new(&t!("member-noun-duress-passphrase"), &t!("member-prompt-duress"), Some(&normal))?;
        Ok((normal, duress))
    }

    /// A contact's new passphrase and, only if they asked for one, a duress
    /// passphrase. Without one the second slot gets a random passphrase
    /// nobody knows (the keystore's format stays the same).
    pub fn new_for_contact(&self, want_duress: bool) -> Result<(Zeroizing<String>, Zeroizing<String>), ClientError> {
        let normal =
            self.read_new(&t!("member-noun-passphrase"), &t!("member-prompt-new-keystore-passphrase"), None)?;
        if !want_duress {
            let random = Zeroizing::new(aman_protocol::random::random_array::<32>()?);
            return Ok((normal, Zeroizing::new(data_encoding::HEXLOWER.encode(random.as_ref()))));
        }
        let duress =
            self.read_new(&t!("member-noun-duress-passphrase"), &t!("member-prompt-keystore-duress"), Some(&normal))?;
        Ok((normal, duress))
    }
}

/// Where a note or a location comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextSource {
    /// Typed on the command line (it then sits in shell history and `ps`).
    Given(String),
    /// Asked for: typed at a prompt, or the next lines of stdin.
    Prompt,
    /// A file, or `-` for all of stdin.
    File(PathBuf),
}

impl TextSource {
    /// From `--note [TEXT]` and `--note-file PATH`.
    pub fn from_flags(inline: Option<Option<String>>, file: Option<PathBuf>) -> Option<TextSource> {
        match (inline, file) {
            (_, Some(path)) => Some(TextSource::File(path)),
            (Some(Some(text)), None) => Some(TextSource::Given(text)),
            (Some(None), None) => Some(TextSource::Prompt),
            (None, None) => None,
        }
    }

    /// The text, of at most `max` bytes (the protocol's limit, said here
    /// rather than after the passphrase work): a trailing newline (as
    /// editors and `echo` add) is dropped. `what` is `note`, `location` or
    /// `plan` (said in the interface's language).
    pub fn read(&self, what: &str, max: usize) -> Result<String, ClientError> {
        let what = &noun(what);
        let text = match self {
            TextSource::Given(text) => text.clone(),
            TextSource::File(path) if path == Path::new("-") => read_limited(std::io::stdin().lock(), what, max + 2)?,
            TextSource::File(path) => {
                let file = std::fs::File::open(path)
                    .map_err(ClientError::io(t!("member-reading-path", path = path.display().to_string())))?;
                read_limited(file, what, max + 2)?
            }
            TextSource::Prompt => {
                if std::io::stdin().is_terminal() {
                    eprintln!("{}", t!("member-type-text", what = what));
                }
                let mut text = String::new();
                for line in std::io::stdin().lock().lines() {
                    let line = line.map_err(ClientError::io(t!("member-reading-the", what = what)))?;
                    if line.is_empty() {
                        break;
                    }
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(&line);
                }
                text
            }
        };
        let text = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text).to_owned();
        if text.len() > max {
            return Err(ClientError::State(t!(
                "member-text-too-long",
                what = what,
                bytes = text.len().to_string(),
                max = max.to_string()
            )));
        }
        Ok(text)
    }
}

/// What a person is asked to type, named in the interface's language.
fn noun(what: &str) -> String {
    match what {
        "note" => t!("member-noun-note"),
        "location" => t!("member-noun-location"),
        "plan" => t!("member-noun-plan"),
        other => other.to_owned(),
    }
}

/// `what` is already in the interface's language.
fn read_limited(source: impl Read, what: &str, max: usize) -> Result<String, ClientError> {
    let mut bytes = Vec::new();
    source
        .take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(ClientError::io(t!("member-reading-the", what = what)))?;
    if bytes.len() > max {
        return Err(ClientError::State(t!("member-text-longer-than", what = what, max = max.to_string())));
    }
    String::from_utf8(bytes).map_err(|_| ClientError::State(t!("member-text-not-utf8", what = what)))
}

/// Reads the file `--ca-file` names.
pub fn read_ca(path: &Path) -> Result<String, ClientError> {
    let file = std::fs::File::open(path)
        .map_err(ClientError::io(t!("member-reading-path", path = path.display().to_string())))?;
    read_limited(file, &t!("member-noun-ca-file"), MAX_CA_FILE)
}

/// `--note [TEXT]`, `--note-file PATH|-`, `--location [TEXT]`,
/// `--location-file PATH|-`: the words a check-in (or a trip) seals.
#[derive(Debug, clap::Args)]
pub struct Words {
    /// Replace the note your contacts read if you do not check in again.
    /// Without a value it is asked for (so it stays out of shell history).
    #[arg(long, num_args = 0..=1, value_name = "TEXT")]
    note: Option<Option<String>>,
    /// Read the note from a file, or `-` for stdin.
    #[arg(long, value_name = "PATH", conflicts_with = "note")]
    note_file: Option<PathBuf>,
    /// Where you are or are going (asked for without a value).
    #[arg(long, num_args = 0..=1, value_name = "TEXT")]
    location: Option<Option<String>>,
    /// Read the location from a file, or `-` for stdin.
    #[arg(long, value_name = "PATH", conflicts_with = "location")]
    location_file: Option<PathBuf>,
}

impl Words {
    /// The note and location given, read after the passphrase (so that on
    /// stdin the passphrase lines come first).
    pub fn read(&self) -> Result<(Option<String>, Option<String>), ClientError> {
        let stdin = Some(Path::new("-"));
        if self.note_file.as_deref() == stdin && self.location_file.as_deref() == stdin {
            return Err(ClientError::State(t!("member-stdin-once")));
        }
        Ok((text(&self.note, &self.note_file, "note")?, text(&self.location, &self.location_file, "location")?))
    }
}

/// A note or location the command asked for. Nothing typed at a prompt
/// keeps what was there (an empty file or `--note ""` clears it: that is
/// asked for).
pub fn text(
    inline: &Option<Option<String>>,
    file: &Option<PathBuf>,
    what: &str,
) -> Result<Option<String>, ClientError> {
    let max = if what == "location" { MAX_LOCATION_LEN } else { MAX_NOTE_LEN };
    let Some(source) = TextSource::from_flags(inline.clone(), file.clone()) else { return Ok(None) };
    let read = source.read(what, max)?;
    if source == TextSource::Prompt && read.is_empty() {
        eprintln!("{}", t!("member-nothing-typed", what = noun(what)));
        return Ok(None);
    }
    Ok(Some(read))
}
