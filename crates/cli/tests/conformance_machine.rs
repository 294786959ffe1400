//! The MCP conformance suite's machine scenarios (extension
//! `io.modelcontextprotocol/oauth-client-credentials` and workload identity,
//! SEP-1933), run one by one against `mcp-passport check` through
//! `tests/conformance/client`: client credentials with `client_secret_basic`,
//! with a `private_key_jwt` assertion, and the JWT bearer grant with the
//! workload's JWT. Each must pass with no failure and no warning. Needs
//! Node 22 and the suite's pre-release (`conformance-next`) from
//! `scripts/setup.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use support::suite::{self, Suite};

/// Runs one scenario; returns everything it printed.
fn run(scenario: &str) -> String {
    suite::run(Suite::PreRelease, &["--scenario", scenario], 300).all()
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
