//! A broker started once per fuzzing process: an engine with no grants
//! (nothing leaves the machine), its keys and endpoint files in a temporary
//! directory, the CLI's key read back from the endpoint file.

use passport_broker::{BrokerConfig, RunningBroker};
use passport_core::clock::{Clock, SystemClock};
use passport_core::engine::{Engine, EngineConfig, Opener};
use passport_core::http::HttpClient;
use passport_core::store::MemoryStore;
use std::sync::Arc;
use std::time::Duration;

/// Opens nothing: sign-ins asked for through the admin API go nowhere.
struct NoBrowser;

impl Opener for NoBrowser {
    fn open(&self, _url: &url::Url) -> Result<(), String> {
        Err("no browser while fuzzing".into())
    }
}

/// The running broker and what a client needs to reach it.
pub struct Broker {
    /// Runs the broker's tasks for as long as the process lives.
    _runtime: tokio::runtime::Runtime,
    /// The broker.
    pub running: RunningBroker,
    /// The CLI's key.
    pub key: String,
    _dir: tempfile::TempDir,
}

impl Broker {
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.running.addr.port()
    }

    /// The two `Host` values it accepts.
    pub fn hosts(&self) -> [String; 2] {
        [
            format!("127.0.0.1:{}", self.port()),
            format!("localhost:{}", self.port()),
        ]
    }
}

/// Starts the broker on a runtime of two worker threads.
pub fn start() -> Broker {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let engine = Engine::new(
        EngineConfig::new(dir.path().join("state.json")),
        HttpClient::with_timeout(Duration::from_millis(300)).expect("http client"),
        clock,
        Arc::new(MemoryStore::new()),
    )
    .expect("engine");
    let config = BrokerConfig {
        bind: "127.0.0.1:0".parse().expect("address"),
        endpoint_file: dir.path().join("run/endpoint.json"),
        keys_file: dir.path().join("keys.json"),
        audit_file: dir.path().join("audit.jsonl"),
        refresh_every: Duration::from_secs(3600),
    };
    let running = runtime
        .block_on(passport_broker::start(
            config,
            Arc::new(engine),
            Arc::new(NoBrowser),
        ))
        .expect("broker");
    let endpoint: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("run/endpoint.json")).expect("endpoint file"),
    )
    .expect("endpoint json");
    let key = endpoint["key"].as_str().expect("key").to_string();
    Broker {
        _runtime: runtime,
        running,
        key,
        _dir: dir,
    }
}
