//! The device authorization grant (RFC 8628): `POST /device_authorization`
//! issues a device code and a user code; `GET /device` is the page where a
//! signed-in person types the user code, and `POST /device` leads to the
//! usual consent page; the token endpoint answers the device code with
//! `authorization_pending`, `slow_down`, `access_denied`, `expired_token`
//! or, once approved, a grant like a code exchange's.
//!
//! Codes are single use and expire; the device code is kept by digest only.
//! A client that polls before its interval has passed is told `slow_down`
//! and must wait 5 seconds longer from then on (section 3.5).

use crate::consent;
use crate::crypto::{constant_time_eq, digest, now, random_token};
use crate::db::{self, ClientRow, GrantRow};
use crate::error::OAuthError;
use crate::html::{self, esc};
use crate::issue::{Audience, resources_to_servers, token_response};
use crate::session;
use crate::state::{AsState, AuthRequest, Mode, lock};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// The grant type the token endpoint answers here.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Letters of a user code: no vowels (no words), no look-alikes (RFC 8628 section 6.1).
const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Wrong user codes a browser session may enter before it is refused
/// (RFC 8628 section 5.1: user codes are short, so guessing is limited).
const MAX_MISSES: u32 = 5;

/// Where a device code stands.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Nobody has approved or denied it yet.
    Pending,
    /// The person approved these servers.
    Approved {
        /// Who approved.
        user: String,
        /// The servers approved.
        servers: Vec<String>,
    },
    /// The person denied it.
    Denied,
}

/// An issued device code, kept by the digest of the device code.
#[derive(Debug, Clone)]
pub struct DeviceRecord {
    /// The request, as an authorization request would carry it (no redirect URI, no PKCE).
    pub request: AuthRequest,
    /// The user code, without its dash.
    pub user_code: String,
    /// Unix time after which it is `expired_token`.
    pub expires: i64,
    /// The current polling interval (grows by 5 s at each `slow_down`).
    pub interval: Duration,
    /// When it was last polled (or issued).
    pub last_poll: Instant,
    /// The person's answer.
    pub answer: Answer,
}

fn user_code() -> String {
    use rand::Rng as _;
    let mut rng = rand::thread_rng();
    (0..8)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// The user code as typed: case, dashes and spaces ignored.
fn normalize(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn no_store(body: serde_json::Value) -> Response {
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /device_authorization` (RFC 8628 section 3.1): `client_id` (or
/// client authentication), `scope`, `resource`*.
pub async fn authorize(
    State(state): State<Arc<AsState>>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !state.config.device_flow {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    let client = match crate::clients::authenticate(&state, &headers, &form).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let (scope, mode) = match crate::authorize::scope_and_mode(&state, &form) {
        Ok(v) => v,
        Err((code, description)) => {
            return OAuthError::device(StatusCode::BAD_REQUEST, code, description).into_response();
        }
    };
    let device_code = random_token();
    crate::secrets_log::record("device_code", &device_code);
    let code = user_code();
    let lifetime = state.config.device_code_lifetime;
    let record = DeviceRecord {
        request: AuthRequest {
            client_id: client.client_id,
            client_name: client.name,
            redirect_uri: String::new(),
            state: None,
            code_challenge: String::new(),
            scope,
            mode,
        },
        user_code: code.clone(),
        expires: now() + lifetime,
        interval: Duration::from_secs(state.config.device_interval),
        last_poll: Instant::now(),
        answer: Answer::Pending,
    };
    {
        let mut devices = lock(&state.devices);
        let now = now();
        devices.retain(|_, d| d.expires > now);
        devices.insert(digest(&device_code), record);
    }
    let base = state.config.issuer.trim_end_matches('/');
    let shown = format!("{}-{}", &code[..4], &code[4..]);
    no_store(serde_json::json!({
        "device_code": device_code,
        "user_code": shown,
        "verification_uri": format!("{base}/device"),
        "verification_uri_complete": format!("{base}/device?user_code={shown}"),
        "expires_in": lifetime,
        "interval": state.config.device_interval,
    }))
}

/// The query of `GET /device`.
#[derive(Debug, serde::Deserialize)]
pub struct Shown {
    #[serde(default)]
    user_code: Option<String>,
}

fn code_form(csrf: &str, user_code: &str, error: Option<&str>) -> Response {
    let alert = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Connect a device</h1>{alert}<p>Enter the code the application shows you.</p>\
         <form method=\"post\" action=\"/device\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label>Code <input type=\"text\" name=\"user_code\" value=\"{}\" autocomplete=\"off\" required autofocus></label>\
         <button type=\"submit\">Continue</button></form>",
        esc(csrf),
        esc(user_code)
    );
    html::page(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        "Connect a device",
        &body,
    )
}

/// `GET /device`: the code page, after signing in.
pub async fn page(
    State(state): State<Arc<AsState>>,
    headers: HeaderMap,
    Query(shown): Query<Shown>,
) -> Response {
    let typed = shown
        .user_code
        .as_deref()
        .map(normalize)
        .unwrap_or_default();
    let current = session::current(&state, &headers);
    let mut response = match &current.session.user {
        None => {
            let return_to = if typed.is_empty() {
                "/device".to_string()
            } else {
                format!("/device?user_code={typed}")
            };
            html::sign_in(&current.session.csrf, &return_to, None)
        }
        Some(_) => code_form(&current.session.csrf, &typed, None),
    };
    if let Some(cookie) = current.set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The code page's fields.
#[derive(Debug, serde::Deserialize)]
pub struct Entered {
    csrf: String,
    user_code: String,
}

/// `POST /device`: a known, pending user code leads to the consent page.
pub async fn enter(
    State(state): State<Arc<AsState>>,
    headers: HeaderMap,
    Form(form): Form<Entered>,
) -> Response {
    let current = match session::existing(&state, &headers) {
        Some((id, session))
            if session.user.is_some() && constant_time_eq(&session.csrf, &form.csrf) =>
        {
            session::Current {
                id,
                session,
                set_cookie: None,
            }
        }
        _ => {
            return html::error_page(
                StatusCode::FORBIDDEN,
                "This page expired or did not come from this server. Open the address the application shows again.",
            );
        }
    };
    let misses = lock(&state.device_misses)
        .get(&current.id)
        .copied()
        .unwrap_or(0);
    if misses >= MAX_MISSES {
        return html::error_page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many wrong codes were entered. Sign out, sign in again, and check the code on your device.",
        );
    }
    let typed = normalize(&form.user_code);
    let found = {
        let devices = lock(&state.devices);
        let now = now();
        devices
            .iter()
            .find(|(_, d)| {
                d.expires > now
                    && matches!(d.answer, Answer::Pending)
                    && constant_time_eq(&d.user_code, &typed)
            })
            .map(|(k, d)| (k.clone(), d.request.clone()))
    };
    if found.is_none() {
        *lock(&state.device_misses)
            .entry(current.id.clone())
            .or_insert(0) += 1;
    }
    match found {
        None => code_form(
            &current.session.csrf,
            &form.user_code,
            Some("That code is not valid or has expired. Check it, or start again on your device."),
        ),
        Some((device, request)) => consent::show_for_device(&state, &current, request, device),
    }
}

/// The consent page's answer for a device code: records it and tells the
/// person to go back to the device.
pub fn decided(state: &AsState, device: &str, answer: Answer) -> Response {
    let approved = matches!(answer, Answer::Approved { .. });
    let found = {
        let mut devices = lock(&state.devices);
        match devices.get_mut(device) {
            Some(d) if d.expires > now() && matches!(d.answer, Answer::Pending) => {
                d.answer = answer;
                true
            }
            _ => false,
        }
    };
    if !found {
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "This code was already answered or has expired. Start again on your device.",
        );
    }
    let message = if approved {
        "<h1>Device connected</h1><p>You can return to your device; it continues on its own.</p>"
    } else {
        "<h1>Access denied</h1><p>The device was not connected. You can close this page.</p>"
    };
    html::page(StatusCode::OK, "Device", message)
}

/// `grant_type=urn:ietf:params:oauth:grant-type:device_code` at `/token`.
pub fn token(
    state: &AsState,
    client: &ClientRow,
    device_code: &str,
    resources: &[&str],
) -> Result<serde_json::Value, OAuthError> {
    state.token_requests.device.fetch_add(1, Relaxed);
    let key = digest(device_code);
    let (record, approved) = {
        let mut devices = lock(&state.devices);
        let Some(record) = devices.get_mut(&key) else {
            return Err(OAuthError::invalid_grant("the device code is not valid"));
        };
        if record.request.client_id != client.client_id {
            return Err(OAuthError::invalid_grant(
                "the device code was issued to another client",
            ));
        }
        if record.expires <= now() {
            devices.remove(&key);
            return Err(OAuthError::device(
                StatusCode::BAD_REQUEST,
                "expired_token",
                "the device code has expired",
            ));
        }
        let floor = Duration::from_secs(
            state
                .config
                .device_enforced_interval
                .unwrap_or(state.config.device_interval),
        )
        .max(record.interval);
        let since = record.last_poll.elapsed();
        record.last_poll = Instant::now();
        if since < floor {
            // The client must add 5 seconds to the interval it keeps to.
            record.interval += Duration::from_secs(5);
            state.token_requests.slow_down.fetch_add(1, Relaxed);
            return Err(OAuthError::device(
                StatusCode::BAD_REQUEST,
                "slow_down",
                "polled too often; wait 5 seconds longer between requests",
            ));
        }
        match &record.answer {
            Answer::Pending => {
                return Err(OAuthError::device(
                    StatusCode::BAD_REQUEST,
                    "authorization_pending",
                    "the user has not answered yet",
                ));
            }
            Answer::Denied => {
                devices.remove(&key);
                return Err(OAuthError::device(
                    StatusCode::BAD_REQUEST,
                    "access_denied",
                    "the user denied access",
                ));
            }
            Answer::Approved { .. } => {}
        }
        let record = devices
            .remove(&key)
            .ok_or_else(|| OAuthError::invalid_grant("the device code is not valid"))?;
        let Answer::Approved { user, servers } = record.answer.clone() else {
            return Err(OAuthError::invalid_grant("the device code is not valid"));
        };
        (record, (user, servers))
    };
    let (user, servers) = approved;
    let grant = GrantRow {
        id: random_token(),
        user,
        client_id: client.client_id.clone(),
        servers,
        scope: record.request.scope,
        global: matches!(record.request.mode, Mode::Global { .. }),
        created: now(),
        revoked: false,
    };
    let mut audience = Audience::of_grant(&grant);
    if let Some(ids) = resources_to_servers(state, resources, &grant.servers)? {
        audience.servers = ids;
        audience.narrowed = true;
    }
    state.store.tx(|c| {
        db::insert_grant(c, &grant)?;
        token_response(state, c, &grant, &audience)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_use_the_safe_alphabet_and_typing_is_forgiving() {
        let code = user_code();
        assert_eq!(code.len(), 8);
        assert!(code.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
        assert_eq!(normalize(" bcdf-ghjk "), "BCDFGHJK");
    }
}
