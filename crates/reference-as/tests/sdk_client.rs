//! The official TypeScript MCP SDK, as a client nobody here wrote, signs in through the
//! reference AS and calls a sample MCP server of the demo stack.
//!
//! The SDK does the whole MCP authorization flow on its own terms: the 401 from the
//! server, RFC 9728 and RFC 8414 discovery, dynamic client registration, PKCE S256 and
//! `resource`. Only the browser is replaced (`tests/sdk-client/client.mjs` fills in the
//! sign-in and consent forms over HTTP). A pass means the AS and the sample servers
//! agree with the SDK, not merely with our own client.
//!
//! Needs Node.js and `tests/sdk-client/node_modules` (`scripts/setup.sh` installs both).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::Value;

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const SERVER_ID: &str = "github-mcp";

/// Kills the demo stack when the test ends, also when it panics.
struct DemoGuard {
    child: Child,
    dir: tempfile::TempDir,
}

impl DemoGuard {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let stdout = fs::File::create(dir.path().join("demo.stdout")).expect("create demo.stdout");
        let stderr = fs::File::create(dir.path().join("demo.stderr")).expect("create demo.stderr");
        let child = Command::new(env!("CARGO_BIN_EXE_reference-as"))
            .arg("demo")
            .args(["--port", "0"])
            .arg("--ready-file")
            .arg(dir.path().join("ready.json"))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("start `reference-as demo`");
        Self { child, dir }
    }

    /// The demo's own output, for failure messages.
    fn logs(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!(
            "--- demo stdout ---\n{}\n--- demo stderr ---\n{}",
            read("demo.stdout"),
            read("demo.stderr")
        )
    }

    /// Waits for the ready file: `{"issuer": ..., "servers": [{"id", "name", "resource", "description"}]}`.
    fn wait_ready(&mut self) -> Value {
        let path = self.dir.path().join("ready.json");
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            // The file may be seen half-written: only a complete JSON document counts.
            if let Some(ready) = fs::read_to_string(&path)
                .ok()
                .and_then(|text| serde_json::from_str(&text).ok())
            {
                return ready;
            }
            if let Some(status) = self.child.try_wait().expect("poll the demo process") {
                panic!(
                    "`reference-as demo` exited ({status}) before it was ready\n{}",
                    self.logs()
                );
            }
            assert!(
                Instant::now() < deadline,
                "`reference-as demo` wrote no ready file within {} s\n{}",
                READY_TIMEOUT.as_secs(),
                self.logs()
            );
            sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for DemoGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("find the workspace root")
}

/// True when `aud` (a string or an array of strings) names `wanted`.
fn audience_contains(aud: &Value, wanted: &str) -> bool {
    match aud {
        Value::String(one) => one == wanted,
        Value::Array(many) => many.iter().any(|v| v.as_str() == Some(wanted)),
        _ => false,
    }
}

#[test]
fn official_sdk_client_signs_in_through_the_reference_as_and_calls_whoami() {
    let root = workspace_root();
    let client_dir = root.join("tests/sdk-client");
    assert!(
        client_dir
            .join("node_modules/@modelcontextprotocol/sdk")
            .is_dir(),
        "tests/sdk-client/node_modules is missing: run scripts/setup.sh"
    );

    let mut demo = DemoGuard::start();
    let ready = demo.wait_ready();
    let servers = ready["servers"]
        .as_array()
        .expect("the ready file lists `servers`");
    let server = servers
        .iter()
        .find(|s| s["id"] == SERVER_ID)
        .unwrap_or_else(|| panic!("the ready file has no {SERVER_ID} server: {ready}"));
    let resource = server["resource"]
        .as_str()
        .expect("the server has a `resource` URL");

    let output = Command::new("node")
        .arg("tests/sdk-client/client.mjs")
        .arg(resource)
        .current_dir(&root)
        .stdin(Stdio::null())
        .output()
        .expect("run node (is Node.js installed? run scripts/setup.sh)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the SDK client failed ({})\n--- client stdout ---\n{stdout}\n--- client stderr ---\n{stderr}\n{}",
        output.status,
        demo.logs()
    );

    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .expect("the SDK client printed a result line");
    let result: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("the result line is not JSON ({e}): {line}"));
    let tools: Vec<&str> = result["tools"]
        .as_array()
        .expect("`tools` is an array")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        tools.contains(&"whoami"),
        "the server lists no whoami tool: {tools:?}"
    );

    let whoami = &result["whoami"];
    assert!(
        audience_contains(&whoami["aud"], SERVER_ID) || audience_contains(&whoami["aud"], resource),
        "the token's aud names neither {SERVER_ID} nor {resource}: {whoami}"
    );
    assert_eq!(
        whoami["sub"], "demo",
        "the token is not for the demo user: {whoami}"
    );
}
