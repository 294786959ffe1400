//! What a real MCP client sees: sessions, tools, scopes, metadata, shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{SCOPE, TestAs, challenge, post_mcp};
use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, CallToolResult, ClientConfig};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use sample_servers::{SampleServer, ServerSpec, Trust};
use serde_json::{Value, json};

type Client = RunningService<RoleClient, ClientConfig>;

async fn connect(server: &SampleServer, token: &str) -> Client {
    let config =
        StreamableHttpClientTransportConfig::with_uri(server.resource()).auth_header(token);
    ClientConfig::default()
        .serve(StreamableHttpClientTransport::from_config(config))
        .await
        .expect("initialize")
}

async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let mut params = CallToolRequestParams::new(tool.to_string());
    if let Value::Object(map) = args {
        params = params.with_arguments(map);
    }
    client.call_tool(params).await.expect("tools/call")
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text())
        .map(|t| t.text.clone())
        .collect()
}

async fn tool_names(client: &Client) -> Vec<String> {
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn rmcp_client_with_multi_server_token_initializes_lists_tools_and_sees_its_audience_in_whoami()
 {
    let auth = TestAs::start().await;
    let server = auth.server("github-mcp", false).await;
    let token = auth.token(json!(["github-mcp", "slack-mcp"]), SCOPE);
    let client = connect(&server, &token).await;
    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("github-mcp")
    );
    assert_eq!(
        tool_names(&client).await,
        ["create_issue", "list_issues", "whoami"]
    );

    let whoami: Value =
        serde_json::from_str(&text(&call(&client, "whoami", json!({})).await)).expect("JSON");
    assert_eq!(whoami["sub"], "alice");
    assert_eq!(whoami["server"], "github-mcp");
    assert_eq!(whoami["aud"], json!(["github-mcp", "slack-mcp"]));
    assert_eq!(whoami["client_id"], "passport");
    assert_eq!(whoami["scope"], SCOPE);

    let issues = text(&call(&client, "list_issues", json!({"state": "open"})).await);
    assert!(issues.contains("Token refresh fails"), "{issues}");
    client.cancel().await.expect("close");
    server.shutdown().await;
}

#[tokio::test]
async fn each_known_server_has_its_own_tools_and_unknown_ids_get_echo() {
    let auth = TestAs::start().await;
    for (id, expected) in [
        ("slack-mcp", vec!["list_channels", "post_message", "whoami"]),
        ("notion-mcp", vec!["create_page", "search_pages", "whoami"]),
        ("weather-mcp", vec!["echo", "whoami"]),
    ] {
        let server = auth.server(id, false).await;
        let client = connect(&server, &auth.token(json!([id]), "mcp:tools")).await;
        assert_eq!(tool_names(&client).await, expected, "{id}");
        client.cancel().await.expect("close");
        server.shutdown().await;
    }
    let server = auth.server("weather-mcp", false).await;
    let client = connect(&server, &auth.token(json!(["weather-mcp"]), "mcp:tools")).await;
    assert_eq!(
        text(&call(&client, "echo", json!({"text": "hi"})).await),
        "hi"
    );
    client.cancel().await.expect("close");
    server.shutdown().await;
}

#[tokio::test]
async fn write_tool_without_mcp_write_gets_403_insufficient_scope() {
    let auth = TestAs::start().await;
    let server = auth.server("github-mcp", false).await;
    let token = auth.token(json!(["github-mcp"]), SCOPE);
    let body = json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "create_issue", "arguments": {"title": "x"}}
    });
    let response = post_mcp(server.resource(), Some(&token), &body).await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        challenge(&response),
        format!(
            "Bearer error=\"insufficient_scope\", scope=\"mcp:tools mcp:write\", resource_metadata=\"http://{}/.well-known/oauth-protected-resource/mcp\"",
            server.addr()
        )
    );
    // A real client's call fails too, and nothing was written.
    let client = connect(&server, &token).await;
    let params = CallToolRequestParams::new("create_issue").with_arguments(
        json!({"title": "x"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    assert!(client.call_tool(params).await.is_err());
    let issues = text(&call(&client, "list_issues", json!({})).await);
    assert!(!issues.contains("\"x\""), "{issues}");
    client.cancel().await.expect("close");
    server.shutdown().await;
}

#[tokio::test]
async fn write_tool_with_mcp_write_works_and_is_visible_to_later_sessions() {
    let auth = TestAs::start().await;
    let server = auth.server("github-mcp", false).await;
    let token = auth.token(json!(["github-mcp"]), "mcp:tools mcp:write");
    let client = connect(&server, &token).await;
    let created = text(
        &call(
            &client,
            "create_issue",
            json!({"title": "From the test", "body": "b"}),
        )
        .await,
    );
    let issue: Value = serde_json::from_str(&created).expect("JSON");
    assert_eq!(issue["title"], "From the test");
    assert_eq!(issue["author"], "alice");
    client.cancel().await.expect("close");

    let reader = connect(&server, &auth.token(json!(["github-mcp"]), "mcp:tools")).await;
    assert!(text(&call(&reader, "list_issues", json!({})).await).contains("From the test"));
    reader.cancel().await.expect("close");
    server.shutdown().await;
}

#[tokio::test]
async fn protected_resource_metadata_is_served_at_the_path_and_root_addresses() {
    // The issuer is published exactly as given, trailing slash included.
    let issuer = "http://127.0.0.1:9/tenant/";
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let trust = Trust {
        issuer: issuer.into(),
        introspection: None,
    };
    let server = SampleServer::serve(ServerSpec::for_id("notion-mcp"), listener, trust)
        .await
        .expect("serve");
    assert_eq!(
        server.resource(),
        format!("http://127.0.0.1:{}/mcp", server.addr().port())
    );
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let response = reqwest::get(format!("http://{}{path}", server.addr()))
            .await
            .expect("GET");
        assert_eq!(response.status(), 200, "{path}");
        let document: Value = response.json().await.expect("JSON");
        assert_eq!(document["resource"], server.resource(), "{path}");
        assert_eq!(document["authorization_servers"], json!([issuer]));
        assert_eq!(
            document["scopes_supported"],
            json!(["mcp:tools", "mcp:resources", "mcp:prompts", "mcp:write"])
        );
        assert_eq!(document["bearer_methods_supported"], json!(["header"]));
        assert_eq!(document["resource_name"], server.name());
    }
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_with_an_open_session_frees_the_port() {
    let auth = TestAs::start().await;
    let server = auth.server("slack-mcp", false).await;
    let addr = server.addr();
    let client = connect(&server, &auth.token(json!(["slack-mcp"]), "mcp:tools")).await;
    assert!(text(&call(&client, "list_channels", json!({})).await).contains("general"));
    server.shutdown().await;
    tokio::net::TcpListener::bind(addr)
        .await
        .expect("port is free again");
    drop(client);
}

#[test]
fn specs_and_default_ids() {
    assert_eq!(
        sample_servers::default_ids(),
        ["github-mcp", "slack-mcp", "notion-mcp"]
    );
    for id in sample_servers::default_ids() {
        let spec = ServerSpec::for_id(&id);
        assert_eq!(spec.id, id);
        assert!(!spec.name.contains(&id), "known ids have their own names");
    }
    let generic = ServerSpec::for_id("weather-mcp");
    assert_eq!(generic.id, "weather-mcp");
    assert!(generic.name.contains("weather-mcp"));
}
