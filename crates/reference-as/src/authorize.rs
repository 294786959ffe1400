//! `GET /authorize`: validates an authorization request and shows the
//! sign-in page or the consent page (with the server picker in the global
//! flow).
//!
//! Errors about the client or its redirect URI are shown on a page and never
//! redirected (the redirect target is not trusted yet); every later error is
//! redirected to the client with `state` and `iss`.

use crate::clients;
use crate::html;
use crate::scope::{DEFAULT, Scope};
use crate::session;
use crate::state::{AsState, AuthRequest, Mode};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Why a request cannot go on.
#[derive(Debug)]
pub enum Refusal {
    /// Shown on a page: the client or redirect URI cannot be trusted.
    Page(String),
    /// Sent to the client's redirect URI.
    Redirect {
        /// The checked redirect URI.
        redirect_uri: String,
        /// The client's state.
        state: Option<String>,
        /// The OAuth error code.
        error: &'static str,
        /// A human description.
        description: String,
    },
}

impl Refusal {
    /// Turns the refusal into a response; `issuer` is added as `iss`.
    pub fn respond(self, issuer: &str) -> Response {
        match self {
            Refusal::Page(message) => html::error_page(StatusCode::BAD_REQUEST, &message),
            Refusal::Redirect {
                redirect_uri,
                state,
                error,
                description,
            } => {
                let mut pairs = vec![
                    ("error", error.to_string()),
                    ("error_description", description),
                ];
                if let Some(state) = state {
                    pairs.push(("state", state));
                }
                redirect_to_client(&redirect_uri, &pairs, issuer)
            }
        }
    }
}

/// A 303 to the client's redirect URI with `pairs` and `iss` in the query.
pub fn redirect_to_client(redirect_uri: &str, pairs: &[(&str, String)], issuer: &str) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "The redirect URI is not a valid URL.",
        );
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in pairs {
            query.append_pair(k, v);
        }
        query.append_pair("iss", issuer);
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, url.to_string()),
            (header::CACHE_CONTROL, "no-store".into()),
        ],
    )
        .into_response()
}

/// Parses a query string into ordered pairs (repeated names kept).
pub fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn single<'a>(params: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, ()> {
    let mut values = params
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        Err(())
    } else {
        Ok(first)
    }
}

/// Validates an authorization request (RFC 6749 section 4.1.1, RFC 7636, RFC 8707).
pub async fn validate(
    state: &AsState,
    params: &[(String, String)],
) -> Result<AuthRequest, Refusal> {
    let page = |m: &str| Refusal::Page(m.to_string());
    let client_id = single(params, "client_id")
        .map_err(|_| page("The request names more than one client."))?
        .ok_or_else(|| {
            page("The request does not say which application is asking (client_id is missing).")
        })?;
    let client = clients::resolve(state, client_id)
        .await
        .map_err(|e| Refusal::Page(format!("The application could not be identified: {e}.")))?
        .ok_or_else(|| {
            page("This application is not registered with this authorization server.")
        })?;
    let redirect_uri = single(params, "redirect_uri")
        .map_err(|_| page("The request has more than one redirect_uri."))?
        .ok_or_else(|| page("The request has no redirect_uri."))?;
    if !clients::redirect_uri_matches(&client.redirect_uris, redirect_uri) {
        return Err(page(
            "The redirect_uri is not one this application registered.",
        ));
    }
    let client_state = single(params, "state").ok().flatten().map(String::from);
    let refuse = |error: &'static str, description: &str| Refusal::Redirect {
        redirect_uri: redirect_uri.to_string(),
        state: client_state.clone(),
        error,
        description: description.to_string(),
    };
    for name in [
        "response_type",
        "state",
        "scope",
        "code_challenge",
        "code_challenge_method",
    ] {
        single(params, name)
            .map_err(|_| refuse("invalid_request", &format!("{name} is repeated")))?;
    }
    let response_type = single(params, "response_type").ok().flatten();
    if response_type != Some("code") {
        return Err(refuse(
            "unsupported_response_type",
            "only response_type=code is supported",
        ));
    }
    let challenge = single(params, "code_challenge")
        .ok()
        .flatten()
        .unwrap_or("");
    let method = single(params, "code_challenge_method").ok().flatten();
    if challenge.is_empty() {
        return Err(refuse(
            "invalid_request",
            "PKCE is required: code_challenge is missing",
        ));
    }
    if method != Some("S256") {
        return Err(refuse(
            "invalid_request",
            "code_challenge_method must be S256",
        ));
    }
    if challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(refuse(
            "invalid_request",
            "code_challenge is not an S256 challenge",
        ));
    }
    let (plain, mode) = scope_and_mode(state, params).map_err(|(e, d)| refuse(e, &d))?;
    Ok(AuthRequest {
        client_id: client.client_id,
        client_name: client.name,
        redirect_uri: redirect_uri.to_string(),
        state: client_state,
        code_challenge: challenge.to_string(),
        scope: plain,
        mode,
    })
}

/// The plain scopes and the mode a request's `scope` and `resource`
/// parameters ask for (authorization and device requests alike), or the
/// OAuth error code and description.
pub fn scope_and_mode(
    state: &AsState,
    params: &[(String, String)],
) -> Result<(Vec<String>, Mode), (&'static str, String)> {
    let refuse = |e: &'static str, d: &str| (e, d.to_string());
    let scope = match single(params, "scope") {
        Ok(s) => Scope::parse(s.unwrap_or("")),
        Err(()) => return Err(refuse("invalid_request", "scope is repeated")),
    };
    if let Some(unknown) = scope.unknown().first() {
        return Err(refuse("invalid_scope", &format!("unknown scope {unknown}")));
    }
    let mut servers = Vec::new();
    for (_, resource) in params.iter().filter(|(k, _)| k == "resource") {
        if state.config.is_root_resource(resource) {
            continue;
        }
        match state.config.server_by_resource(resource) {
            Some(entry) if !servers.contains(&entry.id) => servers.push(entry.id.clone()),
            Some(_) => {}
            None => {
                return Err(refuse(
                    "invalid_target",
                    "a resource is not a server this authorization server knows",
                ));
            }
        }
    }
    let mode = if servers.is_empty() {
        let known = |id: &String| state.config.catalog.iter().any(|e| &e.id == id);
        Mode::Global {
            hint: scope
                .servers
                .clone()
                .unwrap_or_default()
                .into_iter()
                .filter(known)
                .collect(),
        }
    } else {
        Mode::Resources(servers)
    };
    let mut plain: Vec<String> = scope
        .plain
        .iter()
        .filter(|s| *s != "mcp:global" || matches!(mode, Mode::Global { .. }))
        .cloned()
        .collect();
    if plain
        .iter()
        .all(|s| s == "mcp:global" || s == "offline_access")
    {
        plain.extend(DEFAULT.iter().map(|s| s.to_string()));
    }
    Ok((plain, mode))
}

/// `GET /authorize`.
pub async fn authorize(
    State(state): State<Arc<AsState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = pairs(raw.as_deref());
    let request = match validate(&state, &params).await {
        Ok(r) => r,
        Err(refusal) => return refusal.respond(&state.config.issuer),
    };
    let current = session::current(&state, &headers);
    let mut response = match &current.session.user {
        None => {
            let return_to = format!("/authorize?{}", raw.as_deref().unwrap_or(""));
            html::sign_in(&current.session.csrf, &return_to, None)
        }
        Some(_) => crate::consent::show(&state, &current, request, None),
    };
    if let Some(cookie) = current.set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}
