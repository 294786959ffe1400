//! The dashboard's commands. Each is one call on the [`Passport`]
//! controller; errors reach the page as `{code, message}` and no command
//! returns a token, a code or a key.

use crate::error::UiError;
use crate::passport::{Overview, Passport};
use std::sync::Arc;
use tauri::{AppHandle, Runtime, State};

type Ctl<'a> = State<'a, Arc<Passport>>;

/// Everything the dashboard shows.
#[tauri::command]
pub fn overview<R: Runtime>(app: AppHandle<R>, passport: Ctl<'_>) -> Overview {
    passport.overview(crate::autostart::enabled(&app))
}

/// Starts a sign-in to an issuer or MCP server URL(s).
#[tauri::command]
pub async fn sign_in(
    passport: Ctl<'_>,
    target: String,
    account: Option<String>,
) -> Result<(), UiError> {
    passport.sign_in_as(&target, account.as_deref())
}

/// Starts a sign-in with the organization's identity provider for MCP servers.
#[tauri::command]
pub async fn sign_in_organization(
    passport: Ctl<'_>,
    form: crate::passport::OrganizationSignIn,
) -> Result<(), UiError> {
    passport.sign_in_organization(&form)
}

/// Signs in again to `issuer` with the OAuth app the user registered there.
#[tauri::command]
pub async fn sign_in_with_client(
    passport: Ctl<'_>,
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
) -> Result<(), UiError> {
    passport.sign_in_with_client(&issuer, &client_id, client_secret.as_deref())
}

/// Allows the endpoint hosts `issuer` named, for that issuer, and signs in again.
#[tauri::command]
pub async fn allow_endpoint_hosts(passport: Ctl<'_>, issuer: String) -> Result<(), UiError> {
    passport.allow_endpoint_hosts(&issuer)
}

/// Drops what a failed sign-in to `issuer` asked; changes nothing else.
#[tauri::command]
pub async fn dismiss_prompt(passport: Ctl<'_>, issuer: String) -> Result<(), UiError> {
    passport.dismiss_prompt(&issuer)
}

/// Re-opens the server picker of `issuer` with the current servers checked.
#[tauri::command]
pub async fn add_servers(passport: Ctl<'_>, issuer: String) -> Result<(), UiError> {
    passport.add_servers(&issuer)
}

/// Starts the sign-in that grants `server` the access it asked for (step-up).
#[tauri::command]
pub async fn approve_step_up(passport: Ctl<'_>, server: String) -> Result<(), UiError> {
    passport.approve_step_up(&server)
}

/// Stops waiting for the browser.
#[tauri::command]
pub async fn cancel_sign_in(passport: Ctl<'_>) -> Result<(), UiError> {
    passport.cancel_sign_in()
}

/// Revokes one server.
#[tauri::command]
pub async fn revoke_server(passport: Ctl<'_>, server: String) -> Result<String, UiError> {
    passport.revoke_server(&server).await
}

/// Signs out of one authorization server, or of one account there.
#[tauri::command]
pub async fn sign_out(
    passport: Ctl<'_>,
    issuer: String,
    account: Option<String>,
) -> Result<String, UiError> {
    passport.sign_out(&issuer, account.as_deref()).await
}

/// Refreshes one account's tokens now.
#[tauri::command]
pub async fn refresh_now(passport: Ctl<'_>, issuer: String) -> Result<String, UiError> {
    passport.refresh_now(&issuer).await
}

/// What connecting an MCP client would change (nothing is written).
#[tauri::command]
pub async fn connect_preview(
    passport: Ctl<'_>,
    client: String,
) -> Result<passport_connect::Change, UiError> {
    passport.connect_preview(&client)
}

/// Connects an MCP client to MCP Passport.
#[tauri::command]
pub async fn connect_client(passport: Ctl<'_>, client: String) -> Result<String, UiError> {
    passport.connect_client(&client)
}

/// Disconnects an MCP client and revokes its key.
#[tauri::command]
pub async fn disconnect_client(passport: Ctl<'_>, client: String) -> Result<String, UiError> {
    passport.disconnect_client(&client)
}

/// What connecting every installed client would change (nothing is written).
#[tauri::command]
pub async fn connect_all_preview(
    passport: Ctl<'_>,
) -> Result<crate::passport::AllPreview, UiError> {
    Ok(passport.connect_all_preview())
}

/// Connects every installed client.
#[tauri::command]
pub async fn connect_all(passport: Ctl<'_>) -> Result<String, UiError> {
    passport.connect_all()
}

/// The remote MCP servers found in the MCP clients' settings (first run).
#[tauri::command]
pub async fn import_scan(passport: Ctl<'_>) -> Result<passport_connect::import::Found, UiError> {
    Ok(passport.import_scan())
}

/// Signs in to every server found, then points the clients' entries at the broker.
#[tauri::command]
pub async fn import_start(passport: Ctl<'_>) -> Result<(), UiError> {
    passport.import_start()
}

/// Turns start-at-login on or off; returns the new setting.
#[tauri::command]
pub fn set_autostart<R: Runtime>(app: AppHandle<R>, enabled: bool) -> Result<bool, UiError> {
    crate::autostart::set(&app, enabled)
}

/// The handler that routes the dashboard's calls to these commands.
pub fn handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        overview,
        sign_in,
        sign_in_organization,
        sign_in_with_client,
        allow_endpoint_hosts,
        dismiss_prompt,
        add_servers,
        approve_step_up,
        cancel_sign_in,
        revoke_server,
        sign_out,
        refresh_now,
        connect_preview,
        connect_client,
        disconnect_client,
        connect_all_preview,
        connect_all,
        import_scan,
        import_start,
        set_autostart
    ]
}
