//! Sign-in and refresh at scale: the demo with N = 1, 10, 20 and 50
//! servers, one `mcp-passport login` run by the broker, then every
//! server's token asked of the broker at once, then again once they have
//! all expired together.
//! The AS offers RFC 8693 token exchange, so each server's own token comes
//! from the grant's access token, all at once. Asserts one browser round
//! trip, one client registration, one exchange per server and no refresh
//! for the first tokens, per expiry one refresh of the grant and one
//! exchange per server (no storm), and every token accepted by its
//! server; prints the times, the `Authorization` header sizes beside a
//! single multi-audience token's, the state file's size and the broker's
//! memory. The refresh tokens go to the real keyring (run under
//! scripts/desktop-session.sh).
//!
//! With `MCP_PASSPORT_SCALE_SERIAL=1` the AS offers no token exchange and
//! the rows measure the serial path (one refresh with `resource=` per
//! server, each rotating the refresh token), for comparison.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reference_as::demo::{Demo, DemoConfig};
use std::time::{Duration, Instant};
use support::home::{Home, target_bin};

/// Whether the AS offers token exchange (see the module's note).
fn exchange() -> bool {
    std::env::var_os("MCP_PASSPORT_SCALE_SERIAL").is_none()
}

/// Access token lifetime at the AS at N servers, seconds: longer than a
/// round of N token answers (far longer when refreshes of one grant run one
/// after another, each rotating the refresh token), so the tokens of one
/// round still expire together, and short enough to wait out.
fn ttl(n: usize) -> i64 {
    let n = i64::try_from(n).unwrap();
    if exchange() { 6 + n / 5 } else { 6 + n }
}

/// Token requests the AS answered: `(refreshes, exchanges)`.
fn token_requests(demo: &Demo) -> (u64, u64) {
    (demo.token_requests().1, demo.exchange_requests())
}

/// Asserts the token requests of one round at N servers: `grant_refreshes`
/// of the grant and one exchange per server, or one refresh per server.
fn assert_one_per_server(
    before: (u64, u64),
    after: (u64, u64),
    n: usize,
    grant_refreshes: u64,
    round: &str,
) {
    let n = n as u64;
    let (refreshes, exchanges) = (after.0 - before.0, after.1 - before.1);
    if exchange() {
        assert_eq!(
            (refreshes, exchanges),
            (grant_refreshes, n),
            "{round} at N = {n}: {grant_refreshes} refresh of the grant and one exchange per server (no storm)"
        );
    } else {
        assert_eq!(
            (refreshes, exchanges),
            (n, 0),
            "{round} at N = {n}: one refresh per server (no storm)"
        );
    }
}

/// What one run at N servers measured.
struct Figures {
    n: usize,
    login: Duration,
    first_tokens: Duration,
    refresh: Duration,
    slowest_refresh: Duration,
    as_requests: (u64, u64, u64),
    header: usize,
    multi_audience_header: usize,
    state_bytes: usize,
    rss_kb: u64,
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The `Authorization` header a single JWT naming every server in `aud`
/// would need: `token`'s header and signature, its claims with `aud` set
/// to all `resources`.
fn multi_audience_header(token: &str, resources: &[String]) -> usize {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "the demo AS issues JWTs");
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["aud"] = serde_json::json!(resources);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    "Authorization: Bearer ".len() + parts[0].len() + 1 + payload.len() + 1 + parts[2].len()
}

/// Asks the broker for every server's token at once (one HTTP client, as
/// a local MCP client keeps), then each server whether it accepts the
/// token it got: each answer, how long all answers took, and how long the
/// slowest one took.
async fn all_at_once(
    http: &reqwest::Client,
    endpoint: &(u16, String),
    ids: &[String],
    resources: &[String],
) -> (Vec<(String, serde_json::Value)>, Duration, Duration) {
    let started = Instant::now();
    let asks = ids.iter().map(|id| async move {
        let asked = Instant::now();
        let response = http
            .get(format!("http://127.0.0.1:{}/v1/token/{id}", endpoint.0))
            .bearer_auth(&endpoint.1)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .expect("the broker answers");
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let took = asked.elapsed();
        assert_eq!(status, 200, "{id}: {body}");
        (id.clone(), body, took)
    });
    let answers = futures_util::future::join_all(asks).await;
    let all = started.elapsed();
    let slowest = answers.iter().map(|a| a.2).max().unwrap_or_default();
    let checks = answers
        .iter()
        .zip(resources)
        .map(|((id, body, _), resource)| async move {
            let token = body["access_token"].as_str().unwrap();
            assert!(
                accepted(http, resource, token).await,
                "{id} refuses its token"
            );
        });
    futures_util::future::join_all(checks).await;
    (
        answers
            .into_iter()
            .map(|(id, body, _)| (id, body))
            .collect(),
        all,
        slowest,
    )
}

async fn accepted(http: &reqwest::Client, resource: &str, token: &str) -> bool {
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "scale", "version": "1"}}
    });
    let response = http
        .post(resource)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    if !status.is_success() {
        let claims = token
            .split('.')
            .nth(1)
            .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok());
        let challenge = format!("{:?}", response.headers().get("www-authenticate"));
        eprintln!(
            "{resource} answered {status} {challenge}: {}; claims {}",
            response.text().await.unwrap_or_default(),
            String::from_utf8_lossy(&claims.unwrap_or_default())
        );
    }
    status.is_success()
}

fn expires_in(body: &serde_json::Value) -> Duration {
    let at = chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .unwrap_or_default()
}

async fn run(n: usize) -> Figures {
    let ids: Vec<String> = (1..=n).map(|i| format!("svc-{i:02}")).collect();
    let demo = Demo::start(DemoConfig {
        servers: ids.clone(),
        access_ttl: ttl(n),
        token_exchange: exchange(),
        ..DemoConfig::default()
    })
    .await
    .unwrap();
    let resources: Vec<String> = demo
        .info()
        .servers
        .iter()
        .map(|s| s.resource.clone())
        .collect();
    let home = Home::new(&format!("scale{n}"), &ids.join(","));
    // The browser counts its visits, then approves every server.
    let visits = home.dir.path().join("visits");
    std::fs::write(
        home.dir.path().join("browser.sh"),
        format!(
            "#!/bin/sh\necho visit >> '{}'\nexec '{}' approve --servers {} \"$1\"\n",
            visits.display(),
            target_bin("reference-as").display(),
            ids.join(",")
        ),
    )
    .unwrap();

    // The broker runs the sign-in (as for the app, and for `login` while
    // a broker runs), so the code exchange's token is where the tokens
    // are then asked for.
    let http = reqwest::Client::new();
    let mut broker = home.spawn_broker(None);
    let endpoint = home.endpoint(&mut broker).await;
    let pid = broker.id().unwrap();
    let started = Instant::now();
    home.login(&demo.info().issuer).await;
    let login = started.elapsed();
    let visited = std::fs::read_to_string(&visits).unwrap_or_default();
    assert_eq!(visited.lines().count(), 1, "browser round trips at N = {n}");
    // (`/authorize` is asked twice in that one visit: before and after the
    // user signs in at the AS.)
    let (total_login, registrations, _) = demo.as_requests();
    assert_eq!(registrations, 1, "client registrations at N = {n}");
    let granted = home.state_parses("after login")["grants"][0]["servers"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(granted, n, "servers granted");

    let requests_before = token_requests(&demo);
    let (first, first_tokens, _) = all_at_once(&http, &endpoint, &ids, &resources).await;
    eprintln!("N = {n}: first tokens in {first_tokens:?}");
    let requests_first = token_requests(&demo);
    let (total_first, _, _) = demo.as_requests();
    // The code exchange's token is the subject: no refresh.
    assert_one_per_server(requests_before, requests_first, n, 0, "first tokens");
    let mut header = 0;
    for (_, body) in &first {
        let token = body["access_token"].as_str().unwrap();
        header = header.max("Authorization: Bearer ".len() + token.len());
    }
    let multi = multi_audience_header(first[0].1["access_token"].as_str().unwrap(), &resources);

    // Every token expires; then every server is asked for at once.
    let wait = first.iter().map(|(_, b)| expires_in(b)).max().unwrap();
    tokio::time::sleep(wait + Duration::from_millis(300)).await;
    let (again, refresh, slowest_refresh) = all_at_once(&http, &endpoint, &ids, &resources).await;
    eprintln!("N = {n}: refreshed in {refresh:?}");
    let requests_after = token_requests(&demo);
    assert_one_per_server(requests_first, requests_after, n, 1, "after the expiry");
    for ((id, body), (_, before)) in again.iter().zip(&first) {
        assert_ne!(
            body["access_token"], before["access_token"],
            "{id} was not refreshed"
        );
    }
    let (total_after_refresh, _, _) = demo.as_requests();
    let rss = rss_kb(pid);
    let state_bytes = home.state().len();
    broker.start_kill().unwrap();
    let _ = broker.wait().await;
    home.run(&["logout"], None).await;
    demo.shutdown().await;
    Figures {
        n,
        login,
        first_tokens,
        refresh,
        slowest_refresh,
        as_requests: (total_login, total_first, total_after_refresh),
        header,
        multi_audience_header: multi,
        state_bytes,
        rss_kb: rss,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_and_refresh_at_1_10_20_and_50_servers() {
    let mut rows = Vec::new();
    for n in [1, 10, 20, 50] {
        rows.push(run(n).await);
    }
    println!(
        "| N | login (s) | first tokens, all at once (ms) | refresh after expiry, all (ms) | slowest refresh answer (ms) | AS requests in total after sign-in / first tokens / expiry | Authorization header (B) | one multi-audience token (B) | state file (B) | broker RSS (kB) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for f in &rows {
        println!(
            "| {} | {:.2} | {} | {} | {} | {} / {} / {} | {} | {} | {} | {} |",
            f.n,
            f.login.as_secs_f64(),
            f.first_tokens.as_millis(),
            f.refresh.as_millis(),
            f.slowest_refresh.as_millis(),
            f.as_requests.0,
            f.as_requests.1,
            f.as_requests.2,
            f.header,
            f.multi_audience_header,
            f.state_bytes,
            f.rss_kb
        );
    }
    let (one, fifty) = (&rows[0], &rows[3]);
    println!(
        "broker RSS growth N = 1 -> 50: {} kB; state file growth: {} B",
        fifty.rss_kb.saturating_sub(one.rss_kb),
        fifty.state_bytes.saturating_sub(one.state_bytes)
    );
}
