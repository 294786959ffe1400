//! The authorization callback, as a deep link, a loopback request or the
//! process arguments of a deep-link launch (SECURITY-CASES 11): whatever the
//! bytes, parsing never panics, an accepted callback always carries a state
//! and an outcome, its target keeps no query or fragment, and delivering it
//! to the pending-flow registry never panics either.
#![no_main]

use chrono::Utc;
use libfuzzer_sys::fuzz_target;
use passport_core::callback::{
    CallbackError, CallbackOutcome, MAX_TOTAL, callback_from_args, parse_callback,
};
use passport_core::flows::{Flows, PendingFlow};

const SCHEME: &str = "io.github.mcppassport";

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    match parse_callback(raw) {
        Ok(callback) => {
            assert!(raw.len() <= MAX_TOTAL);
            assert!(!callback.state.is_empty());
            assert!(callback.target.query().is_none());
            assert!(callback.target.fragment().is_none());
            match &callback.outcome {
                CallbackOutcome::Code(code) => assert!(!code.expose().is_empty()),
                CallbackOutcome::Error { error, .. } => assert!(!error.is_empty()),
            }
            let shown = format!("{callback:?}");
            assert!(shown.contains("[redacted]"));
        }
        Err(e) => {
            // Messages never carry a value from the callback.
            let message = e.to_string();
            assert!(message.len() < 200);
        }
    }

    // The same input as argv, one argument per line.
    let args: Vec<String> = raw.split('\n').map(str::to_string).collect();
    let ours: Vec<&String> = args
        .iter()
        .filter(|a| {
            a.as_bytes()
                .get(..SCHEME.len() + 1)
                .is_some_and(|head| head.eq_ignore_ascii_case(format!("{SCHEME}:").as_bytes()))
        })
        .collect();
    let found = callback_from_args(&args, SCHEME);
    match ours.as_slice() {
        [] => assert!(matches!(found, Ok(None))),
        [one] => assert_eq!(
            found.map(|c| c.map(|c| c.state)),
            parse_callback(one).map(|c| Some(c.state))
        ),
        _ => assert_eq!(found.err(), Some(CallbackError::TwoUrls)),
    }

    // Through the registry: a flow waits for state `s` at a loopback URI.
    let flows = Flows::default();
    let _waiting = flows.register(PendingFlow {
        state: "s".into(),
        issuer: "http://127.0.0.1:9400".into(),
        iss_required: data.first().is_some_and(|b| b & 1 == 1),
        redirect_uri: "http://127.0.0.1:5555/callback".into(),
        verifier: oauth2::PkceCodeVerifier::new("v".repeat(43)),
        expires_at: Utc::now() + chrono::Duration::minutes(5),
    });
    let _ = flows.deliver(raw, Utc::now());
});
