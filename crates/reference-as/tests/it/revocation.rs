use crate::common::*;
use reference_as::demo::DemoConfig;
use reqwest::StatusCode;
use serde_json::Value;

const RS_SECRET: &str = "test-resource-server-secret";

async fn introspect(stack: &Stack, token: &str) -> Value {
    let response = stack
        .http
        .post(stack.url("/introspect"))
        .basic_auth("sample-servers", Some(RS_SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn revoke(stack: &Stack, client: &Client, token: &str) {
    let response = stack
        .http
        .post(stack.url("/revoke"))
        .form(&[("token", token), ("client_id", client.id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

fn config() -> DemoConfig {
    DemoConfig {
        introspect: true,
        resource_server_secret: Some(RS_SECRET.into()),
        ..DemoConfig::default()
    }
}

#[tokio::test]
async fn revoked_access_token_is_inactive_and_refused_by_an_introspecting_server() {
    let stack = Stack::start(config()).await;
    let (client, body) = stack.global_login(&["github-mcp", "slack-mcp"]).await;
    let github = stack.resource("github-mcp");
    let active = introspect(&stack, at(&body)).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["sub"], "demo");
    assert!(
        active["scope"]
            .as_str()
            .unwrap()
            .contains("servers:github-mcp,slack-mcp")
    );
    assert_eq!(
        stack.mcp_status(&github, Some(at(&body))).await.status(),
        StatusCode::OK
    );
    revoke(&stack, &client, at(&body)).await;
    assert_eq!(introspect(&stack, at(&body)).await["active"], false);
    assert_eq!(
        stack.mcp_status(&github, Some(at(&body))).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = stack.refresh(&client, rt(&body), &[]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "revoking an access token leaves the grant"
    );
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn revoked_refresh_token_ends_its_grant() {
    let stack = Stack::start(config()).await;
    let (client, body) = stack.global_login(&["github-mcp"]).await;
    assert_eq!(introspect(&stack, rt(&body)).await["active"], true);
    revoke(&stack, &client, rt(&body)).await;
    assert_eq!(introspect(&stack, rt(&body)).await["active"], false);
    assert_eq!(
        introspect(&stack, at(&body)).await["active"],
        false,
        "the grant's access tokens end with it"
    );
    let (status, err) = stack.refresh(&client, rt(&body), &[]).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn introspection_needs_resource_server_credentials() {
    let stack = Stack::start(config()).await;
    let (client, body) = stack.global_login(&["github-mcp"]).await;
    let anonymous = stack
        .http
        .post(stack.url("/introspect"))
        .form(&[("token", at(&body))])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let wrong = stack
        .http
        .post(stack.url("/introspect"))
        .basic_auth("sample-servers", Some("wrong"))
        .form(&[("token", at(&body))])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let as_client = stack
        .http
        .post(stack.url("/introspect"))
        .form(&[("token", at(&body)), ("client_id", client.id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        as_client.status(),
        StatusCode::UNAUTHORIZED,
        "an ordinary client may not introspect"
    );
    assert_eq!(introspect(&stack, "not-a-token").await["active"], false);
    stack.demo.shutdown().await;
}

async fn signed_in_account(stack: &Stack) -> (reqwest::Client, String) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let html = browser
        .get(stack.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = input_value(&html, "csrf").unwrap();
    let login = browser
        .post(stack.url("/login"))
        .form(&[
            ("username", "demo"),
            ("password", "demo"),
            ("csrf", csrf.as_str()),
            ("return_to", "/account"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let html = browser
        .get(stack.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (browser, html)
}

fn grant_action(html: &str, action: &str) -> String {
    let marker = "action=\"/account/grants/";
    let start = html.find(marker).unwrap() + marker.len();
    let id = &html[start..start + html[start..].find('/').unwrap()];
    format!("/account/grants/{id}/{action}")
}

#[tokio::test]
async fn removing_a_server_on_the_account_page_takes_effect_at_the_next_refresh() {
    let stack = Stack::start(config()).await;
    let (client, t1) = stack.global_login(&["github-mcp", "slack-mcp"]).await;
    let (browser, html) = signed_in_account(&stack).await;
    assert!(
        html.contains("GitHub") || html.contains("github-mcp"),
        "{html}"
    );
    let csrf = input_value(&html, "csrf").unwrap();
    let done = browser
        .post(stack.url(&grant_action(&html, "remove")))
        .form(&[("csrf", csrf.as_str()), ("server", "slack-mcp")])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let (status, t2) = stack.refresh(&client, rt(&t1), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        t2["scope"]
            .as_str()
            .unwrap()
            .ends_with("servers:github-mcp"),
        "{t2}"
    );
    let (browser, html) = signed_in_account(&stack).await;
    let csrf = input_value(&html, "csrf").unwrap();
    let done = browser
        .post(stack.url(&grant_action(&html, "revoke")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let (status, err) = stack.refresh(&client, rt(&t2), &[]).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        stack
            .mcp_status(&stack.resource("github-mcp"), Some(at(&t2)))
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "introspection sees the revocation"
    );
    stack.demo.shutdown().await;
}
