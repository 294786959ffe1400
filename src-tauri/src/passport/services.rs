//! What the app runs beside the dashboard: the broker (the local endpoint
//! every MCP client on this computer uses) and, with `--demo` in a build with
//! the `demo` feature, the reference authorization server and sample MCP
//! servers on loopback.
//!
//! One broker serves a user: the app takes the one-refresher lock first. When
//! `mcp-passport serve` (or another copy of the app) already holds it, the
//! dashboard still works and says why the app is not serving clients itself.

use super::{Event, Passport, lock};
use passport_broker::BrokerConfig;
use passport_core::lock::RefresherLock;
use serde::Serialize;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// The local endpoint as the dashboard shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BrokerView {
    /// Whether this app serves local clients.
    pub running: bool,
    /// Its port.
    pub port: Option<u16>,
    /// Why it is not running, or where it is.
    pub message: String,
}

impl Passport {
    /// Starts the demo stack (with `--demo`), the broker, and the watcher.
    pub async fn start(self: &Arc<Self>) {
        #[cfg(feature = "demo")]
        if self.settings.demo {
            self.start_demo().await;
        }
        self.start_broker().await;
        self.watch();
    }

    #[cfg(feature = "demo")]
    async fn start_demo(&self) {
        use crate::settings::DEMO_AS_PORT;
        use reference_as::demo::{Demo, DemoConfig};
        let config = |port| DemoConfig {
            port,
            state_dir: Some(self.settings.paths.home.join("demo-as")),
            introspect: true,
            ..DemoConfig::default()
        };
        let started = match Demo::start(config(DEMO_AS_PORT)).await {
            Ok(demo) => Ok(demo),
            Err(e) => {
                tracing::warn!(error = %e, port = DEMO_AS_PORT, "demo port taken; using a free one");
                Demo::start(config(0)).await
            }
        };
        match started {
            Ok(demo) => {
                *lock(&self.demo_issuer) = Some(demo.info().issuer.clone());
                *self.demo.lock().await = Some(demo);
            }
            Err(e) => {
                lock(&self.activity).error = Some(crate::error::UiError::new(
                    "demo_failed",
                    format!(
                        "The demo servers could not start ({e}). Quit other copies of the demo and start it again."
                    ),
                ));
            }
        }
    }

    async fn start_broker(&self) {
        let settings = &self.settings;
        let held = match RefresherLock::acquire(&settings.paths.runtime, Duration::ZERO) {
            Ok(held) => held,
            Err(_) => {
                let port = passport_broker::endpoint::read(&settings.paths.endpoint_file())
                    .map(|e| e.port);
                *lock(&self.broker_view) = BrokerView {
                    running: false,
                    port,
                    message: "Another MCP Passport (the app, or `mcp-passport serve`) already serves this account's clients. Quit it and restart the app to serve them from here.".into(),
                };
                return;
            }
        };
        *lock(&self.lock) = Some(held);
        let config = BrokerConfig {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, settings.broker_port)),
            endpoint_file: settings.paths.endpoint_file(),
            keys_file: settings.paths.keys_file(),
            audit_file: settings.paths.audit_file(),
            refresh_every: Duration::from_secs(30),
        };
        match passport_broker::start(config, Arc::clone(&self.engine), Arc::clone(&self.opener))
            .await
        {
            Ok(broker) => {
                *lock(&self.broker_view) = BrokerView {
                    running: true,
                    port: Some(broker.addr.port()),
                    message: format!("Local MCP clients get tokens at http://{}", broker.addr),
                };
                *lock(&self.broker_state) = Some(Arc::clone(&broker.state));
                *self.broker.lock().await = Some(broker);
            }
            Err(e) => {
                *lock(&self.broker_view) = BrokerView {
                    running: false,
                    port: None,
                    message: format!(
                        "{e}. Local MCP clients cannot get tokens until this is fixed; restart the app after."
                    ),
                };
            }
        }
        self.emit(Event::Changed);
    }

    /// Stops the broker (removing its endpoint file) and the demo.
    pub async fn shutdown(&self) {
        if let Some(task) = lock(&self.signing).take() {
            task.abort();
        }
        if let Some(broker) = self.broker.lock().await.take() {
            broker.shutdown().await;
        }
        lock(&self.broker_state).take();
        #[cfg(feature = "demo")]
        if let Some(demo) = self.demo.lock().await.take() {
            demo.shutdown().await;
        }
        lock(&self.lock).take();
    }
}
