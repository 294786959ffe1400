//! `/v1/mcp/{server}`: a reverse proxy to the server's MCP URL that puts the
//! server's current token in `Authorization`. `Mcp-Session-Id` and the other
//! MCP headers pass both ways; hop-by-hop headers (the fixed ones of RFC 9110
//! section 7.6.1, and every header a `Connection` header names), cookies and
//! CORS headers do not.
//!
//! Request bodies (JSON-RPC messages) are read whole, up to 4 MiB, so a 401
//! can be retried once after a refresh; responses, SSE streams included, are
//! passed on frame by frame as they arrive, with no adapter in between.
//!
//! It is called straight from the connection service (no router), because
//! every message a local client exchanges with its server comes through
//! here: plain `http` servers (the local ones, where the second hop is most
//! of the cost) are reached with a bare pooled hyper client; `https` servers
//! with the TLS client (platform certificate checks, system proxy settings).

use crate::audit::{Kind, Outcome};
use crate::keys::ClientKey;
use crate::routes::{allowed, empty, json_response};
use crate::service::ResponseBody;
use crate::{BrokerState, error_body};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Either, Full, Limited};
use hyper::body::{Body as _, Bytes, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::sync::Arc;
use std::time::Duration;

/// The largest request body read (and kept for the retry).
const MAX_REQUEST: usize = 4 * 1024 * 1024;

/// An upstream response body: from the plain client or the TLS client.
pub type UpstreamBody = Either<Incoming, reqwest::Body>;

/// The proxy's upstream clients, each pooled and keep-alive, neither
/// following redirects.
#[derive(Debug, Clone)]
pub struct Upstream {
    plain: Client<HttpConnector, Full<Bytes>>,
    tls: reqwest::Client,
    /// Each server URL worked out once.
    pub targets: crate::proxy_target::Targets,
}

impl Upstream {
    /// Both clients; `tls` must not follow redirects.
    pub fn new(tls: reqwest::Client) -> Self {
        let mut connector = HttpConnector::new();
        // Small JSON-RPC messages and SSE events must not wait on Nagle.
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(10)));
        let plain = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Self {
            plain,
            tls,
            targets: crate::proxy_target::Targets::default(),
        }
    }

    /// Sends `request` with the client its scheme needs.
    async fn send(
        &self,
        request: Request<Bytes>,
    ) -> Result<Response<UpstreamBody>, Box<dyn std::error::Error + Send + Sync>> {
        if request.uri().scheme() == Some(&http::uri::Scheme::HTTP) {
            let response = self.plain.request(request.map(Full::new)).await?;
            return Ok(response.map(Either::Left));
        }
        let request = reqwest::Request::try_from(request.map(reqwest::Body::from))?;
        let response = self
            .tls
            .execute(request)
            .await
            .map_err(reqwest::Error::without_url)?;
        Ok(Response::from(response).map(Either::Right))
    }
}

/// Headers that concern one connection only, or that the proxy sets itself.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "proxy-connection"
            | "host"
            | "content-length"
    )
}

/// The header names a message's `Connection` headers list (lowercase):
/// options for this hop only, never passed on.
fn connection_options(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect()
}

/// A copy of `headers` less those that must not be passed on, with room
/// for `extra` more; names and values are shared, not copied (every value
/// of a repeated header is kept).
fn kept(headers: &HeaderMap, refused: impl Fn(&HeaderName) -> bool, extra: usize) -> HeaderMap {
    let options = connection_options(headers);
    let mut out = HeaderMap::with_capacity(headers.len() + extra);
    for (name, value) in headers {
        if !hop_by_hop(name) && !refused(name) && !options.contains(name) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Removes from `headers`, in place, those that must not be passed on.
fn strip(headers: &mut HeaderMap, refused: impl Fn(&HeaderName) -> bool) {
    let options = connection_options(headers);
    while let Some(name) = headers
        .keys()
        .find(|n| hop_by_hop(n) || refused(n) || options.contains(n))
        .cloned()
    {
        headers.remove(&name);
    }
}

/// Request headers the proxy sets itself or never passes on.
fn refused_upstream(name: &HeaderName) -> bool {
    name == header::AUTHORIZATION || name == header::COOKIE || name == "dpop"
}

/// Proxies one request to `server` (already percent-decoded) for `key`.
pub async fn proxy(
    state: &BrokerState,
    key: &Arc<ClientKey>,
    server: &str,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    if !allowed(state, key, server) {
        return whole(empty(StatusCode::FORBIDDEN));
    }
    let (parts, body) = request.into_parts();
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(status) => return whole(empty(status)),
    };
    let target = state.engine.with_resolved(server, false, |_, s| {
        s.resource
            .as_deref()
            .map(|url| state.upstream.targets.get(url))
    });
    let target = match target.flatten() {
        None => return whole(empty(StatusCode::NOT_FOUND)),
        Some(Some(target)) => target,
        Some(None) => {
            tracing::warn!(%server, "the server's URL is not a valid request target");
            audit(state, key, server, Outcome::Code("upstream_unreachable"));
            return bad_gateway();
        }
    };
    let url = target.url.as_str();
    let mut retried = false;
    let mut nonce_retried = false;
    let mut stepped_up = false;
    let response = loop {
        let token = match state.engine.token(server).await {
            Ok(t) => t,
            Err(e) => {
                audit(state, key, server, Outcome::Code(e.code()));
                let (status, body) = error_body(&e);
                return whole(json_response(status, body));
            }
        };
        // Asked after the token: a refresh may have bound it (or unbound it).
        let dpop = state.engine.dpop_bound(server);
        let (authorization, proof) = if dpop {
            match crate::dpop_proxy::sign(state, &parts.method, url, token.access_token.expose()) {
                Ok((authorization, proof)) => (authorization, Some(proof)),
                Err(e) => {
                    audit(state, key, server, Outcome::Code(e.code()));
                    let (status, body) = error_body(&e);
                    return whole(json_response(status, body));
                }
            }
        } else {
            let Some(bearer) = bearer(token.access_token.expose()) else {
                tracing::warn!(%server, "the server's token cannot be sent as a header");
                audit(state, key, server, Outcome::Code("upstream_unreachable"));
                return bad_gateway();
            };
            (bearer, None)
        };
        let mut upstream = Request::new(body.clone());
        *upstream.method_mut() = parts.method.clone();
        *upstream.uri_mut() = target.uri.clone();
        // Built anew for each attempt (a retry is rare), with room for ours.
        *upstream.headers_mut() = kept(&parts.headers, refused_upstream, 3);
        if let Some(host) = &target.host {
            upstream.headers_mut().insert(header::HOST, host.clone());
        }
        upstream
            .headers_mut()
            .insert(header::AUTHORIZATION, authorization);
        if let Some(proof) = proof {
            upstream.headers_mut().insert("dpop", proof);
        }
        match state.upstream.send(upstream).await {
            Ok(r)
                if dpop
                    && crate::dpop_proxy::asks_again(state, url, r.status(), r.headers())
                    && !nonce_retried =>
            {
                nonce_retried = true;
            }
            Ok(r) if r.status() == StatusCode::UNAUTHORIZED && !retried => {
                retried = true;
                state.engine.invalidate(server);
            }
            Ok(r)
                if r.status() == StatusCode::FORBIDDEN
                    && !stepped_up
                    && crate::enterprise_step_up::stepped_up(state, server, r.headers()).await =>
            {
                stepped_up = true;
            }
            Ok(r) => break r,
            Err(e) => {
                tracing::warn!(%server, error = %e, "upstream request failed");
                audit(state, key, server, Outcome::Code("upstream_unreachable"));
                return bad_gateway();
            }
        }
    };
    let status = response.status();
    if status == StatusCode::FORBIDDEN
        && let Some(refused) = crate::step_up::refused_for_scope(state, server, response.headers())
    {
        audit(state, key, server, Outcome::Code("insufficient_scope"));
        return whole(refused);
    }
    let outcome = if status.is_success() {
        Outcome::Ok
    } else {
        Outcome::Status(status)
    };
    audit(state, key, server, outcome);
    let (mut parts, body) = response.into_parts();
    strip(&mut parts.headers, |n| {
        n.as_str().starts_with("access-control-") || n == header::SET_COOKIE
    });
    Response::from_parts(parts, Either::Right(Either::Left(body)))
}

/// The request body, whole: empty without reading when there is none, 413
/// over the limit, 400 when the client's stream fails.
async fn read_body(body: Incoming) -> Result<Bytes, StatusCode> {
    let hint = body.size_hint();
    if hint.exact() == Some(0) {
        return Ok(Bytes::new());
    }
    if hint.lower() > MAX_REQUEST as u64 {
        return Err(StatusCode::PAYLOAD_TOO_LARGE);
    }
    match Limited::new(body, MAX_REQUEST).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(StatusCode::PAYLOAD_TOO_LARGE),
        Err(_) => Err(StatusCode::BAD_REQUEST),
    }
}

/// `Bearer <token>`, marked sensitive; `None` if the token is not header-safe.
fn bearer(token: &str) -> Option<HeaderValue> {
    let mut value = Vec::with_capacity(7 + token.len());
    value.extend_from_slice(b"Bearer ");
    value.extend_from_slice(token.as_bytes());
    let mut value = HeaderValue::from_maybe_shared(Bytes::from(value)).ok()?;
    value.set_sensitive(true);
    Some(value)
}

fn bad_gateway() -> Response<ResponseBody> {
    let mut response = http::Response::new(Full::new(Bytes::from_static(
        b"the MCP server could not be reached",
    )));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    whole(response)
}

fn whole(response: Response<Full<Bytes>>) -> Response<ResponseBody> {
    response.map(Either::Left)
}

fn audit(state: &BrokerState, key: &Arc<ClientKey>, server: &str, outcome: Outcome) {
    state.audit.note(key, server, Kind::Proxy, outcome);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hop_by_hop_and_refused_headers_are_dropped_and_repeats_kept() {
        let mut headers = HeaderMap::new();
        headers.insert("mcp-session-id", HeaderValue::from_static("s1"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer k"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:1"));
        headers.append(header::ACCEPT, HeaderValue::from_static("application/json"));
        headers.append(
            header::ACCEPT,
            HeaderValue::from_static("text/event-stream"),
        );
        let copy = kept(&headers, |n| n == header::AUTHORIZATION, 2);
        assert_eq!(copy["mcp-session-id"], "s1");
        assert!(copy.get(header::AUTHORIZATION).is_none());
        assert!(copy.get(header::CONNECTION).is_none());
        assert!(copy.get(header::HOST).is_none());
        assert_eq!(copy.get_all(header::ACCEPT).iter().count(), 2);
        assert!(
            copy.capacity() >= copy.len() + 2,
            "room for the headers the proxy adds"
        );
        strip(&mut headers, |n| n == header::AUTHORIZATION);
        assert_eq!(headers, copy, "stripping in place keeps what copying keeps");
    }

    #[test]
    fn headers_named_in_connection_are_dropped_with_it() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, X-Hop-One"),
        );
        headers.append(header::CONNECTION, HeaderValue::from_static("x-hop-two"));
        headers.insert("x-hop-one", HeaderValue::from_static("1"));
        headers.insert("x-hop-two", HeaderValue::from_static("2"));
        headers.insert("x-end-to-end", HeaderValue::from_static("3"));
        let copy = kept(&headers, |_| false, 0);
        assert!(copy.get("x-hop-one").is_none());
        assert!(copy.get("x-hop-two").is_none());
        assert!(copy.get(header::CONNECTION).is_none());
        assert_eq!(copy["x-end-to-end"], "3");
        strip(&mut headers, |_| false);
        assert_eq!(headers, copy);
    }

    #[test]
    fn the_bearer_header_is_sensitive_and_refuses_line_breaks() {
        let value = bearer("abc.def").unwrap();
        assert_eq!(value, "Bearer abc.def");
        assert!(value.is_sensitive());
        assert!(bearer("abc\r\nx-injected: 1").is_none());
    }
}
