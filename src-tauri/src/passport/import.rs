//! The first-run screen: the remote MCP servers the user's clients already
//! use (`passport_connect::import`, the same scan as `mcp-passport import`),
//! and one action that signs in to all of them (one flow per authorization
//! server, through the usual sign-in with its per-server rows) and, once
//! that has ended, points each client's entry for a server that signed in
//! at the broker. `mcp-passport disconnect <client> --restore` undoes it.

use super::quirks::Attempt;
use super::{Passport, lock};
use crate::error::UiError;
use passport_connect::ClientKind;
use passport_connect::import::{self, Found, Repoint};
use passport_core::engine::LoginTarget;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

impl Passport {
    /// The remote MCP servers in the clients' usual config files (names,
    /// addresses and files only; nothing from an entry's headers).
    pub fn import_scan(&self) -> Found {
        self.import_scan_in(&import::config_files(&[]))
    }

    /// [`Passport::import_scan`] over these config files.
    pub fn import_scan_in(&self, files: &[(ClientKind, PathBuf)]) -> Found {
        import::scan(files)
    }

    /// Signs in to every server [`Passport::import_scan`] finds, then
    /// repoints the clients' entries for those that signed in. Returns once
    /// the sign-in has started; the outcome reaches the banner.
    pub fn import_start(self: &Arc<Self>) -> Result<(), UiError> {
        self.import_start_in(import::config_files(&[]))
    }

    /// [`Passport::import_start`] over these config files.
    pub fn import_start_in(
        self: &Arc<Self>,
        files: Vec<(ClientKind, PathBuf)>,
    ) -> Result<(), UiError> {
        let found = self.import_scan_in(&files);
        if found.servers.is_empty() {
            return self.refused(Err(UiError::new(
                "nothing_to_import",
                "No remote MCP servers were found in your MCP clients' settings. Sign in with an address instead.",
            )));
        }
        // A server already granted needs no sign-in.
        let grants = self.engine.grants();
        let to_sign_in: Vec<String> = found
            .urls()
            .into_iter()
            .filter(|url| import::address_of(url, &grants, &grants).is_none())
            .collect();
        if to_sign_in.is_empty() {
            return self.report(self.repoint_found(&found)).map(|_| ());
        }
        let target = LoginTarget::Servers(to_sign_in);
        let started = self.begin_with(target, Vec::new(), Attempt::default());
        self.refused(started)?;
        let me = Arc::clone(self);
        tokio::spawn(async move {
            while me.still_signing_in() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let outcome = me.repoint_found(&found);
            if outcome.as_ref().is_ok_and(|m| m.is_empty()) {
                return; // nothing signed in: the sign-in's own outcome stays shown
            }
            let _ = me.report(outcome);
        });
        Ok(())
    }

    fn still_signing_in(&self) -> bool {
        lock(&self.signing)
            .as_ref()
            .is_some_and(|t| !t.is_finished())
    }

    /// Repoints every client entry whose server has a grant now.
    fn repoint_found(&self, found: &Found) -> Result<String, UiError> {
        let grants = self.engine.grants();
        let plan = import::plan(found, &grants, &grants);
        if plan.is_empty() {
            return Ok(String::new());
        }
        let keys = self.keys()?;
        let port = lock(&self.broker_view)
            .port
            .unwrap_or(passport_connect::DEFAULT_PORT);
        let exe = super::clients::cli_path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut done = Vec::new();
        let mut failed = Vec::new();
        for (kind, config, entries) in plan {
            if kind == ClientKind::ClaudeDesktop && exe.is_empty() {
                failed.push(format!(
                    "{}: the mcp-passport command it runs is not installed next to this app or on your PATH",
                    kind.display()
                ));
                continue;
            }
            let request = Repoint {
                kind,
                config: &config,
                entries,
                port,
                exe: &exe,
            };
            match import::repoint(&request, &keys) {
                Ok(change) => done.push(change.display),
                Err(e) => failed.push(format!("{}: {}", kind.display(), e.message)),
            }
        }
        let mut message = format!(
            "Pointed {} at MCP Passport. Restart {} to load the new entries; `mcp-passport disconnect <client> --restore` undoes it.",
            done.join(", "),
            if done.len() == 1 { "it" } else { "them" }
        );
        if !failed.is_empty() {
            if done.is_empty() {
                return Err(UiError::new(
                    "import_failed",
                    format!("No client was changed: {}", failed.join("; ")),
                ));
            }
            message.push_str(&format!(" Not changed: {}.", failed.join("; ")));
        }
        Ok(message)
    }
}
