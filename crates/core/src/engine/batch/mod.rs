//! One sign-in to many servers: every flow the plan needs runs at once (each
//! page opened, each waiting for its own callback on the one listener), so a
//! slow authorization server holds up nobody else, and one failure loses
//! nothing: each flow ends signed in, failed or timed out on its own, and
//! the [`LoginReport`] says which, server by server.
//!
//! Here: running the flows and telling an observer. Beside it: what a
//! sign-in reports, per flow and per server (`report`).

use super::login::{LoginRequest, Opener};
use super::plan::Plan;
use super::{Engine, multi_resource};
use crate::error::EngineError;
use crate::model::{Grant, Mode};
use crate::providers::QuirkOverrides;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

mod report;

pub use report::{
    FlowOutcome, FlowReport, FlowTarget, LoginReport, ServerResult, ServerState, TargetServer,
};

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
}
