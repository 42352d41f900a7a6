//! Notification delivery (webhook, ntfy, e-mail) from the durable outbox.
//! Notifications never carry content: only that something (an alert, or a
//! notice about someone the contact protects) is waiting, in the same words
//! for both.

pub mod email;
pub mod http;
pub mod remind;
pub mod target;
pub mod worker;
