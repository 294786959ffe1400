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
//! closed); when the broker is full, connections silent for a grace
//! period go first (`waiting`); and at most
//! [`MAX_CONNECTIONS`] are open at once, fewer where the open-files limit
//! is low (`descriptors`), so the broker never runs out of descriptors.
//! When few connections are left, each answer closes its connection, so
//! clients holding idle keep-alive connections make room: a burst of a
//! thousand clients is served, not refused.
//!
//! Every response the broker writes itself says `Cache-Control: no-store`:
//! the token route's carries a token, and none of the others is worth
//! keeping either.

use crate::BrokerState;
use crate::guard::{self, Refusal};
use crate::proxy::{self, UpstreamBody};
use crate::routes;
use crate::waiting::{Line, Reading, Slot};
use axum::Router;
use axum::body::{Body, Bytes};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, TryAcquireError};

/// A response body: a whole buffer (token route, refusals), an upstream
/// body passed on as it arrives (proxy), or the router's body.
pub type ResponseBody = Either<Full<Bytes>, Either<UpstreamBody, Body>>;

/// How long open streams may run on once the broker stops.
const DRAIN: Duration = Duration::from_secs(5);

/// How long a request's headers may take to arrive, counted from the
/// connection's start or from the end of its previous response.
pub const HEADER_READ: Duration = Duration::from_secs(5);

/// Connections open at once (fewer where the open-files limit is low; see
/// `descriptors`); beyond that the broker waits before accepting more.
pub const MAX_CONNECTIONS: usize = 512;

/// With less than this share (1/n) of the connections left, each answer
/// closes its connection (`Connection: close`), so clients that keep idle
/// connections open make room for new ones. The client is told, so it never
/// sends a request on a connection the broker is closing.
const CROWDED: usize = 8;

pub use crate::waiting::GRACE;

/// How long a full broker waits for a connection to finish before it lets
/// silent ones go: in a burst of real clients connections finish all the
/// time, so none is pushed out; only sockets that all stay silent are.
const STALL: Duration = Duration::from_millis(100);

/// Serves `listener` until `stop` fires.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<BrokerState>,
    router: Router,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    // Sent once the broker stops: each connection finishes its response, then closes.
    let (stopping, _) = tokio::sync::watch::channel(());
    let cap = crate::descriptors::connection_cap(MAX_CONNECTIONS);
    let open = Arc::new(Semaphore::new(cap));
    let waiting = Line::default();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ);
    let mut stop = std::pin::pin!(stop);
    loop {
        let permit = match Arc::clone(&open).try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::Closed) => break,
            Err(TryAcquireError::NoPermits) => {
                // Full: connections that finish make room; if none finishes
                // for a while, those silent for their grace go.
                tokio::select! {
                    permit = Arc::clone(&open).acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    _ = &mut stop => break,
                    () = tokio::time::sleep(STALL) => {
                        waiting.sweep(Instant::now());
                        continue;
                    }
                }
            }
        };
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
                waiting.sweep(Instant::now());
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let slot = Arc::new(Slot::new(Instant::now()));
        waiting.admit(Arc::clone(&slot));
        let (state, router, started, open) = (
            Arc::clone(&state),
            router.clone(),
            Arc::clone(&slot),
            Arc::clone(&open),
        );
        let service = hyper::service::service_fn(move |request| {
            started.start();
            let crowded = open.available_permits() <= cap / CROWDED;
            handle(Arc::clone(&state), router.clone(), request, crowded)
        });
        let http = http.clone();
        let mut stopping = stopping.subscribe();
        tokio::spawn(async move {
            let _permit = permit;
            if !first_bytes(&tcp, &slot).await {
                return;
            }
            let io = TokioIo::new(Reading::new(tcp, Arc::clone(&slot)));
            let connection = http.serve_connection(io, service);
            let mut connection = std::pin::pin!(connection);
            let (mut kept, mut stop_seen) = (false, false);
            let ended = loop {
                tokio::select! {
                    ended = connection.as_mut() => break ended,
                    // Headers a byte at a time hold a connection too.
                    () = slot.evicted(), if !kept => {
                        if slot.is_stalled() {
                            tracing::debug!("closed a connection that stopped halfway through its request");
                            return;
                        }
                        kept = true;
                    }
                    _ = stopping.changed(), if !stop_seen => {
                        connection.as_mut().graceful_shutdown();
                        stop_seen = true;
                    }
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    stopping.send_replace(());
    // Every connection has ended when all the permits are back.
    let all = u32::try_from(cap).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN, open.acquire_many(all))
        .await
        .is_err()
    {
        tracing::debug!("streams still open after the drain time; dropping them");
    }
}

/// Waits for a new connection's first bytes; `false` when it should be
/// closed instead: pushed out of the waiting line with nothing received
/// (looked at on the socket itself, so a broker too busy to read in time
/// never closes a client that did send), silent for the header time, or
/// closed by the client.
async fn first_bytes(tcp: &tokio::net::TcpStream, slot: &Slot) -> bool {
    tokio::select! {
        ready = tcp.readable() => ready.is_ok(),
        () = slot.evicted() => {
            let sent = crate::descriptors::has_bytes(tcp);
            if !sent {
                tracing::debug!("closed a connection that sent nothing");
            }
            sent
        }
        () = tokio::time::sleep(HEADER_READ) => false,
    }
}

/// One request: guard, then the token route, the proxy, the admin API or the router.
pub async fn handle(
    state: Arc<BrokerState>,
    router: Router,
    request: Request<Incoming>,
    crowded: bool,
) -> Result<Response<ResponseBody>, Infallible> {
    let proxied = request.uri().path().starts_with("/v1/mcp/");
    let mut response = route(state, router, request).await;
    if crowded {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
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
