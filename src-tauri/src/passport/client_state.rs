//! Which MCP clients are installed and in what state each is (not
//! installed, not connected, connected with N servers, entries edited by
//! hand since), connecting every detected client after one preview, and
//! keeping connected clients' entries on the granted servers after a
//! sign-in, a revocation or a sign-out (`passport_connect::follow`).

use super::{Event, Passport};
use crate::error::UiError;
use passport_connect::detect::{Places, installed};
use passport_connect::follow::{ClientState, Follow, Outcome, connect_recorded, describe};
use passport_connect::record::Records;
use passport_connect::{Change, ClientKind, Request};
use serde::Serialize;

/// One detected client's preview in the "Connect all detected" confirmation.
#[derive(Debug, Clone, Serialize)]
pub struct AllPreview {
    /// The clients that can be connected, each with its file and entries.
    pub ready: Vec<Change>,
    /// The clients found that cannot be connected, and why: (name, reason).
    pub refused: Vec<(&'static str, String)>,
}

impl Passport {
    /// The record of what was written into which client's file.
    pub(super) fn records(&self) -> Records {
        Records::in_home(&self.settings.paths.home)
    }

    /// Whether `kind` is installed, and its state.
    pub(super) fn client_state(&self, kind: ClientKind, places: &Places) -> (bool, ClientState) {
        let config = passport_connect::config_path(kind, None).ok();
        let detected = installed(kind, config.as_deref(), places).is_some();
        let state = match &config {
            Some(path) => passport_connect::follow::state(kind, path, detected, &self.records()),
            None => ClientState::NotInstalled,
        };
        (detected, state)
    }

    fn request_for<T>(
        &self,
        kind: ClientKind,
        f: impl FnOnce(&Request) -> Result<T, passport_connect::ConnectError>,
    ) -> Result<T, UiError> {
        self.with_request(kind.name(), f)
    }

    /// What connecting every detected client would change; writes nothing.
    pub fn connect_all_preview(&self) -> AllPreview {
        let mut preview = AllPreview {
            ready: Vec::new(),
            refused: Vec::new(),
        };
        for found in passport_connect::detect::detect_here() {
            match self.request_for(found.client, passport_connect::preview_connect) {
                Ok(change) => preview.ready.push(change),
                Err(e) => preview.refused.push((found.client.display(), e.message)),
            }
        }
        preview
    }

    /// Connects every detected client; one failing does not stop the others.
    pub fn connect_all(&self) -> Result<String, UiError> {
        let keys = self.keys()?;
        let records = self.records();
        let (mut done, mut failed) = (Vec::new(), Vec::new());
        for found in passport_connect::detect::detect_here() {
            match self.request_for(found.client, |r| connect_recorded(r, &keys, &records)) {
                Ok(change) => done.push(change.display),
                Err(e) => failed.push(format!("{}: {}", found.client.display(), e.message)),
            }
        }
        let result = if done.is_empty() && failed.is_empty() {
            Err(UiError::new(
                "no_clients_found",
                "No installed MCP client was found. Connect one from the list instead.",
            ))
        } else if failed.is_empty() {
            Ok(format!(
                "Connected {}. Restart {} to load {} servers.",
                done.join(", "),
                if done.len() == 1 { "it" } else { "each" },
                if done.len() == 1 { "its" } else { "their" },
            ))
        } else {
            Err(UiError::new(
                "connect_incomplete",
                format!(
                    "Connected {}; not connected: {}",
                    if done.is_empty() {
                        "none".to_string()
                    } else {
                        done.join(", ")
                    },
                    failed.join("; ")
                ),
            ))
        };
        self.report(result)
    }

    /// After servers were added or revoked: connected clients' entries
    /// follow the granted servers. A client edited by hand shows so on its
    /// row, and a notification says it was left alone (or could not be
    /// updated); what changed is logged.
    pub(super) fn follow_grants(&self) {
        let records = self.records();
        if records.list().map_or(true, |r| r.is_empty()) {
            return;
        }
        let Ok(keys) = self.keys() else {
            tracing::warn!("client keys unreadable; connected clients were not updated");
            return;
        };
        let granted = self.granted_ids();
        let exe = super::clients::cli_path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let port = super::lock(&self.broker_view)
            .port
            .unwrap_or(passport_connect::DEFAULT_PORT);
        let follow = Follow {
            granted: &granted,
            port,
            exe: &exe,
            keys: &keys,
            records: &records,
        };
        match passport_connect::follow::follow(&follow) {
            Ok(followed) => {
                for f in &followed {
                    let Some(line) = describe(f, false) else {
                        continue;
                    };
                    tracing::info!("{line}");
                    if matches!(f.outcome, Outcome::EditedByHand | Outcome::Failed { .. }) {
                        self.emit(Event::Notify {
                            title: format!("{} was not updated", f.display),
                            body: line,
                        });
                    }
                }
            }
            Err(e) => tracing::warn!("connected clients were not updated: {e}"),
        }
    }
}
