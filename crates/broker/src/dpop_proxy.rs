//! DPoP-bound servers (RFC 9449) at the broker.
//!
//! A bound token is worthless without a proof signed by this
//! installation's key, which never leaves the engine. So the proxy signs a
//! fresh proof for every upstream request (`Authorization: DPoP <token>`
//! and a `DPoP` header naming the method, the URL, the token's hash and the
//! server's last nonce), and the token route refuses to hand such a token
//! out: a client must come through `/v1/mcp/<id>`.

use crate::BrokerState;
use crate::routes::json_response;
use axum::body::Bytes;
use http::{HeaderValue, Method, StatusCode};
use http_body_util::Full;
use passport_core::error::EngineError;

/// The `Authorization` and `DPoP` headers for one request to a bound
/// server at `url` with `token`, both marked sensitive.
pub(crate) fn sign(
    state: &BrokerState,
    method: &Method,
    url: &str,
    token: &str,
) -> Result<(HeaderValue, HeaderValue), EngineError> {
    let proof = state.engine.dpop_proof(method.as_str(), url, token)?;
    let unusable = || {
        EngineError::Dpop(passport_core::dpop::DpopError::BadUrl(
            "a token or proof that is not header-safe".into(),
        ))
    };
    let mut authorization =
        HeaderValue::from_str(&format!("DPoP {token}")).map_err(|_| unusable())?;
    authorization.set_sensitive(true);
    let mut proof = HeaderValue::from_str(&proof).map_err(|_| unusable())?;
    proof.set_sensitive(true);
    Ok((authorization, proof))
}

/// Keeps the nonce a bound server sent; whether it asked for the request
/// again with it (401 `use_dpop_nonce`).
pub(crate) fn asks_again(
    state: &BrokerState,
    url: &str,
    status: StatusCode,
    headers: &http::HeaderMap,
) -> bool {
    state.engine.dpop_answer(url, status, headers)
}

/// The token route's answer for a bound server: its token cannot be used
/// on its own, so it is not handed out (409 `dpop_bound`). `None` for a
/// server whose tokens are plain bearer tokens.
pub(crate) fn refuse_token(
    state: &BrokerState,
    server: &str,
) -> Option<http::Response<Full<Bytes>>> {
    if !state.engine.dpop_bound(server) {
        return None;
    }
    let message = format!(
        "the token for {server} is bound to this computer (DPoP): it works only with a proof signed by MCP Passport, so it is not handed out. Connect your client through the proxy instead: http://127.0.0.1:{}/v1/mcp/{server}",
        state.port
    );
    let body = serde_json::json!({"error": {"code": "dpop_bound", "message": message}});
    Some(json_response(
        StatusCode::CONFLICT,
        serde_json::to_vec(&body).unwrap_or_default(),
    ))
}
