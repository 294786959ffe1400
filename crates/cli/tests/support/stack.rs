//! The reference AS behind a [`FaultProxy`], with real sample MCP servers
//! that trust it. The AS publishes the proxy's URL as its issuer, so every
//! client (the engine, the sample servers fetching JWKS) goes through the
//! proxy. The AS keeps its state in a directory of its own, so it can be
//! stopped and started again behind the same proxy, with the same grants,
//! and with a new signing key when a test rotates it.

use super::fault_proxy::FaultProxy;
use reference_as::config::{AsConfig, CatalogEntry};
use reference_as::state::AsState;
use sample_servers::{SampleServer, ServerSpec, Trust};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The AS's state, its stop switch and its serving task.
type RunningAs = (
    Arc<AsState>,
    oneshot::Sender<()>,
    JoinHandle<std::io::Result<()>>,
);

/// A running AS, its proxy and its sample servers.
pub struct Stack {
    /// The proxy clients know as the issuer.
    pub proxy: FaultProxy,
    config: AsConfig,
    servers: Vec<SampleServer>,
    running: Option<RunningAs>,
    _state_dir: tempfile::TempDir,
}

impl Stack {
    /// Starts the AS (access tokens live `access_ttl` s, refresh grace
    /// `grace` s) with one sample server per id.
    pub async fn start(ids: &[&str], access_ttl: i64, grace: i64) -> Self {
        let as_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = FaultProxy::start(as_listener.local_addr().unwrap()).await;
        let issuer = proxy.url();
        let mut servers = Vec::new();
        for id in ids {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let trust = Trust {
                issuer: issuer.clone(),
                introspection: None,
            };
            servers.push(
                SampleServer::serve(ServerSpec::for_id(id), listener, trust)
                    .await
                    .unwrap(),
            );
        }
        let state_dir = tempfile::tempdir().unwrap();
        let mut config = AsConfig::new(issuer);
        config.catalog = servers
            .iter()
            .map(|s| CatalogEntry {
                id: s.id().to_string(),
                name: s.name().to_string(),
                resource: s.resource().to_string(),
                description: s.description().to_string(),
            })
            .collect();
        config.access_ttl = access_ttl;
        config.refresh_grace = grace;
        config.state_dir = Some(state_dir.path().to_path_buf());
        let mut stack = Self {
            proxy,
            config,
            servers,
            running: None,
            _state_dir: state_dir,
        };
        stack.serve(as_listener);
        stack
    }

    fn serve(&mut self, listener: TcpListener) {
        let state = Arc::new(reference_as::open_state(self.config.clone()).unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(reference_as::serve(
            Arc::clone(&state),
            listener,
            async move {
                let _ = stopped.await;
            },
        ));
        self.running = Some((state, stop, task));
    }

    /// The issuer URL (the proxy's).
    pub fn issuer(&self) -> String {
        self.proxy.url()
    }

    /// The MCP URL of sample server `id`.
    pub fn resource(&self, id: &str) -> String {
        self.servers
            .iter()
            .find(|s| s.id() == id)
            .map(|s| s.resource().to_string())
            .unwrap()
    }

    /// Refresh requests the AS itself answered since its last start.
    pub fn refreshes_at_as(&self) -> u64 {
        self.running.as_ref().map_or(0, |(state, _, _)| {
            state
                .token_requests
                .refresh
                .load(std::sync::atomic::Ordering::Relaxed)
        })
    }

    /// The servers of the user's newest live grant at the AS (empty when
    /// there is none).
    pub fn granted_at_as(&self) -> Vec<String> {
        let Some((state, _, _)) = &self.running else {
            return Vec::new();
        };
        state
            .store
            .tx(|c| reference_as::db::live_grants_of(c, "demo"))
            .unwrap()
            .into_iter()
            .next()
            .map(|g| g.servers)
            .unwrap_or_default()
    }

    /// Stops the AS and starts it again on a new port behind the same
    /// proxy, with the same grants and clients; with `rotate_key`, its old
    /// signing key is gone and it signs with a new one (new `kid`).
    pub async fn restart_as(&mut self, rotate_key: bool) {
        if let Some((_, stop, task)) = self.running.take() {
            let _ = stop.send(());
            let _ = task.await;
        }
        if rotate_key {
            // With no key stored, the AS makes a new one (a new `kid`) at start.
            let dir = self.config.state_dir.clone().unwrap();
            let store = reference_as::db::Store::open(&dir).unwrap();
            store
                .tx(|c| -> Result<(), reference_as::db::StoreError> {
                    c.execute("DELETE FROM signing_keys", [])?;
                    Ok(())
                })
                .unwrap();
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        self.proxy.set_upstream(listener.local_addr().unwrap());
        self.serve(listener);
    }

    /// The `kid` of the AS's current signing key, from its JWKS.
    pub async fn current_kid(&self) -> String {
        let jwks: serde_json::Value = reqwest::get(format!("{}/jwks.json", self.issuer()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        jwks["keys"][0]["kid"].as_str().unwrap().to_string()
    }

    /// Whether sample server `id` accepts `token` (an MCP `initialize`
    /// answered rather than refused with 401).
    pub async fn accepted(&self, id: &str, token: &str) -> bool {
        let body = serde_json::json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "fault-tests", "version": "1"}}
        });
        let status = reqwest::Client::new()
            .post(self.resource(id))
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .json(&body)
            .send()
            .await
            .unwrap()
            .status();
        assert!(
            status.is_success() || status == reqwest::StatusCode::UNAUTHORIZED,
            "the sample server answered {status}"
        );
        status.is_success()
    }

    /// Stops everything.
    pub async fn shutdown(mut self) {
        if let Some((_, stop, task)) = self.running.take() {
            let _ = stop.send(());
            let _ = task.await;
        }
        for server in std::mem::take(&mut self.servers) {
            server.shutdown().await;
        }
    }
}
