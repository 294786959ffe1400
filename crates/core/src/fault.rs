//! Crash points for the crash tests: when a debug build runs with
//! `MCP_PASSPORT_FAULT=<name>`, the process kills itself with SIGKILL at the
//! point of that name, so tests can prove that a crash at any step of a
//! refresh or a sign-in loses nothing it should keep. Release builds compile
//! this to nothing.
//!
//! The points, in the order a flow passes them:
//! - a refresh: `refresh-before-request`, `refresh-after-response`,
//!   `refresh-after-keyring-write`, `refresh-after-state-write` (the grant
//!   saved, the access token not yet handed out);
//! - a narrowing revoke (the refresh that takes one server out of a grant):
//!   `narrow-before-request`, `narrow-after-response`,
//!   `narrow-after-keyring-write`, `narrow-before-revocation` (before the
//!   RFC 7009 revocation of the removed server's tokens),
//!   `narrow-before-state-write` (revoked at the AS, not yet forgotten here);
//! - a sign-in: `login-after-code-exchange`;
//! - every state file write: `state-file-before-rename`.

/// Dies here if the fault switch names this point (debug builds only).
pub fn point(name: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("MCP_PASSPORT_FAULT").is_ok_and(|v| v == name) {
        #[cfg(unix)]
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &std::process::id().to_string()])
            .status();
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}

/// Dies here if the fault switch names `{flow}-{step}` (debug builds only):
/// for steps shared by flows, such as the refresh request that both a token
/// refresh (`refresh`) and a narrowing revoke (`narrow`) make.
pub fn step(flow: &str, step: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("MCP_PASSPORT_FAULT").is_ok_and(|v| {
        v.strip_prefix(flow)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|rest| rest == step)
    }) {
        point(&format!("{flow}-{step}"));
    }
    #[cfg(not(debug_assertions))]
    let _ = (flow, step);
}
