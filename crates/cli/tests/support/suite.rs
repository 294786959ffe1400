//! The MCP conformance suite (`@modelcontextprotocol/conformance`), run as
//! an OAuth client's judge against `mcp-passport check` through
//! `tests/conformance/client`: the release (0.1.16) or the pre-release
//! installed as `conformance-next`. Needs Node 22 and the suite from
//! `scripts/setup.sh`.

use std::path::PathBuf;

/// Which install of the suite.
#[derive(Debug, Clone, Copy)]
pub enum Suite {
    /// `@modelcontextprotocol/conformance` 0.1.16.
    Release,
    /// The pre-release 0.2.0-alpha.12 (`conformance-next`).
    PreRelease,
}

/// What one run printed.
pub struct Run {
    /// Whether the suite exited 0.
    pub success: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Runs `conformance client --command tests/conformance/client <args>`,
/// ended by `timeout` after `limit_secs` if a scenario ever hangs.
pub fn run(suite: Suite, args: &[&str], limit_secs: u32) -> Run {
    let root = root();
    let node22 = root.join("target/tools/node22/bin");
    let package = match suite {
        Suite::Release => "@modelcontextprotocol/conformance",
        Suite::PreRelease => "conformance-next",
    };
    let index = root
        .join("tests/conformance/node_modules")
        .join(package)
        .join("dist/index.js");
    assert!(
        node22.join("node").exists() && index.exists(),
        "Node 22 or the conformance suite ({package}) is missing: run scripts/setup.sh"
    );
    let results = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        node22.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = std::process::Command::new("timeout")
        .arg(limit_secs.to_string())
        .arg(node22.join("node"))
        .arg(&index)
        .args(["client", "--command"])
        .arg(root.join("tests/conformance/client"))
        .args(args)
        .arg("-o")
        .arg(results.path())
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env("MCP_PASSPORT_BIN", env!("CARGO_BIN_EXE_mcp-passport"))
        .output()
        .unwrap();
    Run {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

impl Run {
    /// What follows `=== SUITE SUMMARY ===` (empty when there is none).
    pub fn summary(&self) -> &str {
        self.stdout
            .split("=== SUITE SUMMARY ===")
            .nth(1)
            .unwrap_or_default()
    }

    /// Both streams (a single scenario reports on stderr).
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}
