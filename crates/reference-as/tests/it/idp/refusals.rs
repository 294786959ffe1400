//! What is refused (SECURITY-CASES' spirit), each answer naming its problem:
//! at the AS, ID-JAGs replayed, for another AS, expired, long-lived, signed
//! by a stranger's key, for another client, for a server it does not serve,
//! or not ID-JAGs at all; at the IdP, ID tokens for another client or
//! expired, untrusted audiences, unknown servers, and a denied server.

use super::support::*;
use crate::common::{claims, no_redirects};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use reference_as::demo::ENTERPRISE_CLIENT_ID;
use reqwest::StatusCode;
use serde_json::{Value, json};

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

    // A resource parameter that is not the assertion's.
    let jag = id_jag(&stack).await;
    let slack = stack.resource("slack-mcp");
    let (status, body) = post(
        &stack.url("/token"),
        &[
            ("grant_type", JWT_BEARER),
            ("assertion", &jag),
            ("resource", &slack),
        ],
        Some(client),
    )
    .await;
    refused("invalid_target", "differs")((status, body));

    // From an issuer this AS does not trust.
    let mut stranger_idp = jag_claims(&stack, &github);
    stranger_idp["iss"] = json!("http://127.0.0.1:9/other-idp");
    let forged = signed_by_idp(&stack, "oauth-id-jag+jwt", &stranger_idp);
    refused("invalid_grant", "trusts")(jwt_bearer(&stack, &forged, client).await);

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

#[tokio::test]
async fn an_as_that_trusts_no_idp_takes_no_jwt_bearer_grant() {
    let stack = crate::common::Stack::default().await;
    let metadata: Value = no_redirects()
        .get(stack.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !metadata["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(JWT_BEARER))
    );
    let client: Value = no_redirects()
        .post(stack.url("/register"))
        .json(&json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (status, body) = post(
        &stack.url("/token"),
        &[
            ("grant_type", JWT_BEARER),
            ("assertion", "a.b.c"),
            ("client_id", client["client_id"].as_str().unwrap()),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unsupported_grant_type", "{body}");
    assert!(
        description(&body).contains("trusts no identity provider"),
        "{body}"
    );
}
