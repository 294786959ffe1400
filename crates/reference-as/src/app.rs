//! Building and serving the AS: `app(state)` is the whole HTTP service, so
//! tests can drive it without a socket; `start` opens its state and serves it
//! on a listener.

use crate::config::AsConfig;
use crate::crypto::{digest, now};
use crate::db::{self, ClientRow, Store};
use crate::jwt::TokenSigner;
use crate::state::AsState;
use crate::{account, authorize, clients, consent, device, metadata, revoke, token};
use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use std::sync::Arc;
use std::time::Instant;

/// A failure to start the AS.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The state directory could not be made or opened.
    #[error("state directory: {0}")]
    StateDir(#[from] std::io::Error),
    /// The state database failed.
    #[error(transparent)]
    Store(#[from] db::StoreError),
    /// The signing key could not be loaded.
    #[error(transparent)]
    Key(#[from] crate::jwt::KeyError),
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Http(#[from] reqwest::Error),
}

/// Opens the state for `config` and registers its configured clients.
pub fn open_state(config: AsConfig) -> Result<AsState, StartError> {
    let (dir, temp) = match &config.state_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            (dir.clone(), None)
        }
        None => {
            let temp = tempfile::Builder::new().prefix("reference-as-").tempdir()?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let store = Store::open(&dir)?;
    let signer = TokenSigner::load_or_create(&store)?;
    store.tx(|c| -> Result<(), db::StoreError> {
        for client in &config.clients {
            let row = ClientRow {
                client_id: client.client_id.clone(),
                secret_hash: client.client_secret.as_deref().map(digest),
                redirect_uris: client.redirect_uris.clone(),
                name: client.name.clone(),
                kind: "preregistered".into(),
            };
            db::put_client(c, &row, now())?;
        }
        for rs in &config.resource_servers {
            let row = ClientRow {
                client_id: rs.client_id.clone(),
                secret_hash: Some(digest(&rs.client_secret)),
                redirect_uris: Vec::new(),
                name: rs.client_id.clone(),
                kind: "resource-server".into(),
            };
            db::put_client(c, &row, now())?;
        }
        Ok(())
    })?;
    let mut http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(5));
    // Loopback metadata documents (tests, the demo) are fetched directly, never
    // through HTTP(S)_PROXY; https ones elsewhere go through the environment's proxy.
    if config.allow_loopback_cimd {
        http = http.no_proxy();
    }
    let http = http.build()?;
    Ok(AsState {
        config,
        store,
        signer,
        sessions: Default::default(),
        pending: Default::default(),
        codes: Default::default(),
        devices: Default::default(),
        device_misses: Default::default(),
        http,
        token_requests: Default::default(),
        dpop: Default::default(),
        requests: Default::default(),
        idp_keys: Default::default(),
        _temp_dir: temp,
    })
}

/// The AS's routes.
pub fn app(state: Arc<AsState>) -> Router {
    Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(metadata::metadata),
        )
        .route("/.well-known/openid-configuration", get(metadata::metadata))
        .route("/jwks.json", get(metadata::jwks))
        .route("/catalog", get(metadata::catalog))
        .route("/authorize", get(authorize::authorize))
        .route("/login", post(consent::login))
        .route("/authorize/decision", post(consent::decide))
        .route("/token", post(token::token))
        .route("/device_authorization", post(device::authorize))
        .route("/device", get(device::page).post(device::enter))
        .route("/register", post(clients::register))
        .route("/revoke", post(revoke::revoke))
        .route("/introspect", post(revoke::introspect))
        .route("/account", get(account::show))
        .route("/account/grants/{id}/{action}", post(account::act))
        .layer(middleware::from_fn(log_request))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            crate::counters::count,
        ))
        .with_state(state)
}

/// Logs one line per request: method, path (never the query, which can
/// carry codes), status and time taken.
pub(crate) async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(target: "reference_as", %method, %path, status = response.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
    response
}

/// Serves the AS on `listener` until `shutdown` resolves.
pub async fn serve(
    state: Arc<AsState>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}
