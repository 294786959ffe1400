use crate::common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn global_flow_for_two_of_three_servers_gives_array_audience_and_servers_scope() {
    let stack = Stack::default().await;
    let (_client, body) = stack.global_login(&["github-mcp", "slack-mcp"]).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(
        body["scope"],
        "mcp:global mcp:tools mcp:resources mcp:prompts servers:github-mcp,slack-mcp"
    );
    let claims = claims(at(&body));
    assert_eq!(claims["aud"], json!(["github-mcp", "slack-mcp"]));
    assert_eq!(claims["iss"], stack.issuer());
    assert_eq!(claims["sub"], "demo");
    assert!(claims["jti"].is_string() && claims["client_id"].is_string());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    for granted in ["github-mcp", "slack-mcp"] {
        let r = stack
            .mcp_status(&stack.resource(granted), Some(at(&body)))
            .await;
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "{granted} should accept the token"
        );
    }
    let refused = stack
        .mcp_status(&stack.resource("notion-mcp"), Some(at(&body)))
        .await;
    assert_eq!(
        refused.status(),
        StatusCode::UNAUTHORIZED,
        "the third server must refuse the token"
    );
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn access_token_is_an_es256_at_jwt_with_key_id_from_jwks() {
    let stack = Stack::default().await;
    let (_c, body) = stack.global_login(&["github-mcp"]).await;
    let header = at(&body).split('.').next().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
    )
    .unwrap();
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    let jwks: serde_json::Value = stack
        .http
        .get(stack.url("/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kid"], header["kid"]);
    assert_eq!(jwks["keys"][0]["crv"], "P-256");
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn picker_lists_every_catalog_server_and_prechecks_the_servers_hint() {
    let stack = Stack::default().await;
    let client = stack.register().await;
    let pkce = Pkce::new();
    let url = stack.authorize_url(
        &client,
        &pkce,
        "s",
        &[(
            "scope",
            "mcp:global mcp:tools servers:slack-mcp,unknown-mcp",
        )],
    );
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let (status, html) = stack.sign_in_to_consent(&browser, &url).await;
    assert_eq!(status, StatusCode::OK);
    for id in ["github-mcp", "slack-mcp", "notion-mcp"] {
        assert!(
            html.contains(&format!("name=\"server\" value=\"{id}\"")),
            "picker lacks {id}"
        );
    }
    assert_eq!(checked_servers(&html), vec!["slack-mcp"]);
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn approving_with_no_server_chosen_asks_again_instead_of_issuing_a_code() {
    let stack = Stack::default().await;
    let client = stack.register().await;
    let pkce = Pkce::new();
    let url = stack.authorize_url(&client, &pkce, "s", &[("scope", "mcp:global")]);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let (_, html) = stack.sign_in_to_consent(&browser, &url).await;
    let form = [
        ("csrf", input_value(&html, "csrf").unwrap()),
        ("request", input_value(&html, "request").unwrap()),
        ("decision", "approve".into()),
    ];
    let response = browser
        .post(stack.url("/authorize/decision"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Choose at least one server")
    );
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn every_redirect_carries_state_and_iss_also_on_denial() {
    let stack = Stack::default().await;
    let client = stack.register().await;
    let pkce = Pkce::new();
    let url = stack.authorize_url(&client, &pkce, "xyz", &[("scope", "mcp:global")]);
    let location = stack.approve(&url, &["github-mcp"]).await;
    assert_eq!(query_param(&location, "state").as_deref(), Some("xyz"));
    assert_eq!(query_param(&location, "iss"), Some(stack.issuer()));
    assert!(location.starts_with("http://127.0.0.1:48123/callback?"));

    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let (_, html) = stack.sign_in_to_consent(&browser, &url).await;
    let form = [
        ("csrf", input_value(&html, "csrf").unwrap()),
        ("request", input_value(&html, "request").unwrap()),
        ("decision", "deny".into()),
    ];
    let response = browser
        .post(stack.url("/authorize/decision"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some("xyz"));
    assert_eq!(query_param(&location, "iss"), Some(stack.issuer()));
    stack.demo.shutdown().await;
}

#[tokio::test]
async fn metadata_advertises_the_multi_server_pattern_at_both_well_known_paths() {
    let stack = Stack::default().await;
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let m: serde_json::Value = stack
            .http
            .get(stack.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(m["issuer"], stack.issuer());
        for scope in ["mcp:global", "mcp:tools", "mcp:resources", "mcp:prompts"] {
            assert!(
                m["scopes_supported"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(scope)),
                "{scope}"
            );
        }
        assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(m["authorization_response_iss_parameter_supported"], true);
        assert_eq!(m["client_id_metadata_document_supported"], true);
        assert!(
            m["token_endpoint_auth_methods_supported"]
                .as_array()
                .unwrap()
                .contains(&json!("none"))
        );
        for key in [
            "authorization_endpoint",
            "token_endpoint",
            "registration_endpoint",
            "revocation_endpoint",
            "introspection_endpoint",
            "jwks_uri",
            "mcp_server_catalog_endpoint",
        ] {
            assert!(
                m[key].as_str().unwrap().starts_with(&stack.issuer()),
                "{key}"
            );
        }
    }
    let catalog: serde_json::Value = stack
        .http
        .get(stack.url("/catalog"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = catalog["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["github-mcp", "slack-mcp", "notion-mcp"]);
    assert_eq!(
        catalog["servers"][0]["resource"],
        stack.resource("github-mcp")
    );
    stack.demo.shutdown().await;
}
