//! What the `aman` program reads from a person: passphrases (from the
//! terminal, or lines on stdin with `--passphrase-stdin`) and notes (from a
//! file, stdin or a prompt, so that they never sit in shell history or `ps`).

use aman_client::passphrase::{check_pair, check_strength};
use aman_client::ClientError;
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
            std::io::stdin().lock().read_line(&mut line).map_err(ClientError::io("reading a passphrase from stdin"))?;
            line
        } else {
            Zeroizing::new(
                rpassword::prompt_password(prompt)
                    .map_err(ClientError::io("reading a passphrase (use --passphrase-stdin when scripting)"))?,
            )
        };
        let trimmed = Zeroizing::new(line.trim_end_matches(['\n', '\r']).to_owned());
        if trimmed.is_empty() {
            return Err(ClientError::State("empty passphrase".into()));
        }
        Ok(trimmed)
    }

    /// A new passphrase: far enough from `normal` (for a duress one),
    /// strong enough, and typed twice at a terminal.
    fn read_new(&self, which: &str, prompt: &str, normal: Option<&str>) -> Result<Zeroizing<String>, ClientError> {
        let first = self.read(prompt)?;
        if let Some(normal) = normal {
            check_pair(normal, &first)?;
        }
        check_strength(which, &first, normal.as_slice())?;
        if !self.stdin {
            let again = self.read(&format!("Type the {which} again: "))?;
            if again != first {
                return Err(ClientError::State(format!("the two {which}s you typed differ: nothing was changed")));
            }
        }
        Ok(first)
    }

    /// A member's two new passphrases.
    pub fn new_pair(&self) -> Result<(Zeroizing<String>, Zeroizing<String>), ClientError> {
        let normal = self.read_new("passphrase", "New passphrase: ", None)?;
        let duress = self.read_new(
            "duress passphrase",
            "Duress passphrase (a different one: checking in with it looks normal but silently alerts your contacts): ",
            Some(&normal),
        )?;
        Ok((normal, duress))
    }

    /// A contact's new passphrase and, only if they asked for one, a duress
    /// passphrase. Without one the second slot gets a random passphrase
    /// nobody knows (the keystore's format stays the same).
    pub fn new_for_contact(&self, want_duress: bool) -> Result<(Zeroizing<String>, Zeroizing<String>), ClientError> {
        let normal = self.read_new("passphrase", "New passphrase for this keystore: ", None)?;
        if !want_duress {
            let random = Zeroizing::new(aman_protocol::random::random_array::<32>()?);
            return Ok((normal, Zeroizing::new(data_encoding::HEXLOWER.encode(random.as_ref()))));
        }
        let duress = self.read_new(
            "duress passphrase",
            "Duress passphrase (opens this keystore too, for a captor to see): ",
            Some(&normal),
        )?;
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
    /// editors and `echo` add) is dropped.
    pub fn read(&self, what: &str, max: usize) -> Result<String, ClientError> {
        let text = match self {
            TextSource::Given(text) => text.clone(),
            TextSource::File(path) if path == Path::new("-") => read_limited(std::io::stdin().lock(), what, max + 2)?,
            TextSource::File(path) => {
                let file = std::fs::File::open(path).map_err(ClientError::io(format!("reading {}", path.display())))?;
                read_limited(file, what, max + 2)?
            }
            TextSource::Prompt => {
                if std::io::stdin().is_terminal() {
                    eprintln!("Type the {what}; end it with an empty line:");
                }
                let mut text = String::new();
                for line in std::io::stdin().lock().lines() {
                    let line = line.map_err(ClientError::io(format!("reading the {what}")))?;
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
            return Err(ClientError::State(format!("the {what} is {} bytes; it can hold at most {max}", text.len())));
        }
        Ok(text)
    }
}

fn read_limited(source: impl Read, what: &str, max: usize) -> Result<String, ClientError> {
    let mut bytes = Vec::new();
    source.take(max as u64 + 1).read_to_end(&mut bytes).map_err(ClientError::io(format!("reading the {what}")))?;
    if bytes.len() > max {
        return Err(ClientError::State(format!("the {what} is longer than {max} bytes")));
    }
    String::from_utf8(bytes).map_err(|_| ClientError::State(format!("the {what} is not UTF-8 text")))
}

/// Reads the file `--ca-file` names.
pub fn read_ca(path: &Path) -> Result<String, ClientError> {
    let file = std::fs::File::open(path).map_err(ClientError::io(format!("reading {}", path.display())))?;
    read_limited(file, "CA file", MAX_CA_FILE)
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
            return Err(ClientError::State("only one of --note-file and --location-file can be `-` (stdin)".into()));
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
        eprintln!("Nothing typed: the {what} stays as it was.");
        return Ok(None);
    }
    Ok(Some(read))
}
