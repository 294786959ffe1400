//! One row per server of the sign-in under way: "waiting for browser",
//! then "signed in" or "failed: why", each as its own flow ends (the engine
//! reports every flow through a [`LoginObserver`]). The rows stay after the
//! sign-in ends, so the outcome of each server can be read, until the next
//! action starts.

use super::{Event, Passport, lock};
use crate::error::UiError;
use passport_core::engine::{
    FlowOutcome, LoginEvent, LoginObserver, LoginReport, ServerState, TargetServer,
};
use serde::Serialize;

/// Where one server's sign-in stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RowState {
    /// Its page is open; the browser has not come back yet.
    Waiting,
    /// Signed in.
    SignedIn,
    /// It failed (or timed out); `reason` says why.
    Failed,
}

/// One server's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignInRow {
    /// The server's id (its URL, or its id at a Multi-Server AS), or the
    /// issuer while a Multi-Server AS's picker chooses.
    pub server: String,
    /// Its display name.
    pub name: String,
    /// Where it stands.
    pub state: RowState,
    /// Why it failed, and what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl SignInRow {
    /// What the row says: "waiting for browser", "signed in", "failed: why".
    pub fn label(&self) -> String {
        match (self.state, &self.reason) {
            (RowState::Waiting, _) => "waiting for browser".into(),
            (RowState::SignedIn, _) => "signed in".into(),
            (RowState::Failed, Some(reason)) => format!("failed: {reason}"),
            (RowState::Failed, None) => "failed".into(),
        }
    }
}

/// Puts a row in place of the one for the same server, or adds it.
fn upsert(rows: &mut Vec<SignInRow>, row: SignInRow) {
    match rows.iter_mut().find(|r| r.server == row.server) {
        Some(existing) => *existing = row,
        None => rows.push(row),
    }
}

/// Rows for the servers a flow asks for (its issuer when a picker chooses).
fn waiting(issuer: &str, servers: &[TargetServer]) -> Vec<SignInRow> {
    let row = |server: &str, name: &str| SignInRow {
        server: server.to_string(),
        name: name.to_string(),
        state: RowState::Waiting,
        reason: None,
    };
    if servers.is_empty() {
        vec![row(issuer, issuer)]
    } else {
        servers.iter().map(|s| row(&s.id, &s.name)).collect()
    }
}

/// The app's observer: updates the rows and redraws the page.
pub(super) struct Rows<'a>(pub(super) &'a Passport);

impl LoginObserver for Rows<'_> {
    fn event(&self, event: LoginEvent<'_>) {
        {
            let mut activity = lock(&self.0.activity);
            let rows = &mut activity.sign_in_rows;
            match event {
                LoginEvent::Waiting(target) => {
                    for row in waiting(&target.issuer, &target.servers) {
                        upsert(rows, row);
                    }
                }
                LoginEvent::Ended(report) => {
                    // A Multi-Server sign-in asked for its issuer; its grant
                    // names the servers chosen in the picker.
                    if matches!(report.outcome, FlowOutcome::SignedIn(_)) {
                        rows.retain(|r| r.server != report.target.issuer);
                    }
                    for line in report.servers() {
                        let failed = line.state != ServerState::SignedIn;
                        let reason = match &report.outcome {
                            FlowOutcome::Failed(e) if failed => Some(UiError::from(e).message),
                            _ => None,
                        };
                        upsert(
                            rows,
                            SignInRow {
                                server: line.server,
                                name: line.name,
                                state: if failed {
                                    RowState::Failed
                                } else {
                                    RowState::SignedIn
                                },
                                reason,
                            },
                        );
                    }
                }
            }
        }
        self.0.emit(Event::Changed);
    }
}

/// The banner's summary of a finished sign-in: the message when every
/// server signed in, else an error naming those that did not.
pub(super) fn summary(report: &LoginReport) -> Result<String, UiError> {
    let lines = report.servers();
    let signed: Vec<&str> = lines
        .iter()
        .filter(|l| l.state == ServerState::SignedIn)
        .map(|l| l.name.as_str())
        .collect();
    let failed: Vec<&str> = lines
        .iter()
        .filter(|l| l.state != ServerState::SignedIn)
        .map(|l| l.name.as_str())
        .collect();
    if failed.is_empty() {
        return Ok(if signed.is_empty() {
            "Signed in.".to_string()
        } else {
            format!("Signed in: {}.", signed.join(", "))
        });
    }
    Err(if signed.is_empty() {
        UiError::new(
            "sign_in_failed",
            format!(
                "Not signed in to {}. Each server's row says why; start the sign-in again when it is fixed.",
                failed.join(", ")
            ),
        )
    } else {
        UiError::new(
            "partly_signed_in",
            format!(
                "Signed in: {}. Not signed in: {} (each row says why); sign in to those again.",
                signed.join(", "),
                failed.join(", ")
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_say_where_each_server_stands() {
        let mut rows = waiting("https://as.example", &[]);
        assert_eq!(rows[0].label(), "waiting for browser");
        upsert(
            &mut rows,
            SignInRow {
                server: "https://as.example".into(),
                name: "https://as.example".into(),
                state: RowState::Failed,
                reason: Some("No answer came back.".into()),
            },
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].label(), "failed: No answer came back.");
    }
}
