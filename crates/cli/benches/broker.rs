//! Broker benchmarks. Each figure is a ratio against a baseline measured in
//! the same run on the same machine, printed, not asserted:
//!
//! 1. the token route vs a bare hyper server answering a fixed JSON body of
//!    the same size (keep-alive, 64 connections): throughput ratio, p50/p99;
//!    both get the same request (path and key), and they take turns in short
//!    rounds, so a burst of other work on the machine lands on both;
//! 2. `tools/call` through the proxy vs straight to the sample server,
//!    also in turns: throughput ratio and added p50 latency, with 8
//!    sessions (the headline: the added p50 includes queueing on the
//!    shared cores) and with 1 session (unloaded: the hop's own cost);
//! 3. a refresh storm: 1,000 concurrent token requests on an expired token:
//!    refreshes at the AS and the slowest answer;
//! 4. `mcp-passport headers` cold start (process start to exit, via the broker).
//!
//! Run: `cargo bench -p mcp-passport --bench broker`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use passport_broker::BrokerConfig;
use passport_core::clock::{Clock, ManualClock};
use passport_core::engine::{Engine, EngineConfig, LoginRequest, LoginTarget, Opener};
use passport_core::http::HttpClient;
use passport_core::loopback::LoopbackListener;
use passport_core::store::MemoryStore;
use reference_as::demo::{Demo, DemoConfig};
use rmcp::ServiceExt as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 64;
const WINDOW: Duration = Duration::from_secs(3);
/// Turns each of the baseline and the token route get (of `WINDOW / ROUNDS` each).
const ROUNDS: u32 = 3;

struct Approver;

impl Opener for Approver {
    fn open(&self, url: &url::Url) -> Result<(), String> {
        let approval = reference_as::approve::Approval {
            url: url.to_string(),
            user: ("demo".into(), "demo".into()),
            servers: vec!["github-mcp".into()],
            exec: None,
        };
        tokio::spawn(async move { reference_as::approve::approve(&approval).await });
        Ok(())
    }
}

struct Run {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

fn summarize(mut latencies: Vec<Duration>, elapsed: Duration) -> Run {
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    Run {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.5),
        p99: at(0.99),
    }
}

/// Latencies of `connections` keep-alive clients each sending GETs for `window`.
async fn load(
    url: String,
    key: Option<String>,
    connections: usize,
    window: Duration,
) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (url, key) = (url.clone(), key.clone());
        tasks.spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap();
            let mut latencies = Vec::new();
            while started.elapsed() < window {
                let t = Instant::now();
                let mut request = client.get(&url);
                if let Some(key) = &key {
                    request = request.bearer_auth(key);
                }
                let body = request.send().await.unwrap().bytes().await.unwrap();
                assert!(!body.is_empty());
                latencies.push(t.elapsed());
            }
            latencies
        });
    }
    let all: Vec<Duration> = tasks.join_all().await.into_iter().flatten().collect();
    (all, started.elapsed())
}

/// The baseline and the measured URL in alternating rounds; their runs.
async fn alternate(baseline: &str, measured: &str, key: &str) -> (Run, Run) {
    let (mut a, mut b) = ((Vec::new(), Duration::ZERO), (Vec::new(), Duration::ZERO));
    for _ in 0..ROUNDS {
        let (l, t) = load(
            baseline.to_string(),
            Some(key.to_string()),
            CONNECTIONS,
            WINDOW / ROUNDS,
        )
        .await;
        a.0.extend(l);
        a.1 += t;
        let (l, t) = load(
            measured.to_string(),
            Some(key.to_string()),
            CONNECTIONS,
            WINDOW / ROUNDS,
        )
        .await;
        b.0.extend(l);
        b.1 += t;
    }
    (summarize(a.0, a.1), summarize(b.0, b.1))
}

/// A bare hyper server answering `body` to every request.
async fn bare_hyper(body: bytes_body::Bytes) -> String {
    use hyper::server::conn::http1;
    use hyper_util::rt::TokioIo;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let body = body.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    let body = body.clone();
                    async move {
                        let mut response = hyper::Response::new(http_body_util::Full::new(body));
                        response.headers_mut().insert(
                            "content-type",
                            hyper::header::HeaderValue::from_static("application/json"),
                        );
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    url
}

mod bytes_body {
    pub type Bytes = hyper::body::Bytes;
}

async fn tools_calls(
    url: String,
    key: Option<String>,
    clients: usize,
    window: Duration,
) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (url, key) = (url.clone(), key.clone());
        tasks.spawn(async move {
            let mut config = rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(url);
            if let Some(key) = key {
                config = config.auth_header(key);
            }
            let client = rmcp::model::ClientConfig::default().serve(rmcp::transport::StreamableHttpClientTransport::from_config(config)).await.unwrap();
            let mut latencies = Vec::new();
            while started.elapsed() < window {
                let t = Instant::now();
                client.call_tool(rmcp::model::CallToolRequestParams::new("list_issues")).await.unwrap();
                latencies.push(t.elapsed());
            }
            let _ = client.cancel().await;
            latencies
        });
    }
    let all: Vec<Duration> = tasks.join_all().await.into_iter().flatten().collect();
    (all, started.elapsed())
}

/// `tools/call` straight to the server and through the proxy, `sessions`
/// at a time, in alternating rounds; their runs.
async fn tools_alternate(
    server: &str,
    token: &str,
    proxy: &str,
    key: &str,
    sessions: usize,
) -> (Run, Run) {
    let (mut straight, mut proxied) = ((Vec::new(), Duration::ZERO), (Vec::new(), Duration::ZERO));
    for _ in 0..ROUNDS {
        let (l, t) = tools_calls(
            server.to_string(),
            Some(token.to_string()),
            sessions,
            WINDOW / ROUNDS,
        )
        .await;
        straight.0.extend(l);
        straight.1 += t;
        let (l, t) = tools_calls(
            proxy.to_string(),
            Some(key.to_string()),
            sessions,
            WINDOW / ROUNDS,
        )
        .await;
        proxied.0.extend(l);
        proxied.1 += t;
    }
    (
        summarize(straight.0, straight.1),
        summarize(proxied.0, proxied.1),
    )
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let demo = Demo::start(DemoConfig { servers: vec!["github-mcp".into()], ..DemoConfig::default() }).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let engine = Arc::new(Engine::new(EngineConfig::new(dir.path().join("state.json")), HttpClient::new().unwrap(), dyn_clock, Arc::new(MemoryStore::new())).unwrap());
        let listener = LoopbackListener::bind().await.unwrap();
        let redirect_uri = listener.redirect_uri();
        let serving = tokio::spawn(listener.serve(engine.flows(), engine.clock(), Duration::from_secs(20)));
        let request = LoginRequest { target: LoginTarget::Issuer(demo.info().issuer.clone()), servers: vec![], client: None, redirect_uri, scope: None, timeout: Duration::from_secs(20), account: None };
        engine.login(&request, &Approver).await.unwrap();
        let _ = serving.await;
        let config = BrokerConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            endpoint_file: dir.path().join("run/endpoint.json"),
            keys_file: dir.path().join("keys.json"),
            audit_file: dir.path().join("audit.jsonl"),
            refresh_every: Duration::from_secs(3600),
        };
        let broker = passport_broker::start(config, engine.clone(), Arc::new(Approver)).await.unwrap();
        let endpoint: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("run/endpoint.json")).unwrap()).unwrap();
        let key = endpoint["key"].as_str().unwrap().to_string();
        let base = format!("http://127.0.0.1:{}", broker.addr.port());
        let token_url = format!("{base}/v1/token/github-mcp");

        // 1. Token route vs bare hyper with a body of the same size.
        let sample = reqwest::Client::new().get(&token_url).bearer_auth(&key).send().await.unwrap().bytes().await.unwrap();
        // The baseline gets the very same request (path and key; it ignores both).
        let baseline_url = format!("{}v1/token/github-mcp", bare_hyper(sample.clone()).await);
        let (baseline, route) = alternate(&baseline_url, &token_url, &key).await;
        println!("token route vs bare hyper ({} B body, {CONNECTIONS} keep-alive connections, {}s each in {ROUNDS} turns):", sample.len(), WINDOW.as_secs());
        println!("  bare hyper   {:>9.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms", baseline.per_second, ms(baseline.p50), ms(baseline.p99));
        println!("  token route  {:>9.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms", route.per_second, ms(route.p50), ms(route.p99));
        println!("  throughput ratio {:.2} (goal >= 0.8)", route.per_second / baseline.per_second);

        // 2. tools/call through the proxy vs straight (same token kind: the server's own).
        let direct_token = engine.token("github-mcp").await.unwrap().access_token.expose().to_string();
        let server_url = demo.info().servers[0].resource.clone();
        let proxy_url = format!("{base}/v1/mcp/github-mcp");
        for sessions in [8, 1] {
            let (straight, proxied) = tools_alternate(&server_url, &direct_token, &proxy_url, &key, sessions).await;
            println!("tools/call through the proxy vs straight ({sessions} session(s), {}s each in {ROUNDS} turns):", WINDOW.as_secs());
            println!("  straight  {:>8.0} calls/s  p50 {:>7.3} ms", straight.per_second, ms(straight.p50));
            println!("  proxied   {:>8.0} calls/s  p50 {:>7.3} ms", proxied.per_second, ms(proxied.p50));
            println!(
                "  throughput ratio {:.2} (goal >= 0.9), added p50 {:.3} ms (goal < 0.3 ms)",
                proxied.per_second / straight.per_second,
                ms(proxied.p50) - ms(straight.p50)
            );
        }

        // 3. Refresh storm on an expired token.
        clock.advance(chrono::Duration::hours(2));
        let before = demo.token_requests().1;
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        let client = reqwest::Client::new();
        for _ in 0..1000 {
            let (client, url, key) = (client.clone(), token_url.clone(), key.clone());
            tasks.spawn(async move {
                let t = Instant::now();
                let status = client.get(url).bearer_auth(key).send().await.unwrap().status();
                (status.is_success(), t.elapsed())
            });
        }
        let results = tasks.join_all().await;
        let slowest = results.iter().map(|(_, d)| *d).max().unwrap_or_default();
        println!("refresh storm: 1000 concurrent token requests on an expired token:");
        println!(
            "  {} succeeded, refreshes at the AS: {} (must be 1), slowest answer {:.1} ms, all done in {:.1} ms",
            results.iter().filter(|(ok, _)| *ok).count(),
            demo.token_requests().1 - before,
            ms(slowest),
            ms(started.elapsed())
        );

        // 4. `mcp-passport headers` cold start, answered by the broker.
        let runtime_dir = dir.path().join("home");
        std::fs::create_dir_all(runtime_dir.join("run")).unwrap();
        std::fs::copy(dir.path().join("run/endpoint.json"), runtime_dir.join("run/endpoint.json")).unwrap();
        let mut runs = Vec::new();
        for _ in 0..30 {
            let t = Instant::now();
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-passport")).args(["headers", "github-mcp"]).env("MCP_PASSPORT_HOME", &runtime_dir).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            runs.push(t.elapsed());
        }
        runs.sort();
        println!("mcp-passport headers cold start (30 runs, via the broker): p50 {:.1} ms, max {:.1} ms (goal < 20 ms)", ms(runs[15]), ms(runs[29]));
        broker.shutdown().await;
        demo.shutdown().await;
    });
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
