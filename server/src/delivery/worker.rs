//! The delivery worker: drains the durable outbox.

use crate::engine::Engine;
use std::sync::Arc;
use tokio::sync::watch;

/// Runs until `stop` changes.
pub async fn run(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = engine.delivery_wake.notified() => {}
            _ = stop.changed() => return,
        }
    }
}
