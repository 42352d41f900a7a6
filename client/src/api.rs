//! The HTTP client: signs every request as PROTOCOL.md says, retries only
//! idempotent reads, and tells "unreachable" apart from "refused".

use crate::error::ClientError;
use crate::t;
use aman_protocol::api::{ErrorBody, ServerInfo};
use aman_protocol::request::{HEADER_CALLER, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIME};
use aman_protocol::routes::{self, NoBody, Route};
use aman_protocol::{RequestAuth, ServerId, SigningKey};
use reqwest::Method;
use serde::de::DeserializeOwned;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch on this device.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Who signs a request, for which server.
pub struct Signer<'a> {
    /// The server the request is for (bound into the signature).
    pub server: ServerId,
    /// Account or mailbox id.
    pub caller: [u8; 16],
    /// The identity key.
    pub key: &'a SigningKey,
}

/// A client for one server.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    /// The proxy every request goes through, named when it cannot be reached.
    proxy: Option<String>,
}

/// Whether a server may be reached over plain `http://`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainHttp {
    /// Only on this machine (loopback) or to a `.onion` address (Tor
    /// encrypts and authenticates the path itself).
    LoopbackAndOnion,
    /// Anywhere (`--insecure-http`): the network can read and change everything.
    Anywhere,
}

/// Refuses a server URL whose traffic the network could read or change:
/// `https://` always; `http://` only to loopback, a `.onion` address, or
/// with [`PlainHttp::Anywhere`]. A `.onion` address is reached through Tor
/// or not at all: without a `socks5h://` proxy its name would go to the
/// local DNS (telling the network which service is used, and letting
/// whoever answers stand in for it).
pub fn check_server_url(base: &str, plain: PlainHttp, proxy: Option<&str>) -> Result<(), ClientError> {
    if !base.contains("://") {
        return Err(ClientError::State(t!("common-server-no-scheme", address = base)));
    }
    let url = reqwest::Url::parse(base)
        .map_err(|e| ClientError::State(t!("common-server-url-invalid", address = base, error = e.to_string())))?;
    let host = url.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_owned(); // `x.onion.` is `x.onion`
    if host.ends_with(".onion") && !proxy.is_some_and(|p| p.starts_with("socks5h://")) {
        return Err(ClientError::State(t!("common-onion-needs-tor", host = &host)));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if loopback || host.ends_with(".onion") || plain == PlainHttp::Anywhere {
                Ok(())
            } else {
                Err(ClientError::State(t!("common-plain-http-refused", host = &host)))
            }
        }
        other => Err(ClientError::State(t!("common-server-url-bad-scheme", address = base, scheme = other))),
    }
}

/// Refuses a proxy URL that would not be used as one (a typo such as
/// `sock5h://` must never fall back to a direct connection, which would show
/// the member's address to the server and the network).
pub fn check_proxy_url(proxy: &str) -> Result<(), ClientError> {
    let scheme = proxy.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase());
    let host_given = reqwest::Url::parse(proxy).ok().is_some_and(|u| u.host_str().is_some_and(|h| !h.is_empty()));
    match scheme.as_deref() {
        Some("socks5h" | "socks5" | "http" | "https") if host_given => Ok(()),
        _ => Err(ClientError::State(t!("common-proxy-invalid", proxy = proxy))),
    }
}

impl ApiClient {
    /// A client for `base` (e.g. `https://aman.example.org`, or
    /// `http://127.0.0.1:8700`), optionally through a proxy such as
    /// `socks5h://127.0.0.1:9050` (Tor; `.onion` URLs work). Plain http
    /// only to loopback or `.onion`.
    pub fn new(base: &str, proxy: Option<&str>, timeout: Duration) -> Result<Self, ClientError> {
        Self::with_plain_http(base, proxy, timeout, PlainHttp::LoopbackAndOnion)
    }

    /// [`ApiClient::new`], saying where plain http is allowed. Redirects
    /// are never followed: they would carry the signed headers elsewhere.
    pub fn with_plain_http(
        base: &str,
        proxy: Option<&str>,
        timeout: Duration,
        plain: PlainHttp,
    ) -> Result<Self, ClientError> {
        Self::with_options(base, proxy, timeout, plain, None)
    }

    /// [`ApiClient::with_plain_http`], also trusting the certificate
    /// authority `ca_pem` (PEM) for a server with a private certificate.
    pub fn with_options(
        base: &str,
        proxy: Option<&str>,
        timeout: Duration,
        plain: PlainHttp,
        ca_pem: Option<&str>,
    ) -> Result<Self, ClientError> {
        check_server_url(base, plain, proxy)?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(15)))
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("aman");
        if let Some(p) = proxy {
            check_proxy_url(p)?;
            let proxy = reqwest::Proxy::all(p).map_err(|e| ClientError::State(format!("--proxy {p}: {e}")))?;
            builder = builder.proxy(proxy);
        } else {
            builder = builder.no_proxy();
        }
        if let Some(pem) = ca_pem {
            for cert in parse_ca(pem)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http =
            builder.build().map_err(|e| ClientError::State(t!("common-http-client-error", error = e.to_string())))?;
        Ok(ApiClient { http, base: base.trim_end_matches('/').to_owned(), proxy: proxy.map(str::to_owned) })
    }

    /// The server URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends route `R`'s request signed by `signer` and reads its reply;
    /// a read (`GET`) is retried when the server is unreachable or failing.
    pub async fn call<R: Route>(
        &self,
        route: &R,
        body: &R::Request,
        signer: &Signer<'_>,
    ) -> Result<R::Reply, ClientError> {
        debug_assert!(R::AUTH.signed(), "{} is not signed", R::PATH);
        let attempts = if R::METHOD == routes::Method::Get { 3 } else { 1 };
        let (_, reply) =
            self.send_with(method(R::METHOD), &route.path(), encode::<R>(body)?, Some(signer), attempts).await?;
        parse_reply(reply)
    }

    /// Sends route `R`'s unsigned request (server id, registration,
    /// check-in) and reads its reply; retries `attempts` times when the
    /// server is unreachable or failing: only for bodies the server treats
    /// idempotently.
    pub async fn call_unsigned<R: Route>(
        &self,
        route: &R,
        body: &R::Request,
        attempts: u64,
    ) -> Result<R::Reply, ClientError> {
        debug_assert!(!R::AUTH.signed(), "{} is signed", R::PATH);
        let (_, reply) = self.send_with(method(R::METHOD), &route.path(), encode::<R>(body)?, None, attempts).await?;
        parse_reply(reply)
    }

    /// Sends a signed request as given, whatever its path and body, and
    /// returns the status and body of a 2xx: for tests that send what the
    /// route table would not. Everything else uses [`ApiClient::call`].
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        signer: &Signer<'_>,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let attempts = if method == Method::GET { 3 } else { 1 };
        self.send_with(method, path, body, Some(signer), attempts).await
    }

    /// `GET /v2/server`: the server's id and the key to seal to.
    pub async fn server_info(&self) -> Result<ServerInfo, ClientError> {
        self.call_unsigned(&routes::GetServer, &NoBody, 3).await
    }

    async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        signer: Option<&Signer<'_>>,
        attempts: u64,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let mut last = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(300 * attempt)).await;
            }
            let mut request = self
                .http
                .request(method.clone(), format!("{}{}", self.base, path))
                .header("content-type", "application/json")
                .body(body.clone());
            if let Some(signer) = signer {
                // Each attempt is signed afresh: a new nonce, so no replay refusal.
                let auth = RequestAuth::new(signer.server, method.as_str(), path, &body, signer.caller, unix_now())?;
                let h = auth.sign(signer.key);
                request = request
                    .header(HEADER_CALLER, h.caller)
                    .header(HEADER_TIME, h.time)
                    .header(HEADER_NONCE, h.nonce)
                    .header(HEADER_SIGNATURE, h.signature);
            }
            let result = request.send().await;
            match result {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let bytes = resp.bytes().await.map_err(|e| self.unreachable(&e))?.to_vec();
                    if (200..300).contains(&status) {
                        return Ok((status, bytes));
                    }
                    let err: ErrorBody = serde_json::from_slice(&bytes).unwrap_or(ErrorBody {
                        code: "unknown".into(),
                        message: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
                    });
                    // The server's words reach a terminal: nothing in them may drive it.
                    let e = ClientError::Server {
                        status,
                        code: crate::wording::printable(&err.code, 64),
                        message: crate::wording::printable(&err.message, 300),
                    };
                    if status < 500 {
                        return Err(e);
                    }
                    last = Some(e);
                }
                Err(e) => last = Some(self.unreachable(&e)),
            }
        }
        Err(last.unwrap_or_else(|| ClientError::State(t!("common-no-attempt"))))
    }

    fn unreachable(&self, e: &reqwest::Error) -> ClientError {
        let reason = if e.is_timeout() {
            t!("common-reason-timed-out")
        } else if is_certificate_error(e) {
            t!("common-reason-certificate", cause = root_cause(e))
        } else if e.is_connect() {
            match &self.proxy {
                Some(proxy) => t!("common-reason-proxy-failed", proxy = without_credentials(proxy)),
                None => t!("common-reason-connection-failed"),
            }
        } else {
            root_cause(e)
        };
        ClientError::Unreachable { url: self.base.clone(), reason }
    }

    /// `GET /healthz`: is the server there at all?
    pub async fn health(&self) -> Result<(), ClientError> {
        let resp = self
            .http
            .get(format!("{}{}", self.base, routes::Healthz::PATH))
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(ClientError::Unreachable {
                url: self.base.clone(),
                reason: t!("common-reason-health-check", status = resp.status().to_string()),
            })
        }
    }
}

/// A proxy URL with any user name and password taken out, for messages.
pub fn without_credentials(proxy: &str) -> String {
    match reqwest::Url::parse(proxy) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string().trim_end_matches('/').to_owned()
        }
        _ => proxy.to_owned(),
    }
}

/// The certificates in a PEM text, or a clear error: a CA file that holds
/// none would otherwise leave the server untrusted with no word why.
pub fn parse_ca(pem: &str) -> Result<Vec<reqwest::Certificate>, ClientError> {
    let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
        .map_err(|e| ClientError::State(t!("common-ca-not-pem", error = e.to_string())))?;
    if certs.is_empty() {
        return Err(ClientError::State(t!("common-ca-empty")));
    }
    Ok(certs)
}

/// The innermost cause, which says what went wrong (reqwest's own message
/// is "error sending request").
fn root_cause(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

fn is_certificate_error(e: &reqwest::Error) -> bool {
    let text = root_cause(e).to_ascii_lowercase();
    text.contains("certificate") || text.contains("unknownissuer")
}

/// The method of the table as reqwest names it.
fn method(method: routes::Method) -> Method {
    match method {
        routes::Method::Get => Method::GET,
        routes::Method::Put => Method::PUT,
        routes::Method::Post => Method::POST,
        routes::Method::Delete => Method::DELETE,
    }
}

/// A request's bytes: its envelope as JSON, or nothing for [`NoBody`].
fn encode<R: Route>(body: &R::Request) -> Result<Vec<u8>, ClientError> {
    if !R::has_body() {
        return Ok(Vec::new());
    }
    serde_json::to_vec(body).map_err(|e| ClientError::State(e.to_string()))
}

fn parse_reply<R: DeserializeOwned>(reply: Vec<u8>) -> Result<R, ClientError> {
    let reply = if reply.is_empty() { b"null".to_vec() } else { reply };
    serde_json::from_slice(&reply).map_err(|e| ClientError::State(t!("common-unexpected-reply", error = e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_where_the_network_cannot_read_it() {
        let tor = Some("socks5h://127.0.0.1:9050");
        for ok in ["https://aman.example.org", "http://127.0.0.1:8700", "http://[::1]:1", "http://localhost:8700"] {
            assert!(check_server_url(ok, PlainHttp::LoopbackAndOnion, None).is_ok(), "{ok}");
        }
        assert!(check_server_url("http://abcdefghij.onion", PlainHttp::LoopbackAndOnion, tor).is_ok());
        for refused in ["http://aman.example.org", "http://10.0.0.1:8700", "http://onion.example", "ftp://x/"] {
            assert!(check_server_url(refused, PlainHttp::LoopbackAndOnion, None).is_err(), "{refused}");
        }
        // An onion address without Tor, or through a proxy that resolves locally.
        for proxy in [None, Some("socks5://127.0.0.1:9050"), Some("http://127.0.0.1:8080")] {
            assert!(check_server_url("http://abcdefghij.onion", PlainHttp::Anywhere, proxy).is_err(), "{proxy:?}");
            assert!(check_server_url("https://abcdefghij.onion./", PlainHttp::Anywhere, proxy).is_err(), "{proxy:?}");
        }
        assert!(check_server_url("http://aman.example.org", PlainHttp::Anywhere, None).is_ok());
        let no_scheme = check_server_url("aman.example.org", PlainHttp::LoopbackAndOnion, None).unwrap_err();
        assert!(no_scheme.to_string().contains("https://aman.example.org"), "{no_scheme}");
        assert!(check_server_url("ftp://x/", PlainHttp::Anywhere, None).is_err());
    }

    #[test]
    fn a_mistyped_proxy_is_an_error_not_a_direct_connection() {
        for ok in ["socks5h://127.0.0.1:9050", "socks5://127.0.0.1:9050", "http://proxy.example:3128"] {
            assert!(check_proxy_url(ok).is_ok(), "{ok}");
        }
        for bad in ["sock5h://127.0.0.1:9050", "127.0.0.1:9050", "socks5h://", "tor"] {
            assert!(check_proxy_url(bad).is_err(), "{bad}");
            assert!(ApiClient::new("https://aman.example.org", Some(bad), Duration::from_secs(1)).is_err(), "{bad}");
        }
    }
}
