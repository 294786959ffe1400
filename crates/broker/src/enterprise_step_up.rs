//! Step-up on an enterprise grant through the proxy: a server's 403
//! `insufficient_scope` is recorded as any step-up, then the wider access is
//! asked of the organization (a new ID-JAG and JWT bearer grant; no page to
//! open), and the proxy sends the same call once more with the new token.
//! When the organization refuses, the call gets the usual step-up 403.

use crate::BrokerState;
use http::header::{self, HeaderMap};
use passport_core::challenge::parse_www_authenticate;

/// Whether `server`'s refusal (`headers` of its 403) was answered by a new
/// token from the organization, so the call is worth sending again.
pub(crate) async fn stepped_up(state: &BrokerState, server: &str, headers: &HeaderMap) -> bool {
    if !state.engine.is_enterprise_server(server) {
        return false;
    }
    let Some(asked) = headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(parse_www_authenticate)
        .find(|c| c.error.as_deref() == Some("insufficient_scope"))
        .and_then(|c| c.scope)
    else {
        return false;
    };
    match state.engine.record_insufficient_scope(server, &asked) {
        Ok(Some(_)) => {}
        Ok(None) => return false,
        Err(e) => {
            tracing::warn!(%server, error = %e, "could not record the scope a server asked for");
            return false;
        }
    }
    match state.engine.enterprise_step_up(server).await {
        Ok(got) => got,
        Err(e) => {
            tracing::warn!(%server, error = %e, "the organization did not grant the wider access");
            false
        }
    }
}
