//! Notification delivery (webhook, ntfy, e-mail) from the durable outbox.

pub mod target;
pub mod worker;
