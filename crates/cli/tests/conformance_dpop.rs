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

mod support;

use support::suite::{self, Suite};

fn run_scenario(scenario: &str, expected: &[&str]) {
    let run = suite::run(Suite::PreRelease, &["--scenario", scenario], 300);
    let text = run.all();
    println!("{scenario}:\n{text}");
    assert!(run.success, "{scenario} failed:\n{text}");
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
