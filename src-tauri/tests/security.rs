//! SECURITY-CASES 37, the configuration half: what the webview may load and
//! call. (The other half, that no command returns a token, is in
//! `commands.rs`; that the page never holds a key, in `gui.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use serde_json::Value;

fn json(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn sec_37_the_csp_allows_scripts_from_the_app_only() {
    let conf = json("tauri.conf.json");
    let csp = &conf["app"]["security"]["csp"];
    let script = csp["script-src"].as_str().expect("script-src is set");
    assert_eq!(
        script, "'self'",
        "no unsafe-eval, unsafe-inline, data: or blob:"
    );
    for directive in ["default-src", "style-src", "img-src", "connect-src"] {
        let value = csp[directive]
            .as_str()
            .unwrap_or_else(|| panic!("{directive} is set"));
        for bad in [
            "unsafe-eval",
            "unsafe-inline",
            "data:",
            "blob:",
            "http://*",
            "https:",
            "*",
        ] {
            assert!(
                !value
                    .split_whitespace()
                    .any(|v| v.trim_matches('\'') == bad.trim_matches('\'')),
                "{directive} allows {bad}"
            );
        }
    }
    assert_eq!(csp["object-src"], "'none'");
    assert_eq!(csp["frame-ancestors"], "'none'");
    assert!(conf["app"]["security"]["dangerousDisableAssetCspModification"].is_null());
}

#[test]
fn sec_37_only_the_dashboard_gets_ipc_and_only_the_apps_own_commands() {
    let cap = json("capabilities/main.json");
    assert_eq!(cap["windows"], serde_json::json!(["main"]));
    assert!(cap.get("remote").is_none(), "no remote page gets IPC");
    assert!(cap.get("webviews").is_none());
    for permission in cap["permissions"].as_array().unwrap() {
        let p = permission
            .as_str()
            .expect("plain permission names, no scopes");
        let allowed = p.starts_with("allow-")
            || p == "core:event:allow-listen"
            || p == "core:event:allow-unlisten";
        assert!(
            allowed,
            "the window may not use {p} (no opener, shell, fs, http or window control)"
        );
    }
    let dir = format!("{}/capabilities", env!("CARGO_MANIFEST_DIR"));
    let files: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
    assert_eq!(files.len(), 1, "one capability file, the one checked here");
}
