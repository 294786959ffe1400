//! Generates the app's context (config, capabilities, icons) at build time,
//! with one `allow-<command>` permission per app command so the capability
//! file can grant the dashboard exactly the commands it uses.
fn main() {
    let commands = &[
        "overview",
        "sign_in",
        "sign_in_organization",
        "sign_in_with_client",
        "allow_endpoint_hosts",
        "dismiss_prompt",
        "add_servers",
        "approve_step_up",
        "cancel_sign_in",
        "revoke_server",
        "sign_out",
        "refresh_now",
        "connect_preview",
        "connect_client",
        "disconnect_client",
        "connect_all_preview",
        "connect_all",
        "import_scan",
        "import_start",
        "set_autostart",
    ];
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(commands));
    if let Err(e) = tauri_build::try_build(attributes) {
        eprintln!("tauri build step failed: {e:#}");
        std::process::exit(1);
    }
}
