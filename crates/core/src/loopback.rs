//! The loopback redirect listener (RFC 8252 section 7.3): 127.0.0.1 on an
//! ephemeral port, open only while a flow waits, closed after one accepted
//! callback or a timeout. A request to another path or with another `Host`
//! gets 400 and does not touch the pending flow. The pages it sends load
//! nothing and send no referrer.

use crate::clock::Clock;
use crate::flows::Flows;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// How the listener ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerEnd {
    /// A callback ended a flow.
    Delivered,
    /// No callback came in time.
    TimedOut,
}

/// The listener, bound and not yet serving.
#[derive(Debug)]
pub struct LoopbackListener {
    listener: TcpListener,
    addr: SocketAddr,
}

const PAGE_OK: &str = "<!doctype html><meta charset=utf-8><title>Signed in</title><body style=\"font-family:system-ui;max-width:30rem;margin:4rem auto\"><h1>You are signed in</h1><p>You can close this tab and return to MCP Passport.</p>";
const PAGE_FAIL: &str = "<!doctype html><meta charset=utf-8><title>Sign-in not completed</title><body style=\"font-family:system-ui;max-width:30rem;margin:4rem auto\"><h1>This sign-in was not completed</h1><p>Return to MCP Passport and start the sign-in again.</p>";

impl LoopbackListener {
    /// Binds 127.0.0.1 on an ephemeral port.
    pub async fn bind() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        Ok(Self { listener, addr })
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT/callback`.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.addr.port())
    }

    /// Serves until one callback ends a flow or `timeout` passes; then the port closes.
    pub async fn serve(
        self,
        flows: Arc<Flows>,
        clock: Arc<dyn Clock>,
        timeout: Duration,
    ) -> ListenerEnd {
        let host = format!("127.0.0.1:{}", self.addr.port());
        let work = async {
            loop {
                let Ok((mut stream, _)) = self.listener.accept().await else {
                    continue;
                };
                let delivered = handle(&mut stream, &host, &flows, clock.as_ref()).await;
                let _ = stream.shutdown().await;
                if delivered {
                    return ListenerEnd::Delivered;
                }
            }
        };
        tokio::time::timeout(timeout, work)
            .await
            .unwrap_or(ListenerEnd::TimedOut)
    }
}

/// Reads one request head (bounded), answers it; true when a flow ended.
async fn handle(
    stream: &mut tokio::net::TcpStream,
    host: &str,
    flows: &Flows,
    clock: &dyn Clock,
) -> bool {
    let mut buf = vec![0u8; 32 * 1024];
    let mut len = 0;
    let head_end = loop {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf[len..])).await;
        match read {
            Ok(Ok(n)) if n > 0 => len += n,
            _ => return false,
        }
        if let Some(i) = buf[..len].windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if len == buf.len() {
            respond(stream, 431, PAGE_FAIL).await;
            return false;
        }
    };
    let Ok(head) = std::str::from_utf8(&buf[..head_end]) else {
        respond(stream, 400, PAGE_FAIL).await;
        return false;
    };
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let (method, target) = (
        request_line.next().unwrap_or_default(),
        request_line.next().unwrap_or_default(),
    );
    let hosts: Vec<&str> = lines
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.trim())
        .collect();
    let path = target.split('?').next().unwrap_or_default();
    if method != "GET" || path != "/callback" || hosts != [host] {
        respond(stream, 400, PAGE_FAIL).await;
        return false;
    }
    let url = format!("http://{host}{target}");
    match flows.deliver(&url, clock.now()) {
        Ok(()) => {
            respond(stream, 200, PAGE_OK).await;
            true
        }
        Err(_) => {
            respond(stream, 400, PAGE_FAIL).await;
            false
        }
    }
}

async fn respond(stream: &mut tokio::net::TcpStream, status: u16, body: &str) {
    let reason = match status {
        200 => "OK",
        431 => "Request Header Fields Too Large",
        _ => "Bad Request",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\nReferrer-Policy: no-referrer\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
}
