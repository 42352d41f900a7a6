//! E-mail notifications over SMTP with lettre. `smtp://host:port` to a
//! loopback relay is plain; `smtp://` to any other host requires STARTTLS;
//! `smtps://` is implicit TLS. Credentials may be given as `user:pass@`.

use crate::config::Config;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// The subject of every notification e-mail, an alert's or a notice's alike.
pub const SUBJECT: &str = "Aman needs your attention";

/// What the e-mail says: that something is waiting, and nothing else, the
/// same words for an alert and for a notice about someone the contact
/// protects (a pending change, a new contact), so that nobody who sees the
/// message can tell which.
pub const BODY: &str =
    "Aman needs your attention now: an alert or news about someone you protect is waiting for you.\n\n\
Open your Aman app and run `aman alerts` to read it. This message carries no content on purpose: \
only your own device fetches and reads what is waiting.\n";

/// A configured SMTP relay.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from).finish_non_exhaustive()
    }
}

/// Outcome of a failed send.
#[derive(Debug)]
pub struct SendError {
    /// True for a refused address or other 5xx: do not retry.
    pub permanent: bool,
    /// A short reason (never the address).
    pub detail: String,
}

/// The parts of an `smtp_url`.
#[derive(Debug, PartialEq, Eq)]
struct SmtpUrl<'a> {
    scheme: &'a str,
    credentials: Option<(String, String)>,
    host: String,
    port: Option<u16>,
}

fn split_url(url: &str) -> Result<SmtpUrl<'_>, String> {
    let (scheme, rest) = url.split_once("://").ok_or("smtp_url must start with smtp:// or smtps://")?;
    let rest = rest.trim_end_matches('/');
    let (creds, hostport) = match rest.rsplit_once('@') {
        Some((c, h)) => {
            let (u, p) = c.split_once(':').unwrap_or((c, ""));
            (Some((u.to_owned(), p.to_owned())), h)
        }
        None => (None, rest),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_owned(), Some(p.parse::<u16>().map_err(|_| "bad port in smtp_url")?)),
        None => (hostport.to_owned(), None),
    };
    Ok(SmtpUrl { scheme, credentials: creds, host, port })
}

impl Mailer {
    /// The mailer for `config`, or `None` when no `smtp_url` is set.
    pub fn from_config(config: &Config) -> Result<Option<Self>, String> {
        let Some(url) = &config.smtp_url else { return Ok(None) };
        let SmtpUrl { scheme, credentials: creds, host, port } = split_url(url)?;
        let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let mut builder = match scheme {
            "smtps" => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&host).map_err(|e| e.to_string())?.port(port.unwrap_or(465))
            }
            "smtp" if loopback => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host).port(port.unwrap_or(25))
            }
            "smtp" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host)
                .map_err(|e| e.to_string())?
                .port(port.unwrap_or(587)),
            other => return Err(format!("smtp_url scheme `{other}` is not smtp or smtps")),
        };
        if let Some((u, p)) = creds {
            builder = builder.credentials(Credentials::new(u, p));
        }
        builder = builder.timeout(Some(super::http::ATTEMPT_TIMEOUT));
        Ok(Some(Mailer { transport: builder.build(), from: config.smtp_from.clone() }))
    }

    /// Sends the content-free message to `to`, with a Message-ID derived
    /// from the idempotency key so receivers can drop duplicates.
    pub async fn send(&self, to: &str, idempotency_key: &str) -> Result<(), SendError> {
        self.send_text(to, idempotency_key, SUBJECT, BODY).await
    }

    /// Sends a plain-text message with this subject and body (a member's
    /// reminder), as [`Mailer::send`] sends a contact's.
    pub async fn send_text(&self, to: &str, idempotency_key: &str, subject: &str, body: &str) -> Result<(), SendError> {
        let invalid = |detail: &str| SendError { permanent: true, detail: detail.to_owned() };
        let message = Message::builder()
            .from(self.from.parse().map_err(|_| invalid("bad smtp_from"))?)
            .to(to.parse().map_err(|_| invalid("bad address"))?)
            .subject(subject)
            .message_id(Some(format!("<{idempotency_key}@aman.invalid>")))
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|_| invalid("message build"))?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| SendError {
            permanent: e.is_permanent(),
            detail: if e.is_permanent() {
                "refused by the SMTP server".into()
            } else {
                "SMTP transient failure".into()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_smtp_urls() {
        let u = split_url("smtps://me:pw@mail.example:465").unwrap();
        assert_eq!(
            u,
            SmtpUrl {
                scheme: "smtps",
                credentials: Some(("me".into(), "pw".into())),
                host: "mail.example".into(),
                port: Some(465)
            }
        );
        let u = split_url("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(u, SmtpUrl { scheme: "smtp", credentials: None, host: "127.0.0.1".into(), port: Some(2525) });
        assert!(split_url("mail.example").is_err());
    }
}
