//! WebKit settings for the dashboard's web view, chosen by measurement
//! (`scripts/footprint.sh`): the dashboard is one local page that never
//! navigates, so WebKit's browser caches (memory cache sized for browsing,
//! back/forward page cache) only hold memory.

use tauri::{Runtime, WebviewWindow};

/// Applies the settings to a newly made dashboard window.
pub fn apply<R: Runtime>(window: &WebviewWindow<R>) {
    #[cfg(target_os = "linux")]
    {
        let tuned = window.with_webview(|webview| {
            use webkit2gtk::{CacheModel, WebContextExt as _, WebViewExt as _};
            if let Some(context) = webview.inner().context() {
                // Smallest caches, no page cache, no cached web processes.
                context.set_cache_model(CacheModel::DocumentViewer);
            }
        });
        if let Err(e) = tuned {
            tracing::warn!(error = %e, "could not apply the dashboard's WebKit settings");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}
