//! The admin API on a real listener, with an engine signed in to the real
//! reference AS: only the CLI's own key reaches it (a connected client's
//! key gets 403, no key 401, a browser 403), and revoke, logout and login
//! run inside the broker.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use support::{Setup, approval, setup};

use serde_json::{Value, json};
use std::time::Duration;

fn granted(s: &Setup) -> Vec<String> {
    s.broker
        .state
        .engine
        .grants()
        .iter()
        .flat_map(|g| {
            g.servers
                .iter()
                .filter(|x| !g.blocked.contains(&x.id))
                .map(|x| x.id.clone())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_routes_refuse_a_client_key_no_key_and_browsers() {
    let s = setup().await;
    let (_, cursor) = s
        .broker
        .state
        .keys
        .mint("cursor", None, chrono::Utc::now())
        .unwrap();
    let c = reqwest::Client::new();
    for path in ["logout", "revoke/github-mcp", "login"] {
        let url = format!("{}/v1/admin/{path}", s.base);
        let r = c
            .post(&url)
            .bearer_auth(&cursor)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403, "a connected client's key: {path}");
        assert!(r.bytes().await.unwrap().is_empty(), "and nothing said");
        let r = c.post(&url).json(&json!({})).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "no key: {path}");
        let r = c
            .post(&url)
            .bearer_auth(&s.key)
            .header("origin", "http://127.0.0.1:1")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            403,
            "a web page, even with the key: {path}"
        );
        assert!(r.bytes().await.unwrap().is_empty());
        let r = c
            .post(&url)
            .bearer_auth(&s.key)
            .header("x-forwarded-for", "10.0.0.1")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403, "a relay: {path}");
    }
    let r = c
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/admin/logout", s.base),
        )
        .bearer_auth(&s.key)
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-")),
        "{:?}",
        r.headers()
    );
    assert_eq!(
        granted(&s),
        vec!["github-mcp", "slack-mcp"],
        "nothing refused changed anything"
    );
    s.broker.shutdown().await;
    s.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_revoke_and_logout_run_in_the_broker_with_the_engines_codes() {
    let s = setup().await;
    let c = reqwest::Client::new();
    let admin = |path: &str| {
        c.post(format!("{}/v1/admin/{path}", s.base))
            .bearer_auth(&s.key)
    };
    let r = admin("revoke/slack-mcp").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["outcome"], "narrowed", "{body}");
    assert_eq!(granted(&s), vec!["github-mcp"]);
    let r = c
        .get(format!("{}/v1/token/slack-mcp", s.base))
        .bearer_auth(&s.key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        404,
        "the broker stopped serving it at once"
    );

    let r = admin("revoke/nowhere-mcp").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_granted");

    let r = admin("logout").json(&json!({})).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["signed_out"], 1);
    assert!(granted(&s).is_empty());
    assert!(
        s.broker
            .state
            .audit
            .recent()
            .iter()
            .any(|a| a.kind == "admin" && a.server == "slack-mcp" && a.outcome == "ok")
    );
    s.broker.shutdown().await;
    s.demo.shutdown().await;
}

/// Reads JSON lines from a streamed response until one has `key`.
async fn line_with(response: &mut reqwest::Response, pending: &mut Vec<u8>, key: &str) -> Value {
    loop {
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let value: Value = serde_json::from_slice(&line).unwrap();
            if value.get(key).is_some() {
                return value;
            }
            assert!(value.get("error").is_none(), "{value}");
        }
        let chunk = tokio::time::timeout(Duration::from_secs(30), response.chunk())
            .await
            .unwrap()
            .unwrap()
            .expect("the stream ended early");
        pending.extend_from_slice(&chunk);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_login_sends_the_page_to_the_cli_then_each_servers_outcome() {
    let s = setup().await;
    let issuer = s.demo.info().issuer.clone();
    let c = reqwest::Client::new();
    let logout = c
        .post(format!("{}/v1/admin/logout", s.base))
        .bearer_auth(&s.key)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status().as_u16(), 200);
    assert!(granted(&s).is_empty());

    // `--no-browser`: the broker opens nothing; the page reaches the caller,
    // who plays the person at the browser here.
    let mut r = c
        .post(format!("{}/v1/admin/login", s.base))
        .bearer_auth(&s.key)
        .json(&json!({"target": {"issuer": issuer}, "open": "print", "timeout_secs": 20}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let mut pending = Vec::new();
    let open = line_with(&mut r, &mut pending, "open").await;
    let url = open["open"].as_str().unwrap().to_string();
    assert!(url.starts_with(&issuer), "{url}");
    reference_as::approve::approve(&approval(&url))
        .await
        .unwrap();
    let done = line_with(&mut r, &mut pending, "report").await;
    let servers = done["report"]["servers"].as_array().unwrap();
    assert!(servers.iter().all(|s| s["state"] == "signed-in"), "{done}");
    let ids: Vec<&str> = done["report"]["grants"][0]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["github-mcp", "slack-mcp"]);
    assert_eq!(granted(&s), vec!["github-mcp", "slack-mcp"]);

    // The host's opener (the browser) does the same without the caller.
    let mut r = c
        .post(format!("{}/v1/admin/login", s.base))
        .bearer_auth(&s.key)
        .json(&json!({"target": {"issuer": issuer}, "timeout_secs": 20}))
        .send()
        .await
        .unwrap();
    let mut pending = Vec::new();
    let done = line_with(&mut r, &mut pending, "report").await;
    assert_eq!(done["report"]["grants"].as_array().unwrap().len(), 1);
    s.broker.shutdown().await;
    s.demo.shutdown().await;
}
