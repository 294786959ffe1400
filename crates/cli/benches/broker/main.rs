//! Broker benchmarks. Each figure is set beside a baseline measured in the
//! same run on the same machine, and beside its goal; the bench prints a
//! table and exits non-zero when a goal is missed.
//!
//! The broker, the demo (AS and sample MCP server) and the load generator
//! each run on their own tokio runtime with named threads (`stack`), so the
//! CPU time of each part is read per thread from `/proc` (`threads`) and
//! the allocations of the broker's threads are counted by the global
//! allocator (`allocs`).
//!
//! 1. the token route vs a bare hyper server answering a fixed JSON body of
//!    the same size (keep-alive, 64 connections): throughput ratio, p50/p99;
//!    both get the same request (path and key), and they take turns in short
//!    rounds, so a burst of other work on the machine lands on both;
//! 2. `tools/call` through the proxy, through a bare hyper forwarder (the
//!    floor any HTTP hop costs) and straight to the sample server, in turns
//!    (`mcp`, `proxy_cost`), with 1 session (unloaded: the hop's own
//!    latency) and 8: each hop's CPU time per 1,000 calls beside the sample
//!    server's for the same calls (its JWT check against the JWKS and its
//!    MCP handling), allocations per call, the added p50, and the
//!    throughput ratio (at 8 sessions bounded by the machine's cores: load
//!    generator, server and hop share them);
//! 3. a refresh storm: 1,000 clients asking at once for an expired token:
//!    refreshes at the AS and the slowest answer;
//! 4. `mcp-passport headers` cold start (process start to exit, via the broker).
//!
//! Run (Linux; in a private network namespace if other tests use ports):
//! `cargo bench --workspace --features mcp-passport-app/demo --bench broker`;
//! add `-- proxy` (or `token`, `storm`, `headers`, several at once) to run
//! only those parts, e.g. under a profiler.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod allocs;
mod forwarder;
mod load;
mod mcp;
mod proxy_cost;
mod stack;
mod table;
mod tcp;
mod threads;

use stack::Stack;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use table::Table;

/// The broker's CPU time at most this share of the sample server's, per call.
pub const CPU_SHARE: f64 = 0.10;
/// The proxy's added p50 with one session.
pub const ADDED_P50_MS: f64 = 0.1;

fn main() -> ExitCode {
    allocs::install();
    allocs::count_this_thread(false);
    let stack = Stack::start();
    let load_rt = stack::runtime(threads::LOAD, false);
    let mut table = Table::default();
    let asked: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runs = |part: &str| asked.is_empty() || asked.iter().any(|a| a == part);
    load_rt.block_on(async {
        if runs("token") {
            token_route(&stack, &mut table).await;
        }
        if runs("proxy") {
            proxy(&stack, &mut table).await;
        }
        if runs("storm") {
            refresh_storm(&stack, &mut table).await;
        }
    });
    if runs("headers") {
        headers_cold_start(&stack, &mut table);
    }
    let others = threads::snapshot().others();
    if !others.is_empty() {
        println!(
            "threads of no part (counted as broker allocations, not as its CPU): {}",
            others.join(", ")
        );
    }
    stack.stop();
    drop(load_rt);
    table.print();
    table.exit_code()
}

/// 1. The token route vs bare hyper with a body of the same size.
async fn token_route(stack: &Stack, table: &mut Table) {
    let (key, token_url) = (&stack.key, format!("{}/v1/token/github-mcp", stack.base));
    let sample = reqwest::Client::new()
        .get(&token_url)
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    // The baseline gets the very same request (path and key; it ignores both).
    let baseline_url = format!(
        "{}v1/token/github-mcp",
        load::bare_hyper(sample.clone(), stack.broker_runtime()).await
    );
    let (baseline, route) = load::alternate(&baseline_url, &token_url, key).await;
    println!(
        "token route vs bare hyper ({} B body, {} keep-alive connections, {}s each in {} turns):",
        sample.len(),
        load::CONNECTIONS,
        load::WINDOW.as_secs(),
        load::ROUNDS
    );
    println!(
        "  bare hyper   {:>9.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms",
        baseline.per_second,
        ms(baseline.p50),
        ms(baseline.p99)
    );
    println!(
        "  token route  {:>9.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms",
        route.per_second,
        ms(route.p50),
        ms(route.p99)
    );
    let ratio = route.per_second / baseline.per_second;
    table.check(
        &format!("token route vs bare hyper, same {} B body and request, {} keep-alive connections, in turns", sample.len(), load::CONNECTIONS),
        format!("ratio {ratio:.2} ({:.0} vs {:.0} req/s); p50 {:.2} vs {:.2} ms", route.per_second, baseline.per_second, ms(route.p50), ms(baseline.p50)),
        "ratio >= 0.8",
        ratio >= 0.8,
    );
}

/// 2. `tools/call` through the proxy vs a bare forwarder vs straight.
async fn proxy(stack: &Stack, table: &mut Table) {
    proxy_cost::run(stack, table).await;
}

/// 3. A refresh storm on an expired token.
async fn refresh_storm(stack: &Stack, table: &mut Table) {
    let token_url = format!("{}/v1/token/github-mcp", stack.base);
    stack.clock.advance(chrono::Duration::hours(2));
    let before = stack.demo().token_requests().1;
    // 1,000 clients, as 1,000 local processes asking at once would be: each
    // its own HTTP client, made before the clock starts.
    let clients: Vec<_> = (0..1000).map(|_| reqwest::Client::new()).collect();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for client in clients {
        let (url, key) = (token_url.clone(), stack.key.clone());
        tasks.spawn(async move {
            let t = Instant::now();
            let outcome = match client.get(url).bearer_auth(key).send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("status {}", r.status())),
                Err(e) => Err(format!("{e:?}")),
            };
            (outcome, t.elapsed())
        });
    }
    let results = tasks.join_all().await;
    let slowest = results.iter().map(|(_, d)| *d).max().unwrap_or_default();
    let succeeded = results.iter().filter(|(ok, _)| ok.is_ok()).count();
    for failure in results
        .iter()
        .filter_map(|(ok, _)| ok.as_ref().err())
        .take(3)
    {
        println!("  a failed request: {failure}");
    }
    let refreshes = stack.demo().token_requests().1 - before;
    println!("refresh storm: 1000 clients asking at once for an expired token:");
    println!(
        "  {succeeded} succeeded, refreshes at the AS: {refreshes}, slowest answer {:.1} ms, all done in {:.1} ms",
        ms(slowest),
        ms(started.elapsed())
    );
    table.check(
        "refresh storm: 1,000 clients asking at once for an expired token",
        format!(
            "{refreshes} refresh at the AS, {succeeded} served, slowest {:.0} ms",
            ms(slowest)
        ),
        "1 refresh, all served",
        refreshes == 1 && succeeded == 1000,
    );
}

/// 4. `mcp-passport headers` cold start, answered by the broker.
fn headers_cold_start(stack: &Stack, table: &mut Table) {
    let home = stack.dir.path().join("home");
    std::fs::create_dir_all(home.join("run")).unwrap();
    std::fs::copy(
        stack.dir.path().join("run/endpoint.json"),
        home.join("run/endpoint.json"),
    )
    .unwrap();
    let mut runs = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-passport"))
            .args(["headers", "github-mcp"])
            .env("MCP_PASSPORT_HOME", &home)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        runs.push(t.elapsed());
    }
    runs.sort();
    let (p50, max) = (ms(runs[15]), ms(runs[29]));
    println!(
        "mcp-passport headers cold start (30 runs, via the broker): p50 {p50:.1} ms, max {max:.1} ms"
    );
    table.check(
        "`mcp-passport headers` cold start, via the broker (30 runs)",
        format!("p50 {p50:.1} ms, max {max:.1} ms"),
        "p50 < 20 ms",
        p50 < 20.0,
    );
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
