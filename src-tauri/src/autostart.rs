//! Start at login, off by default, switched from the dashboard. The app is
//! started with `--hidden` then, so it waits in the tray.

use crate::error::UiError;
use tauri::{AppHandle, Manager as _, Runtime};
use tauri_plugin_autostart::AutoLaunchManager;

/// Whether the app starts at login (false when the plugin is absent).
pub fn enabled<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.try_state::<AutoLaunchManager>()
        .is_some_and(|m| m.is_enabled().unwrap_or(false))
}

/// Turns start at login on or off; returns the setting now in force.
pub fn set<R: Runtime>(app: &AppHandle<R>, on: bool) -> Result<bool, UiError> {
    let manager = app.try_state::<AutoLaunchManager>().ok_or_else(|| {
        UiError::new(
            "autostart_unavailable",
            "Start at login is not available here.",
        )
    })?;
    let result = if on {
        manager.enable()
    } else {
        manager.disable()
    };
    result.map_err(|e| {
        UiError::new(
            "autostart_failed",
            format!("Could not change start at login ({e}). Check that your session's autostart folder is writable."),
        )
    })?;
    Ok(enabled(app))
}
