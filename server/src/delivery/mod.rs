//! Notification delivery (webhook, ntfy, e-mail) from the durable outbox.
//! Notifications never carry content: only that an alert is waiting.

pub mod email;
pub mod http;
pub mod target;
pub mod worker;
