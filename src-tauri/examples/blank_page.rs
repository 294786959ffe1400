//! WebKitGTK's cost with nothing in it, the baseline `scripts/footprint.sh`
//! sets the dashboard's figures beside: the same Tauri and WebKit, built
//! with the same profile, showing one window of the dashboard's size on a
//! one-line page served, like the dashboard, from a custom scheme
//! (`about:blank` starts no web process). Prints `blank page loaded` on
//! stderr when WebKit has loaded it; runs until it is killed.

use tauri::http::Response;
use tauri::webview::PageLoadEvent;
use tauri::{WebviewUrl, WebviewWindowBuilder};

const PAGE: &str = "<!doctype html><title>Blank page</title>";

fn main() {
    let built = tauri::Builder::default()
        .register_uri_scheme_protocol("blank", |_, _| {
            Response::builder()
                .header("Content-Type", "text/html")
                .body(PAGE.as_bytes().to_vec())
                .unwrap_or_default()
        })
        .setup(|app| {
            let blank = "blank://localhost/".parse().map_err(|e| format!("{e}"))?;
            WebviewWindowBuilder::new(app, "blank", WebviewUrl::CustomProtocol(blank))
                .title("Blank page")
                .inner_size(960.0, 680.0)
                .on_page_load(|_, payload| {
                    if payload.event() == PageLoadEvent::Finished {
                        eprintln!("blank page loaded");
                    }
                })
                .build()?;
            Ok(())
        })
        .build(tauri::generate_context!());
    match built {
        Ok(app) => app.run(|_, _| {}),
        Err(e) => {
            eprintln!("error: the blank page could not start: {e}");
            std::process::exit(1);
        }
    }
}
