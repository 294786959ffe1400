//! One sign-in to many servers: every flow the plan needs runs at once (each
//! page opened, each waiting for its own callback on the one listener), so a
//! slow authorization server holds up nobody else, and one failure loses
//! nothing: each flow ends signed in, failed or timed out on its own, and
//! the [`LoginReport`] says which, server by server.

use super::login::{LoginRequest, Opener};
use super::plan::Plan;
use super::{Engine, multi_resource};
use crate::error::EngineError;
use crate::model::{Grant, Mode};
use crate::providers::QuirkOverrides;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

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
    fn of(plan: &Plan) -> Self {
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
    fn undiscovered(url: &str) -> Self {
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

/// Progress of a sign-in, flow by flow.
#[derive(Debug)]
pub enum LoginEvent<'a> {
    /// A flow starts: its page is about to open, then it waits for the browser.
    Waiting(&'a FlowTarget),
    /// A flow ended.
    Ended(&'a FlowReport),
}

/// Receives a sign-in's progress (the app's rows; the command line needs
/// none). Called from the sign-in's task; keep it quick.
pub trait LoginObserver: Send + Sync {
    /// One step of one flow.
    fn event(&self, event: LoginEvent<'_>);
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl LoginObserver for NoProgress {
    fn event(&self, _: LoginEvent<'_>) {}
}

impl Engine {
    /// Signs in to everything the request names: all flows at once, each
    /// ending on its own. A failure to plan (an issuer that cannot be
    /// discovered, say) is the report's one failed flow; a server that
    /// cannot be discovered fails alone.
    pub async fn sign_in(
        &self,
        request: &LoginRequest,
        opener: &dyn Opener,
        observer: &dyn LoginObserver,
    ) -> LoginReport {
        self.sign_in_with(request, &QuirkOverrides::default(), opener, observer)
            .await
    }

    /// Signs in like [`Engine::sign_in`], with the user's `overrides` for
    /// the issuers of this sign-in ([`crate::providers`]).
    pub async fn sign_in_with(
        &self,
        request: &LoginRequest,
        overrides: &QuirkOverrides,
        opener: &dyn Opener,
        observer: &dyn LoginObserver,
    ) -> LoginReport {
        let (mut plans, undiscovered) = match self.plan(request, overrides).await {
            Ok(planned) => planned,
            Err(e) => {
                let target = match &request.target {
                    super::LoginTarget::Issuer(issuer) => FlowTarget {
                        issuer: issuer.trim().to_string(),
                        servers: Vec::new(),
                    },
                    super::LoginTarget::Servers(urls) => FlowTarget {
                        issuer: String::new(),
                        servers: urls
                            .iter()
                            .map(|u| TargetServer {
                                id: u.trim().to_string(),
                                name: u.trim().to_string(),
                            })
                            .collect(),
                    },
                };
                let report = FlowReport {
                    target,
                    outcome: FlowOutcome::Failed(e),
                };
                observer.event(LoginEvent::Ended(&report));
                return LoginReport {
                    flows: vec![report],
                };
            }
        };
        self.widen_for_step_ups(&mut plans);
        let mut flows = Vec::new();
        for (url, e) in undiscovered {
            let report = FlowReport {
                target: FlowTarget::undiscovered(&url),
                outcome: FlowOutcome::Failed(e),
            };
            observer.event(LoginEvent::Ended(&report));
            flows.push(report);
        }
        let runs = plans
            .into_iter()
            .map(|plan| self.run_plan(plan, request, opener, observer))
            .collect();
        flows.extend(join_all(runs).await.into_iter().flatten());
        LoginReport { flows }
    }

    /// Runs one plan's flow; a multi-resource request the AS refuses
    /// (`invalid_target`) becomes one flow per server, one after another.
    async fn run_plan(
        &self,
        plan: Plan,
        request: &LoginRequest,
        opener: &dyn Opener,
        observer: &dyn LoginObserver,
    ) -> Vec<FlowReport> {
        let target = FlowTarget::of(&plan);
        observer.event(LoginEvent::Waiting(&target));
        let multi = plan.mode == Mode::MultiResource && plan.resources.len() > 1;
        let result = if !multi {
            self.run_flow_learning(&plan, request, opener).await
        } else if self.provider_quirks(&plan.issuer).no_resource {
            // An issuer known to refuse `resource` goes per server at once.
            Err(EngineError::Denied {
                error: "invalid_target".into(),
                description: String::new(),
            })
        } else {
            self.run_flow(&plan, request, opener).await
        };
        // A multi-resource grant fetches its other servers' tokens before it
        // counts as signed in; servers the AS refuses (or every server, when
        // it refuses the request) sign in alone, one after another.
        let (first, alone): (Option<FlowOutcome>, Vec<usize>) = match result {
            Err(e) if multi && multi_resource::refused_resource(&e) => {
                tracing::info!(issuer = %plan.issuer, "multi-resource request refused; signing in per server");
                (None, (0..plan.resources.len()).collect())
            }
            Ok(grant) if multi => match self.complete_multi_resource(&plan, grant).await {
                Ok((grant, refused)) => (Some(FlowOutcome::SignedIn(grant)), refused),
                Err(e) => (Some(FlowOutcome::Failed(e)), Vec::new()),
            },
            other => (Some(outcome(other)), Vec::new()),
        };
        let mut reports = Vec::new();
        if let Some(outcome) = first {
            let report = FlowReport { target, outcome };
            observer.event(LoginEvent::Ended(&report));
            reports.push(report);
        }
        for single in alone
            .iter()
            .filter_map(|&i| multi_resource::per_server(&plan, i))
        {
            let target = FlowTarget::of(&single);
            observer.event(LoginEvent::Waiting(&target));
            let report = FlowReport {
                target,
                outcome: outcome(self.run_flow_learning(&single, request, opener).await),
            };
            observer.event(LoginEvent::Ended(&report));
            reports.push(report);
        }
        reports
    }
}

fn outcome(result: Result<Grant, EngineError>) -> FlowOutcome {
    match result {
        Ok(grant) => FlowOutcome::SignedIn(grant),
        Err(e) => FlowOutcome::Failed(e),
    }
}

/// Awaits every future at once on the current task; outputs in input order.
pub(super) async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn join_all_runs_together_and_keeps_order() {
        // Run one after another, the first would end first; run together,
        // they end in the order of their delays.
        let ended = std::sync::Mutex::new(Vec::new());
        let futures = [300u64, 100, 200]
            .into_iter()
            .map(|ms| {
                let ended = &ended;
                async move {
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                    ended.lock().unwrap_or_else(|e| e.into_inner()).push(ms);
                    ms
                }
            })
            .collect();
        assert_eq!(join_all(futures).await, vec![300, 100, 200]);
        assert_eq!(
            *ended.lock().unwrap_or_else(|e| e.into_inner()),
            vec![100, 200, 300]
        );
    }

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
