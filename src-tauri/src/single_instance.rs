//! One app per user session on Linux, decided before anything else starts.
//!
//! The first launch owns the session-bus name `<identifier>.SingleInstance`
//! and serves `org.SingleInstance.DBus.ExecuteCallback(argv, cwd)` on it; a
//! later launch (the desktop's launcher, or the OS handing over a sign-in
//! deep link) finds the name taken, sends its arguments there and exits.
//! This is the protocol of `tauri-plugin-single-instance`, so an app of
//! either kind hands over to the other, but it is claimed here, at the top of
//! `main`, instead of in a plugin after the window system is up: only the
//! one app that owns the name goes on to open the controller and start the
//! broker, and a second launch exits without loading GTK or WebKit.
//!
//! Arguments that arrive before the shell exists wait and are handed over, in
//! order, when it attaches.

use crate::start::Relay;

/// The app's identifier (`tauri.conf.json`), the bus name's stem.
pub const IDENTIFIER: &str = crate::settings::SCHEME;

/// The bus name the first launch owns.
pub fn bus_name() -> String {
    format!("{IDENTIFIER}.SingleInstance")
}

/// The object path the handover is served at.
pub fn object_path() -> String {
    format!("/{}", bus_name().replace('.', "/").replace('-', "_"))
}

/// Later launches' arguments, held until the shell takes them.
pub type Launches = Relay<Vec<String>>;

/// How the claim went.
pub enum Claim {
    /// This is the app: keep the connection (it holds the name) for the app's life.
    First(Instance),
    /// Another app runs and has this launch's arguments: exit.
    HandedOver,
}

/// The running app's hold on the name, and its later launches.
pub struct Instance {
    /// Later launches' arguments.
    pub launches: Launches,
    /// `None` where there is no session bus: the app runs, unguarded.
    #[cfg(target_os = "linux")]
    _connection: Option<zbus::blocking::Connection>,
}

#[cfg(target_os = "linux")]
struct Handover(Launches);

#[cfg(target_os = "linux")]
#[zbus::interface(name = "org.SingleInstance.DBus")]
impl Handover {
    fn execute_callback(&mut self, argv: Vec<String>, _cwd: String) {
        self.0.send(argv);
    }
}

/// Claims the name, or hands this launch's arguments to the app that owns it.
#[cfg(target_os = "linux")]
pub fn claim(args: &[String]) -> Claim {
    let launches = Launches::default();
    let (name, path) = (bus_name(), object_path());
    let built = zbus::blocking::connection::Builder::session()
        .and_then(|b| b.name(name.as_str()))
        .map(|b| {
            b.replace_existing_names(false)
                .allow_name_replacements(false)
        })
        .and_then(|b| b.serve_at(path.as_str(), Handover(launches.clone())))
        .and_then(|b| b.build());
    match built {
        Ok(connection) => Claim::First(Instance {
            launches,
            _connection: Some(connection),
        }),
        Err(zbus::Error::NameTaken) => {
            let cwd = std::env::current_dir().unwrap_or_default();
            let sent = zbus::blocking::Connection::session().and_then(|c| {
                c.call_method(
                    Some(name.as_str()),
                    path.as_str(),
                    Some("org.SingleInstance.DBus"),
                    "ExecuteCallback",
                    &(args.to_vec(), cwd.to_string_lossy().into_owned()),
                )
            });
            if let Err(e) = sent {
                tracing::warn!(error = %e, "could not hand this launch to the running MCP Passport");
            }
            Claim::HandedOver
        }
        Err(e) => {
            tracing::warn!(error = %e, "no session bus: a second launch cannot be handed to this app");
            Claim::First(Instance {
                launches,
                _connection: None,
            })
        }
    }
}

/// Elsewhere `tauri-plugin-single-instance` guards the app (see `lib.rs`).
#[cfg(not(target_os = "linux"))]
pub fn claim(_args: &[String]) -> Claim {
    Claim::First(Instance {
        launches: Launches::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_is_the_plugins_for_the_apps_identifier() {
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../tauri.conf.json")).unwrap_or_default();
        assert_eq!(config["identifier"], IDENTIFIER);
        assert_eq!(bus_name(), "io.github.mcppassport.SingleInstance");
        assert_eq!(object_path(), "/io/github/mcppassport/SingleInstance");
    }
}
