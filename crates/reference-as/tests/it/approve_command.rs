use crate::common::*;
use std::sync::{Arc, Mutex};

#[tokio::test]
async fn approve_command_signs_in_ticks_servers_and_delivers_the_redirect() {
    let stack = Stack::default().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/callback",
        axum::routing::get(move |axum::extract::RawQuery(q): axum::extract::RawQuery| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push(q.unwrap_or_default());
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut client = stack.register().await;
    client.redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let pkce = Pkce::new();
    let url = stack.authorize_url(&client, &pkce, "st-9", &[("scope", "mcp:global")]);
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_reference-as"))
        .args(["approve", &url, "--servers", "github-mcp,notion-mcp"])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let query = seen
        .lock()
        .unwrap()
        .first()
        .cloned()
        .expect("the redirect reached the listener");
    let callback = format!("http://127.0.0.1:{port}/callback?{query}");
    assert_eq!(query_param(&callback, "state").as_deref(), Some("st-9"));
    let code = query_param(&callback, "code").unwrap();
    let (_, body) = stack.exchange(&client, &pkce, &code).await;
    assert!(
        body["scope"]
            .as_str()
            .unwrap()
            .ends_with("servers:github-mcp,notion-mcp"),
        "{body}"
    );

    let wrong = tokio::process::Command::new(env!("CARGO_BIN_EXE_reference-as"))
        .args([
            "approve",
            &stack.authorize_url(&client, &Pkce::new(), "s", &[]),
            "--user",
            "demo:wrong",
        ])
        .output()
        .await
        .unwrap();
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("refused"));
    stack.demo.shutdown().await;
}
