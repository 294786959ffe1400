//! Several accounts through the `mcp-passport` binary: two users of the
//! real reference AS signed in to the same server, each served its own
//! token by the broker (`/v1/token` and the `/v1/mcp` proxy), `connect`
//! writing an entry per account, and revoke and sign-out of one account
//! leaving the other working. Secrets go to the real OS keyring (run
//! under scripts/desktop-session.sh).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reference_as::demo::{Demo, DemoConfig};
use serde_json::Value;
use support::home::{Home, broker_servers, broker_token, target_bin};

/// Makes the home's browser sign in as `user` (password `<user>-pw`).
fn browse_as(home: &Home, user: &str) {
    std::fs::write(
        home.dir.path().join("browser.sh"),
        format!(
            "#!/bin/sh\nexec '{}' approve --servers github-mcp --user {user}:{user}-pw \"$1\"\n",
            target_bin("reference-as").display()
        ),
    )
    .unwrap();
}

fn sub(token: &str) -> String {
    let payload = token.split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["sub"].as_str().unwrap().to_string()
}

async fn ok(home: &Home, args: &[&str]) -> String {
    let out = home.run(args, None).await;
    assert!(
        out.status.success(),
        "`mcp-passport {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// POSTs an MCP initialize through the broker's proxy route for `address`.
async fn through_proxy(endpoint: &(u16, String), address: &str) -> u16 {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/v1/mcp/{address}", endpoint.0))
        .bearer_auth(&endpoint.1)
        .header("accept", "application/json, text/event-stream")
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Whether the Secret Service holds a refresh token for grant `id`.
fn in_keyring(home: &Home, id: &str) -> bool {
    let lookup = std::process::Command::new("secret-tool")
        .args([
            "lookup",
            "service",
            &home.service,
            "username",
            &format!("refresh-token:{id}"),
        ])
        .output()
        .unwrap();
    !lookup.stdout.is_empty()
}

/// The ids of the grants in the state file, by account label.
fn grant_ids(home: &Home) -> Vec<(String, String)> {
    let state = home.state_parses("reading grant ids");
    state["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["account"].as_str().unwrap_or("default").to_string(),
                g["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn token_sub(endpoint: &(u16, String), address: &str) -> String {
    let (status, body) = broker_token(endpoint, address).await.expect("broker");
    assert_eq!(status, 200, "token for {address}: {body}");
    sub(body["access_token"].as_str().unwrap())
}

#[tokio::test]
async fn two_accounts_for_one_server_are_served_connected_revoked_and_signed_out_apart() {
    let demo = Demo::start(DemoConfig {
        users: vec![
            ("alice".into(), "alice-pw".into()),
            ("bob".into(), "bob-pw".into()),
        ],
        ..DemoConfig::default()
    })
    .await
    .unwrap();
    let issuer = demo.info().issuer.clone();
    let home = Home::new("accounts", "github-mcp");

    browse_as(&home, "alice");
    ok(&home, &["login", &issuer]).await;
    browse_as(&home, "bob");
    ok(&home, &["login", "--account", "work", &issuer]).await;
    let bad = home
        .run(&["login", "--account", "not a label", &issuer], None)
        .await;
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("cannot be used"),
        "a bad label says what to give: {}",
        String::from_utf8_lossy(&bad.stderr)
    );

    let ids = grant_ids(&home);
    assert_eq!(
        ids.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(),
        ["alice", "work"]
    );
    for (account, id) in &ids {
        assert!(
            in_keyring(&home, id),
            "{account}'s refresh token is in the Secret Service"
        );
    }

    let status = ok(&home, &["status"]).await;
    assert!(status.contains("account alice"), "{status}");
    assert!(status.contains("account work"), "{status}");
    assert!(status.contains("github-mcp@work"), "{status}");

    let mut broker = home.spawn_broker(None);
    let endpoint = home.endpoint(&mut broker).await;
    assert_eq!(token_sub(&endpoint, "github-mcp").await, "alice");
    assert_eq!(token_sub(&endpoint, "github-mcp@alice").await, "alice");
    assert_eq!(token_sub(&endpoint, "github-mcp@work").await, "bob");
    assert_eq!(through_proxy(&endpoint, "github-mcp").await, 200);
    assert_eq!(through_proxy(&endpoint, "github-mcp@work").await, 200);
    let listed = broker_servers(&endpoint).await;
    let addresses: Vec<&str> = listed["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(addresses, ["github-mcp", "github-mcp@work"]);

    // `token` through the running broker names the account too.
    let work_token = ok(&home, &["token", "github-mcp@work"]).await;
    assert_eq!(sub(work_token.trim()), "bob");

    // connect: one entry per account, the second named by its label.
    let config = home.dir.path().join("cursor-mcp.json");
    let config_arg = config.to_str().unwrap();
    ok(&home, &["connect", "cursor", "--config", config_arg]).await;
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    let entries = written["mcpServers"].as_object().unwrap();
    let url = |name: &str| entries[name]["url"].as_str().unwrap().to_string();
    assert!(url("passport-github-mcp").ends_with("/v1/mcp/github-mcp"));
    assert!(url("passport-github-mcp-work").ends_with("/v1/mcp/github-mcp@work"));

    // A key limited to the work account's copy gets only that one.
    ok(
        &home,
        &[
            "connect",
            "cursor",
            "--config",
            config_arg,
            "--servers",
            "github-mcp@work",
        ],
    )
    .await;
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    let header = written["mcpServers"]["passport-github-mcp-work"]["headers"]["Authorization"]
        .as_str()
        .unwrap()
        .to_string();
    let limited = (endpoint.0, header.trim_start_matches("Bearer ").to_string());
    assert_eq!(token_sub(&limited, "github-mcp@work").await, "bob");
    assert_eq!(broker_token(&limited, "github-mcp").await.unwrap().0, 403);

    // Revoke the work account's server: alice's token still works.
    ok(&home, &["revoke", "github-mcp@work"]).await;
    assert_eq!(
        broker_token(&endpoint, "github-mcp@work").await.unwrap().0,
        404
    );
    assert_eq!(token_sub(&endpoint, "github-mcp").await, "alice");
    assert_eq!(through_proxy(&endpoint, "github-mcp").await, 200);

    // A second work sign-in, then sign out of that account only.
    browse_as(&home, "bob");
    ok(&home, &["login", "--account", "work", &issuer]).await;
    assert_eq!(token_sub(&endpoint, "github-mcp@work").await, "bob");
    let work_id = grant_ids(&home)
        .into_iter()
        .find(|(a, _)| a == "work")
        .unwrap()
        .1;
    assert!(in_keyring(&home, &work_id));
    let out = ok(&home, &["logout", "--account", "work"]).await;
    assert!(out.contains("1 grant"), "{out}");
    let state = home.state_parses("after logout --account work");
    let grants = state["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["account"], "alice");
    assert!(
        !in_keyring(&home, &work_id),
        "the work refresh token left the keyring"
    );
    assert!(in_keyring(&home, &ids[0].1), "alice's refresh token stays");
    assert_eq!(token_sub(&endpoint, "github-mcp").await, "alice");
    let _ = home.stop_broker().await;
    let _ = broker.wait().await;
}
