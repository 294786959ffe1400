//! A callback address pasted by a person: the sign-in ran in a browser on
//! another machine, which landed on this machine's loopback redirect URI
//! and could not load it; the person copies that address back.
//!
//! Why: a pasted line is input from outside like any callback, so it goes
//! through the same [`Flows::deliver`] (state matched once, `iss` checked
//! exactly). What differs is the answer to a mistake: the person gets a
//! plain reason and may paste again, and nothing is consumed by a paste
//! that ended no flow. An error answer (`error=...`) is shown but not
//! delivered, so the flow keeps waiting for the person to try again.

use crate::callback::{CallbackError, CallbackOutcome, parse_callback};
use crate::flows::Flows;
use chrono::{DateTime, Utc};

/// Why a pasted address ended no sign-in. Nothing was kept or changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasteError {
    /// Not the address of a redirect back to this machine.
    #[error(
        "that is not the address your browser landed on after signing in (it starts with http://127.0.0.1: and holds code= and state=); nothing was kept"
    )]
    NotAnAddress,
    /// The authorization server answered with an error.
    #[error(
        "the authorization server answered {error}{description}; nothing was kept. Open the sign-in address again to retry"
    )]
    Refused {
        /// The OAuth error code (filtered).
        error: String,
        /// ": " and the AS's description (filtered), or nothing.
        description: String,
    },
    /// Its `state` belongs to no sign-in waiting here.
    #[error(
        "that address is not from this sign-in (its state does not match any sign-in waiting here); nothing was kept"
    )]
    NotThisSignIn,
    /// Another safety check failed.
    #[error("that address was refused: {0}; nothing was kept")]
    Unsafe(CallbackError),
}

/// Hands a pasted callback address to the pending flows. `Ok` when it
/// ended a flow (the flow's receiver says how).
pub fn deliver_pasted(flows: &Flows, pasted: &str, now: DateTime<Utc>) -> Result<(), PasteError> {
    let raw = pasted
        .trim()
        .trim_matches(|c| c == '"' || c == '\'' || c == '<' || c == '>');
    let callback = parse_callback(raw).map_err(|e| match e {
        CallbackError::Malformed | CallbackError::ForeignScheme => PasteError::NotAnAddress,
        other => PasteError::Unsafe(other),
    })?;
    if let CallbackOutcome::Error { error, description } = &callback.outcome {
        return Err(PasteError::Refused {
            error: crate::text::untrusted(error, 100),
            description: description
                .as_deref()
                .map(|d| format!(": {}", crate::text::untrusted(d, 300)))
                .unwrap_or_default(),
        });
    }
    flows.deliver(raw, now).map_err(|e| match e {
        CallbackError::UnknownState | CallbackError::WrongTarget => PasteError::NotThisSignIn,
        other => PasteError::Unsafe(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::{FlowEnd, PendingFlow};

    fn flow(flows: &Flows) -> tokio::sync::oneshot::Receiver<FlowEnd> {
        let (_, verifier) = crate::pkce::new_pkce();
        flows.register(PendingFlow {
            state: "st-1".into(),
            issuer: "https://as.example".into(),
            iss_required: true,
            redirect_uri: "http://127.0.0.1:4000/callback".into(),
            verifier,
            expires_at: Utc::now() + chrono::Duration::minutes(5),
        })
    }

    #[test]
    fn bad_pastes_change_nothing_and_a_good_one_ends_the_flow() {
        let flows = Flows::default();
        let mut done = flow(&flows);
        let now = Utc::now();
        for (pasted, want) in [
            ("yes", "NotAnAddress"),
            (
                "https://evil.example/callback?code=c&state=st-1",
                "NotAnAddress",
            ),
            (
                "http://127.0.0.1:4000/callback?code=c&state=other&iss=https%3A%2F%2Fas.example",
                "NotThisSignIn",
            ),
            (
                "http://127.0.0.1:4000/callback?error=access_denied&error_description=not+now&state=st-1",
                "Refused",
            ),
        ] {
            let e = deliver_pasted(&flows, pasted, now).expect_err(pasted);
            assert!(format!("{e:?}").starts_with(want), "{pasted}: {e:?}");
            assert!(!e.to_string().contains('\u{1b}'));
        }
        assert_eq!(flows.pending(), 1, "no bad paste consumed the flow");
        assert!(done.try_recv().is_err());
        deliver_pasted(
            &flows,
            " \"http://127.0.0.1:51000/callback?code=c&state=st-1&iss=https%3A%2F%2Fas.example\" ",
            now,
        )
        .expect("the good paste");
        assert!(matches!(done.try_recv(), Ok(FlowEnd::Accepted(_))));
    }
}
