//! `aman`: the member's and the trusted contact's program. A thin clap layer
//! over the aman-client library.

mod drill_cli;
mod help;
mod plan_cli;
mod prompt;
mod remind_cli;
mod trip_cli;

use aman_client::api::PlainHttp;
use aman_client::context::{Ctx, Report};
use aman_client::settings::{self, Change};
use aman_client::state::{FixedTimes, Vault};
use aman_client::{contact, i18n, member, servers, trip, when, ClientError};
use aman_protocol::api::ChannelKind;
use aman_protocol::duration::parse_duration;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use prompt::{Passphrases, TextSource};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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
    /// (or $AMAN_PROXY). Given at `init` or a first `contact accept`, it is
    /// stored and used from then on (`aman config` changes it). A proxy
    /// that is not a valid URL is an error, never a direct connection.
    #[arg(long, global = true, env = "AMAN_PROXY")]
    proxy: Option<String>,
    /// A certificate authority (PEM file) to trust, for a server with a
    /// private or self-signed certificate. Stored like --proxy.
    #[arg(long, global = true, value_name = "PATH")]
    ca_file: Option<PathBuf>,
    /// Seconds before a request gives up.
    #[arg(long, global = true, default_value_t = 30)]
    timeout: u64,
    /// Allow plain http:// to a server that is not on this machine or a
    /// .onion address (the network can then read and change everything).
    #[arg(long, global = true)]
    insecure_http: bool,
    /// The language of every message: `en` or `ar` (default: the locale's,
    /// from LC_ALL, LC_MESSAGES or LANG; English for any other).
    #[arg(long, global = true, value_name = "LANG", env = "AMAN_LANG")]
    lang: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create your keys and keystore and register with a server.
    Init {
        /// The server, e.g. `https://aman.example.org` or `http://xyz.onion`
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
        #[command(flatten)]
        words: prompt::Words,
    },
    /// Trips: start one ("back by 18:00"), extend it, end it. Each is a check-in.
    Trip {
        #[command(subcommand)]
        action: trip_cli::TripAction,
    },
    /// Alert your contacts now.
    Panic {
        /// What they should know, added to your standing note (asked for
        /// without a value).
        #[arg(long, num_args = 0..=1, value_name = "TEXT")]
        note: Option<Option<String>>,
        /// Read it from a file, or `-` for stdin.
        #[arg(long, value_name = "PATH", conflicts_with = "note")]
        note_file: Option<PathBuf>,
    },
    /// Next deadline, time left, contacts, whether the server is reachable.
    Status,
    /// Test your safety net: a drill to every contact's mailbox and
    /// channels, marked as a drill (`drill status`: how it went).
    Drill {
        #[command(subcommand)]
        action: Option<drill_cli::DrillAction>,
    },
    /// Your response plan: what your contacts should do when an alert comes.
    Plan {
        #[command(subcommand)]
        action: plan_cli::PlanAction,
    },
    /// Reminders to you, on your own channels, before a check-in is due.
    Remind {
        #[command(subcommand)]
        action: remind_cli::RemindAction,
    },
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
    /// How this device reaches servers: a stored proxy, a private certificate authority.
    Config {
        #[command(subcommand)]
        action: Option<ConfigAction>,
    },
    /// Your servers: add another (run by another organizer), list them, remove one.
    Server {
        #[command(subcommand)]
        action: ServerAction,
    },
    /// A web interface on this machine, in your browser: the page comes
    /// from this program, never from a server.
    Ui {
        /// Where to listen: loopback only (default: 127.0.0.1 on a free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// Print the address instead of opening a browser.
        #[arg(long)]
        no_open: bool,
        /// Close the keystore after this long without use (the inbox
        /// refreshing itself does not count); `0`: never, for a computer
        /// only you use, to keep watching for alerts.
        #[arg(long, default_value = "10m", value_name = "DUR")]
        idle_lock: String,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigAction {
    /// Show the stored settings.
    Show,
    /// Send every request through this proxy (e.g. socks5h://127.0.0.1:9050 for Tor).
    SetProxy {
        /// The proxy URL.
        url: String,
    },
    /// Connect directly again.
    ClearProxy,
    /// Trust this certificate authority (PEM file) too.
    SetCa {
        /// The PEM file.
        path: PathBuf,
    },
    /// Trust only the public certificate authorities again.
    ClearCa,
}

#[derive(Debug, Subcommand)]
enum ServerAction {
    /// Register your account with another server too (asks both
    /// passphrases, normal first, as `init` does).
    Add {
        /// The server, e.g. `https://aman.example.net`
        url: String,
        /// The registration invite from its organizer.
        #[arg(long)]
        invite: Option<String>,
    },
    /// Each server, whether it answers, and your deadline there.
    List,
    /// Stop using a server (after its cooling-off; your contacts are told).
    Remove {
        /// The server's URL, as `server list` shows it.
        url: String,
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
        /// When this makes a new keystore: also set a duress passphrase,
        /// which opens it too (for a captor to see). Without it only one
        /// passphrase is asked.
        #[arg(long)]
        duress_passphrase: bool,
        /// Do not add your notification channels to this member's mailbox
        /// (by default each channel wakes you for every member; its address
        /// is then told to this member's server).
        #[arg(long)]
        no_channels: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ScheduleAction {
    /// Set how often you check in (--every 6h, --at 09:00,21:00, or
    /// --trips-only) and how much grace you get.
    Set {
        /// Interval, e.g. 6h.
        #[arg(long, required_unless_present_any = ["at", "trips_only"], conflicts_with_all = ["at", "trips_only"])]
        every: Option<String>,
        /// No check-in due between trips: only `aman trip start` arms the
        /// switch, and `aman trip end` disarms it. It weakens protection, so
        /// it waits out the server's cooling-off and your contacts are told.
        #[arg(long, conflicts_with = "at")]
        trips_only: bool,
        /// With --trips-only: the longest one trip may last (default 24h).
        #[arg(long, requires = "trips_only", value_name = "DUR")]
        max_trip: Option<String>,
        /// Fixed times of day, e.g. 09:00,21:00: each check-in is due at the next one.
        #[arg(long, value_name = "TIMES")]
        at: Option<String>,
        /// The time zone of --at times, e.g. Asia/Baghdad (default: this device's).
        #[arg(long, requires = "at")]
        tz: Option<String>,
        /// Grace after the due time, e.g. 30m.
        #[arg(long)]
        grace: String,
        /// The note your contacts read if you miss a check-in (asked for
        /// without a value).
        #[arg(long, num_args = 0..=1, value_name = "TEXT")]
        note: Option<Option<String>>,
        /// Read the note from a file, or `-` for stdin.
        #[arg(long, value_name = "PATH", conflicts_with = "note")]
        note_file: Option<PathBuf>,
    },
    /// No alert for a missed check-in until TIME (or until resumed). It
    /// weakens protection: it waits out the server's cooling-off, and your
    /// contacts are told.
    Pause {
        /// 18:00, a duration (3d) or an RFC 3339 time; without it, until `resume`.
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// The time zone for a time of day (default: this device's).
        #[arg(long)]
        tz: Option<String>,
    },
    /// End a pause now, with a check-in.
    Resume,
    /// Show the schedule and when the next check-ins are due.
    Show {
        /// Count from this time instead of now (18:00, 2h, or an RFC 3339 time).
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AlertsAction {
    /// Print each new alert as it arrives.
    Watch {
        /// Stop after this many alerts and notices.
        #[arg(long)]
        count: Option<usize>,
        /// How often to say that the watch is still running, e.g. 10m.
        #[arg(long, default_value = "10m")]
        status_every: String,
    },
    /// Acknowledge an alert: escalation stops and the other contacts are told.
    Ack {
        /// The alert id, or any part of its start that no other alert shares.
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

fn duration(flag: &str, text: &str) -> Result<u64, ClientError> {
    parse_duration(text)
        .map_err(|_| ClientError::State(aman_client::t!("common-not-a-duration", flag = flag, text = text)))
}

async fn run(cli: &Cli, ctx: &Ctx) -> Result<Option<Report>, ClientError> {
    let pass = Passphrases { stdin: cli.passphrase_stdin };
    // Unlocks the keystore, and reaches servers the way it says (a stored
    // proxy, a private CA) unless this command says otherwise.
    let open = || -> Result<(Vault, Ctx), ClientError> {
        let p = pass.read(&format!("{}: ", aman_client::t!("common-prompt-passphrase")))?;
        let vault = Vault::open(&ctx.home, p.as_bytes())?;
        let ctx = ctx.with_stored(&vault.book.settings);
        Ok((vault, ctx))
    };
    let report = match &cli.command {
        Command::Init { server, invite, name } => {
            let (n, d) = pass.new_pair()?;
            member::init(ctx, server, invite.as_deref(), name.as_deref(), n.as_bytes(), d.as_bytes()).await?
        }
        Command::Contact { action } => match action {
            ContactAction::Invite { label, tier } => {
                let (mut vault, ctx) = open()?;
                member::invite_contact(&ctx, &mut vault, label, *tier).await?
            }
            ContactAction::List => {
                let (mut vault, ctx) = open()?;
                member::list_contacts(&ctx, &mut vault).await?
            }
            ContactAction::Remove { label } => {
                let (mut vault, ctx) = open()?;
                member::remove_contact(&ctx, &mut vault, label).await?
            }
            ContactAction::Accept { code, label, duress_passphrase, no_channels } => {
                let new_keystore = !Vault::path_in(&ctx.home).exists();
                let (mut vault, ctx) = if !new_keystore {
                    open()?
                } else {
                    let (n, d) = pass.new_for_contact(*duress_passphrase)?;
                    let seeds =
                        (aman_protocol::random::random_array::<32>()?, aman_protocol::random::random_array::<32>()?);
                    let mut vault = Vault::create(&ctx.home, n.as_bytes(), d.as_bytes(), &seeds.0, &seeds.1)?;
                    vault.book.settings = ctx.settings_to_store();
                    (vault, ctx.clone())
                };
                let made = new_keystore.then_some(*duress_passphrase);
                contact::accept(&ctx, &mut vault, code, label.as_deref(), made, !no_channels).await?
            }
        },
        Command::Schedule { action } => match action {
            ScheduleAction::Set { every, at, trips_only, max_trip, tz, grace, note, note_file } => {
                let g = duration("--grace", grace)?;
                let (e, cadence) = match (every, at, trips_only) {
                    (_, _, true) => {
                        (duration("--max-trip", max_trip.as_deref().unwrap_or("24h"))?, member::Cadence::TripsOnly)
                    }
                    (Some(every), _, false) => (duration("--every", every)?, member::Cadence::Every),
                    (None, Some(at), false) => {
                        let times = when::parse_clock_list(at)?;
                        let (_, tz) = when::zone(tz.as_deref())?;
                        (when::interval_for(&times), member::Cadence::At(FixedTimes { times, tz }))
                    }
                    (None, None, false) => {
                        return Err(ClientError::State(aman_client::t!("common-schedule-needs-cadence")))
                    }
                };
                let (mut vault, ctx) = open()?;
                let note = prompt::text(note, note_file, "note")?;
                member::set_schedule(&ctx, &mut vault, e, g, cadence, note.as_deref()).await?
            }
            ScheduleAction::Pause { until, tz } => {
                let (zone, _) = when::zone(tz.as_deref())?;
                let now = aman_client::api::unix_now();
                let until = until.as_deref().map(|t| when::parse_back_by(t, &zone, now)).transpose()?;
                let (mut vault, ctx) = open()?;
                member::pause(&ctx, &mut vault, until).await?
            }
            ScheduleAction::Resume => {
                let (mut vault, ctx) = open()?;
                member::resume(&ctx, &mut vault).await?
            }
            ScheduleAction::Show { from } => {
                let (tz, _) = when::zone(None)?;
                let from =
                    from.as_deref().map(|t| when::parse_back_by(t, &tz, aman_client::api::unix_now())).transpose()?;
                member::show_schedule(&open()?.0, from)?
            }
        },
        Command::Checkin { words } => {
            let (mut vault, ctx) = open()?;
            let (note, location) = words.read()?;
            member::checkin(&ctx, &mut vault, note.as_deref(), location.as_deref()).await?
        }
        Command::Trip { action } => {
            let (mut vault, ctx) = open()?;
            match action {
                trip_cli::TripAction::Start { back_by, grace, tz, words } => {
                    let (zone, _) = when::zone(tz.as_deref())?;
                    let back_by = when::parse_back_by(back_by, &zone, aman_client::api::unix_now())?;
                    let grace = grace.as_deref().map(|g| duration("--grace", g)).transpose()?;
                    let (note, location) = words.read()?;
                    trip::start(&ctx, &mut vault, back_by, grace, note.as_deref(), location.as_deref()).await?
                }
                trip_cli::TripAction::Extend { by } => trip::extend(&ctx, &mut vault, duration("extend", by)?).await?,
                trip_cli::TripAction::End => trip::end(&ctx, &mut vault, None, None).await?,
            }
        }
        Command::Panic { note, note_file } => {
            let (mut vault, ctx) = open()?;
            let note = prompt::text(note, note_file, "note")?;
            member::panic(&ctx, &mut vault, note.as_deref()).await?
        }
        Command::Status => {
            let (mut vault, ctx) = open()?;
            member::status(&ctx, &mut vault).await?
        }
        Command::Drill { action } => {
            let (mut vault, ctx) = open()?;
            match action {
                None => aman_client::drill::send(&ctx, &mut vault).await?,
                Some(drill_cli::DrillAction::Status) => aman_client::drill::status(&ctx, &mut vault).await?,
            }
        }
        Command::Remind { action } => {
            let (mut vault, ctx) = open()?;
            match action {
                remind_cli::RemindAction::Add { target } => {
                    let (kind, target) = target.parts();
                    aman_client::remind::add(&ctx, &mut vault, kind, target).await?
                }
                remind_cli::RemindAction::List => aman_client::remind::list(&ctx, &mut vault).await?,
                remind_cli::RemindAction::Remove { id } => aman_client::remind::remove(&ctx, &mut vault, *id).await?,
                remind_cli::RemindAction::Set { before } => {
                    let offsets = before
                        .split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(|p| duration("--before", p))
                        .collect::<Result<Vec<_>, _>>()?;
                    aman_client::remind::set(&ctx, &mut vault, &offsets).await?
                }
            }
        }
        Command::Plan { action } => match action {
            plan_cli::PlanAction::Set { file } => {
                let (mut vault, ctx) = open()?;
                let plan = TextSource::File(file.clone()).read("plan", aman_protocol::alert::MAX_PLAN_LEN)?;
                aman_client::plan::set(&ctx, &mut vault, &plan).await?
            }
            plan_cli::PlanAction::Show => aman_client::plan::show(&open()?.0)?,
            plan_cli::PlanAction::Template => {
                // The template is written in the language of every message.
                let lang = match i18n::lang() {
                    i18n::Lang::En => aman_client::plan::Lang::En,
                    i18n::Lang::Ar => aman_client::plan::Lang::Ar,
                };
                let text = aman_client::plan::template(lang);
                Report { json: json!({ "lang": i18n::lang().code(), "plan": text }), text: text.to_owned() }
            }
        },
        Command::Alerts { all, action } => match action {
            None => {
                let (mut vault, ctx) = open()?;
                contact::list_alerts(&ctx, &mut vault, *all).await?
            }
            Some(AlertsAction::Ack { id }) => {
                let (mut vault, ctx) = open()?;
                contact::ack(&ctx, &mut vault, id).await?
            }
            Some(AlertsAction::Watch { count, status_every }) => {
                let every = Duration::from_secs(duration("--status-every", status_every)?.max(1));
                let (mut vault, ctx) = open()?;
                // The members' servers as their directories say now (a
                // member's server added later is read from the next watch).
                for line in aman_client::member_servers::learn_all(&ctx, &mut vault).await.unwrap_or_default() {
                    eprintln!("{line}");
                }
                let json = cli.json;
                let emit = |v: &serde_json::Value, text: &str| {
                    if json {
                        println!("{v}");
                    } else {
                        println!("{text}");
                    }
                };
                contact::watch(&ctx, &vault, *count, every, emit, |line| eprintln!("{line}")).await?;
                return Ok(None);
            }
        },
        Command::Notify { action } => match action {
            NotifyAction::Add { kind, target } => {
                let (mut vault, ctx) = open()?;
                contact::notify_add(&ctx, &mut vault, ChannelKind::parse(kind), target).await?
            }
            NotifyAction::List => contact::notify_list(&open()?.0)?,
            NotifyAction::Remove { id } => {
                let (mut vault, ctx) = open()?;
                contact::notify_remove(&ctx, &mut vault, *id).await?
            }
        },
        Command::Verify => contact::verify(&open()?.0),
        Command::Server { action } => match action {
            ServerAction::Add { url, invite } => {
                let n = pass.read(&format!("{}: ", aman_client::t!("common-prompt-normal-existing")))?;
                let d = pass.read(&format!("{}: ", aman_client::t!("common-prompt-duress-existing")))?;
                let stored = Vault::open(&ctx.home, n.as_bytes())?.book.settings;
                servers::add(&ctx.with_stored(&stored), &ctx.home, url, invite.as_deref(), n.as_bytes(), d.as_bytes())
                    .await?
            }
            ServerAction::List => {
                let (mut vault, ctx) = open()?;
                servers::list(&ctx, &mut vault).await?
            }
            ServerAction::Remove { url } => {
                let (mut vault, ctx) = open()?;
                servers::remove(&ctx, &mut vault, url).await?
            }
        },
        Command::Key { action: KeyAction::Rotate } => {
            // Either order: each new key inherits the role of the key it replaces.
            let a = pass.read(&format!("{}: ", aman_client::t!("common-prompt-one-passphrase")))?;
            let b = pass.read(&format!("{}: ", aman_client::t!("common-prompt-other-passphrase")))?;
            let stored = Vault::open(&ctx.home, a.as_bytes())?.book.settings;
            member::rotate_keys(&ctx.with_stored(&stored), &ctx.home, a.as_bytes(), b.as_bytes()).await?
        }
        Command::Config { action } => {
            let change = match action {
                None | Some(ConfigAction::Show) => Change::None,
                Some(ConfigAction::SetProxy { url }) => Change::SetProxy(url.clone()),
                Some(ConfigAction::ClearProxy) => Change::ClearProxy,
                Some(ConfigAction::SetCa { path }) => Change::SetCa(prompt::read_ca(path)?),
                Some(ConfigAction::ClearCa) => Change::ClearCa,
            };
            if settings::needs_both(&change) {
                // Either order, as for `key rotate`; a keystore with no member
                // account (a contact's, whose second slot may be random) needs one.
                let a = pass.read(&format!("{}: ", aman_client::t!("common-prompt-one-passphrase")))?;
                let mut vault = Vault::open(&ctx.home, a.as_bytes())?;
                if vault.book.member.is_some() {
                    let b = pass.read(&format!("{}: ", aman_client::t!("common-prompt-other-passphrase")))?;
                    settings::check_both(&vault, &Vault::open(&ctx.home, b.as_bytes())?)?;
                }
                settings::configure(&mut vault, change)?
            } else {
                settings::configure(&mut open()?.0, change)?
            }
        }
        Command::Ui { listen, no_open, idle_lock } => {
            let idle = duration("--idle-lock", idle_lock)?;
            let idle = (idle > 0).then(|| Duration::from_secs(idle));
            aman_client::ui::run(ctx, *listen, !*no_open, idle).await?;
            return Ok(None);
        }
    };
    Ok(Some(report))
}

fn main() -> ExitCode {
    // The language is chosen before parsing, from the same `--lang` and
    // $AMAN_LANG clap reads (else the locale), so that `--help` is in it.
    let requested = help::requested_lang(std::env::args_os(), std::env::var_os("AMAN_LANG"));
    i18n::choose(requested.as_deref().and_then(i18n::Lang::parse).unwrap_or_else(i18n::Lang::from_environment));
    let cli = match help::localized(Cli::command()).try_get_matches().and_then(|m| Cli::from_arg_matches(&m)) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    if let Some(code) = cli.lang.as_deref() {
        if i18n::Lang::parse(code).is_none() {
            eprintln!("error: --lang {code}: this version speaks en and ar");
            return ExitCode::from(2);
        }
    }
    let home = cli.home.clone().unwrap_or_else(|| dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join("aman"));
    let plain_http = if cli.insecure_http { PlainHttp::Anywhere } else { PlainHttp::LoopbackAndOnion };
    let ca_pem = match cli.ca_file.as_deref().map(prompt::read_ca).transpose() {
        Ok(pem) => pem,
        Err(e) => {
            eprintln!("{}", aman_client::t!("common-error-line", message = e.to_string()));
            return ExitCode::FAILURE;
        }
    };
    let ctx =
        Ctx { home, proxy: cli.proxy.clone(), timeout: Duration::from_secs(cli.timeout.max(1)), plain_http, ca_pem };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{}", aman_client::t!("common-error-line", message = e.to_string()));
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
        // Taken by some of the member's servers, not all: the report names
        // those that did not take it.
        Err(ClientError::Partly { report }) => {
            if cli.json {
                println!("{}", report.json);
            } else {
                println!("{}", report.text);
            }
            ExitCode::from(4)
        }
        Err(ClientError::Degraded { report, cause }) => {
            // What could be worked out without the server is shown first.
            if cli.json {
                let mut out = report.json.clone();
                out["error"] = json!({ "code": cause.code(), "message": cause.to_string() });
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
                        "{}\n{}",
                        aman_client::t!("common-unreachable-cannot-reach", url = url, reason = reason),
                        aman_client::t!("common-unreachable-not-protected")
                    ),
                ),
                other => (1, aman_client::t!("common-error-line", message = other.to_string())),
            };
            if cli.json {
                println!("{}", json!({ "error": { "code": e.code(), "message": message } }));
            }
            eprintln!("{message}");
            ExitCode::from(code)
        }
    }
}
