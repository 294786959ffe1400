use crate::common::*;
use reference_as::demo::DemoConfig;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn every_refresh_rotates_and_reusing_a_spent_token_revokes_the_grant() {
    let stack = Stack::default().await;
    let (client, first) = stack.global_login(&["github-mcp", "slack-mcp"]).await;
    let (status, second) = stack.refresh(&client, rt(&first), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(rt(&second), rt(&first), "the refresh token must rotate");
    assert_eq!(second["scope"], first["scope"]);
    let (status, reuse) = stack.refresh(&client, rt(&first), &[]).await;
    assert_eq!(
        (status, reuse["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, after) = stack.refresh(&client, rt(&second), &[]).await;
    assert_eq!(
        (status, after["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "the whole family is revoked"
    );
    stack.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_with_one_token_succeed_exactly_once() {
    let stack = Stack::default().await;
    let (client, first) = stack.global_login(&["github-mcp"]).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (http, url) = (stack.http.clone(), stack.url("/token"));
        let form = [
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", rt(&first).to_string()),
            ("client_id", client.id.clone()),
        ];
        tasks.spawn(async move { http.post(url).form(&form).send().await.unwrap().status() });
    }
    let statuses = tasks.join_all().await;
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn grace_keeps_only_the_immediately_previous_token_valid() {
    let stack = Stack::start(DemoConfig {
        refresh_grace: 30,
        ..DemoConfig::default()
    })
    .await;
    let (client, t1) = stack.global_login(&["github-mcp"]).await;
    let (_, t2) = stack.refresh(&client, rt(&t1), &[]).await;
    let (status, retry) = stack.refresh(&client, rt(&t1), &[]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the previous token is within grace: {retry}"
    );
    let (_, t4) = stack.refresh(&client, rt(&retry), &[]).await;
    assert!(t4["access_token"].is_string());
    let (status, _) = stack.refresh(&client, rt(&t2), &[]).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an older token is reuse even within grace"
    );
    let (status, _) = stack.refresh(&client, rt(&t4), &[]).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "and reuse revoked the grant"
    );
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn narrowing_servers_scope_narrows_the_grant_for_good() {
    let stack = Stack::default().await;
    let (client, t1) = stack
        .global_login(&["github-mcp", "slack-mcp", "notion-mcp"])
        .await;
    let (status, t2) = stack
        .refresh(
            &client,
            rt(&t1),
            &[(
                "scope",
                "mcp:global mcp:tools mcp:resources mcp:prompts servers:github-mcp,notion-mcp",
            )],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t2}");
    assert_eq!(
        t2["scope"],
        "mcp:global mcp:tools mcp:resources mcp:prompts servers:github-mcp,notion-mcp"
    );
    assert_eq!(claims(at(&t2))["aud"], json!(["github-mcp", "notion-mcp"]));
    let (_, t3) = stack.refresh(&client, rt(&t2), &[]).await;
    assert_eq!(
        t3["scope"], "mcp:global mcp:tools mcp:resources mcp:prompts servers:github-mcp,notion-mcp",
        "narrowing lasts"
    );
    let refused = stack
        .mcp_status(&stack.resource("slack-mcp"), Some(at(&t3)))
        .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let (status, widen) = stack
        .refresh(
            &client,
            rt(&t3),
            &[("scope", "mcp:tools servers:github-mcp,slack-mcp")],
        )
        .await;
    assert_eq!(
        (status, widen["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn resource_refresh_gives_a_single_server_token_and_leaves_the_grant_alone() {
    let stack = Stack::default().await;
    let (client, t1) = stack.global_login(&["github-mcp", "slack-mcp"]).await;
    let github = stack.resource("github-mcp");
    let (status, t2) = stack
        .refresh(&client, rt(&t1), &[("resource", &github)])
        .await;
    assert_eq!(status, StatusCode::OK, "{t2}");
    assert_eq!(claims(at(&t2))["aud"], json!("github-mcp"));
    assert!(
        t2["scope"]
            .as_str()
            .unwrap()
            .ends_with("servers:github-mcp")
    );
    assert_eq!(
        stack.mcp_status(&github, Some(at(&t2))).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        stack
            .mcp_status(&stack.resource("slack-mcp"), Some(at(&t2)))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let (_, t3) = stack.refresh(&client, rt(&t2), &[]).await;
    assert_eq!(
        claims(at(&t3))["aud"],
        json!(["github-mcp", "slack-mcp"]),
        "the grant kept both servers"
    );
    let (status, body) = stack
        .refresh(
            &client,
            rt(&t3),
            &[("resource", &stack.resource("notion-mcp"))],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_target"))
    );
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn refresh_by_another_client_is_refused() {
    let stack = Stack::default().await;
    let (_client, t1) = stack.global_login(&["github-mcp"]).await;
    let thief = stack.register().await;
    let (status, body) = stack.refresh(&thief, rt(&t1), &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn access_token_lifetime_follows_access_ttl() {
    let stack = Stack::start(DemoConfig {
        access_ttl: 120,
        ..DemoConfig::default()
    })
    .await;
    let (_, body) = stack.global_login(&["github-mcp"]).await;
    assert_eq!(body["expires_in"], 120);
    let c = claims(at(&body));
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 120);
    stack.demo.shutdown().await;
}
