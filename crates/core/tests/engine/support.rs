//! Test support: an engine wired to a real reference AS stack, and a
//! "browser" that signs in through the AS's forms, ticks servers in the
//! picker and delivers the redirect to the engine like the OS would.

use passport_core::clock::{Clock, ManualClock};
use passport_core::engine::{Engine, EngineConfig, LoginRequest, LoginTarget, Opener};
use passport_core::flows::Flows;
use passport_core::http::HttpClient;
use passport_core::store::MemoryStore;
use reference_as::demo::{Demo, DemoConfig};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use url::Url;

pub const REDIRECT: &str = "http://127.0.0.1:47999/callback";

pub struct Harness {
    pub demo: Demo,
    pub engine: Arc<Engine>,
    pub store: Arc<MemoryStore>,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
}

impl Harness {
    pub async fn start(config: DemoConfig) -> Self {
        let demo = Demo::start(config).await.expect("demo stack");
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let engine = Arc::new(Self::engine_at(&dir, &store, &clock));
        Self {
            demo,
            engine,
            store,
            clock,
            dir,
        }
    }

    pub fn engine_at(
        dir: &tempfile::TempDir,
        store: &Arc<MemoryStore>,
        clock: &Arc<ManualClock>,
    ) -> Engine {
        let config = EngineConfig::new(dir.path().join("state.json"));
        let clock: Arc<dyn Clock> = clock.clone();
        Engine::new(
            config,
            HttpClient::new().expect("http"),
            clock,
            store.clone(),
        )
        .expect("engine")
    }

    pub fn issuer(&self) -> String {
        self.demo.info().issuer.clone()
    }

    pub fn resource(&self, id: &str) -> String {
        self.demo
            .info()
            .servers
            .iter()
            .find(|s| s.id == id)
            .expect("server")
            .resource
            .clone()
    }

    pub fn request(&self, target: LoginTarget, hint: &[&str]) -> LoginRequest {
        LoginRequest {
            target,
            servers: hint.iter().map(|s| s.to_string()).collect(),
            client: None,
            redirect_uri: REDIRECT.into(),
            scope: None,
            timeout: Duration::from_secs(20),
            account: None,
        }
    }

    pub fn browser(&self, pick: &[&str]) -> FormBrowser {
        FormBrowser::new(self.engine.flows(), self.clock.clone(), pick)
    }

    /// The global flow for `pick`.
    pub async fn global_login(&self, pick: &[&str]) -> passport_core::model::Grant {
        let request = self.request(LoginTarget::Issuer(self.issuer()), &[]);
        let grants = self
            .engine
            .login(&request, &self.browser(pick))
            .await
            .expect("login");
        grants.into_iter().next().expect("one grant")
    }

    /// POSTs an MCP initialize with `token`; returns the HTTP status.
    pub async fn mcp_status(&self, id: &str, token: &str) -> u16 {
        let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
        reqwest::Client::new()
            .post(self.resource(id))
            .header("accept", "application/json, text/event-stream")
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("mcp")
            .status()
            .as_u16()
    }

    pub fn refreshes(&self) -> u64 {
        self.demo.token_requests().1
    }
}

/// Signs in as demo/demo, ticks `pick` (or only approves when there is no
/// picker), and delivers the redirect to the engine's pending flows.
pub struct FormBrowser {
    flows: Arc<Flows>,
    clock: Arc<ManualClock>,
    pick: Vec<String>,
    /// The last authorization URL opened.
    pub opened: Arc<Mutex<Vec<Url>>>,
    /// Deliver this callback instead of the real one (attack tests).
    pub replace_callback: Option<Arc<dyn Fn(String) -> String + Send + Sync>>,
    /// Who signs in (demo/demo unless set).
    pub user: (String, String),
}

impl FormBrowser {
    pub fn new(flows: Arc<Flows>, clock: Arc<ManualClock>, pick: &[&str]) -> Self {
        Self {
            flows,
            clock,
            pick: pick.iter().map(|s| s.to_string()).collect(),
            opened: Arc::default(),
            replace_callback: None,
            user: ("demo".into(), "demo".into()),
        }
    }

    /// The same browser, signing in as `name` with `password`.
    pub fn signing_in_as(mut self, name: &str, password: &str) -> Self {
        self.user = (name.into(), password.into());
        self
    }
}

fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&amp;", "&")
            .replace("&quot;", "\"")
            .replace("&#39;", "'"),
    )
}

/// Drives the reference AS's forms as demo/demo; returns the final redirect URL.
pub async fn approve(url: &Url, pick: &[String]) -> String {
    approve_as(url, pick, &("demo".into(), "demo".into())).await
}

/// Drives the reference AS's forms as `user`; returns the final redirect URL.
pub async fn approve_as(url: &Url, pick: &[String], user: &(String, String)) -> String {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("client");
    let origin = format!(
        "{}://{}",
        url.scheme(),
        url.host_str()
            .and_then(|h| url.port().map(|p| format!("{h}:{p}")))
            .expect("origin")
    );
    let html = browser
        .get(url.clone())
        .send()
        .await
        .expect("authorize")
        .text()
        .await
        .expect("html");
    let form = [
        ("username", user.0.clone()),
        ("password", user.1.clone()),
        ("csrf", hidden(&html, "csrf").expect("csrf")),
        ("return_to", hidden(&html, "return_to").expect("return_to")),
    ];
    browser
        .post(format!("{origin}/login"))
        .form(&form)
        .send()
        .await
        .expect("login");
    let html = browser
        .get(url.clone())
        .send()
        .await
        .expect("consent")
        .text()
        .await
        .expect("html");
    let mut form = vec![
        ("csrf".to_string(), hidden(&html, "csrf").expect("csrf")),
        (
            "request".to_string(),
            hidden(&html, "request").expect("request"),
        ),
        ("decision".to_string(), "approve".to_string()),
    ];
    form.extend(pick.iter().map(|s| ("server".to_string(), s.clone())));
    let response = browser
        .post(format!("{origin}/authorize/decision"))
        .form(&form)
        .send()
        .await
        .expect("decision");
    response.headers()["location"]
        .to_str()
        .expect("location")
        .to_string()
}

impl Opener for FormBrowser {
    fn open(&self, url: &Url) -> Result<(), String> {
        self.opened.lock().expect("lock").push(url.clone());
        let (url, pick, flows, clock, replace, user) = (
            url.clone(),
            self.pick.clone(),
            self.flows.clone(),
            self.clock.clone(),
            self.replace_callback.clone(),
            self.user.clone(),
        );
        tokio::spawn(async move {
            let mut callback = approve_as(&url, &pick, &user).await;
            if let Some(f) = replace {
                callback = f(callback);
            }
            let _ = flows.deliver(&callback, clock.now());
        });
        Ok(())
    }
}
