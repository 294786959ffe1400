//! A fault proxy in front of the reference AS: the address clients know as
//! the issuer, switchable at run time between passing requests through and
//! one of the faults an authorization server (or what stands in front of
//! it) can show. While it passes requests, it records every secret the AS
//! hands out (access, refresh and client secrets), so the tests can prove
//! none of them reached the disk; and it notes when each token request
//! arrived, so the tests can see whether refreshes back off.
//!
//! The faults other than `Stall` are answered by the proxy itself: the AS
//! never sees the request, as when a gateway or a failing front end answers.
//! HTTP/1.1 only, one request per connection (`Connection: close`): enough
//! for the engine's and the sample servers' clients.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the proxy does with the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward to the AS.
    Pass,
    /// Nothing listens: connections are refused.
    Refuse,
    /// Read the request, wait 10 s, close without an answer.
    Stall,
    /// Answer with this status and a plain-text body.
    Status(u16),
    /// Announce a token response's length, send half of it, close.
    Truncated,
    /// `200` with an HTML page.
    NotJson,
    /// `200` with a token response that lacks this field.
    Missing(&'static str),
    /// `302` to another host.
    RedirectAway,
}

/// A running fault proxy.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accepting: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    upstream: Mutex<SocketAddr>,
    fault: Mutex<Fault>,
    secrets: Mutex<Vec<String>>,
    token_requests: Mutex<Vec<Instant>>,
    http: reqwest::Client,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream: Mutex::new(upstream),
            fault: Mutex::new(Fault::Pass),
            secrets: Mutex::default(),
            token_requests: Mutex::default(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        });
        let accepting = tokio::spawn(accept(listener, Arc::clone(&shared)));
        Self {
            addr,
            shared,
            accepting: Mutex::new(Some(accepting)),
        }
    }

    /// The proxy's URL (the issuer clients see).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Points the proxy at another AS listener (after a restart).
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *lock(&self.shared.upstream) = upstream;
    }

    /// Switches the fault; `Refuse` closes the listening socket, anything
    /// else opens it again on the same port.
    pub async fn set(&self, fault: Fault) {
        *lock(&self.shared.fault) = fault;
        let running = lock(&self.accepting).take();
        if fault == Fault::Refuse {
            if let Some(task) = running {
                task.abort();
                let _ = task.await;
            }
            return;
        }
        let task = match running {
            Some(task) => task,
            None => {
                let mut tries = 0;
                let listener = loop {
                    match TcpListener::bind(self.addr).await {
                        Ok(l) => break l,
                        Err(_) if tries < 50 => {
                            tries += 1;
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        Err(e) => panic!("cannot listen on {} again: {e}", self.addr),
                    }
                };
                tokio::spawn(accept(listener, Arc::clone(&self.shared)))
            }
        };
        *lock(&self.accepting) = Some(task);
    }

    /// Every access token, refresh token and client secret the AS sent
    /// through the proxy so far.
    pub fn secrets(&self) -> Vec<String> {
        lock(&self.shared.secrets).clone()
    }

    /// When each `POST /token` reached the proxy, faulted or not.
    pub fn token_requests(&self) -> Vec<Instant> {
        lock(&self.shared.token_requests).clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.accepting).take() {
            task.abort();
        }
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(handle(stream, Arc::clone(&shared)));
    }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

async fn respond(stream: &mut TcpStream, status: u16, headers: &[(String, String)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let _ = stream.shutdown().await;
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn json_header() -> Vec<(String, String)> {
    vec![("content-type".into(), "application/json".into())]
}

async fn handle(mut stream: TcpStream, shared: Arc<Shared>) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    if request.method == "POST" && request.path.starts_with("/token") {
        lock(&shared.token_requests).push(Instant::now());
    }
    let fault = *lock(&shared.fault);
    let canned = serde_json::json!({
        "access_token": "canned.by.the.fault.proxy", "token_type": "Bearer",
        "expires_in": 60, "refresh_token": "canned-by-the-fault-proxy", "scope": "mcp:global"
    });
    match fault {
        Fault::Pass | Fault::Refuse => forward(&mut stream, &shared, request).await,
        Fault::Stall => tokio::time::sleep(Duration::from_secs(10)).await,
        Fault::Status(status) => {
            let headers = vec![("content-type".to_string(), "text/plain".to_string())];
            respond(&mut stream, status, &headers, b"the service is failing").await;
        }
        Fault::Truncated => {
            let body = canned.to_string();
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&body.as_bytes()[..body.len() / 2]).await;
            let _ = stream.shutdown().await;
        }
        Fault::NotJson => {
            let headers = vec![("content-type".to_string(), "text/html".to_string())];
            respond(
                &mut stream,
                200,
                &headers,
                b"<html><body>Sign in</body></html>",
            )
            .await;
        }
        Fault::Missing(field) => {
            let mut body = canned;
            if let Some(map) = body.as_object_mut() {
                map.remove(field);
            }
            respond(
                &mut stream,
                200,
                &json_header(),
                body.to_string().as_bytes(),
            )
            .await;
        }
        Fault::RedirectAway => {
            let headers = vec![(
                "location".to_string(),
                format!("http://attacker.example{}", request.path),
            )];
            respond(&mut stream, 302, &headers, b"").await;
        }
    }
}

async fn forward(stream: &mut TcpStream, shared: &Shared, request: Request) {
    let upstream = *lock(&shared.upstream);
    let url = format!("http://{upstream}{}", request.path);
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).unwrap();
    let mut outgoing = shared.http.request(method, url).body(request.body);
    for (k, v) in &request.headers {
        if !matches!(k.as_str(), "host" | "connection" | "content-length") {
            outgoing = outgoing.header(k.as_str(), v.as_str());
        }
    }
    let Ok(response) = outgoing.send().await else {
        respond(stream, 502, &[], b"").await;
        return;
    };
    let status = response.status().as_u16();
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "content-length" | "connection" | "transfer-encoding"
            )
        })
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let body = response.bytes().await.unwrap_or_default();
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) {
        let mut secrets = lock(&shared.secrets);
        for field in ["access_token", "refresh_token", "client_secret"] {
            if let Some(s) = value[field].as_str() {
                secrets.push(s.to_string());
            }
        }
    }
    respond(stream, status, &headers, &body).await;
}
