//! Where the controller's events meet the desktop: the dashboard is told to
//! reload, the tray is redrawn, notifications are shown, and the window is
//! brought forward after a sign-in.

use crate::passport::{Event, Passport};
use std::sync::Arc;
use tauri::{AppHandle, Emitter as _, Manager as _, Runtime};
use tauri_plugin_notification::NotificationExt as _;

/// The dashboard window's label.
pub use crate::window::MAIN_WINDOW;

/// Shows, restores and focuses the dashboard (making it the first time).
pub fn show_dashboard<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = crate::window::dashboard(app) {
        let shown = window
            .show()
            .and_then(|()| window.unminimize())
            .and_then(|()| window.set_focus());
        if let Err(e) = shown {
            tracing::warn!(error = %e, "could not bring the dashboard forward");
        }
    }
}

/// Handles one controller event.
pub fn on_event<R: Runtime>(app: &AppHandle<R>, event: Event) {
    match event {
        Event::Changed => {
            if let Err(e) = app.emit("passport://changed", ()) {
                tracing::warn!(error = %e, "could not tell the dashboard");
            }
            if let Some(passport) = app.try_state::<Arc<Passport>>() {
                crate::tray::update(app, &passport.accounts());
            }
        }
        Event::SignedIn => show_dashboard(app),
        Event::Notify { title, body } => {
            tracing::info!(%title, "notification");
            if let Err(e) = app
                .notification()
                .builder()
                .title(&title)
                .body(&body)
                .show()
            {
                tracing::warn!(error = %e, "could not show a notification");
            }
        }
    }
}
