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
        Some(p) => format!("Proxy: {p} (every request goes through it; none is made without it)"),
        None => "Proxy: none (requests go directly to the server)".to_owned(),
    };
    let ca = match &settings.ca_pem {
        Some(_) => "Certificate authority: a private one is trusted besides the public ones",
        None => "Certificate authority: the public ones only",
    };
    Report {
        json: json!({ "proxy": settings.proxy, "private_ca": settings.ca_pem.is_some() }),
        text: format!(
            "{proxy}\n{ca}\n(--proxy or AMAN_PROXY on one command overrides the stored proxy for that command.)"
        ),
    }
}
