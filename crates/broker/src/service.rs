//! The endpoint's connections: an HTTP/1.1 server on the loopback listener
//! whose one service runs the guard on every request, answers the two hot
//! routes itself, without the router: the token route (one lookup in
//! memory, one buffer, one audit push) and the proxy (every MCP message a
//! local client sends), keeps the admin API to the CLI's own key, and hands
//! everything else to the router with the caller's key attached.
//!
//! Stopping stops accepting, lets each connection finish the request in
//! flight, and gives long streams a few seconds before they are dropped.

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
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// A response body: a whole buffer (token route, refusals), an upstream
/// body passed on as it arrives (proxy), or the router's body.
pub type ResponseBody = Either<Full<Bytes>, Either<UpstreamBody, Body>>;

/// How long open streams may run on once the broker stops.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves `listener` until `stop` fires.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<BrokerState>,
    router: Router,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
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
        let (state, router) = (Arc::clone(&state), router.clone());
        let service = hyper::service::service_fn(move |request| {
            handle(Arc::clone(&state), router.clone(), request)
        });
        let connection =
            hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service);
        let watched = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = watched.await {
                tracing::debug!(error = %e, "connection ended with an error");
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
    let key = match guard::check(&state, request.headers()) {
        Ok(key) => key,
        Err(refusal) => return Ok(refused(refusal).map(Either::Left)),
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
            return Ok(response.map(Either::Left));
        }
        let Some(server) = percent_decode(server) else {
            return Ok(routes::empty(StatusCode::BAD_REQUEST).map(Either::Left));
        };
        return Ok(routes::token(&state, &key, &server).await.map(Either::Left));
    }
    if let Some(server) = path
        .strip_prefix("/v1/mcp/")
        .filter(|s| !s.is_empty() && !s.contains('/'))
    {
        let Some(server) = percent_decode(server) else {
            return Ok(routes::empty(StatusCode::BAD_REQUEST).map(Either::Left));
        };
        return Ok(proxy::proxy(&state, &key, &server, request).await);
    }
    if path.starts_with("/v1/admin/") && key.id != state.cli_key_id {
        // Connected clients never reach the admin API; say nothing more.
        return Ok(routes::empty(StatusCode::FORBIDDEN).map(Either::Left));
    }
    let mut request = request.map(Body::new);
    request.extensions_mut().insert(key);
    Ok(call(router, request)
        .await
        .map(|body| Either::Right(Either::Right(body))))
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
