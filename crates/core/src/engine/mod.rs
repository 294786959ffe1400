//! The engine: grants and their tokens, shared by the desktop app, the
//! broker and the CLI.
//!
//! It owns the state (loaded from the state file, saved after each change),
//! the pending sign-in flows, and the access tokens (in memory only). Every
//! network exchange happens without holding the state lock; results are
//! applied to the grant by id afterwards, so a slow AS never blocks status.

mod accounts;
mod batch;
mod cache;
mod device;
mod dpop;
mod enterprise;
mod exchange;
mod login;
mod machine;
mod multi_resource;
mod plan;
mod quirks;
mod revoke;
mod step_up;
mod tokens;

pub use batch::{
    FlowOutcome, FlowReport, FlowTarget, LoginEvent, LoginObserver, LoginReport, NoProgress,
    ServerResult, ServerState, TargetServer,
};
pub use device::DevicePrompt;
pub use enterprise::{EnterpriseGrant, EnterpriseLogin, EnterpriseReport, EnterpriseServer};
pub use login::{LoginRequest, LoginTarget, Opener};
pub use machine::{MachineCredential, MachineGrant, MachineLogin};
pub use revoke::RevokeOutcome;
pub use step_up::StepUpNotice;
pub use tokens::IssuedToken;

use crate::clock::Clock;
use crate::discovery;
use crate::error::EngineError;
use crate::flows::Flows;
use crate::http::HttpClient;
use crate::metadata::AsMetadata;
use crate::model::{ClientRecord, Grant};
use crate::secret::ClientSecret;
use crate::state_file::{PassportState, StateFile};
use crate::store::{StoreKey, TokenStore};
use chrono::Duration;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Settings of one engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The state file.
    pub state_path: std::path::PathBuf,
    /// `client_name` when registering.
    pub client_name: String,
    /// A Client ID Metadata Document URL, used where the AS supports them.
    pub client_metadata_url: Option<String>,
    /// Refresh this long before expiry at most (5 minutes).
    pub refresh_margin: Duration,
}

impl EngineConfig {
    /// Defaults for a state file at `state_path`.
    pub fn new(state_path: impl Into<std::path::PathBuf>) -> Self {
        Self {
            state_path: state_path.into(),
            client_name: "MCP Passport".into(),
            client_metadata_url: None,
            refresh_margin: Duration::minutes(5),
        }
    }
}

/// The engine.
pub struct Engine {
    http: HttpClient,
    clock: Arc<dyn Clock>,
    store: Arc<dyn TokenStore>,
    file: StateFile,
    config: EngineConfig,
    state: Mutex<PassportState>,
    /// Held by a change from copy to save, so changes never overwrite each other.
    saving: Mutex<()>,
    flows: Arc<Flows>,
    tokens: cache::TokenCache,
    metadata: Mutex<HashMap<String, AsMetadata>>,
    dpop: dpop::DpopState,
    enterprise: enterprise::IdpSessions,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("state_file", &self.file.path())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Engine {
    /// Loads the state file and builds an engine.
    pub fn new(
        config: EngineConfig,
        http: HttpClient,
        clock: Arc<dyn Clock>,
        store: Arc<dyn TokenStore>,
    ) -> Result<Self, EngineError> {
        let file = StateFile::new(&config.state_path);
        let state = file.load()?;
        Ok(Self {
            http,
            clock,
            store,
            file,
            config,
            state: Mutex::new(state),
            saving: Mutex::new(()),
            flows: Arc::new(Flows::default()),
            tokens: cache::TokenCache::default(),
            metadata: Mutex::new(HashMap::new()),
            dpop: dpop::DpopState::default(),
            enterprise: enterprise::IdpSessions::default(),
        })
    }

    /// The pending sign-in flows (for loopback listeners and deep links).
    pub fn flows(&self) -> Arc<Flows> {
        Arc::clone(&self.flows)
    }

    /// The clock the engine uses.
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }

    /// Hands a callback URL (deep link or loopback) to the pending flows.
    /// Anything that matches no pending flow is dropped.
    pub fn deliver_callback(&self, url: &str) -> Result<(), crate::callback::CallbackError> {
        self.flows.deliver(url, self.clock.now())
    }

    /// Every grant, as stored (no secrets).
    pub fn grants(&self) -> Vec<Grant> {
        lock(&self.state).grants.clone()
    }

    /// The grant that holds `server` (id or URL, or either with
    /// `@<account>`), unless blocked.
    pub fn grant_for(&self, server: &str) -> Option<Grant> {
        self.resolve(server, false).map(|(g, _)| g)
    }

    /// The latest client registered at `issuer`.
    fn client_for(&self, issuer: &str) -> Option<(ClientRecord, Option<ClientSecret>)> {
        let record = lock(&self.state)
            .clients
            .iter()
            .rev()
            .find(|c| c.issuer == issuer)
            .cloned()?;
        // A public client has no secret: no keyring call (each is a
        // Secret Service round trip, on every token request).
        if record.auth == crate::model::ClientAuth::None {
            return Some((record, None));
        }
        let secret = self
            .store
            .get(&StoreKey::ClientSecret {
                issuer: issuer.to_string(),
            })
            .ok()
            .flatten()
            .map(ClientSecret::new);
        Some((record, secret))
    }

    async fn metadata_for(&self, issuer: &str) -> Result<AsMetadata, EngineError> {
        if let Some(m) = lock(&self.metadata).get(issuer) {
            return Ok(m.clone());
        }
        // A burst of first requests after a start fetches it once.
        let flight = self.tokens.metadata_flight(issuer);
        let _turn = flight.lock().await;
        if let Some(m) = lock(&self.metadata).get(issuer) {
            return Ok(m.clone());
        }
        let hosts = self.provider_quirks(issuer).endpoint_hosts;
        let m = discovery::fetch_as_metadata_allowing(&self.http, issuer, &hosts).await?;
        lock(&self.metadata).insert(issuer.to_string(), m.clone());
        Ok(m)
    }

    /// Applies `change` to the state and saves it atomically. Changes take
    /// turns on `saving`; the state itself is locked only to copy and to
    /// swap it, never across the file write and its fsync, which run off
    /// the async workers, so readers (the token route) never wait on the disk.
    fn update<T>(&self, change: impl FnOnce(&mut PassportState) -> T) -> Result<T, EngineError> {
        let _turn = lock(&self.saving);
        let mut next = lock(&self.state).clone();
        let out = change(&mut next);
        let started = std::time::Instant::now();
        crate::atomic_file::blocking(|| self.file.save(&next))?;
        tracing::debug!(
            took_ms = started.elapsed().as_secs_f64() * 1000.0,
            "state file written"
        );
        *lock(&self.state) = next;
        Ok(out)
    }

    /// Applies `change` to grant `id`, if it still exists, and saves.
    fn update_grant(&self, id: &str, change: impl FnOnce(&mut Grant)) -> Result<(), EngineError> {
        self.update(|s| {
            if let Some(g) = s.grants.iter_mut().find(|g| g.id == id) {
                change(g);
            }
        })
    }
}

/// The engine's futures are awaited on multi-threaded runtimes (the broker,
/// the desktop app), so each must be `Send`; this fails to compile if one is not.
#[cfg(test)]
#[allow(dead_code)]
fn engine_futures_are_send(engine: &Engine, request: &LoginRequest, opener: &dyn Opener) {
    fn send<T: Send>(_: T) {}
    send(engine.login(request, opener));
    send(engine.sign_in(request, opener, &NoProgress));
    send(engine.token("s"));
    send(engine.revoke_server("s"));
    send(engine.sign_out("i"));
}
