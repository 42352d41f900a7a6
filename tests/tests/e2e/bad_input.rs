//! Malformed requests over real HTTP: each gets a 4xx with a stable code,
//! and the server stays healthy.

use super::server_env;
use aman_client::api::{ApiClient, Signer};
use aman_client::ClientError;
use aman_protocol::routes::{self, Route};
use aman_tests::{Member, ServerProcess};
use reqwest::Method;
use std::io::{Read, Write};
use std::time::Duration;

fn raw(addr: &str, request: &[u8]) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

async fn refused(api: &ApiClient, method: Method, path: &str, body: Vec<u8>, signer: &Signer<'_>) -> (u16, String) {
    match api.send(method, path, body, signer).await {
        Err(ClientError::Server { status, code, .. }) => (status, code),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_over_http_get_stable_codes_and_the_server_stays_up() {
    let _shared = super::LOAD.read().await;
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[]));
    let addr = server.url.trim_start_matches("http://").to_owned();
    let api = ApiClient::new(&server.url, None, Duration::from_secs(10)).unwrap();
    let mut m = Member::new();
    m.register(&api).await.unwrap();
    let s = m.signer();

    assert_eq!(
        refused(&api, Method::POST, routes::Checkin::PATH, b"{oops".to_vec(), &s).await,
        (400, "malformed_json".into())
    );
    assert_eq!(
        refused(&api, Method::POST, routes::Checkin::PATH, br#"{"heartbeat":"@@@","proof":""}"#.to_vec(), &s).await,
        (400, "bad_encoding".into())
    );
    assert_eq!(
        refused(&api, Method::POST, routes::Checkin::PATH, br#"{"heartbeat":"AAAA","proof":"AAAA"}"#.to_vec(), &s)
            .await,
        (401, "unauthorized".into())
    );
    assert_eq!(
        refused(&api, Method::POST, routes::Checkin::PATH, vec![b'x'; 100 * 1024], &s).await,
        (413, "body_too_large".into())
    );
    // A version-1 client is told to update, not left guessing.
    assert_eq!(
        refused(&api, Method::POST, routes::RetiredCheckin::PATH, br#"{"checkin":"AAAA"}"#.to_vec(), &s).await,
        (400, "protocol_v1_unsupported".into())
    );
    assert_eq!(refused(&api, Method::GET, "/v1/pairings/zz", Vec::new(), &s).await, (400, "bad_encoding".into()));
    let stranger = Member::new();
    assert_eq!(
        refused(&api, Method::GET, routes::GetAccount::PATH, Vec::new(), &stranger.signer()).await,
        (401, "unauthorized".into())
    );

    let unsigned =
        raw(&addr, b"POST /v1/panic HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}");
    assert!(unsigned.starts_with("HTTP/1.1 401"), "{unsigned}");
    assert!(unsigned.contains("\"code\":\"missing_auth\""), "{unsigned}");
    let garbage = raw(&addr, b"\x16\x03\x01 this is not http\r\n\r\n");
    assert!(garbage.is_empty() || garbage.starts_with("HTTP/1.1 4"), "{garbage}");
    let bad_time = raw(
        &addr,
        format!(
            "GET /v1/account HTTP/1.1\r\nhost: x\r\naman-caller: {}\r\naman-time: -1\r\naman-nonce: AAAAAAAAAAAAAAAAAAAAAA\r\naman-signature: AAAA\r\nconnection: close\r\n\r\n",
            m.account
        )
        .as_bytes(),
    );
    assert!(bad_time.starts_with("HTTP/1.1 400") && bad_time.contains("bad_encoding"), "{bad_time}");

    let health = raw(&addr, b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert_eq!(m.status(&api).await.unwrap().counter, 0, "nothing was stored");
}
