//! The loopback redirect listener (RFC 8252 section 7.3; SECURITY-CASES 12
//! and 13).
//!
//! Why: a native app receives the authorization response on a local port.
//! That port is reachable by every local program and by any web page the
//! browser shows, so it is kept as small as possible: 127.0.0.1 only, an
//! ephemeral port, open only while flows wait. One listener serves every
//! flow of one sign-in (several servers' pages may come back in any order
//! and at once); it closes when the sign-in ends, when the last flow
//! waiting at its address has ended, or after a timeout. A request to another path or with
//! another `Host` (DNS rebinding) gets 400 and never reaches the pending
//! flows, so it cannot consume a state. The pages it sends are
//! self-contained, load nothing, and send no referrer (the URL holds the
//! code).

use crate::clock::Clock;
use crate::flows::Flows;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::future::IntoFuture as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};

/// The path of the redirect URI.
pub const CALLBACK_PATH: &str = "/callback";

/// How long open connections may finish after the listener stops accepting.
const DRAIN: Duration = Duration::from_secs(2);

/// Why [`LoopbackListener::serve`] or [`LoopbackListener::serve_until`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerEnd {
    /// A callback ended the last flow waiting at this address; the port is closed.
    Delivered,
    /// The sign-in it served ended; the port is closed.
    Finished,
    /// No callback ended a flow in time; the port is closed.
    TimedOut,
}

/// The listener: bound to 127.0.0.1 on an ephemeral port, not yet serving.
#[derive(Debug)]
pub struct LoopbackListener {
    listener: TcpListener,
    addr: SocketAddr,
}

const PAGE_OK: &str = "<!doctype html><html lang=en><meta charset=utf-8><title>MCP Passport</title>\
<body style=\"font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem\">\
<h1>MCP Passport received the answer</h1><p>You can close this tab and return to MCP Passport.</p></body></html>";

const PAGE_FAIL: &str = "<!doctype html><html lang=en><meta charset=utf-8><title>MCP Passport</title>\
<body style=\"font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem\">\
<h1>This request was not accepted</h1><p>No sign-in was waiting for it. Return to MCP Passport \
and start the sign-in again if needed.</p></body></html>";

struct Shared {
    flows: Arc<Flows>,
    clock: Arc<dyn Clock>,
    /// `127.0.0.1:PORT`, the only accepted `Host`.
    host: String,
    delivered: Notify,
}

impl LoopbackListener {
    /// Binds 127.0.0.1 on an ephemeral port (never another address).
    pub async fn bind() -> std::io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        Ok(Self { listener, addr })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The redirect URI to send to the AS: `http://127.0.0.1:PORT/callback`.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.addr.port())
    }

    /// Serves until a callback ends the last flow registered for this
    /// listener's redirect URI (through [`Flows::deliver`]), or `timeout`
    /// passes; then the port is closed before this returns.
    pub async fn serve(
        self,
        flows: Arc<Flows>,
        clock: Arc<dyn Clock>,
        timeout: Duration,
    ) -> ListenerEnd {
        self.run(flows, clock, timeout, None::<std::future::Pending<()>>)
            .await
    }

    /// Serves every flow's callback until `done` completes (the sign-in
    /// ended) or `timeout` passes; then the port is closed before this
    /// returns. Flows may register and end in any order meanwhile.
    pub async fn serve_until(
        self,
        flows: Arc<Flows>,
        clock: Arc<dyn Clock>,
        timeout: Duration,
        done: impl std::future::Future<Output = ()>,
    ) -> ListenerEnd {
        self.run(flows, clock, timeout, Some(done)).await
    }

    async fn run(
        self,
        flows: Arc<Flows>,
        clock: Arc<dyn Clock>,
        timeout: Duration,
        done: Option<impl std::future::Future<Output = ()>>,
    ) -> ListenerEnd {
        let redirect_uri = self.redirect_uri();
        let shared = Arc::new(Shared {
            flows,
            clock,
            host: format!("127.0.0.1:{}", self.addr.port()),
            delivered: Notify::new(),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = axum::serve(self.listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .into_future();
        let mut server = std::pin::pin!(server);
        let until_delivered = done.is_none();
        let finished = async {
            match done {
                Some(done) => done.await,
                None => std::future::pending().await,
            }
        };
        let last_delivered = async {
            loop {
                shared.delivered.notified().await;
                if until_delivered && shared.flows.pending_for(&redirect_uri) == 0 {
                    return;
                }
            }
        };
        let end = tokio::select! {
            () = finished => ListenerEnd::Finished,
            () = last_delivered => ListenerEnd::Delivered,
            () = tokio::time::sleep(timeout) => ListenerEnd::TimedOut,
            result = &mut server => {
                if let Err(e) = result {
                    tracing::warn!("loopback listener stopped: {e}");
                }
                return ListenerEnd::TimedOut;
            }
        };
        // Stop accepting (the listening socket is dropped at once), let the
        // answers in flight reach the browser, then give up on stragglers.
        let _ = stop.send(());
        if tokio::time::timeout(DRAIN, &mut server).await.is_err() {
            tracing::debug!("loopback listener: a connection outlived the drain time");
        }
        end
    }
}

/// Runs one sign-in whose browser comes back to a loopback redirect, the
/// same way for the command line, the broker's admin API and the app:
/// binds 127.0.0.1 first (so no redirect can arrive while nothing listens),
/// gives `sign_in` the redirect URI, serves every callback while it runs
/// (all its flows share the one port, in any order), and closes the port
/// when it ends however it ends, also when its future is dropped (a
/// cancelled sign-in). The only error is the bind's; the caller words it
/// for its user.
pub async fn sign_in_via_loopback<T, F, Fut>(
    flows: Arc<Flows>,
    clock: Arc<dyn Clock>,
    timeout: Duration,
    sign_in: F,
) -> std::io::Result<T>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let listener = LoopbackListener::bind().await?;
    let redirect_uri = listener.redirect_uri();
    let (ended, done) = oneshot::channel::<()>();
    let serving = listener.serve_until(flows, clock, timeout, async move {
        let _ = done.await;
    });
    let signing = async move {
        let out = sign_in(redirect_uri).await;
        drop(ended);
        out
    };
    let (out, _) = tokio::join!(signing, serving);
    Ok(out)
}

/// Whether the request is addressed to exactly `127.0.0.1:PORT`.
fn host_ok(headers: &HeaderMap, uri: &Uri, expected: &str) -> bool {
    let mut hosts = headers.get_all(header::HOST).iter();
    let single = match (hosts.next(), hosts.next()) {
        (Some(host), None) => host.as_bytes() == expected.as_bytes(),
        _ => false,
    };
    let absolute_ok = match uri.authority() {
        Some(authority) => authority.as_str() == expected && uri.scheme_str() == Some("http"),
        None => uri.scheme().is_none(),
    };
    single && absolute_ok
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if method != Method::GET
        || uri.path() != CALLBACK_PATH
        || !host_ok(&headers, &uri, &shared.host)
    {
        tracing::info!("loopback request refused: wrong method, path or host");
        return page(StatusCode::BAD_REQUEST, PAGE_FAIL);
    }
    let url = match uri.query() {
        Some(query) => format!("http://{}{CALLBACK_PATH}?{query}", shared.host),
        None => format!("http://{}{CALLBACK_PATH}", shared.host),
    };
    match shared.flows.deliver(&url, shared.clock.now()) {
        Ok(()) => {
            shared.delivered.notify_one();
            page(StatusCode::OK, PAGE_OK)
        }
        Err(_) => page(StatusCode::BAD_REQUEST, PAGE_FAIL),
    }
}

/// A self-contained page with headers that keep it from leaking the URL or
/// loading anything.
fn page(status: StatusCode, body: &'static str) -> Response {
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    ];
    (status, headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_load_nothing_from_elsewhere() {
        for body in [PAGE_OK, PAGE_FAIL] {
            for needle in [
                "http:", "https:", "//", "src=", "href=", "<script", "<link", "url(",
            ] {
                assert!(!body.contains(needle), "{needle}");
            }
        }
        assert!(PAGE_OK.contains("You can close this tab and return to MCP Passport"));
    }

    #[test]
    fn host_must_be_exactly_the_bound_address() {
        let expected = "127.0.0.1:5000";
        let with = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append(
                    header::HOST,
                    HeaderValue::from_str(v).unwrap_or_else(|e| panic!("{e}")),
                );
            }
            h
        };
        let origin_form: Uri = "/callback?x=1".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(host_ok(&with(&[expected]), &origin_form, expected));
        assert!(!host_ok(&with(&[]), &origin_form, expected));
        assert!(!host_ok(&with(&["localhost:5000"]), &origin_form, expected));
        assert!(!host_ok(&with(&["127.0.0.1"]), &origin_form, expected));
        assert!(!host_ok(
            &with(&[expected, expected]),
            &origin_form,
            expected
        ));
        let absolute: Uri = "http://evil.example/callback"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!host_ok(&with(&[expected]), &absolute, expected));
    }
}
