//! oidc-provider with its pre-registered machine clients, the sample servers
//! that trust it, and running the CLI, asking the broker and reading the
//! keyring, as the machine grant tests share them.

use crate::support::home::Home;
use rmcp::ServiceExt as _;
use sample_servers::{SampleServer, ServerSpec, Trust};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) const SECRET: &str = "agent-basic-s3cret-5d0c8e1f9a7b4c2e";

pub(crate) const TTL_SECS: u64 = 2;

pub(crate) struct Provider {
    child: std::process::Child,
    pub(crate) issuer: String,
    log: PathBuf,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    /// The token requests it answered with 200.
    pub(crate) fn tokens_issued(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("POST /token 200"))
            .count()
    }
}

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub(crate) fn node(args: &[&str]) -> String {
    let out = std::process::Command::new("node")
        .args(args)
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "node: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A fresh P-256 key pair: the private key as a PKCS#8 PEM file in `dir`,
/// and the public key as a JWK.
pub(crate) fn key_pair(dir: &Path) -> (PathBuf, serde_json::Value) {
    let pem = dir.join("agent-key.pem");
    let script = "const c = require('node:crypto'); const fs = require('node:fs');\
        const { privateKey, publicKey } = c.generateKeyPairSync('ec', { namedCurve: 'P-256' });\
        fs.writeFileSync(process.argv[1], privateKey.export({ type: 'pkcs8', format: 'pem' }));\
        process.stdout.write(JSON.stringify({ ...publicKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig' }));";
    let jwk = node(&["-e", script, pem.to_str().unwrap()]);
    (pem, serde_json::from_str(&jwk).unwrap())
}

/// oidc-provider for `resources`; with `clients` (their metadata), the
/// client credentials grant is on for them.
pub(crate) fn start_provider(
    dir: &Path,
    resources: &[&str],
    clients: Option<serde_json::Value>,
) -> Provider {
    let root = root();
    assert!(
        root.join("tests/oidc-provider/node_modules/oidc-provider")
            .exists(),
        "oidc-provider is not installed: run scripts/setup.sh"
    );
    let ready = dir.join("ready.json");
    let log = dir.join("oidc-provider.log");
    let mut command = std::process::Command::new("node");
    command
        .arg(root.join("tests/oidc-provider/server.mjs"))
        .args(["--port", "0", "--access-ttl", &TTL_SECS.to_string()])
        .arg("--ready-file")
        .arg(&ready);
    for r in resources {
        command.args(["--resource", r]);
    }
    if let Some(clients) = clients {
        let file = dir.join("clients.json");
        std::fs::write(&file, clients.to_string()).unwrap();
        command
            .arg("--client-credentials")
            .arg("--clients")
            .arg(file);
    }
    let child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("node");
    let mut provider = Provider {
        child,
        issuer: String::new(),
        log,
    };
    for _ in 0..300 {
        if let Ok(text) = std::fs::read_to_string(&ready) {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            provider.issuer = v["issuer"].as_str().unwrap().to_string();
            return provider;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "oidc-provider did not start: {}",
        std::fs::read_to_string(&provider.log).unwrap_or_default()
    );
}

/// Sample MCP servers (`ids`) trusting `issuer`, on the listeners given.
pub(crate) async fn sample_servers(
    listeners: Vec<tokio::net::TcpListener>,
    ids: &[&str],
    issuer: &str,
) -> Vec<SampleServer> {
    let mut servers = Vec::new();
    for (listener, id) in listeners.into_iter().zip(ids) {
        let trust = Trust {
            issuer: issuer.to_string(),
            introspection: None,
        };
        let server = SampleServer::serve_with(ServerSpec::for_id(id), listener, trust, false)
            .await
            .unwrap();
        servers.push(server);
    }
    servers
}

pub(crate) async fn listeners(n: usize) -> (Vec<tokio::net::TcpListener>, Vec<String>) {
    let mut all = Vec::new();
    let mut urls = Vec::new();
    for _ in 0..n {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        urls.push(format!("http://{}/mcp", l.local_addr().unwrap()));
        all.push(l);
    }
    (all, urls)
}

/// Runs `mcp-passport args` with `env`: (success, stdout, stderr).
pub(crate) async fn run(
    home: &Home,
    args: &[&str],
    env: &[(&str, &str)],
) -> (bool, String, String) {
    let out = home.run_with(args, None, env).await;
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// An MCP session (rmcp) through the broker's proxy for `server`, with the
/// CLI's key: initialize, then the tools listed.
pub(crate) async fn tools_through_proxy(endpoint: &(u16, String), server: &str) -> Vec<String> {
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let url = format!(
        "http://127.0.0.1:{}{}",
        endpoint.0,
        passport_broker::admin_api::proxy_path(server)
    );
    let config =
        StreamableHttpClientTransportConfig::with_uri(url.clone()).auth_header(&endpoint.1);
    let transport = rmcp::transport::StreamableHttpClientTransport::from_config(config);
    let client = rmcp::model::ClientConfig::default()
        .serve(transport)
        .await
        .unwrap_or_else(|e| panic!("initialize at {url}: {e}"));
    let listed = client
        .list_all_tools()
        .await
        .unwrap_or_else(|e| panic!("tools/list at {url}: {e}"));
    let _ = client.cancel().await;
    listed.into_iter().map(|t| t.name.to_string()).collect()
}

/// The broker's token for `server`: (HTTP status, body).
pub(crate) async fn broker_token(
    endpoint: &(u16, String),
    server: &str,
) -> (u16, serde_json::Value) {
    let path = passport_broker::admin_api::token_path(server);
    let response = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}{path}", endpoint.0))
        .bearer_auth(&endpoint.1)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// The server ids and grant ids in `status --json`, by client id.
pub(crate) fn grant_of(status: &serde_json::Value, client_id: &str) -> (String, String) {
    let grant = status["grants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["client_id"] == client_id)
        .unwrap_or_else(|| panic!("no grant for {client_id} in {status}"));
    (
        grant["id"].as_str().unwrap().to_string(),
        grant["servers"][0]["id"].as_str().unwrap().to_string(),
    )
}

/// The Secret Service's items for this home's service, as text.
pub(crate) fn keyring_items(home: &Home) -> String {
    let out = std::process::Command::new("secret-tool")
        .args(["search", "--all", "service", &home.service])
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub(crate) fn keyring_lookup(home: &Home, account: &str) -> String {
    let out = std::process::Command::new("secret-tool")
        .args(["lookup", "service", &home.service, "username", account])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
