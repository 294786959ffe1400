//! What works: the IdP's code flow and refresh, the exchange for an ID-JAG,
//! the AS's JWT bearer grant (bearer and DPoP-bound), `approve` at the IdP,
//! and `demo --idp`.

use super::support::*;
use crate::common::{Pkce, Stack, claims, no_redirects, query_param};
use p256::ecdsa::SigningKey;
use reference_as::demo::{DemoConfig, ENTERPRISE_CLIENT_ID};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn idp_code_flow_issues_an_id_token_that_verifies_with_the_idp_jwks_and_refresh_rotates() {
    let stack = enterprise().await;
    let idp = idp(&stack);
    let (status, metadata) = {
        let r = no_redirects()
            .get(format!("{idp}/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(status, StatusCode::OK);
    assert_eq!(metadata["issuer"], idp);
    assert_eq!(metadata["token_endpoint"], format!("{idp}/token"));
    assert_eq!(
        metadata["grant_types_supported"],
        json!(["authorization_code", "refresh_token", TOKEN_EXCHANGE])
    );
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    for scope in ["openid", "offline_access"] {
        assert!(
            metadata["scopes_supported"]
                .as_array()
                .unwrap()
                .contains(&json!(scope))
        );
    }
    assert!(
        metadata["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("none"))
    );

    let body = idp_sign_in(&stack, "demo").await;
    let id_token = body["id_token"].as_str().unwrap();
    assert!(verifies_with_published_keys(&idp, id_token).await);
    let c = claims(id_token);
    assert_eq!(c["iss"], idp);
    assert_eq!(c["sub"], "demo");
    assert_eq!(c["aud"], "mcp-passport");
    assert_eq!(c["email"], "demo@example.com");
    assert_eq!(c["nonce"], "n-0S6");
    assert!(c["exp"].as_i64().unwrap() > c["iat"].as_i64().unwrap());
    assert!(body["access_token"].is_string() && body["expires_in"].as_i64().unwrap() > 0);
    let first_refresh = body["refresh_token"].as_str().unwrap();

    let refresh = |rt: String| {
        let url = format!("{idp}/token");
        async move {
            post(
                &url,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &rt),
                    ("client_id", "mcp-passport"),
                ],
                None,
            )
            .await
        }
    };
    let (status, refreshed) = refresh(first_refresh.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let second = refreshed["refresh_token"].as_str().unwrap();
    assert_ne!(second, first_refresh, "the refresh token rotates");
    let new_id_token = refreshed["id_token"].as_str().unwrap();
    assert_ne!(new_id_token, id_token);
    assert!(verifies_with_published_keys(&idp, new_id_token).await);
    assert_eq!(claims(new_id_token)["sub"], "demo");

    let (status, reused) = refresh(first_refresh.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reused["error"], "invalid_grant");
    assert!(description(&reused).contains("already used"), "{reused}");
    let (status, _) = refresh(second.to_string()).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "reuse ended the whole sign-in"
    );

    // Signing out: revoking a refresh token ends that sign-in.
    let again = idp_sign_in(&stack, "demo").await;
    let rt = again["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(metadata["revocation_endpoint"], format!("{idp}/revoke"));
    let (status, _) = post(
        &format!("{idp}/revoke"),
        &[("token", &rt), ("client_id", "mcp-passport")],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = refresh(rt).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(description(&body).contains("ended"), "{body}");
}

#[tokio::test]
async fn id_jag_from_the_idp_buys_a_token_for_exactly_one_server_at_the_as() {
    let stack = enterprise().await;
    let metadata: Value = no_redirects()
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
            .contains(&json!(JWT_BEARER))
    );

    let signed_in = idp_sign_in(&stack, "demo").await;
    let github = stack.resource("github-mcp");
    let (status, body) = exchange(
        &stack,
        signed_in["id_token"].as_str().unwrap(),
        &github,
        &[("scope", "mcp:tools mcp:resources")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["issued_token_type"], ID_JAG);
    assert_eq!(body["token_type"], "N_A");
    assert_eq!(body["expires_in"], 300);
    let jag = body["access_token"].as_str().unwrap();
    assert_eq!(header(jag)["typ"], "oauth-id-jag+jwt");
    assert!(verifies_with_published_keys(&idp(&stack), jag).await);
    let c = claims(jag);
    assert_eq!(c["iss"], idp(&stack));
    assert_eq!(c["sub"], "demo");
    assert_eq!(c["aud"], stack.issuer());
    assert_eq!(c["client_id"], ENTERPRISE_CLIENT_ID);
    assert_eq!(c["resource"], github);
    assert_eq!(c["scope"], "mcp:tools mcp:resources");
    assert!(c["jti"].as_str().is_some_and(|j| j.len() >= 16));
    let lifetime = c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap();
    assert!((1..=300).contains(&lifetime), "{lifetime}");

    let secret = as_secret(&stack);
    let (status, token) = jwt_bearer(&stack, jag, (ENTERPRISE_CLIENT_ID, &secret)).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert!(
        token.get("refresh_token").is_none(),
        "no refresh token: {token}"
    );
    assert_eq!(token["token_type"], "Bearer");
    assert!(token["expires_in"].as_i64().unwrap() > 0);
    assert_eq!(token["scope"], "mcp:tools mcp:resources servers:github-mcp");
    let access = token["access_token"].as_str().unwrap();
    let at = claims(access);
    assert_eq!(at["aud"], "github-mcp");
    assert_eq!(at["sub"], "demo");
    assert_eq!(at["client_id"], ENTERPRISE_CLIENT_ID);
    assert_eq!(
        stack.mcp_status(&github, Some(access)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        stack
            .mcp_status(&stack.resource("slack-mcp"), Some(access))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(stack.demo.jwt_bearer_requests(), 1);
    assert_eq!(stack.demo.idp_requests().1, 1);

    let introspect = |t: String| {
        let url = stack.url("/introspect");
        async move {
            post(
                &url,
                &[("token", &t)],
                Some(("sample-servers", "rs-secret")),
            )
            .await
            .1
        }
    };
    assert_eq!(introspect(access.to_string()).await["active"], true);
    let (status, _) = post(
        &stack.url("/revoke"),
        &[("token", access)],
        Some((ENTERPRISE_CLIENT_ID, &secret)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        introspect(access.to_string()).await["active"],
        false,
        "revocation works on it"
    );
}

#[tokio::test]
async fn id_jag_with_a_dpop_proof_buys_a_token_bound_to_that_key() {
    let stack = Stack::start(DemoConfig {
        idp: true,
        dpop: true,
        ..DemoConfig::default()
    })
    .await;
    let jag = id_jag(&stack).await;
    let secret = as_secret(&stack);
    let key = SigningKey::random(&mut rand::rngs::OsRng);
    let send = |proof: String| {
        no_redirects()
            .post(stack.url("/token"))
            .basic_auth(ENTERPRISE_CLIENT_ID, Some(&secret))
            .header("dpop", proof)
            .form(&[("grant_type", JWT_BEARER), ("assertion", jag.as_str())])
            .send()
    };
    let (proof, _) = dpop_proof(&key, &stack.url("/token"), None);
    let first = send(proof).await.unwrap();
    assert_eq!(first.status(), StatusCode::BAD_REQUEST);
    let nonce = first.headers()["dpop-nonce"].to_str().unwrap().to_string();
    assert_eq!(
        first.json::<Value>().await.unwrap()["error"],
        "use_dpop_nonce"
    );
    let (proof, jkt) = dpop_proof(&key, &stack.url("/token"), Some(&nonce));
    let second = send(proof).await.unwrap();
    assert_eq!(
        second.status(),
        StatusCode::OK,
        "the nonce retry spends the assertion, not the first try"
    );
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(claims(access)["cnf"]["jkt"], jkt);
    assert_eq!(
        stack
            .mcp_status(&stack.resource("github-mcp"), Some(access))
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "a bound token alone is refused"
    );
}

#[tokio::test]
async fn approve_command_signs_in_at_the_idp_and_returns_its_redirect() {
    let stack = enterprise().await;
    let pkce = Pkce::new();
    let mut url = url::Url::parse(&format!("{}/authorize", idp(&stack))).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "mcp-passport")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid offline_access")
        .append_pair("state", "st-approve")
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256");
    let approval = reference_as::approve::Approval {
        url: url.to_string(),
        user: ("alice".into(), "alice".into()),
        servers: Vec::new(),
        exec: None,
    };
    let location = reference_as::approve::approve_elsewhere(&approval)
        .await
        .expect("approved at the IdP");
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some("st-approve")
    );
    let code = query_param(&location, "code").expect("code");
    let (status, body) = post(
        &format!("{}/token", idp(&stack)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "mcp-passport"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &pkce.verifier),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(claims(body["id_token"].as_str().unwrap())["sub"], "alice");
}

#[tokio::test]
async fn demo_command_with_idp_prints_and_writes_what_a_client_needs() {
    use tokio::io::AsyncBufReadExt as _;
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready.json");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_reference-as"))
        .args(["demo", "--port", "0", "--servers", "github-mcp", "--idp"])
        .args(["--idp-allow", "alice=github-mcp", "--ready-file"])
        .arg(&ready)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.starts_with("Press Ctrl+C") {
            break;
        }
        printed.push(line);
    }
    let info: Value = serde_json::from_slice(&std::fs::read(&ready).unwrap()).unwrap();
    let e = &info["enterprise"];
    let idp = e["idp_issuer"].as_str().unwrap();
    assert_eq!(e["idp_client_id"], "mcp-passport");
    assert_eq!(e["as_client_id"], ENTERPRISE_CLIENT_ID);
    let secret = e["as_client_secret"].as_str().unwrap();
    let printed = printed.join("\n");
    assert!(
        printed.contains(&format!("Company IdP   {idp}")),
        "{printed}"
    );
    assert!(
        printed.contains(secret),
        "the secret is printed for the user: {printed}"
    );
    let config: Value = reqwest::get(format!("{idp}/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["issuer"], idp);
    child.kill().await.unwrap();
}
