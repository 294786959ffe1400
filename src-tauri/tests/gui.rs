//! The desktop app end to end, through its real webview: `tauri-driver`
//! and WebKitWebDriver under Xvfb + D-Bus + gnome-keyring
//! (`scripts/desktop-session.sh`), against the demo stack. The browser is
//! played by this test over HTTP; the redirect comes back as a deep link,
//! launching the app binary with the callback URL as the OS does.
//!
//! Sessions run one after another (the app is a single instance). Each test
//! saves screenshots under `target/gui-screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod gui {
    pub mod accounts;
    pub mod clients;
    pub mod connect_all;
    pub mod dashboard_drop;
    pub mod first_run;
    pub mod harness;
    pub mod quirks;
    pub mod sign_in;
    pub mod status_notifier;
    pub mod step_up;
    pub mod tray;
    pub mod webdriver;
}

use std::time::Duration;

/// One app at a time.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub const WAIT: Duration = Duration::from_secs(30);
