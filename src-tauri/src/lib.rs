//! The MCP Passport desktop app: a tray icon and a dashboard over the
//! engine in `passport-core`, hosting the broker that local MCP clients use.
//!
//! This crate is a thin shell. [`passport::Passport`] holds everything the
//! app does and knows nothing of Tauri; the modules here connect it to the
//! desktop, one concern each: [`commands`] (the dashboard's calls),
//! [`tray`], [`deep_link`], [`shell`] (events, windows, notifications),
//! [`window`] (the dashboard, made when first shown, dropped when long
//! hidden) and [`autostart`].

pub mod autostart;
pub mod commands;
pub mod deep_link;
pub mod error;
pub mod passport;
pub mod settings;
pub mod shell;
pub mod tray;
pub mod view;
pub mod window;

use passport::{Events, Passport};
use settings::Settings;
use std::process::ExitCode;
use std::sync::Arc;
use tauri::{Builder, Manager as _, RunEvent, Runtime, WindowEvent};

/// Starts the app.
pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MCP_PASSPORT_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let settings = match Settings::from_env(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let builder = Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            if let Some(passport) = app.try_state::<Arc<Passport>>() {
                passport.deliver_from_args(&argv);
            }
            if !argv
                .iter()
                .any(|a| a.starts_with(&format!("{}:", settings::SCHEME)))
            {
                shell::show_dashboard(app);
            }
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec!["--hidden"]),
        ));
    match run(builder, settings, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: MCP Passport could not start: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Builds and runs the app on any runtime (tests use the mock runtime).
pub fn run<R: Runtime>(
    builder: Builder<R>,
    settings: Settings,
    args: Vec<String>,
) -> Result<(), String> {
    let app = builder
        .invoke_handler(commands::handler())
        .setup(move |app| {
            setup(app, settings, &args)?;
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
            tauri::async_runtime::block_on(passport.shutdown());
        }
    });
    Ok(())
}

fn setup<R: Runtime>(
    app: &mut tauri::App<R>,
    settings: Settings,
    args: &[String],
) -> Result<(), String> {
    let handle = app.handle().clone();
    let events: Events = Arc::new(move |event| shell::on_event(&handle, event));
    let hidden = settings.hidden;
    app.manage(window::Retention::from_env()?);
    let store = Arc::new(passport_keyring::KeyringStore::new(
        &settings.keyring_service,
    ));
    let passport = Passport::open(
        settings,
        store,
        Arc::new(passport_core::browser::SystemBrowser),
        events,
    )
    .map_err(|e| e.message)?;
    app.manage(Arc::clone(&passport));
    tray::create(app.handle()).map_err(|e| format!("cannot create the tray icon: {e}"))?;
    deep_link::install(app, &passport, args);
    tauri::async_runtime::block_on(passport.start());
    if !hidden {
        shell::show_dashboard(app.handle());
    }
    Ok(())
}
