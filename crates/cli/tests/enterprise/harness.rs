//! The demo with its IdP, the person at the IdP's sign-in form, `login --idp`,
//! and the MCP calls through the broker's proxy that the tests share.

use crate::support::home::Home;
use reference_as::demo::{Demo, DemoConfig};
use rmcp::ServiceExt as _;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, BufReader};

/// Access tokens live this long at the AS, so the test sees them expire.
pub(crate) const ACCESS_TTL: i64 = 8;

pub(crate) async fn demo() -> Demo {
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

pub(crate) fn hidden(html: &str, name: &str) -> String {
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
pub(crate) async fn sign_in_at_idp(url: &str, user: &str) {
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
pub(crate) async fn login(
    home: &Home,
    demo: &Demo,
    user: &str,
    servers: &[String],
) -> (bool, String, String) {
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
pub(crate) async fn tools(port: u16, key: &str, server: &str) -> Result<Vec<String>, String> {
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

/// A JSON-RPC call through the broker's proxy: `(status, session, body)`.
pub(crate) async fn mcp_call(
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
