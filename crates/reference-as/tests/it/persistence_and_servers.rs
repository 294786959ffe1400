use crate::common::*;
use reference_as::demo::DemoConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn restart_with_the_same_state_dir_keeps_the_grant_refreshable() {
    let dir = tempfile::tempdir().unwrap();
    // A fixed port (the issuer must survive the restart), below the
    // ephemeral range so parallel tests' sockets do not take it or port+1.
    let mut started = None;
    for _ in 0..30 {
        let port = 20_000 + (rand::random::<u16>() % 10_000);
        let config = DemoConfig {
            port,
            state_dir: Some(dir.path().to_path_buf()),
            servers: vec!["github-mcp".into()],
            ..DemoConfig::default()
        };
        if let Ok(demo) = reference_as::demo::Demo::start(config.clone()).await {
            started = Some((
                Stack {
                    demo,
                    http: no_redirects(),
                },
                config,
            ));
            break;
        }
    }
    let (stack, config) = started.expect("a free fixed port");
    let (client, t1) = stack.global_login(&["github-mcp"]).await;
    stack.demo.shutdown().await;

    let stack = Stack::start(config).await;
    let (status, t2) = stack.refresh(&client, rt(&t1), &[]).await;
    assert_eq!(status, StatusCode::OK, "{t2}");
    assert_eq!(
        stack
            .mcp_status(&stack.resource("github-mcp"), Some(at(&t1)))
            .await
            .status(),
        StatusCode::OK,
        "the signing key survived"
    );
    assert_eq!(
        stack
            .mcp_status(&stack.resource("github-mcp"), Some(at(&t2)))
            .await
            .status(),
        StatusCode::OK
    );
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn sample_server_answers_401_with_resource_metadata_and_serves_prm_at_both_urls() {
    let stack = Stack::default().await;
    let resource = stack.resource("slack-mcp");
    let origin = resource.trim_end_matches("/mcp");
    let response = stack.mcp_status(&resource, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    let prm_url = format!("{origin}/.well-known/oauth-protected-resource/mcp");
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains(&format!("resource_metadata=\"{prm_url}\"")),
        "{challenge}"
    );
    let bad = stack.mcp_status(&resource, Some("not.a.jwt")).await;
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert!(
        bad.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    for url in [
        prm_url.clone(),
        format!("{origin}/.well-known/oauth-protected-resource"),
    ] {
        let prm: Value = stack
            .http
            .get(&url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(prm["resource"], resource, "{url}");
        assert_eq!(prm["authorization_servers"], json!([stack.issuer()]));
    }
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn write_tool_without_mcp_write_is_403_insufficient_scope() {
    let stack = Stack::default().await;
    let (_, body) = stack.global_login(&["github-mcp"]).await;
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "create_issue", "arguments": {"title": "x"}}});
    let response = stack
        .http
        .post(stack.resource("github-mcp"))
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(at(&body))
        .json(&call)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains("mcp:write"), "{challenge}");
    stack.demo.shutdown().await;
}
