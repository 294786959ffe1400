//! A server's 403 `insufficient_scope` through the proxy (SEP-2350 step-up).
//!
//! The broker records what the server asked for on that server (the engine
//! keeps the union with the grant's scope and the retry limit), and the
//! local client still gets a 403, but one a person can act on: a JSON body
//! and a `WWW-Authenticate` naming the server, the missing scope and where
//! to approve it. The server's own challenge is not passed on: its
//! `resource_metadata` would send the client to sign in by itself, around
//! MCP Passport. Once the user approves, the same call with the same key
//! and URL gets the new token.

use crate::BrokerState;
use crate::routes::json_response;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::body::Bytes;
use passport_core::challenge::parse_www_authenticate;
use passport_core::engine::StepUpNotice;

/// The response for the local client when `headers` (an upstream 403's)
/// carry an `insufficient_scope` challenge with a scope; `None` otherwise,
/// and the server's answer goes through unchanged.
pub fn refused_for_scope(
    state: &BrokerState,
    server: &str,
    headers: &HeaderMap,
) -> Option<Response<Full<Bytes>>> {
    let asked = headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(parse_www_authenticate)
        .find(|c| c.error.as_deref() == Some("insufficient_scope"))?
        .scope?;
    let notice = match state.engine.record_insufficient_scope(server, &asked) {
        Ok(notice) => notice?,
        Err(e) => {
            tracing::warn!(%server, error = %e, "could not record the scope a server asked for");
            return None;
        }
    };
    Some(response(&notice))
}

/// 403 with the notice as `{error: {code, message, server, scope}}` and a
/// Bearer challenge whose `error_description` says the same.
pub fn response(notice: &StepUpNotice) -> Response<Full<Bytes>> {
    let code = match notice.step_up.state {
        passport_core::step_up::StepUpState::Refused => "scope_not_granted",
        _ => "insufficient_scope",
    };
    let body = serde_json::json!({"error": {
        "code": code,
        "message": notice.message,
        "server": notice.server,
        "scope": notice.step_up.missing_text(),
    }});
    let mut response = json_response(StatusCode::FORBIDDEN, body.to_string().into_bytes());
    let challenge = format!(
        "Bearer error=\"insufficient_scope\", scope=\"{}\", error_description=\"{}\"",
        quoted(&notice.step_up.scope.join(" ")),
        quoted(&notice.message)
    );
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// `text` as the inside of a quoted string in a header: printable ASCII
/// only (RFC 6750 limits `error_description` to it), quotes and
/// backslashes dropped.
fn quoted(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use passport_core::step_up::on_refusal;

    #[test]
    fn the_client_gets_a_403_a_person_can_act_on() {
        let step_up = on_refusal(
            None,
            &["mcp:tools".to_string()],
            "mcp:tools mcp:write",
            chrono::Utc::now(),
        )
        .unwrap();
        let notice = StepUpNotice {
            server: "github-mcp".into(),
            name: "GitHub \"Issues\" ü".into(),
            message: passport_core::step_up::message("GitHub \"Issues\" ü", &step_up),
            step_up,
        };
        let r = response(&notice);
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let challenge = r.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
        let parsed = parse_www_authenticate(challenge).unwrap();
        assert_eq!(parsed.error.as_deref(), Some("insufficient_scope"));
        assert_eq!(parsed.scope.as_deref(), Some("mcp:tools mcp:write"));
        assert!(parsed.resource_metadata.is_none());
        assert!(
            challenge.contains(
                "MCP Passport: GitHub 'Issues' ? needs more access (mcp:write). Approve it in MCP Passport."
            ),
            "{challenge}"
        );
    }
}
