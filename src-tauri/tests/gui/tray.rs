//! The tray as a panel sees it: the app's StatusNotifierItem registered with
//! a watcher on the session bus, its icon and status through each state,
//! its menu's lines, and its menu clicked: Open dashboard brings back a
//! closed window, Quit ends the app and its broker.

use super::harness::Gui;
use super::status_notifier::{Item, MenuEntry, Tray};
use crate::{ONE_AT_A_TIME, WAIT};
use std::path::Path;
use std::time::Duration;
use tauri::image::Image;

/// The dashboard window's title, to find it on the X display.
const WINDOW_TITLE: &str = "MCP Passport";

#[tokio::test(flavor = "multi_thread")]
async fn the_tray_follows_the_account_opens_the_dashboard_and_quits_the_app_and_its_broker() {
    let _one = ONE_AT_A_TIME.lock().await;
    let tray = Tray::watch().await;
    let gui = Gui::start("tray", &["github-mcp"]).await;
    let item = tray.item(WAIT).await;
    assert_eq!(
        tray.registered().await,
        vec![format!("{}{}", item.bus, item.path)],
        "the watcher lists the app's item"
    );

    // Nothing set up yet: all good, and the menu offers the first sign-in.
    let lines = wait_menu(&tray, &item, "Not signed in yet").await;
    assert_eq!(
        labels(&lines),
        [
            "Not signed in yet",
            "---",
            "Open dashboard",
            "Sign in…",
            "---",
            "Quit MCP Passport"
        ]
    );
    assert!(!lines[0].enabled, "the status line is not a button");
    assert_look(&tray, &item, "tray-ok.png", "Not signed in yet").await;

    // Closing the window keeps the app in the tray; Open dashboard brings it
    // back, and so does Sign in. (Before any sign-in: a sign-in that
    // finishes shows the window by itself.)
    for line in ["Open dashboard", "Sign in…"] {
        wait_visibility(&gui, "visible").await;
        close_window(WINDOW_TITLE);
        wait_visibility(&gui, "hidden").await;
        assert_eq!(tray.registered().await.len(), 1, "still in the tray");
        tray.click(&item, line).await;
    }
    wait_visibility(&gui, "visible").await;
    gui.shot("1-opened-from-the-tray").await;

    // Signed in: one line for the account, all good.
    gui.sign_in(1).await;
    let host = url::Url::parse(&gui.issuer())
        .ok()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port()?)))
        .expect("the demo's issuer has a host and port");
    let good = format!("{host}: 1 server, all good");
    let lines = wait_menu(&tray, &item, &good).await;
    assert_eq!(
        labels(&lines),
        [
            good.as_str(),
            "---",
            "Open dashboard",
            "Sign in / Add servers…",
            "---",
            "Quit MCP Passport"
        ]
    );
    assert_look(&tray, &item, "tray-ok.png", &good).await;

    // The grant revoked at the AS: the tray asks for attention.
    let revoked = reference_as::approve::revoke_everything(&gui.issuer(), ("demo", "demo"))
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    press(&gui, "button.refresh").await;
    let needed = format!("{host}: 1 server, sign-in needed");
    wait_menu(&tray, &item, &needed).await;
    assert_look(&tray, &item, "tray-attention.png", &needed).await;
    gui.session
        .wait_for(
            "the dashboard's sign-in needed",
            "return document.querySelector('article.account')?.dataset.status === 'sign-in-needed' && !!document.querySelector('button.sign-in-again')",
            WAIT,
        )
        .await;
    gui.shot("2-sign-in-needed").await;

    // Signed in again: all good again.
    press(&gui, "button.sign-in-again").await;
    let lines = wait_menu(&tray, &item, &good).await;
    assert!(
        !labels(&lines).contains(&needed.as_str()),
        "the old line is gone: {lines:?}"
    );
    assert_look(&tray, &item, "tray-ok.png", &good).await;

    // Quit ends the app, its broker and its tray item.
    let pid = tray.pid(&item).await;
    let (port, _) = gui.endpoint();
    assert!(answers(port).await, "the broker answers before Quit");
    tray.click(&item, "Quit MCP Passport").await;
    // (item on the bus, process running, broker answering, items the watcher lists)
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = (
            tray.on_bus(&item.bus).await,
            running(pid),
            answers(port).await,
            tray.registered().await.len(),
        );
        if left == (false, false, false, 0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after Quit (on the bus, process running, broker answering, items listed): {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    gui.stop().await;
    tray.stop().await;
}

/// Clicks a dashboard button from inside the page: the page re-renders on
/// every change, so a WebDriver click (find, then click at its position)
/// can land on a replaced node or a shifted layout.
async fn press(gui: &Gui, css: &str) {
    let pressed = gui
        .session
        .eval(&format!(
            "const b = document.querySelector(\"{css}\"); if (!b || b.disabled) return false; b.click(); return true"
        ))
        .await;
    assert_eq!(
        pressed,
        serde_json::json!(true),
        "no enabled {css} to press"
    );
}

fn labels(lines: &[MenuEntry]) -> Vec<&str> {
    lines.iter().map(|l| l.label.as_str()).collect()
}

/// Waits until the menu's first line reads `first`; returns the menu.
async fn wait_menu(tray: &Tray, item: &Item, first: &str) -> Vec<MenuEntry> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let lines = tray.menu(item).await;
        if lines.first().is_some_and(|l| l.label == first) {
            return lines;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the tray menu never read {first:?}; it reads {:?}",
            labels(&lines)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The item is active, titled with the app's name and shows exactly the
/// pixels of `icons/<file>`; where it has a tooltip (libayatana-appindicator
/// exports none), that names the app and reads `line` once signed in.
async fn assert_look(tray: &Tray, item: &Item, file: &str, line: &str) {
    let state = tray.state(item).await;
    assert_eq!(state.status, "Active", "the item's status: {state:?}");
    assert_eq!(state.title, "MCP Passport", "the item's title: {state:?}");
    if let Some((title, text)) = &state.tooltip {
        let tooltip = format!("{title} {text}");
        assert!(
            tooltip.starts_with("MCP Passport")
                && (line == "Not signed in yet" || tooltip.contains(line)),
            "the tooltip: {state:?}"
        );
    }
    let name = Path::new(&state.icon_name);
    let shown = if name.is_absolute() {
        name.to_path_buf()
    } else {
        Path::new(&state.icon_theme_path).join(format!("{}.png", state.icon_name))
    };
    let shown = Image::from_path(&shown)
        .unwrap_or_else(|e| panic!("the tray icon {} is a PNG: {e}", shown.display()));
    let expected = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../icons")
        .join(file);
    let expected = Image::from_path(&expected).unwrap();
    assert!(
        (shown.width(), shown.height()) == (expected.width(), expected.height())
            && shown.rgba() == expected.rgba(),
        "the tray shows {file}: {state:?}"
    );
}

/// Asks the window titled `title` to close, as a window manager's close
/// button does (WM_DELETE_WINDOW).
pub fn close_window(title: &str) {
    use x11rb::connection::Connection as _;
    use x11rb::protocol::xproto::{AtomEnum, ClientMessageEvent, ConnectionExt as _, EventMask};
    let (x, screen) = x11rb::connect(None).expect("the X display");
    let root = x.setup().roots[screen].root;
    let atom = |name: &str| {
        x.intern_atom(false, name.as_bytes())
            .unwrap()
            .reply()
            .unwrap()
            .atom
    };
    let (protocols, delete) = (atom("WM_PROTOCOLS"), atom("WM_DELETE_WINDOW"));
    let windows: Vec<u32> = x
        .query_tree(root)
        .unwrap()
        .reply()
        .unwrap()
        .children
        .into_iter()
        .filter(|&w| {
            // Mapped only: since the dashboard is made after the tray sets the
            // application's name, an unmapped GTK window carries that name too.
            x.get_window_attributes(w)
                .ok()
                .and_then(|c| c.reply().ok())
                .is_some_and(|a| a.map_state == x11rb::protocol::xproto::MapState::VIEWABLE)
                && x.get_property(false, w, AtomEnum::WM_NAME, AtomEnum::ANY, 0, 256)
                    .ok()
                    .and_then(|c| c.reply().ok())
                    .is_some_and(|p| p.value == title.as_bytes())
        })
        .collect();
    let [window] = windows[..] else {
        panic!("one window titled {title:?} on the display, not {windows:?}");
    };
    let close = ClientMessageEvent::new(32, window, protocols, [delete, 0, 0, 0, 0]);
    x.send_event(false, window, EventMask::NO_EVENT, close)
        .unwrap();
    x.flush().unwrap();
    // A round trip, so the server has sent the event before the connection
    // closes (hanging up right after the flush sometimes lost it).
    x.get_input_focus().unwrap().reply().unwrap();
}

/// Waits until the page's `document.visibilityState` is `state`.
async fn wait_visibility(gui: &Gui, state: &str) {
    gui.session
        .wait_for(
            &format!("the dashboard {state}"),
            &format!("return document.visibilityState === '{state}'"),
            WAIT,
        )
        .await;
}

/// Whether the process `pid` is still running (not gone, not a zombie).
pub fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

/// Whether anything accepts connections on `127.0.0.1:port`.
async fn answers(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
}
