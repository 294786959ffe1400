//! The official MCP conformance suite (`@modelcontextprotocol/conformance`
//! 0.1.16, `--suite auth`, all scenarios) drives `mcp-passport check`
//! through `tests/conformance/client`. Any failure or warning fails the test.
//! Needs Node 22 and the suite from `scripts/setup.sh`; run under
//! `scripts/desktop-session.sh`. Each check runs `--ephemeral` (nothing kept).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use support::suite::{self, Suite};

#[test]
fn mcp_conformance_auth_suite_passes_with_no_failure_and_no_warning() {
    let run = suite::run(Suite::Release, &["--suite", "auth"], 600);
    let stdout = &run.stdout;
    let summary = run.summary();
    println!("{summary}");
    assert!(
        run.success,
        "conformance suite failed:\n{stdout}\n{}",
        run.stderr
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
