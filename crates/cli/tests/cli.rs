//! The `mcp-passport` binary end to end: the real reference AS and sample
//! servers, the real OS keyring (run under scripts/desktop-session.sh), and
//! `reference-as approve` as the person at the browser (`$BROWSER`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use reference_as::demo::{Demo, DemoConfig};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

struct Cli {
    home: tempfile::TempDir,
    service: String,
    browser: PathBuf,
    /// Everything the commands printed on stderr (logs at debug level).
    stderr: std::sync::Mutex<String>,
}

fn target_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run the tests with `cargo test --workspace`",
        path.display()
    );
    path
}

impl Cli {
    /// A fresh home and keyring namespace; the browser ticks `servers`.
    fn new(servers: &str) -> Self {
        let home = tempfile::tempdir().unwrap();
        let browser = home.path().join("browser.sh");
        let approve = target_bin("reference-as");
        std::fs::write(
            &browser,
            format!(
                "#!/bin/sh\nexec '{}' approve --servers '{servers}' \"$1\"\n",
                approve.display()
            ),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let service = format!(
            "io.github.mcppassport.test-{}",
            std::process::id() as u64 * 1000 + rand_suffix()
        );
        Self {
            home,
            service,
            browser,
            stderr: std::sync::Mutex::default(),
        }
    }

    fn set_browser_servers(&self, servers: &str) {
        let approve = target_bin("reference-as");
        std::fs::write(
            &self.browser,
            format!(
                "#!/bin/sh\nexec '{}' approve --servers '{servers}' \"$1\"\n",
                approve.display()
            ),
        )
        .unwrap();
    }

    async fn run(&self, args: &[&str]) -> Output {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-passport"))
            .args(args)
            .env("MCP_PASSPORT_HOME", self.home.path())
            .env("MCP_PASSPORT_KEYRING_SERVICE", &self.service)
            .env("BROWSER", &self.browser)
            .env("MCP_PASSPORT_LOG", "debug")
            // These tests drive the engine in the command, or a broker they
            // start themselves; tests/autostart.rs covers starting on demand.
            .env("MCP_PASSPORT_NO_AUTOSTART", "1")
            .output()
            .await
            .unwrap();
        self.stderr
            .lock()
            .unwrap()
            .push_str(&String::from_utf8_lossy(&out.stderr));
        out
    }

    /// SECURITY-CASES 36: no secret in anything the commands logged.
    fn assert_no_secret_logged(&self, secrets: &[&str]) {
        let logs = self.stderr.lock().unwrap();
        assert!(logs.len() > 100, "debug logging produced output to scan");
        for secret in secrets.iter().filter(|s| s.len() >= 16) {
            assert!(!logs.contains(secret), "a secret appeared in the logs");
        }
    }

    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "mcp-passport {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
        % 1000
}

/// The tests here share one gnome-keyring; they take turns, since a daemon
/// serving many processes' session negotiations at once has been seen to crash.
static KEYRING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn mcp_status(resource: &str, token: &str) -> u16 {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    reqwest::Client::new()
        .post(resource)
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn resource(demo: &Demo, id: &str) -> String {
    demo.info()
        .servers
        .iter()
        .find(|s| s.id == id)
        .unwrap()
        .resource
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn login_token_headers_add_revoke_logout_round_trip_with_the_real_keyring_and_sec_36_no_secret_in_logs()
 {
    let _turn = KEYRING.lock().await;
    let demo = Demo::start(DemoConfig::default()).await.unwrap();
    let issuer = demo.info().issuer.clone();
    let cli = Cli::new("github-mcp,slack-mcp");

    cli.ok(&["login", &issuer]).await;
    let status: Value = serde_json::from_str(&cli.ok(&["status", "--json"]).await).unwrap();
    let servers: Vec<&str> = status["grants"][0]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(servers, vec!["github-mcp", "slack-mcp"]);
    let state = std::fs::read_to_string(cli.home.path().join("state.json")).unwrap();

    let token = cli.ok(&["token", "github-mcp"]).await.trim().to_string();
    assert!(!state.contains(&token));
    assert_eq!(
        mcp_status(&resource(&demo, "github-mcp"), &token).await,
        200
    );
    assert_eq!(
        mcp_status(&resource(&demo, "slack-mcp"), &token).await,
        401,
        "github's own token is refused by slack"
    );

    let headers: Value =
        serde_json::from_str(cli.ok(&["headers", "slack-mcp"]).await.trim()).unwrap();
    let bearer = headers["Authorization"]
        .as_str()
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap()
        .to_string();
    assert_eq!(
        mcp_status(&resource(&demo, "slack-mcp"), &bearer).await,
        200
    );

    let grant_id = status["grants"][0]["id"].as_str().unwrap().to_string();
    let lookup = std::process::Command::new("secret-tool")
        .args([
            "lookup",
            "service",
            &cli.service,
            "username",
            &format!("refresh-token:{grant_id}"),
        ])
        .output()
        .unwrap();
    assert!(
        !lookup.stdout.is_empty(),
        "the refresh token is in the Secret Service: {}",
        String::from_utf8_lossy(&lookup.stderr)
    );
    assert!(
        !state.contains(String::from_utf8_lossy(&lookup.stdout).trim()),
        "and not in the state file"
    );

    cli.set_browser_servers("github-mcp,slack-mcp,notion-mcp");
    cli.ok(&["add-servers", &issuer]).await;
    let notion = cli.ok(&["token", "notion-mcp"]).await.trim().to_string();
    assert_eq!(
        mcp_status(&resource(&demo, "notion-mcp"), &notion).await,
        200
    );

    let revoked = cli.ok(&["revoke", "slack-mcp"]).await;
    assert!(revoked.contains("removed"), "{revoked}");
    let out = cli.run(&["token", "slack-mcp"]).await;
    assert_eq!(out.status.code(), Some(6), "not granted any more");

    let check = cli
        .ok(&[
            "check",
            &resource(&demo, "github-mcp"),
            "--call",
            "whoami",
            "--json",
        ])
        .await;
    let report: Value = serde_json::from_str(check.trim()).unwrap();
    assert!(
        report["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "whoami")
    );
    assert!(
        report["call"]["text"]
            .as_str()
            .unwrap()
            .contains("github-mcp")
    );

    let refresh_token = String::from_utf8_lossy(&lookup.stdout).trim().to_string();
    cli.ok(&["logout"]).await;
    let after: Value = serde_json::from_str(&cli.ok(&["status", "--json"]).await).unwrap();
    assert!(after["grants"].as_array().unwrap().is_empty());
    cli.assert_no_secret_logged(&[&token, &bearer, &notion, &refresh_token]);
    demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn token_for_an_unknown_server_says_what_to_do_and_exits_6() {
    let _turn = KEYRING.lock().await;
    let cli = Cli::new("github-mcp");
    let out = cli.run(&["token", "nowhere-mcp"]).await;
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mcp-passport login"));
    let json = cli.run(&["token", "nowhere-mcp", "--json"]).await;
    let stderr = String::from_utf8_lossy(&json.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    let err: Value = serde_json::from_str(last).unwrap();
    assert_eq!(err["error"]["code"], "not_granted");
}

/// Starts `mcp-passport serve` for `cli`'s home (its browser is `cli`'s);
/// returns it once it wrote its endpoint file.
async fn serve(cli: &Cli) -> (tokio::process::Child, PathBuf) {
    let broker = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-passport"))
        .args(["serve", "--port", "0"])
        .env("MCP_PASSPORT_HOME", cli.home.path())
        .env("MCP_PASSPORT_KEYRING_SERVICE", &cli.service)
        .env("BROWSER", &cli.browser)
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let endpoint = cli.home.path().join("run/endpoint.json");
    for _ in 0..200 {
        if endpoint.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(endpoint.exists(), "the broker wrote its endpoint file");
    (broker, endpoint)
}

async fn stop(mut broker: tokio::process::Child) -> std::process::ExitStatus {
    let pid = broker.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    broker.wait().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn add_servers_revoke_and_logout_go_through_a_running_broker() {
    let _turn = KEYRING.lock().await;
    let demo = Demo::start(DemoConfig::default()).await.unwrap();
    let issuer = demo.info().issuer.clone();
    let cli = Cli::new("github-mcp,slack-mcp");
    cli.ok(&["login", &issuer]).await;
    let (broker, _) = serve(&cli).await;

    // The broker holds the refresher lock: each of these would wait for it
    // and fail if it ran here rather than in the broker.
    cli.set_browser_servers("github-mcp,slack-mcp,notion-mcp");
    cli.ok(&["add-servers", &issuer]).await;
    let notion = cli.ok(&["token", "notion-mcp"]).await.trim().to_string();
    assert_eq!(
        mcp_status(&resource(&demo, "notion-mcp"), &notion).await,
        200
    );
    let revoked = cli.ok(&["revoke", "slack-mcp"]).await;
    assert!(revoked.contains("removed"), "{revoked}");
    assert_eq!(
        cli.run(&["token", "slack-mcp"]).await.status.code(),
        Some(6)
    );
    let unknown = cli.run(&["revoke", "nowhere-mcp"]).await;
    assert_eq!(
        unknown.status.code(),
        Some(6),
        "the engine's code crosses the broker"
    );
    let out = cli.ok(&["logout", "--json"]).await;
    let out: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(out["signed_out"], 1);
    let after: Value = serde_json::from_str(&cli.ok(&["status", "--json"]).await).unwrap();
    assert!(after["grants"].as_array().unwrap().is_empty());
    assert_eq!(
        cli.run(&["token", "github-mcp"]).await.status.code(),
        Some(6),
        "the running broker forgot the grant too"
    );
    assert!(stop(broker).await.success());
    cli.assert_no_secret_logged(&[&notion]);
    demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sec_22_one_broker_per_user_and_token_and_headers_go_through_it() {
    let _turn = KEYRING.lock().await;
    let demo = Demo::start(DemoConfig::default()).await.unwrap();
    let cli = Cli::new("github-mcp");
    cli.ok(&["login", &demo.info().issuer]).await;
    let (broker, endpoint) = serve(&cli).await;

    let second = cli.run(&["serve", "--port", "0"]).await;
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("already running"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );

    let token = cli.ok(&["token", "github-mcp"]).await.trim().to_string();
    assert_eq!(
        mcp_status(&resource(&demo, "github-mcp"), &token).await,
        200
    );
    let headers: Value =
        serde_json::from_str(cli.ok(&["headers", "github-mcp"]).await.trim()).unwrap();
    assert_eq!(
        headers["Authorization"],
        format!("Bearer {token}"),
        "the broker served the same fresh token"
    );
    // The broker appends its audit in the background: allow it a moment.
    let mut served = 0;
    let mut clients = Value::Null;
    for _ in 0..100 {
        clients = serde_json::from_str(&cli.ok(&["clients", "--json"]).await).unwrap();
        served = clients["recent"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["client"] == "mcp-passport-cli" && a["kind"] == "token")
            .count();
        if served >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        served, 2,
        "both requests were answered by the broker: {clients}"
    );
    let out = cli.run(&["token", "notion-mcp"]).await;
    assert_eq!(
        out.status.code(),
        Some(6),
        "the broker's not_granted keeps its exit code"
    );

    assert!(stop(broker).await.success());
    assert!(!endpoint.exists(), "the endpoint file is removed on stop");
    demo.shutdown().await;
}
