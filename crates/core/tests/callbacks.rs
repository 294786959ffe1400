//! SECURITY-CASES 1-6, 10-13 and 17: callback parsing, the pending-flow
//! registry, the loopback redirect listener (real sockets, 127.0.0.1 only)
//! and PKCE/state generation, plus a fuzz-like corpus and a seeded
//! mutation run over callback URLs.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use passport_core::callback::{CallbackError, CallbackOutcome, callback_from_args, parse_callback};
use passport_core::clock::{Clock, ManualClock, SystemClock};
use passport_core::flows::{FlowEnd, Flows, PendingFlow};
use passport_core::loopback::{ListenerEnd, LoopbackListener};
use passport_core::pkce::{new_pkce, new_state};
use rand::{Rng as _, SeedableRng as _};
use sha2::Digest as _;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::oneshot::error::TryRecvError;

const AS_A: &str = "https://as-a.example/tenant";
const AS_B: &str = "https://as-b.example";
const LOOPBACK: &str = "http://127.0.0.1:5555/callback";
const DEEP: &str = "io.github.mcppassport:/oauth/callback";
const SCHEME: &str = "io.github.mcppassport";

fn flow(state: &str, issuer: &str, iss_required: bool, redirect_uri: &str) -> PendingFlow {
    PendingFlow {
        state: state.into(),
        issuer: issuer.into(),
        iss_required,
        redirect_uri: redirect_uri.into(),
        verifier: new_pkce().1,
        expires_at: Utc::now() + Duration::minutes(10),
    }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `base?code=..&state=..[&iss=..]`, properly encoded.
fn code_cb(base: &str, code: &str, state: &str, iss: Option<&str>) -> String {
    let mut url = format!("{base}?code={}&state={}", enc(code), enc(state));
    if let Some(iss) = iss {
        url.push_str(&format!("&iss={}", enc(iss)));
    }
    url
}

fn error_cb(base: &str, state: &str, iss: Option<&str>) -> String {
    let mut url = format!(
        "{base}?error=access_denied&error_description={}&state={}",
        enc("Call +1 555 0100 to unlock your account"),
        enc(state)
    );
    if let Some(iss) = iss {
        url.push_str(&format!("&iss={}", enc(iss)));
    }
    url
}

fn ended(rx: &mut tokio::sync::oneshot::Receiver<FlowEnd>) -> FlowEnd {
    rx.try_recv().expect("the flow has ended")
}

fn still_waiting(rx: &mut tokio::sync::oneshot::Receiver<FlowEnd>) {
    assert!(
        matches!(rx.try_recv(), Err(TryRecvError::Empty)),
        "the flow must still wait"
    );
}

/// A tracing subscriber that keeps every event's text, to show what a
/// callback leaves in the logs.
#[derive(Default, Clone)]
struct LogCapture(Arc<Mutex<String>>);

struct Visit<'a>(&'a mut String);

impl tracing::field::Visit for Visit<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={value:?} ", field.name()));
    }
}

impl tracing::Subscriber for LogCapture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut text = self.0.lock().unwrap();
        span.record(&mut Visit(&mut text));
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        values.record(&mut Visit(&mut self.0.lock().unwrap()));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = self.0.lock().unwrap();
        event.record(&mut Visit(&mut text));
        text.push('\n');
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

// ---------------------------------------------------------------- flows

#[test]
fn sec_01_unknown_missing_or_used_state_is_dropped() {
    let flows = Flows::default();
    let mut rx = flows.register(flow("s1", AS_A, true, LOOPBACK));
    let now = Utc::now();

    // Unknown state: nothing consumed, nothing sent.
    let unknown = code_cb(LOOPBACK, "c", "not-s1", Some(AS_A));
    assert_eq!(
        flows.deliver(&unknown, now),
        Err(CallbackError::UnknownState)
    );
    // Missing or empty state.
    let missing = format!("{LOOPBACK}?code=c&iss={}", enc(AS_A));
    assert_eq!(
        flows.deliver(&missing, now),
        Err(CallbackError::MissingState)
    );
    let empty = format!("{LOOPBACK}?code=c&state=&iss={}", enc(AS_A));
    assert_eq!(flows.deliver(&empty, now), Err(CallbackError::MissingState));
    // Right state, wrong redirect target: the flow keeps waiting.
    let wrong_path = code_cb("http://127.0.0.1:5555/other", "c", "s1", Some(AS_A));
    assert_eq!(
        flows.deliver(&wrong_path, now),
        Err(CallbackError::WrongTarget)
    );
    let wrong_target = code_cb(DEEP, "c", "s1", Some(AS_A));
    assert_eq!(
        flows.deliver(&wrong_target, now),
        Err(CallbackError::WrongTarget)
    );
    assert_eq!(flows.pending(), 1);
    still_waiting(&mut rx);

    // Any loopback port is fine (RFC 8252 section 7.3); then the state is used.
    let good = code_cb("http://127.0.0.1:6000/callback", "c", "s1", Some(AS_A));
    assert_eq!(flows.deliver(&good, now), Ok(()));
    assert!(matches!(ended(&mut rx), FlowEnd::Accepted(a) if a.code.expose() == "c"));
    assert_eq!(flows.pending(), 0);
    assert_eq!(
        flows.deliver(&good, now),
        Err(CallbackError::UnknownState),
        "used"
    );

    // Expired: dropped, and the flow is not consumed by the attempt.
    let mut rx_old = flows.register(PendingFlow {
        expires_at: now - Duration::seconds(1),
        ..flow("old", AS_A, true, LOOPBACK)
    });
    let old = code_cb(LOOPBACK, "c", "old", Some(AS_A));
    assert_eq!(
        flows.deliver(&old, now),
        Err(CallbackError::UnknownState),
        "expired"
    );
    assert_eq!(flows.pending(), 1);
    still_waiting(&mut rx_old);
    flows.cancel("old");
    assert_eq!(flows.pending(), 0);
    assert!(matches!(rx_old.try_recv(), Err(TryRecvError::Closed)));

    // Expiry follows the clock passed in.
    let clock = ManualClock::new(now);
    let mut rx_t = flows.register(PendingFlow {
        expires_at: now + Duration::minutes(5),
        ..flow("timed", AS_A, true, LOOPBACK)
    });
    clock.advance(Duration::minutes(6));
    let timed = code_cb(LOOPBACK, "c", "timed", Some(AS_A));
    assert_eq!(
        flows.deliver(&timed, clock.now()),
        Err(CallbackError::UnknownState)
    );
    still_waiting(&mut rx_t);
}

#[test]
fn sec_02_same_callback_twice_second_is_ignored() {
    let flows = Flows::default();
    let mut rx = flows.register(flow("s2", AS_A, true, DEEP));
    let deep_link = code_cb(DEEP, "c", "s2", Some(AS_A));
    assert_eq!(flows.deliver(&deep_link, Utc::now()), Ok(()));
    assert!(matches!(ended(&mut rx), FlowEnd::Accepted(_)));
    assert_eq!(
        flows.deliver(&deep_link, Utc::now()),
        Err(CallbackError::UnknownState)
    );
    let loopback = code_cb(LOOPBACK, "c", "s2", Some(AS_A));
    assert_eq!(
        flows.deliver(&loopback, Utc::now()),
        Err(CallbackError::UnknownState)
    );

    // A second flow is not disturbed by replays of the first.
    let mut rx2 = flows.register(flow("s2b", AS_A, true, LOOPBACK));
    assert_eq!(
        flows.deliver(&deep_link, Utc::now()),
        Err(CallbackError::UnknownState)
    );
    still_waiting(&mut rx2);
    let second = code_cb(LOOPBACK, "c2", "s2b", Some(AS_A));
    assert_eq!(flows.deliver(&second, Utc::now()), Ok(()));
    assert_eq!(
        flows.deliver(&second, Utc::now()),
        Err(CallbackError::UnknownState)
    );
    assert!(matches!(ended(&mut rx2), FlowEnd::Accepted(a) if a.code.expose() == "c2"));
}

#[test]
fn sec_03_iss_mismatch_aborts_also_on_error_response() {
    let flows = Flows::default();
    // Code answer from the wrong issuer, even where iss is optional.
    let mut rx = flows.register(flow("s3", AS_A, false, LOOPBACK));
    assert_eq!(
        flows.deliver(&code_cb(LOOPBACK, "c", "s3", Some(AS_B)), Utc::now()),
        Ok(())
    );
    assert!(matches!(
        ended(&mut rx),
        FlowEnd::Aborted(CallbackError::IssuerMismatch)
    ));

    // Error answer from the wrong issuer: aborted, not Denied, so the
    // attacker's description never reaches the user as the AS's words.
    let mut rx = flows.register(flow("s3b", AS_A, false, LOOPBACK));
    assert_eq!(
        flows.deliver(&error_cb(LOOPBACK, "s3b", Some(AS_B)), Utc::now()),
        Ok(())
    );
    let end = ended(&mut rx);
    assert!(matches!(
        end,
        FlowEnd::Aborted(CallbackError::IssuerMismatch)
    ));
    assert!(
        !format!("{end:?}").contains("555"),
        "the AS's text is not carried"
    );
    assert_eq!(
        flows.pending(),
        0,
        "the flow is consumed: no token request can follow"
    );

    // The same error answer from the right issuer is a denial.
    let mut rx = flows.register(flow("s3c", AS_A, true, LOOPBACK));
    assert_eq!(
        flows.deliver(&error_cb(LOOPBACK, "s3c", Some(AS_A)), Utc::now()),
        Ok(())
    );
    assert!(matches!(
        ended(&mut rx),
        FlowEnd::Denied { error, description: Some(d) } if error == "access_denied" && d.contains("555")
    ));
}

#[test]
fn sec_04_missing_iss_when_advertised_aborts() {
    let flows = Flows::default();
    let mut rx = flows.register(flow("s4", AS_A, true, LOOPBACK));
    assert_eq!(
        flows.deliver(&code_cb(LOOPBACK, "c", "s4", None), Utc::now()),
        Ok(())
    );
    assert!(matches!(
        ended(&mut rx),
        FlowEnd::Aborted(CallbackError::MissingIssuer)
    ));

    let mut rx = flows.register(flow("s4b", AS_A, true, LOOPBACK));
    assert_eq!(
        flows.deliver(&error_cb(LOOPBACK, "s4b", None), Utc::now()),
        Ok(())
    );
    assert!(matches!(
        ended(&mut rx),
        FlowEnd::Aborted(CallbackError::MissingIssuer)
    ));

    // When the AS does not advertise iss, its absence is accepted (PKCE and
    // the per-issuer redirect still protect the code, case 9).
    let mut rx = flows.register(flow("s4c", AS_A, false, LOOPBACK));
    assert_eq!(
        flows.deliver(&code_cb(LOOPBACK, "c", "s4c", None), Utc::now()),
        Ok(())
    );
    assert!(matches!(ended(&mut rx), FlowEnd::Accepted(_)));
}

#[test]
fn sec_05_iss_differing_by_slash_case_or_port_aborts() {
    let variants = [
        "https://as-a.example/tenant/",
        "https://AS-A.example/tenant",
        "https://as-a.example/Tenant",
        "HTTPS://as-a.example/tenant",
        "https://as-a.example:443/tenant",
        "https://as-a.example./tenant",
        "https://as-a.example/tenant?",
        "https://as-a.example/tenant#",
        "https://as-a.example/%74enant",
        "https://as-a.example/tenant ",
        " https://as-a.example/tenant",
        "http://as-a.example/tenant",
        "",
    ];
    for variant in variants {
        for iss_required in [true, false] {
            let flows = Flows::default();
            let mut rx = flows.register(flow("s5", AS_A, iss_required, LOOPBACK));
            let cb = code_cb(LOOPBACK, "c", "s5", Some(variant));
            assert_eq!(flows.deliver(&cb, Utc::now()), Ok(()), "{variant:?}");
            assert!(
                matches!(
                    ended(&mut rx),
                    FlowEnd::Aborted(CallbackError::IssuerMismatch)
                ),
                "{variant:?} must abort"
            );
        }
    }
    // The exact issuer passes.
    let flows = Flows::default();
    let mut rx = flows.register(flow("s5", AS_A, true, LOOPBACK));
    assert_eq!(
        flows.deliver(&code_cb(LOOPBACK, "c", "s5", Some(AS_A)), Utc::now()),
        Ok(())
    );
    assert!(matches!(ended(&mut rx), FlowEnd::Accepted(_)));
}

#[test]
fn sec_06_code_for_another_as_under_this_state_is_never_accepted() {
    let flows = Flows::default();
    let mut rx_a = flows.register(flow("state-at-a", AS_A, true, LOOPBACK));
    let mut rx_b = flows.register(flow("state-at-b", AS_B, true, LOOPBACK));
    // B's code, carrying B's iss, arrives under A's state.
    let mixed = code_cb(LOOPBACK, "code-from-b", "state-at-a", Some(AS_B));
    assert_eq!(flows.deliver(&mixed, Utc::now()), Ok(()));
    let end_a = ended(&mut rx_a);
    assert!(matches!(
        end_a,
        FlowEnd::Aborted(CallbackError::IssuerMismatch)
    ));
    // No Accepted anywhere: A's flow is gone, B's still waits untouched.
    still_waiting(&mut rx_b);
    assert_eq!(flows.pending(), 1);
    assert_eq!(
        flows.deliver(&mixed, Utc::now()),
        Err(CallbackError::UnknownState)
    );
    // Same with A's iss forged missing while A promises iss.
    let mut rx_a2 = flows.register(flow("state-at-a2", AS_A, true, LOOPBACK));
    let no_iss = code_cb(LOOPBACK, "code-from-b", "state-at-a2", None);
    assert_eq!(flows.deliver(&no_iss, Utc::now()), Ok(()));
    assert!(matches!(
        ended(&mut rx_a2),
        FlowEnd::Aborted(CallbackError::MissingIssuer)
    ));
    still_waiting(&mut rx_b);
}

#[test]
fn sec_10_deep_link_without_pending_flow_is_ignored() {
    let logs = LogCapture::default();
    let code = "SECRET-CODE-1234567890";
    let state = "SECRET-STATE-0987654321";
    tracing::subscriber::with_default(logs.clone(), || {
        let flows = Flows::default();
        let link = code_cb(DEEP, code, state, Some(AS_A));
        let err = flows.deliver(&link, Utc::now()).unwrap_err();
        assert_eq!(err, CallbackError::UnknownState);
        assert!(!err.to_string().contains(code) && !format!("{err:?}").contains(code));
        assert_eq!(flows.pending(), 0);
        // Malformed links, and links to a flow that then aborts, log no values either.
        let dup = format!("{DEEP}?code={code}&code={code}&state={state}");
        assert_eq!(
            flows.deliver(&dup, Utc::now()),
            Err(CallbackError::Duplicate("code"))
        );
        let mut rx = flows.register(flow(state, AS_A, true, DEEP));
        assert_eq!(
            flows.deliver(&code_cb(DEEP, code, state, Some(AS_B)), Utc::now()),
            Ok(())
        );
        assert!(matches!(ended(&mut rx), FlowEnd::Aborted(_)));
    });
    let text = logs.0.lock().unwrap().clone();
    assert!(
        text.contains("callback dropped"),
        "drops are logged: {text}"
    );
    assert!(!text.contains(code), "the code is never logged: {text}");
    assert!(!text.contains(state), "the state is never logged: {text}");
}

// ---------------------------------------------------------------- parsing

#[test]
fn sec_11_malformed_callbacks_are_rejected_without_panic() {
    use CallbackError as E;
    let big = "a".repeat(64 * 1024);
    let cases: Vec<(String, E)> = vec![
        // Foreign schemes and hosts.
        ("https://127.0.0.1:5555/callback?code=c&state=s".into(), E::ForeignScheme),
        ("file:///callback?code=c&state=s".into(), E::ForeignScheme),
        ("javascript:alert(1)//?code=c&state=s".into(), E::ForeignScheme),
        ("data:text/html,x?code=c&state=s".into(), E::ForeignScheme),
        ("smb://127.0.0.1:5555/callback?code=c&state=s".into(), E::ForeignScheme),
        ("myapp:/callback?code=c&state=s".into(), E::ForeignScheme),
        ("http://evil.example:5555/callback?code=c&state=s".into(), E::ForeignScheme),
        ("http://localhost:5555/callback?code=c&state=s".into(), E::ForeignScheme),
        ("http://0.0.0.0:5555/callback?code=c&state=s".into(), E::ForeignScheme),
        ("http://127.0.0.2:5555/callback?code=c&state=s".into(), E::ForeignScheme),
        ("http://127.0.0.1/callback?code=c&state=s".into(), E::ForeignScheme),
        // Userinfo and fragments.
        ("http://user:pw@127.0.0.1:5555/callback?code=c&state=s".into(), E::Userinfo),
        ("http://user@127.0.0.1:5555/callback?code=c&state=s".into(), E::Userinfo),
        ("io.github.mcppassport://user@host/cb?code=c&state=s".into(), E::Userinfo),
        ("http://127.0.0.1:5555/callback?code=c&state=s#frag".into(), E::Fragment),
        ("http://127.0.0.1:5555/callback#?code=c&state=s".into(), E::Fragment),
        // NUL and control characters, raw or encoded, anywhere.
        ("http://127.0.0.1:5555/callback?code=c%00&state=s".into(), E::ControlCharacter),
        ("http://127.0.0.1:5555/callback?code=c&state=s%00x".into(), E::ControlCharacter),
        ("http://127.0.0.1:5555/call%00back?code=c&state=s".into(), E::ControlCharacter),
        ("http://127.0.0.1:5555/callback?co%00de=c&state=s".into(), E::ControlCharacter),
        ("http://127.0.0.1:5555/callback?code=c&state=s&x=%1b[31m".into(), E::ControlCharacter),
        ("http://127.0.0.1:5555/callback?code=c\0&state=s".into(), E::ControlCharacter),
        ("http://127.0.0.1:5555/callback?code=c&state=s\r\nX: y".into(), E::ControlCharacter),
        ("io.github.mcppassport:/cb?code=c&state=s%0d%0aSet-Cookie:x".into(), E::ControlCharacter),
        // Oversized values and totals.
        (format!("http://127.0.0.1:5555/callback?code={big}&state=s"), E::TooLarge),
        (format!("http://127.0.0.1:5555/callback?code=c&state={}", "s".repeat(4097)), E::TooLarge),
        (format!("http://127.0.0.1:5555/callback?code=c&state=s&{}=1", "k".repeat(4097)), E::TooLarge),
        (format!("http://127.0.0.1:5555/callback?code=c&state=s{}", "&x=1234567".repeat(2000)), E::TooLarge),
        (format!("{DEEP}?code=c&state=s&pad={big}"), E::TooLarge),
        // Duplicates, both, neither, no state.
        ("http://127.0.0.1:5555/callback?code=a&code=b&state=s".into(), E::Duplicate("code")),
        ("http://127.0.0.1:5555/callback?code=a&code=a&state=s".into(), E::Duplicate("code")),
        ("http://127.0.0.1:5555/callback?code=a&state=s&state=t".into(), E::Duplicate("state")),
        ("http://127.0.0.1:5555/callback?code=a&state=s&iss=x&iss=y".into(), E::Duplicate("iss")),
        ("http://127.0.0.1:5555/callback?error=a&error=b&state=s".into(), E::Duplicate("error")),
        ("http://127.0.0.1:5555/callback?code=a&error=x&state=s".into(), E::NoOutcome),
        ("http://127.0.0.1:5555/callback?state=s".into(), E::NoOutcome),
        ("http://127.0.0.1:5555/callback?code=&state=s".into(), E::NoOutcome),
        ("http://127.0.0.1:5555/callback?code=c".into(), E::MissingState),
        ("http://127.0.0.1:5555/callback?code=c&state=".into(), E::MissingState),
        ("http://127.0.0.1:5555/callback?code=c&STATE=s".into(), E::MissingState),
        // Whitespace: argv junk, two URLs in one string, not a URL.
        (" http://127.0.0.1:5555/callback?code=c&state=s".into(), E::Malformed),
        ("http://127.0.0.1:5555/callback?code=c&state=s ".into(), E::Malformed),
        (
            "http://127.0.0.1:5555/callback?code=c&state=s http://127.0.0.1:5555/callback?code=d&state=t".into(),
            E::Malformed,
        ),
        (format!("{DEEP}?code=c&state=s {DEEP}?code=d&state=t"), E::Malformed),
        ("--flag io.github.mcppassport:/cb?code=c&state=s".into(), E::Malformed),
        (String::new(), E::Malformed),
        ("callback?code=c&state=s".into(), E::Malformed),
        ("http://[::1/callback?code=c&state=s".into(), E::Malformed),
    ];
    for (raw, expected) in &cases {
        let shown = &raw[..raw.len().min(90)];
        assert_eq!(
            parse_callback(raw).err().as_ref(),
            Some(expected),
            "{shown}"
        );
        // Through the registry, too: nothing is consumed.
        let flows = Flows::default();
        let mut rx = flows.register(flow("s", AS_A, false, LOOPBACK));
        assert!(flows.deliver(raw, Utc::now()).is_err(), "{shown}");
        still_waiting(&mut rx);
    }

    // Argv: extra arguments are ignored, two callback URLs are refused.
    let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let one = format!("{DEEP}?code=a&state=s");
    let two = format!("{DEEP}?code=b&state=t");
    assert!(matches!(
        callback_from_args(&args(&["mcp-passport", "--hidden", &one]), SCHEME),
        Ok(Some(c)) if c.state == "s"
    ));
    assert_eq!(
        callback_from_args(&args(&["mcp-passport", &one, &two]), SCHEME).err(),
        Some(E::TwoUrls)
    );
    assert_eq!(
        callback_from_args(&args(&[&one, &one]), SCHEME).err(),
        Some(E::TwoUrls)
    );
    assert_eq!(
        callback_from_args(&args(&[&one, &two.to_uppercase()]), SCHEME).err(),
        Some(E::TwoUrls)
    );
    assert!(matches!(
        callback_from_args(&args(&["mcp-passport", "https://x.example"]), SCHEME),
        Ok(None)
    ));
    assert!(matches!(callback_from_args(&[], SCHEME), Ok(None)));
    assert_eq!(
        callback_from_args(&args(&[&format!("{one}%00")]), SCHEME).err(),
        Some(E::ControlCharacter)
    );
    assert_eq!(
        callback_from_args(&args(&[&format!("{one} --evil")]), SCHEME).err(),
        Some(E::Malformed)
    );

    // Valid forms still pass.
    for ok in [
        format!("{DEEP}?code=c&state=s"),
        "http://127.0.0.1:5555/callback?code=c&state=s".to_string(),
        "http://[::1]:5555/callback?state=s&error=access_denied".to_string(),
        format!("{DEEP}?code=c&state=s&iss={}&session_state=x", enc(AS_A)),
    ] {
        assert!(parse_callback(&ok).is_ok(), "{ok}");
    }
}

/// Hand-written hostile inputs, each must be parsed or refused without a
/// panic (the fuzz corpus; the mutation run below starts from these too).
fn corpus() -> Vec<String> {
    let mut corpus: Vec<String> = [
        "io.github.mcppassport:/oauth/callback?code=abc&state=xyz&iss=https%3A%2F%2Fas.example",
        "http://127.0.0.1:5555/callback?code=abc&state=xyz&iss=https%3A%2F%2Fas.example",
        "http://[::1]:5555/callback?error=access_denied&error_description=%F0%9F%92%A5&state=x",
        "io.github.mcppassport:",
        "io.github.mcppassport:?",
        "io.github.mcppassport:?&&&&==&=&",
        "io.github.mcppassport:%",
        "io.github.mcppassport:/%zz?code=%&state=%%",
        "io.github.mcppassport:/?code=%E0%A4%A&state=%C0%80",
        "io.github.mcppassport:/?code=%ED%A0%80&state=%FF%FE",
        "io.github.mcppassport://[::1]:99999/?code=a&state=b",
        "io.github.mcppassport://:@:/?code=a&state=b",
        "io.github.mcppassport:////////?code=a&state=b",
        "io.github.mcppassport:/..%2f..%2f/etc/passwd?code=a&state=b",
        "http://127.0.0.1:65535/callback?code=a&state=b",
        "http://127.0.0.1:65536/callback?code=a&state=b",
        "http://127.0.0.1:0/callback?code=a&state=b",
        "http://127.1:5555/callback?code=a&state=b",
        "http://2130706433:5555/callback?code=a&state=b",
        "http://0x7f.0.0.1:5555/callback?code=a&state=b",
        "http://[::ffff:127.0.0.1]:5555/callback?code=a&state=b",
        "http://127.0.0.1:5555\\callback?code=a&state=b",
        "http:127.0.0.1:5555/callback?code=a&state=b",
        "http:/127.0.0.1:5555/callback?code=a&state=b",
        "http://127.0.0.1:5555/callback?code=a&state=b&code",
        "http://127.0.0.1:5555/callback?=&=&code=a&state=b",
        "http://127.0.0.1:5555/callback?code=a+b&state=%2B",
        "http://127.0.0.1:5555/callback?code=%E2%80%AEevil&state=s",
        "http://127.0.0.1:5555/callback?code=\u{202e}evil&state=s",
        "http://127.0.0.1:5555/callback?code=\u{feff}&state=\u{200b}",
        "\u{feff}http://127.0.0.1:5555/callback?code=a&state=b",
        "http://127.0.0.1:5555/callback?code=a&state=b\u{3000}",
        "HTTP://127.0.0.1:5555/callback?code=a&state=b",
        "IO.GITHUB.MCPPASSPORT:/oauth/callback?code=a&state=b",
        "io.github.mcppassport:javascript:alert(1)?code=a&state=b",
        "io.github.mcppassport:/cb?code=a&state=b&iss=javascript%3Aalert(1)",
        "a.b:",
        ".:",
        "a.:",
        ":",
        "?",
        "#",
        "%00",
        "\0",
        "é.ü:/x?code=a&state=b",
        "xn--e1a.example:/cb?code=a&state=b",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    corpus.push(format!("{DEEP}?{}", "code=a&".repeat(3000)));
    corpus.push(format!("{DEEP}?state=s&code={}", "%41".repeat(1366)));
    corpus.push(format!("{DEEP}?state=s&code={}", "%41".repeat(1365)));
    corpus.push(format!("{DEEP}?state=s&code={}", "é".repeat(2049)));
    corpus.push(format!(
        "http://127.0.0.1:5555/{}?code=a&state=b",
        "a/".repeat(8000)
    ));
    corpus.push("%".repeat(16 * 1024));
    corpus.push("%".repeat(16 * 1024 + 1));
    corpus.push("a".repeat(1 << 20));
    corpus
}

/// What every accepted callback must satisfy.
fn check_accepted(raw: &str) {
    if let Ok(c) = parse_callback(raw) {
        assert!(!c.state.is_empty(), "{raw:?}");
        assert!(
            c.target.query().is_none() && c.target.fragment().is_none(),
            "{raw:?}"
        );
        assert!(
            c.target.username().is_empty() && c.target.password().is_none(),
            "{raw:?}"
        );
        let scheme = c.target.scheme();
        assert!(
            (scheme == "http"
                && matches!(c.target.host_str(), Some("127.0.0.1" | "[::1]"))
                && c.target.port().is_some())
                || (scheme.contains('.') && scheme != "http"),
            "{raw:?}"
        );
        assert!(
            raw.len() <= 16 * 1024 && !raw.chars().any(|ch| ch.is_control() || ch.is_whitespace())
        );
        assert!(!c.state.contains('\0') && c.state.len() <= 4096);
        match &c.outcome {
            CallbackOutcome::Code(code) => {
                assert!(!code.expose().is_empty() && !code.expose().contains('\0'))
            }
            CallbackOutcome::Error { error, .. } => assert!(!error.is_empty()),
        }
    }
}

#[test]
fn sec_11_fuzz_corpus_never_panics() {
    for raw in corpus() {
        check_accepted(&raw);
        let flows = Flows::default();
        let _rx = flows.register(flow("xyz", AS_A, true, DEEP));
        let _ = flows.deliver(&raw, Utc::now());
        let _ = callback_from_args(&[raw.clone(), "x".into()], SCHEME);
    }
}

#[test]
fn sec_11_twenty_thousand_mutated_callbacks_never_panic() {
    let seeds = corpus();
    let alphabet: Vec<&str> = vec![
        "%",
        "%00",
        "%0a",
        "%0D",
        "%7f",
        "%C2%85",
        "%E2%80%AE",
        "%FF",
        "%2",
        "%%",
        "&",
        "=",
        "?",
        "#",
        ":",
        "/",
        "//",
        "@",
        "[",
        "]",
        "::1",
        "\\",
        " ",
        "\t",
        "\n",
        "\0",
        "\u{7f}",
        "\u{85}",
        "\u{202e}",
        "é",
        "😀",
        "+",
        ".",
        "..",
        "code=",
        "state=",
        "iss=",
        "error=",
        "code=x&",
        "&state=y",
        "&iss=z",
        "&error=e",
        "http://",
        "https:",
        "127.0.0.1",
        ":5555",
        "io.github.mcppassport:",
        "javascript:",
        "a",
        "Z",
        "0",
        "-",
        "_",
        "~",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x0005_ec11);
    let flows = Flows::default();
    let mut accepted = 0usize;
    for _ in 0..20_000 {
        // Half the runs start from the callback the flow below waits for.
        let seed = if rng.gen_bool(0.5) {
            &seeds[0]
        } else {
            &seeds[rng.gen_range(0..seeds.len().min(45))]
        };
        let mut s: Vec<char> = seed.chars().collect();
        for _ in 0..rng.gen_range(1..8) {
            let at = rng.gen_range(0..=s.len());
            match rng.gen_range(0..6) {
                0 => {
                    let piece = alphabet[rng.gen_range(0..alphabet.len())];
                    s.splice(at..at, piece.chars());
                }
                1 if at < s.len() => {
                    s.remove(at);
                }
                2 if at < s.len() => {
                    let piece = alphabet[rng.gen_range(0..alphabet.len())];
                    s.splice(at..(at + 1), piece.chars());
                }
                3 => {
                    // Duplicate a slice (repeats parameters, grows values).
                    let end = rng.gen_range(at..=s.len());
                    let copy: Vec<char> = s[at..end].to_vec();
                    let times = rng.gen_range(1..4);
                    for _ in 0..times {
                        s.splice(end..end, copy.iter().copied());
                    }
                }
                4 => {
                    // Splice in a chunk of another seed.
                    let other: Vec<char> = seeds[rng.gen_range(0..seeds.len().min(45))]
                        .chars()
                        .collect();
                    let from = rng.gen_range(0..=other.len());
                    let to = rng.gen_range(from..=other.len());
                    s.splice(at..at, other[from..to].iter().copied());
                }
                _ => {
                    // A long value.
                    let n = rng.gen_range(0..6000);
                    s.splice(at..at, std::iter::repeat_n('A', n));
                }
            }
        }
        let raw: String = s.into_iter().collect();
        check_accepted(&raw);
        let mut rx = flows.register(flow("xyz", "https://as.example", false, DEEP));
        if flows.deliver(&raw, Utc::now()).is_ok() {
            accepted += 1;
            assert!(
                rx.try_recv().is_ok(),
                "an Ok delivery ends the flow: {raw:?}"
            );
        }
        flows.cancel("xyz");
        let _ = callback_from_args(&[raw, "--x".into()], SCHEME);
    }
    // The run must exercise the accepting path too, not only refusals.
    assert!(
        accepted > 100,
        "only {accepted} mutated callbacks ended a flow"
    );
}

// ---------------------------------------------------------------- loopback

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Sends one raw HTTP/1.1 request and returns the status code.
async fn raw_request(port: u16, request: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut response),
    )
    .await;
    let text = String::from_utf8_lossy(&response);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

async fn port_is_closed(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
}

#[tokio::test]
async fn sec_12_loopback_listener_binds_127_0_0_1_ephemeral_and_closes_after_one_callback() {
    let listener = LoopbackListener::bind().await.unwrap();
    let port = listener.port();
    assert_ne!(port, 0);
    let redirect = listener.redirect_uri();
    assert_eq!(redirect, format!("http://127.0.0.1:{port}/callback"));
    // Bound on 127.0.0.1 only: not reachable through ::1.
    assert!(tokio::net::TcpStream::connect(("::1", port)).await.is_err());

    let flows = Arc::new(Flows::default());
    let rx = flows.register(flow("s12", AS_A, true, &redirect));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let serving = tokio::spawn(listener.serve(
        Arc::clone(&flows),
        clock,
        std::time::Duration::from_secs(20),
    ));
    let url = code_cb(&redirect, "the-code", "s12", Some(AS_A));
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("You can close this tab and return to MCP Passport"));
    let FlowEnd::Accepted(accepted) = rx.await.unwrap() else {
        panic!("the flow should be accepted");
    };
    assert_eq!(accepted.code.expose(), "the-code");
    assert_eq!(accepted.flow.redirect_uri, redirect);
    assert_eq!(
        tokio::time::timeout(std::time::Duration::from_secs(5), serving)
            .await
            .unwrap()
            .unwrap(),
        ListenerEnd::Delivered
    );
    assert!(
        port_is_closed(port).await,
        "the port is closed after one callback"
    );
    assert!(client().get(&url).send().await.is_err());

    // Timeout: nobody calls back; the listener ends and closes its port.
    let idle = LoopbackListener::bind().await.unwrap();
    let idle_port = idle.port();
    let started = std::time::Instant::now();
    let end = idle
        .serve(
            Arc::new(Flows::default()),
            Arc::new(SystemClock),
            std::time::Duration::from_millis(300),
        )
        .await;
    assert_eq!(end, ListenerEnd::TimedOut);
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert!(port_is_closed(idle_port).await);

    // Timeout after only refused callbacks: they do not end the listener.
    let listener = LoopbackListener::bind().await.unwrap();
    let (port, redirect) = (listener.port(), listener.redirect_uri());
    let flows = Arc::new(Flows::default());
    let mut rx = flows.register(flow("s12b", AS_A, true, &redirect));
    let serving = tokio::spawn(listener.serve(
        Arc::clone(&flows),
        Arc::new(SystemClock),
        std::time::Duration::from_millis(1500),
    ));
    let unknown = code_cb(&redirect, "c", "someone-else", Some(AS_A));
    assert_eq!(
        client()
            .get(&unknown)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        400
    );
    assert_eq!(serving.await.unwrap(), ListenerEnd::TimedOut);
    assert!(port_is_closed(port).await);
    still_waiting(&mut rx);
}

#[tokio::test]
async fn sec_12_one_listener_serves_every_flow_of_a_sign_in_and_closes_when_it_ends() {
    use passport_core::loopback::sign_in_via_loopback;
    let flows = Arc::new(Flows::default());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let timeout = std::time::Duration::from_secs(20);
    let registry = Arc::clone(&flows);
    let (port, ends) =
        sign_in_via_loopback(Arc::clone(&flows), clock, timeout, |redirect| async move {
            let port: u16 = url::Url::parse(&redirect).unwrap().port().unwrap();
            let receivers: Vec<_> = ["m1", "m2", "m3"]
                .iter()
                .map(|state| registry.register(flow(state, AS_A, true, &redirect)))
                .collect();
            // The answers come back in any order, one after the other at once;
            // a stranger's state in between is refused and ends nothing.
            for state in ["m3", "someone-else", "m1", "m2"] {
                let status = client()
                    .get(code_cb(&redirect, "c", state, Some(AS_A)))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16();
                assert_eq!(
                    status,
                    if state == "someone-else" { 400 } else { 200 },
                    "{state}"
                );
            }
            let mut ends = Vec::new();
            for rx in receivers {
                ends.push(matches!(rx.await.unwrap(), FlowEnd::Accepted(_)));
            }
            (port, ends)
        })
        .await
        .unwrap();
    assert_eq!(ends, vec![true, true, true]);
    assert!(port_is_closed(port).await, "closed when the sign-in ended");

    // Cancelled (the sign-in's future dropped while its flow waits): closed too.
    let (seen, told) = tokio::sync::oneshot::channel::<u16>();
    let registry = Arc::clone(&flows);
    let cancelled = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        sign_in_via_loopback(
            Arc::clone(&flows),
            Arc::new(SystemClock),
            timeout,
            |redirect| async move {
                let _rx = registry.register(flow("waits", AS_A, true, &redirect));
                let _ = seen.send(url::Url::parse(&redirect).unwrap().port().unwrap());
                std::future::pending::<()>().await;
            },
        ),
    )
    .await;
    assert!(cancelled.is_err());
    let port = told.await.unwrap();
    assert!(
        port_is_closed(port).await,
        "closed when the sign-in was cancelled"
    );
    flows.cancel("waits");
}

#[tokio::test]
async fn sec_13_wrong_path_or_host_is_400_and_state_survives() {
    let listener = LoopbackListener::bind().await.unwrap();
    let (port, redirect) = (listener.port(), listener.redirect_uri());
    let flows = Arc::new(Flows::default());
    let rx = flows.register(flow("s13", AS_A, true, &redirect));
    let serving = tokio::spawn(listener.serve(
        Arc::clone(&flows),
        Arc::new(SystemClock),
        std::time::Duration::from_secs(20),
    ));
    let query = format!("code=c&state=s13&iss={}", enc(AS_A));
    let host = format!("127.0.0.1:{port}");

    for path in ["/other", "/", "/callback/", "/Callback", "//callback"] {
        let url = format!("http://127.0.0.1:{port}{path}?{query}");
        let response = client().get(&url).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 400, "{path}");
        assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    }
    let bad_requests = [
        // Raw paths that a URL library would have normalized.
        format!(
            "GET /callback/../callback?{query} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        ),
        format!("GET /%63allback?{query} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        format!(
            "GET /callback?{query} HTTP/1.1\r\nHost: evil.example:{port}\r\nConnection: close\r\n\r\n"
        ),
        format!(
            "GET /callback?{query} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"
        ),
        format!("GET /callback?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
        format!("GET /callback?{query} HTTP/1.1\r\nHost: 127.0.0.1:1\r\nConnection: close\r\n\r\n"),
        format!(
            "GET /callback?{query} HTTP/1.1\r\nHost: {host}\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
        ),
        format!(
            "GET http://evil.example/callback?{query} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        ),
        format!(
            "POST /callback?{query} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
        format!("GET /callback?{query} HTTP/1.0\r\nConnection: close\r\n\r\n"),
    ];
    for request in &bad_requests {
        let status = raw_request(port, request).await;
        assert_eq!(status, 400, "{request:?}");
    }
    assert_eq!(flows.pending(), 1, "the flow's state was not consumed");

    // The right request still succeeds, with the safe headers.
    let response = client()
        .get(format!("{redirect}?{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; style-src 'unsafe-inline'"
    );
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(headers.get("access-control-allow-origin").is_none());
    let page = response.text().await.unwrap();
    for needle in ["http:", "https:", "//", "src=", "href=", "<script", "url("] {
        assert!(
            !page.contains(needle),
            "the success page loads nothing ({needle})"
        );
    }
    assert!(matches!(rx.await.unwrap(), FlowEnd::Accepted(_)));
    assert_eq!(serving.await.unwrap(), ListenerEnd::Delivered);
    assert!(port_is_closed(port).await);
}

#[tokio::test]
async fn loopback_failure_page_has_the_same_safe_headers() {
    let listener = LoopbackListener::bind().await.unwrap();
    let redirect = listener.redirect_uri();
    let flows = Arc::new(Flows::default());
    let serving = tokio::spawn(listener.serve(
        Arc::clone(&flows),
        Arc::new(SystemClock),
        std::time::Duration::from_millis(800),
    ));
    let response = client()
        .get(code_cb(&redirect, "c", "nobody", None))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    assert_eq!(
        response.headers()["content-security-policy"],
        "default-src 'none'; style-src 'unsafe-inline'"
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(!response.text().await.unwrap().contains("nobody"));
    assert_eq!(serving.await.unwrap(), ListenerEnd::TimedOut);
}

// ---------------------------------------------------------------- PKCE

#[test]
fn sec_17_pkce_property() {
    let mut verifiers = HashSet::new();
    let mut states = HashSet::new();
    for _ in 0..10_000 {
        let (challenge, verifier) = new_pkce();
        let secret = verifier.secret();
        assert!(
            secret.len() >= 43 && secret.len() <= 128,
            "RFC 7636 section 4.1"
        );
        assert!(
            secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        );
        assert_eq!(challenge.method().as_str(), "S256");
        assert_eq!(
            challenge.as_str(),
            URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(secret.as_bytes()))
        );
        assert!(verifiers.insert(secret.clone()), "verifier repeated");
        let state = new_state();
        assert!(state.len() >= 22, "at least 128 bits");
        assert!(URL_SAFE_NO_PAD.decode(&state).is_ok_and(|b| b.len() >= 16));
        assert!(states.insert(state), "state repeated");
    }
    assert_eq!(verifiers.len(), 10_000);
    assert_eq!(states.len(), 10_000);
}
