//! The dashboard's commands on Tauri's mock runtime: the real controller,
//! engine and demo stack, with the webview's IPC simulated. Proves that
//! commands answer with views (never a token), that bad input gets a
//! `{code, message}` error and changes nothing, and that state changes and
//! notifications reach the shell.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use passport_app::passport::{Event, Passport};
use passport_app::settings::{Redirect, Settings};
use passport_core::engine::Opener;
use passport_core::store::{MemoryStore, StoreKey, TokenStore};
use reference_as::demo::{Demo, DemoConfig};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{
    INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets,
};
use tauri::webview::InvokeRequest;

/// The person at the browser, in process: approves and follows the loopback
/// redirect, or (while `away` is set) leaves the page open and does nothing.
#[derive(Default)]
struct Approver {
    away: Arc<AtomicBool>,
}

impl Opener for Approver {
    fn open(&self, url: &url::Url) -> Result<(), String> {
        if self.away.load(Ordering::SeqCst) {
            return Ok(());
        }
        let approval = reference_as::approve::Approval {
            url: url.to_string(),
            user: ("demo".into(), "demo".into()),
            servers: vec!["github-mcp".into(), "slack-mcp".into()],
            exec: None,
        };
        tokio::spawn(async move { reference_as::approve::approve(&approval).await });
        Ok(())
    }
}

/// The servers (id, status) and the banner's message, as the page would show them.
type Shown = (Vec<(String, String)>, Option<String>);

struct Harness {
    demo: Demo,
    passport: Arc<Passport>,
    store: Arc<MemoryStore>,
    events: Arc<Mutex<Vec<Event>>>,
    /// What the page would have shown at each `Changed`.
    shown: Arc<Mutex<Vec<Shown>>>,
    away: Arc<AtomicBool>,
    webview: tauri::WebviewWindow<MockRuntime>,
    _app: tauri::App<MockRuntime>,
    _home: tempfile::TempDir,
}

async fn harness() -> Harness {
    let demo = Demo::start(DemoConfig::default()).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let settings = Settings {
        paths: passport_broker::paths::Paths::under(home.path().to_path_buf()),
        keyring_service: "unused".into(),
        redirect: Redirect::Loopback,
        broker_port: 0,
        demo: false,
        hidden: true,
    };
    let store = Arc::new(MemoryStore::new());
    let events = Arc::new(Mutex::new(Vec::new()));
    let shown = Arc::new(Mutex::new(Vec::new()));
    let me: Arc<OnceLock<Weak<Passport>>> = Arc::new(OnceLock::new());
    let (sink, seen, myself) = (Arc::clone(&events), Arc::clone(&shown), Arc::clone(&me));
    let approver = Approver::default();
    let away = Arc::clone(&approver.away);
    let passport = Passport::open(
        settings,
        store.clone(),
        Arc::new(approver),
        Arc::new(move |e| {
            if e == Event::Changed
                && let Some(p) = myself.get().and_then(Weak::upgrade)
            {
                let o = p.overview(false);
                let servers = o
                    .accounts
                    .iter()
                    .flat_map(|a| {
                        a.servers
                            .iter()
                            .map(|s| (s.id.clone(), s.status.to_string()))
                    })
                    .collect();
                seen.lock().unwrap().push((servers, o.activity.message));
            }
            sink.lock().unwrap().push(e);
        }),
    )
    .unwrap();
    me.set(Arc::downgrade(&passport)).unwrap();
    passport.start().await;
    let app = mock_builder()
        .invoke_handler(passport_app::commands::handler())
        .manage(Arc::clone(&passport))
        .build(mock_context(noop_assets()))
        .unwrap();
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    Harness {
        demo,
        passport,
        store,
        events,
        shown,
        away,
        webview,
        _app: app,
        _home: home,
    }
}

fn invoke(h: &Harness, cmd: &str, body: Value) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: InvokeBody::Json(body),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(&h.webview, request).map(|b| b.deserialize::<Value>().unwrap())
}

async fn signed_in(h: &Harness) -> Value {
    invoke(h, "sign_in", json!({"target": h.demo.info().issuer})).unwrap();
    sign_in_ended(h).await
}

/// Waits until no sign-in is pending and there is an account; returns the overview.
async fn sign_in_ended(h: &Harness) -> Value {
    for _ in 0..150 {
        let overview = invoke(h, "overview", json!({})).unwrap();
        if overview["activity"]["signing_in"].is_null()
            && !overview["accounts"].as_array().unwrap().is_empty()
        {
            return overview;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no sign-in: {:?}", invoke(h, "overview", json!({})));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_overview_lists_servers_with_expiry_and_never_holds_a_secret() {
    let h = harness().await;
    let overview = signed_in(&h).await;
    let servers = overview["accounts"][0]["servers"].as_array().unwrap();
    let ids: Vec<&str> = servers.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["github-mcp", "slack-mcp"]);
    assert!(
        servers
            .iter()
            .all(|s| s["expires_at"].is_string() && s["status"] == "active")
    );
    assert_eq!(overview["broker"]["running"], json!(true));

    let grant = h.passport.engine().grants()[0].clone();
    let refresh = h
        .store
        .get(&StoreKey::RefreshToken {
            grant_id: grant.id.clone(),
        })
        .unwrap()
        .unwrap();
    let access = h.passport.engine().token("github-mcp").await.unwrap();
    let text = invoke(&h, "overview", json!({})).unwrap().to_string();
    assert!(
        !text.contains(refresh.as_str()),
        "no refresh token in what the webview gets"
    );
    assert!(
        !text.contains(access.access_token.expose()),
        "no access token in what the webview gets"
    );
    assert!(h.events.lock().unwrap().contains(&Event::SignedIn));
    h.passport.shutdown().await;
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_code_and_a_next_step_and_changes_nothing() {
    let h = harness().await;
    signed_in(&h).await;
    let state = std::fs::read_to_string(h._home.path().join("state.json")).unwrap();
    let cases = [
        (
            "sign_in",
            json!({"target": "file:///etc/passwd"}),
            "url_refused",
        ),
        (
            "sign_in",
            json!({"target": "http://example.com"}),
            "url_refused",
        ),
        ("sign_in", json!({"target": "   "}), "no_target"),
        ("cancel_sign_in", json!({}), "no_sign_in"),
        (
            "revoke_server",
            json!({"server": "no-such-server"}),
            "not_granted",
        ),
        (
            "sign_out",
            json!({"issuer": "https://elsewhere.example"}),
            "not_signed_in",
        ),
        (
            "add_servers",
            json!({"issuer": "https://elsewhere.example"}),
            "not_signed_in",
        ),
        (
            "refresh_now",
            json!({"issuer": "https://elsewhere.example"}),
            "not_signed_in",
        ),
    ];
    for (cmd, body, code) in cases {
        let err = invoke(&h, cmd, body.clone()).expect_err(cmd);
        assert_eq!(err["code"], json!(code), "{cmd} {body}: {err}");
        assert!(
            err["message"].as_str().is_some_and(|m| m.len() > 20),
            "{cmd}: a sentence: {err}"
        );
        let overview = invoke(&h, "overview", json!({})).unwrap();
        assert_eq!(
            overview["activity"]["error"]["code"],
            json!(code),
            "the banner shows it"
        );
    }
    let missing = invoke(&h, "revoke_server", json!({})).expect_err("a missing argument");
    assert!(missing.to_string().contains("server"), "{missing}");
    assert_eq!(
        std::fs::read_to_string(h._home.path().join("state.json")).unwrap(),
        state,
        "nothing changed"
    );
    h.passport.shutdown().await;
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn revoke_refresh_and_sign_out_report_what_they_did() {
    let h = harness().await;
    signed_in(&h).await;
    let refreshed = invoke(&h, "refresh_now", json!({"issuer": h.demo.info().issuer})).unwrap();
    assert!(
        refreshed
            .as_str()
            .unwrap()
            .starts_with("Refreshed 2 token(s)"),
        "{refreshed}"
    );
    let revoked = invoke(&h, "revoke_server", json!({"server": "slack-mcp"})).unwrap();
    assert!(
        revoked
            .as_str()
            .unwrap()
            .contains("removed from your sign-in"),
        "{revoked}"
    );
    let overview = invoke(&h, "overview", json!({})).unwrap();
    let ids: Vec<&str> = overview["accounts"][0]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["github-mcp"]);
    assert_eq!(overview["accounts"][0]["account"], "demo");
    let other = json!({"issuer": h.demo.info().issuer, "account": "work"});
    assert!(
        invoke(&h, "sign_out", other).is_err(),
        "no account of that label"
    );
    assert_eq!(
        invoke(&h, "overview", json!({})).unwrap()["accounts"][0]["servers"],
        overview["accounts"][0]["servers"],
        "signing out of another account changed nothing"
    );
    let out = invoke(&h, "sign_out", json!({"issuer": h.demo.info().issuer})).unwrap();
    assert!(out.as_str().unwrap().starts_with("Signed out"));
    assert_eq!(
        invoke(&h, "overview", json!({})).unwrap()["accounts"],
        json!([])
    );
    h.passport.shutdown().await;
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grant_revoked_at_the_as_raises_one_notification_not_one_per_look() {
    let h = harness().await;
    signed_in(&h).await;
    reference_as::approve::revoke_everything(&h.demo.info().issuer, ("demo", "demo"))
        .await
        .unwrap();
    let err =
        invoke(&h, "refresh_now", json!({"issuer": h.demo.info().issuer})).expect_err("refused");
    assert_eq!(err["code"], json!("sign_in_needed"));
    h.passport.notice_changes();
    h.passport.notice_changes();
    let notices: Vec<Event> = h
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::Notify { .. }))
        .cloned()
        .collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(matches!(&notices[0], Event::Notify { title, .. } if title == "Sign-in needed"));
    h.passport.shutdown().await;
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_is_revoking_until_the_as_has_revoked_it_and_only_then_gone() {
    let h = harness().await;
    signed_in(&h).await;
    h.passport.notice_changes(); // the watcher has seen the signed-in state
    h.shown.lock().unwrap().clear();
    // The watcher looks at the grants while the revoke runs, as it does every two seconds.
    let passport = Arc::clone(&h.passport);
    let watching = tokio::spawn(async move {
        loop {
            passport.notice_changes();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let revoked = invoke(&h, "revoke_server", json!({"server": "slack-mcp"})).unwrap();
    watching.abort();
    assert!(
        revoked.as_str().unwrap().contains("tokens were revoked"),
        "{revoked}"
    );
    let shown = h.shown.lock().unwrap().clone();
    assert!(
        shown.iter().any(|(servers, _)| servers
            .iter()
            .any(|(id, status)| id == "slack-mcp" && status == "revoking")),
        "the page was told slack is being revoked: {shown:?}"
    );
    for (servers, message) in &shown {
        let slack = servers.iter().find(|(id, _)| id == "slack-mcp");
        assert!(
            slack.is_none_or(|(_, status)| status == "revoking"),
            "slack is revoking until its revoke has finished, then gone: {shown:?}"
        );
        assert!(
            message.is_none() || slack.is_none(),
            "the outcome is shown only once slack is gone: {shown:?}"
        );
    }
    let (servers, message) = shown.last().unwrap();
    assert!(
        !servers.iter().any(|(id, _)| id == "slack-mcp") && message.is_some(),
        "in the end, slack is gone and the outcome shown: {shown:?}"
    );
    h.passport.shutdown().await;
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_second_sign_in_starts_while_one_waits_and_the_waiting_one_can_be_cancelled() {
    let h = harness().await;
    signed_in(&h).await;
    let issuer = h.demo.info().issuer.clone();
    h.away.store(true, Ordering::SeqCst);
    invoke(&h, "add_servers", json!({"issuer": issuer})).unwrap();
    let waiting = invoke(&h, "overview", json!({})).unwrap();
    assert!(waiting["activity"]["signing_in"].is_string(), "{waiting}");
    for (cmd, body) in [
        ("add_servers", json!({"issuer": issuer})),
        ("sign_in", json!({"target": issuer})),
    ] {
        let err = invoke(&h, cmd, body).expect_err(cmd);
        assert_eq!(err["code"], json!("busy"), "{cmd}: {err}");
        assert!(
            err["message"].as_str().unwrap().contains("cancel it"),
            "{err}"
        );
    }
    invoke(&h, "cancel_sign_in", json!({})).unwrap();
    let cancelled = invoke(&h, "overview", json!({})).unwrap();
    assert!(cancelled["activity"]["signing_in"].is_null(), "{cancelled}");
    assert!(
        cancelled["activity"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Sign-in cancelled"),
        "{cancelled}"
    );
    h.away.store(false, Ordering::SeqCst);
    invoke(&h, "add_servers", json!({"issuer": issuer})).unwrap();
    let again = sign_in_ended(&h).await;
    assert_eq!(
        again["activity"]["message"],
        json!("Signed in: GitHub (sample), Slack (sample)."),
        "after a cancel, a new sign-in starts and ends: {again}"
    );
    h.passport.shutdown().await;
    h.demo.shutdown().await;
}

/// Calls the demo's write tool `create_issue` on the MCP server at `url`
/// with `token` (initialize, initialized, tools/call); returns the call's
/// HTTP status.
async fn create_issue(url: &str, token: &str) -> u16 {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let post = |body: Value, session: Option<String>| {
        let mut r = http
            .post(url)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(s) = session {
            r = r.header("mcp-session-id", s);
        }
        r.send()
    };
    let init = post(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "app-step-up", "version": "1"}}}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(init.status(), 200);
    let session = init
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_string());
    let _ = init.bytes().await;
    let _ = post(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        session.clone(),
    )
    .await
    .unwrap();
    let call = post(
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "create_issue", "arguments": {"title": "from the app"}}}),
        session,
    )
    .await
    .unwrap();
    call.status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_needs_more_access_shows_it_notifies_once_and_approve_grants_it() {
    let h = harness().await;
    signed_in(&h).await;
    let url = h.demo.info().servers[0].resource.clone();
    let id = h.demo.info().servers[0].id.clone();
    let token = h.passport.engine().token(&id).await.unwrap();
    assert_eq!(create_issue(&url, token.access_token.expose()).await, 403);
    // What the broker's proxy records on the server's 403.
    let notice = h
        .passport
        .engine()
        .record_insufficient_scope(&id, "mcp:tools mcp:write")
        .unwrap()
        .unwrap();
    assert!(
        notice
            .message
            .ends_with("needs more access (mcp:write). Approve it in MCP Passport.")
    );
    let err = invoke(&h, "approve_step_up", json!({"server": "slack-mcp"})).expect_err("refused");
    assert_eq!(err["code"], json!("no_step_up"));

    h.passport.notice_changes();
    h.passport.notice_changes();
    let notices: Vec<Event> = h
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::Notify { title, .. } if title == "More access needed"))
        .cloned()
        .collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    let overview = invoke(&h, "overview", json!({})).unwrap();
    let server = &overview["accounts"][0]["servers"][0];
    assert_eq!(server["id"], json!(id));
    assert_eq!(server["status"], json!("needs-more-access"));
    assert_eq!(server["needs_scope"], json!("mcp:write"));

    invoke(&h, "approve_step_up", json!({"server": id})).unwrap();
    let overview = sign_in_ended(&h).await;
    let servers = overview["accounts"][0]["servers"].as_array().unwrap();
    assert_eq!(
        servers.len(),
        2,
        "the grant's other server is kept: {servers:?}"
    );
    assert!(
        servers.iter().all(|s| s["status"] == json!("active")),
        "{servers:?}"
    );
    assert!(!overview.to_string().contains(token.access_token.expose()));
    let token = h.passport.engine().token(&id).await.unwrap();
    assert_eq!(create_issue(&url, token.access_token.expose()).await, 200);
    h.passport.shutdown().await;
    h.demo.shutdown().await;
}

/// Waits until no sign-in is pending; returns the overview.
async fn sign_in_over(h: &Harness) -> Value {
    for _ in 0..150 {
        let overview = invoke(h, "overview", json!({})).unwrap();
        if overview["activity"]["signing_in"].is_null() {
            return overview;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the sign-in never ended: {:?}",
        invoke(h, "overview", json!({}))
    );
}

fn state_text(h: &Harness) -> String {
    std::fs::read_to_string(h._home.path().join("state.json")).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_as_that_registers_no_client_asks_for_one_and_signs_in_with_it() {
    use reference_as::quirky::{Behaviour, start};
    let h = harness().await;
    let (as_, urls, _) = start(
        Behaviour {
            preregistered_only: Some(("gh-client", "gh-secret")),
            ..Behaviour::default()
        },
        1,
    )
    .await
    .unwrap();
    invoke(&h, "sign_in", json!({"target": urls[0]})).unwrap();
    let overview = sign_in_over(&h).await;
    let prompts = overview["activity"]["prompts"].as_array().unwrap();
    assert_eq!(prompts.len(), 1, "{overview}");
    assert_eq!(prompts[0]["code"], "client_id_needed");
    assert_eq!(prompts[0]["issuer"], json!(as_.issuer));
    assert_eq!(prompts[0]["redirect_uri"], "http://127.0.0.1/callback");
    assert!(overview["accounts"].as_array().unwrap().is_empty());

    // A client id that is empty or carries control characters is refused,
    // says what to do, and changes nothing (the secret is not kept).
    let before = state_text(&h);
    for bad in ["", "   ", "gh-\u{1b}[2Jclient", "gh client"] {
        let err = invoke(
            &h,
            "sign_in_with_client",
            json!({"issuer": as_.issuer, "clientId": bad, "clientSecret": "gh-secret"}),
        )
        .unwrap_err();
        assert_eq!(err["code"], "bad_client_id", "{bad:?}: {err}");
        assert!(err["message"].as_str().unwrap().contains("client id"));
    }
    let err = invoke(
        &h,
        "sign_in_with_client",
        json!({"issuer": "http://127.0.0.1:1", "clientId": "gh-client"}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "no_prompt");
    let key = StoreKey::ClientSecret {
        issuer: as_.issuer.clone(),
    };
    assert!(h.store.get(&key).unwrap().is_none());
    assert_eq!(state_text(&h), before);
    assert!(as_.seen.lock().unwrap().authorize.is_empty());
    let overview = invoke(&h, "overview", json!({})).unwrap();
    assert_eq!(
        overview["activity"]["prompts"][0]["code"],
        "client_id_needed"
    );

    // A wrong secret: the AS refuses the client, and the panel asks again.
    invoke(
        &h,
        "sign_in_with_client",
        json!({"issuer": as_.issuer, "clientId": "gh-client", "clientSecret": "not-the-secret"}),
    )
    .unwrap();
    let overview = sign_in_over(&h).await;
    assert!(overview["accounts"].as_array().unwrap().is_empty());
    let prompt = &overview["activity"]["prompts"][0];
    assert_eq!(prompt["code"], "client_id_needed", "{overview}");
    assert_eq!(prompt["refused"], json!(true));
    assert!(!overview.to_string().contains("not-the-secret"));

    // The retry with the client registered there signs in; the secret is
    // in the store only, never in what the webview gets or the state file.
    invoke(
        &h,
        "sign_in_with_client",
        json!({"issuer": as_.issuer, "clientId": " gh-client ", "clientSecret": "gh-secret"}),
    )
    .unwrap();
    let overview = sign_in_ended(&h).await;
    assert_eq!(
        overview["accounts"][0]["issuer"],
        json!(as_.issuer),
        "{overview}"
    );
    assert!(overview["activity"]["error"].is_null(), "{overview}");
    assert_eq!(overview["activity"]["prompts"], json!([]));
    assert_eq!(h.store.get(&key).unwrap().as_deref(), Some("gh-secret"));
    let token = as_.seen.lock().unwrap().token.clone();
    assert!(!token.is_empty());
    let shown = invoke(&h, "overview", json!({})).unwrap().to_string();
    assert!(!shown.contains("gh-secret"), "no secret in the overview");
    assert!(
        !state_text(&h).contains("gh-secret"),
        "no secret in the state file"
    );
    assert!(
        state_text(&h).contains("gh-client"),
        "the client is remembered"
    );
    h.passport.shutdown().await;
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoint_hosts_are_allowed_for_their_issuer_only_when_the_user_says_so() {
    use reference_as::quirky::{Behaviour, start};
    let h = harness().await;
    let (as_, urls, other_host) = start(
        Behaviour {
            token_elsewhere: true,
            ..Behaviour::default()
        },
        1,
    )
    .await
    .unwrap();
    invoke(&h, "sign_in", json!({"target": urls[0]})).unwrap();
    let overview = sign_in_over(&h).await;
    let prompt = &overview["activity"]["prompts"][0];
    assert_eq!(prompt["code"], "endpoint_host_unconfirmed", "{overview}");
    assert_eq!(prompt["issuer"], json!(as_.issuer));
    assert_eq!(prompt["hosts"], json!([other_host]));

    // Cancel changes nothing: the prompt goes, no host is remembered.
    let before = state_text(&h);
    invoke(&h, "dismiss_prompt", json!({"issuer": as_.issuer})).unwrap();
    let overview = invoke(&h, "overview", json!({})).unwrap();
    assert_eq!(overview["activity"]["prompts"], json!([]));
    assert_eq!(state_text(&h), before);
    assert!(!before.contains(&other_host));
    let err = invoke(&h, "allow_endpoint_hosts", json!({"issuer": as_.issuer})).unwrap_err();
    assert_eq!(err["code"], "no_prompt", "nothing to allow once dismissed");
    assert_eq!(state_text(&h), before);

    // Asked again and allowed: remembered for that issuer, and signed in.
    invoke(&h, "sign_in", json!({"target": urls[0]})).unwrap();
    let overview = sign_in_over(&h).await;
    assert_eq!(
        overview["activity"]["prompts"][0]["code"],
        "endpoint_host_unconfirmed"
    );
    assert!(as_.seen.lock().unwrap().authorize.is_empty());
    invoke(&h, "allow_endpoint_hosts", json!({"issuer": as_.issuer})).unwrap();
    let overview = sign_in_ended(&h).await;
    assert_eq!(
        overview["accounts"][0]["issuer"],
        json!(as_.issuer),
        "{overview}"
    );
    // One sign-in; its one-second token may already have been refreshed.
    assert_eq!(as_.seen.lock().unwrap().code_exchanges(), 1);
    let state: Value = serde_json::from_str(&state_text(&h)).unwrap();
    assert_eq!(
        state["providers"][&as_.issuer]["endpoint_hosts"],
        json!([other_host])
    );
    h.passport.shutdown().await;
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_account_label_beside_the_address_names_the_account() {
    use reference_as::quirky::{Behaviour, start};
    let h = harness().await;
    let (as_, urls, _) = start(Behaviour::default(), 1).await.unwrap();
    let err = invoke(
        &h,
        "sign_in",
        json!({"target": urls[0], "account": "work/../x"}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "bad_account");
    assert!(
        as_.seen.lock().unwrap().authorize.is_empty(),
        "nothing started"
    );
    invoke(
        &h,
        "sign_in",
        json!({"target": urls[0], "account": " work "}),
    )
    .unwrap();
    let overview = sign_in_ended(&h).await;
    assert_eq!(overview["accounts"][0]["account"], "work", "{overview}");
    assert_eq!(
        h.passport.engine().grants()[0].account.as_deref(),
        Some("work")
    );
    h.passport.shutdown().await;
    h.demo.shutdown().await;
}
