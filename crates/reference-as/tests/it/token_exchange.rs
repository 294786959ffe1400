use crate::common::*;
use reference_as::demo::DemoConfig;
use reqwest::StatusCode;
use serde_json::Value;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";

async fn stack() -> Stack {
    Stack::start(DemoConfig {
        token_exchange: true,
        ..DemoConfig::default()
    })
    .await
}

async fn exchange(
    stack: &Stack,
    client: &Client,
    subject: &str,
    resource: &str,
) -> (StatusCode, Value) {
    stack
        .token(&[
            ("grant_type", GRANT),
            ("subject_token", subject),
            ("subject_token_type", ACCESS),
            ("resource", resource),
            ("client_id", &client.id),
        ])
        .await
}

#[tokio::test]
async fn an_exchanged_token_is_for_its_server_alone_and_another_server_refuses_it() {
    let stack = stack().await;
    let metadata: Value = stack
        .http
        .get(stack.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        metadata["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == GRANT),
        "{metadata}"
    );
    let (client, body) = stack.global_login(&["github-mcp", "slack-mcp"]).await;
    let (github, slack) = (stack.resource("github-mcp"), stack.resource("slack-mcp"));
    let (status, own) = exchange(&stack, &client, at(&body), &github).await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own["issued_token_type"], ACCESS);
    assert_eq!(own["token_type"], "Bearer");
    assert!(
        own.get("refresh_token").is_none(),
        "no refresh token: {own}"
    );
    let (subject, token) = (claims(at(&body)), claims(at(&own)));
    assert_eq!(token["aud"], "github-mcp");
    let scope = own["scope"].as_str().unwrap();
    assert!(scope.ends_with(" servers:github-mcp"), "{scope}");
    assert_eq!(
        scope.split(' ').count(),
        body["scope"].as_str().unwrap().split(' ').count()
    );
    assert!(
        token["exp"].as_i64() <= subject["exp"].as_i64(),
        "outlives its subject"
    );
    assert_eq!(
        stack.mcp_status(&github, Some(at(&own))).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        stack.mcp_status(&slack, Some(at(&own))).await.status(),
        StatusCode::UNAUTHORIZED,
        "another server accepted a token exchanged for github-mcp"
    );
    // The one-server token is no subject for another server; nor is a
    // server outside the grant, or a second resource, ever given.
    let (status, refused) = exchange(&stack, &client, at(&own), &slack).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_target"))
    );
    let notion = stack.resource("notion-mcp");
    let (status, refused) = exchange(&stack, &client, at(&body), &notion).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_target"))
    );
    let (status, refused) = stack
        .token(&[
            ("grant_type", GRANT),
            ("subject_token", at(&body)),
            ("subject_token_type", ACCESS),
            ("resource", &github),
            ("resource", &slack),
            ("client_id", &client.id),
        ])
        .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_target"))
    );
    // Another client cannot exchange this client's token.
    let other = stack.register().await;
    let (status, refused) = exchange(&stack, &other, at(&body), &github).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // Nothing rotated: the refresh token still works, once.
    let (status, _) = stack.refresh(&client, rt(&body), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stack.demo.exchange_requests(), 5);
}

#[tokio::test]
async fn a_revoked_grant_or_access_token_cannot_be_exchanged() {
    let stack = stack().await;
    let github = stack.resource("github-mcp");
    // A revoked access token, its grant still live.
    let (client, body) = stack.global_login(&["github-mcp", "slack-mcp"]).await;
    let revoke = |token: String, id: String| {
        let stack = &stack;
        async move {
            let response = stack
                .http
                .post(stack.url("/revoke"))
                .form(&[("token", token.as_str()), ("client_id", id.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
    };
    revoke(at(&body).to_string(), client.id.clone()).await;
    let (status, refused) = exchange(&stack, &client, at(&body), &github).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // A revoked grant: its unexpired access token is refused too.
    let (client, body) = stack.global_login(&["github-mcp"]).await;
    let (status, _) = exchange(&stack, &client, at(&body), &github).await;
    assert_eq!(status, StatusCode::OK);
    revoke(rt(&body).to_string(), client.id.clone()).await;
    let (status, refused) = exchange(&stack, &client, at(&body), &github).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn an_authorization_server_without_token_exchange_refuses_it() {
    let stack = Stack::default().await;
    let (client, body) = stack.global_login(&["github-mcp"]).await;
    let (status, refused) =
        exchange(&stack, &client, at(&body), &stack.resource("github-mcp")).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    assert_eq!(stack.demo.exchange_requests(), 0);
}
