//! Machine grants at oidc-provider: tools through the proxy, renewed by
//! asking again.

use crate::harness::*;
use crate::support::home::Home;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn machine_grants_at_oidc_provider_serve_tools_through_the_proxy_and_renew_by_asking_again() {
    let dir = tempfile::tempdir().unwrap();
    let (pem, jwk) = key_pair(dir.path());
    let clients = serde_json::json!([
        {"client_id": "agent-basic", "client_secret": SECRET, "grant_types": ["client_credentials"],
         "response_types": [], "redirect_uris": [], "token_endpoint_auth_method": "client_secret_basic"},
        {"client_id": "agent-jwt", "grant_types": ["client_credentials"], "response_types": [],
         "redirect_uris": [], "token_endpoint_auth_method": "private_key_jwt",
         "token_endpoint_auth_signing_alg": "ES256", "jwks": {"keys": [jwk]}},
    ]);
    let (bound, urls) = listeners(2).await;
    let refs: Vec<&str> = urls.iter().map(String::as_str).collect();
    let provider = start_provider(dir.path(), &refs, Some(clients));
    let _servers = sample_servers(bound, &["github-mcp", "slack-mcp"], &provider.issuer).await;
    let home = Home::new("machine-e2e", "github-mcp");
    let env = [("MCP_PASSPORT_CLIENT_SECRET", SECRET)];
    let mut printed = String::new();

    // A private_key_jwt client with no broker running: the grant is got here.
    let key_file = pem.to_str().unwrap();
    let (ok, out, err) = run(
        &home,
        &[
            "login",
            "--client-credentials",
            "--client-id",
            "agent-jwt",
            "--private-key-file",
            key_file,
            &urls[1],
        ],
        &[],
    )
    .await;
    assert!(ok, "login with private_key_jwt: {err}");
    assert!(out.contains("Machine grant at"), "{out}");
    assert!(
        !err.to_lowercase().contains("refresh token") && !err.contains("WARN"),
        "a machine grant is renewed by asking again: no warning is due: {err}"
    );
    printed.push_str(&(out + &err));

    // A client secret while `serve` runs: through its admin API, and the
    // broker keeps the secret and renews the grant.
    let mut broker = home.spawn_broker(None);
    let endpoint = home.endpoint(&mut broker).await;
    let (ok, out, err) = run(
        &home,
        &[
            "login",
            "--client-credentials",
            "--client-id",
            "agent-basic",
            &urls[0],
        ],
        &env,
    )
    .await;
    assert!(ok, "login with a client secret through the broker: {err}");
    assert!(out.contains("Machine grant at"), "{out}");
    assert!(
        !err.to_lowercase().contains("refresh token") && !err.contains("WARN"),
        "{err}"
    );
    printed.push_str(&(out + &err));
    // The broker ran it (its audit has the admin call for that server).
    let mut audited = false;
    for _ in 0..50 {
        let audit =
            std::fs::read_to_string(home.dir.path().join("audit.jsonl")).unwrap_or_default();
        if audit
            .lines()
            .any(|l| l.contains("admin") && l.contains(&urls[0]))
        {
            audited = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(audited, "the machine login went through the broker");

    let (ok, status, err) = run(&home, &["--json", "status"], &[]).await;
    assert!(ok, "status: {err}");
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let (basic_grant, basic_server) = grant_of(&status, "agent-basic");
    let (_, jwt_server) = grant_of(&status, "agent-jwt");
    let (ok, text, _) = run(&home, &["status"], &[]).await;
    assert!(ok);
    assert!(
        text.contains("machine: client secret, renewed by asking again before expiry")
            && text.contains("machine: private_key_jwt, renewed by asking again before expiry"),
        "status says how each machine grant renews: {text}"
    );
    printed.push_str(&text);

    // The broker serves both: a local MCP client lists tools through its proxy.
    for server in [&basic_server, &jwt_server] {
        let tools = tools_through_proxy(&endpoint, server).await;
        assert!(tools.len() > 1, "{server}: {tools:?}");
    }
    let first: Vec<String> = {
        let mut tokens = Vec::new();
        for server in [&basic_server, &jwt_server] {
            let (code, body) = broker_token(&endpoint, server).await;
            assert_eq!(code, 200, "{body}");
            tokens.push(body["access_token"].as_str().unwrap().to_string());
        }
        tokens
    };
    let issued = provider.tokens_issued();

    // After expiry, both are renewed by asking the token endpoint again.
    tokio::time::sleep(Duration::from_secs(TTL_SECS + 1)).await;
    for (i, server) in [&basic_server, &jwt_server].into_iter().enumerate() {
        let (code, body) = broker_token(&endpoint, server).await;
        assert_eq!(code, 200, "{body}");
        assert_ne!(
            body["access_token"].as_str().unwrap(),
            first[i],
            "{server}: renewed"
        );
        let tools = tools_through_proxy(&endpoint, server).await;
        assert!(tools.len() > 1, "{server} after renewal: {tools:?}");
    }
    assert!(
        provider.tokens_issued() >= issued + 2,
        "each grant asked the token endpoint again"
    );

    // The secret is in the keyring, and nowhere else.
    assert_eq!(
        keyring_lookup(&home, &format!("machine-secret:{basic_grant}")),
        SECRET
    );
    let state = home.state();
    assert!(state.contains(key_file), "the key's path is kept: {state}");
    assert!(!state.contains("PRIVATE KEY"));
    broker.start_kill().unwrap();
    let broker_out = broker.wait_with_output().await.unwrap();
    printed.push_str(&String::from_utf8_lossy(&broker_out.stderr));
    assert!(!printed.contains(SECRET), "the secret was printed");
    home.assert_no_secret_on_disk(&[SECRET.to_string()], "after machine grants");
}
