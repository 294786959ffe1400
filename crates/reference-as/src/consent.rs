//! Sign-in and consent: `POST /login` and `POST /authorize/decision`.
//!
//! A consent page is bound to the session that saw it and answered once; the
//! answer must carry the session's anti-CSRF token. Approval issues a
//! single-use code that lives 60 seconds.

use crate::authorize::redirect_to_client;
use crate::crypto::{digest, now, random_token};
use crate::html::{self, Consent};
use crate::session::{self, Current};
use crate::state::{AsState, AuthRequest, CodeRecord, Mode, PendingConsent, lock};
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

const CODE_LIFETIME: i64 = 60;
const CONSENT_LIFETIME: i64 = 600;

/// Stores `request` as pending for this session and renders its consent page.
pub fn show(
    state: &AsState,
    current: &Current,
    request: AuthRequest,
    error: Option<&str>,
) -> Response {
    show_pending(state, current, request, error, None)
}

/// The consent page for a device code (its digest in `device`): the answer
/// goes to the device code, not to a redirect URI.
pub fn show_for_device(
    state: &AsState,
    current: &Current,
    request: AuthRequest,
    device: String,
) -> Response {
    show_pending(state, current, request, None, Some(device))
}

fn show_pending(
    state: &AsState,
    current: &Current,
    request: AuthRequest,
    error: Option<&str>,
    device: Option<String>,
) -> Response {
    let id = random_token();
    let now = now();
    {
        let mut pending = lock(&state.pending);
        pending.retain(|_, p| p.expires > now);
        pending.insert(
            id.clone(),
            PendingConsent {
                request: request.clone(),
                session: current.id.clone(),
                expires: now + CONSENT_LIFETIME,
                device,
            },
        );
    }
    let catalog = &state.config.catalog;
    let (picker, fixed) = match &request.mode {
        Mode::Global { hint } => (
            Some(
                catalog
                    .iter()
                    .map(|e| {
                        (
                            e.id.as_str(),
                            e.name.as_str(),
                            e.description.as_str(),
                            hint.contains(&e.id),
                        )
                    })
                    .collect(),
            ),
            Vec::new(),
        ),
        Mode::Resources(ids) => (
            None,
            catalog
                .iter()
                .filter(|e| ids.contains(&e.id))
                .map(|e| e.name.as_str())
                .collect(),
        ),
    };
    html::consent(&Consent {
        csrf: &current.session.csrf,
        request: &id,
        client_name: &request.client_name,
        redirect_uri: &request.redirect_uri,
        scopes: &request.scope,
        picker,
        fixed,
        error,
    })
}

/// The sign-in form's fields.
#[derive(Debug, serde::Deserialize)]
pub struct Login {
    username: String,
    password: String,
    csrf: String,
    return_to: String,
}

/// Where a sign-in may continue: only this AS's own authorize and account pages.
fn safe_return(path: &str) -> Option<&str> {
    let ok = (path.starts_with("/authorize?")
        || path == "/account"
        || path == "/device"
        || path.starts_with("/device?"))
        && !path.contains('\\')
        && !path.starts_with("//");
    ok.then_some(path)
}

/// `POST /login`.
pub async fn login(
    State(state): State<Arc<AsState>>,
    headers: HeaderMap,
    Form(form): Form<Login>,
) -> Response {
    let Some((id, session)) = session::existing(&state, &headers) else {
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "Your sign-in page expired. Start again from the application.",
        );
    };
    if !crate::crypto::constant_time_eq(&session.csrf, &form.csrf) {
        return html::error_page(
            StatusCode::FORBIDDEN,
            "The form did not come from this page. Start again from the application.",
        );
    }
    let Some(return_to) = safe_return(&form.return_to) else {
        return html::error_page(StatusCode::BAD_REQUEST, "The sign-in form was altered.");
    };
    if !session::check_password(&state, &form.username, &form.password) {
        tracing::info!("sign-in refused");
        return html::sign_in(
            &session.csrf,
            return_to,
            Some("That user name and password do not match. Try again."),
        );
    }
    let cookie = session::sign_in(&state, &id, &form.username);
    let mut response = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, return_to.to_string())],
    )
        .into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// `POST /authorize/decision`: fields `csrf`, `request`, `decision`, `server`*.
pub async fn decide(
    State(state): State<Arc<AsState>>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let field = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let Some((session_id, user)) = session::user_with_csrf(&state, &headers, field("csrf")) else {
        return html::error_page(
            StatusCode::FORBIDDEN,
            "This page expired or did not come from this server. Start again from the application.",
        );
    };
    let pending = lock(&state.pending).remove(field("request"));
    let Some(pending) = pending.filter(|p| p.session == session_id && p.expires > now()) else {
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "This request was already answered or has expired. Start again from the application.",
        );
    };
    let (request, device) = (pending.request, pending.device);
    let issuer = &state.config.issuer;
    let client_state: Vec<(&str, String)> =
        request.state.iter().map(|s| ("state", s.clone())).collect();
    if field("decision") != "approve" {
        if let Some(device) = &device {
            return crate::device::decided(&state, device, crate::device::Answer::Denied);
        }
        let mut pairs = vec![
            ("error", "access_denied".to_string()),
            ("error_description", "the user denied access".to_string()),
        ];
        pairs.extend(client_state);
        return redirect_to_client(&request.redirect_uri, &pairs, issuer);
    }
    let servers: Vec<String> = match &request.mode {
        Mode::Resources(ids) => ids.clone(),
        Mode::Global { .. } => {
            let chosen: Vec<&str> = form
                .iter()
                .filter(|(k, _)| k == "server")
                .map(|(_, v)| v.as_str())
                .collect();
            state
                .config
                .catalog
                .iter()
                .filter(|e| chosen.contains(&e.id.as_str()))
                .map(|e| e.id.clone())
                .collect()
        }
    };
    if servers.is_empty() {
        let current = Current {
            id: session_id,
            session: session_state(&state, &headers),
            set_cookie: None,
        };
        return show_pending(
            &state,
            &current,
            request,
            Some("Choose at least one server, or Deny."),
            device,
        );
    }
    if let Some(device) = &device {
        let answer = crate::device::Answer::Approved { user, servers };
        return crate::device::decided(&state, device, answer);
    }
    let code = random_token();
    crate::secrets_log::record("code", &code);
    let record = CodeRecord {
        request: request.clone(),
        user,
        servers,
        expires: now() + CODE_LIFETIME,
        used_for: None,
    };
    {
        let mut codes = lock(&state.codes);
        let now = now();
        codes.retain(|_, c| c.expires + CONSENT_LIFETIME > now);
        codes.insert(digest(&code), record);
    }
    let mut pairs = vec![("code", code)];
    pairs.extend(client_state);
    redirect_to_client(&request.redirect_uri, &pairs, issuer)
}

fn session_state(state: &AsState, headers: &HeaderMap) -> crate::state::Session {
    session::existing(state, headers)
        .map(|(_, s)| s)
        .unwrap_or(crate::state::Session {
            user: None,
            csrf: String::new(),
            expires: 0,
        })
}

#[cfg(test)]
mod tests {
    use super::safe_return;

    #[test]
    fn sign_in_continues_only_to_own_pages() {
        assert!(safe_return("/authorize?client_id=x").is_some());
        assert!(safe_return("/account").is_some());
        assert!(safe_return("//evil.example/authorize?").is_none());
        assert!(safe_return("https://evil.example/").is_none());
        assert!(safe_return("/authorize").is_none());
    }
}
