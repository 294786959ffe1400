//! Sign-in flows waiting for their callback.
//!
//! Why: the callback is the one point where attacker-controlled input
//! (SECURITY-CASES 1-6, 10) meets a flow that holds a PKCE verifier. So a
//! callback is matched to a flow by `state`, once, and checked before any
//! code can reach a token endpoint:
//!
//! - an unknown, expired or used `state` changes nothing: no flow is
//!   consumed, nothing is sent (the same callback arriving again by deep
//!   link and by loopback is ignored the second time);
//! - a callback that came to another redirect URI leaves the flow waiting;
//! - once matched, the flow is consumed, and `iss` is compared exactly with
//!   the flow's issuer (RFC 9207, also on error answers, no normalizing)
//!   before the code is released as [`FlowEnd::Accepted`].
//!
//! Nothing here logs a code or a state value.

use crate::callback::{CallbackError, CallbackOutcome, parse_callback};
use crate::secret::AuthCode;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::sync::oneshot;
use url::{Host, Url};

/// A flow waiting for its callback. Its `Debug` output hides the state and
/// the verifier.
pub struct PendingFlow {
    /// The `state` sent to the AS (from [`crate::pkce::new_state`]).
    pub state: String,
    /// The issuer the flow started at, compared exactly with `iss`.
    pub issuer: String,
    /// Whether the AS promises `iss` in callbacks
    /// (`authorization_response_iss_parameter_supported`, RFC 9207).
    pub iss_required: bool,
    /// The redirect URI sent to the AS.
    pub redirect_uri: String,
    /// The PKCE verifier, handed back only with an accepted code.
    pub verifier: oauth2::PkceCodeVerifier,
    /// When the flow gives up; a later callback is unknown.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for PendingFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingFlow")
            .field("state", &"[redacted]")
            .field("issuer", &self.issuer)
            .field("iss_required", &self.iss_required)
            .field("redirect_uri", &self.redirect_uri)
            .field("verifier", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A callback that passed every check.
#[derive(Debug)]
pub struct Accepted {
    /// The authorization code.
    pub code: AuthCode,
    /// The flow it belongs to (with its verifier and redirect URI).
    pub flow: PendingFlow,
}

/// How a flow ended.
#[derive(Debug)]
pub enum FlowEnd {
    /// A code arrived and passed every check; it may be exchanged.
    Accepted(Accepted),
    /// The AS answered with an error (after the `iss` checks passed).
    Denied {
        /// OAuth error code.
        error: String,
        /// The AS's description: its untrusted words, not ours.
        description: Option<String>,
    },
    /// The callback failed a safety check; no token may be requested.
    Aborted(CallbackError),
}

struct Waiting {
    flow: PendingFlow,
    done: oneshot::Sender<FlowEnd>,
}

/// The registry of pending flows. `Send + Sync`; share it in an `Arc`.
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

fn is_loopback_ip(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    }
}

/// Whether a callback's target is the flow's redirect URI: same scheme,
/// host and path; the port too, except on loopback (RFC 8252 section 7.3).
fn same_target(target: &Url, redirect_uri: &str) -> bool {
    let Ok(expected) = Url::parse(redirect_uri) else {
        return false;
    };
    target.scheme() == expected.scheme()
        && target.host() == expected.host()
        && target.path() == expected.path()
        && (is_loopback_ip(&expected) || target.port() == expected.port())
}

impl Flows {
    fn table(&self) -> MutexGuard<'_, HashMap<String, Waiting>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a flow; the receiver gets how it ended. Dropping the flow
    /// ([`Flows::cancel`]) closes the receiver.
    pub fn register(&self, flow: PendingFlow) -> oneshot::Receiver<FlowEnd> {
        let (done, receiver) = oneshot::channel();
        self.table()
            .insert(flow.state.clone(), Waiting { flow, done });
        receiver
    }

    /// Drops a flow (timeout, or the browser could not be opened).
    /// Callers cancel their flows when they stop waiting; expired flows are
    /// not removed by [`Flows::deliver`].
    pub fn cancel(&self, state: &str) {
        self.table().remove(state);
    }

    /// How many flows are registered (expired ones included until cancelled).
    pub fn pending(&self) -> usize {
        self.table().len()
    }

    /// How many flows wait for a callback at `redirect_uri`.
    pub fn pending_for(&self, redirect_uri: &str) -> usize {
        self.table()
            .values()
            .filter(|w| w.flow.redirect_uri == redirect_uri)
            .count()
    }

    /// Delivers a callback URL (deep link or loopback request).
    ///
    /// `Ok(())` when it ended a flow (accepted, denied or aborted: the flow's
    /// receiver says which); `Err` when it matched no flow, which changes
    /// nothing at all.
    pub fn deliver(&self, raw_url: &str, now: DateTime<Utc>) -> Result<(), CallbackError> {
        let callback = parse_callback(raw_url).inspect_err(dropped)?;
        let waiting = {
            let mut table = self.table();
            let Some(w) = table.get(&callback.state) else {
                dropped(&CallbackError::UnknownState);
                return Err(CallbackError::UnknownState);
            };
            if w.flow.expires_at <= now {
                dropped(&CallbackError::UnknownState);
                return Err(CallbackError::UnknownState);
            }
            if !same_target(&callback.target, &w.flow.redirect_uri) {
                dropped(&CallbackError::WrongTarget);
                return Err(CallbackError::WrongTarget);
            }
            table
                .remove(&callback.state)
                .ok_or(CallbackError::UnknownState)?
        };
        let Waiting { flow, done } = waiting;
        let end = match (&callback.iss, flow.iss_required) {
            (Some(iss), _) if *iss != flow.issuer => {
                FlowEnd::Aborted(CallbackError::IssuerMismatch)
            }
            (None, true) => FlowEnd::Aborted(CallbackError::MissingIssuer),
            _ => match callback.outcome {
                CallbackOutcome::Code(code) => FlowEnd::Accepted(Accepted { code, flow }),
                CallbackOutcome::Error { error, description } => {
                    FlowEnd::Denied { error, description }
                }
            },
        };
        if let FlowEnd::Aborted(e) = &end {
            tracing::warn!("sign-in aborted: {e}");
        }
        if done.send(end).is_err() {
            tracing::debug!("callback for a flow nobody waits for any more");
        }
        Ok(())
    }
}

fn dropped(reason: &CallbackError) {
    tracing::info!("callback dropped: {reason}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn flows_are_send_and_sync() {
        assert_send_sync::<Flows>();
        assert_send_sync::<FlowEnd>();
    }

    #[test]
    fn debug_output_hides_state_and_verifier() {
        let (_, verifier) = crate::pkce::new_pkce();
        let secret = verifier.secret().clone();
        let flow = PendingFlow {
            state: "SECRETSTATE".into(),
            issuer: "https://as.example".into(),
            iss_required: true,
            redirect_uri: "http://127.0.0.1:1/callback".into(),
            verifier,
            expires_at: Utc::now(),
        };
        let shown = format!("{flow:?}");
        assert!(!shown.contains("SECRETSTATE") && !shown.contains(&secret));
        assert!(shown.contains("https://as.example"));
    }

    #[test]
    fn target_matching_ignores_only_the_loopback_port() {
        let t = |s: &str| Url::parse(s).unwrap_or_else(|e| panic!("{e}"));
        let redirect = "http://127.0.0.1:5000/callback";
        assert!(same_target(&t("http://127.0.0.1:6000/callback"), redirect));
        assert!(!same_target(&t("http://127.0.0.1:5000/other"), redirect));
        assert!(!same_target(&t("http://[::1]:5000/callback"), redirect));
        let deep = "io.github.mcppassport:/oauth/callback";
        assert!(same_target(&t(deep), deep));
        assert!(!same_target(&t("io.github.mcppassport:/oauth/other"), deep));
        assert!(!same_target(&t("io.github.other:/oauth/callback"), deep));
        assert!(!same_target(
            &t("io.github.mcppassport://evil/oauth/callback"),
            deep
        ));
        assert!(!same_target(&t(deep), "not a url"));
    }
}
