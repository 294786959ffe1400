//! The MCP conformance suite's pre-release (`@modelcontextprotocol/conformance`
//! 0.2.0-alpha.12, installed as `conformance-next`) scores `mcp-passport check`
//! against exactly what MCP 2026-07-28 requires of a client
//! (`--requirements 2026-07-28`), through `tests/conformance/client`.
//!
//! Asserted: every `auth/*` scenario of the requirement set passes with no
//! failure and no warning, and so do the transport scenarios (`_meta` and
//! `MCP-Protocol-Version` on every request, `Mcp-Method`/`Mcp-Name`/
//! `Mcp-Param-*` headers, a list with malformed tools, request state). The
//! extension scenarios (enterprise-managed authorization, DPoP, client
//! credentials, workload identity) and those added after the revision's
//! release are printed, not asserted. Needs Node 22 and the suite from
//! `scripts/setup.sh`. Each check runs `--ephemeral` (nothing kept).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use support::suite::{self, Suite};

/// The `auth/*` scenarios 2026-07-28 requires (`conformance list --requirements 2026-07-28`).
const AUTH: [&str; 25] = [
    "auth/metadata-default",
    "auth/metadata-var1",
    "auth/metadata-var2",
    "auth/metadata-var3",
    "auth/basic-cimd",
    "auth/scope-from-www-authenticate",
    "auth/scope-from-scopes-supported",
    "auth/scope-omitted-when-undefined",
    "auth/scope-step-up",
    "auth/scope-retry-limit",
    "auth/token-endpoint-auth-basic",
    "auth/token-endpoint-auth-post",
    "auth/token-endpoint-auth-none",
    "auth/pre-registration",
    "auth/resource-mismatch",
    "auth/offline-access-scope",
    "auth/offline-access-not-supported",
    "auth/authorization-server-migration",
    "auth/iss-supported",
    "auth/iss-not-advertised",
    "auth/iss-supported-missing",
    "auth/iss-wrong-issuer",
    "auth/iss-unexpected",
    "auth/iss-normalized",
    "auth/metadata-issuer-mismatch",
];

/// The transport scenarios where `check` is the client, all passing.
const TRANSPORT: [&str; 7] = [
    "tools_call",
    "request-metadata",
    "sep-2322-client-request-state",
    "http-standard-headers",
    "http-custom-headers",
    "http-invalid-tool-headers",
    "json-schema-ref-no-deref",
];

struct Score {
    name: String,
    passed: bool,
    failed: u32,
    warnings: u32,
}

fn scores(summary: &str) -> Vec<Score> {
    let number = |part: &str, word: &str| -> u32 {
        part.split(", ")
            .find_map(|p| p.strip_suffix(word))
            .map_or(0, |n| n.trim().parse().unwrap())
    };
    summary
        .lines()
        .filter_map(|line| {
            let (passed, rest) = if let Some(rest) = line.strip_prefix("✓ ") {
                (true, rest)
            } else {
                (false, line.strip_prefix("✗ ")?)
            };
            let (name, counts) = rest.split_once(": ")?;
            Some(Score {
                name: name.to_string(),
                passed,
                failed: number(counts, " failed"),
                warnings: number(counts, " warnings"),
            })
        })
        .collect()
}

/// The enterprise-managed authorization extension (SEP-990): the ID token
/// in a file, exchanged at the IdP for an ID-JAG, then the JWT bearer grant
/// at the AS with `client_secret_basic`. Both exchanges must pass.
#[test]
fn enterprise_managed_authorization_passes_with_no_failure_and_no_warning() {
    let all = suite::run(
        Suite::PreRelease,
        &["--scenario", "auth/enterprise-managed-authorization"],
        300,
    )
    .all();
    println!("{all}");
    for check in ["complete-flow-token-exchange", "complete-flow-jwt-bearer"] {
        assert!(
            all.lines()
                .any(|l| l.contains(&format!("[{check}")) && l.contains("SUCCESS")),
            "the check {check} did not succeed:\n{all}"
        );
    }
    let score = all
        .lines()
        .find_map(|l| l.trim().strip_prefix("Passed: "))
        .unwrap_or_else(|| panic!("no score:\n{all}"));
    assert!(
        score.contains(" 0 failed, 0 warnings"),
        "failures or warnings: {score}\n{all}"
    );
    let (passed, total) = score.split(',').next().unwrap().split_once('/').unwrap();
    assert_eq!(passed, total, "{score}\n{all}");
}

#[test]
fn mcp_2026_07_28_requirements_auth_and_transport_pass_with_no_failure_and_no_warning() {
    let run = suite::run(Suite::PreRelease, &["--requirements", "2026-07-28"], 900);
    let stdout = &run.stdout;
    let summary = run.summary();
    println!("{summary}");
    let scores = scores(summary);
    assert!(
        !scores.is_empty(),
        "the suite printed no summary:\n{stdout}\n{}",
        run.stderr
    );
    for name in AUTH.iter().chain(TRANSPORT.iter()) {
        let score = scores
            .iter()
            .find(|s| s.name == *name)
            .unwrap_or_else(|| panic!("{name} did not run:\n{summary}"));
        assert!(
            score.passed && score.failed == 0 && score.warnings == 0,
            "{name} has failures or warnings:\n{summary}\n{stdout}"
        );
    }
    // Any other scored auth scenario (one the suite adds) must pass too;
    // the unscored ones (extensions, added after the release) are listed
    // below the summary, indented.
    let unscored = |name: &str| {
        summary
            .lines()
            .any(|l| l.starts_with("  ") && l.contains(&format!(" {name} (")))
    };
    for score in scores.iter().filter(|s| s.name.starts_with("auth/")) {
        assert!(
            unscored(&score.name) || (score.passed && score.failed == 0 && score.warnings == 0),
            "{} has failures or warnings:\n{summary}",
            score.name
        );
    }
}
