//! The stack under test, each part on its own tokio runtime with named
//! threads (two workers each, like the CLI's runtime on two cores): the
//! demo (AS and sample MCP server) on `mcp-server`, the engine and the
//! broker on `mcp-broker`, signed in to the demo.

use crate::allocs;
use crate::threads::{BROKER, SERVER};
use passport_broker::{BrokerConfig, RunningBroker};
use passport_core::clock::{Clock, ManualClock};
use passport_core::engine::{Engine, EngineConfig, LoginRequest, LoginTarget, Opener};
use passport_core::http::HttpClient;
use passport_core::loopback::LoopbackListener;
use passport_core::store::MemoryStore;
use reference_as::demo::{Demo, DemoConfig};
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Runtime;

struct Approver;

impl Opener for Approver {
    fn open(&self, url: &url::Url) -> Result<(), String> {
        let approval = reference_as::approve::Approval {
            url: url.to_string(),
            user: ("demo".into(), "demo".into()),
            servers: vec!["github-mcp".into()],
            exec: None,
        };
        tokio::spawn(async move { reference_as::approve::approve(&approval).await });
        Ok(())
    }
}

/// A runtime whose threads are named `name`; `counted`: their allocations count.
pub fn runtime(name: &'static str, counted: bool) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        // Threads that end between two readings would take their CPU time with them.
        .thread_keep_alive(Duration::from_secs(3600))
        .on_thread_start(move || allocs::count_this_thread(counted))
        .enable_all()
        .build()
        .unwrap()
}

pub struct Stack {
    server_rt: Runtime,
    broker_rt: Runtime,
    demo: Demo,
    broker: RunningBroker,
    pub engine: Arc<Engine>,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
    /// A client key for every server.
    pub key: String,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Stack {
    pub fn start() -> Stack {
        let server_rt = runtime(SERVER, false);
        let broker_rt = runtime(BROKER, true);
        let config = DemoConfig {
            servers: vec!["github-mcp".into()],
            ..DemoConfig::default()
        };
        let demo = server_rt.block_on(Demo::start(config)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let issuer = demo.info().issuer.clone();
        let (engine, broker) = broker_rt.block_on(async {
            let dyn_clock: Arc<dyn Clock> = clock.clone();
            let config = EngineConfig::new(dir.path().join("state.json"));
            let engine = Arc::new(
                Engine::new(
                    config,
                    HttpClient::new().unwrap(),
                    dyn_clock,
                    Arc::new(MemoryStore::new()),
                )
                .unwrap(),
            );
            let listener = LoopbackListener::bind().await.unwrap();
            let redirect_uri = listener.redirect_uri();
            let serving = tokio::spawn(listener.serve(
                engine.flows(),
                engine.clock(),
                Duration::from_secs(20),
            ));
            let request = LoginRequest {
                target: LoginTarget::Issuer(issuer),
                servers: vec![],
                client: None,
                redirect_uri,
                scope: None,
                timeout: Duration::from_secs(20),
                account: None,
            };
            engine.login(&request, &Approver).await.unwrap();
            let _ = serving.await;
            let config = BrokerConfig {
                bind: "127.0.0.1:0".parse().unwrap(),
                endpoint_file: dir.path().join("run/endpoint.json"),
                keys_file: dir.path().join("keys.json"),
                audit_file: dir.path().join("audit.jsonl"),
                refresh_every: Duration::from_secs(3600),
            };
            // Started on a broker thread, so what it starts is the broker's.
            let started = tokio::spawn(passport_broker::start(
                config,
                engine.clone(),
                Arc::new(Approver),
            ));
            (engine, started.await.unwrap().unwrap())
        });
        let endpoint: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("run/endpoint.json")).unwrap(),
        )
        .unwrap();
        let key = endpoint["key"].as_str().unwrap().to_string();
        let base = format!("http://127.0.0.1:{}", broker.addr.port());
        Stack {
            server_rt,
            broker_rt,
            demo,
            broker,
            engine,
            clock,
            dir,
            key,
            base,
        }
    }

    /// The broker's runtime.
    pub fn broker_runtime(&self) -> &tokio::runtime::Handle {
        self.broker_rt.handle()
    }

    pub fn demo(&self) -> &Demo {
        &self.demo
    }

    pub fn stop(self) {
        self.broker_rt.block_on(self.broker.shutdown());
        self.server_rt.block_on(self.demo.shutdown());
    }
}
