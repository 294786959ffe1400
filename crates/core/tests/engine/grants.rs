use crate::support::*;
use passport_core::engine::{LoginTarget, RevokeOutcome};
use passport_core::model::{GrantStatus, Mode, TokenKind};
use passport_core::store::{StoreKey, TokenStore};
use reference_as::demo::DemoConfig;

#[tokio::test]
async fn global_login_for_two_of_three_gives_each_server_its_own_token() {
    let h = Harness::start(DemoConfig::default()).await;
    let grant = h.global_login(&["github-mcp", "slack-mcp"]).await;
    assert_eq!(grant.mode, Mode::MultiServer);
    let ids: Vec<&str> = grant.servers.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, vec!["github-mcp", "slack-mcp"]);
    assert_eq!(
        grant.servers[0].resource.as_deref(),
        Some(h.resource("github-mcp").as_str())
    );
    assert!(
        h.store
            .get(&StoreKey::RefreshToken {
                grant_id: grant.id.clone()
            })
            .unwrap()
            .is_some()
    );
    let state = std::fs::read_to_string(h.dir.path().join("state.json")).unwrap();
    assert!(
        !state.contains(
            h.store
                .get(&StoreKey::RefreshToken {
                    grant_id: grant.id.clone()
                })
                .unwrap()
                .unwrap()
                .as_str()
        ),
        "no refresh token in the state file"
    );

    let github = h.engine.token("github-mcp").await.unwrap();
    assert_eq!(github.kind, TokenKind::Own);
    assert_eq!(
        h.mcp_status("github-mcp", github.access_token.expose())
            .await,
        200
    );
    assert_eq!(
        h.mcp_status("slack-mcp", github.access_token.expose())
            .await,
        401,
        "github's token must not work at slack"
    );
    let slack = h.engine.token(&h.resource("slack-mcp")).await.unwrap();
    assert_eq!(
        h.mcp_status("slack-mcp", slack.access_token.expose()).await,
        200
    );
    assert!(matches!(
        h.engine.token("notion-mcp").await,
        Err(passport_core::error::EngineError::NotGranted(_))
    ));
    let kinds: Vec<TokenKind> = h.engine.grants()[0]
        .servers
        .iter()
        .map(|s| s.token_kind)
        .collect();
    assert_eq!(kinds, vec![TokenKind::Own, TokenKind::Own]);
    h.demo.shutdown().await;
}

#[tokio::test]
async fn add_servers_replaces_the_grant_only_after_the_new_one_succeeds() {
    let h = Harness::start(DemoConfig::default()).await;
    let first = h.global_login(&["github-mcp", "slack-mcp"]).await;
    let request = h.request(
        LoginTarget::Issuer(h.issuer()),
        &["github-mcp", "slack-mcp"],
    );
    let browser = h.browser(&["github-mcp", "slack-mcp", "notion-mcp"]);
    let second = h.engine.login(&request, &browser).await.unwrap().remove(0);
    let opened = browser.opened.lock().unwrap()[0].clone();
    let scope = opened
        .query_pairs()
        .find(|(k, _)| k == "scope")
        .unwrap()
        .1
        .into_owned();
    assert!(
        scope.ends_with("servers:github-mcp,slack-mcp"),
        "the current servers are the hint: {scope}"
    );
    assert_eq!(second.servers.len(), 3);
    let grants = h.engine.grants();
    assert_eq!(grants.len(), 1, "the new grant replaced the old one");
    assert_ne!(grants[0].id, first.id);
    assert!(
        h.store
            .get(&StoreKey::RefreshToken {
                grant_id: first.id.clone()
            })
            .unwrap()
            .is_none()
    );
    let notion = h.engine.token("notion-mcp").await.unwrap();
    assert_eq!(
        h.mcp_status("notion-mcp", notion.access_token.expose())
            .await,
        200
    );
    h.demo.shutdown().await;
}

#[tokio::test]
async fn revoking_one_server_narrows_the_grant_and_keeps_the_others() {
    let h = Harness::start(DemoConfig {
        introspect: true,
        ..DemoConfig::default()
    })
    .await;
    h.global_login(&["github-mcp", "slack-mcp"]).await;
    let slack = h.engine.token("slack-mcp").await.unwrap();
    assert_eq!(
        h.mcp_status("slack-mcp", slack.access_token.expose()).await,
        200
    );
    assert_eq!(
        h.engine.revoke_server("slack-mcp").await.unwrap(),
        RevokeOutcome::Narrowed
    );
    let grant = &h.engine.grants()[0];
    assert_eq!(
        grant
            .servers
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>(),
        vec!["github-mcp"]
    );
    assert!(matches!(
        h.engine.token("slack-mcp").await,
        Err(passport_core::error::EngineError::NotGranted(_))
    ));
    assert_eq!(
        h.mcp_status("slack-mcp", slack.access_token.expose()).await,
        401,
        "the old slack token was revoked at the AS"
    );
    let github = h.engine.token("github-mcp").await.unwrap();
    assert_eq!(
        h.mcp_status("github-mcp", github.access_token.expose())
            .await,
        200
    );
    assert_eq!(
        h.engine.revoke_server("github-mcp").await.unwrap(),
        RevokeOutcome::SignedOut
    );
    assert!(h.engine.grants().is_empty());
    assert!(
        h.store.is_empty() || h.store.len() <= 1,
        "only a client secret may remain"
    );
    h.demo.shutdown().await;
}

#[tokio::test]
async fn sign_out_revokes_the_refresh_token_at_the_as() {
    let h = Harness::start(DemoConfig::default()).await;
    let grant = h.global_login(&["github-mcp"]).await;
    let rt = h
        .store
        .get(&StoreKey::RefreshToken {
            grant_id: grant.id.clone(),
        })
        .unwrap()
        .unwrap();
    assert_eq!(h.engine.sign_out(&h.issuer()).await.unwrap(), 1);
    assert!(h.engine.grants().is_empty());
    assert!(
        h.store
            .get(&StoreKey::RefreshToken {
                grant_id: grant.id.clone()
            })
            .unwrap()
            .is_none()
    );
    let client_id = grant.client_id.clone();
    let response = reqwest::Client::new()
        .post(format!("{}/token", h.issuer()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
            ("client_id", client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        400,
        "the AS no longer honours the refresh token"
    );
    h.demo.shutdown().await;
}

#[tokio::test]
async fn per_server_login_by_mcp_server_url_binds_resource() {
    let h = Harness::start(DemoConfig::default()).await;
    let url = h.resource("github-mcp");
    let request = h.request(LoginTarget::Servers(vec![url.clone()]), &[]);
    // The reference AS speaks Multi-Server, so a server URL becomes a global flow with that server pre-checked.
    let browser = h.browser(&["github-mcp"]);
    let grants = h.engine.login(&request, &browser).await.unwrap();
    assert_eq!(grants[0].mode, Mode::MultiServer);
    let opened = browser.opened.lock().unwrap()[0].clone();
    assert!(
        opened
            .query_pairs()
            .any(|(k, v)| k == "scope" && v.ends_with("servers:github-mcp"))
    );
    let token = h.engine.token(&url).await.unwrap();
    assert_eq!(
        h.mcp_status("github-mcp", token.access_token.expose())
            .await,
        200
    );
    assert!(matches!(grants[0].status, GrantStatus::Active));
    h.demo.shutdown().await;
}
