//! Where things live and how the engine is built for one command.

use crate::cli::Cli;
use crate::commands::Failure;
use passport_core::clock::SystemClock;
use passport_core::engine::{Engine, EngineConfig};
use passport_core::http::HttpClient;
use passport_core::lock::RefresherLock;
use std::sync::Arc;
use std::time::Duration;

pub use passport_broker::paths::Paths;

/// The files of this user: under `--home` (`MCP_PASSPORT_HOME`) when given,
/// else the user's config and runtime directories.
pub fn paths_for(cli: &Cli) -> Result<Paths, Failure> {
    match &cli.home {
        Some(home) => Ok(Paths::under(home.clone())),
        None => Paths::for_user(passport_broker::paths::PROFILE).ok_or_else(|| {
            Failure::other(
                "no_home",
                "cannot find your config directory; pass --home DIR",
            )
        }),
    }
}

/// An engine plus the refresher lock it runs under.
pub struct Context {
    /// The engine.
    pub engine: Arc<Engine>,
    _lock: Option<RefresherLock>,
    _scratch: Option<tempfile::TempDir>,
}

impl Context {
    /// Builds the engine; `refresher` takes the one-refresher lock first.
    pub fn open(cli: &Cli, refresher: bool) -> Result<Self, Failure> {
        Self::open_waiting(cli, refresher.then_some(Duration::from_secs(30)))
    }

    /// Builds the engine, taking the refresher lock when `wait` is given.
    pub fn open_waiting(cli: &Cli, wait: Option<Duration>) -> Result<Self, Failure> {
        let paths = crate::context::paths_for(cli)?;
        let lock = match wait {
            Some(wait) => Some(RefresherLock::acquire(&paths.runtime, wait).map_err(|e| {
                Failure::other(
                    "locked",
                    format!("{e}. If the broker is running (`mcp-passport serve` or the app), stop it first"),
                )
            })?),
            None => None,
        };
        let http = HttpClient::new().map_err(|e| Failure::other("http_client", e.to_string()))?;
        let store = Arc::new(passport_keyring::KeyringStore::new(&cli.keyring_service));
        let mut config = EngineConfig::new(paths.state_file());
        config.client_metadata_url = cli.client_metadata_url.clone();
        let engine = Engine::new(config, http, Arc::new(SystemClock), store)?;
        Ok(Self {
            engine: Arc::new(engine),
            _lock: lock,
            _scratch: None,
        })
    }

    /// An engine that keeps nothing: secrets in memory, state in a
    /// temporary directory removed on exit (`check --ephemeral`).
    pub fn ephemeral(cli: &Cli) -> Result<Self, Failure> {
        let scratch = tempfile::tempdir().map_err(|e| {
            Failure::other("scratch", format!("cannot make a temporary directory: {e}"))
        })?;
        let http = HttpClient::new().map_err(|e| Failure::other("http_client", e.to_string()))?;
        let mut config = EngineConfig::new(scratch.path().join("state.json"));
        config.client_metadata_url = cli.client_metadata_url.clone();
        let store = Arc::new(passport_core::store::MemoryStore::new());
        let engine = Engine::new(config, http, Arc::new(SystemClock), store)?;
        Ok(Self {
            engine: Arc::new(engine),
            _lock: None,
            _scratch: Some(scratch),
        })
    }
}
