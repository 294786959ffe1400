use crate::support::*;
use passport_core::engine::LoginTarget;
use passport_core::model::GrantStatus;
use passport_core::store::{StoreError, StoreKey, TokenStore};
use reference_as::demo::DemoConfig;
use std::sync::Arc;

#[tokio::test]
async fn sec_09_attackers_code_under_the_victims_state_fails_on_pkce_and_stores_nothing() {
    let h = Harness::start(DemoConfig::default()).await;
    let grant = h.global_login(&["github-mcp"]).await;
    // The attacker runs their own authorization with the same public client and their own PKCE pair.
    let mut url = url::Url::parse(&format!("{}/authorize", h.issuer())).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &grant.client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("state", "attacker")
        .append_pair(
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        )
        .append_pair("code_challenge_method", "S256")
        .append_pair("scope", "mcp:global");
    let attacker_redirect = approve(&url, &["github-mcp".into(), "slack-mcp".into()]).await;
    let attacker_code = url::Url::parse(&attacker_redirect)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();

    let before_grants = h.engine.grants();
    let before_items = h.store.len();
    let mut browser = h.browser(&["github-mcp"]);
    browser.replace_callback = Some(Arc::new(move |callback: String| {
        let mut u = url::Url::parse(&callback).unwrap();
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                if k == "code" {
                    (k.into_owned(), attacker_code.clone())
                } else {
                    (k.into_owned(), v.into_owned())
                }
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
        u.to_string()
    }));
    let request = h.request(LoginTarget::Issuer(h.issuer()), &[]);
    let err = h.engine.login(&request, &browser).await.unwrap_err();
    assert_eq!(
        err.code(),
        "sign_in_needed",
        "the AS refused the code (invalid_grant): {err}"
    );
    assert_eq!(h.engine.grants(), before_grants, "no grant stored");
    assert_eq!(h.store.len(), before_items, "no secret stored");
    h.demo.shutdown().await;
}

#[tokio::test]
async fn sec_23_reuse_revocation_means_sign_in_needed_told_once_and_no_retry_loop() {
    let h = Harness::start(DemoConfig::default()).await;
    let grant = h.global_login(&["github-mcp"]).await;
    let key = StoreKey::RefreshToken {
        grant_id: grant.id.clone(),
    };
    let stored = h.store.get(&key).unwrap().unwrap();
    // Someone else spends the stored refresh token first.
    let r = reqwest::Client::new()
        .post(format!("{}/token", h.issuer()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", stored.as_str()),
            ("client_id", grant.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    h.clock.advance(chrono::Duration::hours(2));
    let err = h.engine.token("github-mcp").await.unwrap_err();
    assert_eq!(err.code(), "sign_in_needed");
    let GrantStatus::SignInNeeded { reason } = &h.engine.grants()[0].status else {
        panic!("status")
    };
    assert!(reason.contains("refused"), "{reason}");
    let attempts = h.refreshes();
    for _ in 0..3 {
        assert_eq!(
            h.engine.token("github-mcp").await.unwrap_err().code(),
            "sign_in_needed"
        );
    }
    assert_eq!(
        h.refreshes(),
        attempts,
        "no retry loop, no older token tried"
    );
    assert_eq!(h.store.get(&key).unwrap().as_deref(), Some(stored.as_str()));
    h.demo.shutdown().await;
}

#[tokio::test]
async fn sec_24_keyring_write_failure_after_refresh_fails_the_refresh_loudly() {
    let h = Harness::start(DemoConfig::default()).await;
    h.global_login(&["github-mcp"]).await;
    h.store.fail_writes_with(Some(StoreError::Locked));
    h.clock.advance(chrono::Duration::hours(2));
    let err = h.engine.token("github-mcp").await.unwrap_err();
    assert_eq!(err.code(), "keyring_unavailable");
    let GrantStatus::SignInNeeded { reason } = &h.engine.grants()[0].status else {
        panic!("the grant must say what happened")
    };
    assert!(reason.contains("keyring"), "{reason}");
    h.demo.shutdown().await;
}

#[tokio::test]
async fn sec_27_unavailable_keyring_is_a_clear_error_with_no_plaintext_fallback() {
    let h = Harness::start(DemoConfig::default()).await;
    h.store.fail_with(Some(StoreError::Unavailable(
        "no Secret Service on the session bus".into(),
    )));
    let request = h.request(LoginTarget::Issuer(h.issuer()), &[]);
    let err = h
        .engine
        .login(&request, &h.browser(&["github-mcp"]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "keyring_unavailable");
    assert!(
        err.to_string().contains("Start or unlock your keyring"),
        "{err}"
    );
    assert!(h.engine.grants().is_empty());
    let state = std::fs::read_to_string(h.dir.path().join("state.json")).unwrap_or_default();
    assert!(
        !state.contains("refresh") && !state.contains("access_token"),
        "{state}"
    );
    h.demo.shutdown().await;
}

#[tokio::test]
async fn restarted_engine_refreshes_from_the_stored_refresh_token() {
    let h = Harness::start(DemoConfig::default()).await;
    h.global_login(&["github-mcp", "slack-mcp"]).await;
    let again = Harness::engine_at(&h.dir, &h.store, &h.clock);
    let token = again
        .token("slack-mcp")
        .await
        .expect("a new engine refreshes from the store");
    assert_eq!(
        h.mcp_status("slack-mcp", token.access_token.expose()).await,
        200
    );
    h.demo.shutdown().await;
}

#[tokio::test]
async fn sec_26_after_invalid_grant_an_older_refresh_token_is_never_tried() {
    let h = Harness::start(DemoConfig::default()).await;
    let grant = h.global_login(&["github-mcp"]).await;
    let key = StoreKey::RefreshToken {
        grant_id: grant.id.clone(),
    };
    let oldest = h.store.get(&key).unwrap().unwrap();
    h.clock.advance(chrono::Duration::hours(2));
    h.engine.token("github-mcp").await.unwrap();
    let current = h.store.get(&key).unwrap().unwrap();
    assert_ne!(current, oldest, "a refresh rotated the stored token");
    // The current refresh token is spent by someone else.
    let r = reqwest::Client::new()
        .post(format!("{}/token", h.issuer()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", current.as_str()),
            ("client_id", grant.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    h.clock.advance(chrono::Duration::hours(2));
    let before = h.refreshes();
    assert_eq!(
        h.engine.token("github-mcp").await.unwrap_err().code(),
        "sign_in_needed"
    );
    assert_eq!(
        h.refreshes() - before,
        1,
        "one attempt with the current token; no fallback to an older one"
    );
    assert_eq!(
        h.engine.token("github-mcp").await.unwrap_err().code(),
        "sign_in_needed"
    );
    assert_eq!(h.refreshes() - before, 1, "and none afterwards");
    assert_eq!(
        h.store.get(&key).unwrap().as_deref(),
        Some(current.as_str()),
        "the stored token is not replaced by an older one"
    );
    h.demo.shutdown().await;
}
