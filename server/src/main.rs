//! `aman-server`: serve, and the organizer's admin commands.

use aman_protocol::duration::{parse_duration, DurationError};
use aman_server::admin::{self, AdminReply, AdminRequest};
use aman_server::clock::SystemClock;
use aman_server::config::{Config, ConfigError};
use aman_server::engine::open_live;
use aman_server::serve;
use aman_server::store::{SledStore, Store, StoreError};
use anyhow::{anyhow, bail, Context};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// mimalloc instead of glibc's malloc: a request is answered on whichever
/// runtime thread picks it up, and its buffers are often freed on another
/// (or on sled's I/O threads), which under glibc takes the owning arena's
/// lock; under load that contention showed as a sixth of the server's
/// futex calls (BENCHMARKS.md, session 12). Built with `no_thp`: mimalloc
/// otherwise asks for transparent huge pages on its eagerly committed
/// arenas, and a server holding 2,000 long-polls then grew to twice the
/// memory it had under glibc (start 55 MiB, peak 203; with `no_thp` 15 and 98).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;
use std::sync::Arc;

mod backup_command;

/// Aman server: watches check-in deadlines and delivers sealed alerts.
#[derive(Debug, Parser)]
#[command(name = "aman-server", version)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory (database, key file, admin socket). Default ./aman-data
    #[arg(long = "data", global = true)]
    data: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve {
        /// Address to listen on. Default 127.0.0.1:8700
        #[arg(long)]
        listen: Option<String>,
        /// PEM certificate chain: serve HTTPS (with --tls-key).
        #[arg(long)]
        tls_cert: Option<PathBuf>,
        /// PEM private key for --tls-cert.
        #[arg(long)]
        tls_key: Option<PathBuf>,
    },
    /// Registration invites.
    Invite {
        #[command(subcommand)]
        action: InviteAction,
    },
    /// Accounts, armed deadlines, open alerts, pending deliveries.
    Stats,
    /// Write a consistent, encrypted backup of the database to FILE (`-`:
    /// standard output), through the admin socket while the server runs,
    /// from the database directly when it is stopped. The backup is sealed
    /// with a key derived from the server key, which it does not contain:
    /// keep a copy of the key file elsewhere. FILE must not exist.
    Backup {
        /// Where to write it.
        #[arg(long)]
        to: PathBuf,
    },
    /// Restore a backup into the data directory (--data), which must not
    /// exist or be empty. Needs the key of the server that made it: the
    /// configured server key file, or --key.
    Restore {
        /// The backup (`-`: standard input).
        #[arg(long)]
        from: PathBuf,
        /// The server key file, if not where the configuration says.
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Print the configuration the server would run with (defaults, then
    /// --config, then AMAN_<KEY>, then --data), as TOML or with --json as
    /// one object; passwords are redacted. Exits 2 if it does not load.
    Config,
}

#[derive(Debug, Subcommand)]
enum InviteAction {
    /// Create an invite; its code is printed on the last line.
    Create {
        /// How many members may register with it (at least 1).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        uses: u32,
        /// How long it stays valid, e.g. 7d.
        #[arg(long, value_parser = expiry)]
        expires: Option<u64>,
    },
    /// List invites.
    List,
    /// Revoke an invite by its id.
    Revoke {
        /// The id from `invite list`.
        id: String,
    },
}

/// `--expires`: a duration, or clap's usage error (exit 2) saying how to write one.
fn expiry(text: &str) -> Result<u64, DurationError> {
    parse_duration(text)
}

fn load_config(cli: &Cli, listen: Option<&str>) -> anyhow::Result<Config> {
    let mut flags = Vec::new();
    if let Some(Command::Serve { tls_cert, tls_key, .. }) = &cli.command {
        if let Some(c) = tls_cert {
            flags.push(("tls_cert", c.display().to_string()));
        }
        if let Some(k) = tls_key {
            flags.push(("tls_key", k.display().to_string()));
        }
    }
    if let Some(dir) = &cli.data {
        flags.push(("data_dir", dir.display().to_string()));
    }
    if let Some(l) = listen {
        flags.push(("listen", l.to_owned()));
    }
    Ok(Config::load(cli.config.as_deref(), std::env::vars(), &flags)?)
}

async fn run_serve(config: Config) -> anyhow::Result<()> {
    let scheme = if config.tls_cert.is_some() { "https" } else { "http" };
    let running = serve::start(config, Arc::new(SystemClock)).await?;
    println!("aman-server listening on {scheme}://{}", running.addr);
    wait_for_signal().await?;
    tracing::info!("shutting down");
    running.shutdown().await?;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

async fn run_admin(config: Config, req: AdminRequest) -> anyhow::Result<AdminReply> {
    if let Some(reply) = admin::call_socket(&config.admin_socket(), &req).await {
        return reply.map_err(|e| anyhow!(e));
    }
    let db = config.db_dir();
    if !db.exists() {
        bail!("no database at {} (start the server once, or pass --data)", db.display());
    }
    tokio::task::spawn_blocking(move || {
        let store =
            SledStore::open(&db).context("opening the database (is a server running without its admin socket?)")?;
        // Invite codes carry the server's id, which comes from its key file.
        let key = serve::checked_key(&config, &store)?;
        let server = aman_protocol::ServerIdentity::derive(&key).id();
        let store = Arc::new(store);
        let armed: admin::ArmedCount = {
            let store = store.clone();
            Arc::new(move || count_armed(store.as_ref(), &key))
        };
        Ok(admin::execute(store.as_ref(), &SystemClock, server, &armed, req)?)
    })
    .await?
}

/// Counts the armed deadlines of a stopped server: they are sealed, so
/// each live state is opened with the key.
fn count_armed(store: &SledStore, key: &aman_protocol::at_rest::ServerKey) -> Result<u64, StoreError> {
    let mut armed = 0u64;
    store.scan_lives(&mut |id, sealed| {
        if open_live(key, &id, sealed).is_some_and(|live| live.deadline.is_some()) {
            armed += 1;
        }
    })?;
    Ok(armed)
}

fn print_reply(reply: &AdminReply, json: bool) -> anyhow::Result<()> {
    if json {
        let value = match reply {
            AdminReply::Invite { code, id } => serde_json::json!({ "code": code, "id": id }),
            AdminReply::Invites { invites } => serde_json::json!({ "invites": invites }),
            AdminReply::Revoked { revoked: false } => bail!("no active invite has that id (see `invite list`)"),
            AdminReply::Revoked { revoked } => serde_json::json!({ "revoked": revoked }),
            AdminReply::Stats(s) => serde_json::to_value(s)?,
            AdminReply::Error { message } => bail!("{message}"),
            AdminReply::BackupFollows => bail!("unexpected backup stream"),
        };
        println!("{value}");
        return Ok(());
    }
    match reply {
        AdminReply::Invite { code, id } => {
            println!("Invite {id} created. Give this code to the member:");
            println!("{code}");
        }
        AdminReply::Invites { invites } => {
            if invites.is_empty() {
                println!("no invites");
            }
            for i in invites {
                let state = if i.revoked {
                    "revoked"
                } else if i.uses_left == 0 {
                    "used up"
                } else {
                    "active"
                };
                let expires = i.expires_at.map_or("never".to_owned(), aman_protocol::duration::format_utc);
                println!("{}  {state}  uses left {}  expires {expires}", i.id, i.uses_left);
            }
        }
        AdminReply::Revoked { revoked: false } => bail!("no active invite has that id (see `invite list`)"),
        AdminReply::Revoked { .. } => println!("revoked"),
        AdminReply::Stats(s) => {
            println!("accounts            {}", s.accounts);
            println!("armed deadlines     {}", s.armed_deadlines);
            println!("open alerts         {}", s.open_alerts);
            println!("alerts (all)        {}", s.alerts);
            println!("deliveries pending  {}", s.deliveries_pending);
            println!("contact mailboxes   {}", s.mailboxes);
        }
        AdminReply::Error { message } => bail!("{message}"),
        AdminReply::BackupFollows => bail!("unexpected backup stream"),
    }
    Ok(())
}

/// `aman-server config`: the effective settings, as TOML lines or one JSON object.
fn print_config(config: &Config, json: bool) -> anyhow::Result<()> {
    let shown = config.shown();
    if json {
        let object: serde_json::Map<String, serde_json::Value> =
            shown.iter().map(|(key, value)| ((*key).to_owned(), value.json())).collect();
        println!("{}", serde_json::Value::Object(object));
    } else {
        println!("# aman-server's effective configuration: defaults < --config file < AMAN_<KEY> < flags");
        for (key, value) in &shown {
            println!("{}", value.toml_line(key));
        }
    }
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let req = match &cli.command {
        None => return run_serve(load_config(&cli, None)?).await,
        Some(Command::Serve { listen, .. }) => return run_serve(load_config(&cli, listen.as_deref())?).await,
        Some(Command::Invite { action }) => match action {
            InviteAction::Create { uses, expires } => AdminRequest::InviteCreate { uses: *uses, expires_in: *expires },
            InviteAction::List => AdminRequest::InviteList,
            InviteAction::Revoke { id } => AdminRequest::InviteRevoke { id: id.clone() },
        },
        Some(Command::Stats) => AdminRequest::Stats,
        Some(Command::Config) => return print_config(&load_config(&cli, None)?, cli.json),
        Some(Command::Backup { to }) => {
            let (config, to, json) = (load_config(&cli, None)?, to.clone(), cli.json);
            return tokio::task::spawn_blocking(move || backup_command::backup(&config, &to, json)).await?;
        }
        Some(Command::Restore { from, key }) => {
            let (config, from, key, json) = (load_config(&cli, None)?, from.clone(), key.clone(), cli.json);
            return tokio::task::spawn_blocking(move || backup_command::restore(&config, &from, key.as_deref(), json))
                .await?;
        }
    };
    let reply = run_admin(load_config(&cli, None)?, req).await?;
    print_reply(&reply, cli.json)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AMAN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal: the journal and log files get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none())
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            // A configuration that does not load is a usage error, as a bad flag
            // is; so are a missing or wrong key and a newer database (exit 2:
            // the unit's RestartPreventExitStatus stops restarting).
            let for_the_organizer = e.downcast_ref::<serve::ServeError>().is_some_and(|s| s.needs_the_organizer());
            if e.downcast_ref::<ConfigError>().is_some() || for_the_organizer {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
