//! Behind a corporate proxy (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, in
//! both cases, set for every process), nothing on this machine goes
//! through the proxy: `login` against the demo AS on loopback, `serve`,
//! `token`, `headers`, `status`, the stdio bridge through the broker, a
//! broker started on demand, the sample servers' JWKS and introspection
//! requests and the approving browser all talk directly, and the proxy
//! sees no connection at all (so never the broker key a request carries).
//! A request to a host elsewhere does go to the proxy.
//!
//! Needs the real keyring: run under scripts/desktop-session.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use rmcp::ServiceExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A proxy that records the first line of every connection and answers 502.
struct Recorder {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let record = Arc::clone(&record);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 2048];
                    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
                        .await
                        .map_or(0, |r| r.unwrap_or(0));
                    let text = String::from_utf8_lossy(&buf[..n]);
                    let first = text.lines().next().unwrap_or("(nothing sent)").to_string();
                    record.lock().unwrap().push(first);
                    let _ = tcp
                        .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .await;
                });
            }
        });
        Self { url, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    /// The six variables, all pointing here; `NO_PROXY` unset.
    fn apply(&self, command: &mut tokio::process::Command) {
        for var in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            command.env(var, &self.url);
        }
        command.env_remove("NO_PROXY").env_remove("no_proxy");
    }
}

fn target_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().join(name)
}

struct User {
    home: tempfile::TempDir,
    service: String,
    proxy: Recorder,
}

impl User {
    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-passport"));
        command
            .args(args)
            .env("MCP_PASSPORT_HOME", self.home.path())
            .env("MCP_PASSPORT_KEYRING_SERVICE", &self.service)
            .env("BROWSER", self.home.path().join("browser.sh"))
            .env_remove("MCP_PASSPORT_NO_AUTOSTART")
            .kill_on_drop(true);
        self.proxy.apply(&mut command);
        command
    }

    async fn ok(&self, args: &[&str]) -> String {
        let out = self.command(args).output().await.unwrap();
        assert!(
            out.status.success(),
            "mcp-passport {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn broker_pid(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.home.path().join("run/endpoint.json")).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        Some(v["pid"].as_u64()?.to_string())
    }

    async fn stop_broker(&self) {
        let Some(pid) = self.broker_pid() else { return };
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        for _ in 0..200 {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_on_loopback_goes_through_the_environments_proxy() {
    let proxy = Recorder::start().await;
    let scratch = tempfile::tempdir().unwrap();

    // The demo AS and sample servers, in a process of their own that sees the proxy too.
    let ready = scratch.path().join("ready.json");
    let mut demo = tokio::process::Command::new(target_bin("reference-as"));
    demo.args(["demo", "--port", "0", "--introspect", "--ready-file"])
        .arg(&ready)
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true);
    proxy.apply(&mut demo);
    let _demo = demo.spawn().unwrap();
    for _ in 0..400 {
        if ready.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ready).unwrap()).unwrap();
    let issuer = info["issuer"].as_str().unwrap().to_string();

    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("browser.sh"),
        format!(
            "#!/bin/sh\nexec '{}' approve --servers github-mcp,slack-mcp \"$1\"\n",
            target_bin("reference-as").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(
        home.path().join("browser.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let user = User {
        home,
        service: format!("io.github.mcppassport.proxy-{}", std::process::id()),
        proxy,
    };

    user.ok(&["login", &issuer]).await;

    // A broker run by hand: token, headers, status and the stdio bridge through it.
    let mut serve = user.command(&["serve", "--port", "0"]);
    serve.stderr(std::process::Stdio::null());
    let mut serve = serve.spawn().unwrap();
    for _ in 0..400 {
        if user.broker_pid().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(user.broker_pid().is_some(), "serve wrote its endpoint file");
    let token = user.ok(&["token", "github-mcp"]).await;
    assert!(!token.trim().is_empty());
    let headers = user.ok(&["headers", "slack-mcp"]).await;
    assert!(headers.contains("Bearer "), "{headers}");
    let status = user.ok(&["status"]).await;
    assert!(status.contains("github-mcp"), "{status}");

    let desktop = scratch.path().join("claude_desktop_config.json");
    user.ok(&[
        "connect",
        "claude-desktop",
        "--config",
        desktop.to_str().unwrap(),
    ])
    .await;
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&desktop).unwrap()).unwrap();
    let entry = &config["mcpServers"]["passport-github-mcp"];
    let mut bridge = user.command(&["stdio", "github-mcp"]);
    for (k, v) in entry["env"].as_object().unwrap() {
        bridge.env(k, v.as_str().unwrap());
    }
    let client = rmcp::model::ClientConfig::default()
        .serve(rmcp::transport::TokioChildProcess::new(bridge).unwrap())
        .await
        .expect("initialize over the bridge");
    let tools = client.list_all_tools().await.unwrap();
    assert!(!tools.is_empty());
    let _ = client.cancel().await;

    let pid = serve.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(serve.wait().await.unwrap().success());

    // A broker started on demand, by `token` with none running.
    let again = user.ok(&["token", "github-mcp"]).await;
    assert!(!again.trim().is_empty());
    assert!(user.broker_pid().is_some(), "token started a broker");
    user.stop_broker().await;

    assert_eq!(
        user.proxy.seen(),
        Vec::<String>::new(),
        "the proxy saw connections"
    );

    // Elsewhere, the proxy is used: the sign-in's discovery goes to it.
    let out = user
        .command(&[
            "login",
            "https://mcp.example.invalid/mcp",
            "--no-browser",
            "--timeout",
            "5",
        ])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let seen = user.proxy.seen();
    assert!(
        seen.iter().any(|line| line.contains("mcp.example.invalid")),
        "the proxy was asked for mcp.example.invalid: {seen:?}"
    );
}
