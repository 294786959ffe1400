//! Which tokens a sample server lets through to `/mcp`, over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{Key, SCOPE, TestAs, challenge, initialize_body, now, post_mcp};
use serde_json::json;

const INVALID_TOKEN_CHALLENGE: &str = "error=\"invalid_token\"";

async fn assert_invalid(server: &sample_servers::SampleServer, token: &str) {
    let response = post_mcp(server.resource(), Some(token), &initialize_body()).await;
    assert_eq!(response.status(), 401);
    let challenge = challenge(&response);
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains(INVALID_TOKEN_CHALLENGE), "{challenge}");
    let expected = format!(
        "resource_metadata=\"http://{}/.well-known/oauth-protected-resource/mcp\"",
        server.addr()
    );
    assert!(challenge.contains(&expected), "{challenge}");
    let body: serde_json::Value = response.json().await.expect("JSON error body");
    assert_eq!(body["error"], "invalid_token");
}

#[tokio::test]
async fn missing_token_gets_401_with_the_exact_resource_metadata_challenge() {
    let auth = TestAs::start().await;
    let server = auth.server("github-mcp", false).await;
    let response = post_mcp(server.resource(), None, &initialize_body()).await;
    assert_eq!(response.status(), 401);
    let port = server.addr().port();
    assert_eq!(
        challenge(&response),
        format!(
            "Bearer resource_metadata=\"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp\", scope=\"mcp:tools\""
        )
    );
    server.shutdown().await;
}

#[tokio::test]
async fn array_audience_naming_the_server_id_is_accepted() {
    let auth = TestAs::start().await;
    let server = auth.server("github-mcp", false).await;
    let token = auth.token(json!(["github-mcp", "slack-mcp"]), SCOPE);
    let response = post_mcp(server.resource(), Some(&token), &initialize_body()).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("mcp-session-id"));
    server.shutdown().await;
}

#[tokio::test]
async fn string_audience_with_the_resource_url_is_accepted() {
    let auth = TestAs::start().await;
    let server = auth.server("notion-mcp", false).await;
    let token = auth.token(json!(server.resource()), "mcp:tools");
    let response = post_mcp(server.resource(), Some(&token), &initialize_body()).await;
    assert_eq!(response.status(), 200);
    server.shutdown().await;
}

#[tokio::test]
async fn audience_of_another_server_is_rejected() {
    let auth = TestAs::start().await;
    let server = auth.server("github-mcp", false).await;
    assert_invalid(
        &server,
        &auth.token(json!(["slack-mcp", "notion-mcp"]), SCOPE),
    )
    .await;
    assert_invalid(&server, &auth.token(json!("http://127.0.0.1:1/mcp"), SCOPE)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn expired_token_is_rejected() {
    let auth = TestAs::start().await;
    let server = auth.server("github-mcp", false).await;
    let mut claims = auth.claims(json!(["github-mcp"]), SCOPE);
    claims["exp"] = json!(now() - 60);
    assert_invalid(&server, &auth.key().sign(&claims)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_issuer_is_rejected_even_with_a_trailing_slash() {
    let auth = TestAs::start().await;
    let server = auth.server("github-mcp", false).await;
    for iss in [
        "http://evil.example".to_string(),
        format!("{}/", auth.issuer),
    ] {
        let mut claims = auth.claims(json!(["github-mcp"]), SCOPE);
        claims["iss"] = json!(iss);
        assert_invalid(&server, &auth.key().sign(&claims)).await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn bad_signature_is_rejected() {
    let auth = TestAs::start().await;
    let server = auth.server("github-mcp", false).await;
    let claims = auth.claims(json!(["github-mcp"]), SCOPE);
    // Another key, claiming to be the published one.
    let forged = Key::generate("attacker").sign_as(&auth.key().kid, &claims);
    assert_invalid(&server, &forged).await;
    // A good token with its payload swapped.
    let good = auth.key().sign(&claims);
    let other = auth
        .key()
        .sign(&auth.claims(json!(["github-mcp"]), "mcp:tools mcp:write"));
    let parts: Vec<&str> = good.split('.').collect();
    let other_payload = other.split('.').nth(1).expect("payload");
    assert_invalid(
        &server,
        &format!("{}.{}.{}", parts[0], other_payload, parts[2]),
    )
    .await;
    assert_invalid(&server, "not-a-jwt").await;
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_kid_triggers_one_jwks_refetch_then_succeeds_after_rotation() {
    let auth = TestAs::start().await;
    let server = auth.server("github-mcp", false).await;
    let first = auth.token(json!(["github-mcp"]), SCOPE);
    assert_eq!(
        post_mcp(server.resource(), Some(&first), &initialize_body())
            .await
            .status(),
        200
    );
    assert_eq!(auth.jwks_hits(), 1, "keys are fetched once and cached");
    assert_eq!(
        post_mcp(server.resource(), Some(&first), &initialize_body())
            .await
            .status(),
        200
    );
    assert_eq!(auth.jwks_hits(), 1, "a known kid needs no fetch");

    let rotated = auth.rotate("key-2");
    let token = rotated.sign(&auth.claims(json!(["github-mcp"]), SCOPE));
    assert_eq!(
        post_mcp(server.resource(), Some(&token), &initialize_body())
            .await
            .status(),
        200
    );
    assert_eq!(auth.jwks_hits(), 2, "one refetch for the new kid");

    // A flood of made-up kids does not reach the AS again.
    for i in 0..10 {
        let bogus = rotated.sign_as(
            &format!("bogus-{i}"),
            &auth.claims(json!(["github-mcp"]), SCOPE),
        );
        assert_invalid(&server, &bogus).await;
    }
    assert_eq!(auth.jwks_hits(), 2, "refetches are rate limited");
    server.shutdown().await;
}

#[tokio::test]
async fn token_with_an_unexpected_typ_is_rejected() {
    let auth = TestAs::start().await;
    let server = auth.server("github-mcp", false).await;
    let key = auth.key();
    let der = {
        use p256::pkcs8::EncodePrivateKey as _;
        key.key.to_pkcs8_der().expect("der")
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.typ = Some("dpop+jwt".into());
    header.kid = Some(key.kid.clone());
    let claims = auth.claims(json!(["github-mcp"]), SCOPE);
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes()),
    )
    .expect("sign");
    assert_invalid(&server, &token).await;
    server.shutdown().await;
}

#[tokio::test]
async fn revoked_token_is_rejected_when_the_server_introspects() {
    let auth = TestAs::start().await;
    let server = auth.server("slack-mcp", true).await;
    let token = auth.token(json!(["github-mcp", "slack-mcp"]), SCOPE);
    assert_eq!(
        post_mcp(server.resource(), Some(&token), &initialize_body())
            .await
            .status(),
        200
    );
    assert_eq!(
        auth.introspections(),
        1,
        "the server asked the AS with its credentials"
    );
    auth.revoke(&token);
    assert_invalid(&server, &token).await;
    assert_eq!(auth.introspections(), 2);
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_body_is_refused_with_413() {
    let auth = TestAs::start().await;
    let server = auth.server("github-mcp", false).await;
    let token = auth.token(json!(["github-mcp"]), SCOPE);
    let mut body = initialize_body();
    body["params"]["padding"] = json!("x".repeat(2 * 1024 * 1024));
    assert_eq!(
        post_mcp(server.resource(), Some(&token), &body)
            .await
            .status(),
        413
    );
    server.shutdown().await;
}
