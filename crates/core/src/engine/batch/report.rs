//! What a sign-in reports: each flow's target and outcome, and each
//! server's state with the code and message to show.

use crate::engine::plan::Plan;
use crate::error::EngineError;
use crate::model::{Grant, Mode};
use serde::{Deserialize, Serialize};

/// One server a flow signs in to, as the user knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetServer {
    /// Its id: the MCP server URL, or the Multi-Server AS's server id.
    pub id: String,
    /// Its display name.
    pub name: String,
}

/// What one flow signs in to: an issuer and the servers it should grant
/// (none when a Multi-Server AS's picker chooses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowTarget {
    /// The authorization server.
    pub issuer: String,
    /// The servers asked for.
    pub servers: Vec<TargetServer>,
}

impl FlowTarget {
    pub(super) fn of(plan: &Plan) -> Self {
        let servers = match plan.mode {
            Mode::MultiServer => plan
                .hint
                .iter()
                .map(|id| TargetServer {
                    id: id.clone(),
                    name: plan
                        .catalog
                        .iter()
                        .find(|c| &c.id == id)
                        .map_or_else(|| id.clone(), |c| c.name.clone()),
                })
                .collect(),
            _ => plan
                .urls
                .iter()
                .zip(&plan.names)
                .map(|(id, name)| TargetServer {
                    id: id.clone(),
                    name: name.clone(),
                })
                .collect(),
        };
        Self {
            issuer: plan.issuer.clone(),
            servers,
        }
    }

    /// A server that could not even be discovered: it names itself.
    pub(super) fn undiscovered(url: &str) -> Self {
        Self {
            issuer: String::new(),
            servers: vec![TargetServer {
                id: url.to_string(),
                name: url.to_string(),
            }],
        }
    }
}

/// How one flow ended.
#[derive(Debug)]
pub enum FlowOutcome {
    /// Signed in; the grant is stored.
    SignedIn(Grant),
    /// It failed (timed out included); nothing of it was kept.
    Failed(EngineError),
}

/// One flow and how it ended.
#[derive(Debug)]
pub struct FlowReport {
    /// What it signed in to.
    pub target: FlowTarget,
    /// How it ended.
    pub outcome: FlowOutcome,
}

/// Every flow of one sign-in, in the order they were planned.
#[derive(Debug, Default)]
pub struct LoginReport {
    /// The flows.
    pub flows: Vec<FlowReport>,
}

/// How one server's sign-in ended, as the command line, the broker's admin
/// API and the app show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerState {
    /// Signed in.
    SignedIn,
    /// The sign-in failed.
    Failed,
    /// No answer came from the browser in time.
    TimedOut,
}

/// One server's line of a [`LoginReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerResult {
    /// The server's id (its URL, or its id at a Multi-Server AS); the
    /// issuer when a failed Multi-Server sign-in named no server.
    pub server: String,
    /// Its display name.
    pub name: String,
    /// Its authorization server (empty when it could not be discovered).
    pub issuer: String,
    /// How it ended.
    pub state: ServerState,
    /// The engine's stable error code, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Why it failed and what to do, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl LoginReport {
    /// The report of a sign-in that stored these grants (each its own flow).
    pub fn signed_in(grants: Vec<Grant>) -> Self {
        let flows = grants
            .into_iter()
            .map(|grant| FlowReport {
                target: FlowTarget {
                    issuer: grant.issuer.clone(),
                    servers: grant
                        .servers
                        .iter()
                        .map(|s| TargetServer {
                            id: s.id.clone(),
                            name: s.name.clone(),
                        })
                        .collect(),
                },
                outcome: FlowOutcome::SignedIn(grant),
            })
            .collect();
        Self { flows }
    }

    /// Whether every flow signed in.
    pub fn all_signed_in(&self) -> bool {
        self.flows
            .iter()
            .all(|f| matches!(f.outcome, FlowOutcome::SignedIn(_)))
    }

    /// The grants stored, in plan order.
    pub fn grants(&self) -> Vec<Grant> {
        self.flows
            .iter()
            .filter_map(|f| match &f.outcome {
                FlowOutcome::SignedIn(g) => Some(g.clone()),
                FlowOutcome::Failed(_) => None,
            })
            .collect()
    }

    /// One line per server: a signed-in flow lists the servers its grant
    /// holds, a failed one the servers it asked for (or its issuer).
    pub fn servers(&self) -> Vec<ServerResult> {
        self.flows.iter().flat_map(FlowReport::servers).collect()
    }

    /// All grants, or the first failure (the grants that did sign in are
    /// kept either way).
    pub fn into_result(self) -> Result<Vec<Grant>, EngineError> {
        let mut grants = Vec::new();
        for flow in self.flows {
            match flow.outcome {
                FlowOutcome::SignedIn(g) => grants.push(g),
                FlowOutcome::Failed(e) => return Err(e),
            }
        }
        Ok(grants)
    }
}

impl FlowReport {
    /// This flow's lines, one per server.
    pub fn servers(&self) -> Vec<ServerResult> {
        let issuer = self.target.issuer.clone();
        match &self.outcome {
            FlowOutcome::SignedIn(grant) => grant
                .servers
                .iter()
                .map(|s| ServerResult {
                    server: s.id.clone(),
                    name: s.name.clone(),
                    issuer: grant.issuer.clone(),
                    state: ServerState::SignedIn,
                    code: None,
                    message: None,
                })
                .collect(),
            FlowOutcome::Failed(e) => {
                let state = if matches!(e, EngineError::TimedOut(_)) {
                    ServerState::TimedOut
                } else {
                    ServerState::Failed
                };
                let line = |server: String, name: String| ServerResult {
                    server,
                    name,
                    issuer: issuer.clone(),
                    state,
                    code: Some(e.code().to_string()),
                    message: Some(e.to_string()),
                };
                if self.target.servers.is_empty() {
                    vec![line(issuer.clone(), issuer.clone())]
                } else {
                    self.target
                        .servers
                        .iter()
                        .map(|s| line(s.id.clone(), s.name.clone()))
                        .collect()
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_flow_names_its_servers_or_its_issuer() {
        let report = FlowReport {
            target: FlowTarget {
                issuer: "https://as.example".into(),
                servers: vec![],
            },
            outcome: FlowOutcome::Failed(EngineError::TimedOut(5)),
        };
        let lines = report.servers();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].server, "https://as.example");
        assert_eq!(lines[0].state, ServerState::TimedOut);
        assert_eq!(lines[0].code.as_deref(), Some("timed_out"));
    }
}
