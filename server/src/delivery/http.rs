//! Outbound HTTP for webhook and ntfy notifications, over hyper with rustls
//! (the server does not use the client's reqwest). Every attempt connects to
//! the addresses its target was vetted with, and to no others: the name is
//! never looked up again between the check and the connection.

use hyper::body::Bytes;
use hyper_rustls::ConfigBuilderExt;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long one notification attempt may take, all told.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);

/// How long connecting (TCP) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

type Body = http_body_util::Full<Bytes>;

/// The TLS settings every attempt shares.
#[derive(Clone, Debug)]
pub struct HttpSender {
    tls: Arc<rustls::ClientConfig>,
}

/// Why an attempt did not get an HTTP status.
#[derive(Debug)]
pub enum TransportError {
    /// The request could not be built (bad URL): permanent.
    Invalid(String),
    /// Connection, TLS or timeout: transient.
    Network(String),
}

impl HttpSender {
    /// Builds the TLS settings with the webpki roots and the ring provider.
    pub fn new() -> Result<Self, String> {
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_webpki_roots()
            .with_no_client_auth();
        Ok(HttpSender { tls: Arc::new(config) })
    }

    /// POSTs `body` with `headers` to `url`, connecting only to `addrs`
    /// (the addresses the URL's host was vetted with); returns the status.
    pub async fn post_to(
        &self,
        url: &str,
        addrs: &[SocketAddr],
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<u16, TransportError> {
        let pinned = addrs.to_vec();
        let resolver = tower::service_fn(move |_: Name| {
            let addrs = pinned.clone();
            async move { Ok::<_, Infallible>(addrs.into_iter()) }
        });
        let mut tcp = HttpConnector::new_with_resolver(resolver);
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*self.tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client: Client<_, Body> = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(https);
        let mut req = hyper::Request::post(url);
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        let req = req.body(Body::new(Bytes::from(body))).map_err(|e| TransportError::Invalid(e.to_string()))?;
        match tokio::time::timeout(ATTEMPT_TIMEOUT, client.request(req)).await {
            Ok(Ok(resp)) => Ok(resp.status().as_u16()),
            Ok(Err(e)) => Err(TransportError::Network(if e.is_connect() {
                "connect error".into()
            } else {
                "request error".into()
            })),
            Err(_) => Err(TransportError::Network("timed out".into())),
        }
    }
}
