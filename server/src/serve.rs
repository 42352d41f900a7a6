//! Start-up and shutdown: open the store, apply the outage rule, bind the
//! listener first (so port 0 works), start the scheduler, heartbeat,
//! delivery worker and admin socket, and serve until told to stop.

use crate::admin;
use crate::api::{app, metrics_app, AppState};
use crate::clock::Clock;
use crate::config::Config;
use crate::delivery::target::{Resolve, SystemResolver};
use crate::engine::{lock, Engine};
use crate::keyfile;
use crate::net::{self, Caps, Connections, Timeouts, TrustedProxies};
use crate::store::{Op, SledStore, Store, StoreError};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Why the server could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A file or socket problem.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The database could not be opened (is another server using it?).
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// The outage rule failed.
    #[error("start-up recovery: {0}")]
    Recovery(String),
    /// The TLS certificate or key could not be used.
    #[error("tls: {0}")]
    Tls(String),
    /// The server key file is missing or does not belong to this database.
    #[error("server key: {0}")]
    Key(String),
    /// A newer server wrote the database (or its format value is not one
    /// any server writes: 0).
    #[error("the database has format {found}, and this server reads up to {reads}: run the newer server, or restore a backup taken before the upgrade")]
    NewerFormat {
        /// The database's.
        found: u8,
        /// This build's.
        reads: u8,
    },
}

impl ServeError {
    /// Whether starting again cannot help until the organizer acts (a
    /// missing or wrong key, a database from a newer server): the binary
    /// exits 2 for these, as for a configuration it refuses, so a service
    /// manager stops restarting it.
    pub fn needs_the_organizer(&self) -> bool {
        matches!(self, ServeError::Key(_) | ServeError::NewerFormat { .. })
    }
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServeError {
    let context = context.into();
    move |source| ServeError::Io { context, source }
}

/// Name of the server key's check value in the store's metadata.
pub const KEY_CHECK: &str = "key_check";
/// The label of the key check's tag.
pub const KEY_CHECK_LABEL: &str = "aman/v1/key-check";

/// Loads the server key (creating it for a new database) and checks it
/// against the database. A missing or different key would silently make
/// every duress check-in a normal one and every sealed value unreadable: the
/// server refuses to start instead.
pub fn checked_key(config: &Config, store: &dyn Store) -> Result<aman_protocol::at_rest::ServerKey, ServeError> {
    let path = config.key_file();
    let recorded = store.meta(KEY_CHECK)?;
    if recorded.is_some() && !path.exists() {
        return Err(ServeError::Key(format!(
            "{} is missing, and this database was written with a server key: restore that key file, or name \
             it with server_key_file (under systemd the key is handed to the service as a credential: \
             run admin commands while the service runs, or see docs/operating.md)",
            path.display()
        )));
    }
    let key = keyfile::load_or_create(&path).map_err(io(format!("server key {}", path.display())))?;
    let check = key.tag(KEY_CHECK_LABEL, &[]).to_vec();
    match recorded {
        Some(stored) if stored != check => Err(ServeError::Key(format!(
            "{} is not the key this database was written with: restore the right key file",
            path.display()
        ))),
        Some(_) => Ok(key),
        None => {
            store.apply(vec![Op::PutMeta(KEY_CHECK, check)])?;
            Ok(key)
        }
    }
}

/// How often mailboxes are swept of what they no longer need to hold.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// How often the heartbeat is written.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

/// The least time between two scheduler ticks. With a short dispatch delay
/// every check-in's signal falls due at once, and a tick per check-in (a
/// blocking task, a batch of one) would cost more than the check-in itself;
/// ticks at most this often read what fell due meanwhile in one batch.
/// Deadlines are whole seconds, so no alert waits longer than this for it.
pub const MIN_TICK_GAP: Duration = Duration::from_millis(20);

/// A server that is running.
#[derive(Debug)]
pub struct RunningServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where `/metrics` is served, if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    /// Its core, for tests and tools.
    pub engine: Arc<Engine>,
    store: Arc<SledStore>,
    stop: watch::Sender<bool>,
    http: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
}

/// Starts a server with the system's resolver.
pub async fn start(config: Config, clock: Arc<dyn Clock>) -> Result<RunningServer, ServeError> {
    start_with_resolver(config, clock, Arc::new(SystemResolver)).await
}

/// Starts a server that resolves notification targets with `resolver`.
pub async fn start_with_resolver(
    config: Config,
    clock: Arc<dyn Clock>,
    resolver: Arc<dyn Resolve>,
) -> Result<RunningServer, ServeError> {
    std::fs::create_dir_all(&config.data_dir).map_err(io(format!("creating {}", config.data_dir.display())))?;
    std::fs::set_permissions(&config.data_dir, std::fs::Permissions::from_mode(0o700))
        .map_err(io("securing the data directory"))?;
    let opening = std::time::Instant::now();
    let store = Arc::new(SledStore::open(&config.db_dir())?);
    store.on_flush_failure(|error| {
        // sled fails every write from now until it is reopened: stop, so the
        // service manager starts a server that can write again.
        tracing::error!(%error, "the database cannot write (disk full?); exiting so a restart reopens it");
        std::process::exit(1);
    });
    tracing::info!(opened_ms = opening.elapsed().as_millis(), "store opened");
    // A newer (or unreadable) format is refused before anything is written,
    // the key check among it.
    let found = crate::engine::stored_format(store.as_ref())?;
    if found == 0 || found > crate::engine::FORMAT {
        return Err(ServeError::NewerFormat { found, reads: crate::engine::FORMAT });
    }
    let key = checked_key(&config, store.as_ref())?;
    let config = Arc::new(config);
    let engine = Engine::new_deferred(store.clone(), clock.clone(), config.clone(), key);
    let migrating = engine.clone();
    tokio::task::spawn_blocking(move || migrating.migrate())
        .await
        .map_err(|e| ServeError::Recovery(e.to_string()))?
        .map_err(|e| ServeError::Recovery(e.to_string()))?;
    let recovering = engine.clone();
    let now = clock.now();
    tokio::task::spawn_blocking(move || recovering.recover_from_outage(now))
        .await
        .map_err(|e| ServeError::Recovery(e.to_string()))?
        .map_err(|e| ServeError::Recovery(e.to_string()))?;
    // The schedule mirror loads while the server already answers; the
    // scheduler's first tick waits for it.
    let loading = engine.clone();
    tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        match loading.load_schedule() {
            Ok(armed) => tracing::info!(armed, loaded_ms = started.elapsed().as_millis(), "schedule loaded"),
            Err(e) => {
                // Without the schedule no alert can fire: stop rather than pretend.
                tracing::error!(error = %e, "loading the schedule failed; exiting");
                std::process::exit(1);
            }
        }
    });

    let listener = TcpListener::bind(config.listen).await.map_err(io(format!("binding {}", config.listen)))?;
    let addr = listener.local_addr().map_err(io("reading the bound address"))?;

    let socket_path = config.admin_socket();
    let _ = std::fs::remove_file(&socket_path);
    let admin_listener = UnixListener::bind(&socket_path).map_err(io("binding the admin socket"))?;
    std::fs::set_permissions(&socket_path, std::fs::Permissions::from_mode(0o600))
        .map_err(io("securing the admin socket"))?;

    let metrics_listener = match config.metrics_listen {
        Some(at) => Some(TcpListener::bind(at).await.map_err(io(format!("binding the metrics listener {at}")))?),
        None => None,
    };

    let (stop, _) = watch::channel(false);
    let mut background = vec![
        tokio::spawn(run_scheduler(engine.clone(), stop.subscribe())),
        tokio::spawn(run_heartbeat(engine.clone(), stop.subscribe())),
        tokio::spawn(run_sweeper(engine.clone(), stop.subscribe())),
        tokio::spawn(crate::delivery::worker::run(engine.clone(), resolver.clone(), stop.subscribe())),
        tokio::spawn(admin::serve_socket(
            admin_listener,
            admin::AdminContext {
                store: store.clone() as Arc<dyn Store>,
                clock,
                server: engine.server_id(),
                armed: {
                    let engine = engine.clone();
                    Arc::new(move || Ok(engine.armed_deadlines()))
                },
                backup: {
                    let (engine, store) = (engine.clone(), store.clone());
                    Arc::new(move |out| {
                        let format = engine.stored_format()?;
                        crate::backup::write(store.as_ref(), engine.server_key(), format, engine.clock.now(), out)
                    })
                },
                spool_dir: config.data_dir.clone(),
                sending: Arc::new(tokio::sync::Semaphore::new(1)),
            },
        )),
    ];
    // The connection cap fits under the open-file limit, so a flood meets
    // the cap (which sheds idle connections) before `accept` fails.
    let caps = Caps {
        total: net::connections_that_fit(config.max_connections),
        per_group: config.max_connections_per_address,
    };
    let mut state = AppState::with_caps(engine.clone(), caps);
    state.resolver = resolver;
    let timeouts = Timeouts {
        handshake: Duration::from_secs(config.tls_handshake_timeout),
        headers: Duration::from_secs(config.header_timeout),
        request: Duration::from_secs(config.request_timeout),
        drain: Duration::from_secs(config.drain_timeout),
    };
    let metrics_addr = match metrics_listener {
        Some(listener) => {
            let addr = listener.local_addr().map_err(io("reading the metrics address"))?;
            // Its own small pool: a scraper never competes with members.
            let pool = Connections::new(Caps { total: 16, per_group: 16 }, TrustedProxies::default());
            let router = metrics_app(state.clone());
            background.push(tokio::spawn(net::serve(listener, None, router, pool, timeouts, stop.subscribe())));
            tracing::info!(%addr, "metrics listening");
            Some(addr)
        }
        None => None,
    };
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::acceptor(cert, key).map_err(ServeError::Tls)?),
        _ => None,
    };
    let connections = state.connections.clone();
    let http = tokio::spawn(net::serve(listener, tls, app(state), connections, timeouts, stop.subscribe()));
    tracing::info!(%addr, "aman-server listening");
    Ok(RunningServer { addr, metrics_addr, engine, store, stop, http, background })
}

impl RunningServer {
    /// Stops accepting requests, lets in-flight ones finish, writes a last
    /// heartbeat and flushes.
    pub async fn shutdown(self) -> Result<(), StoreError> {
        let _ = self.stop.send(true);
        let _ = self.http.await;
        for task in self.background {
            task.abort();
        }
        let _ = std::fs::remove_file(self.engine.config.admin_socket());
        self.engine.heartbeat(self.engine.clock.now()).map_err(|e| StoreError::Backend(e.to_string()))?;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.flush()).await.map_err(|e| StoreError::Backend(e.to_string()))?
    }
}

/// Sleeps until the next thing is due (or something earlier is armed), then ticks.
async fn run_scheduler(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    while !engine.schedule_ready() {
        tokio::select! {
            _ = engine.scheduler_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = stop.changed() => return,
        }
    }
    let mut last_tick: Option<tokio::time::Instant> = None;
    loop {
        let now_ms = engine.clock.now_ms();
        let next = lock(&engine.schedule).next_wake();
        let wait_ms = next.map_or(60_000, |at| at.saturating_mul(1000).saturating_sub(now_ms)).min(60_000);
        if wait_ms > 0 {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait_ms)) => {}
                _ = engine.scheduler_wake.notified() => continue,
                _ = stop.changed() => return,
            }
        }
        // Whatever woke it, the same least gap since the last tick: what
        // fell due meanwhile is read in the next tick's batch.
        if let Some(earliest) = last_tick.map(|t| t + MIN_TICK_GAP) {
            tokio::select! {
                _ = tokio::time::sleep_until(earliest) => {}
                _ = stop.changed() => return,
            }
        }
        last_tick = Some(tokio::time::Instant::now());
        let ticking = engine.clone();
        let now = engine.clock.now();
        if tokio::task::spawn_blocking(move || ticking.tick(now)).await.is_err() {
            tracing::error!("scheduler tick panicked");
        }
    }
}

/// Applies mailbox retention now and then (the first time a minute after start).
async fn run_sweeper(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(60), SWEEP_EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => {
                let sweeping = engine.clone();
                let now = engine.clock.now();
                match tokio::task::spawn_blocking(move || sweeping.sweep_mailboxes(now)).await {
                    Ok(Ok(report)) => tracing::info!(?report, "mailbox retention applied"),
                    Ok(Err(e)) => tracing::error!(error = %e, "mailbox retention failed"),
                    Err(_) => tracing::error!("mailbox retention panicked"),
                }
            }
            _ = stop.changed() => return,
        }
    }
}

async fn run_heartbeat(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(HEARTBEAT_EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => {
                if let Err(e) = engine.heartbeat(engine.clock.now()) {
                    tracing::error!(error = %e, "heartbeat write failed");
                }
            }
            _ = stop.changed() => return,
        }
    }
}
