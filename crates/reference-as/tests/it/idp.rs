//! Enterprise-Managed Authorization over real HTTP: the IdP role's OpenID
//! Connect code flow, its token exchange (ID token -> ID-JAG), the AS's JWT
//! bearer grant, and the sample servers taking the resulting token. The
//! refusals follow SECURITY-CASES' spirit: each names its problem.

use crate::common::{Pkce, Stack, claims, no_redirects, query_param};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use reference_as::demo::{DemoConfig, ENTERPRISE_CLIENT_ID};
use reqwest::StatusCode;
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:48123/callback";
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
const ID_JAG: &str = "urn:ietf:params:oauth:token-type:id-jag";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The demo with its IdP; `alice` may reach github-mcp only.
async fn enterprise() -> Stack {
    Stack::start(DemoConfig {
        idp: true,
        users: vec![
            ("demo".into(), "demo".into()),
            ("alice".into(), "alice".into()),
        ],
        idp_allowed: vec![("alice".into(), vec!["github-mcp".into()])],
        resource_server_secret: Some("rs-secret".into()),
        ..DemoConfig::default()
    })
    .await
}

fn idp(stack: &Stack) -> String {
    stack.demo.idp_issuer().expect("idp started").to_string()
}

fn as_secret(stack: &Stack) -> String {
    let e = stack.demo.enterprise().expect("enterprise info");
    e.as_client_secret.clone().expect("confidential AS client")
}

/// Signs in at the IdP as `user` through its real sign-in form; returns the
/// redirect's query (code, state, iss) and the PKCE verifier.
async fn idp_code(stack: &Stack, user: &str) -> (String, Pkce) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let pkce = Pkce::new();
    let mut url = url::Url::parse(&format!("{}/authorize", idp(stack))).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "mcp-passport")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid offline_access email")
        .append_pair("state", "st-idp")
        .append_pair("nonce", "n-0S6")
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256");
    let page = browser.get(url.clone()).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("action=\"/login\""), "sign-in page: {html}");
    assert!(
        !html.contains("name=\"server\""),
        "no server picker at the IdP"
    );
    let csrf = crate::common::input_value(&html, "csrf").unwrap();
    let return_to = crate::common::input_value(&html, "return_to").unwrap();
    let login = browser
        .post(format!("{}/login", idp(stack)))
        .form(&[
            ("username", user),
            ("password", user),
            ("csrf", &csrf),
            ("return_to", &return_to),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let back = browser.get(url).send().await.unwrap();
    assert_eq!(
        back.status(),
        StatusCode::SEE_OTHER,
        "straight back to the client"
    );
    let location = back.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(query_param(&location, "state").as_deref(), Some("st-idp"));
    assert_eq!(query_param(&location, "iss"), Some(idp(stack)));
    (query_param(&location, "code").expect("code"), pkce)
}

async fn post(
    url: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, Value) {
    let mut request = no_redirects().post(url).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Signs `user` in at the IdP; the token response.
async fn idp_sign_in(stack: &Stack, user: &str) -> Value {
    let (code, pkce) = idp_code(stack, user).await;
    let (status, body) = post(
        &format!("{}/token", idp(stack)),
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
    body
}

async fn exchange(
    stack: &Stack,
    id_token: &str,
    resource: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let audience = stack.issuer();
    let mut form = vec![
        ("grant_type", TOKEN_EXCHANGE),
        ("subject_token", id_token),
        ("subject_token_type", ID_TOKEN),
        ("requested_token_type", ID_JAG),
        ("audience", audience.as_str()),
        ("resource", resource),
        ("client_id", "mcp-passport"),
    ];
    for (k, v) in extra {
        form.retain(|(name, _)| name != k);
        form.push((k, v));
    }
    post(&format!("{}/token", idp(stack)), &form, None).await
}

async fn jwt_bearer(stack: &Stack, assertion: &str, client: (&str, &str)) -> (StatusCode, Value) {
    post(
        &stack.url("/token"),
        &[("grant_type", JWT_BEARER), ("assertion", assertion)],
        Some(client),
    )
    .await
}

/// An ID-JAG for github-mcp, through a real sign-in and exchange.
async fn id_jag(stack: &Stack) -> String {
    let signed_in = idp_sign_in(stack, "demo").await;
    let (status, body) = exchange(
        stack,
        signed_in["id_token"].as_str().unwrap(),
        &stack.resource("github-mcp"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

fn header(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&B64.decode(part).unwrap()).unwrap()
}

/// Whether `token` verifies with a key of the JWKS published at `issuer`'s `jwks_uri`.
async fn verifies_with_published_keys(issuer: &str, token: &str) -> bool {
    let http = no_redirects();
    let config: Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwks: Value = http
        .get(config["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let signature = Signature::from_slice(&B64.decode(sig).unwrap()).unwrap();
    jwks["keys"].as_array().unwrap().iter().any(|k| {
        let mut point = vec![4u8];
        point.extend(B64.decode(k["x"].as_str().unwrap()).unwrap());
        point.extend(B64.decode(k["y"].as_str().unwrap()).unwrap());
        VerifyingKey::from_sec1_bytes(&point)
            .is_ok_and(|key| key.verify(input.as_bytes(), &signature).is_ok())
    })
}

/// A token signed with the IdP's own key (the IdP as a party that misbehaves).
fn signed_by_idp(stack: &Stack, typ: &str, claims: &Value) -> String {
    stack
        .demo
        .idp_state()
        .unwrap()
        .base
        .signer
        .sign_typed(typ, claims)
}

/// Claims of a good ID-JAG for `resource`, to be altered by a test.
fn jag_claims(stack: &Stack, resource: &str) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    json!({
        "iss": idp(stack), "sub": "demo", "aud": stack.issuer(), "client_id": ENTERPRISE_CLIENT_ID,
        "resource": resource, "jti": crate::common::uuid_like(), "iat": now, "exp": now + 300,
    })
}

fn description(body: &Value) -> String {
    body["error_description"].as_str().unwrap_or("").to_string()
}

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
async fn sec_id_jag_refusals_at_the_as_each_name_the_problem() {
    let stack = enterprise().await;
    let secret = as_secret(&stack);
    let client = (ENTERPRISE_CLIENT_ID, secret.as_str());
    let github = stack.resource("github-mcp");
    let refused = |expected_error: &'static str, words: &'static str| {
        move |(status, body): (StatusCode, Value)| {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(body["error"], expected_error, "{body}");
            assert!(description(&body).contains(words), "{words} not in {body}");
        }
    };

    // Replay: the first use works, the second is refused.
    let jag = id_jag(&stack).await;
    assert_eq!(jwt_bearer(&stack, &jag, client).await.0, StatusCode::OK);
    refused("invalid_grant", "already used")(jwt_bearer(&stack, &jag, client).await);

    // For another AS.
    let mut other_as = jag_claims(&stack, &github);
    other_as["aud"] = json!("http://127.0.0.1:9/other-as");
    let forged = signed_by_idp(&stack, "oauth-id-jag+jwt", &other_as);
    refused("invalid_grant", "aud")(jwt_bearer(&stack, &forged, client).await);

    // Expired.
    let mut expired = jag_claims(&stack, &github);
    expired["iat"] = json!(expired["iat"].as_i64().unwrap() - 900);
    expired["exp"] = json!(expired["exp"].as_i64().unwrap() - 900);
    let forged = signed_by_idp(&stack, "oauth-id-jag+jwt", &expired);
    refused("invalid_grant", "expired")(jwt_bearer(&stack, &forged, client).await);

    // Long-lived.
    let mut long_lived = jag_claims(&stack, &github);
    long_lived["exp"] = json!(long_lived["iat"].as_i64().unwrap() + 7200);
    let forged = signed_by_idp(&stack, "oauth-id-jag+jwt", &long_lived);
    refused("invalid_grant", "longer")(jwt_bearer(&stack, &forged, client).await);

    // Signed by a key the IdP never published, under the IdP's kid.
    let good = id_jag(&stack).await;
    let (input, _) = good.rsplit_once('.').unwrap();
    let stranger = SigningKey::random(&mut rand::rngs::OsRng);
    let signature: Signature = stranger.sign(input.as_bytes());
    let forged = format!("{input}.{}", B64.encode(signature.to_bytes()));
    refused("invalid_grant", "signature")(jwt_bearer(&stack, &forged, client).await);

    // Issued for another client than the one authenticating.
    let registered: Value = no_redirects()
        .post(stack.url("/register"))
        .json(&json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let intruder = (
        registered["client_id"].as_str().unwrap(),
        registered["client_secret"].as_str().unwrap(),
    );
    refused("invalid_grant", "another client")(jwt_bearer(&stack, &good, intruder).await);

    // A server this AS does not serve.
    let forged = signed_by_idp(
        &stack,
        "oauth-id-jag+jwt",
        &jag_claims(&stack, "http://127.0.0.1:9/mcp"),
    );
    refused("invalid_target", "resource")(jwt_bearer(&stack, &forged, client).await);

    // An ID token is not an ID-JAG.
    let id_token = idp_sign_in(&stack, "demo").await["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    refused("invalid_grant", "typ")(jwt_bearer(&stack, &id_token, client).await);

    // A wrong secret is refused before the assertion is looked at, and the good one still works after all this.
    let (status, body) = jwt_bearer(&stack, &good, (ENTERPRISE_CLIENT_ID, "wrong")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    assert_eq!(jwt_bearer(&stack, &good, client).await.0, StatusCode::OK);
}

#[tokio::test]
async fn sec_token_exchange_refusals_at_the_idp_each_name_the_problem() {
    let stack = enterprise().await;
    let github = stack.resource("github-mcp");
    let id_token = idp_sign_in(&stack, "demo").await["id_token"]
        .as_str()
        .unwrap()
        .to_string();

    let now = claims(&id_token)["iat"].as_i64().unwrap();
    let mut wrong_aud = claims(&id_token);
    wrong_aud["aud"] = json!("another-app");
    let forged = signed_by_idp(&stack, "JWT", &wrong_aud);
    let (status, body) = exchange(&stack, &forged, &github, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert!(description(&body).contains("aud"), "{body}");

    let mut expired = claims(&id_token);
    expired["exp"] = json!(now - 10);
    let forged = signed_by_idp(&stack, "JWT", &expired);
    let (_, body) = exchange(&stack, &forged, &github, &[]).await;
    assert!(description(&body).contains("expired"), "{body}");

    let (status, body) = exchange(
        &stack,
        &id_token,
        &github,
        &[("audience", "http://127.0.0.1:9/untrusted")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_target"))
    );
    assert!(description(&body).contains("audience"), "{body}");

    let (status, body) = exchange(&stack, &id_token, "http://127.0.0.1:9/mcp", &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_target"))
    );
    assert!(description(&body).contains("resource"), "{body}");

    let (status, body) = exchange(
        &stack,
        &id_token,
        &github,
        &[(
            "requested_token_type",
            "urn:ietf:params:oauth:token-type:access_token",
        )],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );

    // An ID-JAG is not an ID token.
    let jag = id_jag(&stack).await;
    let (status, body) = exchange(&stack, &jag, &github, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{body}"
    );

    // Policy: alice may reach github-mcp, not notion-mcp.
    let alice = idp_sign_in(&stack, "alice").await["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = exchange(&stack, &alice, &stack.resource("notion-mcp"), &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("access_denied")),
        "{body}"
    );
    assert!(description(&body).contains("policy"), "{body}");
    let (status, body) = exchange(&stack, &alice, &github, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["sub"],
        "alice"
    );
}

/// A DPoP proof (RFC 9449) for `POST htu` with `key`, and the key's thumbprint.
fn dpop_proof(key: &SigningKey, htu: &str, nonce: Option<&str>) -> (String, String) {
    use sha2::Digest as _;
    let point = VerifyingKey::from(key).to_encoded_point(false);
    let x = B64.encode(point.x().unwrap());
    let y = B64.encode(point.y().unwrap());
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "EC", "crv": "P-256", "x": x, "y": y}});
    let iat = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims =
        json!({"htm": "POST", "htu": htu, "iat": iat, "jti": crate::common::uuid_like()});
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let signature: Signature = key.sign(input.as_bytes());
    let thumbprint = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let jkt = B64.encode(sha2::Sha256::digest(thumbprint.as_bytes()));
    (format!("{input}.{}", B64.encode(signature.to_bytes())), jkt)
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
