//! Sign in with your organization (Enterprise-Managed Authorization,
//! SEP-990) end to end, on the demo with its IdP (`DemoConfig { idp: true }`):
//! `mcp-passport login --idp` opens one sign-in at the IdP (a person at the
//! browser, played here over real HTTP through the IdP's own sign-in form),
//! then gets a token for each of the three sample servers by an ID-JAG and
//! the JWT bearer grant, with no visit to the AS's authorization page. The
//! IdP refresh token is in the real keyring and nothing secret is on disk;
//! `status` names the IdP and each server's expiry; the broker's proxy
//! reaches each server (its first tokens by the IdP refresh token, as no ID
//! token is ever kept on disk); revoking one server drops it alone; and
//! expired tokens come back by new ID-JAGs with no browser. A server the
//! IdP's policy refuses fails alone, with a message that says what to do.
//!
//! Needs the real keyring: run under scripts/desktop-session.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use passport_core::store::{StoreKey, TokenStore as _};
use reference_as::demo::{Demo, DemoConfig};
use reference_as::per_server::{Behaviour, PerServerAs};
use rmcp::ServiceExt as _;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use std::time::Duration;
use support::home::Home;
use tokio::io::{AsyncBufReadExt as _, BufReader};

/// Access tokens live this long at the AS, so the test sees them expire.
const ACCESS_TTL: i64 = 8;

async fn demo() -> Demo {
    Demo::start(DemoConfig {
        idp: true,
        access_ttl: ACCESS_TTL,
        users: vec![
            ("demo".into(), "demo".into()),
            ("alice".into(), "alice".into()),
        ],
        idp_allowed: vec![("alice".into(), vec!["github-mcp".into()])],
        ..DemoConfig::default()
    })
    .await
    .unwrap()
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name}: {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].replace("&amp;", "&")
}

/// The person at the browser: opens the IdP's sign-in address, signs in as
/// `user` through its form, and follows the redirect back to the CLI's
/// loopback listener.
async fn sign_in_at_idp(url: &str, user: &str) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .no_proxy()
        .build()
        .unwrap();
    let origin = url::Url::parse(url).unwrap().origin().ascii_serialization();
    let page = browser.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("action=\"/login\""), "sign-in page: {html}");
    let login = browser
        .post(format!("{origin}/login"))
        .form(&[
            ("username", user),
            ("password", user),
            ("csrf", &hidden(&html, "csrf")),
            ("return_to", &hidden(&html, "return_to")),
        ])
        .send()
        .await
        .unwrap();
    assert!(login.status().is_redirection(), "{}", login.status());
    let back = browser.get(url).send().await.unwrap();
    assert!(back.status().is_redirection(), "{}", back.status());
    let location = back.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("http://127.0.0.1:"), "{location}");
    let landed = browser.get(&location).send().await.unwrap();
    assert_eq!(landed.status(), 200, "the CLI took the callback");
}

/// Runs `login --idp` as `user` for `servers`; returns its exit success,
/// standard output and error.
async fn login(home: &Home, demo: &Demo, user: &str, servers: &[String]) -> (bool, String, String) {
    let enterprise = demo.enterprise().unwrap().clone();
    let mut args = vec![
        "login",
        "--idp",
        &enterprise.idp_issuer,
        "--idp-client-id",
        &enterprise.idp_client_id,
        "--client-id",
        &enterprise.as_client_id,
        "--no-browser",
        "--timeout",
        "30",
    ];
    args.extend(servers.iter().map(String::as_str));
    let secret = enterprise.as_client_secret.clone().unwrap();
    let mut child = home.spawn_at_terminal(&args, &[("MCP_PASSPORT_CLIENT_SECRET", &secret)], &[]);
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), stderr.next_line())
            .await
            .expect("the sign-in address in time")
            .unwrap()
            .unwrap_or_else(|| panic!("login ended before printing the sign-in address: {seen}"));
        seen.push_str(&line);
        seen.push('\n');
        if let Some(url) = line
            .trim()
            .strip_prefix(&format!("{}/", enterprise.idp_issuer))
        {
            break format!("{}/{url}", enterprise.idp_issuer);
        }
    };
    sign_in_at_idp(&url, user).await;
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("login ends")
        .unwrap();
    let mut rest = String::new();
    while let Ok(Some(line)) = stderr.next_line().await {
        rest.push_str(&line);
        rest.push('\n');
    }
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        format!("{seen}{rest}"),
    )
}

/// Lists a server's tools through the broker's proxy with the broker's key.
async fn tools(port: u16, key: &str, server: &str) -> Result<Vec<String>, String> {
    let url = format!(
        "http://127.0.0.1:{port}{}",
        passport_broker::admin_api::proxy_path(server)
    );
    let config = StreamableHttpClientTransportConfig::with_uri(url.clone()).auth_header(key);
    let client = rmcp::model::ClientConfig::default()
        .serve(StreamableHttpClientTransport::from_config(config))
        .await
        .map_err(|e| format!("initialize through {url}: {e}"))?;
    let listed = client
        .list_all_tools()
        .await
        .map_err(|e| format!("tools/list through {url}: {e}"));
    let _ = client.cancel().await;
    Ok(listed?.into_iter().map(|t| t.name.to_string()).collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn one_idp_sign_in_gives_every_server_its_token_and_renews_them_without_a_browser() {
    let demo = demo().await;
    let servers: Vec<String> = demo
        .info()
        .servers
        .iter()
        .map(|s| s.resource.clone())
        .collect();
    assert_eq!(servers.len(), 3);
    let idp = demo.idp_issuer().unwrap().to_string();
    let home = Home::new("enterprise", "");

    let (ok, stdout, stderr) = login(&home, &demo, "demo", &servers).await;
    assert!(ok, "login --idp failed:\n{stdout}\n{stderr}");
    for s in &servers {
        assert!(stdout.contains(s), "{s} in {stdout}");
    }
    // One sign-in at the IdP, none at the AS; an ID-JAG and a JWT bearer grant per server.
    // (The browser asks the IdP's authorization page twice in one sign-in:
    // the sign-in form, then straight back to the CLI after it.)
    let idp_visits = demo.idp_state().unwrap().base.requests.snapshot().2;
    assert_eq!(idp_visits, 2, "one IdP sign-in");
    assert_eq!(demo.as_requests().2, 0, "no AS browser visit");
    assert_eq!(demo.idp_requests().1, 3, "one token exchange per server");
    assert_eq!(
        demo.jwt_bearer_requests(),
        3,
        "one JWT bearer grant per server"
    );

    // One grant, its issuer the IdP, each server with its own token and expiry.
    let state = home.state_parses("after login");
    let grants = state["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 1, "{state}");
    let grant = &grants[0];
    assert_eq!(grant["issuer"], idp.as_str());
    assert_eq!(grant["mode"], "enterprise");
    let listed: Vec<&str> = grant["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["token_kind"], "own", "{s}");
            assert!(s["expires_at"].is_string(), "{s}");
            s["id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        listed,
        servers.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let grant_id = grant["id"].as_str().unwrap().to_string();
    let entry = &state["enterprise"][0];
    assert_eq!(entry["grant_id"], grant_id.as_str());
    assert_eq!(entry["servers"][0]["issuer"], demo.info().issuer.as_str());

    // The IdP session is in the keyring; no secret is on disk.
    let keyring = passport_keyring::KeyringStore::new(&home.service);
    let idp_key = StoreKey::IdpRefreshToken {
        grant_id: grant_id.clone(),
    };
    let first_rt = keyring
        .get(&idp_key)
        .unwrap()
        .expect("the IdP refresh token");
    let secret = demo.enterprise().unwrap().as_client_secret.clone().unwrap();
    let stored_secret = keyring
        .get(&StoreKey::EnterpriseSecret {
            grant_id: grant_id.clone(),
        })
        .unwrap();
    assert_eq!(stored_secret.as_deref(), Some(secret.as_str()));
    home.assert_no_secret_on_disk(&[first_rt.clone(), secret], "after login");

    // status names the IdP and each server's expiry.
    let status = home.run(&["status"], None).await;
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains(&idp) && status.contains("enterprise"),
        "{status}"
    );
    assert_eq!(status.matches("expires in").count(), 3, "{status}");

    // Through the broker's proxy: its first tokens come by the IdP refresh
    // token (the ID token was never written anywhere), then new ID-JAGs.
    let mut broker = home.spawn_broker(None);
    let (port, key) = home.endpoint(&mut broker).await;
    for s in &servers {
        let listed = tools(port, &key, s).await.unwrap();
        assert!(!listed.is_empty(), "{s} lists its tools");
    }
    let rotated = keyring.get(&idp_key).unwrap().expect("still signed in");
    assert_ne!(
        rotated, first_rt,
        "the broker used (and rotated) the IdP refresh token"
    );
    assert!(demo.idp_requests().1 >= 6, "{:?}", demo.idp_requests());

    // Revoke one server: it leaves the grant alone.
    let revoked = &servers[0];
    let out = home.run(&["revoke", revoked], None).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        tools(port, &key, revoked).await.is_err(),
        "{revoked} is no longer served"
    );
    let state = home.state_parses("after revoke");
    let left: Vec<&str> = state["grants"][0]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(left, vec![servers[1].as_str(), servers[2].as_str()]);
    assert_eq!(
        state["enterprise"][0]["servers"].as_array().unwrap().len(),
        2
    );

    // After the tokens expire, new ones come from the IdP session, with no browser.
    let (exchanges, grants_at_as) = (demo.idp_requests().1, demo.jwt_bearer_requests());
    tokio::time::sleep(Duration::from_secs(u64::try_from(ACCESS_TTL).unwrap() + 1)).await;
    for s in &servers[1..] {
        let listed = tools(port, &key, s).await.unwrap();
        assert!(!listed.is_empty(), "{s} after expiry");
    }
    assert!(
        demo.idp_requests().1 >= exchanges + 2,
        "new ID-JAGs after expiry"
    );
    assert!(demo.jwt_bearer_requests() >= grants_at_as + 2);
    assert_eq!(
        demo.idp_state().unwrap().base.requests.snapshot().2,
        idp_visits,
        "still the one IdP sign-in"
    );
    assert_eq!(demo.as_requests().2, 0, "still no AS browser visit");

    // Logout ends the IdP session (its refresh token revoked there) and
    // forgets the grant and its secrets.
    let last_rt = keyring.get(&idp_key).unwrap().expect("still signed in");
    let out = home.run(&["logout", &idp], None).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(keyring.get(&idp_key).unwrap().is_none());
    let enterprise = demo.enterprise().unwrap();
    let refused = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{idp}/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", last_rt.as_str()),
            ("client_id", enterprise.idp_client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400, "the IdP sign-in was revoked");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "{body}");
    let state = home.state_parses("after logout");
    assert!(state["grants"].as_array().unwrap().is_empty(), "{state}");
    let _ = broker.kill().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_the_idp_refuses_or_whose_as_lacks_the_profile_fails_alone_and_says_what_to_do() {
    let demo = demo().await;
    // A plain per-server AS: no JWT bearer grant in its metadata.
    let plain = PerServerAs::start(Behaviour::Instant).await.unwrap();
    let mut servers: Vec<String> = demo
        .info()
        .servers
        .iter()
        .map(|s| s.resource.clone())
        .collect();
    servers.push(plain.server_url());
    let home = Home::new("enterprise-denied", "");
    // alice may reach github-mcp only.
    let (ok, stdout, stderr) = login(&home, &demo, "alice", &servers).await;
    assert!(!ok, "a refused server makes login fail:\n{stdout}");
    let state = home.state_parses("after a partial login");
    let granted: Vec<&str> = state["grants"][0]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    let github = demo
        .info()
        .servers
        .iter()
        .find(|s| s.id == "github-mcp")
        .unwrap()
        .resource
        .clone();
    assert_eq!(granted, vec![github.as_str()]);
    let all = format!("{stdout}{stderr}");
    let failed = |server: &str| {
        all.lines()
            .find(|l| l.contains(server) && l.contains("FAILED"))
            .unwrap_or_else(|| panic!("{server} failed alone: {all}"))
            .to_string()
    };
    for s in demo.info().servers.iter().filter(|s| s.id != "github-mcp") {
        let line = failed(&s.resource);
        assert!(
            line.contains("refused access") && line.contains("ask your administrator"),
            "{line}"
        );
    }
    let line = failed(&plain.server_url());
    assert!(
        line.contains("does not accept enterprise sign-in")
            && line.contains("sign in to that server directly"),
        "{line}"
    );
    assert_eq!(
        plain.tokens_issued(),
        0,
        "nothing asked of the plain AS's token endpoint"
    );
    assert_eq!(demo.as_requests().2, 0, "no AS browser visit");

    // When every server fails, the IdP sign-in is ended there (its refresh
    // token revoked), not just dropped: alice keeps only the first one.
    let idp_live = || {
        demo.idp_state()
            .unwrap()
            .base
            .store
            .tx(|c| reference_as::db::live_grants_of(c, "alice"))
            .unwrap()
            .len()
    };
    let live_before = idp_live();
    assert_eq!(live_before, 1, "the first sign-in is live at the IdP");
    let refused: Vec<String> = demo
        .info()
        .servers
        .iter()
        .filter(|s| s.id != "github-mcp")
        .map(|s| s.resource.clone())
        .collect();
    let home = Home::new("enterprise-all-refused", "");
    let (ok, stdout, stderr) = login(&home, &demo, "alice", &refused).await;
    assert!(
        !ok,
        "every server refused makes login fail:\n{stdout}\n{stderr}"
    );
    let state = home.state_parses("after a refused login");
    assert!(state["grants"].as_array().unwrap().is_empty(), "{state}");
    assert_eq!(
        idp_live(),
        live_before,
        "the unused IdP sign-in was revoked at the IdP"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn login_idp_while_serve_runs_signs_in_inside_the_broker_which_serves_the_tokens_at_once() {
    let demo = demo().await;
    let servers: Vec<String> = demo
        .info()
        .servers
        .iter()
        .map(|s| s.resource.clone())
        .collect();
    let idp = demo.idp_issuer().unwrap().to_string();
    let home = Home::new("enterprise-broker", "");
    let mut broker = home.spawn_broker(None);
    let (port, key) = home.endpoint(&mut broker).await;

    // The IdP's sign-in address comes from the broker (an `open` line);
    // the browser's redirect returns to the broker's loopback listener.
    let (ok, stdout, stderr) = login(&home, &demo, "demo", &servers).await;
    assert!(
        ok,
        "login --idp through the broker failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("sign in with your organization"),
        "{stderr}"
    );
    for s in &servers {
        assert!(stdout.contains(s), "{s} in {stdout}");
    }
    assert_eq!(demo.idp_requests().1, 3, "one token exchange per server");

    // The broker did the login: its audit has the admin call for the IdP.
    let mut audited = String::new();
    for _ in 0..50 {
        audited = std::fs::read_to_string(home.dir.path().join("audit.jsonl")).unwrap_or_default();
        if audited
            .lines()
            .any(|l| l.contains("\"admin\"") && l.contains(&idp) && l.contains("\"ok\""))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        audited
            .lines()
            .any(|l| l.contains("\"admin\"") && l.contains(&idp)),
        "the enterprise login went through the broker: {audited}"
    );

    // It serves the tokens at once, with the ones it just got (no new
    // ID-JAG, no restart).
    for s in &servers {
        let listed = tools(port, &key, s).await.unwrap();
        assert!(!listed.is_empty(), "{s} lists its tools");
    }
    assert_eq!(
        demo.idp_requests().1,
        3,
        "the broker kept the tokens it got"
    );
    assert_eq!(demo.jwt_bearer_requests(), 3);
    assert_eq!(demo.as_requests().2, 0, "no AS browser visit");
    let _ = broker.kill().await;
}

/// A JSON-RPC call through the broker's proxy: `(status, session, body)`.
async fn mcp_call(
    url: &str,
    key: &str,
    session: Option<&str>,
    body: serde_json::Value,
) -> (u16, Option<String>, String) {
    let mut request = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(url)
        .bearer_auth(key)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&body);
    if let Some(id) = session {
        request = request.header("mcp-session-id", id);
    }
    let response = request.send().await.unwrap();
    let session = response
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_string());
    (
        response.status().as_u16(),
        session,
        response.text().await.unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_refused_for_scope_gets_a_wider_id_jag_from_the_organization_without_a_browser() {
    let demo = demo().await;
    let github = demo
        .info()
        .servers
        .iter()
        .find(|s| s.id == "github-mcp")
        .unwrap()
        .resource
        .clone();
    let home = Home::new("enterprise-step-up", "");
    let (ok, stdout, stderr) = login(&home, &demo, "demo", std::slice::from_ref(&github)).await;
    assert!(ok, "login --idp failed:\n{stdout}\n{stderr}");
    let idp_visits = demo.idp_state().unwrap().base.requests.snapshot().2;

    let mut broker = home.spawn_broker(None);
    let (port, key) = home.endpoint(&mut broker).await;
    let url = format!(
        "http://127.0.0.1:{port}{}",
        passport_broker::admin_api::proxy_path(&github)
    );
    let (status, session, body) = mcp_call(
        &url,
        &key,
        None,
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "enterprise-step-up", "version": "1"}}}),
    )
    .await;
    assert_eq!(status, 200, "initialize: {body}");
    let session = session.as_deref();
    let (status, _, _) = mcp_call(
        &url,
        &key,
        session,
        serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert!((200..300).contains(&status), "initialized: {status}");
    // The broker's first token came by the IdP refresh token and an ID-JAG.
    let (exchanges, bearers) = (demo.idp_requests().1, demo.jwt_bearer_requests());

    // The write tool needs mcp:write, which the grant lacks: the server
    // refuses, the broker asks the organization for the union (a new ID-JAG,
    // a new JWT bearer grant) and sends the call again: it succeeds.
    let write = serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "create_issue", "arguments": {"title": "step-up"}}});
    let (status, _, body) = mcp_call(&url, &key, session, write.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("step-up") && !body.contains("\"isError\":true"),
        "{body}"
    );
    assert_eq!(demo.idp_requests().1, exchanges + 1, "one new ID-JAG");
    assert_eq!(
        demo.jwt_bearer_requests(),
        bearers + 1,
        "one new JWT bearer grant"
    );
    assert_eq!(
        demo.idp_state().unwrap().base.requests.snapshot().2,
        idp_visits,
        "no browser sign-in at the IdP"
    );
    assert_eq!(demo.as_requests().2, 0, "no AS browser visit");

    // The wider scope is kept for renewals; the step-up is settled.
    let state = home.state_parses("after the step-up");
    let server = &state["grants"][0]["servers"][0];
    assert_eq!(server["step_up"]["state"], "approved", "{state}");
    let kept = state["enterprise"][0]["servers"][0]["scope"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(kept.split(' ').any(|s| s == "mcp:write"), "{state}");
    assert!(
        kept.split(' ').any(|s| s == "mcp:tools"),
        "the union keeps the held scope: {kept}"
    );

    // The next write goes straight through with the token it holds.
    let (status, _, body) = mcp_call(&url, &key, session, write).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(demo.idp_requests().1, exchanges + 1, "no further ID-JAG");
    let _ = broker.kill().await;
}
