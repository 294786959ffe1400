//! Soak: the broker under a steady mix of token requests and proxied
//! `tools/call` for a minute (`MCP_PASSPORT_SOAK_SECS`, default 60), on
//! loopback, against the reference AS issuing access tokens that live 10 s.
//!
//! Why: the other tests prove each behaviour once; a long run shows what
//! only accumulates. It checks that no request fails while tokens keep
//! expiring, that each expiry costs exactly one refresh at the AS per
//! server (no storm, no missed refresh), and that memory and open file
//! descriptors stay flat once warmed up. The figures are printed and
//! written to `target/soak-report.txt`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use passport_broker::BrokerConfig;
use passport_core::clock::SystemClock;
use passport_core::engine::{Engine, EngineConfig, LoginRequest, LoginTarget, Opener};
use passport_core::http::HttpClient;
use passport_core::loopback::LoopbackListener;
use passport_core::store::MemoryStore;
use reference_as::demo::{Demo, DemoConfig};
use rmcp::ServiceExt as _;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SERVERS: [&str; 2] = ["github-mcp", "slack-mcp"];
const ACCESS_TTL: i64 = 10;
const WARM_UP: Duration = Duration::from_secs(5);
/// Token route clients, each asking for both servers' tokens in turn.
const TOKEN_CLIENTS: usize = 4;
/// MCP sessions through the proxy, per server.
const SESSIONS: usize = 2;
const TOKEN_PAUSE: Duration = Duration::from_millis(20);
const CALL_PAUSE: Duration = Duration::from_millis(50);

struct Approver;

impl Opener for Approver {
    fn open(&self, url: &url::Url) -> Result<(), String> {
        let approval = reference_as::approve::Approval {
            url: url.to_string(),
            user: ("demo".into(), "demo".into()),
            servers: SERVERS.iter().map(|s| s.to_string()).collect(),
            exec: None,
        };
        tokio::spawn(async move { reference_as::approve::approve(&approval).await });
        Ok(())
    }
}

/// Outcomes of the load, shared by its tasks.
#[derive(Default)]
struct Tally {
    tokens_ok: AtomicU64,
    calls_ok: AtomicU64,
    failed: AtomicU64,
    /// The first failures, described without any token.
    failures: Mutex<Vec<String>>,
    /// Every distinct access token served, per server.
    seen: Mutex<BTreeMap<String, HashSet<String>>>,
}

impl Tally {
    fn fail(&self, what: String) {
        self.failed.fetch_add(1, Relaxed);
        let mut failures = self.failures.lock().unwrap();
        if failures.len() < 10 {
            failures.push(what);
        }
    }

    fn distinct(&self) -> BTreeMap<String, usize> {
        let seen = self.seen.lock().unwrap();
        SERVERS
            .iter()
            .map(|s| (s.to_string(), seen.get(*s).map_or(0, HashSet::len)))
            .collect()
    }
}

/// Resident memory of this process, KiB (Linux `/proc`).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// Open file descriptors of this process: the least of five readings over
/// half a second, so that connections opening and closing under the load
/// do not count, while a leaked descriptor, which stays, does.
async fn open_fds() -> usize {
    let mut least = usize::MAX;
    for _ in 0..5 {
        least = least.min(std::fs::read_dir("/proc/self/fd").unwrap().count());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    least
}

async fn token_client(base: String, key: String, tally: Arc<Tally>, until: Arc<Mutex<Instant>>) {
    let client = reqwest::Client::new();
    let mut turn = 0usize;
    while Instant::now() < *until.lock().unwrap() {
        let server = SERVERS[turn % SERVERS.len()];
        turn += 1;
        let answer = client
            .get(format!("{base}/v1/token/{server}"))
            .bearer_auth(&key)
            .send()
            .await;
        match answer {
            Ok(r) if r.status().is_success() => {
                let body: serde_json::Value = r.json().await.unwrap_or_default();
                match body["access_token"].as_str() {
                    Some(token) if !token.is_empty() => {
                        tally.tokens_ok.fetch_add(1, Relaxed);
                        let mut seen = tally.seen.lock().unwrap();
                        seen.entry(server.to_string())
                            .or_default()
                            .insert(token.to_string());
                    }
                    _ => tally.fail(format!("token {server}: an answer without a token")),
                }
            }
            Ok(r) => tally.fail(format!("token {server}: HTTP {}", r.status())),
            Err(e) => tally.fail(format!("token {server}: {}", e.without_url())),
        }
        tokio::time::sleep(TOKEN_PAUSE).await;
    }
}

async fn mcp_session(url: String, key: String, tally: Arc<Tally>, until: Arc<Mutex<Instant>>) {
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let config = StreamableHttpClientTransportConfig::with_uri(url.clone()).auth_header(key);
    let transport = rmcp::transport::StreamableHttpClientTransport::from_config(config);
    let client = match rmcp::model::ClientConfig::default().serve(transport).await {
        Ok(c) => c,
        Err(e) => return tally.fail(format!("initialize through {url}: {e}")),
    };
    while Instant::now() < *until.lock().unwrap() {
        let params = rmcp::model::CallToolRequestParams::new("whoami");
        match client.call_tool(params).await {
            Ok(result) if result.is_error != Some(true) => {
                tally.calls_ok.fetch_add(1, Relaxed);
            }
            Ok(_) => tally.fail(format!("tools/call through {url}: a tool error")),
            Err(e) => tally.fail(format!("tools/call through {url}: {e}")),
        }
        tokio::time::sleep(CALL_PAUSE).await;
    }
    let _ = client.cancel().await;
}

fn soak_secs() -> u64 {
    std::env::var("MCP_PASSPORT_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|s| *s > 0)
        .unwrap_or(60)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_soak_keeps_serving_refreshes_once_per_expiry_and_stays_flat() {
    let soak = Duration::from_secs(soak_secs());
    let demo = Demo::start(DemoConfig {
        servers: SERVERS.iter().map(|s| s.to_string()).collect(),
        access_ttl: ACCESS_TTL,
        ..DemoConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(
        Engine::new(
            EngineConfig::new(dir.path().join("state.json")),
            HttpClient::new().unwrap(),
            Arc::new(SystemClock),
            Arc::new(MemoryStore::new()),
        )
        .unwrap(),
    );
    let listener = LoopbackListener::bind().await.unwrap();
    let redirect_uri = listener.redirect_uri();
    let serving =
        tokio::spawn(listener.serve(engine.flows(), engine.clock(), Duration::from_secs(20)));
    let request = LoginRequest {
        target: LoginTarget::Issuer(demo.info().issuer.clone()),
        servers: vec![],
        client: None,
        redirect_uri,
        scope: None,
        timeout: Duration::from_secs(20),
        account: None,
    };
    engine.login(&request, &Approver).await.unwrap();
    let _ = serving.await;
    let config = BrokerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        endpoint_file: dir.path().join("run/endpoint.json"),
        keys_file: dir.path().join("keys.json"),
        audit_file: dir.path().join("audit.jsonl"),
        refresh_every: Duration::from_secs(1),
    };
    let broker = passport_broker::start(config, engine, Arc::new(Approver))
        .await
        .unwrap();
    let endpoint: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("run/endpoint.json")).unwrap(),
    )
    .unwrap();
    let key = endpoint["key"].as_str().unwrap().to_string();
    // The leak scan looks for this key in everything the run printed.
    reference_as::secrets_log::record("client_key", &key);
    let base = format!("http://127.0.0.1:{}", broker.addr.port());

    // Load for the warm-up and the soak; the end is set once the soak starts.
    let tally = Arc::new(Tally::default());
    let until = Arc::new(Mutex::new(
        Instant::now() + WARM_UP + soak + Duration::from_secs(60),
    ));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..TOKEN_CLIENTS {
        tasks.spawn(token_client(
            base.clone(),
            key.clone(),
            tally.clone(),
            until.clone(),
        ));
    }
    for server in SERVERS {
        for _ in 0..SESSIONS {
            let url = format!("{base}/v1/mcp/{server}");
            tasks.spawn(mcp_session(url, key.clone(), tally.clone(), until.clone()));
        }
    }
    tokio::time::sleep(WARM_UP).await;

    let (rss_start, fds_start) = (rss_kib(), open_fds().await);
    let refreshes_start = demo.token_requests().1;
    let tokens_start = tally.distinct();
    let started = Instant::now();
    *until.lock().unwrap() = started + soak;
    // The end figures are read while the load still runs, like the start ones.
    tokio::time::sleep(soak.saturating_sub(Duration::from_secs(1))).await;
    let (rss_end, fds_end) = (rss_kib(), open_fds().await);
    while tasks.join_next().await.is_some() {}
    let elapsed = started.elapsed();
    let refreshes = demo.token_requests().1 - refreshes_start;
    let tokens_end = tally.distinct();
    broker.shutdown().await;
    demo.shutdown().await;

    // One refresh per expiry: a token lives ACCESS_TTL and is renewed a
    // tenth of its life before it ends, so every server gets a new one
    // every 9 s; each new token the clients saw is one refresh.
    let period = ACCESS_TTL as f64 * 0.9;
    let expected = elapsed.as_secs_f64() / period;
    let new_tokens: BTreeMap<&String, usize> = tokens_end
        .iter()
        .map(|(s, n)| (s, n - tokens_start.get(s).copied().unwrap_or(0)))
        .collect();
    let failures = tally.failures.lock().unwrap().clone();
    let report = format!(
        "soak: {:.1} s after {} s warm-up, {} servers, access tokens living {ACCESS_TTL} s\n\
         requests: {} token ok, {} tools/call ok, {} failed\n\
         refreshes at the AS: {refreshes}; expiries per server: {expected:.1} expected, new tokens seen {new_tokens:?}\n\
         RSS: {rss_start} KiB at start, {rss_end} KiB at end ({:+} KiB)\n\
         open fds: {fds_start} at start, {fds_end} at end\n",
        elapsed.as_secs_f64(),
        WARM_UP.as_secs(),
        SERVERS.len(),
        tally.tokens_ok.load(Relaxed),
        tally.calls_ok.load(Relaxed),
        tally.failed.load(Relaxed),
        rss_end as i64 - rss_start as i64,
    );
    println!("{report}");
    let target_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    std::fs::write(target_dir.join("soak-report.txt"), &report).unwrap();

    assert_eq!(
        tally.failed.load(Relaxed),
        0,
        "failed requests: {failures:?}"
    );
    assert!(tally.tokens_ok.load(Relaxed) > 0 && tally.calls_ok.load(Relaxed) > 0);
    for (server, n) in &new_tokens {
        assert!(
            (*n as f64 - expected).abs() <= 1.0,
            "{server}: {n} new tokens in {elapsed:?}, expected {expected:.1}"
        );
    }
    let seen: usize = new_tokens.values().sum();
    assert!(
        refreshes.abs_diff(seen as u64) <= SERVERS.len() as u64,
        "{refreshes} refreshes at the AS for {seen} new tokens"
    );
    let growth = rss_end.saturating_sub(rss_start);
    assert!(
        growth <= (rss_start / 5).max(10 * 1024),
        "RSS grew from {rss_start} KiB to {rss_end} KiB"
    );
    assert!(
        fds_end <= fds_start + 8,
        "open file descriptors grew from {fds_start} to {fds_end}"
    );
}
