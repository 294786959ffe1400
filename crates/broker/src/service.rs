//! The endpoint's connections: an HTTP/1.1 server on the loopback listener
//! whose one service runs the guard on every request, answers the two hot
//! routes itself, without the router: the token route (one lookup in
//! memory, one buffer, one audit push) and the proxy (every MCP message a
//! local client sends), keeps the admin API to the CLI's own key, and hands
//! everything else to the router with the caller's key attached.
//!
//! Stopping stops accepting, lets each connection finish the request in
//! flight, and gives long streams a few seconds before they are dropped.
//!
//! Any local process can open sockets here, so no client may exhaust the
//! broker: a request's headers must arrive within [`HEADER_READ`] (a socket
//! that sends nothing, sends slowly, or idles between keep-alive requests is
//! closed); at most [`MAX_CONNECTIONS`] are open at once (beyond that the
//! broker waits before accepting more, so it never runs out of file
//! descriptors); and of the connections that have not sent a request yet,
//! only the newest [`MAX_WAITING`] are kept, so a client that opens
//! hundreds of silent sockets pushes out its own oldest ones, not the next
//! well-behaved client.
//!
//! Every response the broker writes itself says `Cache-Control: no-store`:
//! the token route's carries a token, and none of the others is worth
//! keeping either.

use crate::BrokerState;
use crate::guard::{self, Refusal};
use crate::proxy::{self, UpstreamBody};
use crate::routes;
use axum::Router;
use axum::body::{Body, Bytes};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

/// A response body: a whole buffer (token route, refusals), an upstream
/// body passed on as it arrives (proxy), or the router's body.
pub type ResponseBody = Either<Full<Bytes>, Either<UpstreamBody, Body>>;

/// How long open streams may run on once the broker stops.
const DRAIN: Duration = Duration::from_secs(5);

/// How long a request's headers may take to arrive, counted from the
/// connection's start or from the end of its previous response.
pub const HEADER_READ: Duration = Duration::from_secs(5);

/// Connections open at once; the broker waits before accepting more.
pub const MAX_CONNECTIONS: usize = 512;

/// Connections kept that have not sent a request yet; a new one pushes out
/// the oldest.
pub const MAX_WAITING: usize = 64;

/// One connection's standing in the waiting line.
#[derive(Debug, Default)]
struct Slot {
    /// It has sent a request.
    started: AtomicBool,
    /// Told when it is pushed out of the line.
    evict: Notify,
}

/// The connections that have not sent a request yet, oldest first.
#[derive(Debug, Default)]
struct Waiting(Mutex<VecDeque<Arc<Slot>>>);

impl Waiting {
    /// Puts `slot` in line, pushing out the oldest beyond [`MAX_WAITING`].
    fn admit(&self, slot: Arc<Slot>) {
        let mut line = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        line.retain(|s| !s.started.load(Ordering::Relaxed) && Arc::strong_count(s) > 1);
        while line.len() >= MAX_WAITING {
            if let Some(oldest) = line.pop_front() {
                oldest.evict.notify_one();
            }
        }
        line.push_back(slot);
    }
}

/// Resolves when `slot` was pushed out of the line before it sent a request.
async fn evicted(slot: &Slot) {
    slot.evict.notified().await;
    if slot.started.load(Ordering::Relaxed) {
        std::future::pending::<()>().await;
    }
}

/// Serves `listener` until `stop` fires.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<BrokerState>,
    router: Router,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let waiting = Arc::new(Waiting::default());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ);
    let mut stop = std::pin::pin!(stop);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&open).acquire_owned() => permit,
            _ = &mut stop => break,
        };
        let Ok(permit) = permit else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut stop => break,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // Out of file descriptors and the like: wait, then go on.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let slot = Arc::new(Slot::default());
        waiting.admit(Arc::clone(&slot));
        let (state, router, started) = (Arc::clone(&state), router.clone(), Arc::clone(&slot));
        let service = hyper::service::service_fn(move |request| {
            started.started.store(true, Ordering::Relaxed);
            handle(Arc::clone(&state), router.clone(), request)
        });
        let connection = http.serve_connection(TokioIo::new(tcp), service);
        let watched = graceful.watch(connection);
        tokio::spawn(async move {
            let _permit = permit;
            tokio::select! {
                ended = watched => if let Err(e) = ended {
                    tracing::debug!(error = %e, "connection ended with an error");
                },
                () = evicted(&slot) => tracing::debug!("closed a connection that sent no request"),
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("streams still open after the drain time; dropping them");
    }
}

/// One request: guard, then the token route, the proxy, the admin API or the router.
pub async fn handle(
    state: Arc<BrokerState>,
    router: Router,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let proxied = request.uri().path().starts_with("/v1/mcp/");
    let mut response = route(state, router, request).await;
    if !proxied || !response.headers().contains_key(header::CACHE_CONTROL) {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

/// Guard, then the token route, the proxy, the admin API or the router.
async fn route(
    state: Arc<BrokerState>,
    router: Router,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    let key = match guard::check(&state, request.headers()) {
        Ok(key) => key,
        Err(refusal) => return refused(refusal).map(Either::Left),
    };
    // A clone of the parsed URI shares its buffer; ids borrowed from it
    // outlive the request, which the proxy takes.
    let uri = request.uri().clone();
    let path = uri.path();
    if let Some(server) = path
        .strip_prefix("/v1/token/")
        .filter(|s| !s.is_empty() && !s.contains('/'))
    {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            let mut response = routes::empty(StatusCode::METHOD_NOT_ALLOWED);
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET,HEAD"));
            return response.map(Either::Left);
        }
        let Some(server) = percent_decode(server) else {
            return routes::empty(StatusCode::BAD_REQUEST).map(Either::Left);
        };
        return routes::token(&state, &key, &server).await.map(Either::Left);
    }
    if let Some(server) = path
        .strip_prefix("/v1/mcp/")
        .filter(|s| !s.is_empty() && !s.contains('/'))
    {
        let Some(server) = percent_decode(server) else {
            return routes::empty(StatusCode::BAD_REQUEST).map(Either::Left);
        };
        return proxy::proxy(&state, &key, &server, request).await;
    }
    if path.starts_with("/v1/admin/") && key.id != state.cli_key_id {
        // Connected clients never reach the admin API; say nothing more.
        return routes::empty(StatusCode::FORBIDDEN).map(Either::Left);
    }
    let mut request = request.map(Body::new);
    request.extensions_mut().insert(key);
    call(router, request)
        .await
        .map(|body| Either::Right(Either::Right(body)))
}

/// Runs `request` through `router` (whose errors are `Infallible`).
async fn call(router: Router, request: Request<Body>) -> Response<Body> {
    use hyper::service::Service as _;
    let service = hyper_util::service::TowerToHyperService::new(router);
    match service.call(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// The answer to a refused request: 403 with an empty body, or 401 with a challenge.
fn refused(refusal: Refusal) -> Response<Full<Bytes>> {
    let mut response = routes::empty(refusal.status());
    if refusal == Refusal::Unauthorized {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(guard::CHALLENGE),
        );
    }
    response
}

/// Decodes `%XX` escapes; `None` for a bad escape or bytes that are not UTF-8.
/// Borrows when there is nothing to decode (the usual case).
fn percent_decode(segment: &str) -> Option<Cow<'_, str>> {
    if !segment.contains('%') {
        return Some(Cow::Borrowed(segment));
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment
                .get(i + 1..i + 3)
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn percent_decoding_borrows_plain_ids_and_refuses_bad_escapes() {
        assert!(matches!(
            percent_decode("github-mcp"),
            Some(std::borrow::Cow::Borrowed("github-mcp"))
        ));
        assert_eq!(
            percent_decode("http%3A%2F%2F127.0.0.1%3A9401%2Fmcp").as_deref(),
            Some("http://127.0.0.1:9401/mcp")
        );
        assert_eq!(percent_decode("a%2"), None);
        assert_eq!(percent_decode("a%zz"), None);
        assert_eq!(percent_decode("a%+1"), None, "a sign is not a hex digit");
        assert_eq!(percent_decode("%ff%fe"), None, "not UTF-8");
    }
}
