use crate::common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn per_server_flow_with_resource_skips_the_picker_and_binds_the_audience() {
    let stack = Stack::default().await;
    let client = stack.register().await;
    let pkce = Pkce::new();
    let github = stack.resource("github-mcp");
    let url = stack.authorize_url(
        &client,
        &pkce,
        "s",
        &[("scope", "mcp:tools"), ("resource", &github)],
    );
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let (_, html) = stack.sign_in_to_consent(&browser, &url).await;
    assert!(
        !html.contains("type=\"checkbox\""),
        "no picker when resource names a server"
    );
    let location = stack.approve(&url, &[]).await;
    let code = query_param(&location, "code").unwrap();
    let (status, body) = stack
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &client.id),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", &pkce.verifier),
            ("resource", &github),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(claims(at(&body))["aud"], json!("github-mcp"));
    assert_eq!(body["scope"], "mcp:tools servers:github-mcp");
    assert_eq!(
        stack.mcp_status(&github, Some(at(&body))).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        stack
            .mcp_status(&stack.resource("slack-mcp"), Some(at(&body)))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn token_request_for_a_resource_outside_the_grant_is_invalid_target() {
    let stack = Stack::default().await;
    let client = stack.register().await;
    let pkce = Pkce::new();
    let url = stack.authorize_url(
        &client,
        &pkce,
        "s",
        &[("resource", &stack.resource("github-mcp"))],
    );
    let code = query_param(&stack.approve(&url, &[]).await, "code").unwrap();
    let slack = stack.resource("slack-mcp");
    let (status, body) = stack
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &client.id),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", &pkce.verifier),
            ("resource", &slack),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_target"))
    );
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn unknown_resource_in_the_authorization_request_is_invalid_target() {
    let stack = Stack::default().await;
    let client = stack.register().await;
    let pkce = Pkce::new();
    let url = stack.authorize_url(
        &client,
        &pkce,
        "s",
        &[("resource", "http://127.0.0.1:1/mcp")],
    );
    let response = stack.http.get(url).send().await.unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_target")
    );
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn multi_resource_flow_grants_exactly_the_named_servers_then_one_token_per_server() {
    let stack = Stack::default().await;
    let client = stack.register().await;
    let pkce = Pkce::new();
    let (github, notion) = (stack.resource("github-mcp"), stack.resource("notion-mcp"));
    let url = stack.authorize_url(
        &client,
        &pkce,
        "s",
        &[("resource", &github), ("resource", &notion)],
    );
    let code = query_param(&stack.approve(&url, &["slack-mcp"]).await, "code").unwrap();
    let (status, t1) = stack.exchange(&client, &pkce, &code).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        claims(at(&t1))["aud"],
        json!(["github-mcp", "notion-mcp"]),
        "picker choices are ignored when resources are named"
    );
    let (_, t2) = stack
        .refresh(&client, rt(&t1), &[("resource", &github)])
        .await;
    assert_eq!(claims(at(&t2))["aud"], json!("github-mcp"));
    let (_, t3) = stack
        .refresh(&client, rt(&t2), &[("resource", &notion)])
        .await;
    assert_eq!(claims(at(&t3))["aud"], json!("notion-mcp"));
    assert_eq!(
        stack.mcp_status(&notion, Some(at(&t3))).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        stack.mcp_status(&github, Some(at(&t3))).await.status(),
        StatusCode::UNAUTHORIZED
    );
    stack.demo.shutdown().await;
}

async fn serve_metadata_document(doc: impl Fn(String) -> Value + Send + Sync + 'static) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/client.json",
        listener.local_addr().unwrap().port()
    );
    let body = doc(url.clone());
    let app = axum::Router::new().route(
        "/client.json",
        axum::routing::get(move || async move { axum::Json(body) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn client_id_metadata_document_client_completes_the_flow() {
    let stack = Stack::default().await;
    let url = serve_metadata_document(|id| json!({"client_id": id, "client_name": "Doc Client", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"})).await;
    let client = Client {
        id: url,
        redirect_uri: "http://127.0.0.1:40000/callback".into(),
    };
    let pkce = Pkce::new();
    let authorize = stack.authorize_url(&client, &pkce, "s", &[("scope", "mcp:global")]);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let (_, html) = stack.sign_in_to_consent(&browser, &authorize).await;
    assert!(
        html.contains("Doc Client"),
        "the consent page names the document's client_name"
    );
    let code = query_param(&stack.approve(&authorize, &["github-mcp"]).await, "code").unwrap();
    let (status, body) = stack.exchange(&client, &pkce, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn metadata_document_whose_client_id_is_not_its_url_is_refused() {
    let stack = Stack::default().await;
    let url = serve_metadata_document(|_| json!({"client_id": "https://elsewhere.example/client.json", "redirect_uris": [REDIRECT]})).await;
    let client = Client {
        id: url,
        redirect_uri: "http://127.0.0.1:40000/callback".into(),
    };
    let response = stack
        .http
        .get(stack.authorize_url(&client, &Pkce::new(), "s", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
    assert!(response.text().await.unwrap().contains("not its own URL"));
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn dynamic_registration_checks_redirect_uris_and_issues_secrets_to_confidential_clients() {
    let stack = Stack::default().await;
    for bad in [
        "http://app.example/cb",
        "myapp:/cb",
        "javascript:alert(1)",
        "https://app.example/cb#x",
    ] {
        let r = stack
            .http
            .post(stack.url("/register"))
            .json(&json!({"redirect_uris": [bad], "token_endpoint_auth_method": "none"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(
            r.json::<Value>().await.unwrap()["error"],
            "invalid_redirect_uri"
        );
    }
    let ok = stack.http.post(stack.url("/register")).json(&json!({"redirect_uris": ["io.github.mcppassport:/oauth/callback"], "token_endpoint_auth_method": "none"})).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::CREATED);
    assert!(
        ok.json::<Value>()
            .await
            .unwrap()
            .get("client_secret")
            .is_none(),
        "public clients get no secret"
    );

    let confidential: Value = stack.http.post(stack.url("/register")).json(&json!({"redirect_uris": [REDIRECT], "grant_types": ["authorization_code", "refresh_token"]})).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        confidential["token_endpoint_auth_method"],
        "client_secret_basic"
    );
    let id = confidential["client_id"].as_str().unwrap();
    let secret = confidential["client_secret"].as_str().unwrap();
    let wrong = stack
        .http
        .post(stack.url("/token"))
        .basic_auth(id, Some("wrong"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let no_secret = stack
        .http
        .post(stack.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", id),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(no_secret.status(), StatusCode::UNAUTHORIZED);
    let right = stack
        .http
        .post(stack.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        right.status(),
        StatusCode::BAD_REQUEST,
        "authenticated; the refresh token itself is invalid"
    );
    stack.demo.shutdown().await;
}
