use crate::support::*;
use base64::Engine as _;
use passport_core::error::EngineError;
use passport_core::model::{GrantStatus, TokenKind};
use passport_core::store::{StoreKey, TokenStore as _};
use reference_as::demo::DemoConfig;

const SERVERS: [&str; 3] = ["github-mcp", "slack-mcp", "notion-mcp"];

fn aud(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["aud"].clone()
}

async fn harness() -> Harness {
    Harness::start(DemoConfig {
        token_exchange: true,
        access_ttl: 600,
        ..DemoConfig::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_server_gets_its_own_token_by_exchange_all_at_once_and_one_refresh_per_expiry() {
    let h = harness().await;
    h.global_login(&SERVERS).await;
    let all = || async {
        let mut asks = tokio::task::JoinSet::new();
        for (i, id) in SERVERS.iter().enumerate() {
            let engine = h.engine.clone();
            asks.spawn(async move { (i, engine.token(id).await.unwrap()) });
        }
        let mut tokens = asks.join_all().await;
        tokens.sort_by_key(|(i, _)| *i);
        tokens.into_iter().map(|(_, t)| t).collect::<Vec<_>>()
    };
    let first = all().await;
    // The code exchange's token is the subject: no refresh at all.
    assert_eq!((h.refreshes(), h.demo.exchange_requests()), (0, 3));
    for (id, token) in SERVERS.iter().zip(&first) {
        assert_eq!(token.kind, TokenKind::Own, "{id}");
        assert_eq!(
            aud(token.access_token.expose()),
            *id,
            "{id}: only its server"
        );
        assert_eq!(h.mcp_status(id, token.access_token.expose()).await, 200);
    }
    assert_eq!(
        h.mcp_status("slack-mcp", first[0].access_token.expose())
            .await,
        401,
        "slack-mcp accepted github-mcp's token"
    );
    // Served from memory while fresh; after the expiry, one refresh renews
    // the subject and each server's token is exchanged once.
    all().await;
    assert_eq!((h.refreshes(), h.demo.exchange_requests()), (0, 3));
    h.clock.advance(chrono::Duration::seconds(600));
    let again = all().await;
    assert_eq!((h.refreshes(), h.demo.exchange_requests()), (1, 6));
    for (before, after) in first.iter().zip(&again) {
        assert_ne!(before.access_token, after.access_token);
    }
    h.demo.shutdown().await;
}

#[tokio::test]
async fn a_grant_revoked_at_the_as_asks_for_sign_in_on_the_next_exchange() {
    let h = harness().await;
    let grant = h.global_login(&SERVERS).await;
    h.engine.token("github-mcp").await.unwrap();
    let refresh_token = h
        .store
        .get(&StoreKey::RefreshToken {
            grant_id: grant.id.clone(),
        })
        .unwrap()
        .unwrap();
    let revoked = reqwest::Client::new()
        .post(format!("{}/revoke", h.issuer()))
        .form(&[
            ("token", refresh_token.as_str()),
            ("client_id", grant.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    // The subject in memory is refused, and the refresh that checks the
    // grant is refused too: sign-in needed, no retry loop.
    let err = h.engine.token("slack-mcp").await.unwrap_err();
    assert!(matches!(err, EngineError::SignInNeeded { .. }), "{err:?}");
    assert!(matches!(
        h.engine.grants()[0].status,
        GrantStatus::SignInNeeded { .. }
    ));
    // github-mcp's exchange, slack-mcp's refused one, the refused refresh.
    let (refreshes, exchanges) = (h.refreshes(), h.demo.exchange_requests());
    assert_eq!((refreshes, exchanges), (1, 2));
    assert!(h.engine.token("notion-mcp").await.is_err());
    assert_eq!(
        (h.refreshes(), h.demo.exchange_requests()),
        (refreshes, exchanges)
    );
    h.demo.shutdown().await;
}

#[tokio::test]
async fn a_dpop_bound_grant_exchanges_with_a_proof_and_gets_bound_one_server_tokens() {
    let h = Harness::start(DemoConfig {
        token_exchange: true,
        dpop: true,
        ..DemoConfig::default()
    })
    .await;
    h.global_login(&SERVERS).await;
    let token = h.engine.token("slack-mcp").await.unwrap();
    let payload = token.access_token.expose().split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], "slack-mcp");
    assert!(claims["cnf"]["jkt"].is_string(), "{claims}");
    assert!(h.engine.dpop_bound("slack-mcp"));
    assert_eq!((h.refreshes(), h.demo.exchange_requests()), (0, 1));
    // Bound: a sample server refuses it as a bearer token.
    assert_eq!(
        h.mcp_status("slack-mcp", token.access_token.expose()).await,
        401
    );
    h.demo.shutdown().await;
}
