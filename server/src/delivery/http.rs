//! Outbound HTTP for webhook and ntfy notifications, over hyper with rustls
//! (the server does not use the client's reqwest).

use hyper::body::Bytes;
use hyper_rustls::ConfigBuilderExt;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::Duration;

/// How long one notification attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);

type Body = http_body_util::Full<Bytes>;

/// A shared HTTP(S) client.
#[derive(Clone, Debug)]
pub struct HttpSender {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Body>,
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
    /// Builds the client with the webpki roots and the ring provider.
    pub fn new() -> Result<Self, String> {
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_webpki_roots()
            .with_no_client_auth();
        let https =
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config).https_or_http().enable_http1().build();
        Ok(HttpSender { client: Client::builder(TokioExecutor::new()).build(https) })
    }

    /// POSTs `body` with `headers`; returns the status code.
    pub async fn post(&self, url: &str, headers: &[(&str, String)], body: Vec<u8>) -> Result<u16, TransportError> {
        let mut req = hyper::Request::post(url);
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        let req = req.body(Body::new(Bytes::from(body))).map_err(|e| TransportError::Invalid(e.to_string()))?;
        match tokio::time::timeout(ATTEMPT_TIMEOUT, self.client.request(req)).await {
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
