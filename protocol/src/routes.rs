//! The route table of the HTTP API: every route the server serves, with its
//! method, path, who signs it and the envelopes (from [`crate::api`]) it
//! carries. Pure data, no I/O.
//!
//! The server's router takes each path and method from here, its router test
//! checks that it serves exactly this table, the OpenAPI document is built
//! from [`ALL`], and the client's typed calls (`ApiClient::call`) take a
//! [`Route`], so the path, the method and both envelopes cannot drift apart.
//!
//! Each route is a type: a unit struct when its path is fixed
//! ([`SetPolicy`]), a struct of its path parameters otherwise
//! (`AckAlert { alert }`), whose [`Route::path`] fills in the template.

use crate::api;
use crate::ids::{AlertId, InviteId};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use std::any::TypeId;

/// An HTTP method the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`: reads; the client retries it when the server is unreachable.
    Get,
    /// `PUT`: replaces a resource.
    Put,
    /// `POST`: creates or acts.
    Post,
    /// `DELETE`: removes (some after the cooling-off period).
    Delete,
}

impl Method {
    /// The method as HTTP writes it (`GET`), which is also what requests sign.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }

    /// The method as OpenAPI writes it (`get`).
    pub const fn lowercase(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Put => "put",
            Method::Post => "post",
            Method::Delete => "delete",
        }
    }
}

/// Who authenticates a request (PROTOCOL.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    /// Nobody: unsigned.
    None,
    /// Unsigned; the heartbeat and its mode proof in the body authenticate it.
    Heartbeat,
    /// Signed by the member's identity key, the account as caller.
    Member,
    /// Signed by a contact's identity key, its mailbox as caller.
    Contact,
    /// Signed by the identity key the body introduces, the new mailbox as caller.
    NewMailbox,
}

impl Auth {
    /// The name the OpenAPI document gives it (`x-aman-signer`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::Heartbeat => "heartbeat",
            Auth::Member => "member",
            Auth::Contact => "contact",
            Auth::NewMailbox => "new-mailbox",
        }
    }

    /// Whether the request carries the signature headers.
    pub const fn signed(self) -> bool {
        matches!(self, Auth::Member | Auth::Contact | Auth::NewMailbox)
    }
}

/// The body of a request that carries none, or of a reply that is only a
/// status (`201`, `204`): sent as zero bytes, read from zero bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoBody;

/// One route of the API.
pub trait Route {
    /// Its method.
    const METHOD: Method;
    /// Its path template, parameters in braces (`/v1/pairings/{invite}`), as
    /// the server's router reads it.
    const PATH: &'static str;
    /// Who signs it.
    const AUTH: Auth;
    /// What it does, in a line (the OpenAPI summary).
    const SUMMARY: &'static str;
    /// The request envelope ([`NoBody`] for none).
    type Request: Serialize + 'static;
    /// The reply envelope ([`NoBody`] for a bare status).
    type Reply: DeserializeOwned + 'static;

    /// The path of this request: the template with its parameters filled in
    /// (and, for a route that takes one, its query).
    fn path(&self) -> String;

    /// Whether the request carries a body: all but those whose request is
    /// [`NoBody`], which send zero bytes (not `null`).
    fn has_body() -> bool {
        TypeId::of::<Self::Request>() != TypeId::of::<NoBody>()
    }
}

/// A route as data: one row of [`ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    /// Its method.
    pub method: Method,
    /// Its path template.
    pub path: &'static str,
    /// Who signs it.
    pub auth: Auth,
    /// What it does.
    pub summary: &'static str,
}

impl RouteInfo {
    /// The row of route `R`.
    pub const fn of<R: Route>() -> RouteInfo {
        RouteInfo { method: R::METHOD, path: R::PATH, auth: R::AUTH, summary: R::SUMMARY }
    }

    /// The path with every `{parameter}` replaced by `value`.
    pub fn path_with(&self, value: &str) -> String {
        let mut out = String::with_capacity(self.path.len());
        let mut rest = self.path;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            out.push_str(value);
            rest = rest[open..].find('}').map_or("", |close| &rest[open + close + 1..]);
        }
        out.push_str(rest);
        out
    }
}

/// Defines each route's type and its [`Route`] impl; a route's fields are
/// its path parameters, each replacing the `{field}` of the template.
macro_rules! routes {
    ($(
        $(#[$doc:meta])*
        $name:ident $({ $($(#[$fdoc:meta])* $field:ident: $fty:ty),+ $(,)? })?
            = $method:ident $path:literal by $auth:ident: $req:ty => $reply:ty, $summary:literal;
    )*) => {$(
        route_type!($(#[$doc])* $name $({ $($(#[$fdoc])* $field: $fty),+ })?);

        impl Route for $name {
            const METHOD: Method = Method::$method;
            const PATH: &'static str = $path;
            const AUTH: Auth = Auth::$auth;
            const SUMMARY: &'static str = $summary;
            type Request = $req;
            type Reply = $reply;

            fn path(&self) -> String {
                #[allow(unused_mut)]
                let mut path = String::from($path);
                $($(path = path.replace(concat!("{", stringify!($field), "}"), &self.$field.to_string());)+)?
                path
            }
        }
    )*};
}

macro_rules! route_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name;
    };
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident: $fty:ty),+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name {
            $($(#[$fdoc])* pub $field: $fty,)+
        }
    };
}

routes! {
    /// `GET /v2/server`.
    GetServer = Get "/v2/server" by None: NoBody => api::ServerInfo,
        "The server id and the X25519 key registrations and rotations are sealed to.";
    /// `POST /v2/accounts` (`201`).
    Register = Post "/v2/accounts" by None: api::RegisterAccount => api::Registered,
        "Register a member: a registration sealed to the server (and an invite).";
    /// `POST /v2/checkin`.
    Checkin = Post "/v2/checkin" by Heartbeat: api::CheckinRequest => api::CheckinReply,
        "Check in: public heartbeat and mode proof (normal or duress; identical replies).";
    /// `PUT /v2/account/keys` (`202`).
    RotateKeys = Put "/v2/account/keys" by Member: api::RotateKeys => api::PolicyReply,
        "Replace the check-in keys by succession (after the cooling-off period).";
    /// `GET /v2/account/reminders`.
    GetReminders = Get "/v2/account/reminders" by Member: NoBody => api::Reminders,
        "The member's reminder offsets and targets.";
    /// `PUT /v2/account/reminders` (`204`).
    SetReminders = Put "/v2/account/reminders" by Member: api::ReminderSettings => NoBody,
        "Set when the member is reminded: seconds before each due time and grace end.";
    /// `GET /v2/account/reminders/targets`.
    ListReminderTargets = Get "/v2/account/reminders/targets" by Member: NoBody => api::EndpointList,
        "List the member's own reminder targets.";
    /// `POST /v2/account/reminders/targets` (`201`).
    AddReminderTarget = Post "/v2/account/reminders/targets" by Member: api::AddEndpoint => api::EndpointAdded,
        "Add a webhook, ntfy or e-mail target for the member's reminders.";
    /// `DELETE /v2/account/reminders/targets/{id}` (`204`).
    RemoveReminderTarget {
        /// The target's id.
        id: u8,
    } = Delete "/v2/account/reminders/targets/{id}" by Member: NoBody => NoBody,
        "Remove a reminder target.";
    /// `POST /v2/account/drills` (`201`): sent with no body (the server also
    /// takes an empty [`api::DrillRequest`]).
    SendDrill = Post "/v2/account/drills" by Member: NoBody => api::DrillReply,
        "Send a drill to every contact (after the dispatch delay).";
    /// `GET /v2/account/drills/latest`.
    LatestDrill = Get "/v2/account/drills/latest" by Member: NoBody => api::DrillStatus,
        "The latest drill, per contact.";
    /// `POST /v2/account/mailboxes` (`204`).
    AddMailbox = Post "/v2/account/mailboxes" by Member: api::AddMailbox => NoBody,
        "Register a contact's mailbox (paired on another of the member's servers) on this server.";
    /// `PUT /v2/account/directory` (`204`).
    PutDirectory = Put "/v2/account/directory" by Member: api::DirectoryUpdate => NoBody,
        "Replace the member's sealed server directory.";
    /// `GET /v2/mailbox/heartbeats`.
    Heartbeats = Get "/v2/mailbox/heartbeats" by Contact: NoBody => api::HeartbeatList,
        "The member's latest public heartbeat (proof of life). Polled.";
    /// `GET /v2/mailbox/directory`.
    GetDirectory = Get "/v2/mailbox/directory" by Contact: NoBody => api::DirectoryReply,
        "The member's sealed server directory.";
    /// `POST /v1/accounts`: retired, always refused.
    RetiredRegister = Post "/v1/accounts" by None: NoBody => IgnoredAny,
        "Retired: 400 protocol_v1_unsupported.";
    /// `GET /v1/account`.
    GetAccount = Get "/v1/account" by Member: NoBody => api::AccountStatus,
        "Status: counter, next deadline, policy, pending changes.";
    /// `DELETE /v1/account` (`202`).
    DeleteAccount = Delete "/v1/account" by Member: NoBody => api::PolicyReply,
        "Delete the account after the cooling-off period.";
    /// `PUT /v1/account/policy` (`200` applied, `202` pending).
    SetPolicy = Put "/v1/account/policy" by Member: api::Policy => api::PolicyReply,
        "Set interval, grace, pause, trips only, contacts and escalation delays.";
    /// `DELETE /v1/account/policy/pending`.
    CancelPendingPolicy = Delete "/v1/account/policy/pending" by Member: NoBody => api::PolicyReply,
        "Drop the policy change waiting out its cooling-off.";
    /// `PUT /v1/account/sealed-alert` (`204`).
    UpdateSealedAlert = Put "/v1/account/sealed-alert" by Member: api::SealedAlertUpdate => NoBody,
        "Replace the sealed alert on record.";
    /// `PUT /v1/account/keys`: retired, always refused.
    RetiredRotateKeys = Put "/v1/account/keys" by None: NoBody => IgnoredAny,
        "Retired: 400 protocol_v1_unsupported.";
    /// `POST /v1/checkin`: retired, always refused.
    RetiredCheckin = Post "/v1/checkin" by None: NoBody => IgnoredAny,
        "Retired: 400 protocol_v1_unsupported.";
    /// `POST /v1/panic`.
    Panic = Post "/v1/panic" by Member: api::PanicRequest => api::PanicReply,
        "Fire a panic alert now.";
    /// `POST /v1/pairings` (`201`).
    CreatePairing = Post "/v1/pairings" by Member: api::CreatePairing => NoBody,
        "Open a pairing relay slot for an invite id.";
    /// `GET /v1/pairings/{invite}`.
    GetPairing {
        /// The invite's id.
        invite: InviteId,
    } = Get "/v1/pairings/{invite}" by Member: NoBody => api::PairingState,
        "Fetch the contact's encrypted enrollment.";
    /// `POST /v1/pairings/{invite}/reply` (`201`).
    AnswerPairing {
        /// The invite's id.
        invite: InviteId,
    } = Post "/v1/pairings/{invite}/reply" by NewMailbox: api::PairingAnswer => NoBody,
        "Answer an invite; registers the contact's mailbox.";
    /// `POST /v1/mailbox/alerts/{alert}/ack` (`204`).
    AckAlert {
        /// The alert.
        alert: AlertId,
    } = Post "/v1/mailbox/alerts/{alert}/ack" by Contact: NoBody => NoBody,
        "Acknowledge an alert; stops escalation.";
    /// `GET /v1/mailbox/alerts/{alert}/deliveries`.
    AlertDeliveries {
        /// The alert.
        alert: AlertId,
    } = Get "/v1/mailbox/alerts/{alert}/deliveries" by Contact: NoBody => api::DeliveryLog,
        "An alert's delivery log.";
    /// `GET /v1/mailbox/endpoints`.
    ListEndpoints = Get "/v1/mailbox/endpoints" by Contact: NoBody => api::EndpointList,
        "List notification endpoints.";
    /// `POST /v1/mailbox/endpoints` (`201`).
    AddEndpoint = Post "/v1/mailbox/endpoints" by Contact: api::AddEndpoint => api::EndpointAdded,
        "Add a webhook, ntfy or e-mail endpoint.";
    /// `DELETE /v1/mailbox/endpoints/{id}` (`204`).
    RemoveEndpoint {
        /// The endpoint's id.
        id: u8,
    } = Delete "/v1/mailbox/endpoints/{id}" by Contact: NoBody => NoBody,
        "Remove a notification endpoint.";
    /// `GET /healthz`.
    Healthz = Get "/healthz" by None: NoBody => api::Health,
        "Liveness.";
    /// `GET /openapi.json`: built from [`ALL`]; not typed here.
    OpenApi = Get "/openapi.json" by None: NoBody => IgnoredAny,
        "This document.";
}

/// `GET /v1/mailbox/alerts`: the mailbox's alerts and notices, with the
/// query `?since=…&wait=…` for a long poll (both or neither).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailboxAlerts {
    /// Wait for changes after `since` (unix ms) for up to `wait` seconds;
    /// `None` reads the mailbox as it is.
    pub poll: Option<(u64, u64)>,
}

impl Route for MailboxAlerts {
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1/mailbox/alerts";
    const AUTH: Auth = Auth::Contact;
    const SUMMARY: &'static str = "Alerts and notices; long-poll with since= and wait=.";
    type Request = NoBody;
    type Reply = api::MailboxContents;

    fn path(&self) -> String {
        match self.poll {
            Some((since, wait)) => format!("{}?since={since}&wait={wait}", Self::PATH),
            None => Self::PATH.to_owned(),
        }
    }
}

/// Every route the server serves (its metrics listener aside), in the order
/// of PROTOCOL.md.
pub const ALL: &[RouteInfo] = &[
    RouteInfo::of::<GetServer>(),
    RouteInfo::of::<Register>(),
    RouteInfo::of::<Checkin>(),
    RouteInfo::of::<RotateKeys>(),
    RouteInfo::of::<GetReminders>(),
    RouteInfo::of::<SetReminders>(),
    RouteInfo::of::<ListReminderTargets>(),
    RouteInfo::of::<AddReminderTarget>(),
    RouteInfo::of::<RemoveReminderTarget>(),
    RouteInfo::of::<SendDrill>(),
    RouteInfo::of::<LatestDrill>(),
    RouteInfo::of::<AddMailbox>(),
    RouteInfo::of::<PutDirectory>(),
    RouteInfo::of::<Heartbeats>(),
    RouteInfo::of::<GetDirectory>(),
    RouteInfo::of::<RetiredRegister>(),
    RouteInfo::of::<GetAccount>(),
    RouteInfo::of::<DeleteAccount>(),
    RouteInfo::of::<SetPolicy>(),
    RouteInfo::of::<CancelPendingPolicy>(),
    RouteInfo::of::<UpdateSealedAlert>(),
    RouteInfo::of::<RetiredRotateKeys>(),
    RouteInfo::of::<RetiredCheckin>(),
    RouteInfo::of::<Panic>(),
    RouteInfo::of::<CreatePairing>(),
    RouteInfo::of::<GetPairing>(),
    RouteInfo::of::<AnswerPairing>(),
    RouteInfo::of::<MailboxAlerts>(),
    RouteInfo::of::<AckAlert>(),
    RouteInfo::of::<AlertDeliveries>(),
    RouteInfo::of::<ListEndpoints>(),
    RouteInfo::of::<AddEndpoint>(),
    RouteInfo::of::<RemoveEndpoint>(),
    RouteInfo::of::<Healthz>(),
    RouteInfo::of::<OpenApi>(),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_method_and_path() {
        for (i, a) in ALL.iter().enumerate() {
            assert!(a.path.starts_with('/'), "{}", a.path);
            for b in &ALL[i + 1..] {
                assert!((a.method, a.path) != (b.method, b.path), "{} {} twice", a.method.as_str(), a.path);
            }
        }
    }

    #[test]
    fn parameters_fill_the_template() {
        let alert = AlertId::from_bytes([0xab; 16]);
        assert_eq!(AckAlert { alert }.path(), format!("/v1/mailbox/alerts/{alert}/ack"));
        let invite = InviteId::from_bytes([1; 16]);
        assert_eq!(AnswerPairing { invite }.path(), format!("/v1/pairings/{invite}/reply"));
        assert_eq!(RemoveEndpoint { id: 3 }.path(), "/v1/mailbox/endpoints/3");
        assert_eq!(RemoveReminderTarget { id: 7 }.path(), "/v2/account/reminders/targets/7");
        assert_eq!(SetPolicy.path(), SetPolicy::PATH);
        assert_eq!(MailboxAlerts { poll: Some((5, 30)) }.path(), "/v1/mailbox/alerts?since=5&wait=30");
        assert_eq!(MailboxAlerts::default().path(), "/v1/mailbox/alerts");
        assert_eq!(RouteInfo::of::<AlertDeliveries>().path_with("x"), "/v1/mailbox/alerts/x/deliveries");
        assert!(!AckAlert::has_body() && !SendDrill::has_body() && SetPolicy::has_body() && Panic::has_body());
    }
}
