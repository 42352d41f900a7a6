//! `aman`: the member's and the trusted contact's program. A thin clap layer
//! over the aman-client library.

use aman_client::api::PlainHttp;
use aman_client::context::{Ctx, Report};
use aman_client::state::Vault;
use aman_client::{contact, member, ClientError};
use aman_protocol::duration::parse_duration;
use clap::{Parser, Subcommand};
use serde_json::json;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use zeroize::Zeroizing;

/// Aman: end-to-end encrypted check-ins and alerts.
#[derive(Debug, Parser)]
#[command(name = "aman", version)]
struct Cli {
    /// Directory holding the keystore (default: the platform data directory, or $AMAN_HOME).
    #[arg(long, global = true, env = "AMAN_HOME")]
    home: Option<PathBuf>,
    /// Print one JSON object on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Read passphrases as lines from stdin instead of prompting.
    #[arg(long, global = true)]
    passphrase_stdin: bool,
    /// Proxy for every request, e.g. socks5h://127.0.0.1:9050 for Tor
    /// (or $AMAN_PROXY). A proxy that is not a valid URL is an error, never
    /// a direct connection.
    #[arg(long, global = true, env = "AMAN_PROXY")]
    proxy: Option<String>,
    /// Seconds before a request gives up.
    #[arg(long, global = true, default_value_t = 30)]
    timeout: u64,
    /// Allow plain http:// to a server that is not on this machine or a
    /// .onion address (the network can then read and change everything).
    #[arg(long, global = true)]
    insecure_http: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create your keys and keystore and register with a server.
    Init {
        /// The server, e.g. https://aman.example.org or http://xyz.onion
        #[arg(long)]
        server: String,
        /// The registration invite from the organizer.
        #[arg(long)]
        invite: Option<String>,
        /// A name for your own reference (kept in the encrypted keystore only).
        #[arg(long)]
        name: Option<String>,
    },
    /// Trusted contacts.
    Contact {
        #[command(subcommand)]
        action: ContactAction,
    },
    /// Your check-in schedule.
    Schedule {
        #[command(subcommand)]
        action: ScheduleAction,
    },
    /// Check in (asks your passphrase).
    Checkin {
        /// Replace the note your contacts read if you do not check in again.
        #[arg(long)]
        note: Option<String>,
        /// Where you are or are going.
        #[arg(long)]
        location: Option<String>,
    },
    /// Alert your contacts now.
    Panic {
        /// What they should know.
        #[arg(long)]
        note: Option<String>,
    },
    /// Next deadline, time left, contacts, whether the server is reachable.
    Status,
    /// Alerts from the members who trust you.
    Alerts {
        /// Include old, acknowledged alerts.
        #[arg(long)]
        all: bool,
        #[command(subcommand)]
        action: Option<AlertsAction>,
    },
    /// Notification channels that wake you when an alert is waiting.
    Notify {
        #[command(subcommand)]
        action: NotifyAction,
    },
    /// Show every safety number, to compare in person.
    Verify,
    /// Keys.
    Key {
        #[command(subcommand)]
        action: KeyAction,
    },
}

#[derive(Debug, Subcommand)]
enum KeyAction {
    /// New check-in keys for both passphrases (asks both, in either order).
    Rotate,
}

#[derive(Debug, Subcommand)]
enum ContactAction {
    /// Make a pairing code for a new trusted contact.
    Invite {
        /// Your name for them.
        #[arg(long)]
        label: String,
        /// 1 is told first; higher tiers only if nobody acknowledges in time.
        #[arg(long, default_value_t = 1)]
        tier: u8,
    },
    /// Complete answered invites and list your contacts.
    List,
    /// Remove a contact (takes effect after the server's cooling-off period).
    Remove {
        /// The label.
        label: String,
    },
    /// Accept a member's pairing code and become their trusted contact.
    Accept {
        /// The `aman1:` code.
        code: String,
        /// Your name for the member.
        #[arg(long)]
        label: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ScheduleAction {
    /// Set how often you check in and how much grace you get.
    Set {
        /// Interval, e.g. 6h.
        #[arg(long)]
        every: String,
        /// Grace after the due time, e.g. 30m.
        #[arg(long)]
        grace: String,
        /// The note your contacts read if you miss a check-in.
        #[arg(long)]
        note: Option<String>,
    },
    /// Show the schedule.
    Show,
}

#[derive(Debug, Subcommand)]
enum AlertsAction {
    /// Print each new alert as it arrives.
    Watch {
        /// Stop after this many alerts.
        #[arg(long)]
        count: Option<usize>,
    },
    /// Acknowledge an alert: escalation stops and the other contacts are told.
    Ack {
        /// The alert id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum NotifyAction {
    /// Add a channel: `webhook URL`, `ntfy URL` or `email ADDRESS`.
    Add {
        /// webhook, ntfy or email.
        #[arg(value_parser = ["webhook", "ntfy", "email"])]
        kind: String,
        /// The URL or address.
        target: String,
    },
    /// List channels.
    List,
    /// Remove a channel by its id.
    Remove {
        /// The id from `notify list`.
        id: u32,
    },
}

/// Reads passphrases from stdin lines or from the terminal.
struct Passphrases {
    stdin: bool,
}

impl Passphrases {
    fn read(&self, prompt: &str) -> Result<Zeroizing<String>, ClientError> {
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

    fn new_pair(&self) -> Result<(Zeroizing<String>, Zeroizing<String>), ClientError> {
        let normal = self.read("New passphrase: ")?;
        let duress = self.read("Duress passphrase (a different one; using it sends a silent alert): ")?;
        Ok((normal, duress))
    }
}

fn duration(flag: &str, text: &str) -> Result<u64, ClientError> {
    parse_duration(text)
        .map_err(|_| ClientError::State(format!("{flag}: `{text}` is not a duration (like 30s, 10m, 6h, 1d)")))
}

async fn run(cli: &Cli, ctx: &Ctx) -> Result<Option<Report>, ClientError> {
    let pass = Passphrases { stdin: cli.passphrase_stdin };
    let unlock = || -> Result<Vault, ClientError> {
        let p = pass.read("Passphrase: ")?;
        Vault::open(&ctx.home, p.as_bytes())
    };
    let report = match &cli.command {
        Command::Init { server, invite, name } => {
            let (n, d) = pass.new_pair()?;
            member::init(ctx, server, invite.as_deref(), name.as_deref(), n.as_bytes(), d.as_bytes()).await?
        }
        Command::Contact { action } => match action {
            ContactAction::Invite { label, tier } => member::invite_contact(ctx, &mut unlock()?, label, *tier).await?,
            ContactAction::List => member::list_contacts(ctx, &mut unlock()?).await?,
            ContactAction::Remove { label } => member::remove_contact(ctx, &mut unlock()?, label).await?,
            ContactAction::Accept { code, label } => {
                let mut vault = if Vault::path_in(&ctx.home).exists() {
                    unlock()?
                } else {
                    let (n, d) = pass.new_pair()?;
                    let seeds =
                        (aman_protocol::random::random_array::<32>()?, aman_protocol::random::random_array::<32>()?);
                    Vault::create(&ctx.home, n.as_bytes(), d.as_bytes(), &seeds.0, &seeds.1)?
                };
                contact::accept(ctx, &mut vault, code, label.as_deref()).await?
            }
        },
        Command::Schedule { action } => match action {
            ScheduleAction::Set { every, grace, note } => {
                let (e, g) = (duration("--every", every)?, duration("--grace", grace)?);
                member::set_schedule(ctx, &mut unlock()?, e, g, note.as_deref()).await?
            }
            ScheduleAction::Show => member::show_schedule(&unlock()?)?,
        },
        Command::Checkin { note, location } => {
            member::checkin(ctx, &mut unlock()?, note.as_deref(), location.as_deref()).await?
        }
        Command::Panic { note } => member::panic(ctx, &mut unlock()?, note.as_deref()).await?,
        Command::Status => member::status(ctx, &unlock()?).await?,
        Command::Alerts { all, action } => match action {
            None => contact::list_alerts(ctx, &mut unlock()?, *all).await?,
            Some(AlertsAction::Ack { id }) => contact::ack(ctx, &unlock()?, id).await?,
            Some(AlertsAction::Watch { count }) => {
                let json = cli.json;
                contact::watch(ctx, &unlock()?, *count, |v, text| {
                    if json {
                        println!("{v}");
                    } else {
                        println!("{text}");
                    }
                })
                .await?;
                return Ok(None);
            }
        },
        Command::Notify { action } => match action {
            NotifyAction::Add { kind, target } => contact::notify_add(ctx, &mut unlock()?, kind, target).await?,
            NotifyAction::List => contact::notify_list(&unlock()?)?,
            NotifyAction::Remove { id } => contact::notify_remove(ctx, &mut unlock()?, *id).await?,
        },
        Command::Verify => contact::verify(&unlock()?),
        Command::Key { action: KeyAction::Rotate } => {
            // Either order: each new key inherits the role of the key it replaces.
            let a = pass.read("One passphrase: ")?;
            let b = pass.read("The other passphrase: ")?;
            member::rotate_keys(ctx, &ctx.home, a.as_bytes(), b.as_bytes()).await?
        }
    };
    Ok(Some(report))
}

fn error_code(e: &ClientError) -> &str {
    match e {
        ClientError::Unreachable { .. } => "server_unreachable",
        ClientError::Server { code, .. } => code,
        ClientError::WrongPassphrase => "wrong_passphrase",
        _ => "error",
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    let home = cli.home.clone().unwrap_or_else(|| dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join("aman"));
    let plain_http = if cli.insecure_http { PlainHttp::Anywhere } else { PlainHttp::LoopbackAndOnion };
    let ctx = Ctx { home, proxy: cli.proxy.clone(), timeout: Duration::from_secs(cli.timeout.max(1)), plain_http };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&cli, &ctx)) {
        Ok(Some(report)) => {
            if cli.json {
                println!("{}", report.json);
            } else {
                println!("{}", report.text);
            }
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(ClientError::Degraded { report, cause }) => {
            // What could be worked out without the server is shown first.
            if cli.json {
                let mut out = report.json.clone();
                out["error"] = json!({ "code": error_code(&cause), "message": cause.to_string() });
                println!("{out}");
            } else {
                println!("{}", report.text);
            }
            let code = match *cause {
                ClientError::Unreachable { .. } => 3,
                _ => 1,
            };
            eprintln!("{cause}");
            ExitCode::from(code)
        }
        Err(e) => {
            let (code, message) = match &e {
                ClientError::Unreachable { url, reason } => (
                    3,
                    format!(
                        "Cannot reach the Aman server at {url} ({reason}).\nYou are NOT protected until the server is reached: the request did not complete. Check your connection (or Tor) and try again."
                    ),
                ),
                other => (1, format!("error: {other}")),
            };
            if cli.json {
                println!("{}", json!({ "error": { "code": error_code(&e), "message": message } }));
            }
            eprintln!("{message}");
            ExitCode::from(code)
        }
    }
}
