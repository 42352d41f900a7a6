//! `aman config`: how this device reaches servers (a proxy, a private
//! certificate authority), kept in the encrypted keystore and used by every
//! command after.

use crate::api::{check_proxy_url, parse_ca};
use crate::context::Report;
use crate::error::ClientError;
use crate::state::{DeviceSettings, Vault};
use serde_json::json;

/// A change to the stored settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Only show them.
    None,
    /// Use this proxy for every request.
    SetProxy(String),
    /// Connect directly again.
    ClearProxy,
    /// Trust this certificate authority (PEM) too.
    SetCa(String),
    /// Trust only the public certificate authorities again.
    ClearCa,
}

/// Whether `change` needs both of a member's passphrases: a captor holding
/// the phone and one passphrase must not be able to route the member's
/// traffic through a proxy or CA of theirs (where they could watch every
/// check-in) or off Tor, any more than rotate the check-in keys.
pub fn needs_both(change: &Change) -> bool {
    *change != Change::None
}

/// Checks that two unlocked vaults are the two slots of one member
/// keystore (the same passphrase twice is not both).
pub fn check_both(a: &Vault, b: &Vault) -> Result<(), ClientError> {
    let now = crate::api::unix_now();
    if a.checkin_key(now).verifying_key() == b.checkin_key(now).verifying_key() {
        return Err(ClientError::State(crate::t!("member-config-needs-both")));
    }
    Ok(())
}

/// Applies `change` to the keystore and shows the settings in force.
pub fn configure(vault: &mut Vault, change: Change) -> Result<Report, ClientError> {
    let settings = &mut vault.book.settings;
    match change {
        Change::None => {}
        Change::SetProxy(proxy) => {
            check_proxy_url(&proxy)?;
            settings.proxy = Some(proxy);
        }
        Change::ClearProxy => settings.proxy = None,
        Change::SetCa(pem) => {
            parse_ca(&pem)?;
            settings.ca_pem = Some(pem);
        }
        Change::ClearCa => settings.ca_pem = None,
    }
    vault.save()?;
    Ok(show(&vault.book.settings))
}

/// The stored settings, as text and JSON.
pub fn show(settings: &DeviceSettings) -> Report {
    let proxy = match &settings.proxy {
        Some(p) if p.starts_with("socks5://") => {
            crate::t!("member-config-proxy-socks5", proxy = crate::api::without_credentials(p))
        }
        Some(p) => crate::t!("member-config-proxy", proxy = crate::api::without_credentials(p)),
        None => crate::t!("member-config-no-proxy"),
    };
    let ca = match &settings.ca_pem {
        Some(_) => crate::t!("member-config-private-ca"),
        None => crate::t!("member-config-public-ca"),
    };
    Report {
        json: json!({ "proxy": settings.proxy.as_deref().map(crate::api::without_credentials), "private_ca": settings.ca_pem.is_some() }),
        text: format!("{proxy}\n{ca}\n{}", crate::t!("member-config-override")),
    }
}
