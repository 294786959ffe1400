//! The identity provider role: an enterprise IdP for Enterprise-Managed
//! Authorization (SEP-990), on a listener and issuer of its own.
//!
//! It speaks OpenID Connect to one kind of client, pre-registered by
//! configuration as enterprises do (no registration endpoint): the
//! authorization code flow with PKCE signs the person in through the same
//! sign-in page and users as the AS (no consent page and no server picker:
//! the IdP's policy decides), and its token endpoint answers with an ID
//! token, an opaque access token and, with `offline_access`, a refresh
//! token that rotates (a refresh brings a fresh ID token too). The same
//! endpoint does the RFC 8693 token exchange of an ID token for an ID-JAG
//! (`exchange`) for an AS it trusts and a server its policy allows.
//! `/revoke` ends a sign-in by its refresh token (signing out).
//!
//! It is built on an [`AsState`] of its own (its own signing key, users,
//! sessions, clients and database), so it shares nothing with the AS it
//! speaks for but configuration, as a real IdP would.

mod authorize;
pub mod exchange;
mod token;

use crate::config::{AsConfig, PreregisteredClient};
use crate::state::AsState;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// An AS the IdP issues ID-JAGs for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedAs {
    /// Its issuer: the `audience` a token exchange names, and the ID-JAG's `aud`.
    pub issuer: String,
    /// The client's id at that AS: the ID-JAG's `client_id`.
    pub client_id: String,
    /// The resource URLs of the MCP servers it serves.
    pub resources: Vec<String>,
}

/// One user's policy: the only resource URLs they may get ID-JAGs for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPolicy {
    /// The user name.
    pub user: String,
    /// The MCP servers' resource URLs allowed; a user without a policy may reach every trusted AS's servers.
    pub resources: Vec<String>,
}

/// Everything the IdP is told at start.
#[derive(Debug, Clone)]
pub struct IdpConfig {
    /// Its issuer, exactly as published (its own listener's origin).
    pub issuer: String,
    /// `(name, password)` pairs that can sign in.
    pub users: Vec<(String, String)>,
    /// The domain of the users' `email` claim (`name@domain`).
    pub email_domain: String,
    /// Clients registered at the IdP by configuration.
    pub clients: Vec<PreregisteredClient>,
    /// The ASes it issues ID-JAGs for.
    pub trusted: Vec<TrustedAs>,
    /// Per-user limits on the servers reachable.
    pub policies: Vec<UserPolicy>,
    /// ID token (and IdP access token) lifetime, seconds.
    pub id_token_ttl: i64,
    /// ID-JAG lifetime, seconds (at most 300).
    pub id_jag_ttl: i64,
    /// Where its SQLite state lives; `None` for a temporary directory.
    pub state_dir: Option<PathBuf>,
}

/// The IdP client id the demo registers (public, PKCE).
pub const DEMO_CLIENT_ID: &str = "mcp-passport";

impl IdpConfig {
    /// An IdP at `issuer` with user `demo:demo`, the public client
    /// [`DEMO_CLIENT_ID`] (any loopback redirect, or the app's
    /// `io.github.mcppassport:/oauth/callback`), no trusted AS yet.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            users: vec![("demo".into(), "demo".into())],
            email_domain: "example.com".into(),
            clients: vec![PreregisteredClient {
                client_id: DEMO_CLIENT_ID.into(),
                client_secret: None,
                redirect_uris: vec!["io.github.mcppassport:/oauth/callback".into()],
                name: "MCP Passport".into(),
            }],
            trusted: Vec::new(),
            policies: Vec::new(),
            id_token_ttl: 3600,
            id_jag_ttl: 300,
            state_dir: None,
        }
    }

    /// The trusted AS whose issuer is `audience` (with or without a trailing slash).
    pub fn trusted_as(&self, audience: &str) -> Option<&TrustedAs> {
        self.trusted
            .iter()
            .find(|t| t.issuer.trim_end_matches('/') == audience.trim_end_matches('/'))
    }

    /// Whether `user`'s policy lets them reach `resource`.
    pub fn allows(&self, user: &str, resource: &str) -> bool {
        self.policies
            .iter()
            .find(|p| p.user == user)
            .is_none_or(|p| p.resources.iter().any(|r| r == resource))
    }
}

/// An authorization code the IdP issued (kept by digest).
#[derive(Debug, Clone)]
struct IdpCode {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: Vec<String>,
    nonce: Option<String>,
    user: String,
    expires: i64,
}

/// A running IdP's state.
#[derive(Debug)]
pub struct IdpState {
    /// Its own AS instance: signing key, users, sessions, clients, database, counters.
    pub base: Arc<AsState>,
    /// Its configuration.
    pub config: IdpConfig,
    codes: Mutex<HashMap<String, IdpCode>>,
}

impl IdpState {
    /// Opens the IdP's state (its own database and key) for `config`.
    pub fn open(config: IdpConfig) -> Result<Self, crate::StartError> {
        let mut base = AsConfig::new(config.issuer.clone());
        base.users = config.users.clone();
        base.clients = config.clients.clone();
        base.state_dir = config.state_dir.clone();
        base.device_flow = false;
        Ok(Self {
            base: Arc::new(crate::open_state(base)?),
            config,
            codes: Mutex::default(),
        })
    }

    /// How many token exchange requests it answered (granted or refused).
    pub fn token_exchanges(&self) -> u64 {
        self.base
            .token_requests
            .token_exchange
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The OpenID Connect discovery document.
pub fn document(idp: &IdpState) -> Value {
    let base = idp.config.issuer.trim_end_matches('/');
    json!({
        "issuer": idp.config.issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks.json"),
        "revocation_endpoint": format!("{base}/revoke"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", exchange::GRANT_TYPE],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": authorize::SCOPES,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "email", "email_verified", "nonce"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "authorization_response_iss_parameter_supported": true,
    })
}

async fn metadata(State(idp): State<Arc<IdpState>>) -> Json<Value> {
    Json(document(&idp))
}

async fn jwks(State(idp): State<Arc<IdpState>>) -> Json<Value> {
    Json(idp.base.signer.jwks())
}

/// `POST /revoke` (RFC 7009): a refresh token ends its sign-in (signing out).
async fn revoke(
    State(idp): State<Arc<IdpState>>,
    headers: axum::http::HeaderMap,
    form: axum::Form<Vec<(String, String)>>,
) -> axum::response::Response {
    crate::revoke::revoke(State(Arc::clone(&idp.base)), headers, form).await
}

/// The IdP's routes.
pub fn app(idp: Arc<IdpState>) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(metadata))
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/jwks.json", get(jwks))
        .route("/authorize", get(authorize::authorize))
        .route("/login", post(authorize::login))
        .route("/token", post(token::token))
        .route("/revoke", post(revoke))
        .layer(middleware::from_fn(crate::app::log_request))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&idp.base),
            crate::counters::count,
        ))
        .with_state(idp)
}

/// Serves the IdP on `listener` until `shutdown` resolves.
pub async fn serve(
    idp: Arc<IdpState>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(idp))
        .with_graceful_shutdown(shutdown)
        .await
}
