//! The dashboard's timer logic (`ui/countdown.js`) under Node's test
//! runner (`tests/ui/countdown.test.mjs`): the countdown texts, that the page
//! wakes only when a text changes (once a minute until a token's last five
//! minutes), and that nothing is scheduled with no countdown or a hidden page.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::Command;

#[test]
fn the_countdowns_wake_the_page_only_when_a_text_changes() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let node = manifest.join("../target/tools/node22/bin/node");
    assert!(
        node.exists(),
        "Node 22 is missing at {}: run scripts/setup.sh",
        node.display()
    );
    let out = Command::new(&node)
        .args(["--test", "tests/ui/countdown.test.mjs"])
        .current_dir(manifest)
        .output()
        .expect("node runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains("# pass 4") && report.contains("# fail 0"),
        "{report}"
    );
}
