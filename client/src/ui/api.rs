//! The interface's JSON API: each route opens nothing new but calls the
//! library function the CLI calls for the same command, and hands the page
//! its report (the `--json` object and the text). What the page shows is
//! built from those, so it is the same whichever passphrase opened the
//! keystore wherever the CLI's output is.

use super::assets::Asset;
use super::guard::{self, Refusal};
use super::{bytes_body::Body, Opened, Ui, IDLE_LOCK};
use crate::context::{Ctx, Report};
use crate::error::ClientError;
use crate::i18n;
use crate::state::Vault;
use crate::{contact, drill, member, remind, trip, when};
use aman_protocol::api::{AlertReason, NoticeKind};
use hyper::body::Bytes;
use hyper::{Method, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Instant;
use zeroize::Zeroizing;

fn respond(status: u16, content_type: &str, body: Bytes) -> Response<Body> {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", content_type);
    for (name, value) in guard::SECURITY_HEADERS {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::new(body)).unwrap_or_else(|_| Response::new(Body::new(Bytes::new())))
}

fn json_response(status: u16, value: &Value) -> Response<Body> {
    respond(status, "application/json", Bytes::from(value.to_string()))
}

/// An error the page shows: a stable code and a message in the user's language.
pub(super) fn error(status: u16, code: &str, message: &str) -> Response<Body> {
    json_response(status, &json!({ "error": { "code": code, "message": message } }))
}

/// A request the guard refused.
pub(super) fn refused(refusal: Refusal) -> Response<Body> {
    let message = match refusal {
        Refusal::BadHost => crate::t!("ui-refused-host"),
        Refusal::NoSession | Refusal::BadToken => crate::t!("ui-refused-session"),
        Refusal::BadOrigin | Refusal::NotJson => crate::t!("ui-refused-origin"),
    };
    error(refusal.status(), refusal.code(), &message)
}

/// An embedded file.
pub(super) fn asset(asset: Asset) -> Response<Body> {
    respond(200, asset.content_type, asset.body)
}

/// The one-time token: the first request that presents it gets the session
/// cookie and is sent on to the page without the token in its address.
pub(super) async fn swap_token(ui: &Ui, presented: &str) -> Response<Body> {
    let mut token = ui.token.lock().await;
    let valid = token.as_deref().is_some_and(|expected| guard::same_secret(presented, expected));
    if !valid {
        return refused(Refusal::BadToken);
    }
    let Ok(session) = super::random_secret() else {
        return error(500, "error", "no randomness");
    };
    *token = None;
    *ui.session.lock().await = Some(session.clone());
    if let Some(page) = &ui.opener_page {
        let _ = std::fs::remove_file(page);
    }
    let mut response = respond(303, "text/plain", Bytes::new());
    if let (Ok(cookie), Ok(location)) = (
        hyper::header::HeaderValue::from_str(&guard::session_cookie(&session)),
        hyper::header::HeaderValue::from_str("/"),
    ) {
        response.headers_mut().insert(hyper::header::SET_COOKIE, cookie);
        response.headers_mut().insert(hyper::header::LOCATION, location);
    }
    response
}

/// Closes the keystore once it has been idle for [`IDLE_LOCK`].
pub(super) async fn lock_if_idle(ui: &Ui) {
    let mut opened = ui.opened.lock().await;
    if opened.as_ref().is_some_and(|o| o.used.elapsed() >= IDLE_LOCK) {
        *opened = None;
    }
}

fn client_error(e: ClientError) -> Response<Body> {
    match e {
        ClientError::Degraded { report, cause } => {
            let mut out = report_json(&report);
            out["error"] = json!({ "code": code_of(&cause), "message": cause.to_string() });
            json_response(200, &out)
        }
        ClientError::WrongPassphrase => error(401, "wrong_passphrase", &e.to_string()),
        ClientError::Unreachable { .. } => error(503, "server_unreachable", &e.to_string()),
        ClientError::Server { ref code, .. } => error(409, &code.clone(), &e.to_string()),
        other => error(400, "error", &other.to_string()),
    }
}

fn code_of(e: &ClientError) -> String {
    match e {
        ClientError::Unreachable { .. } => "server_unreachable".into(),
        ClientError::Server { code, .. } => code.clone(),
        ClientError::WrongPassphrase => "wrong_passphrase".into(),
        _ => "error".into(),
    }
}

fn report_json(report: &Report) -> Value {
    json!({ "json": report.json, "text": report.text })
}

fn done(result: Result<Report, ClientError>) -> Response<Body> {
    match result {
        Ok(report) => json_response(200, &report_json(&report)),
        Err(e) => client_error(e),
    }
}

#[derive(Deserialize)]
struct Passphrase {
    passphrase: String,
}

#[derive(Deserialize)]
struct CheckinForm {
    passphrase: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    location: Option<String>,
}

#[derive(Deserialize)]
struct TripForm {
    back_by: String,
    #[serde(default)]
    grace: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    location: Option<String>,
}

#[derive(Deserialize)]
struct ExtendForm {
    by: String,
}

#[derive(Deserialize)]
struct PanicForm {
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
struct AckForm {
    id: String,
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Option<T> {
    serde_json::from_slice(body).ok()
}

fn bad_request() -> Response<Body> {
    error(400, "bad_request", &crate::t!("ui-error-bad-request"))
}

/// Text the page sent: an empty field means "not given".
fn given(text: &Option<String>) -> Option<&str> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// Opens the keystore with a passphrase, off the async thread (Argon2
/// takes a second on purpose).
async fn open_vault(ctx: &Ctx, passphrase: String) -> Result<(Vault, Ctx), ClientError> {
    let passphrase = Zeroizing::new(passphrase);
    let home = ctx.home.clone();
    let vault = tokio::task::spawn_blocking(move || Vault::open(&home, passphrase.as_bytes()))
        .await
        .map_err(|e| ClientError::State(e.to_string()))??;
    let ctx = ctx.with_stored(&vault.book.settings);
    Ok((vault, ctx))
}

fn roles(vault: &Vault) -> Value {
    json!({ "member": vault.book.member.is_some(), "contact": vault.book.contact.is_some() })
}

fn parse_duration(flag: &str, text: &str) -> Result<u64, ClientError> {
    aman_protocol::duration::parse_duration(text.trim())
        .map_err(|_| ClientError::State(crate::t!("ui-error-duration", field = flag, text = text)))
}

/// The API's routes. Each needs the keystore opened but `state`, `unlock`
/// and `lock`.
pub(super) async fn route(ui: &Ui, method: &Method, path: &str, body: &Bytes) -> Response<Body> {
    let lang = i18n::lang();
    match (method, path) {
        (&Method::GET, "/api/state") => {
            let opened = ui.opened.lock().await;
            return json_response(
                200,
                &json!({
                    "lang": lang.code(), "dir": lang.dir(), "unlocked": opened.is_some(),
                    "roles": opened.as_ref().map(|o| roles(&o.vault)),
                    "idle_lock_s": IDLE_LOCK.as_secs(),
                }),
            );
        }
        (&Method::POST, "/api/unlock") => {
            let Some(form) = parse::<Passphrase>(body) else { return bad_request() };
            return match open_vault(&ui.ctx, form.passphrase).await {
                Ok((vault, ctx)) => {
                    let r = roles(&vault);
                    *ui.opened.lock().await = Some(Opened { vault, ctx, used: Instant::now() });
                    json_response(200, &json!({ "roles": r }))
                }
                Err(e) => client_error(e),
            };
        }
        (&Method::POST, "/api/lock") => {
            *ui.opened.lock().await = None;
            return json_response(200, &json!({}));
        }
        _ => {}
    }

    // A check-in opens the keystore again with the passphrase typed for it:
    // that passphrase, not the one that unlocked the page, decides what the
    // check-in is, as on the command line.
    if (method, path) == (&Method::POST, "/api/member/checkin") {
        let Some(form) = parse::<CheckinForm>(body) else { return bad_request() };
        let mut opened = ui.opened.lock().await;
        if opened.is_none() {
            return error(401, "locked", &crate::t!("ui-error-locked"));
        }
        let (mut vault, ctx) = match open_vault(&ui.ctx, form.passphrase.clone()).await {
            Ok(v) => v,
            Err(e) => return client_error(e),
        };
        let result = member::checkin(&ctx, &mut vault, given(&form.note), given(&form.location)).await;
        *opened = Some(Opened { vault, ctx, used: Instant::now() });
        return done(result);
    }

    let mut guard = ui.opened.lock().await;
    let Some(opened) = guard.as_mut() else {
        return error(401, "locked", &crate::t!("ui-error-locked"));
    };
    opened.used = Instant::now();
    let (vault, ctx) = (&mut opened.vault, &opened.ctx);
    match (method, path) {
        (&Method::GET, "/api/member/status") => done(member::status(ctx, vault).await),
        (&Method::GET, "/api/member/contacts") => done(member::list_contacts(ctx, vault).await),
        (&Method::GET, "/api/member/reminders") => done(remind::list(ctx, vault).await),
        (&Method::GET, "/api/member/drill") => done(drill::status(ctx, vault).await),
        (&Method::POST, "/api/member/drill") => done(drill::send(ctx, vault).await),
        (&Method::POST, "/api/member/trip/start") => {
            let Some(form) = parse::<TripForm>(body) else { return bad_request() };
            let result = async {
                let (zone, _) = when::zone(None)?;
                let back_by = when::parse_back_by(form.back_by.trim(), &zone, crate::api::unix_now())?;
                let grace = given(&form.grace).map(|g| parse_duration("grace", g)).transpose()?;
                trip::start(ctx, vault, back_by, grace, given(&form.note), given(&form.location)).await
            }
            .await;
            done(result)
        }
        (&Method::POST, "/api/member/trip/extend") => {
            let Some(form) = parse::<ExtendForm>(body) else { return bad_request() };
            let result = async { trip::extend(ctx, vault, parse_duration("by", &form.by)?).await }.await;
            done(result)
        }
        (&Method::POST, "/api/member/trip/end") => done(trip::end(ctx, vault, None, None).await),
        (&Method::POST, "/api/member/panic") => {
            let Some(form) = parse::<PanicForm>(body) else { return bad_request() };
            done(member::panic(ctx, vault, given(&form.note)).await)
        }
        (&Method::GET, "/api/contact/alerts") => {
            let result = contact::list_alerts(ctx, vault, false).await;
            match result {
                Ok(mut report) => {
                    explain_alerts(&mut report.json);
                    json_response(200, &report_json(&report))
                }
                Err(ClientError::Degraded { mut report, cause }) => {
                    explain_alerts(&mut report.json);
                    client_error(ClientError::Degraded { report, cause })
                }
                Err(e) => client_error(e),
            }
        }
        (&Method::POST, "/api/contact/ack") => {
            let Some(form) = parse::<AckForm>(body) else { return bad_request() };
            done(contact::ack(ctx, vault, form.id.trim()).await)
        }
        (&Method::GET, "/api/safety-numbers") => done(Ok(contact::verify(vault))),
        _ => error(404, "not_found", &crate::t!("ui-error-not-found")),
    }
}

/// Adds to each alert and notice the words the CLI prints for it (its
/// headline and what to do), in the user's language, so that the page
/// says exactly what `aman alerts` says.
fn explain_alerts(json: &mut Value) {
    if let Some(alerts) = json.get_mut("alerts").and_then(Value::as_array_mut) {
        for a in alerts {
            let (headline, todo) = crate::wording::reason(AlertReason::parse(a["reason"].as_str().unwrap_or("")));
            a["headline"] = json!(headline);
            a["todo"] = json!(todo);
            if let Some(notices) = a.get_mut("notices").and_then(Value::as_array_mut) {
                for n in notices {
                    let (what, todo) =
                        crate::wording::alert_notice(NoticeKind::parse(n["kind"].as_str().unwrap_or("")));
                    n["what"] = json!(what);
                    n["todo"] = json!(todo);
                }
            }
        }
    }
    if let Some(notices) = json.get_mut("notices").and_then(Value::as_array_mut) {
        for n in notices {
            let (what, todo) = crate::wording::account_notice(NoticeKind::parse(n["kind"].as_str().unwrap_or("")));
            n["what"] = json!(what);
            n["todo"] = json!(todo);
        }
    }
}
