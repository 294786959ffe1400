//! The MCP conformance suite's machine scenarios (extension
//! `io.modelcontextprotocol/oauth-client-credentials` and workload identity,
//! SEP-1933), run one by one against `mcp-passport check` through
//! `tests/conformance/client`: client credentials with `client_secret_basic`,
//! with a `private_key_jwt` assertion, and the JWT bearer grant with the
//! workload's JWT. Each must pass with no failure and no warning. Needs
//! Node 22 and the suite's pre-release (`conformance-next`) from
//! `scripts/setup.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Runs one scenario; returns everything it printed.
fn run(scenario: &str) -> String {
    let root = root();
    let node22 = root.join("target/tools/node22/bin");
    let suite = root.join("tests/conformance/node_modules/conformance-next/dist/index.js");
    assert!(
        node22.join("node").exists() && suite.exists(),
        "Node 22 or the conformance suite's pre-release is missing: run scripts/setup.sh"
    );
    let path = format!(
        "{}:{}",
        node22.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // Bounded: `timeout` ends the suite if the scenario ever hangs.
    let output = std::process::Command::new("timeout")
        .arg("300")
        .arg(node22.join("node"))
        .arg(&suite)
        .args(["client", "--command"])
        .arg(root.join("tests/conformance/client"))
        .args(["--scenario", scenario])
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env("MCP_PASSPORT_BIN", env!("CARGO_BIN_EXE_mcp-passport"))
        .output()
        .unwrap();
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The scenario's score line, `Passed: 9/9, 0 failed, 0 warnings`, as numbers.
fn score(all: &str) -> Option<(u32, u32, u32, u32)> {
    let line = all
        .lines()
        .find_map(|l| l.trim().strip_prefix("Passed: "))?;
    let mut parts = line.split(", ");
    let (passed, total) = parts.next()?.split_once('/')?;
    let number = |p: Option<&str>, word: &str| p?.strip_suffix(word)?.trim().parse().ok();
    Some((
        passed.parse().ok()?,
        total.parse().ok()?,
        number(parts.next(), " failed")?,
        number(parts.next(), " warnings")?,
    ))
}

fn assert_clean(scenario: &str, must_pass: &str) {
    let all = run(scenario);
    let (passed, total, failed, warnings) =
        score(&all).unwrap_or_else(|| panic!("{scenario} printed no score:\n{all}"));
    println!("{scenario}: {passed}/{total} passed, {failed} failed, {warnings} warnings");
    assert!(
        all.lines()
            .any(|l| l.contains(&format!("[{must_pass}")) && l.contains("SUCCESS")),
        "{scenario}: the check {must_pass} did not succeed:\n{all}"
    );
    assert!(
        passed == total && failed == 0 && warnings == 0,
        "{scenario} has failures or warnings:\n{all}"
    );
}

#[test]
fn client_credentials_with_a_client_secret_passes() {
    assert_clean(
        "auth/client-credentials-basic",
        "client-credentials-basic-auth",
    );
}

#[test]
fn client_credentials_with_a_private_key_jwt_passes() {
    assert_clean(
        "auth/client-credentials-jwt",
        "client-credentials-jwt-verified",
    );
}

#[test]
fn the_workload_identity_jwt_bearer_grant_passes() {
    assert_clean("auth/wif-jwt-bearer", "wif-assertion-verified");
}
