//! The demo stack: the reference AS and one sample MCP server per catalog
//! entry, all on loopback, started together.
//!
//! Ports come first (the AS's issuer and each server's resource URL depend
//! on them), then the servers (they discover the AS lazily), then the AS
//! with the catalog that names them. The sample servers introspect with a
//! credential made fresh for each start.
//!
//! With `idp`, an enterprise identity provider ([`crate::idp`]) starts on a
//! listener of its own; the AS trusts it and registers the client the IdP
//! names in its ID-JAGs ([`ENTERPRISE_CLIENT_ID`]), and the IdP trusts the AS
//! for every catalog server (or per user, `idp_allowed`).

use crate::config::{AsConfig, CatalogEntry, ResourceServerCredential};
use sample_servers::{Introspection, SampleServer, ServerSpec, Trust};
use serde::Serialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

mod enterprise;
pub use enterprise::{ENTERPRISE_CLIENT_ID, EnterpriseInfo};
use enterprise::{RunningIdp, start_idp};

/// How to start the demo stack.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// The AS's port (0 picks a free one). With a fixed port, the servers
    /// take the next ports up, so their URLs stay the same across restarts.
    pub port: u16,
    /// Catalog ids of the sample servers.
    pub servers: Vec<String>,
    /// Where the AS keeps its state; `None` for a temporary directory.
    pub state_dir: Option<PathBuf>,
    /// Access token lifetime, seconds.
    pub access_ttl: i64,
    /// Refresh grace, seconds.
    pub refresh_grace: i64,
    /// `(name, password)` pairs.
    pub users: Vec<(String, String)>,
    /// Whether the sample servers ask the AS whether each token was revoked.
    pub introspect: bool,
    /// The secret of the `sample-servers` introspection credential; `None`
    /// makes a random one (tests that introspect themselves set it).
    pub resource_server_secret: Option<String>,
    /// The device code polling interval announced, seconds.
    pub device_interval: u64,
    /// The interval enforced, when tests want `slow_down` from a client that keeps to the announced one.
    pub device_enforced_interval: Option<u64>,
    /// How long device codes live, seconds.
    pub device_code_lifetime: i64,
    /// Whether the AS offers the device grant (off: an AS like most, for paste-back).
    pub device_flow: bool,
    /// DPoP (RFC 9449): the AS binds tokens to the client's key and requires
    /// its nonce; the sample servers accept only bound tokens used with a proof
    /// (and require their own nonce).
    pub dpop: bool,
    /// Enterprise-Managed Authorization: also start the IdP role and trust it.
    pub idp: bool,
    /// With `idp`: `(user, server ids)` pairs; a listed user gets ID-JAGs only
    /// for those servers (others get `access_denied`), an unlisted one for all.
    pub idp_allowed: Vec<(String, Vec<String>)>,
    /// With `idp`: register the AS-side enterprise client as public
    /// (`none`, no secret) instead of confidential (`client_secret_basic`).
    pub idp_public_client: bool,
    /// RFC 8693 token exchange at the AS: a client gets each server's own
    /// token from the grant's access token, all at once.
    pub token_exchange: bool,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            port: 0,
            servers: sample_servers::default_ids(),
            state_dir: None,
            access_ttl: 3600,
            refresh_grace: 0,
            users: vec![("demo".into(), "demo".into())],
            introspect: false,
            resource_server_secret: None,
            device_interval: 5,
            device_enforced_interval: None,
            device_code_lifetime: 600,
            device_flow: true,
            dpop: false,
            idp: false,
            idp_allowed: Vec::new(),
            idp_public_client: false,
            token_exchange: false,
        }
    }
}

/// What the ready file says: the issuer and the servers.
#[derive(Debug, Clone, Serialize)]
pub struct ReadyInfo {
    /// The AS's issuer URL.
    pub issuer: String,
    /// The AS's account page.
    pub account: String,
    /// The sample servers.
    pub servers: Vec<CatalogEntry>,
    /// The identity provider, when started with `idp`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enterprise: Option<EnterpriseInfo>,
}

/// A running demo stack.
pub struct Demo {
    info: ReadyInfo,
    as_addr: SocketAddr,
    servers: Vec<SampleServer>,
    state: std::sync::Arc<crate::state::AsState>,
    stop_as: Option<oneshot::Sender<()>>,
    as_task: Option<JoinHandle<std::io::Result<()>>>,
    idp: Option<RunningIdp>,
}

/// A failure to start the demo stack.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A port could not be bound.
    #[error(
        "could not listen on 127.0.0.1:{port}: {source} (is another demo running? try --port 0)"
    )]
    Bind {
        /// The port asked for.
        port: u16,
        /// The OS error.
        source: std::io::Error,
    },
    /// A sample server failed to start.
    #[error("sample server {id}: {message}")]
    Server {
        /// Its id.
        id: String,
        /// What went wrong.
        message: String,
    },
    /// The AS failed to start.
    #[error(transparent)]
    As(#[from] crate::StartError),
}

pub(crate) async fn bind(port: u16) -> Result<TcpListener, DemoError> {
    TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|source| DemoError::Bind { port, source })
}

impl Demo {
    /// Starts the AS and the sample servers.
    pub async fn start(config: DemoConfig) -> Result<Self, DemoError> {
        let as_listener = bind(config.port).await?;
        let as_addr = as_listener.local_addr().map_err(|source| DemoError::Bind {
            port: config.port,
            source,
        })?;
        let issuer = format!("http://127.0.0.1:{}", as_addr.port());
        let credential = ResourceServerCredential {
            client_id: "sample-servers".into(),
            client_secret: config
                .resource_server_secret
                .clone()
                .unwrap_or_else(crate::crypto::random_token),
        };
        let mut servers = Vec::new();
        for (i, id) in config.servers.iter().enumerate() {
            let port = if config.port == 0 {
                0
            } else {
                config.port.saturating_add(1 + i as u16)
            };
            let listener = bind(port).await?;
            let trust = Trust {
                issuer: issuer.clone(),
                introspection: config.introspect.then(|| Introspection {
                    client_id: credential.client_id.clone(),
                    client_secret: credential.client_secret.clone(),
                }),
            };
            let server =
                SampleServer::serve_with(ServerSpec::for_id(id), listener, trust, config.dpop)
                    .await
                    .map_err(|e| DemoError::Server {
                        id: id.clone(),
                        message: e.to_string(),
                    })?;
            servers.push(server);
        }
        let catalog: Vec<CatalogEntry> = servers
            .iter()
            .map(|s| CatalogEntry {
                id: s.id().to_string(),
                name: s.name().to_string(),
                resource: s.resource().to_string(),
                description: s.description().to_string(),
            })
            .collect();
        let (idp, enterprise) = if config.idp {
            let idp_port = if config.port == 0 {
                0
            } else {
                config.port.saturating_add(1 + config.servers.len() as u16)
            };
            let (idp, info) = start_idp(&config, idp_port, &issuer, &catalog).await?;
            (Some(idp), Some(info))
        } else {
            (None, None)
        };
        let mut as_config = AsConfig::new(issuer.clone());
        if let Some(info) = &enterprise {
            as_config.trusted_idps = vec![crate::TrustedIdp {
                issuer: info.idp_issuer.clone(),
            }];
            as_config.clients.push(crate::PreregisteredClient {
                client_id: info.as_client_id.clone(),
                client_secret: info.as_client_secret.clone(),
                redirect_uris: Vec::new(),
                name: "MCP Passport (enterprise)".into(),
            });
        }
        as_config.users = config.users;
        as_config.catalog = catalog.clone();
        as_config.resource_servers = vec![credential];
        as_config.access_ttl = config.access_ttl;
        as_config.refresh_grace = config.refresh_grace;
        as_config.device_interval = config.device_interval;
        as_config.device_enforced_interval = config.device_enforced_interval;
        as_config.device_code_lifetime = config.device_code_lifetime;
        as_config.device_flow = config.device_flow;
        as_config.dpop = config.dpop;
        as_config.dpop_nonce = config.dpop;
        as_config.token_exchange = config.token_exchange;
        as_config.state_dir = config.state_dir;
        let state = std::sync::Arc::new(crate::open_state(as_config)?);
        let (stop_as, stopped) = oneshot::channel::<()>();
        let as_task = tokio::spawn(crate::serve(
            std::sync::Arc::clone(&state),
            as_listener,
            async move {
                let _ = stopped.await;
            },
        ));
        let info = ReadyInfo {
            account: format!("{issuer}/account"),
            issuer,
            servers: catalog,
            enterprise,
        };
        Ok(Self {
            info,
            as_addr,
            servers,
            state,
            stop_as: Some(stop_as),
            as_task: Some(as_task),
            idp,
        })
    }

    /// The IdP's issuer, when started with `idp`.
    pub fn idp_issuer(&self) -> Option<&str> {
        self.info.enterprise.as_ref().map(|e| e.idp_issuer.as_str())
    }

    /// The IdP and AS-side client credentials, when started with `idp`.
    pub fn enterprise(&self) -> Option<&EnterpriseInfo> {
        self.info.enterprise.as_ref()
    }

    /// The IdP's state (its signing key, its counters), for tests that act
    /// as the IdP's other parties.
    pub fn idp_state(&self) -> Option<&std::sync::Arc<crate::idp::IdpState>> {
        self.idp.as_ref().map(|i| &i.state)
    }

    /// Requests the IdP answered and token exchanges among them: `(total, exchanges)`.
    pub fn idp_requests(&self) -> (u64, u64) {
        self.idp.as_ref().map_or((0, 0), |i| {
            (
                i.state.base.requests.snapshot().0,
                i.state.token_exchanges(),
            )
        })
    }

    /// How many JWT bearer grant requests (ID-JAGs) the AS's token endpoint answered.
    pub fn jwt_bearer_requests(&self) -> u64 {
        self.state
            .token_requests
            .jwt_bearer
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The issuer and servers.
    pub fn info(&self) -> &ReadyInfo {
        &self.info
    }

    /// The AS's state (its signing key, its DPoP bindings), for tests that
    /// act as the AS's other parties.
    pub fn as_state(&self) -> &std::sync::Arc<crate::state::AsState> {
        &self.state
    }

    /// The AS's socket address.
    pub fn as_addr(&self) -> SocketAddr {
        self.as_addr
    }

    /// How many `(authorization_code, refresh_token)` requests the token endpoint answered.
    pub fn token_requests(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.state.token_requests.code.load(Relaxed),
            self.state.token_requests.refresh.load(Relaxed),
        )
    }

    /// Token exchange requests answered (RFC 8693).
    pub fn exchange_requests(&self) -> u64 {
        self.state
            .token_requests
            .exchange
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Requests the AS answered: `(total, registrations, authorizations)`.
    pub fn as_requests(&self) -> (u64, u64, u64) {
        self.state.requests.snapshot()
    }

    /// How many device code polls the token endpoint answered, and how many of them were `slow_down`.
    pub fn device_polls(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.state.token_requests.device.load(Relaxed),
            self.state.token_requests.slow_down.load(Relaxed),
        )
    }

    /// Stops the authorization server only (the sample servers keep
    /// running), as when the AS goes down.
    pub async fn stop_authorization_server(&mut self) {
        if let Some(stop) = self.stop_as.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.as_task.take() {
            let _ = task.await;
        }
    }

    /// Stops everything and frees the ports.
    pub async fn shutdown(mut self) {
        self.stop_authorization_server().await;
        if let Some(idp) = self.idp.take() {
            idp.stop().await;
        }
        for server in self.servers {
            server.shutdown().await;
        }
    }
}
