//! The dashboard window, made the first time it is shown and dropped again
//! once it has stayed closed for a while. An app started hidden (at login)
//! runs no web view, and so no WebKit processes, until the person opens
//! the dashboard; an app started with its window open makes it after the
//! broker listens, so local clients are served first. Closing the window
//! hides it (the app lives on in the tray); if it is still hidden after
//! [`Retention`]'s time, the window is destroyed, and WebKit's web process
//! with it, and the next opening makes it again.
//!
//! Each page load is logged (`dashboard page loaded`, at `info`), which is
//! what `scripts/footprint.sh` times an opening by; the steps before it
//! (`dashboard`, with `step`) are logged at `debug`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tauri::webview::{PageLoadEvent, PageLoadPayload};
use tauri::{
    AppHandle, Manager as _, RunEvent, Runtime, WebviewWindow, WebviewWindowBuilder, Window,
};

/// The dashboard window's label (its settings are `tauri.conf.json`'s
/// window of this label, which Tauri does not make at start).
pub const MAIN_WINDOW: &str = "main";

/// How long a closed dashboard keeps its web view when nothing is set.
pub const DEFAULT_KEEP: Duration = Duration::from_secs(60);

/// The environment variable that sets another time, in seconds.
pub const KEEP_VARIABLE: &str = "MCP_PASSPORT_DASHBOARD_KEEP_SECONDS";

/// How long a hidden dashboard is kept before it is destroyed, and which
/// hiding is the latest: every show and every hide starts a new turn, and
/// only the timer of the turn still current destroys the window.
#[derive(Debug)]
pub struct Retention {
    keep: Duration,
    turn: AtomicU64,
}

impl Retention {
    /// Keeps a hidden dashboard for `keep`.
    pub fn new(keep: Duration) -> Self {
        Self {
            keep,
            turn: AtomicU64::new(0),
        }
    }

    /// From `MCP_PASSPORT_DASHBOARD_KEEP_SECONDS` ([`DEFAULT_KEEP`] when unset).
    pub fn from_env() -> Result<Self, String> {
        Self::from_setting(std::env::var(KEEP_VARIABLE).ok().as_deref())
    }

    fn from_setting(value: Option<&str>) -> Result<Self, String> {
        let keep = match value.map(str::trim).filter(|v| !v.is_empty()) {
            None => DEFAULT_KEEP,
            Some(v) => Duration::from_secs(v.parse().map_err(|_| {
                format!(
                    "{KEEP_VARIABLE}={v} is not a whole number of seconds: give one (e.g. 60) or unset it"
                )
            })?),
        };
        Ok(Self::new(keep))
    }

    /// A new turn (the window was shown or hidden); returns its number.
    fn next(&self) -> u64 {
        self.turn.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Whether `turn` is still the latest: nothing showed or hid the window since.
    fn is_current(&self, turn: u64) -> bool {
        self.turn.load(Ordering::SeqCst) == turn
    }
}

/// The dashboard window: the one that exists, or a new one. Either way it
/// is about to be shown, so a pending drop of a hidden window is called off.
pub fn dashboard<R: Runtime>(app: &AppHandle<R>) -> Option<WebviewWindow<R>> {
    if let Some(retention) = app.try_state::<Retention>() {
        retention.next();
    }
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

/// Hides the dashboard (its close button), and destroys it if it is still
/// hidden after the [`Retention`] the app holds.
pub fn hide<R: Runtime>(window: &Window<R>) {
    if let Err(e) = window.hide() {
        tracing::warn!(error = %e, "could not hide the dashboard");
        return;
    }
    let app = window.app_handle().clone();
    let Some((turn, keep)) = app
        .try_state::<Retention>()
        .map(|retention| (retention.next(), retention.keep))
    else {
        return;
    };
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(keep).await;
        let on_main = app.clone();
        if let Err(e) = app.run_on_main_thread(move || drop_if_still_hidden(&on_main, turn)) {
            tracing::warn!(error = %e, "could not drop the hidden dashboard");
        }
    });
}

/// Destroys the dashboard if nothing showed or hid it since turn `turn`.
fn drop_if_still_hidden<R: Runtime>(app: &AppHandle<R>, turn: u64) {
    let current = app
        .try_state::<Retention>()
        .is_some_and(|retention| retention.is_current(turn));
    if !current {
        return;
    }
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        match window.destroy() {
            Ok(()) => tracing::info!("hidden dashboard dropped"),
            Err(e) => tracing::warn!(error = %e, "could not drop the hidden dashboard"),
        }
    }
}

/// Keeps the app running when its last window goes (the dashboard dropped
/// while hidden): the app lives in the tray, and only an explicit exit
/// (Quit, which gives an exit code) ends it.
pub fn keep_running_without_windows(event: &RunEvent) {
    if let RunEvent::ExitRequested {
        code: None, api, ..
    } = event
    {
        api.prevent_exit();
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

    fn mock_app() -> tauri::App<tauri::test::MockRuntime> {
        let mut context = mock_context(noop_assets());
        let mut window: tauri::utils::config::WindowConfig =
            serde_json::from_value(serde_json::json!({"label": MAIN_WINDOW, "create": false}))
                .unwrap_or_else(|e| panic!("{e}"));
        window.title = "MCP Passport".into();
        context.config_mut().app.windows = vec![window];
        mock_builder()
            .build(context)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_dashboard_is_made_when_first_asked_for_and_then_kept() {
        let app = mock_app();
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

    #[test]
    fn the_time_a_hidden_dashboard_is_kept_is_read_in_whole_seconds() {
        let keep = |v: Option<&str>| Retention::from_setting(v).map(|r| r.keep);
        assert_eq!(keep(None), Ok(DEFAULT_KEEP));
        assert_eq!(keep(Some(" ")), Ok(DEFAULT_KEEP));
        assert_eq!(keep(Some("5")), Ok(Duration::from_secs(5)));
        let e = keep(Some("1.5m")).err().unwrap_or_default();
        assert!(
            e.contains(KEEP_VARIABLE) && e.contains("1.5m") && e.contains("unset"),
            "{e}"
        );
    }

    #[test]
    fn only_the_latest_hiding_drops_the_window_and_showing_calls_it_off() {
        let app = mock_app();
        app.manage(Retention::new(Duration::ZERO));
        let retention = app.state::<Retention>();
        let first_hide = retention.next();
        let second_hide = retention.next();
        assert!(!retention.is_current(first_hide), "hidden again since");
        assert!(retention.is_current(second_hide));
        // Shown again (the window is made or found): no drop is due.
        assert!(dashboard(app.handle()).is_some());
        assert!(!retention.is_current(second_hide), "shown since");
        drop_if_still_hidden(app.handle(), second_hide);
        assert_eq!(app.webview_windows().len(), 1, "a shown window is kept");
    }
}
