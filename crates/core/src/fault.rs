//! Crash points for the crash tests: when a debug build runs with
//! `MCP_PASSPORT_FAULT=<name>`, the process kills itself with SIGKILL at the
//! point of that name, so tests can prove that a crash at any step of a
//! refresh or a sign-in loses nothing it should keep. Release builds compile
//! this to nothing.

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
