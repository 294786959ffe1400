//! What the broker's integration tests share: the demo stack, an engine
//! signed in to it by a stand-in for the person at the browser, and a
//! broker started for that engine on a free loopback port.
#![allow(dead_code)]

use passport_broker::{BrokerConfig, RunningBroker};
use passport_core::clock::SystemClock;
use passport_core::engine::{Engine, EngineConfig, LoginRequest, LoginTarget, Opener};
use passport_core::http::HttpClient;
use passport_core::loopback::sign_in_via_loopback;
use passport_core::store::MemoryStore;
use reference_as::demo::{Demo, DemoConfig};
use std::sync::Arc;
use std::time::Duration;

/// The person at the browser: signs in as demo and ticks two servers.
pub struct Approver;

pub fn approval(url: &str) -> reference_as::approve::Approval {
    reference_as::approve::Approval {
        url: url.to_string(),
        user: ("demo".into(), "demo".into()),
        servers: vec!["github-mcp".into(), "slack-mcp".into()],
        exec: None,
    }
}

impl Opener for Approver {
    fn open(&self, url: &url::Url) -> Result<(), String> {
        let approval = approval(url.as_str());
        tokio::spawn(async move { reference_as::approve::approve(&approval).await });
        Ok(())
    }
}

pub struct Setup {
    /// The reference AS and sample servers.
    pub demo: Demo,
    /// The broker under test.
    pub broker: RunningBroker,
    /// Its files (state, keys, audit, endpoint file).
    pub dir: tempfile::TempDir,
    /// The CLI's own key, from the endpoint file.
    pub key: String,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

/// Signs an engine in to the demo (two servers) and starts a broker for it.
pub async fn setup() -> Setup {
    let demo = Demo::start(DemoConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(
        Engine::new(
            EngineConfig::new(dir.path().join("state.json")),
            HttpClient::new().unwrap(),
            Arc::new(SystemClock),
            Arc::new(MemoryStore::new()),
        )
        .unwrap(),
    );
    let timeout = Duration::from_secs(20);
    sign_in_via_loopback(engine.flows(), engine.clock(), timeout, |redirect_uri| {
        let request = LoginRequest {
            target: LoginTarget::Issuer(demo.info().issuer.clone()),
            servers: vec![],
            client: None,
            redirect_uri,
            scope: None,
            timeout,
            account: None,
        };
        let engine = Arc::clone(&engine);
        async move { engine.login(&request, &Approver).await }
    })
    .await
    .unwrap()
    .unwrap();
    let config = BrokerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        endpoint_file: dir.path().join("run/endpoint.json"),
        keys_file: dir.path().join("keys.json"),
        audit_file: dir.path().join("audit.jsonl"),
        refresh_every: Duration::from_secs(3600),
    };
    let broker = passport_broker::start(config, engine, Arc::new(Approver))
        .await
        .unwrap();
    let endpoint = passport_broker::endpoint::read(&dir.path().join("run/endpoint.json")).unwrap();
    Setup {
        demo,
        key: endpoint.key,
        base: format!("http://127.0.0.1:{}", broker.addr.port()),
        broker,
        dir,
    }
}
