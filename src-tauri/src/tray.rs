//! The tray icon: its look shows the state at a glance (all good, needs
//! attention, error), its menu has one line per account and the few things
//! a person needs without the dashboard. Menu handlers never panic.

use crate::view::{self, AccountView, TrayLook};
use std::sync::{Mutex, PoisonError};
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter as _, Manager as _, Runtime};

/// The tray icon's id.
const TRAY_ID: &str = "main";

/// What the tray shows now (its look and its account lines), so an update
/// that changes nothing sets nothing: each icon set is a new file for the
/// panel (the previous one is deleted) and each menu a new layout, and the
/// overview is redrawn on every change of the app's state.
struct Shown(Mutex<(TrayLook, Vec<String>)>);

fn icon(look: TrayLook) -> tauri::Result<Image<'static>> {
    Image::from_bytes(match look {
        TrayLook::Ok => include_bytes!("../../icons/tray-ok.png"),
        TrayLook::Attention => include_bytes!("../../icons/tray-attention.png"),
        TrayLook::Error => include_bytes!("../../icons/tray-error.png"),
    })
}

fn menu<R: Runtime>(app: &AppHandle<R>, accounts: &[AccountView]) -> tauri::Result<Menu<R>> {
    let menu = Menu::new(app)?;
    for (i, line) in view::tray_lines(accounts).iter().enumerate() {
        menu.append(&MenuItem::with_id(
            app,
            format!("status-{i}"),
            line,
            false,
            None::<&str>,
        )?)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(
        app,
        "open",
        "Open dashboard",
        true,
        None::<&str>,
    )?)?;
    let sign_in = if accounts.is_empty() {
        "Sign in…"
    } else {
        "Sign in / Add servers…"
    };
    menu.append(&MenuItem::with_id(
        app,
        "sign-in",
        sign_in,
        true,
        None::<&str>,
    )?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(
        app,
        "quit",
        "Quit MCP Passport",
        true,
        None::<&str>,
    )?)?;
    Ok(menu)
}

/// Creates the tray icon.
pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    // Linux panels title the icon with the application name (there is no
    // tooltip there); without this they show the binary's name.
    #[cfg(target_os = "linux")]
    if let Some(name) = &app.config().product_name
        && glib::application_name().as_deref() != Some(name.as_str())
    {
        glib::set_application_name(name);
    }
    app.manage(Shown(Mutex::new((TrayLook::Ok, view::tray_lines(&[])))));
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(TrayLook::Ok)?)
        .tooltip("MCP Passport")
        .menu(&menu(app, &[])?)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" => crate::shell::show_dashboard(app),
            "sign-in" => {
                crate::shell::show_dashboard(app);
                if let Err(e) = app.emit("passport://sign-in", ()) {
                    tracing::warn!(error = %e, "could not ask the dashboard to start a sign-in");
                }
            }
            "quit" => app.exit(0),
            _ => {}
        })
        .build(app)?;
    Ok(())
}

/// Shows the accounts' state in the icon, tooltip and menu.
pub fn update<R: Runtime>(app: &AppHandle<R>, accounts: &[AccountView]) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    let look = view::tray_look(accounts);
    if let Some(shown) = app.try_state::<Shown>() {
        let now = (look, view::tray_lines(accounts));
        let mut last = shown.0.lock().unwrap_or_else(PoisonError::into_inner);
        if *last == now {
            return;
        }
        *last = now;
    }
    // The icon before the menu: once a panel sees the new menu, the icon
    // it shows is already the new one.
    let result = icon(look)
        .and_then(|i| tray.set_icon(Some(i)))
        .and_then(|()| menu(app, accounts))
        .and_then(|m| tray.set_menu(Some(m)))
        .and_then(|()| {
            tray.set_tooltip(Some(format!(
                "MCP Passport: {}",
                view::tray_lines(accounts).join("; ")
            )))
        });
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not update the tray");
    }
}
