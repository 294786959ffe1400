//! The broker: the one process per user that owns the grants' refresh
//! schedule and serves tokens to local MCP clients on 127.0.0.1.
//!
//! `start` binds the endpoint (loopback only), replaces the CLI's key and
//! writes it with the port to the endpoint file ([`endpoint`], readable by
//! the user only), and refreshes tokens ahead of expiry in the background. The desktop
//! app hosts it in-process; `mcp-passport serve` hosts it headless. Either
//! host gives it an [`Opener`], so sign-ins the CLI asks for through the
//! admin API open the sign-in page the host's way.

pub mod admin;
pub mod admin_api;
pub mod admin_elsewhere;
pub mod admin_enterprise;
pub mod admin_machine;
pub mod audit;
pub mod descriptors;
pub mod dpop_proxy;
pub mod endpoint;
mod enterprise_step_up;
pub mod guard;
pub mod keys;
pub mod paths;
pub mod proxy;
pub mod proxy_target;
pub mod routes;
pub mod service;
pub mod step_up;
pub mod waiting;

use audit::Audit;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use keys::Keys;
use passport_core::engine::{Engine, Opener};
use passport_core::error::EngineError;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The client name of the CLI's own key.
pub const CLI_CLIENT: &str = "mcp-passport-cli";

/// Where and how the broker runs.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Address to bind; must be a loopback address.
    pub bind: SocketAddr,
    /// The endpoint file (port and the CLI's key), mode 0600.
    pub endpoint_file: PathBuf,
    /// The client key file.
    pub keys_file: PathBuf,
    /// The audit log.
    pub audit_file: PathBuf,
    /// How often to look for tokens near expiry.
    pub refresh_every: Duration,
}

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// A non-loopback address was configured.
    #[error("refusing to listen on {0}: the broker serves this machine only (use 127.0.0.1)")]
    NotLoopback(IpAddr),
    /// The port is taken.
    #[error(
        "cannot listen on {addr}: {source} (is another broker running? see `mcp-passport clients`)"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The key file failed.
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    /// The endpoint file could not be written.
    #[error("cannot write the endpoint file {path}: {source}")]
    EndpointFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Http(String),
}

/// What the handlers share.
#[derive(Debug)]
pub struct BrokerState {
    /// The engine.
    pub engine: Arc<Engine>,
    /// Client keys.
    pub keys: Keys,
    /// The audit log.
    pub audit: Audit,
    /// The port the broker listens on.
    pub port: u16,
    /// The `Host` values accepted (`127.0.0.1:PORT`, `localhost:PORT`).
    pub hosts: [String; 2],
    /// The proxy's upstream clients (no redirects).
    pub upstream: proxy::Upstream,
    /// The id of the CLI's own key, the only key the admin API accepts.
    pub cli_key_id: String,
    /// How the host opens sign-in pages.
    pub opener: admin::HostOpener,
}

/// An engine error's status and `{"error": {code, message}}` body.
pub fn error_body(e: &EngineError) -> (StatusCode, Vec<u8>) {
    let status = match e.code() {
        "not_granted" => StatusCode::NOT_FOUND,
        "sign_in_needed" => StatusCode::UNAUTHORIZED,
        "unreachable" => StatusCode::BAD_GATEWAY,
        "keyring_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        "bad_account" => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let body = serde_json::json!({"error": {"code": e.code(), "message": e.to_string()}});
    (status, serde_json::to_vec(&body).unwrap_or_default())
}

/// An engine error as `{code, message}` JSON with a fitting status.
pub fn error_response(e: &EngineError) -> Response {
    let (status, body) = error_body(e);
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// The routes other than the token route and the proxy (which the
/// connection service answers itself). The guard has run before any of
/// them; the admin routes are reached with the CLI's key only (see
/// [`service`]).
pub fn app(state: Arc<BrokerState>) -> Router {
    Router::new()
        .route("/v1/servers", get(routes::servers))
        .route("/v1/admin/login", post(admin::login))
        .route("/v1/admin/revoke/{server}", post(admin::revoke))
        .route("/v1/admin/logout", post(admin::logout))
        .route(admin_api::PASTE_PATH, post(admin_elsewhere::callback))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(state)
}

/// A running broker.
#[derive(Debug)]
pub struct RunningBroker {
    /// The shared state.
    pub state: Arc<BrokerState>,
    /// The bound address.
    pub addr: SocketAddr,
    endpoint_file: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
    refresher: tokio::task::JoinHandle<()>,
}

impl RunningBroker {
    /// Stops serving and removes the endpoint file.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.refresher.abort();
        let _ = (&mut self.server).await;
        let _ = std::fs::remove_file(&self.endpoint_file);
        self.state.audit.close();
    }
}

/// Starts the broker for `engine`; sign-ins asked for through the admin
/// API open their page with `opener`.
pub async fn start(
    config: BrokerConfig,
    engine: Arc<Engine>,
    opener: Arc<dyn Opener>,
) -> Result<RunningBroker, BrokerError> {
    if !config.bind.ip().is_loopback() {
        return Err(BrokerError::NotLoopback(config.bind.ip()));
    }
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|source| BrokerError::Bind {
            addr: config.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| BrokerError::Bind {
        addr: config.bind,
        source,
    })?;
    let now = engine.clock().now();
    // The key file's lock may be held by a `connect` for a moment, and the
    // writes fsync: off the async workers.
    let (keys, cli_record, cli_key) = passport_core::atomic_file::blocking(|| {
        let keys = Keys::open(&config.keys_file)?;
        // The previous broker's key is replaced, not kept as a revoked record.
        let (record, key) = keys.replace(CLI_CLIENT, None, now)?;
        Ok::<_, BrokerError>((keys, record, key))
    })?;
    let endpoint = endpoint::Endpoint {
        port: addr.port(),
        key: cli_key,
        pid: std::process::id(),
    };
    passport_core::atomic_file::blocking(|| endpoint::write(&config.endpoint_file, &endpoint))
        .map_err(|source| BrokerError::EndpointFile {
            path: config.endpoint_file.clone(),
            source,
        })?;
    let http = passport_core::http::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| BrokerError::Http(e.to_string()))?;
    let state = Arc::new(BrokerState {
        engine,
        keys,
        audit: Audit::open(&config.audit_file),
        port: addr.port(),
        hosts: [
            format!("127.0.0.1:{}", addr.port()),
            format!("localhost:{}", addr.port()),
        ],
        upstream: proxy::Upstream::new(http),
        cli_key_id: cli_record.id,
        opener: admin::HostOpener(opener),
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = app(Arc::clone(&state));
    let server = tokio::spawn(service::serve(
        listener,
        Arc::clone(&state),
        router,
        stopped,
    ));
    let refresher = tokio::spawn(refresh_ahead(
        Arc::clone(&state.engine),
        config.refresh_every,
    ));
    tracing::info!(%addr, "broker listening");
    Ok(RunningBroker {
        state,
        addr,
        endpoint_file: config.endpoint_file,
        stop: Some(stop),
        server,
        refresher,
    })
}

/// Keeps every granted server's token fresh: asking for a token refreshes
/// it when it is near expiry, so the refresh happens here, ahead of need.
async fn refresh_ahead(engine: Arc<Engine>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        for grant in engine.grants() {
            let touched = grant.active_servers().filter(|s| s.expires_at.is_some());
            for server in touched {
                // The account-qualified address: a second account's copy of a server is its own.
                let address = passport_core::account::qualified(&grant, &server.id);
                if let Err(e) = engine.token(&address).await {
                    tracing::debug!(server = %address, code = e.code(), "background refresh did not succeed");
                }
            }
        }
    }
}
