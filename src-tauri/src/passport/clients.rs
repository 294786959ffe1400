//! Connecting MCP clients from the dashboard: the same edits as
//! `mcp-passport connect`, shown first (which file, which entries before and
//! after, keys hidden), written only when the user confirms.

use super::{Passport, lock};
use crate::error::UiError;
use passport_broker::keys::Keys;
use passport_connect::{Change, ClientKind, ConnectError, Request};
use serde::Serialize;
use std::path::PathBuf;

/// One supported MCP client as the dashboard lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientSetup {
    /// Its name (`cursor`...), used in commands.
    pub client: &'static str,
    /// Its name for people.
    pub display: &'static str,
    /// Whether its config has MCP Passport entries now.
    pub connected: bool,
    /// Where its config lives.
    pub config: Option<PathBuf>,
}

impl From<ConnectError> for UiError {
    fn from(e: ConnectError) -> Self {
        UiError::new(e.code, e.message)
    }
}

fn kind(name: &str) -> Result<ClientKind, UiError> {
    ClientKind::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = ClientKind::ALL.iter().map(|k| k.name()).collect();
        UiError::new(
            "unknown_client",
            format!(
                "{name} is not a client MCP Passport can set up (it knows {}).",
                known.join(", ")
            ),
        )
    })
}

/// The `mcp-passport` command beside this app, or on `PATH` (Claude
/// Desktop starts it as its stdio bridge).
pub(super) fn cli_path() -> Option<PathBuf> {
    let name = if cfg!(windows) {
        "mcp-passport.exe"
    } else {
        "mcp-passport"
    };
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(name)));
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    beside.into_iter().chain(on_path).find(|p| p.is_file())
}

impl Passport {
    /// The supported clients and whether each is connected.
    pub fn client_setups(&self) -> Vec<ClientSetup> {
        ClientKind::ALL
            .iter()
            .map(|&k| {
                let current = passport_connect::preview_disconnect(k, None).ok();
                ClientSetup {
                    client: k.name(),
                    display: k.display(),
                    connected: current
                        .as_ref()
                        .is_some_and(|(c, _, _)| !c.before.is_empty()),
                    config: current.map(|(c, _, _)| c.config),
                }
            })
            .collect()
    }

    fn granted_ids(&self) -> Vec<String> {
        passport_core::account::addresses(&self.engine.grants())
    }

    pub(super) fn keys(&self) -> Result<Keys, UiError> {
        Keys::open(self.settings.paths.keys_file()).map_err(|e| {
            UiError::new(
                "keys",
                format!("{e}. Check the permissions of MCP Passport's folder."),
            )
        })
    }

    fn with_request<T>(
        &self,
        client: &str,
        f: impl FnOnce(&Request) -> Result<T, ConnectError>,
    ) -> Result<T, UiError> {
        let kind = kind(client)?;
        let granted = self.granted_ids();
        let exe = match kind {
            ClientKind::ClaudeDesktop => cli_path()
                .ok_or_else(|| UiError::new(
                    "cli_missing",
                    "Claude Desktop runs the mcp-passport command as a bridge, and it is not installed next to this app or on your PATH. Install it, then connect again.",
                ))?
                .to_string_lossy()
                .into_owned(),
            _ => String::new(),
        };
        let port = lock(&self.broker_view)
            .port
            .unwrap_or(passport_connect::DEFAULT_PORT);
        let request = Request {
            kind,
            config: None,
            granted: &granted,
            wanted: &[],
            port,
            exe: &exe,
        };
        f(&request).map_err(UiError::from)
    }

    /// What connecting `client` would change; changes nothing.
    pub fn connect_preview(&self, client: &str) -> Result<Change, UiError> {
        self.with_request(client, passport_connect::preview_connect)
    }

    /// Connects `client`: a new key for it, one entry per granted server.
    pub fn connect_client(&self, client: &str) -> Result<String, UiError> {
        let keys = self.keys()?;
        let result = self
            .with_request(client, |r| passport_connect::connect(r, &keys))
            .map(|c| {
                format!(
                    "Connected {} to {} server(s). Restart {} to load them. (Its config: {}; the old one was backed up.)",
                    c.display,
                    c.servers.len(),
                    c.display,
                    c.config.display()
                )
            });
        self.report(result)
    }

    /// Disconnects `client`: removes its entries and revokes its key.
    pub fn disconnect_client(&self, client: &str) -> Result<String, UiError> {
        let result = kind(client).and_then(|k| {
            let keys = self.keys()?;
            passport_connect::disconnect(k, None, &keys)
                .map(|c| {
                    format!(
                        "Disconnected {}: removed {} server(s) and revoked its key.",
                        c.display,
                        c.servers.len()
                    )
                })
                .map_err(UiError::from)
        });
        self.report(result)
    }
}
