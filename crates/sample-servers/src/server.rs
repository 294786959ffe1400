//! Running one sample server: the axum app, its task and its shutdown.
//!
//! `serve` only assembles and spawns; it never talks to the AS, because the
//! demo starts the servers before the AS they trust. The app has three parts:
//! `/mcp` (rmcp's Streamable HTTP service behind the auth gate), the two
//! metadata addresses, and a log layer over everything.

use crate::auth::Verifier;
use crate::data::Store;
use crate::error::Error;
use crate::jwks::KeySource;
use crate::middleware::{Gate, MAX_BODY_BYTES, guard, log};
use crate::tools::SampleMcp;
use crate::{ServerSpec, Trust, prm};
use axum::Router;
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Timeout for each request to the AS (metadata, JWKS, introspection).
const AS_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `shutdown` waits for open connections before cutting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running sample MCP server. Dropping it also starts a graceful stop;
/// [`SampleServer::shutdown`] waits for the stop to finish.
pub struct SampleServer {
    spec: ServerSpec,
    addr: SocketAddr,
    resource: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SampleServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleServer")
            .field("id", &self.spec.id)
            .field("resource", &self.resource)
            .finish()
    }
}

impl SampleServer {
    /// Starts serving `spec` on `listener`, trusting tokens from `trust`.
    /// Returns at once; the AS is contacted only when the first token
    /// arrives. Fails if the issuer is not an http(s) URL or the listener
    /// has no address.
    pub async fn serve(
        spec: ServerSpec,
        listener: TcpListener,
        trust: Trust,
    ) -> Result<SampleServer, Error> {
        Self::serve_with(spec, listener, trust, false).await
    }

    /// [`SampleServer::serve`], and with `dpop` it accepts DPoP-bound
    /// tokens (RFC 9449) only with a good proof, and requires its nonce.
    pub async fn serve_with(
        spec: ServerSpec,
        listener: TcpListener,
        trust: Trust,
        dpop: bool,
    ) -> Result<SampleServer, Error> {
        let addr = listener.local_addr().map_err(Error::Listener)?;
        let resource = format!("http://{addr}/mcp");
        let metadata_url = format!("http://{addr}/.well-known/oauth-protected-resource/mcp");
        let mut http = reqwest::Client::builder().timeout(AS_TIMEOUT);
        // An AS on this machine is reached directly, never through HTTP(S)_PROXY.
        if url::Url::parse(&trust.issuer).is_ok_and(|u| loopback(&u)) {
            http = http.no_proxy();
        }
        let http = http.build().map_err(Error::HttpClient)?;
        let keys = KeySource::new(&trust.issuer, http.clone())?;
        let verifier = Verifier::new(
            trust.issuer.clone(),
            spec.id.clone(),
            resource.clone(),
            keys,
            trust.introspection,
            http,
        );
        let handler = SampleMcp::new(spec.clone(), Arc::new(Mutex::new(Store::seeded())));
        let gate = Gate {
            verifier: Arc::new(verifier),
            write_tools: Arc::new(handler.write_tools()),
            metadata_url: metadata_url.into(),
            dpop: dpop.then(|| Arc::new(crate::dpop::DpopCheck::new(&resource))),
        };
        let config =
            StreamableHttpServerConfig::default().with_max_request_body_bytes(MAX_BODY_BYTES);
        let cancel = config.cancellation_token.clone();
        let mcp = StreamableHttpService::new(
            move || Ok(handler.clone()),
            Arc::new(LocalSessionManager::default()),
            config,
        );
        let document = Arc::new(prm::document(&resource, &trust.issuer, &spec.name));
        let metadata = Router::new()
            .route(
                "/.well-known/oauth-protected-resource/mcp",
                get(prm::metadata),
            )
            .route("/.well-known/oauth-protected-resource", get(prm::metadata))
            .with_state(document);
        let app = Router::new()
            .route_service("/mcp", mcp)
            .route_layer(axum::middleware::from_fn_with_state(gate, guard))
            .merge(metadata)
            .layer(axum::middleware::from_fn_with_state(
                Arc::<str>::from(spec.id.as_str()),
                log,
            ));
        let (stop, stopped) = oneshot::channel::<()>();
        let id = spec.id.clone();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                // A dropped sender stops the server too.
                let _ = stopped.await;
                // Ends rmcp's sessions and SSE streams so connections can close.
                cancel.cancel();
            };
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                let _ = tcp.set_nodelay(true);
            });
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::warn!(server = %id, error = %e, "sample server stopped with an error");
            }
        });
        tracing::info!(server = %spec.id, %resource, issuer = %trust.issuer, "sample MCP server listening");
        Ok(SampleServer {
            spec,
            addr,
            resource,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The server id (as in `aud`).
    pub fn id(&self) -> &str {
        &self.spec.id
    }

    /// The display name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The one-sentence description.
    pub fn description(&self) -> &str {
        &self.spec.description
    }

    /// The resource URL, `http://127.0.0.1:PORT/mcp`.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server gracefully (open connections get a few seconds) and
    /// returns once the port is free.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
        {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for SampleServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Whether `url`'s host is this machine (127.0.0.0/8, `::1`, `localhost`).
fn loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
