//! The MCP conformance suite's DPoP scenarios (pre-release
//! `@modelcontextprotocol/conformance` 0.2.0-alpha.12, installed as
//! `conformance-next`): `auth/dpop` (a DPoP-bound token requested with a
//! proof and presented with the `DPoP` scheme and a fresh proof on every
//! request) and `auth/dpop-nonce` (the same with `use_dpop_nonce` from the
//! authorization server and from the MCP server). They drive
//! `mcp-passport check` through `tests/conformance/client`; any failure or
//! warning fails the test. Needs Node 22 and the suite; run under
//! `scripts/desktop-session.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn run_scenario(scenario: &str, expected: &[&str]) {
    let root = root();
    let node22 = root.join("target/tools/node22/bin");
    let suite = root.join("tests/conformance/node_modules/conformance-next/dist/index.js");
    assert!(
        node22.join("node").exists() && suite.exists(),
        "Node 22 or the pre-release conformance suite (conformance-next) is missing: run scripts/setup.sh"
    );
    let results = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        node22.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // Bounded: `timeout` ends the suite if a scenario ever hangs.
    let output = std::process::Command::new("timeout")
        .arg("300")
        .arg(node22.join("node"))
        .arg(&suite)
        .args(["client", "--command"])
        .arg(root.join("tests/conformance/client"))
        .args(["--scenario", scenario, "-o"])
        .arg(results.path())
        .env("PATH", path)
        .env("MCP_PASSPORT_BIN", env!("CARGO_BIN_EXE_mcp-passport"))
        .output()
        .unwrap();
    // A single scenario reports on stderr; read both.
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{scenario}:\n{text}");
    assert!(output.status.success(), "{scenario} failed:\n{text}");
    let passed = text
        .lines()
        .find(|l| l.starts_with("Passed:"))
        .unwrap_or_else(|| panic!("{scenario}: no Passed line in\n{text}"));
    assert!(
        passed.ends_with(", 0 failed, 0 warnings"),
        "{scenario}: {passed}"
    );
    assert!(text.contains("OVERALL: PASSED"), "{scenario}:\n{text}");
    for check in expected {
        assert!(
            text.lines()
                .any(|l| l.contains(&format!("[{check}")) && l.contains("SUCCESS")),
            "{scenario}: {check} did not succeed:\n{text}"
        );
    }
}

#[test]
fn conformance_auth_dpop_passes() {
    run_scenario(
        "auth/dpop",
        &[
            "sep-1932-client-token-request-proof",
            "sep-1932-client-dpop-auth-scheme",
            "sep-1932-client-fresh-proof",
        ],
    );
}

#[test]
fn conformance_auth_dpop_nonce_passes() {
    run_scenario(
        "auth/dpop-nonce",
        &[
            "sep-1932-client-token-request-proof",
            "sep-1932-client-dpop-auth-scheme",
            "sep-1932-client-fresh-proof",
            "sep-1932-client-as-nonce",
            "sep-1932-client-rs-nonce",
        ],
    );
}
