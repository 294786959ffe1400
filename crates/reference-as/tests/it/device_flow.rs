//! RFC 8628 at the reference AS: device codes, the code page behind the
//! sign-in form, consent, polling answers (pending, slow_down, denied,
//! expired), and single use.

use crate::common::*;
use reference_as::demo::DemoConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn cookie_browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("client")
}

async fn device_client(stack: &Stack) -> String {
    let body = json!({"client_name": "Device client", "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token", GRANT], "token_endpoint_auth_method": "none"});
    let response = stack
        .http
        .post(stack.url("/register"))
        .json(&body)
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), StatusCode::CREATED);
    let v: Value = response.json().await.expect("json");
    v["client_id"].as_str().expect("client_id").to_string()
}

async fn device_code(stack: &Stack, client_id: &str, resource: &str) -> Value {
    let response = stack
        .http
        .post(stack.url("/device_authorization"))
        .form(&[
            ("client_id", client_id),
            ("scope", "mcp:tools"),
            ("resource", resource),
        ])
        .send()
        .await
        .expect("device authorization");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

async fn poll(stack: &Stack, client_id: &str, code: &Value) -> (StatusCode, Value) {
    let response = stack
        .http
        .post(stack.url("/token"))
        .form(&[
            ("grant_type", GRANT),
            ("client_id", client_id),
            (
                "device_code",
                code["device_code"].as_str().expect("device_code"),
            ),
        ])
        .send()
        .await
        .expect("poll");
    (response.status(), response.json().await.expect("json"))
}

/// Signs in at the code page as demo/demo, enters `typed`, and returns the
/// page that follows (the consent page, or the code page with an error).
async fn enter_code(stack: &Stack, browser: &reqwest::Client, typed: &str) -> String {
    let html = browser
        .get(stack.url("/device"))
        .send()
        .await
        .expect("device page")
        .text()
        .await
        .expect("html");
    let html = if html.contains("action=\"/login\"") {
        let csrf = input_value(&html, "csrf").expect("csrf");
        let login = browser
            .post(stack.url("/login"))
            .form(&[
                ("username", "demo"),
                ("password", "demo"),
                ("csrf", csrf.as_str()),
                ("return_to", "/device"),
            ])
            .send()
            .await
            .expect("login");
        assert_eq!(login.status(), StatusCode::SEE_OTHER);
        browser
            .get(stack.url("/device"))
            .send()
            .await
            .expect("device page")
            .text()
            .await
            .expect("html")
    } else {
        html
    };
    assert!(html.contains("action=\"/device\""), "{html}");
    let csrf = input_value(&html, "csrf").expect("csrf");
    browser
        .post(stack.url("/device"))
        .form(&[("csrf", csrf.as_str()), ("user_code", typed)])
        .send()
        .await
        .expect("enter code")
        .text()
        .await
        .expect("html")
}

async fn decide(stack: &Stack, browser: &reqwest::Client, consent: &str, decision: &str) -> String {
    let csrf = input_value(consent, "csrf").expect("csrf");
    let request = input_value(consent, "request").expect("request");
    browser
        .post(stack.url("/authorize/decision"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("request", request.as_str()),
            ("decision", decision),
        ])
        .send()
        .await
        .expect("decision")
        .text()
        .await
        .expect("html")
}

fn config() -> DemoConfig {
    DemoConfig {
        servers: vec!["github-mcp".into()],
        device_interval: 1,
        ..DemoConfig::default()
    }
}

#[tokio::test]
async fn a_device_code_is_approved_on_the_page_and_answers_once() {
    // Polls sooner than 3 s answer slow_down, whatever the announced 1 s.
    let stack = Stack::start(DemoConfig {
        device_enforced_interval: Some(3),
        ..config()
    })
    .await;
    let metadata: Value = stack
        .http
        .get(stack.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("json");
    assert_eq!(
        metadata["device_authorization_endpoint"],
        json!(stack.url("/device_authorization"))
    );
    let client = device_client(&stack).await;
    let code = device_code(&stack, &client, &stack.resource("github-mcp")).await;
    assert_eq!(code["interval"], json!(1));
    assert_eq!(code["verification_uri"], json!(stack.url("/device")));
    let user_code = code["user_code"].as_str().expect("user_code").to_string();
    assert!(
        code["verification_uri_complete"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("user_code={user_code}")))
    );

    // Polled at once: too fast; from then on 1 + 5 s apart.
    let (status, body) = poll(&stack, &client, &code).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("slow_down"))
    );
    // After the longer interval: still waiting for the person.
    tokio::time::sleep(Duration::from_millis(6100)).await;
    let (_, body) = poll(&stack, &client, &code).await;
    assert_eq!(body["error"], json!("authorization_pending"));

    let browser = cookie_browser();
    let wrong = enter_code(&stack, &browser, "BBBB-BBBB").await;
    assert!(wrong.contains("That code is not valid"), "{wrong}");
    // Typed in lower case without the dash: still the code.
    let typed = user_code.replace('-', "").to_lowercase();
    let consent = enter_code(&stack, &browser, &typed).await;
    assert!(
        consent.contains("action=\"/authorize/decision\""),
        "{consent}"
    );
    let done = decide(&stack, &browser, &consent, "approve").await;
    assert!(done.contains("Device connected"), "{done}");

    tokio::time::sleep(Duration::from_millis(6100)).await;
    let (status, body) = poll(&stack, &client, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].is_string() && body["refresh_token"].is_string());
    // Single use.
    tokio::time::sleep(Duration::from_millis(6100)).await;
    let (_, body) = poll(&stack, &client, &code).await;
    assert_eq!(body["error"], json!("invalid_grant"));
    // The approved code is gone from the page too.
    let again = enter_code(&stack, &browser, &user_code).await;
    assert!(again.contains("That code is not valid"), "{again}");
    assert_eq!(stack.demo.device_polls().1, 1);
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn a_denied_code_says_so_and_another_client_gets_nothing() {
    let stack = Stack::start(config()).await;
    let client = device_client(&stack).await;
    let other = device_client(&stack).await;
    let code = device_code(&stack, &client, &stack.resource("github-mcp")).await;
    let browser = cookie_browser();
    let consent = enter_code(&stack, &browser, code["user_code"].as_str().expect("code")).await;
    let done = decide(&stack, &browser, &consent, "deny").await;
    assert!(done.contains("Access denied"), "{done}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, body) = poll(&stack, &other, &code).await;
    assert_eq!(
        body["error"],
        json!("invalid_grant"),
        "another client's poll"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, body) = poll(&stack, &client, &code).await;
    assert_eq!(body["error"], json!("access_denied"));
    // A device authorization request naming an unknown resource is refused.
    let response = stack
        .http
        .post(stack.url("/device_authorization"))
        .form(&[
            ("client_id", client.as_str()),
            ("resource", "https://unknown.example/mcp"),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], json!("invalid_target"));
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn an_expired_code_says_so() {
    let stack = Stack::start(DemoConfig {
        device_code_lifetime: 1,
        ..config()
    })
    .await;
    let client = device_client(&stack).await;
    let code = device_code(&stack, &client, &stack.resource("github-mcp")).await;
    // Lifetimes count in whole seconds: two seconds later it has expired.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (_, body) = poll(&stack, &client, &code).await;
    assert_eq!(body["error"], json!("expired_token"));
    let browser = cookie_browser();
    let page = enter_code(&stack, &browser, code["user_code"].as_str().expect("code")).await;
    assert!(page.contains("That code is not valid"), "{page}");
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn guessing_user_codes_is_cut_off_after_five_misses() {
    let stack = Stack::start(config()).await;
    let client = device_client(&stack).await;
    let code = device_code(&stack, &client, &stack.resource("github-mcp")).await;
    let browser = cookie_browser();
    for _ in 0..5 {
        let page = enter_code(&stack, &browser, "BBBB-BBBB").await;
        assert!(page.contains("That code is not valid"), "{page}");
    }
    // Even the right code is refused to this session now.
    let page = enter_code(&stack, &browser, code["user_code"].as_str().expect("code")).await;
    assert!(page.contains("Too many wrong codes"), "{page}");
    // Another person's session is not affected.
    let other = cookie_browser();
    let consent = enter_code(&stack, &other, code["user_code"].as_str().expect("code")).await;
    assert!(
        consent.contains("action=\"/authorize/decision\""),
        "{consent}"
    );
    stack.demo.shutdown().await;
}
