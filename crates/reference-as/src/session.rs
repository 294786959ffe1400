//! Browser sessions: a random id in an `HttpOnly`, `SameSite=Lax` cookie,
//! an anti-CSRF token per session, and a fresh id at sign-in so a session
//! id planted before sign-in is worth nothing after it.

use crate::crypto::{constant_time_eq, now, random_token};
use crate::state::{AsState, Session, lock};
use axum::http::{HeaderMap, HeaderValue, header};

const COOKIE: &str = "ras_session";
const LIFETIME: i64 = 8 * 3600;

/// The session a request belongs to, and a `Set-Cookie` when it is new.
pub struct Current {
    /// Session id.
    pub id: String,
    /// Its data (a copy).
    pub session: Session,
    /// The cookie to set, when the session was just made.
    pub set_cookie: Option<HeaderValue>,
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

fn cookie_for(id: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={LIFETIME}"
    ))
    .ok()
}

/// The live session named by the request's cookie, if any.
pub fn existing(state: &AsState, headers: &HeaderMap) -> Option<(String, Session)> {
    let id = cookie_value(headers)?;
    let mut sessions = lock(&state.sessions);
    let now = now();
    sessions.retain(|_, s| s.expires > now);
    sessions.get(&id).map(|s| (id, s.clone()))
}

/// The request's session, made anew when it has none.
pub fn current(state: &AsState, headers: &HeaderMap) -> Current {
    if let Some((id, session)) = existing(state, headers) {
        return Current {
            id,
            session,
            set_cookie: None,
        };
    }
    let id = random_token();
    let session = Session {
        user: None,
        csrf: random_token(),
        expires: now() + LIFETIME,
    };
    lock(&state.sessions).insert(id.clone(), session.clone());
    let set_cookie = cookie_for(&id);
    Current {
        id,
        session,
        set_cookie,
    }
}

/// Replaces session `old` by a new signed-in one; returns its cookie.
pub fn sign_in(state: &AsState, old: &str, user: &str) -> Option<HeaderValue> {
    let id = random_token();
    let mut sessions = lock(&state.sessions);
    sessions.remove(old);
    sessions.insert(
        id.clone(),
        Session {
            user: Some(user.to_string()),
            csrf: random_token(),
            expires: now() + LIFETIME,
        },
    );
    cookie_for(&id)
}

/// The signed-in user when `csrf` matches the session's token.
pub fn user_with_csrf(
    state: &AsState,
    headers: &HeaderMap,
    csrf: &str,
) -> Option<(String, String)> {
    let (id, session) = existing(state, headers)?;
    if !constant_time_eq(&session.csrf, csrf) {
        return None;
    }
    session.user.map(|u| (id, u))
}

/// Whether `user:password` is a configured account (constant time per entry).
pub fn check_password(state: &AsState, user: &str, password: &str) -> bool {
    state.config.users.iter().fold(false, |ok, (u, p)| {
        ok | (constant_time_eq(u, user) & constant_time_eq(p, password))
    })
}
