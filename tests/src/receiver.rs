//! A minimal HTTP/1.1 webhook receiver on 127.0.0.1 that records each
//! request's idempotency key and body.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One received request.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The `idempotency-key` header.
    pub idempotency_key: String,
    /// The JSON body (`Null` when the body is not JSON).
    pub body: serde_json::Value,
    /// The raw body.
    pub raw: Vec<u8>,
    /// Every header, names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
    /// When it arrived.
    pub at: Instant,
    /// When it arrived, wall clock (unix milliseconds).
    pub unix_ms: u64,
}

/// A running receiver.
#[derive(Debug, Clone)]
pub struct Receiver {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Receiver {
    /// Listens on `addr` (`127.0.0.1:0` for any port) and answers 200.
    pub async fn start(addr: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let sink = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let sink = sink.clone();
                tokio::spawn(async move {
                    loop {
                        let mut buf = Vec::new();
                        let mut chunk = [0u8; 4096];
                        let header_end = loop {
                            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                break i + 4;
                            }
                            match stream.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
                        let header = |name: &str| {
                            head.lines().find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim().to_owned()))
                        };
                        let len: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
                        while buf.len() < header_end + len {
                            match stream.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let raw = buf[header_end..header_end + len].to_vec();
                        let body = serde_json::from_slice(&raw).unwrap_or(serde_json::Value::Null);
                        let headers = head
                            .lines()
                            .skip(1)
                            .filter_map(|l| l.split_once(':'))
                            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                            .collect();
                        let key = header("idempotency-key").unwrap_or_default();
                        let unix_ms = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_millis() as u64)
                            .unwrap_or(0);
                        sink.lock().unwrap().push(Hit {
                            idempotency_key: key,
                            body,
                            raw,
                            headers,
                            at: Instant::now(),
                            unix_ms,
                        });
                        if stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Ok(Receiver { url, hits })
    }

    /// Everything received so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Waits until `pred` holds over the hits, or `within` passes.
    pub async fn await_hits(&self, within: Duration, pred: impl Fn(&[Hit]) -> bool) -> Vec<Hit> {
        let start = Instant::now();
        loop {
            let hits = self.hits();
            if pred(&hits) || start.elapsed() > within {
                return hits;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
