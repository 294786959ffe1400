//! DPoP-bound tokens (RFC 9449) end to end, on the demo with `dpop` on:
//! the reference AS advertises ES256, requires its nonce and binds tokens
//! to the key of the proof; the sample server takes a bound token only with
//! a proof from that key, and requires its own nonce.
//!
//! `mcp-passport login` signs in (the AS's nonce round trip), the grant is
//! recorded as bound, the key is in the real keyring and is the one the AS
//! bound the grant to; a call through the broker's proxy succeeds (the
//! server's nonce round trip); `/v1/token` refuses to hand the token out and
//! says to use the proxy; and a copy of the token used without the key is
//! refused by the sample server, as bearer or with another key's proof,
//! and so is a copy of the refresh token at the AS.
//!
//! Needs the real keyring: run under scripts/desktop-session.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use passport_core::dpop::DpopKey;
use passport_core::store::{StoreKey, TokenStore as _};
use reference_as::demo::{Demo, DemoConfig};
use serde_json::{Value, json};
use support::home::{Home, broker_token};

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "dpop-test", "version": "1"}}})
}

/// Sends `initialize` to `url` with `authorization` and, if given, a proof.
async fn call(url: &str, authorization: &str, proof: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(url)
        .header("authorization", authorization)
        .header("accept", "application/json, text/event-stream")
        .json(&initialize());
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    request.send().await.unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bound_token_works_through_the_proxy_and_a_copy_of_it_alone_is_refused() {
    let demo = Demo::start(DemoConfig {
        servers: vec!["github-mcp".into()],
        dpop: true,
        ..DemoConfig::default()
    })
    .await
    .unwrap();
    let issuer = demo.info().issuer.clone();
    let resource = demo.info().servers[0].resource.clone();
    let home = Home::new("dpop", "github-mcp");
    home.login(&issuer).await;

    // The grant is recorded as bound, and bound at the AS to the key in the keyring.
    let state = home.state_parses("after login");
    assert_eq!(state["grants"][0]["dpop_bound"], true, "{state}");
    let as_state = demo.as_state();
    let grant = as_state
        .store
        .tx(|c| reference_as::db::live_grants_of(c, "demo"))
        .unwrap()
        .into_iter()
        .next()
        .expect("a grant at the AS");
    let bound = as_state
        .store
        .tx(|c| reference_as::db::dpop_binding(c, &grant.id))
        .unwrap()
        .expect("the AS bound the grant to a key");
    let keyring = passport_keyring::KeyringStore::new(&home.service);
    let stored = keyring
        .get(&StoreKey::DpopKey)
        .unwrap()
        .expect("the DPoP key is in the keyring");
    assert_eq!(DpopKey::from_secret(&stored).unwrap().thumbprint(), bound);
    assert!(
        !home.state().contains(&stored),
        "the private key is never in the state file"
    );
    let status = home.run(&["status"], None).await;
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains("(DPoP: bound to this computer)"),
        "status says the grant is bound: {status}"
    );

    // Through the proxy: the broker signs a proof (and learns the server's nonce).
    let mut broker = home.spawn_broker(None);
    let endpoint = home.endpoint(&mut broker).await;
    let proxy = format!("http://127.0.0.1:{}/v1/mcp/github-mcp", endpoint.0);
    for round in 0..2 {
        let through = call(&proxy, &format!("Bearer {}", endpoint.1), None).await;
        assert_eq!(through.status(), 200, "proxy call {round}");
        let body = through.text().await.unwrap();
        assert!(body.contains("serverInfo"), "{body}");
    }

    // The token route refuses to hand a bound token out, and says where to go.
    let (status, body) = broker_token(&endpoint, "github-mcp").await.unwrap();
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "dpop_bound");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("bound to this computer") && message.contains(&proxy),
        "{message}"
    );
    assert!(body.get("access_token").is_none());
    let headers = home.run(&["headers", "github-mcp"], None).await;
    assert!(!headers.status.success());
    assert!(
        String::from_utf8_lossy(&headers.stderr).contains("bound to this computer"),
        "{}",
        String::from_utf8_lossy(&headers.stderr)
    );

    // A copy of a token the AS issued for this grant (signed by the AS, cnf.jkt the bound key).
    let claims = |cnf: Option<&str>| {
        let mut c = json!({"iss": issuer, "sub": "demo", "client_id": grant.client_id,
            "aud": "github-mcp", "scope": "mcp:tools", "iat": now(), "exp": now() + 600,
            "jti": format!("copy-{}", now())});
        if let Some(jkt) = cnf {
            c["cnf"] = json!({"jkt": jkt});
        }
        c
    };
    let copy = as_state.signer.sign(&claims(Some(&bound)));
    // Unbound, the same token is accepted: the refusals below are the binding's.
    let plain = as_state.signer.sign(&claims(None));
    assert_eq!(
        call(&resource, &format!("Bearer {plain}"), None)
            .await
            .status(),
        200
    );
    let as_bearer = call(&resource, &format!("Bearer {copy}"), None).await;
    assert_eq!(as_bearer.status(), 401, "a bound token used as bearer");
    let without_proof = call(&resource, &format!("DPoP {copy}"), None).await;
    assert_eq!(without_proof.status(), 401, "a bound token without a proof");
    let thief = DpopKey::generate();
    let proof = thief
        .proof("POST", &resource, now(), Some(&copy), None)
        .unwrap();
    let stolen = call(&resource, &format!("DPoP {copy}"), Some(&proof)).await;
    assert_eq!(stolen.status(), 401, "a proof from another key");
    assert!(
        stolen.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_dpop_proof")
    );

    // The server's nonce round trip, for a holder of the bound key.
    let own = as_state.signer.sign(&claims(Some(thief.thumbprint())));
    let first = thief
        .proof("POST", &resource, now(), Some(&own), None)
        .unwrap();
    let asked = call(&resource, &format!("DPoP {own}"), Some(&first)).await;
    assert_eq!(asked.status(), 401);
    assert!(
        asked.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("use_dpop_nonce")
    );
    let nonce = asked.headers()["dpop-nonce"].to_str().unwrap().to_string();
    let again = thief
        .proof("POST", &resource, now(), Some(&own), Some(&nonce))
        .unwrap();
    let answered = call(&resource, &format!("DPoP {own}"), Some(&again)).await;
    assert_eq!(answered.status(), 200, "with the server's nonce");
    let replayed = call(&resource, &format!("DPoP {own}"), Some(&again)).await;
    assert_eq!(replayed.status(), 401, "a proof is good once (jti)");

    // The broker's first token came by refresh, with a proof (and the AS's nonce).
    let (codes, refreshes) = demo.token_requests();
    assert!(
        codes == 1 && refreshes >= 1,
        "codes {codes}, refreshes {refreshes}"
    );

    // A copy of the refresh token is worthless too: refused without a
    // proof, and with another key's proof (after the AS's nonce).
    let local = &state["grants"][0];
    let refresh_token = keyring
        .get(&StoreKey::RefreshToken {
            grant_id: local["id"].as_str().unwrap().to_string(),
        })
        .unwrap()
        .expect("the refresh token is in the keyring");
    let token_url = format!("{issuer}/token");
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.as_str()),
        ("client_id", local["client_id"].as_str().unwrap()),
    ];
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let bare = http.post(&token_url).form(&form).send().await.unwrap();
    assert_eq!(bare.status(), 400);
    let bare: Value = bare.json().await.unwrap();
    assert_eq!(bare["error"], "invalid_grant", "{bare}");
    let first = thief.proof("POST", &token_url, now(), None, None).unwrap();
    let asked = http
        .post(&token_url)
        .header("dpop", first)
        .form(&form)
        .send()
        .await
        .unwrap();
    let nonce = asked.headers()["dpop-nonce"].to_str().unwrap().to_string();
    let asked: Value = asked.json().await.unwrap();
    assert_eq!(asked["error"], "use_dpop_nonce", "{asked}");
    let proof = thief
        .proof("POST", &token_url, now(), None, Some(&nonce))
        .unwrap();
    let other_key = http
        .post(&token_url)
        .header("dpop", proof)
        .form(&form)
        .send()
        .await
        .unwrap();
    let other_key: Value = other_key.json().await.unwrap();
    assert_eq!(other_key["error"], "invalid_grant", "{other_key}");
    // The grant still works through the proxy.
    let through = call(&proxy, &format!("Bearer {}", endpoint.1), None).await;
    assert_eq!(through.status(), 200);

    let _ = home.stop_broker().await;
    let _ = broker.kill().await;
    demo.shutdown().await;
}
