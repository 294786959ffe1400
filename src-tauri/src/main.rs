//! The MCP Passport desktop app. Everything is built in the library.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]
fn main() -> std::process::ExitCode {
    passport_app::main()
}
