//! The harness for the enterprise tests: the demo with its IdP, a browser
//! at the IdP's sign-in page, the token exchange and JWT bearer requests,
//! and forgeries signed with the IdP's own key or a stranger's.

use crate::common::{Pkce, Stack, no_redirects, query_param};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use reference_as::demo::{DemoConfig, ENTERPRISE_CLIENT_ID};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const REDIRECT: &str = "http://127.0.0.1:48123/callback";
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
pub const ID_JAG: &str = "urn:ietf:params:oauth:token-type:id-jag";
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The demo with its IdP; `alice` may reach github-mcp only.
pub async fn enterprise() -> Stack {
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

pub fn idp(stack: &Stack) -> String {
    stack.demo.idp_issuer().expect("idp started").to_string()
}

pub fn as_secret(stack: &Stack) -> String {
    let e = stack.demo.enterprise().expect("enterprise info");
    e.as_client_secret.clone().expect("confidential AS client")
}

/// Signs in at the IdP as `user` through its real sign-in form; returns the
/// redirect's query (code, state, iss) and the PKCE verifier.
pub async fn idp_code(stack: &Stack, user: &str) -> (String, Pkce) {
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

pub async fn post(
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
pub async fn idp_sign_in(stack: &Stack, user: &str) -> Value {
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

pub async fn exchange(
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

pub async fn jwt_bearer(
    stack: &Stack,
    assertion: &str,
    client: (&str, &str),
) -> (StatusCode, Value) {
    post(
        &stack.url("/token"),
        &[("grant_type", JWT_BEARER), ("assertion", assertion)],
        Some(client),
    )
    .await
}

/// An ID-JAG for github-mcp, through a real sign-in and exchange.
pub async fn id_jag(stack: &Stack) -> String {
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

pub fn header(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&B64.decode(part).unwrap()).unwrap()
}

/// Whether `token` verifies with a key of the JWKS published at `issuer`'s `jwks_uri`.
pub async fn verifies_with_published_keys(issuer: &str, token: &str) -> bool {
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
pub fn signed_by_idp(stack: &Stack, typ: &str, claims: &Value) -> String {
    stack
        .demo
        .idp_state()
        .unwrap()
        .base
        .signer
        .sign_typed(typ, claims)
}

/// Claims of a good ID-JAG for `resource`, to be altered by a test.
pub fn jag_claims(stack: &Stack, resource: &str) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    json!({
        "iss": idp(stack), "sub": "demo", "aud": stack.issuer(), "client_id": ENTERPRISE_CLIENT_ID,
        "resource": resource, "jti": crate::common::uuid_like(), "iat": now, "exp": now + 300,
    })
}

pub fn description(body: &Value) -> String {
    body["error_description"].as_str().unwrap_or("").to_string()
}

/// A DPoP proof (RFC 9449) for `POST htu` with `key`, and the key's thumbprint.
pub fn dpop_proof(key: &SigningKey, htu: &str, nonce: Option<&str>) -> (String, String) {
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
