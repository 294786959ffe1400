//! SECURITY-CASES 1-6 and 10-13 on the callback path: typed parsing, the
//! pending-flow registry and the loopback listener, with real sockets on
//! 127.0.0.1 where a socket is involved.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{Duration, Utc};
use passport_core::callback::{CallbackError, callback_from_args, parse_callback};
use passport_core::clock::{Clock, SystemClock};
use passport_core::flows::{FlowEnd, Flows, PendingFlow};
use passport_core::loopback::{ListenerEnd, LoopbackListener};
use std::sync::Arc;

const ISSUER: &str = "http://127.0.0.1:9400";
const REDIRECT: &str = "http://127.0.0.1:5555/callback";

fn flow(state: &str, iss_required: bool) -> PendingFlow {
    PendingFlow {
        state: state.into(),
        issuer: ISSUER.into(),
        iss_required,
        redirect_uri: REDIRECT.into(),
        verifier: passport_core::pkce::new_pkce().1,
        expires_at: Utc::now() + Duration::minutes(5),
    }
}

fn callback(state: &str, iss: Option<&str>) -> String {
    let mut url = url::Url::parse(REDIRECT).unwrap();
    url.query_pairs_mut()
        .append_pair("code", "the-code")
        .append_pair("state", state);
    if let Some(iss) = iss {
        url.query_pairs_mut().append_pair("iss", iss);
    }
    url.to_string()
}

#[tokio::test]
async fn sec_01_unknown_missing_or_used_state_is_dropped() {
    let flows = Flows::default();
    let mut rx = flows.register(flow("s1", true));
    assert_eq!(
        flows.deliver(&callback("other", Some(ISSUER)), Utc::now()),
        Err(CallbackError::UnknownState)
    );
    assert_eq!(
        flows.deliver(&format!("{REDIRECT}?code=c&iss={ISSUER}"), Utc::now()),
        Err(CallbackError::MissingState)
    );
    assert_eq!(flows.pending(), 1, "the flow still waits");
    assert!(rx.try_recv().is_err(), "nothing was handed to the flow");
    flows
        .deliver(&callback("s1", Some(ISSUER)), Utc::now())
        .unwrap();
    assert!(matches!(rx.await.unwrap(), FlowEnd::Accepted(_)));
    assert_eq!(
        flows.deliver(&callback("s1", Some(ISSUER)), Utc::now()),
        Err(CallbackError::UnknownState),
        "used"
    );
    let _expired = flows.register(PendingFlow {
        expires_at: Utc::now() - Duration::seconds(1),
        ..flow("old", true)
    });
    assert_eq!(
        flows.deliver(&callback("old", Some(ISSUER)), Utc::now()),
        Err(CallbackError::UnknownState),
        "expired"
    );
}

#[tokio::test]
async fn sec_02_same_callback_twice_second_is_ignored() {
    let flows = Flows::default();
    let rx = flows.register(PendingFlow {
        redirect_uri: "io.github.mcppassport:/oauth/callback".into(),
        ..flow("s2", true)
    });
    let deep_link = format!("io.github.mcppassport:/oauth/callback?code=c&state=s2&iss={ISSUER}");
    flows.deliver(&deep_link, Utc::now()).unwrap();
    assert!(matches!(rx.await.unwrap(), FlowEnd::Accepted(_)));
    assert_eq!(
        flows.deliver(&deep_link, Utc::now()),
        Err(CallbackError::UnknownState)
    );
    assert_eq!(
        flows.deliver(&callback("s2", Some(ISSUER)), Utc::now()),
        Err(CallbackError::UnknownState)
    );
}

#[tokio::test]
async fn sec_03_iss_mismatch_aborts_also_on_error_response() {
    let flows = Flows::default();
    let rx = flows.register(flow("s3", false));
    flows
        .deliver(&callback("s3", Some("http://127.0.0.1:9401")), Utc::now())
        .unwrap();
    assert!(matches!(
        rx.await.unwrap(),
        FlowEnd::Aborted(CallbackError::IssuerMismatch)
    ));
    let rx = flows.register(flow("s3b", false));
    let error = format!(
        "{REDIRECT}?error=access_denied&error_description=trust+me&state=s3b&iss=http%3A%2F%2Fevil.example"
    );
    flows.deliver(&error, Utc::now()).unwrap();
    assert!(
        matches!(
            rx.await.unwrap(),
            FlowEnd::Aborted(CallbackError::IssuerMismatch)
        ),
        "the AS's error text is not surfaced"
    );
}

#[tokio::test]
async fn sec_04_missing_iss_when_advertised_aborts() {
    let flows = Flows::default();
    let rx = flows.register(flow("s4", true));
    flows.deliver(&callback("s4", None), Utc::now()).unwrap();
    assert!(matches!(
        rx.await.unwrap(),
        FlowEnd::Aborted(CallbackError::MissingIssuer)
    ));
}

#[tokio::test]
async fn sec_05_iss_differing_by_slash_case_or_port_aborts() {
    for variant in [
        "http://127.0.0.1:9400/",
        "HTTP://127.0.0.1:9400",
        "http://127.0.0.1:9400:80",
        "http://localhost:9400",
    ] {
        let flows = Flows::default();
        let rx = flows.register(flow("s5", true));
        flows
            .deliver(&callback("s5", Some(variant)), Utc::now())
            .unwrap();
        assert!(
            matches!(
                rx.await.unwrap(),
                FlowEnd::Aborted(CallbackError::IssuerMismatch)
            ),
            "{variant}"
        );
    }
}

#[tokio::test]
async fn sec_06_code_for_another_as_under_this_state_is_never_accepted() {
    let flows = Flows::default();
    let rx_a = flows.register(flow("state-at-a", true));
    flows
        .deliver(
            &callback("state-at-a", Some("http://127.0.0.1:9999")),
            Utc::now(),
        )
        .unwrap();
    assert!(
        matches!(
            rx_a.await.unwrap(),
            FlowEnd::Aborted(CallbackError::IssuerMismatch)
        ),
        "no code is released for any token endpoint"
    );
}

#[tokio::test]
async fn sec_10_deep_link_without_pending_flow_is_ignored() {
    let flows = Flows::default();
    let link = format!("io.github.mcppassport:/oauth/callback?code=SECRET&state=s&iss={ISSUER}");
    let err = flows.deliver(&link, Utc::now()).unwrap_err();
    assert_eq!(err, CallbackError::UnknownState);
    assert!(!err.to_string().contains("SECRET"));
}

#[test]
fn sec_11_malformed_callbacks_are_rejected_without_panic() {
    let big = "a".repeat(64 * 1024);
    let cases = [
        "https://127.0.0.1:5555/callback?code=c&state=s".to_string(),
        "file:///callback?code=c&state=s".to_string(),
        "javascript:alert(1)//?code=c&state=s".to_string(),
        "myapp:/callback?code=c&state=s".to_string(),
        "http://user:pw@127.0.0.1:5555/callback?code=c&state=s".to_string(),
        "http://127.0.0.1:5555/callback?code=c%00&state=s".to_string(),
        "http://127.0.0.1:5555/callback?code=c&state=s#frag".to_string(),
        format!("http://127.0.0.1:5555/callback?code={big}&state=s"),
        "http://127.0.0.1:5555/callback?code=a&code=b&state=s".to_string(),
        "http://127.0.0.1:5555/callback?code=a&state=s&state=t".to_string(),
        "http://127.0.0.1:5555/callback?code=a&error=x&state=s".to_string(),
        "http://127.0.0.1:5555/callback?state=s".to_string(),
        "http://evil.example:5555/callback?code=c&state=s".to_string(),
        " http://127.0.0.1:5555/callback?code=c&state=s".to_string(),
        "http://127.0.0.1:5555/callback?code=c&state=s http://127.0.0.1:5555/callback?code=d&state=s".to_string(),
        String::new(),
    ];
    for case in &cases {
        assert!(
            parse_callback(case).is_err(),
            "accepted: {}",
            &case[..case.len().min(80)]
        );
    }
    let args: Vec<String> = vec![
        "--flag".into(),
        "io.github.mcppassport:/cb?code=a&state=s".into(),
        "io.github.mcppassport:/cb?code=b&state=t".into(),
    ];
    assert_eq!(
        callback_from_args(&args, "io.github.mcppassport").err(),
        Some(CallbackError::TwoUrls)
    );
    assert!(
        callback_from_args(&args[..2], "io.github.mcppassport")
            .unwrap()
            .is_some()
    );
    assert!(
        callback_from_args(&["other:x".to_string()], "io.github.mcppassport")
            .unwrap()
            .is_none()
    );

    // Seeded mutation: 20,000 variants of a valid callback never panic.
    let seed = "io.github.mcppassport:/oauth/callback?code=abc&state=xyz&iss=http%3A%2F%2F127.0.0.1%3A9400";
    let alphabet: Vec<char> = "%&=?#:/@ \u{0}\u{7f}azAZ09-_.~é\\\"'<>".chars().collect();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        let mut s: Vec<char> = seed.chars().collect();
        for _ in 0..4 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = (x as usize) % (s.len() + 1);
            let c = alphabet[(x >> 32) as usize % alphabet.len()];
            match (x >> 8) % 3 {
                0 if at < s.len() => s[at] = c,
                1 => s.insert(at.min(s.len()), c),
                _ if at < s.len() => {
                    s.remove(at);
                }
                _ => {}
            }
        }
        let _ = parse_callback(&s.into_iter().collect::<String>());
    }
}

async fn get(url: &str, host: Option<&str>) -> Result<u16, reqwest::Error> {
    let mut request = reqwest::Client::new().get(url);
    if let Some(host) = host {
        request = request.header("host", host);
    }
    Ok(request.send().await?.status().as_u16())
}

#[tokio::test]
async fn sec_12_loopback_listener_binds_127_0_0_1_ephemeral_and_closes_after_one_callback() {
    let listener = LoopbackListener::bind().await.unwrap();
    assert_ne!(listener.port(), 0);
    let redirect = listener.redirect_uri();
    assert!(redirect.starts_with("http://127.0.0.1:") && redirect.ends_with("/callback"));
    let flows = Arc::new(Flows::default());
    let rx = flows.register(PendingFlow {
        redirect_uri: redirect.clone(),
        ..flow("s12", true)
    });
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let serving =
        tokio::spawn(listener.serve(flows.clone(), clock, std::time::Duration::from_secs(10)));
    let url = format!("{redirect}?code=c&state=s12&iss={}", urlencode(ISSUER));
    assert_eq!(get(&url, None).await.unwrap(), 200);
    assert!(matches!(rx.await.unwrap(), FlowEnd::Accepted(_)));
    assert_eq!(serving.await.unwrap(), ListenerEnd::Delivered);
    assert!(
        get(&url, None).await.is_err(),
        "the port is closed after one callback"
    );

    let idle = LoopbackListener::bind().await.unwrap();
    let end = idle
        .serve(
            Arc::new(Flows::default()),
            Arc::new(SystemClock),
            std::time::Duration::from_millis(200),
        )
        .await;
    assert_eq!(end, ListenerEnd::TimedOut);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn sec_13_wrong_path_or_host_is_400_and_state_survives() {
    let listener = LoopbackListener::bind().await.unwrap();
    let redirect = listener.redirect_uri();
    let port = listener.port();
    let flows = Arc::new(Flows::default());
    let rx = flows.register(PendingFlow {
        redirect_uri: redirect.clone(),
        ..flow("s13", true)
    });
    let serving = tokio::spawn(listener.serve(
        flows.clone(),
        Arc::new(SystemClock),
        std::time::Duration::from_secs(10),
    ));
    let query = format!("code=c&state=s13&iss={}", urlencode(ISSUER));
    assert_eq!(
        get(&format!("http://127.0.0.1:{port}/other?{query}"), None)
            .await
            .unwrap(),
        400
    );
    assert_eq!(
        get(
            &format!("{redirect}?{query}"),
            Some(&format!("evil.example:{port}"))
        )
        .await
        .unwrap(),
        400
    );
    assert_eq!(flows.pending(), 1, "the flow's state was not consumed");
    let response = reqwest::get(format!("{redirect}?{query}")).await.unwrap();
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    let page = response.text().await.unwrap();
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "the success page loads nothing"
    );
    assert!(matches!(rx.await.unwrap(), FlowEnd::Accepted(_)));
    assert_eq!(serving.await.unwrap(), ListenerEnd::Delivered);
}
