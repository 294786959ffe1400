use crate::common::*;
use reqwest::StatusCode;

async fn error_redirect(stack: &Stack, client: &Client, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&stack.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &client.id)
        .append_pair("redirect_uri", &client.redirect_uri)
        .append_pair("state", "s1");
    for (k, v) in params {
        url.query_pairs_mut().append_pair(k, v);
    }
    let response = stack.http.get(url.as_str()).send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "expected an error redirect for {params:?}"
    );
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(query_param(&location, "state").as_deref(), Some("s1"));
    assert_eq!(query_param(&location, "iss"), Some(stack.issuer()));
    query_param(&location, "error").unwrap()
}

#[tokio::test]
async fn plain_and_missing_pkce_are_refused_with_an_error_redirect() {
    let stack = Stack::default().await;
    let client = stack.register().await;
    let code = [("response_type", "code")];
    assert_eq!(
        error_redirect(&stack, &client, &code).await,
        "invalid_request"
    );
    let plain = [
        ("response_type", "code"),
        (
            "code_challenge",
            "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq",
        ),
        ("code_challenge_method", "plain"),
    ];
    assert_eq!(
        error_redirect(&stack, &client, &plain).await,
        "invalid_request"
    );
    let no_method = [
        ("response_type", "code"),
        (
            "code_challenge",
            "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq",
        ),
    ];
    assert_eq!(
        error_redirect(&stack, &client, &no_method).await,
        "invalid_request"
    );
    let token = [
        ("response_type", "token"),
        (
            "code_challenge",
            "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq",
        ),
        ("code_challenge_method", "S256"),
    ];
    assert_eq!(
        error_redirect(&stack, &client, &token).await,
        "unsupported_response_type"
    );
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn wrong_code_verifier_fails_and_stores_no_grant() {
    let stack = Stack::default().await;
    let client = stack.register().await;
    let pkce = Pkce::new();
    let location = stack
        .approve(
            &stack.authorize_url(&client, &pkce, "s", &[("scope", "mcp:global")]),
            &["github-mcp"],
        )
        .await;
    let code = query_param(&location, "code").unwrap();
    let wrong = Pkce::new();
    let (status, body) = stack.exchange(&client, &wrong, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert!(body.get("access_token").is_none());
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn reused_code_is_refused_and_revokes_what_it_issued() {
    let stack = Stack::default().await;
    let client = stack.register().await;
    let pkce = Pkce::new();
    let location = stack
        .approve(
            &stack.authorize_url(&client, &pkce, "s", &[("scope", "mcp:global")]),
            &["github-mcp"],
        )
        .await;
    let code = query_param(&location, "code").unwrap();
    let (status, first) = stack.exchange(&client, &pkce, &code).await;
    assert_eq!(status, StatusCode::OK);
    let (status, second) = stack.exchange(&client, &pkce, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(second["error"], "invalid_grant");
    let (status, body) = stack.refresh(&client, rt(&first), &[]).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the first exchange's grant must be revoked: {body}"
    );
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn code_exchange_checks_redirect_uri_and_client() {
    let stack = Stack::default().await;
    let client = stack.register().await;
    let other = stack.register().await;
    let pkce = Pkce::new();
    let location = stack
        .approve(
            &stack.authorize_url(&client, &pkce, "s", &[]),
            &["github-mcp"],
        )
        .await;
    let code = query_param(&location, "code").unwrap();
    let (status, body) = stack.exchange(&other, &pkce, &code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    let pkce = Pkce::new();
    let location = stack
        .approve(
            &stack.authorize_url(&client, &pkce, "s", &[]),
            &["github-mcp"],
        )
        .await;
    let code = query_param(&location, "code").unwrap();
    let (status, body) = stack
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &client.id),
            ("redirect_uri", "http://127.0.0.1:1/other"),
            ("code_verifier", &pkce.verifier),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn unregistered_redirect_uri_gets_an_error_page_not_a_redirect() {
    let stack = Stack::default().await;
    let mut client = stack.register().await;
    client.redirect_uri = "https://evil.example/callback".into();
    let pkce = Pkce::new();
    let response = stack
        .http
        .get(stack.authorize_url(&client, &pkce, "s", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("redirect_uri is not one this application registered")
    );
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn loopback_redirect_uri_matches_on_any_port() {
    let stack = Stack::default().await;
    let mut client = stack.register().await;
    client.redirect_uri = "http://127.0.0.1:61234/callback".into();
    let pkce = Pkce::new();
    let location = stack
        .approve(
            &stack.authorize_url(&client, &pkce, "s", &[]),
            &["slack-mcp"],
        )
        .await;
    assert!(location.starts_with("http://127.0.0.1:61234/callback?code="));
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn sign_in_refuses_a_wrong_password_and_a_missing_csrf_token() {
    let stack = Stack::default().await;
    let client = stack.register().await;
    let pkce = Pkce::new();
    let url = stack.authorize_url(&client, &pkce, "s", &[]);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let html = browser
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = input_value(&html, "csrf").unwrap();
    let return_to = input_value(&html, "return_to").unwrap();
    let wrong = browser
        .post(stack.url("/login"))
        .form(&[
            ("username", "demo"),
            ("password", "nope"),
            ("csrf", &csrf),
            ("return_to", &return_to),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.text().await.unwrap().contains("do not match"));
    let forged = browser
        .post(stack.url("/login"))
        .form(&[
            ("username", "demo"),
            ("password", "demo"),
            ("csrf", "forged"),
            ("return_to", &return_to),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn consent_answer_without_the_session_csrf_token_is_refused() {
    let stack = Stack::default().await;
    let client = stack.register().await;
    let pkce = Pkce::new();
    let url = stack.authorize_url(&client, &pkce, "s", &[]);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let (_, html) = stack.sign_in_to_consent(&browser, &url).await;
    let request = input_value(&html, "request").unwrap();
    let response = browser
        .post(stack.url("/authorize/decision"))
        .form(&[
            ("csrf", "x"),
            ("request", request.as_str()),
            ("decision", "approve"),
            ("server", "github-mcp"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let stranger = no_redirects();
    let response = stranger
        .post(stack.url("/authorize/decision"))
        .form(&[
            ("csrf", input_value(&html, "csrf").unwrap().as_str()),
            ("request", request.as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "another browser without the session cookie"
    );
    stack.demo.shutdown().await;
}
