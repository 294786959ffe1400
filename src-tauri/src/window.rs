//! The dashboard window, made the first time it is shown. An app started
//! hidden (at login) runs no web view, and so no WebKit processes, until the
//! person opens the dashboard; an app started with its window open makes it
//! after the broker listens, so local clients are served first. Once made,
//! the window stays: closing it hides it (the app lives on in the tray).
//!
//! Each page load is logged (`dashboard page loaded`, at `info`), which is
//! what `scripts/footprint.sh` times an opening by; the steps before it
//! (`dashboard`, with `step`) are logged at `debug`.

use tauri::webview::{PageLoadEvent, PageLoadPayload};
use tauri::{AppHandle, Manager as _, Runtime, WebviewWindow, WebviewWindowBuilder};

/// The dashboard window's label (its settings are `tauri.conf.json`'s
/// window of this label, which Tauri does not make at start).
pub const MAIN_WINDOW: &str = "main";

/// The dashboard window: the one that exists, or a new one.
pub fn dashboard<R: Runtime>(app: &AppHandle<R>) -> Option<WebviewWindow<R>> {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        return Some(window);
    }
    let Some(config) = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN_WINDOW)
        .cloned()
    else {
        tracing::warn!("the app's configuration has no dashboard window");
        return None;
    };
    let made = WebviewWindowBuilder::from_config(app, &config)
        .and_then(|builder| builder.on_page_load(log_load).build());
    match made {
        Ok(window) => {
            tracing::debug!(step = "window made", "dashboard");
            Some(window)
        }
        // Two callers at once: the other one made it.
        Err(e) => app.get_webview_window(MAIN_WINDOW).or_else(|| {
            tracing::warn!(error = %e, "could not open the dashboard");
            None
        }),
    }
}

fn log_load<R: Runtime>(_window: WebviewWindow<R>, payload: PageLoadPayload<'_>) {
    match payload.event() {
        PageLoadEvent::Started => tracing::debug!(step = "page load started", "dashboard"),
        PageLoadEvent::Finished => tracing::info!("dashboard page loaded"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tauri::test::{mock_builder, mock_context, noop_assets};

    #[test]
    fn the_configured_dashboard_is_not_made_at_start() {
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../tauri.conf.json")).unwrap_or_default();
        let windows = config["app"]["windows"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(windows.len(), 1, "{windows:?}");
        assert_eq!(windows[0]["label"], MAIN_WINDOW);
        assert_eq!(windows[0]["create"], false, "{windows:?}");
        assert_eq!(
            windows[0]["visible"], false,
            "shown by the app, not at creation"
        );
    }

    #[test]
    fn the_dashboard_is_made_when_first_asked_for_and_then_kept() {
        let mut context = mock_context(noop_assets());
        let mut window: tauri::utils::config::WindowConfig =
            serde_json::from_value(serde_json::json!({"label": MAIN_WINDOW, "create": false}))
                .unwrap_or_else(|e| panic!("{e}"));
        window.title = "MCP Passport".into();
        context.config_mut().app.windows = vec![window];
        let app = mock_builder()
            .build(context)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            app.get_webview_window(MAIN_WINDOW).is_none(),
            "no web view before the dashboard is shown"
        );
        let first = dashboard(app.handle()).map(|w| w.label().to_string());
        assert_eq!(first.as_deref(), Some(MAIN_WINDOW));
        assert_eq!(app.webview_windows().len(), 1);
        assert!(dashboard(app.handle()).is_some());
        assert_eq!(app.webview_windows().len(), 1, "the same window again");
    }
}
