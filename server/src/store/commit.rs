//! Group commit.
//!
//! sled 0.34.7 only fsyncs every 500 ms on its own, and its `flush_async` can
//! deadlock under concurrent load (sled issue 1308). Instead, one dedicated
//! flusher thread takes every writer that is waiting, calls `Db::flush()`
//! once for all of them, and wakes them all. A writer enqueues its ticket only
//! after its batch is applied, so the flush that answers it covers its write.
//!
//! Under load, flushes start at most every [`MIN_FLUSH_GAP`]: a flush costs
//! about the same whatever it carries (sled wakes every thread of its I/O
//! pool, writes its log buffer and syncs it), so writers that wait out the
//! gap share one. A writer arriving after a quiet spell is flushed at once.

use super::StoreError;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The least time between the starts of two flushes (see the module's
/// comment). A writer waits at most this much longer for its flush; on a
/// disk whose sync takes longer than this it never waits at all.
pub const MIN_FLUSH_GAP: Duration = Duration::from_millis(1);

type Waiter = oneshot::Sender<Result<(), String>>;

/// Resolves when the flush covering a write has finished. A reply sent
/// before it resolves would acknowledge what a crash can still lose.
#[must_use = "wait for the ticket before acknowledging the write"]
pub struct Ticket {
    flushed: Result<oneshot::Receiver<Result<(), String>>, ()>,
    /// Runs once the write is durable (waking those who should see it).
    then: Option<Box<dyn FnOnce() + Send>>,
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket").field("then", &self.then.is_some()).finish_non_exhaustive()
    }
}

impl Ticket {
    /// The same ticket, running `then` once the write is durable (and
    /// never if the flush fails or the ticket is dropped unwaited): a
    /// long-polling contact must not be woken to see what a crash can
    /// still lose.
    pub fn then(mut self, then: impl FnOnce() + Send + 'static) -> Self {
        let earlier = self.then.take();
        self.then = Some(Box::new(move || {
            if let Some(f) = earlier {
                f();
            }
            then();
        }));
        self
    }

    fn done(then: Option<Box<dyn FnOnce() + Send>>, result: Result<(), StoreError>) -> Result<(), StoreError> {
        if result.is_ok() {
            if let Some(f) = then {
                f();
            }
        }
        result
    }

    /// Waits for the flush, then hands back `reply` as one that may be sent.
    ///
    /// This is the only way to build a [`Confirmed`], and an API handler that
    /// writes returns one: it cannot answer before its ticket has resolved,
    /// because it has nothing to answer with until then (ARCHITECTURE.md,
    /// invariant 7). A ticket dropped unwaited is a `must_use` warning,
    /// denied in CI.
    pub async fn confirmed<T>(self, reply: T) -> Result<Confirmed<T>, StoreError> {
        self.wait().await?;
        Ok(Confirmed(reply))
    }

    /// Waits asynchronously (the delivery worker, tests). API handlers use
    /// [`Ticket::confirmed`] instead.
    pub async fn wait(self) -> Result<(), StoreError> {
        let rx = self.flushed.map_err(|_| StoreError::FlusherGone)?;
        let result = match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Backend(e)),
            Err(_) => Err(StoreError::FlusherGone),
        };
        Self::done(self.then, result)
    }

    /// Waits on the current thread (scheduler, admin and start-up paths).
    /// Works inside or outside a runtime: it parks this thread until the
    /// flusher answers, without needing a reactor.
    pub fn wait_blocking(self) -> Result<(), StoreError> {
        let rx = self.flushed.map_err(|_| StoreError::FlusherGone)?;
        // Unconstrained: inside a runtime task, tokio's cooperative budget
        // would otherwise defer the wake-up of the 128th wait in a row to a
        // yield that a parked thread never makes.
        let result = match park_on(tokio::task::unconstrained(rx)) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Backend(e)),
            Err(_) => Err(StoreError::FlusherGone),
        };
        Self::done(self.then, result)
    }
}

/// A reply whose writes are durable: what an API handler that writes
/// returns. Its field is private to this module, so the only way to get one
/// is [`Ticket::confirmed`], after the flush, and "replying before the write
/// is on disk" is a type error rather than a review comment. (The API makes
/// it a response when `T` is one.)
#[must_use = "a confirmed reply is meant to be sent"]
#[derive(Debug)]
pub struct Confirmed<T>(T);

impl<T> Confirmed<T> {
    /// The reply.
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// Handle to the flusher thread. Dropping every handle stops the thread
/// after it has answered everyone still waiting.
#[derive(Debug, Clone)]
pub struct GroupCommit {
    tx: mpsc::Sender<Waiter>,
    on_failure: Arc<OnFailure>,
}

/// A function run with a flush's error.
type FailureHook = Box<dyn Fn(&str) + Send + Sync>;

/// What runs when a flush fails (after its waiters are told).
#[derive(Default)]
struct OnFailure(std::sync::OnceLock<FailureHook>);

impl std::fmt::Debug for OnFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() { "OnFailure(set)" } else { "OnFailure(unset)" })
    }
}

impl GroupCommit {
    /// Starts the flusher thread for `db`.
    pub fn start(db: sled::Db) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel::<Waiter>();
        let on_failure = Arc::new(OnFailure::default());
        let hook = on_failure.clone();
        thread::Builder::new()
            .name("aman-flusher".into())
            .spawn(move || flusher(db, rx, hook))
            .map_err(|e| StoreError::Backend(format!("spawn flusher: {e}")))?;
        Ok(GroupCommit { tx, on_failure })
    }

    /// Runs `f` with the error whenever a flush fails, after the writers
    /// waiting on it were told (so none of them acknowledges). The server
    /// exits there: sled 0.34 keeps failing every write after an I/O error
    /// until it is reopened, so a server that went on would refuse every
    /// check-in while it still looked alive. Set once.
    pub fn on_failure(&self, f: impl Fn(&str) + Send + Sync + 'static) {
        let _ = self.on_failure.0.set(Box::new(f));
    }

    /// A ticket for everything applied before this call.
    pub fn ticket(&self) -> Ticket {
        let (tx, rx) = oneshot::channel();
        Ticket { flushed: self.tx.send(tx).map(|_| rx).map_err(|_| ()), then: None }
    }
}

/// Drives one future to completion by parking the current thread.
fn park_on<F: std::future::Future>(future: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct Unpark(thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        thread::park();
    }
}

fn flusher(db: sled::Db, rx: mpsc::Receiver<Waiter>, on_failure: Arc<OnFailure>) {
    let mut last_start: Option<Instant> = None;
    while let Ok(first) = rx.recv() {
        if let Some(wait) = last_start.and_then(|at| MIN_FLUSH_GAP.checked_sub(at.elapsed())) {
            thread::sleep(wait);
        }
        last_start = Some(Instant::now());
        let mut waiters = vec![first];
        waiters.extend(rx.try_iter());
        let result = db.flush().map(|_| ()).map_err(|e| e.to_string());
        for w in waiters {
            // A waiter that gave up (its request was cancelled) is fine to skip.
            let _ = w.send(result.clone());
        }
        if let (Err(e), Some(f)) = (&result, on_failure.0.get()) {
            f(e);
        }
    }
}
