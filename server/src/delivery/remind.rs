//! Sending a member's reminders: from memory, never through the durable
//! outbox, so no stored record says when a reminder (and so a deadline)
//! fell. A reminder says only that an Aman check-in is due soon: the same
//! words for every member, and no note, location, name, reason or time.
//! A server that stops while one is being sent loses it; the reminders of
//! the deadline still ahead are armed again at start-up.

use super::email::Mailer;
use super::http::{HttpSender, TransportError};
use super::target::{vet_for_send, Resolve};
use crate::engine::{EndpointKind, Engine, ReminderTarget};
use aman_protocol::at_rest::hmac_sha256;
use aman_protocol::random::random_array;
use aman_protocol::AccountId;
use std::sync::Arc;
use std::time::Duration;

/// What a reminder says.
pub const REMINDER_MESSAGE: &str = "An Aman check-in is due soon. Run `aman checkin`.";

/// The subject of a reminder e-mail.
pub const REMINDER_SUBJECT: &str = "An Aman check-in is due soon";

/// Attempts per target, and the pause after each failed one.
const ATTEMPTS: [Duration; 3] = [Duration::from_secs(5), Duration::from_secs(20), Duration::ZERO];

/// Everything a reminder needs to go out.
#[derive(Clone)]
pub struct Reminder {
    /// The engine.
    pub engine: Arc<Engine>,
    /// DNS, vetted per attempt.
    pub resolver: Arc<dyn Resolve>,
    /// Webhook and ntfy.
    pub http: HttpSender,
    /// E-mail, when configured.
    pub mailer: Option<Mailer>,
}

impl Reminder {
    /// Sends one reminder to every target of `account`, each in its own task.
    pub async fn send(self, account: AccountId) {
        let targets = match self.engine.reminder_targets(&account) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "reading reminder targets failed");
                return;
            }
        };
        for target in targets {
            tokio::spawn(self.clone().deliver_to(target));
        }
    }

    async fn deliver_to(self, target: ReminderTarget) {
        let key = match random_array::<16>() {
            Ok(k) => data_encoding::HEXLOWER.encode(&k),
            Err(_) => return,
        };
        for pause in ATTEMPTS {
            match self.attempt(&target, &key).await {
                Ok(()) => {
                    self.engine.metrics.inc(&self.engine.metrics.deliveries_ok);
                    return;
                }
                Err((why, permanent)) => {
                    self.engine.metrics.inc(&self.engine.metrics.deliveries_failed);
                    tracing::warn!(reason = %why, "reminder failed");
                    if permanent || pause.is_zero() {
                        return;
                    }
                }
            }
            tokio::time::sleep(pause).await;
        }
    }

    /// One attempt: `Err((why, permanent))` when it did not get through.
    async fn attempt(&self, t: &ReminderTarget, key: &str) -> Result<(), (String, bool)> {
        let e = &self.engine;
        match t.kind {
            EndpointKind::Email => {
                let Some(mailer) = &self.mailer else { return Err(("no SMTP relay configured".into(), true)) };
                mailer
                    .send_text(&t.target, key, REMINDER_SUBJECT, &format!("{REMINDER_MESSAGE}\n"))
                    .await
                    .map_err(|err| (err.detail, err.permanent))
            }
            EndpointKind::Webhook | EndpointKind::Ntfy => {
                let vetted = vet_for_send(self.resolver.as_ref(), e.target_policy(), &t.target).await?;
                let (headers, body) = if t.kind == EndpointKind::Webhook {
                    let body = serde_json::json!({
                        "type": "aman.reminder",
                        "event": "reminder",
                        "idempotency_key": key,
                        "message": REMINDER_MESSAGE,
                    })
                    .to_string()
                    .into_bytes();
                    let secret = t.secret.as_deref().map(Vec::as_slice).unwrap_or_default();
                    let sig = data_encoding::HEXLOWER.encode(&hmac_sha256(secret, &body));
                    let headers = vec![
                        ("content-type", "application/json".to_owned()),
                        ("idempotency-key", key.to_owned()),
                        ("x-aman-signature", format!("sha256={sig}")),
                        ("user-agent", "aman-server".to_owned()),
                    ];
                    (headers, body)
                } else {
                    let headers = vec![
                        ("title", "Aman".to_owned()),
                        ("priority", "4".to_owned()),
                        ("tags", "alarm_clock".to_owned()),
                        ("x-idempotency-key", key.to_owned()),
                        ("content-type", "text/plain".to_owned()),
                    ];
                    (headers, REMINDER_MESSAGE.as_bytes().to_vec())
                };
                match self.http.post_to(&t.target, &vetted.addrs, &headers, body).await {
                    Ok(200..=299) => Ok(()),
                    Ok(status) => {
                        Err((format!("HTTP {status}"), (400..500).contains(&status) && ![408, 429].contains(&status)))
                    }
                    Err(TransportError::Invalid(_)) => Err(("invalid URL".into(), true)),
                    Err(TransportError::Network(why)) => Err((why, false)),
                }
            }
        }
    }
}
