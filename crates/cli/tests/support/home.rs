//! One user of the `mcp-passport` binary: a home directory, a keyring
//! service name of its own, a "browser" that approves sign-ins at the
//! reference AS, and helpers to run commands, run the broker
//! (`mcp-passport serve`), ask it for tokens, and look for secrets on disk.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

/// The path of a binary built beside the test (`reference-as`).
pub fn target_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(Path::parent).unwrap().join(name);
    assert!(
        path.exists(),
        "{} is not built; run the tests with `cargo test --workspace`",
        path.display()
    );
    path
}

/// Whether the process died of SIGKILL.
pub fn killed(status: std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt as _;
    status.signal() == Some(9)
}

/// A user's home and keyring service.
pub struct Home {
    /// The home directory (state file, keys, audit, runtime directory).
    pub dir: tempfile::TempDir,
    /// The keyring service name.
    pub service: String,
    /// Whether `token` and `headers` may start a broker; off by default,
    /// since the fault tests exercise the engine in the command itself
    /// (`MCP_PASSPORT_NO_AUTOSTART=1`) or start the broker explicitly.
    pub autostart: bool,
}

impl Home {
    /// A fresh home whose browser approves `servers` (comma-separated).
    pub fn new(tag: &str, servers: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let browser = dir.path().join("browser.sh");
        std::fs::write(
            &browser,
            format!(
                "#!/bin/sh\nexec '{}' approve --servers {servers} \"$1\"\n",
                target_bin("reference-as").display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self {
            dir,
            service: format!("io.github.mcppassport.faults-{}-{tag}", std::process::id()),
            autostart: false,
        }
    }

    /// A fresh home whose `token` and `headers` start a broker when none runs.
    pub fn with_autostart(tag: &str, servers: &str) -> Self {
        Self {
            autostart: true,
            ..Self::new(tag, servers)
        }
    }

    /// The pid of the broker the endpoint file names, if any.
    pub fn broker_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.endpoint_file()).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        u32::try_from(v["pid"].as_u64()?).ok()
    }

    /// Stops the broker the endpoint file names (SIGTERM) and waits for it
    /// to go; returns its pid.
    pub async fn stop_broker(&self) -> Option<u32> {
        let pid = self.broker_pid()?;
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        for _ in 0..200 {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Some(pid)
    }

    fn command(&self, args: &[&str], fault: Option<&str>) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-passport"));
        command
            .args(args)
            .env("MCP_PASSPORT_HOME", self.dir.path())
            .env("MCP_PASSPORT_KEYRING_SERVICE", &self.service)
            .env("BROWSER", self.dir.path().join("browser.sh"))
            .env_remove("MCP_PASSPORT_FAULT")
            .env_remove("MCP_PASSPORT_LOG")
            .kill_on_drop(true);
        if self.autostart {
            command.env_remove("MCP_PASSPORT_NO_AUTOSTART");
        } else {
            command.env("MCP_PASSPORT_NO_AUTOSTART", "1");
        }
        if let Some(point) = fault {
            command.env("MCP_PASSPORT_FAULT", point);
        }
        command
    }

    /// Runs a command to its end (at most 60 s).
    pub async fn run(&self, args: &[&str], fault: Option<&str>) -> Output {
        self.run_with(args, fault, &[]).await
    }

    /// Runs a command to its end (at most 60 s) with extra environment.
    pub async fn run_with(
        &self,
        args: &[&str],
        fault: Option<&str>,
        env: &[(&str, &str)],
    ) -> Output {
        let mut command = self.command(args, fault);
        command.envs(env.iter().copied());
        let out = command.output();
        tokio::time::timeout(Duration::from_secs(60), out)
            .await
            .unwrap_or_else(|_| panic!("`mcp-passport {}` hung", args.join(" ")))
            .unwrap()
    }

    /// Starts a command as a person at a terminal would: standard input
    /// and error piped; `env` set and `unset` removed.
    pub fn spawn_at_terminal(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        unset: &[&str],
    ) -> tokio::process::Child {
        let mut command = self.command(args, None);
        command.envs(env.iter().copied());
        for name in unset {
            command.env_remove(name);
        }
        command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Signs in at `issuer` and fails the test if that fails.
    pub async fn login(&self, issuer: &str) {
        let out = self.run(&["login", issuer], None).await;
        assert!(
            out.status.success(),
            "login: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The state file's text ("" when there is none).
    pub fn state(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("state.json")).unwrap_or_default()
    }

    /// The state file parses (or is absent); returns it as JSON.
    pub fn state_parses(&self, when: &str) -> serde_json::Value {
        let state = self.state();
        if state.is_empty() {
            return serde_json::json!({"grants": []});
        }
        let parsed: serde_json::Value = serde_json::from_str(&state)
            .unwrap_or_else(|e| panic!("{when}: the state file is corrupt: {e}"));
        assert!(parsed["grants"].is_array(), "{when}: no grants in {state}");
        parsed
    }

    /// The first grant's status in the state file (`active`,
    /// `sign-in-needed`, `unreachable`, or `none`).
    pub fn grant_status(&self) -> String {
        let state = self.state_parses("reading the grant status");
        state["grants"][0]["status"]["state"]
            .as_str()
            .unwrap_or("none")
            .to_string()
    }

    /// Panics if any file under the home holds one of `secrets`.
    pub fn assert_no_secret_on_disk(&self, secrets: &[String], when: &str) {
        let mut stack = vec![self.dir.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let bytes = std::fs::read(&path).unwrap_or_default();
                let text = String::from_utf8_lossy(&bytes);
                for secret in secrets {
                    assert!(
                        !text.contains(secret.as_str()),
                        "{when}: a secret the AS issued is on disk in {}",
                        path.file_name().unwrap().to_string_lossy()
                    );
                }
            }
        }
    }

    /// Starts the broker on a free port, with the fault switch set to
    /// `fault`. An endpoint file a killed broker left stays in place.
    pub fn spawn_broker(&self, fault: Option<&str>) -> tokio::process::Child {
        self.command(&["serve", "--port", "0"], fault)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// The broker's endpoint file.
    pub fn endpoint_file(&self) -> PathBuf {
        self.dir.path().join("run/endpoint.json")
    }

    /// Waits (up to 20 s) for `broker`'s own endpoint file: `(port, key)`.
    pub async fn endpoint(&self, broker: &mut tokio::process::Child) -> (u16, String) {
        let pid = u64::from(broker.id().unwrap());
        for _ in 0..200 {
            if let Some(status) = broker.try_wait().unwrap() {
                panic!("the broker exited at start: {status:?}");
            }
            if let Ok(text) = std::fs::read_to_string(self.endpoint_file())
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
                && v["pid"].as_u64() == Some(pid)
                && let (Some(port), Some(key)) = (v["port"].as_u64(), v["key"].as_str())
            {
                return (u16::try_from(port).unwrap(), key.to_string());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the broker wrote no endpoint file");
    }
}

/// Asks a broker for a server's token: `(HTTP status, body)`, or `None`
/// when the connection failed (the broker died).
pub async fn broker_token(
    endpoint: &(u16, String),
    server: &str,
) -> Option<(u16, serde_json::Value)> {
    let response = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/v1/token/{server}", endpoint.0))
        .bearer_auth(&endpoint.1)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.unwrap_or_default()))
}

/// Asks a broker for the servers it serves (status, expiry; no tokens).
pub async fn broker_servers(endpoint: &(u16, String)) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/v1/servers", endpoint.0))
        .bearer_auth(&endpoint.1)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
