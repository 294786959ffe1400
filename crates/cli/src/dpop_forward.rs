//! `check` against a server whose token is DPoP-bound (RFC 9449).
//!
//! The MCP client transport sends `Authorization: Bearer`, which a bound
//! token is not good for. So `check` points the transport at a forwarder on
//! 127.0.0.1 that lives for one session: each request goes on to the
//! server with `Authorization: DPoP <token>` and a fresh proof from the
//! engine (the installation's key), once more with the server's nonce
//! after 401 `use_dpop_nonce`; the answer, streams included, comes back as
//! it arrives. The forwarder takes requests only for the one server URL.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, StatusCode, header};
use passport_core::engine::Engine;
use std::sync::Arc;
use tokio::sync::oneshot;

/// The largest request body forwarded.
const MAX_REQUEST: usize = 4 * 1024 * 1024;

/// A running forwarder; it stops when dropped.
pub(crate) struct Forwarder {
    /// The address to give the MCP client instead of the server's.
    pub url: String,
    _stop: oneshot::Sender<()>,
}

struct Target {
    engine: Arc<Engine>,
    url: String,
    token: String,
    http: reqwest::Client,
}

/// Starts a forwarder to `url` presenting `token` with proofs.
pub(crate) async fn start(
    engine: Arc<Engine>,
    url: &str,
    token: &str,
) -> Result<Forwarder, String> {
    let http = passport_core::http::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
    let path = url::Url::parse(url)
        .map(|u| u.path().to_string())
        .unwrap_or_else(|_| "/".into());
    let target = Arc::new(Target {
        engine,
        url: url.to_string(),
        token: token.to_string(),
        http,
    });
    let app = axum::Router::new().fallback(forward).with_state(target);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(Forwarder {
        url: format!("http://{addr}{path}"),
        _stop: stop,
    })
}

fn passes(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "host"
            | "authorization"
            | "dpop"
            | "content-length"
            | "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "te"
            | "upgrade"
            | "proxy-connection"
    )
}

async fn forward(State(target): State<Arc<Target>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_REQUEST).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let mut retried = false;
    loop {
        match send(&target, &parts, body.clone()).await {
            Ok(answer) => {
                let status = answer.status();
                let asks = target
                    .engine
                    .dpop_answer(&target.url, status, answer.headers());
                if asks && !retried {
                    retried = true;
                    continue;
                }
                let mut response = Response::builder().status(status);
                for (name, value) in answer.headers() {
                    if passes(name) {
                        response = response.header(name, value);
                    }
                }
                return response
                    .body(Body::from_stream(answer.bytes_stream()))
                    .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response());
            }
            Err(message) => {
                eprintln!("{message}");
                return StatusCode::BAD_GATEWAY.into_response();
            }
        }
    }
}

async fn send(
    target: &Target,
    parts: &http::request::Parts,
    body: Bytes,
) -> Result<reqwest::Response, String> {
    let proof = target
        .engine
        .dpop_proof(parts.method.as_str(), &target.url, &target.token)
        .map_err(|e| e.to_string())?;
    let mut authorization = HeaderValue::from_str(&format!("DPoP {}", target.token))
        .map_err(|_| "the token cannot be sent as a header".to_string())?;
    authorization.set_sensitive(true);
    let mut proof =
        HeaderValue::from_str(&proof).map_err(|_| "the proof cannot be sent".to_string())?;
    proof.set_sensitive(true);
    let mut request = target
        .http
        .request(parts.method.clone(), &target.url)
        .header(header::AUTHORIZATION, authorization)
        .header("dpop", proof)
        .body(body);
    for (name, value) in &parts.headers {
        if passes(name) {
            request = request.header(name, value);
        }
    }
    request
        .send()
        .await
        .map_err(|e| format!("could not reach the server: {}", e.without_url()))
}
