//! Sign-in flows waiting for their callback.
//!
//! A callback is matched to a flow by `state`, once: an unknown, expired or
//! used `state` changes nothing (the same callback arriving again by deep
//! link and by loopback is ignored the second time). A callback that came
//! to another redirect URI leaves the flow waiting. Once matched, `iss` is
//! compared exactly with the flow's issuer (also on error answers) before
//! any code can reach a token endpoint.

use crate::callback::{CallbackError, CallbackOutcome, parse_callback};
use crate::secret::AuthCode;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::oneshot;

/// A flow waiting for its callback.
#[derive(Debug)]
pub struct PendingFlow {
    /// The `state` sent to the AS.
    pub state: String,
    /// The issuer the flow started at.
    pub issuer: String,
    /// Whether the AS promises `iss` in callbacks (RFC 9207).
    pub iss_required: bool,
    /// The redirect URI sent to the AS.
    pub redirect_uri: String,
    /// The PKCE verifier.
    pub verifier: oauth2::PkceCodeVerifier,
    /// When the flow gives up.
    pub expires_at: DateTime<Utc>,
}

/// A callback accepted for a flow.
#[derive(Debug)]
pub struct Accepted {
    /// The code.
    pub code: AuthCode,
    /// The flow it belongs to.
    pub flow: PendingFlow,
}

/// How a flow ended.
#[derive(Debug)]
pub enum FlowEnd {
    /// A code arrived and passed every check.
    Accepted(Accepted),
    /// The AS answered with an error (its description is untrusted text).
    Denied {
        /// OAuth error code.
        error: String,
        /// The AS's description.
        description: Option<String>,
    },
    /// The callback failed a safety check; no token may be requested.
    Aborted(CallbackError),
}

struct Waiting {
    flow: PendingFlow,
    done: oneshot::Sender<FlowEnd>,
}

/// The registry of pending flows.
#[derive(Default)]
pub struct Flows {
    waiting: Mutex<HashMap<String, Waiting>>,
}

impl std::fmt::Debug for Flows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flows")
            .field("pending", &self.pending())
            .finish()
    }
}

fn same_target(target: &url::Url, redirect_uri: &str) -> bool {
    let Ok(expected) = url::Url::parse(redirect_uri) else {
        return false;
    };
    let loopback = matches!(expected.host_str(), Some("127.0.0.1" | "[::1]"));
    target.scheme() == expected.scheme()
        && target.host_str() == expected.host_str()
        && target.path() == expected.path()
        && (loopback || target.port() == expected.port())
}

impl Flows {
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiting>> {
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a flow; the receiver gets its end.
    pub fn register(&self, flow: PendingFlow) -> oneshot::Receiver<FlowEnd> {
        let (done, receiver) = oneshot::channel();
        self.table()
            .insert(flow.state.clone(), Waiting { flow, done });
        receiver
    }

    /// Drops a flow (timeout, or the browser could not be opened).
    pub fn cancel(&self, state: &str) {
        self.table().remove(state);
    }

    /// How many flows are waiting.
    pub fn pending(&self) -> usize {
        self.table().len()
    }

    /// Delivers a callback URL. `Ok` when it ended a flow (accepted, denied
    /// or aborted); `Err` when it matched none, which changes nothing.
    pub fn deliver(&self, raw: &str, now: DateTime<Utc>) -> Result<(), CallbackError> {
        let callback =
            parse_callback(raw).inspect_err(|e| tracing::info!("callback dropped: {e}"))?;
        let waiting = {
            let mut table = self.table();
            table.retain(|_, w| w.flow.expires_at > now);
            let Some(w) = table.get(&callback.state) else {
                tracing::info!("callback dropped: no sign-in is waiting for it");
                return Err(CallbackError::UnknownState);
            };
            if !same_target(&callback.target, &w.flow.redirect_uri) {
                tracing::info!("callback dropped: wrong redirect target");
                return Err(CallbackError::WrongTarget);
            }
            table
                .remove(&callback.state)
                .ok_or(CallbackError::UnknownState)?
        };
        let end = match (&callback.iss, waiting.flow.iss_required) {
            (Some(iss), _) if *iss != waiting.flow.issuer => {
                FlowEnd::Aborted(CallbackError::IssuerMismatch)
            }
            (None, true) => FlowEnd::Aborted(CallbackError::MissingIssuer),
            _ => match callback.outcome {
                CallbackOutcome::Code(code) => FlowEnd::Accepted(Accepted {
                    code,
                    flow: waiting.flow,
                }),
                CallbackOutcome::Error { error, description } => {
                    FlowEnd::Denied { error, description }
                }
            },
        };
        if let FlowEnd::Aborted(e) = &end {
            tracing::warn!("sign-in aborted: {e}");
        }
        let _ = waiting.done.send(end);
        Ok(())
    }
}
