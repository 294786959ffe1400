//! The MCP Passport desktop app: a tray icon and a dashboard over the
//! engine in `passport-core`, hosting the broker that local MCP clients use.
//!
//! This crate is a thin shell. [`passport::Passport`] holds everything the
//! app does and knows nothing of Tauri; the modules here connect it to the
//! desktop, one concern each: [`commands`] (the dashboard's calls),
//! [`tray`], [`deep_link`], [`shell`] (events, windows, notifications),
//! [`window`] (the dashboard, made when first shown, dropped when long
//! hidden) and [`autostart`].
//! [`single_instance`] and [`start`] order the start: one app per session,
//! and the broker listening before the window system is up.

pub mod autostart;
pub mod commands;
pub mod deep_link;
pub mod error;
pub mod passport;
pub mod settings;
pub mod shell;
pub mod single_instance;
pub mod start;
pub mod tray;
pub mod view;
pub mod window;

use passport::Passport;
use settings::Settings;
use single_instance::{Claim, Instance};
use start::Early;
use std::process::ExitCode;
use std::sync::Arc;
use tauri::{AppHandle, Builder, Manager as _, RunEvent, Runtime, WindowEvent};

/// Starts the app: claims the session (a second launch hands its arguments
/// over and exits), opens the controller and starts the broker, then brings
/// up the window system beside it ([`start`]).
pub fn main() -> ExitCode {
    start::begin();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MCP_PASSPORT_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    start::mark("logging");
    let args: Vec<String> = std::env::args().collect();
    let settings = match Settings::from_env(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let instance = match single_instance::claim(&args) {
        Claim::First(instance) => instance,
        Claim::HandedOver => return ExitCode::SUCCESS,
    };
    start::mark("session claimed");
    let early = match Early::open(settings) {
        Ok(early) => early,
        Err(e) => {
            eprintln!("error: MCP Passport could not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let builder = Builder::default();
    // On Linux the session is claimed above (`single_instance`).
    #[cfg(not(target_os = "linux"))]
    let builder = builder.plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
        later_launch(app, &argv)
    }));
    let builder = builder
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec!["--hidden"]),
        ));
    match run(builder, early, instance, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: MCP Passport could not start: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A later launch of the app: its callback URL goes to the pending sign-in;
/// a launch without one (the desktop's launcher) shows the dashboard.
fn later_launch<R: Runtime>(app: &AppHandle<R>, argv: &[String]) {
    tracing::debug!(step = "later launch arrived", "dashboard");
    if let Some(passport) = app.try_state::<Arc<Passport>>() {
        passport.deliver_from_args(argv);
    }
    if !argv
        .iter()
        .any(|a| a.starts_with(&format!("{}:", settings::SCHEME)))
    {
        shell::show_dashboard(app);
    }
}

/// Builds and runs the app on any runtime (tests use the mock runtime)
/// around a controller already opened and starting ([`Early`]).
pub fn run<R: Runtime>(
    builder: Builder<R>,
    early: Early,
    instance: Instance,
    args: Vec<String>,
) -> Result<(), String> {
    let early = Arc::new(early);
    let app = builder
        .invoke_handler(commands::handler())
        .setup(move |app| {
            setup(app, early, instance, &args)?;
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                // Closing the window keeps the app in the tray.
                api.prevent_close();
                window::hide(window);
            }
        })
        .build(tauri::generate_context!())
        .map_err(|e| e.to_string())?;
    app.run(|handle, event| {
        window::keep_running_without_windows(&event);
        if let RunEvent::Exit = event
            && let Some(passport) = handle.try_state::<Arc<Passport>>()
        {
            if let Some(early) = handle.try_state::<Arc<Early>>() {
                early.wait_started();
            }
            tauri::async_runtime::block_on(passport.shutdown());
        }
    });
    Ok(())
}

fn setup<R: Runtime>(
    app: &mut tauri::App<R>,
    early: Arc<Early>,
    instance: Instance,
    args: &[String],
) -> Result<(), String> {
    start::mark("window system up");
    app.manage(window::Retention::from_env()?);
    let passport = Arc::clone(&early.passport);
    app.manage(Arc::clone(&passport));
    tray::create(app.handle()).map_err(|e| format!("cannot create the tray icon: {e}"))?;
    start::mark("tray created");
    deep_link::install(app, &passport, args);
    let handle = app.handle().clone();
    early
        .events
        .attach(move |event| shell::on_event(&handle, event));
    let handle = app.handle().clone();
    instance
        .launches
        .attach(move |argv| later_launch(&handle, &argv));
    app.manage(instance);
    app.manage(Arc::clone(&early));
    start::mark("shell attached");
    if !passport.settings().hidden {
        // The broker first: local clients are served before the web view starts.
        early.wait_started();
        shell::show_dashboard(app.handle());
    }
    Ok(())
}
