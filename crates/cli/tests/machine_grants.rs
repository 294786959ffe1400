//! Machine grants end to end, with the real `mcp-passport` binary, against
//! `oidc-provider` (a certified OpenID provider from npm, started by
//! `tests/oidc-provider/server.mjs`): two sample MCP servers trust its JWKS.
//!
//! The provider runs with `--client-credentials`: its `clientCredentials`
//! feature on (off in the stock configuration), resource indicators as the
//! other oidc-provider tests have them (the token request names one
//! registered resource and gets a JWT access token with that `aud`), and
//! two pre-registered confidential clients: one authenticating with a
//! client secret (`client_secret_basic`), one with `private_key_jwt` (its
//! public key registered as `jwks`). Everything else is oidc-provider's
//! default (DPoP offered, not required). Access tokens last a few seconds
//! (`--access-ttl`), so renewal is seen in the test's time.
//!
//! Needs `scripts/setup.sh` (the npm packages), Node on PATH, and the real
//! keyring: run under scripts/desktop-session.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use rmcp::ServiceExt as _;
use sample_servers::{SampleServer, ServerSpec, Trust};
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::home::Home;

const SECRET: &str = "agent-basic-s3cret-5d0c8e1f9a7b4c2e";
const TTL_SECS: u64 = 2;

struct Provider {
    child: std::process::Child,
    issuer: String,
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
    fn tokens_issued(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("POST /token 200"))
            .count()
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn node(args: &[&str]) -> String {
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
fn key_pair(dir: &Path) -> (PathBuf, serde_json::Value) {
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
fn start_provider(dir: &Path, resources: &[&str], clients: Option<serde_json::Value>) -> Provider {
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
async fn sample_servers(
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

async fn listeners(n: usize) -> (Vec<tokio::net::TcpListener>, Vec<String>) {
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
async fn run(home: &Home, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = home.run_with(args, None, env).await;
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// An MCP session (rmcp) through the broker's proxy for `server`, with the
/// CLI's key: initialize, then the tools listed.
async fn tools_through_proxy(endpoint: &(u16, String), server: &str) -> Vec<String> {
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
async fn broker_token(endpoint: &(u16, String), server: &str) -> (u16, serde_json::Value) {
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
fn grant_of(status: &serde_json::Value, client_id: &str) -> (String, String) {
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
fn keyring_items(home: &Home) -> String {
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

fn keyring_lookup(home: &Home, account: &str) -> String {
    let out = std::process::Command::new("secret-tool")
        .args(["lookup", "service", &home.service, "username", account])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn machine_grants_at_oidc_provider_serve_tools_through_the_proxy_and_renew_by_asking_again() {
    let dir = tempfile::tempdir().unwrap();
    let (pem, jwk) = key_pair(dir.path());
    let clients = serde_json::json!([
        {"client_id": "agent-basic", "client_secret": SECRET, "grant_types": ["client_credentials"],
         "response_types": [], "redirect_uris": [], "token_endpoint_auth_method": "client_secret_basic"},
        {"client_id": "agent-jwt", "grant_types": ["client_credentials"], "response_types": [],
         "redirect_uris": [], "token_endpoint_auth_method": "private_key_jwt",
         "token_endpoint_auth_signing_alg": "ES256", "jwks": {"keys": [jwk]}},
    ]);
    let (bound, urls) = listeners(2).await;
    let refs: Vec<&str> = urls.iter().map(String::as_str).collect();
    let provider = start_provider(dir.path(), &refs, Some(clients));
    let _servers = sample_servers(bound, &["github-mcp", "slack-mcp"], &provider.issuer).await;
    let home = Home::new("machine-e2e", "github-mcp");
    let env = [("MCP_PASSPORT_CLIENT_SECRET", SECRET)];
    let mut printed = String::new();

    // A private_key_jwt client with no broker running: the grant is got here.
    let key_file = pem.to_str().unwrap();
    let (ok, out, err) = run(
        &home,
        &[
            "login",
            "--client-credentials",
            "--client-id",
            "agent-jwt",
            "--private-key-file",
            key_file,
            &urls[1],
        ],
        &[],
    )
    .await;
    assert!(ok, "login with private_key_jwt: {err}");
    assert!(out.contains("Machine grant at"), "{out}");
    assert!(
        !err.to_lowercase().contains("refresh token") && !err.contains("WARN"),
        "a machine grant is renewed by asking again: no warning is due: {err}"
    );
    printed.push_str(&(out + &err));

    // A client secret while `serve` runs: through its admin API, and the
    // broker keeps the secret and renews the grant.
    let mut broker = home.spawn_broker(None);
    let endpoint = home.endpoint(&mut broker).await;
    let (ok, out, err) = run(
        &home,
        &[
            "login",
            "--client-credentials",
            "--client-id",
            "agent-basic",
            &urls[0],
        ],
        &env,
    )
    .await;
    assert!(ok, "login with a client secret through the broker: {err}");
    assert!(out.contains("Machine grant at"), "{out}");
    assert!(
        !err.to_lowercase().contains("refresh token") && !err.contains("WARN"),
        "{err}"
    );
    printed.push_str(&(out + &err));
    // The broker ran it (its audit has the admin call for that server).
    let mut audited = false;
    for _ in 0..50 {
        let audit =
            std::fs::read_to_string(home.dir.path().join("audit.jsonl")).unwrap_or_default();
        if audit
            .lines()
            .any(|l| l.contains("admin") && l.contains(&urls[0]))
        {
            audited = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(audited, "the machine login went through the broker");

    let (ok, status, err) = run(&home, &["--json", "status"], &[]).await;
    assert!(ok, "status: {err}");
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let (basic_grant, basic_server) = grant_of(&status, "agent-basic");
    let (_, jwt_server) = grant_of(&status, "agent-jwt");
    let (ok, text, _) = run(&home, &["status"], &[]).await;
    assert!(ok);
    assert!(
        text.contains("machine: client secret, renewed by asking again before expiry")
            && text.contains("machine: private_key_jwt, renewed by asking again before expiry"),
        "status says how each machine grant renews: {text}"
    );
    printed.push_str(&text);

    // The broker serves both: a local MCP client lists tools through its proxy.
    for server in [&basic_server, &jwt_server] {
        let tools = tools_through_proxy(&endpoint, server).await;
        assert!(tools.len() > 1, "{server}: {tools:?}");
    }
    let first: Vec<String> = {
        let mut tokens = Vec::new();
        for server in [&basic_server, &jwt_server] {
            let (code, body) = broker_token(&endpoint, server).await;
            assert_eq!(code, 200, "{body}");
            tokens.push(body["access_token"].as_str().unwrap().to_string());
        }
        tokens
    };
    let issued = provider.tokens_issued();

    // After expiry, both are renewed by asking the token endpoint again.
    tokio::time::sleep(Duration::from_secs(TTL_SECS + 1)).await;
    for (i, server) in [&basic_server, &jwt_server].into_iter().enumerate() {
        let (code, body) = broker_token(&endpoint, server).await;
        assert_eq!(code, 200, "{body}");
        assert_ne!(
            body["access_token"].as_str().unwrap(),
            first[i],
            "{server}: renewed"
        );
        let tools = tools_through_proxy(&endpoint, server).await;
        assert!(tools.len() > 1, "{server} after renewal: {tools:?}");
    }
    assert!(
        provider.tokens_issued() >= issued + 2,
        "each grant asked the token endpoint again"
    );

    // The secret is in the keyring, and nowhere else.
    assert_eq!(
        keyring_lookup(&home, &format!("machine-secret:{basic_grant}")),
        SECRET
    );
    let state = home.state();
    assert!(state.contains(key_file), "the key's path is kept: {state}");
    assert!(!state.contains("PRIVATE KEY"));
    broker.start_kill().unwrap();
    let broker_out = broker.wait_with_output().await.unwrap();
    printed.push_str(&String::from_utf8_lossy(&broker_out.stderr));
    assert!(!printed.contains(SECRET), "the secret was printed");
    home.assert_no_secret_on_disk(&[SECRET.to_string()], "after machine grants");
}

/// A bad input: what it is, the login flags, the environment, and the words
/// of the message that says what to do.
type Case = (
    &'static str,
    Vec<String>,
    Vec<(&'static str, &'static str)>,
    &'static str,
);

#[tokio::test(flavor = "multi_thread")]
async fn bad_machine_credentials_are_refused_with_what_to_do_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (bound, urls) = listeners(1).await;
    // The stock provider: no client credentials grant offered.
    let provider = start_provider(dir.path(), &[urls[0].as_str()], None);
    let _servers = sample_servers(bound, &["github-mcp"], &provider.issuer).await;
    let home = Home::new("machine-bad", "github-mcp");
    let url = urls[0].as_str();

    let not_a_key = dir.path().join("public.pem");
    std::fs::write(
        &not_a_key,
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let not_a_jwt = dir.path().join("token");
    std::fs::write(&not_a_jwt, "this is not a token\n").unwrap();
    let (good_key, _) = key_pair(dir.path());
    let missing = dir.path().join("missing.pem");
    let p = |path: &Path| path.to_str().unwrap().to_string();

    let cases: Vec<Case> = vec![
        (
            "no client secret",
            vec![
                "--client-credentials".into(),
                "--client-id".into(),
                "agent".into(),
            ],
            vec![],
            "MCP_PASSPORT_CLIENT_SECRET",
        ),
        (
            "an empty client secret",
            vec![
                "--client-credentials".into(),
                "--client-id".into(),
                "agent".into(),
            ],
            vec![("MCP_PASSPORT_CLIENT_SECRET", "")],
            "MCP_PASSPORT_CLIENT_SECRET",
        ),
        (
            "an unreadable key file",
            vec![
                "--client-credentials".into(),
                "--client-id".into(),
                "agent".into(),
                "--private-key-file".into(),
                p(&missing),
            ],
            vec![],
            "check the path",
        ),
        (
            "a PEM that is not a private key",
            vec![
                "--client-credentials".into(),
                "--client-id".into(),
                "agent".into(),
                "--private-key-file".into(),
                p(&not_a_key),
            ],
            vec![],
            "give a PEM file with a PKCS#8",
        ),
        (
            "an assertion file that is not a JWT",
            vec!["--assertion-file".into(), p(&not_a_jwt)],
            vec![],
            "does not hold a JWT",
        ),
        (
            "an AS without client_credentials",
            vec![
                "--client-credentials".into(),
                "--client-id".into(),
                "agent".into(),
                "--private-key-file".into(),
                p(&good_key),
            ],
            vec![],
            "does not offer the client_credentials grant",
        ),
        (
            "an AS without client_credentials, with a secret",
            vec![
                "--client-credentials".into(),
                "--client-id".into(),
                "agent".into(),
            ],
            vec![("MCP_PASSPORT_CLIENT_SECRET", SECRET)],
            "does not offer the client_credentials grant",
        ),
    ];

    let (ok, _, err) = run(&home, &["status"], &[]).await;
    assert!(ok, "{err}");
    let check = |what: &str,
                 through: &str,
                 ok: bool,
                 out: &str,
                 err: &str,
                 expected: &str,
                 before: &str| {
        assert!(!ok, "{what} ({through}) was accepted: {out}");
        assert!(
            err.contains(expected),
            "{what} ({through}): the message should say what to do ({expected}): {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(
            home.state(),
            before,
            "{what} ({through}) changed the state file"
        );
        assert!(
            keyring_items(&home).trim().is_empty(),
            "{what} ({through}) left something in the keyring"
        );
    };
    for (what, flags, env, expected) in &cases {
        let mut args = vec!["login"];
        args.extend(flags.iter().map(String::as_str));
        args.push(url);
        let before = home.state();
        let (ok, out, err) = run(&home, &args, env).await;
        check(what, "here", ok, &out, &err, expected, &before);
    }

    // The same through a running broker.
    let mut broker = home.spawn_broker(None);
    home.endpoint(&mut broker).await;
    for (what, flags, env, expected) in &cases {
        let mut args = vec!["login"];
        args.extend(flags.iter().map(String::as_str));
        args.push(url);
        let before = home.state();
        let (ok, out, err) = run(&home, &args, env).await;
        check(
            what,
            "through the broker",
            ok,
            &out,
            &err,
            expected,
            &before,
        );
    }
    let (ok, status, _) = run(&home, &["--json", "status"], &[]).await;
    assert!(ok);
    assert!(status.contains("\"grants\":[]"), "{status}");
    broker.start_kill().unwrap();
    let broker_out = broker.wait_with_output().await.unwrap();
    assert!(!String::from_utf8_lossy(&broker_out.stderr).contains(SECRET));
    home.assert_no_secret_on_disk(&[SECRET.to_string()], "after refused machine logins");
}
