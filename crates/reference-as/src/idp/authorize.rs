//! The IdP's `GET /authorize` and `POST /login`: an OpenID Connect
//! authorization request with PKCE, the shared sign-in page, then straight
//! back to the client with `code`, `state` and `iss` (no consent page: an
//! enterprise pre-approves its own clients).
//!
//! As at the AS, an unknown client or redirect URI is shown on a page and
//! never redirected; every later error goes to the client's redirect URI.

use super::{IdpCode, IdpState};
use crate::authorize::{Refusal, pairs, redirect_to_client};
use crate::clients::{is_loopback_host, redirect_uri_matches};
use crate::crypto::{digest, now, random_token};
use crate::state::lock;
use crate::{db, html, session};
use axum::Form;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use std::sync::Arc;

/// The scopes the IdP knows.
pub const SCOPES: &[&str] = &["openid", "offline_access", "email", "profile"];
/// How long a code lives, seconds.
const CODE_LIFETIME: i64 = 60;

fn single<'a>(params: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, String> {
    let mut values = params
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let first = values.next();
    match values.next() {
        Some(_) => Err(format!("{name} is repeated")),
        None => Ok(first),
    }
}

/// Whether the IdP lets a client use `redirect_uri`: one it registered, or
/// any http address on a loopback host (RFC 8252 section 7.3: native apps
/// pick their port and path when they listen).
fn redirect_allowed(registered: &[String], redirect_uri: &str) -> bool {
    if redirect_uri_matches(registered, redirect_uri) {
        return true;
    }
    url::Url::parse(redirect_uri).is_ok_and(|u| {
        u.scheme() == "http"
            && is_loopback_host(u.host_str())
            && u.fragment().is_none()
            && u.username().is_empty()
            && u.password().is_none()
    })
}

/// A validated request: what the code will carry.
struct Request {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    challenge: String,
    scope: Vec<String>,
    nonce: Option<String>,
}

fn validate(idp: &IdpState, params: &[(String, String)]) -> Result<Request, Refusal> {
    let page = |m: &str| Refusal::Page(m.to_string());
    let client_id = single(params, "client_id")
        .map_err(|_| page("The request names more than one client."))?
        .ok_or_else(|| {
            page("The request does not say which application is asking (client_id is missing).")
        })?;
    let client = idp
        .base
        .store
        .tx(|c| db::get_client(c, client_id))
        .ok()
        .flatten()
        .ok_or_else(|| page("This application is not registered with this identity provider; ask your administrator."))?;
    let redirect_uri = single(params, "redirect_uri")
        .map_err(|_| page("The request has more than one redirect_uri."))?
        .ok_or_else(|| page("The request has no redirect_uri."))?;
    if !redirect_allowed(&client.redirect_uris, redirect_uri) {
        return Err(page(
            "The redirect_uri is not one this application may use.",
        ));
    }
    let state = single(params, "state").ok().flatten().map(String::from);
    let refuse = |error: &'static str, description: String| Refusal::Redirect {
        redirect_uri: redirect_uri.to_string(),
        state: state.clone(),
        error,
        description,
    };
    let field = |name: &str| single(params, name).map_err(|e| refuse("invalid_request", e));
    if field("response_type")? != Some("code") {
        return Err(refuse(
            "unsupported_response_type",
            "only response_type=code is supported".into(),
        ));
    }
    let challenge = field("code_challenge")?.unwrap_or("");
    if field("code_challenge_method")? != Some("S256")
        || challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(refuse(
            "invalid_request",
            "PKCE is required: an S256 code_challenge with code_challenge_method=S256".into(),
        ));
    }
    let scope: Vec<String> = field("scope")?
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if let Some(unknown) = scope.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return Err(refuse("invalid_scope", format!("unknown scope {unknown}")));
    }
    if !scope.iter().any(|s| s == "openid") {
        return Err(refuse(
            "invalid_scope",
            "this is an OpenID Connect provider: scope must include openid".into(),
        ));
    }
    Ok(Request {
        client_id: client.client_id,
        redirect_uri: redirect_uri.to_string(),
        state: state.clone(),
        challenge: challenge.to_string(),
        scope,
        nonce: field("nonce")?.map(String::from),
    })
}

/// `GET /authorize`.
pub async fn authorize(
    State(idp): State<Arc<IdpState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = pairs(raw.as_deref());
    let request = match validate(&idp, &params) {
        Ok(r) => r,
        Err(refusal) => return refusal.respond(&idp.config.issuer),
    };
    let current = session::current(&idp.base, &headers);
    let mut response = match &current.session.user {
        None => {
            let return_to = format!("/authorize?{}", raw.as_deref().unwrap_or(""));
            html::sign_in(&current.session.csrf, &return_to, None)
        }
        Some(user) => issue_code(&idp, request, user),
    };
    if let Some(cookie) = current.set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn issue_code(idp: &IdpState, request: Request, user: &str) -> Response {
    let code = random_token();
    crate::secrets_log::record("code", &code);
    let now = now();
    {
        let mut codes = lock(&idp.codes);
        codes.retain(|_, c| c.expires > now);
        codes.insert(
            digest(&code),
            IdpCode {
                client_id: request.client_id,
                redirect_uri: request.redirect_uri.clone(),
                challenge: request.challenge,
                scope: request.scope,
                nonce: request.nonce,
                user: user.to_string(),
                expires: now + CODE_LIFETIME,
            },
        );
    }
    let mut pairs = vec![("code", code)];
    pairs.extend(request.state.map(|s| ("state", s)));
    redirect_to_client(&request.redirect_uri, &pairs, &idp.config.issuer)
}

/// Takes the code `code` out (codes are single use).
pub(super) fn take_code(idp: &IdpState, code: &str) -> Option<IdpCode> {
    lock(&idp.codes).remove(&digest(code))
}

/// `POST /login`: the AS's own sign-in handler, on the IdP's sessions and users.
pub async fn login(
    State(idp): State<Arc<IdpState>>,
    headers: HeaderMap,
    form: Form<crate::consent::Login>,
) -> Response {
    crate::consent::login(State(Arc::clone(&idp.base)), headers, form).await
}

#[cfg(test)]
mod tests {
    use super::redirect_allowed;

    #[test]
    fn loopback_redirects_are_allowed_with_any_port_and_path() {
        let registered = vec!["io.github.mcppassport:/oauth/callback".to_string()];
        assert!(redirect_allowed(
            &registered,
            "io.github.mcppassport:/oauth/callback"
        ));
        assert!(redirect_allowed(
            &registered,
            "http://127.0.0.1:51234/callback"
        ));
        assert!(redirect_allowed(&registered, "http://localhost:8080/cb"));
        assert!(!redirect_allowed(
            &registered,
            "https://evil.example/callback"
        ));
        assert!(!redirect_allowed(
            &registered,
            "http://evil.example/callback"
        ));
        assert!(!redirect_allowed(
            &registered,
            "io.github.other:/oauth/callback"
        ));
    }
}
