//! WebKitGTK's cost with nothing in it, the baseline `scripts/footprint.sh`
//! sets the dashboard's figures beside: the same Tauri and WebKit, built
//! with the same profile, showing one window of the dashboard's size on
//! `about:blank`. Prints `blank page loaded` on stderr when WebKit has
//! loaded it; runs until it is killed.

use tauri::webview::PageLoadEvent;
use tauri::{WebviewUrl, WebviewWindowBuilder};

fn main() {
    let built = tauri::Builder::default()
        .setup(|app| {
            let blank = "about:blank".parse().map_err(|e| format!("{e}"))?;
            WebviewWindowBuilder::new(app, "blank", WebviewUrl::External(blank))
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
