//! The official MCP conformance suite (`@modelcontextprotocol/conformance`
//! 0.1.16, `--suite auth`, all scenarios) drives `mcp-passport check`
//! through `tests/conformance/client`. Any failure or warning fails the test.
//! Needs Node 22 and the suite from `scripts/setup.sh`; run under
//! `scripts/desktop-session.sh`. Each check runs `--ephemeral` (nothing kept).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

#[test]
fn mcp_conformance_auth_suite_passes_with_no_failure_and_no_warning() {
    let root = root();
    let node22 = root.join("target/tools/node22/bin");
    let suite =
        root.join("tests/conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js");
    assert!(
        node22.join("node").exists() && suite.exists(),
        "Node 22 or the conformance suite is missing: run scripts/setup.sh"
    );
    let results = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        node22.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // Bounded: `timeout` ends the suite if a scenario ever hangs.
    let output = std::process::Command::new("timeout")
        .arg("600")
        .arg(node22.join("node"))
        .arg(&suite)
        .args(["client", "--command"])
        .arg(root.join("tests/conformance/client"))
        .args(["--suite", "auth", "-o"])
        .arg(results.path())
        .env("PATH", path)
        .env("MCP_PASSPORT_BIN", env!("CARGO_BIN_EXE_mcp-passport"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout
        .split("=== SUITE SUMMARY ===")
        .nth(1)
        .unwrap_or_default();
    println!("{summary}");
    assert!(
        output.status.success(),
        "conformance suite failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let total = summary
        .lines()
        .find(|l| l.starts_with("Total:"))
        .expect("a Total line");
    assert!(total.contains(" 0 failed, 0 warnings"), "{total}");
    assert_eq!(
        summary.lines().filter(|l| l.starts_with("✓ auth/")).count(),
        14,
        "all 14 auth scenarios ran and passed:\n{summary}"
    );
}
