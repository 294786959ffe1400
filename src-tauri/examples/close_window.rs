//! Asks the X window titled by the first argument to close, as a window
//! manager's close button does (`WM_DELETE_WINDOW`): `scripts/footprint.sh`
//! closes the dashboard with it. Exits 1, saying why, when there is no
//! display or not exactly one mapped window of that title.

use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{
    AtomEnum, ClientMessageEvent, ConnectionExt as _, EventMask, MapState,
};

fn main() {
    let Some(title) = std::env::args().nth(1) else {
        eprintln!("usage: close_window TITLE");
        std::process::exit(2);
    };
    if let Err(e) = close(&title) {
        eprintln!("close_window: {e}");
        std::process::exit(1);
    }
}

fn close(title: &str) -> Result<(), Box<dyn std::error::Error>> {
    let (x, screen) = x11rb::connect(None)?;
    let root = x.setup().roots[screen].root;
    let atom = |name: &str| -> Result<u32, Box<dyn std::error::Error>> {
        Ok(x.intern_atom(false, name.as_bytes())?.reply()?.atom)
    };
    let (protocols, delete) = (atom("WM_PROTOCOLS")?, atom("WM_DELETE_WINDOW")?);
    let mut found = Vec::new();
    for w in x.query_tree(root)?.reply()?.children {
        let mapped = x.get_window_attributes(w)?.reply()?.map_state == MapState::VIEWABLE;
        let name = x
            .get_property(false, w, AtomEnum::WM_NAME, AtomEnum::ANY, 0, 256)?
            .reply()?
            .value;
        if mapped && name == title.as_bytes() {
            found.push(w);
        }
    }
    let [window] = found[..] else {
        return Err(format!(
            "expected one mapped window titled {title:?}, found {}",
            found.len()
        )
        .into());
    };
    let event = ClientMessageEvent::new(32, window, protocols, [delete, 0, 0, 0, 0]);
    x.send_event(false, window, EventMask::NO_EVENT, event)?;
    x.flush()?;
    // A round trip, so the event is sent before the connection closes.
    x.get_input_focus()?.reply()?;
    Ok(())
}
