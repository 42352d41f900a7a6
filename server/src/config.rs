//! Configuration: built-in defaults, then a TOML file, then `AMAN_<KEY>`
//! environment variables, then command-line flags. Later sources win.

use crate::net::TrustedProxies;
use aman_protocol::duration::{format_duration, parse_duration};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A configuration problem, naming the key.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("parsing {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// An unknown key (probably a typo).
    #[error("unknown configuration key `{0}`")]
    UnknownKey(String),
    /// A value that does not parse.
    #[error("invalid value for `{key}`: {message}")]
    Invalid {
        /// The key.
        key: String,
        /// Why.
        message: String,
    },
}

/// Who may register an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// Only with an organizer's invite (the default).
    Invite,
    /// Anyone.
    Open,
}

/// The server's settings. Durations are in seconds.
#[derive(Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory holding the database and the admin socket.
    pub data_dir: PathBuf,
    /// The at-rest key file (mode 0600). Default: `$CREDENTIALS_DIRECTORY/server.key`
    /// under systemd, else `<data_dir>.key` beside (not inside) the data directory.
    pub server_key_file: Option<PathBuf>,
    /// Where `/metrics` is served, if anywhere: never on the public listener.
    pub metrics_listen: Option<SocketAddr>,
    /// Every alert (missed, duress, panic) reaches its contacts after a
    /// random delay between half this many seconds and all of it, so no kind
    /// of alert is told apart by when contacts are woken, and nothing an alert
    /// causes happens while the request that caused it is answered.
    pub dispatch_delay: u64,
    /// Shortest check-in interval a member may set.
    pub min_interval: u64,
    /// Longest check-in interval a member may set.
    pub max_interval: u64,
    /// Shortest grace a member may set.
    pub min_grace: u64,
    /// Longest grace a member may set.
    pub max_grace: u64,
    /// After an outage, deadlines that fell inside it move to start-up + this.
    pub outage_grace: u64,
    /// Delay before a weakening change applies.
    pub cooling_off: u64,
    /// Escalation delay when a policy gives none.
    pub escalation_delay: u64,
    /// Who may register.
    pub registration: Registration,
    /// Largest request body, bytes.
    pub body_limit: usize,
    /// Accepted distance between a client's clock and ours.
    pub clock_window: u64,
    /// Requests per minute from one IP address (0 = unlimited).
    pub rate_limit_ip: u32,
    /// Requests per minute for one account or mailbox (0 = unlimited).
    pub rate_limit_account: u32,
    /// Notification retries stop this long after the first attempt.
    pub delivery_horizon: u64,
    /// First retry delay of a failed notification; doubles each time.
    pub delivery_backoff: u64,
    /// Longest delay between two retries.
    pub delivery_backoff_max: u64,
    /// An alert nobody has acknowledged is notified again on every channel
    /// this often, until the delivery horizon (0 = never).
    pub renotify_interval: u64,
    /// Shortest "before" offset of a member's reminders.
    pub min_reminder: u64,
    /// A drill's window, from its dispatch: the member's drill view counts
    /// only contacts' fetches, acknowledgements and notifications within
    /// it, and no new drill is accepted while it is open.
    pub drill_window: u64,
    /// SMTP relay URL for e-mail notifications (`smtp://host:port`, `smtps://…`).
    pub smtp_url: Option<String>,
    /// From address of notification e-mails.
    pub smtp_from: String,
    /// Allow webhook/ntfy targets on loopback and private networks.
    pub allow_private_targets: bool,
    /// PEM certificate chain for built-in TLS (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for built-in TLS.
    pub tls_key: Option<PathBuf>,
    /// An acknowledged alert leaves a contact's server-side mailbox this
    /// long after it last changed (`aman alerts` keeps its own copy of each
    /// member's 50 most recent alerts in the contact's keystore).
    pub mailbox_retention: u64,
    /// Any mailbox entry or notice leaves after this long unchanged.
    pub mailbox_max_age: u64,
    /// Most alerts one mailbox holds; the oldest (acknowledged first) make room.
    pub mailbox_max_entries: usize,
    /// Most account-level notices one mailbox holds.
    pub mailbox_max_notices: usize,
    /// Most long-polls held at once on the whole server (503 beyond).
    pub max_waiters: usize,
    /// Most long-polls held at once across one member's contacts (429 beyond).
    pub max_waiters_per_account: usize,
    /// Most long-polls held at once on one mailbox (429 beyond).
    pub max_waiters_per_mailbox: usize,
    /// Most contact mailboxes one member may create by pairing.
    pub max_mailboxes: usize,
    /// Most pairing slots one member may have open (unanswered) at once.
    pub max_open_pairings: usize,
    /// Reverse proxies whose `X-Forwarded-For` is believed (Caddy or nginx
    /// on the same machine: `127.0.0.1, ::1`). Empty: the connection's peer
    /// is the client.
    pub trusted_proxies: TrustedProxies,
    /// Connections open at once (lowered to what the open-file limit allows).
    pub max_connections: usize,
    /// Connections open at once from one address (an IPv6 /64 counts as
    /// one; a trusted proxy or a loopback peer counts against the total only).
    pub max_connections_per_address: usize,
    /// A request's headers must arrive within this long; an idle
    /// connection is closed after it.
    pub header_timeout: u64,
    /// A request's body must arrive within this long.
    pub body_timeout: u64,
    /// A whole request, answer included (above the 60 s long-poll).
    pub request_timeout: u64,
    /// A TLS handshake.
    pub tls_handshake_timeout: u64,
    /// How long requests in flight may finish after shutdown begins.
    pub drain_timeout: u64,
    /// Ports a webhook or ntfy target on a public address may use (any
    /// port for private targets, where the organizer allows those).
    pub target_ports: Vec<u16>,
}

// Redacts the SMTP URL, which may carry a password.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("server_key_file", &self.server_key_file)
            .field("metrics_listen", &self.metrics_listen)
            .field("dispatch_delay", &self.dispatch_delay)
            .field("min_interval", &self.min_interval)
            .field("max_interval", &self.max_interval)
            .field("min_grace", &self.min_grace)
            .field("max_grace", &self.max_grace)
            .field("outage_grace", &self.outage_grace)
            .field("cooling_off", &self.cooling_off)
            .field("registration", &self.registration)
            .field("body_limit", &self.body_limit)
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "<redacted>"))
            .field("smtp_from", &self.smtp_from)
            .field("allow_private_targets", &self.allow_private_targets)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8700)),
            data_dir: PathBuf::from("aman-data"),
            server_key_file: None,
            metrics_listen: None,
            dispatch_delay: 20,
            min_interval: 60,
            max_interval: 30 * 86_400,
            min_grace: 60,
            max_grace: 7 * 86_400,
            outage_grace: 30 * 60,
            cooling_off: 86_400,
            escalation_delay: 15 * 60,
            registration: Registration::Invite,
            body_limit: 64 * 1024,
            clock_window: 300,
            rate_limit_ip: 600,
            rate_limit_account: 120,
            delivery_horizon: 48 * 3600,
            delivery_backoff: 5,
            delivery_backoff_max: 3600,
            renotify_interval: 15 * 60,
            min_reminder: 60,
            drill_window: 86_400,
            smtp_url: None,
            smtp_from: "aman@localhost".into(),
            allow_private_targets: false,
            tls_cert: None,
            tls_key: None,
            mailbox_retention: 30 * 86_400,
            mailbox_max_age: 180 * 86_400,
            mailbox_max_entries: 1000,
            mailbox_max_notices: 256,
            max_waiters: 4096,
            max_waiters_per_account: 128,
            max_waiters_per_mailbox: 8,
            max_mailboxes: 32,
            max_open_pairings: 8,
            trusted_proxies: TrustedProxies::default(),
            max_connections: 4096,
            max_connections_per_address: 64,
            header_timeout: 10,
            body_timeout: 20,
            request_timeout: 90,
            tls_handshake_timeout: 10,
            drain_timeout: 10,
            target_ports: vec![80, 443],
        }
    }
}

/// The longest a mailbox long-poll waits, in seconds: a whole request may
/// take longer.
pub const LONGEST_POLL: u64 = 60;

/// Every key the configuration accepts.
pub const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "server_key_file",
    "metrics_listen",
    "dispatch_delay",
    "min_interval",
    "max_interval",
    "min_grace",
    "max_grace",
    "outage_grace",
    "cooling_off",
    "escalation_delay",
    "registration",
    "body_limit",
    "clock_window",
    "rate_limit_ip",
    "rate_limit_account",
    "delivery_horizon",
    "delivery_backoff",
    "delivery_backoff_max",
    "renotify_interval",
    "min_reminder",
    "drill_window",
    "smtp_url",
    "smtp_from",
    "allow_private_targets",
    "tls_cert",
    "tls_key",
    "mailbox_retention",
    "mailbox_max_age",
    "mailbox_max_entries",
    "mailbox_max_notices",
    "max_waiters",
    "max_waiters_per_account",
    "max_waiters_per_mailbox",
    "max_mailboxes",
    "max_open_pairings",
    "trusted_proxies",
    "max_connections",
    "max_connections_per_address",
    "header_timeout",
    "body_timeout",
    "request_timeout",
    "tls_handshake_timeout",
    "drain_timeout",
    "target_ports",
];

impl Config {
    /// Loads the layers in order: defaults, `file`, `env` (`AMAN_<KEY>`), `flags`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &[(&str, String)],
    ) -> Result<Config, ConfigError> {
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        if let Some(path) = file {
            let text =
                std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
            let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Parse {
                path: path.to_owned(),
                message: e.message().to_owned(),
            })?;
            for (k, v) in table {
                if !KEYS.contains(&k.as_str()) {
                    return Err(ConfigError::UnknownKey(k));
                }
                let text = match v {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                };
                values.insert(k, text);
            }
        }
        for (k, v) in env {
            if k == "CREDENTIALS_DIRECTORY" && !v.is_empty() {
                // systemd's LoadCredential=server.key:/path puts the key here,
                // off the data disk; an explicit setting still wins.
                values.entry("server_key_file".into()).or_insert_with(|| format!("{v}/server.key"));
            }
            if let Some(key) = k.strip_prefix("AMAN_") {
                let key = key.to_ascii_lowercase();
                if KEYS.contains(&key.as_str()) {
                    values.insert(key, v);
                }
            }
        }
        for (k, v) in flags {
            values.insert((*k).to_owned(), v.clone());
        }
        let mut config = Config::default();
        for (k, v) in &values {
            config.set(k, v)?;
        }
        if config.tls_cert.is_some() != config.tls_key.is_some() {
            return Err(ConfigError::Invalid {
                key: "tls_cert/tls_key".into(),
                message: "give both or neither".into(),
            });
        }
        if config.request_timeout <= LONGEST_POLL {
            return Err(ConfigError::Invalid {
                key: "request_timeout".into(),
                message: format!("must be above the longest long-poll ({LONGEST_POLL}s)"),
            });
        }
        if config.min_interval > config.max_interval || config.min_grace > config.max_grace {
            return Err(ConfigError::Invalid {
                key: "min_interval/min_grace".into(),
                message: "minimum above maximum".into(),
            });
        }
        Ok(config)
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { key: key.to_owned(), message };
        let duration = || parse_duration(value).map_err(|e| invalid(e.to_string()));
        let number = || value.trim().parse::<u64>().map_err(|e| invalid(e.to_string()));
        let count = || value.trim().parse::<usize>().map_err(|e| invalid(e.to_string()));
        let flag = || match value.trim() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            other => Err(invalid(format!("`{other}` is not true or false"))),
        };
        match key {
            "listen" => self.listen = value.trim().parse().map_err(|e| invalid(format!("{e}")))?,
            "data_dir" => self.data_dir = PathBuf::from(value),
            "server_key_file" => self.server_key_file = Some(PathBuf::from(value)),
            "metrics_listen" => {
                self.metrics_listen = match value.trim() {
                    "" | "off" => None,
                    addr => Some(addr.parse().map_err(|e| invalid(format!("{e}")))?),
                }
            }
            "dispatch_delay" => self.dispatch_delay = duration()?,
            "min_interval" => self.min_interval = duration()?,
            "max_interval" => self.max_interval = duration()?,
            "min_grace" => self.min_grace = duration()?,
            "max_grace" => self.max_grace = duration()?,
            "outage_grace" => self.outage_grace = duration()?,
            "cooling_off" => self.cooling_off = duration()?,
            "escalation_delay" => self.escalation_delay = duration()?,
            "delivery_horizon" => self.delivery_horizon = duration()?,
            "delivery_backoff" => self.delivery_backoff = duration()?.max(1),
            "delivery_backoff_max" => self.delivery_backoff_max = duration()?.max(1),
            "renotify_interval" => self.renotify_interval = duration()?,
            "min_reminder" => self.min_reminder = duration()?.max(1),
            "drill_window" => self.drill_window = duration()?.max(1),
            "clock_window" => self.clock_window = duration()?,
            "registration" => {
                self.registration = match value.trim() {
                    "invite" => Registration::Invite,
                    "open" => Registration::Open,
                    other => return Err(invalid(format!("`{other}` is not `invite` or `open`"))),
                }
            }
            "body_limit" => self.body_limit = usize::try_from(number()?).map_err(|e| invalid(e.to_string()))?,
            "rate_limit_ip" => self.rate_limit_ip = u32::try_from(number()?).map_err(|e| invalid(e.to_string()))?,
            "rate_limit_account" => {
                self.rate_limit_account = u32::try_from(number()?).map_err(|e| invalid(e.to_string()))?
            }
            "smtp_url" => self.smtp_url = Some(value.trim().to_owned()).filter(|s| !s.is_empty()),
            "smtp_from" => self.smtp_from = value.trim().to_owned(),
            "allow_private_targets" => self.allow_private_targets = flag()?,
            "tls_cert" => self.tls_cert = Some(PathBuf::from(value.trim())),
            "tls_key" => self.tls_key = Some(PathBuf::from(value.trim())),
            "mailbox_retention" => self.mailbox_retention = duration()?,
            "mailbox_max_age" => self.mailbox_max_age = duration()?,
            "mailbox_max_entries" => self.mailbox_max_entries = count()?.max(1),
            "mailbox_max_notices" => self.mailbox_max_notices = count()?.max(1),
            "max_waiters" => self.max_waiters = count()?,
            "max_waiters_per_account" => self.max_waiters_per_account = count()?,
            "max_waiters_per_mailbox" => self.max_waiters_per_mailbox = count()?,
            "max_mailboxes" => self.max_mailboxes = count()?,
            "max_open_pairings" => self.max_open_pairings = count()?,
            "trusted_proxies" => {
                self.trusted_proxies = TrustedProxies::parse(value).map_err(|e| invalid(e.to_string()))?
            }
            "max_connections" => self.max_connections = count()?.max(1),
            "max_connections_per_address" => self.max_connections_per_address = count()?.max(1),
            "header_timeout" => self.header_timeout = duration()?.max(1),
            "body_timeout" => self.body_timeout = duration()?.max(1),
            "request_timeout" => self.request_timeout = duration()?,
            "tls_handshake_timeout" => self.tls_handshake_timeout = duration()?.max(1),
            "drain_timeout" => self.drain_timeout = duration()?,
            "target_ports" => {
                self.target_ports = value
                    .split(|c: char| c == ',' || c.is_whitespace() || c == '[' || c == ']')
                    .filter(|p| !p.is_empty())
                    .map(|p| p.parse::<u16>().map_err(|e| invalid(format!("`{p}`: {e}"))))
                    .collect::<Result<_, _>>()?
            }
            other => return Err(ConfigError::UnknownKey(other.to_owned())),
        }
        Ok(())
    }

    /// Where the at-rest key lives. By default beside the data directory,
    /// not in it, so a copy of the data directory does not carry its key. A
    /// key left inside by an older version is still used until it is moved.
    pub fn key_file(&self) -> PathBuf {
        if let Some(file) = &self.server_key_file {
            return file.clone();
        }
        let legacy = self.data_dir.join("server.key");
        let beside = match self.data_dir.file_name() {
            Some(name) => {
                let mut name = name.to_os_string();
                name.push(".key");
                self.data_dir.with_file_name(name)
            }
            None => return legacy,
        };
        if !beside.exists() && legacy.exists() {
            legacy
        } else {
            beside
        }
    }

    /// Every setting as the server runs with it, in [`KEYS`] order, for
    /// `aman-server config`: durations as they are written in the file,
    /// the key file's path resolved (never its contents), and the password
    /// in `smtp_url` redacted. Loading the TOML form gives the same settings
    /// back (a redacted password aside).
    pub fn shown(&self) -> Vec<(&'static str, Shown)> {
        let d = |secs: u64| Shown::Text(format_duration(secs));
        let n = |v: usize| Shown::Number(v as u64);
        let path = |p: &Option<PathBuf>| p.as_ref().map_or(Shown::Unset, |p| Shown::Text(p.display().to_string()));
        let shown = |key: &str| match key {
            "listen" => Shown::Text(self.listen.to_string()),
            "data_dir" => Shown::Text(self.data_dir.display().to_string()),
            "server_key_file" => Shown::Text(self.key_file().display().to_string()),
            "metrics_listen" => Shown::Text(self.metrics_listen.map_or("off".to_owned(), |a| a.to_string())),
            "dispatch_delay" => d(self.dispatch_delay),
            "min_interval" => d(self.min_interval),
            "max_interval" => d(self.max_interval),
            "min_grace" => d(self.min_grace),
            "max_grace" => d(self.max_grace),
            "outage_grace" => d(self.outage_grace),
            "cooling_off" => d(self.cooling_off),
            "escalation_delay" => d(self.escalation_delay),
            "registration" => Shown::Text(
                match self.registration {
                    Registration::Invite => "invite",
                    Registration::Open => "open",
                }
                .to_owned(),
            ),
            "body_limit" => n(self.body_limit),
            "clock_window" => d(self.clock_window),
            "rate_limit_ip" => Shown::Number(u64::from(self.rate_limit_ip)),
            "rate_limit_account" => Shown::Number(u64::from(self.rate_limit_account)),
            "delivery_horizon" => d(self.delivery_horizon),
            "delivery_backoff" => d(self.delivery_backoff),
            "delivery_backoff_max" => d(self.delivery_backoff_max),
            "renotify_interval" => d(self.renotify_interval),
            "min_reminder" => d(self.min_reminder),
            "drill_window" => d(self.drill_window),
            "smtp_url" => self.smtp_url.as_deref().map_or(Shown::Unset, |u| Shown::Text(redact_url(u))),
            "smtp_from" => Shown::Text(self.smtp_from.clone()),
            "allow_private_targets" => Shown::Flag(self.allow_private_targets),
            "tls_cert" => path(&self.tls_cert),
            "tls_key" => path(&self.tls_key),
            "mailbox_retention" => d(self.mailbox_retention),
            "mailbox_max_age" => d(self.mailbox_max_age),
            "mailbox_max_entries" => n(self.mailbox_max_entries),
            "mailbox_max_notices" => n(self.mailbox_max_notices),
            "max_waiters" => n(self.max_waiters),
            "max_waiters_per_account" => n(self.max_waiters_per_account),
            "max_waiters_per_mailbox" => n(self.max_waiters_per_mailbox),
            "max_mailboxes" => n(self.max_mailboxes),
            "max_open_pairings" => n(self.max_open_pairings),
            "trusted_proxies" => Shown::Texts(self.trusted_proxies.ranges().iter().map(ToString::to_string).collect()),
            "max_connections" => n(self.max_connections),
            "max_connections_per_address" => n(self.max_connections_per_address),
            "header_timeout" => d(self.header_timeout),
            "body_timeout" => d(self.body_timeout),
            "request_timeout" => d(self.request_timeout),
            "tls_handshake_timeout" => d(self.tls_handshake_timeout),
            "drain_timeout" => d(self.drain_timeout),
            "target_ports" => Shown::Numbers(self.target_ports.iter().map(|p| u64::from(*p)).collect()),
            _ => Shown::Unset,
        };
        KEYS.iter().map(|key| (*key, shown(key))).collect()
    }

    /// Where sled keeps its files.
    pub fn db_dir(&self) -> PathBuf {
        self.data_dir.join("db")
    }

    /// The admin socket.
    pub fn admin_socket(&self) -> PathBuf {
        self.data_dir.join("admin.sock")
    }
}

/// A setting's value as `aman-server config` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// A string (addresses, paths, durations like `20s`).
    Text(String),
    /// A whole number.
    Number(u64),
    /// true or false.
    Flag(bool),
    /// A list of numbers (`target_ports`).
    Numbers(Vec<u64>),
    /// A list of strings (`trusted_proxies`).
    Texts(Vec<String>),
    /// Not set (TOML has no null: a comment line).
    Unset,
}

impl Shown {
    /// The `key = value` line, as TOML (a comment for a value not set).
    pub fn toml_line(&self, key: &str) -> String {
        let text = |s: &str| toml::Value::String(s.to_owned()).to_string();
        let value = match self {
            Shown::Text(s) => text(s),
            Shown::Number(n) => n.to_string(),
            Shown::Flag(b) => b.to_string(),
            Shown::Numbers(v) => format!("[{}]", v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")),
            Shown::Texts(v) => format!("[{}]", v.iter().map(|s| text(s)).collect::<Vec<_>>().join(", ")),
            Shown::Unset => return format!("# {key} is not set"),
        };
        format!("{key} = {value}")
    }

    /// The value in JSON (`null` for a value not set).
    pub fn json(&self) -> serde_json::Value {
        match self {
            Shown::Text(s) => s.as_str().into(),
            Shown::Number(n) => (*n).into(),
            Shown::Flag(b) => (*b).into(),
            Shown::Numbers(v) => v.clone().into(),
            Shown::Texts(v) => v.clone().into(),
            Shown::Unset => serde_json::Value::Null,
        }
    }
}

/// A URL with any password in it replaced by `<redacted>`
/// (`smtps://user:<redacted>@host:465`). A URL this cannot take apart into
/// scheme, credentials and `host[:port]` is redacted whole.
pub fn redact_url(url: &str) -> String {
    const REDACTED: &str = "<redacted>";
    let Some((scheme, rest)) = url.split_once("://") else { return REDACTED.to_owned() };
    let (credentials, host) = match rest.rsplit_once('@') {
        Some((c, h)) => (Some(c), h),
        None => (None, rest),
    };
    let plain_host = |h: &str| h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    let scheme_ok = scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok || !plain_host(host.trim_end_matches('/')) {
        return REDACTED.to_owned();
    }
    match credentials {
        None => url.to_owned(),
        Some(c) => match c.split_once(':') {
            Some((user, _)) if !user.contains('/') => format!("{scheme}://{user}:{REDACTED}@{host}"),
            _ => format!("{scheme}://{REDACTED}@{host}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order() {
        let dir = std::env::temp_dir().join(format!("aman-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("aman.toml");
        std::fs::write(&file, "min_interval = \"5m\"\ncooling_off = \"2d\"\nbody_limit = 1000\n").unwrap();
        let env =
            vec![("AMAN_COOLING_OFF".to_owned(), "1h".to_owned()), ("AMAN_HOME".to_owned(), "/ignored".to_owned())];
        let c = Config::load(Some(&file), env, &[("listen", "127.0.0.1:0".into())]).unwrap();
        assert_eq!(c.min_interval, 300);
        assert_eq!(c.cooling_off, 3600);
        assert_eq!(c.body_limit, 1000);
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.min_grace, 60);

        std::fs::write(&file, "min_intervall = \"5m\"\n").unwrap();
        assert!(matches!(Config::load(Some(&file), vec![], &[]), Err(ConfigError::UnknownKey(_))));
        std::fs::write(&file, "min_interval = \"5 parsecs\"\n").unwrap();
        assert!(matches!(Config::load(Some(&file), vec![], &[]), Err(ConfigError::Invalid { .. })));
    }

    #[test]
    fn the_documented_example_file_loads() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("aman.example.toml");
        let c = Config::load(Some(&path), vec![], &[]).unwrap();
        assert_eq!(c.cooling_off, Config::default().cooling_off);
        assert_eq!(c.listen, Config::default().listen);
        assert_eq!(c.clock_window, 300);
        assert_eq!(c.dispatch_delay, Config::default().dispatch_delay);
        assert_eq!(c.metrics_listen, None);
    }

    #[test]
    fn the_key_file_is_outside_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("aman-data");
        let c = Config { data_dir: data.clone(), ..Config::default() };
        assert_eq!(c.key_file(), dir.path().join("aman-data.key"));
        // A key an older server left inside is still found.
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("server.key"), [7u8; 32]).unwrap();
        assert_eq!(c.key_file(), data.join("server.key"));
        // systemd credentials, unless a key file is set.
        let env = vec![("CREDENTIALS_DIRECTORY".to_owned(), "/run/credentials/aman".to_owned())];
        let c = Config::load(None, env.clone(), &[]).unwrap();
        assert_eq!(c.key_file(), std::path::PathBuf::from("/run/credentials/aman/server.key"));
        let c = Config::load(None, env, &[("server_key_file", "/k".into())]).unwrap();
        assert_eq!(c.key_file(), std::path::PathBuf::from("/k"));
    }

    #[test]
    fn the_shown_settings_load_back_as_the_same_settings() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("aman.toml");
        let mut c = Config {
            metrics_listen: Some("127.0.0.1:9700".parse().unwrap()),
            trusted_proxies: TrustedProxies::parse("127.0.0.1, ::1, 10.0.0.0/8").unwrap(),
            tls_cert: Some("/etc/aman/cert.pem".into()),
            tls_key: Some("/etc/aman/key \"quoted\".pem".into()),
            smtp_url: Some("smtp://127.0.0.1:25".into()),
            target_ports: vec![443, 8443],
            cooling_off: 90_061,
            ..Config::default()
        };
        c.data_dir = dir.path().join("data");
        let shown = c.shown();
        assert_eq!(shown.iter().map(|(k, _)| *k).collect::<Vec<_>>(), KEYS, "every key, in order");
        assert!(shown.iter().all(|(_, v)| *v != Shown::Unset));
        let text: String = shown.iter().map(|(k, v)| v.toml_line(k) + "\n").collect();
        std::fs::write(&file, &text).unwrap();
        let back = Config::load(Some(&file), vec![], &[]).unwrap();
        assert_eq!(back.shown(), shown, "{text}");
        // Nothing set: a comment, and the defaults load back.
        let text: String = Config::default().shown().iter().map(|(k, v)| v.toml_line(k) + "\n").collect();
        assert!(text.contains("# tls_cert is not set\n") && text.contains("metrics_listen = \"off\"\n"), "{text}");
        std::fs::write(&file, &text).unwrap();
        assert_eq!(Config::load(Some(&file), vec![], &[]).unwrap().shown(), Config::default().shown());
    }

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(redact_url("smtps://user:hunter2@mail.example:465"), "smtps://user:<redacted>@mail.example:465");
        assert_eq!(redact_url("smtp://127.0.0.1:25"), "smtp://127.0.0.1:25");
        assert_eq!(redact_url("smtps://token@mail.example"), "smtps://<redacted>@mail.example");
        assert_eq!(redact_url("smtps://a:b@c@mail.example"), "smtps://a:<redacted>@mail.example");
        assert_eq!(redact_url("smtps://mail.example/?password=hunter2"), "<redacted>");
        assert_eq!(redact_url("user:hunter2@mail.example"), "<redacted>");
    }

    #[test]
    fn a_bad_duration_says_how_to_write_one() {
        let env = vec![("AMAN_HEADER_TIMEOUT".to_owned(), "7x".to_owned())];
        let e = Config::load(None, env, &[]).unwrap_err().to_string();
        assert_eq!(e, "invalid value for `header_timeout`: `7x` is not a duration: write it like 30s, 10m, 6h or 7d");
    }

    #[test]
    fn debug_redacts_smtp_url() {
        let c = Config { smtp_url: Some("smtps://user:hunter2@mail.example:465".into()), ..Config::default() };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
