//! The interface's JSON API: each route opens nothing new but calls the
//! library function the CLI calls for the same command, and hands the page
//! its report (the `--json` object and the text). What the page shows is
//! built from those, so it is the same whichever passphrase opened the
//! keystore wherever the CLI's output is.

use super::assets::Asset;
use super::guard::{self, Refusal};
use super::{bytes_body::Body, lock, Opened, Ui};
use crate::context::{Ctx, Report};
use crate::error::ClientError;
use crate::i18n;
use crate::state::Vault;
use crate::{contact, drill, member, remind, trip, when};
use aman_protocol::api::{AlertReason, ErrorCode, NoticeKind};
use hyper::body::Bytes;
use hyper::{Method, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
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

/// A request the guard refused. A foreign `Host` gets an empty answer: a
/// page reaching us through a rebinding name must not learn that this is
/// Aman (nor in which language).
pub(super) fn refused(refusal: Refusal) -> Response<Body> {
    let message = match refusal {
        Refusal::BadHost => return respond(refusal.status(), "text/plain", Bytes::new()),
        Refusal::NoSession | Refusal::BadToken => crate::t!("ui-refused-session"),
        Refusal::BadOrigin | Refusal::NotJson => crate::t!("ui-refused-origin"),
    };
    error(refusal.status(), refusal.code(), &message)
}

/// An embedded file.
pub(super) fn asset(asset: Asset) -> Response<Body> {
    respond(200, asset.content_type, asset.body)
}

#[derive(Deserialize)]
struct TokenForm {
    token: String,
}

/// The one-time token: the first request that presents it gets the session
/// secret; the token is then gone.
pub(super) fn swap_token(ui: &Ui, body: &Bytes) -> Response<Body> {
    let Some(form) = parse::<TokenForm>(body) else { return bad_request() };
    let mut token = lock(&ui.token);
    let valid = token.as_deref().is_some_and(|expected| guard::same_secret(&form.token, expected));
    if !valid {
        return refused(Refusal::BadToken);
    }
    let Ok(session) = super::random_secret() else {
        return error(500, "error", "no randomness");
    };
    *token = None;
    *lock(&ui.session) = Some(session.clone());
    if let Some(page) = &ui.opener_page {
        let _ = std::fs::remove_file(page);
    }
    json_response(200, &json!({ "session": session }))
}

fn locked() -> Response<Body> {
    error(401, "locked", &crate::t!("ui-error-locked"))
}

fn client_error(e: ClientError) -> Response<Body> {
    match e {
        ClientError::Degraded { report, cause } => {
            let mut out = report_json(&report);
            out["error"] = json!({ "code": cause.code(), "message": cause.to_string() });
            json_response(200, &out)
        }
        // Taken by some of the member's servers: done, with a line for
        // each server that did not take it.
        ClientError::Partly { report } => json_response(200, &report_json(&report)),
        ClientError::WrongPassphrase => error(401, e.code(), &e.to_string()),
        ClientError::Unreachable { .. } => error(503, e.code(), &e.to_string()),
        ClientError::Server { .. } => error(409, e.code(), &e.to_string()),
        other => error(400, other.code(), &other.to_string()),
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
    passphrase: Zeroizing<String>,
}

#[derive(Deserialize)]
struct CheckinForm {
    passphrase: Zeroizing<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    location: Option<String>,
}

#[derive(Deserialize)]
struct TripForm {
    passphrase: Zeroizing<String>,
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
    passphrase: Zeroizing<String>,
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
async fn open_vault(ctx: &Ctx, passphrase: Zeroizing<String>) -> Result<(Vault, Ctx), ClientError> {
    let home = ctx.home.clone();
    let vault = tokio::task::spawn_blocking(move || Vault::open_guarded(&home, passphrase.as_bytes()))
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

/// Opens the keystore with `passphrase` as the session's, one attempt at a
/// time; a wrong passphrase costs a second more.
async fn open_session(ui: &Ui, passphrase: Zeroizing<String>) -> Result<Opened, ClientError> {
    let _one_at_a_time = ui.unlocking.lock().await;
    let epoch = ui.epoch.load(Ordering::SeqCst);
    match open_vault(&ui.ctx, passphrase.clone()).await {
        Ok((vault, ctx)) => Ok(Opened { vault, ctx, passphrase, epoch }),
        Err(e) => {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            Err(e)
        }
    }
}

/// Reads the keystore again if another `aman` command changed it since this
/// process read or wrote it: the page must never save an old copy over it.
/// (Every copy is guarded besides: a save refuses to write over a file
/// changed after the copy was read, also while a command waited on a server.)
async fn refresh(ui: &Ui, opened: &mut Opened) -> Result<(), ClientError> {
    if opened.vault.unchanged_on_disk() {
        return Ok(());
    }
    let again = open_session(ui, opened.passphrase.clone()).await?;
    opened.vault = again.vault;
    opened.ctx = again.ctx;
    Ok(())
}

/// The actions that are check-ins: each opens the keystore with the
/// passphrase typed for it, which decides its mode, as on the command line.
enum CheckinAction {
    Checkin { note: Option<String>, location: Option<String> },
    TripStart { back_by: String, grace: Option<String>, note: Option<String>, location: Option<String> },
    TripExtend { by: String },
    TripEnd,
}

type ParsedCheckin = Result<(Zeroizing<String>, CheckinAction), Box<Response<Body>>>;

/// The check-in a POST to `path` asks for, if it is one.
fn checkin_action(path: &str, body: &Bytes) -> Option<ParsedCheckin> {
    let parsed = match path {
        "/api/member/checkin" => parse::<CheckinForm>(body)
            .map(|f| (f.passphrase, CheckinAction::Checkin { note: f.note, location: f.location })),
        "/api/member/trip/start" => parse::<TripForm>(body).map(|f| {
            let action =
                CheckinAction::TripStart { back_by: f.back_by, grace: f.grace, note: f.note, location: f.location };
            (f.passphrase, action)
        }),
        "/api/member/trip/extend" => {
            parse::<ExtendForm>(body).map(|f| (f.passphrase, CheckinAction::TripExtend { by: f.by }))
        }
        "/api/member/trip/end" => parse::<Passphrase>(body).map(|f| (f.passphrase, CheckinAction::TripEnd)),
        _ => return None,
    };
    Some(parsed.ok_or_else(|| Box::new(bad_request())))
}

async fn run_checkin(ctx: &Ctx, vault: &mut Vault, action: CheckinAction) -> Result<Report, ClientError> {
    match action {
        CheckinAction::Checkin { note, location } => member::checkin(ctx, vault, given(&note), given(&location)).await,
        CheckinAction::TripStart { back_by, grace, note, location } => {
            let (zone, _) = when::zone(None)?;
            let back_by = when::parse_back_by(back_by.trim(), &zone, crate::api::unix_now())?;
            let grace = given(&grace).map(|g| parse_duration("grace", g)).transpose()?;
            trip::start(ctx, vault, back_by, grace, given(&note), given(&location)).await
        }
        CheckinAction::TripExtend { by } => trip::extend(ctx, vault, parse_duration("by", &by)?).await,
        CheckinAction::TripEnd => trip::end(ctx, vault, None, None).await,
    }
}

/// The API's routes. Each but `state`, `unlock` and `lock` needs the
/// keystore opened.
pub(super) async fn route(ui: &Ui, method: &Method, path: &str, body: &Bytes) -> Response<Body> {
    let lang = i18n::lang();
    match (method, path) {
        (&Method::GET, "/api/state") => {
            let roles = lock(&ui.roles).clone();
            return json_response(
                200,
                &json!({
                    "lang": lang.code(), "dir": lang.dir(), "unlocked": roles.is_some(), "roles": roles,
                    "idle_lock_s": ui.idle_lock.map(|d| d.as_secs()),
                }),
            );
        }
        (&Method::POST, "/api/unlock") => {
            let Some(form) = parse::<Passphrase>(body) else { return bad_request() };
            return match open_session(ui, form.passphrase).await {
                Ok(opened) => {
                    let r = roles(&opened.vault);
                    let mut guard = ui.opened.lock().await;
                    // A lock while this waited wins.
                    if ui.epoch.load(Ordering::SeqCst) != opened.epoch {
                        return locked();
                    }
                    *guard = Some(opened);
                    *lock(&ui.roles) = Some(r.clone());
                    json_response(200, &json!({ "roles": r }))
                }
                Err(e) => client_error(e),
            };
        }
        (&Method::POST, "/api/lock") => {
            ui.lock();
            return json_response(200, &json!({}));
        }
        _ => {}
    }

    let mut guard = ui.opened.lock().await;
    let epoch = ui.epoch.load(Ordering::SeqCst);
    if guard.as_ref().is_some_and(|o| o.epoch != epoch) {
        *guard = None;
        *lock(&ui.roles) = None;
    }
    let Some(opened) = guard.as_mut() else { return locked() };

    if method == Method::POST {
        if let Some(action) = checkin_action(path, body) {
            let (passphrase, action) = match action {
                Ok(a) => a,
                Err(response) => return *response,
            };
            // The session becomes the slot this passphrase opens, as the
            // command line's next command would.
            let mut fresh = match open_session(ui, passphrase).await {
                Ok(o) => o,
                Err(e) => return client_error(e),
            };
            fresh.epoch = opened.epoch;
            let result = run_checkin(&fresh.ctx, &mut fresh.vault, action).await;
            *opened = fresh;
            let response = done(result);
            close_if_locked(ui, &mut guard, epoch);
            return response;
        }
    }

    if let Err(e) = refresh(ui, opened).await {
        return client_error(e);
    }
    let (vault, ctx) = (&mut opened.vault, &opened.ctx);
    let response = match (method, path) {
        (&Method::GET, "/api/member/status") => done(member::status(ctx, vault).await),
        (&Method::GET, "/api/member/contacts") => done(member::list_contacts(ctx, vault).await),
        (&Method::GET, "/api/member/reminders") => done(remind::list(ctx, vault).await),
        (&Method::GET, "/api/member/drill") => done(drill::status(ctx, vault).await),
        (&Method::POST, "/api/member/drill") => done(drill::send(ctx, vault).await),
        (&Method::POST, "/api/member/panic") => match parse::<PanicForm>(body) {
            Some(form) => done(member::panic(ctx, vault, given(&form.note)).await),
            None => bad_request(),
        },
        (&Method::GET, "/api/contact/alerts") => match contact::list_alerts(ctx, vault, false).await {
            Ok(mut report) => {
                explain_alerts(&mut report.json);
                json_response(200, &report_json(&report))
            }
            Err(ClientError::Degraded { mut report, cause }) => {
                explain_alerts(&mut report.json);
                client_error(ClientError::Degraded { report, cause })
            }
            Err(ClientError::Partly { mut report }) => {
                explain_alerts(&mut report.json);
                json_response(200, &report_json(&report))
            }
            Err(e) => client_error(e),
        },
        (&Method::POST, "/api/contact/ack") => match parse::<AckForm>(body) {
            Some(form) => done(contact::ack(ctx, vault, form.id.trim()).await),
            None => bad_request(),
        },
        (&Method::GET, "/api/safety-numbers") => done(Ok(contact::verify(vault))),
        _ => error(404, ErrorCode::NotFound.as_str(), &crate::t!("ui-error-not-found")),
    };
    close_if_locked(ui, &mut guard, epoch);
    response
}

/// A lock that came while a command waited on a server closes the keystore
/// as soon as the command ends.
fn close_if_locked(ui: &Ui, opened: &mut Option<Opened>, epoch: u64) {
    if ui.epoch.load(Ordering::SeqCst) != epoch {
        *opened = None;
        *lock(&ui.roles) = None;
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
