use crate::support::*;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use passport_core::engine::{LoginTarget, RevokeOutcome};
use passport_core::error::EngineError;
use passport_core::model::Grant;
use passport_core::store::{StoreKey, TokenStore};
use reference_as::demo::DemoConfig;

fn two_users() -> DemoConfig {
    DemoConfig {
        users: vec![
            ("alice".into(), "alice-pw".into()),
            ("bob".into(), "bob-pw".into()),
        ],
        ..DemoConfig::default()
    }
}

/// The `sub` claim of a JWT access token (the test reads it; the product
/// never trusts it for anything but a label).
fn sub(token: &str) -> String {
    let payload = token.split('.').nth(1).expect("a JWT");
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json");
    claims["sub"].as_str().expect("sub").to_string()
}

/// Signs in at the issuer as `user`, ticking `pick`, under `account`.
async fn login_as(h: &Harness, user: &str, account: Option<&str>, pick: &[&str]) -> Grant {
    let mut request = h.request(LoginTarget::Issuer(h.issuer()), &[]);
    request.account = account.map(str::to_string);
    let browser = h.browser(pick).signing_in_as(user, &format!("{user}-pw"));
    let grants = h.engine.login(&request, &browser).await.expect("login");
    grants.into_iter().next().expect("one grant")
}

fn refresh_token_of(h: &Harness, grant: &Grant) -> Option<String> {
    h.store
        .get(&StoreKey::RefreshToken {
            grant_id: grant.id.clone(),
        })
        .unwrap()
}

#[tokio::test]
async fn two_accounts_at_one_issuer_each_get_their_own_users_token_for_the_same_server() {
    let h = Harness::start(two_users()).await;
    let personal = login_as(&h, "alice", None, &["github-mcp"]).await;
    assert_eq!(
        personal.account.as_deref(),
        Some("alice"),
        "the label defaults to the token's sub"
    );
    let work = login_as(&h, "bob", Some("work"), &["github-mcp", "slack-mcp"]).await;
    assert_eq!(work.account.as_deref(), Some("work"));
    let grants = h.engine.grants();
    assert_eq!(
        grants.len(),
        2,
        "the second account did not replace the first"
    );
    assert_eq!(grants[0].id, personal.id);

    let plain = h.engine.token("github-mcp").await.unwrap();
    let named = h.engine.token("github-mcp@alice").await.unwrap();
    let second = h.engine.token("github-mcp@work").await.unwrap();
    let by_url = h
        .engine
        .token(&format!("{}@work", h.resource("github-mcp")))
        .await
        .unwrap();
    assert_eq!(sub(plain.access_token.expose()), "alice");
    assert_eq!(sub(named.access_token.expose()), "alice");
    assert_eq!(sub(second.access_token.expose()), "bob");
    assert_eq!(sub(by_url.access_token.expose()), "bob");
    for t in [&plain, &second] {
        assert_eq!(
            h.mcp_status("github-mcp", t.access_token.expose()).await,
            200
        );
    }
    // slack-mcp is only in the work account: its plain id names it.
    let slack = h.engine.token("slack-mcp").await.unwrap();
    assert_eq!(sub(slack.access_token.expose()), "bob");
    assert!(matches!(
        h.engine.token("slack-mcp@alice").await,
        Err(EngineError::NotGranted(_))
    ));
    assert!(matches!(
        h.engine.token("github-mcp@nobody").await,
        Err(EngineError::NotGranted(_))
    ));
}

#[tokio::test]
async fn revoking_or_signing_out_one_account_leaves_the_other_working() {
    let h = Harness::start(two_users()).await;
    let personal = login_as(&h, "alice", None, &["github-mcp"]).await;
    let work = login_as(&h, "bob", Some("work"), &["github-mcp", "slack-mcp"]).await;
    h.engine.token("github-mcp").await.unwrap();
    h.engine.token("github-mcp@work").await.unwrap();

    // Revoke the work account's github-mcp: narrowed at the AS, the personal one untouched.
    assert_eq!(
        h.engine.revoke_server("github-mcp@work").await.unwrap(),
        RevokeOutcome::Narrowed
    );
    let grants = h.engine.grants();
    let work_now = grants.iter().find(|g| g.id == work.id).unwrap();
    let ids: Vec<&str> = work_now.servers.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["slack-mcp"]);
    let personal_now = grants.iter().find(|g| g.id == personal.id).unwrap();
    assert_eq!(personal_now.servers.len(), 1);
    assert!(
        personal_now.blocked.is_empty(),
        "the personal account is untouched"
    );
    let fresh = h.engine.refresh_now("github-mcp").await.unwrap();
    assert_eq!(sub(fresh.access_token.expose()), "alice");
    assert_eq!(
        h.mcp_status("github-mcp", fresh.access_token.expose())
            .await,
        200
    );

    // Sign out of the work account: its refresh token is gone, alice's stays and refreshes.
    assert_eq!(h.engine.sign_out_account(None, "work").await.unwrap(), 1);
    assert!(refresh_token_of(&h, &work).is_none());
    assert!(refresh_token_of(&h, &personal).is_some());
    let grants = h.engine.grants();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].id, personal.id);
    assert!(matches!(
        h.engine.token("slack-mcp").await,
        Err(EngineError::NotGranted(_))
    ));
    let after = h.engine.refresh_now("github-mcp").await.unwrap();
    assert_eq!(sub(after.access_token.expose()), "alice");
    let state = std::fs::read_to_string(h.dir.path().join("state.json")).unwrap();
    assert!(
        !state.contains(&work.id),
        "the work grant left the state file"
    );
}

#[tokio::test]
async fn signing_in_again_with_the_same_label_replaces_only_that_account_in_its_place() {
    let h = Harness::start(two_users()).await;
    let personal = login_as(&h, "alice", None, &["github-mcp"]).await;
    let work = login_as(&h, "bob", Some("work"), &["github-mcp"]).await;
    let work_refresh = refresh_token_of(&h, &work).unwrap();
    let again = login_as(&h, "bob", Some("work"), &["github-mcp", "notion-mcp"]).await;
    let grants = h.engine.grants();
    assert_eq!(
        grants.iter().map(|g| &g.id).collect::<Vec<_>>(),
        [&personal.id, &again.id]
    );
    assert!(refresh_token_of(&h, &work).is_none());
    assert_ne!(refresh_token_of(&h, &again).unwrap(), work_refresh);
    // Signing the first account in again keeps it first: the plain id still names alice.
    let personal_again = login_as(&h, "alice", None, &["github-mcp"]).await;
    assert_eq!(h.engine.grants()[0].id, personal_again.id);
    let t = h.engine.token("github-mcp").await.unwrap();
    assert_eq!(sub(t.access_token.expose()), "alice");
    let bad = h
        .engine
        .login(
            &passport_core::engine::LoginRequest {
                account: Some("not a label".into()),
                ..h.request(LoginTarget::Issuer(h.issuer()), &[])
            },
            &h.browser(&["github-mcp"]),
        )
        .await
        .unwrap_err();
    assert_eq!(bad.code(), "bad_account");
    assert_eq!(h.engine.grants().len(), 2, "a bad label changes nothing");
}

#[tokio::test]
async fn a_state_file_from_before_accounts_loads_and_works_unchanged() {
    let h = Harness::start(two_users()).await;
    let grant = login_as(&h, "alice", None, &["github-mcp"]).await;
    // The state file as the previous version wrote it: no account field.
    let path = h.dir.path().join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    state["grants"][0]
        .as_object_mut()
        .unwrap()
        .remove("account")
        .expect("the label was stored");
    let old = serde_json::to_string_pretty(&state).unwrap();
    std::fs::write(&path, &old).unwrap();

    let engine = Harness::engine_at(&h.dir, &h.store, &h.clock);
    let loaded = engine.grants();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].account, None);
    assert_eq!(loaded[0].account_label(), "default");
    let t = engine.token("github-mcp").await.unwrap();
    assert_eq!(sub(t.access_token.expose()), "alice");
    assert_eq!(
        h.mcp_status("github-mcp", t.access_token.expose()).await,
        200
    );
    assert!(engine.token("github-mcp@default").await.is_ok());
    drop(engine);

    // Signing in again without choosing a label replaces the unlabelled grant.
    let h2 = Harness {
        engine: std::sync::Arc::new(Harness::engine_at(&h.dir, &h.store, &h.clock)),
        ..h
    };
    let again = login_as(&h2, "alice", None, &["github-mcp"]).await;
    let grants = h2.engine.grants();
    assert_eq!(grants.len(), 1, "the old grant was replaced, not doubled");
    assert_eq!(grants[0].id, again.id);
    assert!(refresh_token_of(&h2, &grant).is_none());
}
