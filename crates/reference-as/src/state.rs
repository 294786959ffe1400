//! The shared state of one running AS: configuration, database, signing key,
//! and the short-lived in-memory records (browser sessions, authorization
//! requests awaiting consent, authorization codes).
//!
//! Short-lived records stay in memory on purpose: a restart drops flows in
//! progress (the user starts again) but never a grant, which is in SQLite.

use crate::config::AsConfig;
use crate::db::Store;
use crate::jwt::TokenSigner;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// A browser session at the AS.
#[derive(Debug, Clone)]
pub struct Session {
    /// The signed-in user, if any.
    pub user: Option<String>,
    /// The anti-CSRF token its forms must echo.
    pub csrf: String,
    /// Unix time after which it is gone.
    pub expires: i64,
}

/// Which kind of grant an authorization request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The Multi-Server pattern: the user picks servers; `hint` are pre-checked.
    Global {
        /// Server ids from a `servers:` scope hint.
        hint: Vec<String>,
    },
    /// One or more `resource` parameters named these catalog servers.
    Resources(Vec<String>),
}

/// A validated authorization request, waiting for sign-in or consent.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    /// The client.
    pub client_id: String,
    /// Its display name.
    pub client_name: String,
    /// The redirect URI given in the request.
    pub redirect_uri: String,
    /// The client's `state`, echoed back.
    pub state: Option<String>,
    /// The S256 PKCE challenge.
    pub code_challenge: String,
    /// Plain scopes asked for (unknown ones already refused).
    pub scope: Vec<String>,
    /// Picker or named resources.
    pub mode: Mode,
}

/// A request shown on a consent page, bound to the session that saw it.
#[derive(Debug, Clone)]
pub struct PendingConsent {
    /// The request.
    pub request: AuthRequest,
    /// The session id it belongs to.
    pub session: String,
    /// Unix time after which it is gone.
    pub expires: i64,
    /// The digest of the device code it answers (RFC 8628), instead of a redirect.
    pub device: Option<String>,
}

/// An issued authorization code (kept by digest).
#[derive(Debug, Clone)]
pub struct CodeRecord {
    /// The request it answers.
    pub request: AuthRequest,
    /// The user who approved.
    pub user: String,
    /// The servers approved.
    pub servers: Vec<String>,
    /// Unix time after which it is refused.
    pub expires: i64,
    /// The grant it produced, once exchanged (a second exchange revokes it).
    pub used_for: Option<String>,
}

/// Everything a request handler can reach.
#[derive(Debug)]
pub struct AsState {
    /// The configuration.
    pub config: AsConfig,
    /// Durable state.
    pub store: Store,
    /// The token signing key.
    pub signer: TokenSigner,
    /// Browser sessions by id.
    pub sessions: Mutex<HashMap<String, Session>>,
    /// Consent pages shown and not yet answered, by request id.
    pub pending: Mutex<HashMap<String, PendingConsent>>,
    /// Authorization codes by digest.
    pub codes: Mutex<HashMap<String, CodeRecord>>,
    /// Device codes by digest (RFC 8628).
    pub devices: Mutex<HashMap<String, crate::device::DeviceRecord>>,
    /// Wrong user codes entered, by browser session (guessing is cut off).
    pub device_misses: Mutex<HashMap<String, u32>>,
    /// Client for Client ID Metadata Documents (no redirects, short timeout).
    pub http: reqwest::Client,
    /// Requests answered by the token endpoint, by grant type (for operators and tests).
    pub token_requests: TokenCounters,
    /// DPoP replay memory, nonce and key bindings (`--dpop`).
    pub dpop: crate::dpop::DpopState,
    /// Counts of every request answered, by kind.
    pub requests: crate::counters::RequestCounters,
    /// Trusted identity providers' signing keys, fetched from their `jwks_uri`.
    pub idp_keys: crate::idp_keys::KeyCache,
    /// Keeps a temporary state directory alive for the AS's lifetime.
    pub _temp_dir: Option<tempfile::TempDir>,
}

/// Counts of token endpoint requests.
#[derive(Debug, Default)]
pub struct TokenCounters {
    /// `authorization_code` requests.
    pub code: std::sync::atomic::AtomicU64,
    /// `refresh_token` requests.
    pub refresh: std::sync::atomic::AtomicU64,
    /// Token exchange requests (RFC 8693).
    pub exchange: std::sync::atomic::AtomicU64,
    /// Device code polls.
    pub device: std::sync::atomic::AtomicU64,
    /// `slow_down` answers to device code polls.
    pub slow_down: std::sync::atomic::AtomicU64,
    /// JWT bearer grant requests (ID-JAGs), answered or refused.
    pub jwt_bearer: std::sync::atomic::AtomicU64,
    /// Token exchange requests (at the IdP role), answered or refused.
    pub token_exchange: std::sync::atomic::AtomicU64,
}

/// Locks an in-memory table; a poisoned lock still holds usable data, so
/// it is taken over rather than turned into a panic.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
