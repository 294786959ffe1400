//! `token` and `headers` with no broker running start one in the
//! background and ask it, so a helper run on every connection (Claude
//! Code's `headersHelper`) never refreshes on its own: 20 calls one after
//! another, then 20 at once, make at most one refresh per server at the
//! reference AS (which counts them), and every call prints a header the
//! real sample server accepts. The test prints how long a call takes with
//! the broker running and when it has to start it.
//!
//! Needs the real keyring: run under scripts/desktop-session.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::{Duration, Instant};
use support::home::Home;
use support::stack::Stack;

/// Runs `headers <server>`; returns the bearer token and the wall time.
async fn headers(home: &Home, server: &str) -> (String, Duration) {
    let started = Instant::now();
    let out = home.run(&["headers", server], None).await;
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "headers {server}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let bearer = v["Authorization"]
        .as_str()
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_else(|| panic!("not a header: {v}"))
        .to_string();
    (bearer, took)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn p50_max(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    (ms(times[times.len() / 2]), ms(*times.last().unwrap()))
}

#[tokio::test(flavor = "multi_thread")]
async fn headers_with_no_broker_start_one_and_never_refresh_on_their_own() {
    let stack = Stack::start(&["github-mcp", "slack-mcp"], 3600, 0).await;
    let home = Home::with_autostart("autostart", "github-mcp,slack-mcp");
    home.login(&stack.issuer()).await;
    assert!(home.broker_pid().is_none(), "no broker runs after login");
    let before = stack.refreshes_at_as();

    // 20 calls in a row: the first starts the broker, all ask it.
    let (first_token, first) = headers(&home, "github-mcp").await;
    let broker = home.broker_pid().expect("the first call started a broker");
    let mut running = Vec::new();
    for _ in 1..20 {
        let (token, took) = headers(&home, "github-mcp").await;
        assert_eq!(token, first_token, "the broker served its token");
        running.push(took);
    }
    assert_eq!(
        home.broker_pid(),
        Some(broker),
        "one broker served them all"
    );
    assert!(stack.accepted("github-mcp", &first_token).await);
    let sequential = stack.refreshes_at_as() - before;
    assert!(
        sequential <= 1,
        "20 sequential calls made {sequential} refreshes at the AS"
    );
    let log = std::fs::read_to_string(home.dir.path().join("run/broker.log")).unwrap();
    assert!(
        !log.contains(&first_token),
        "the broker's log holds no token"
    );

    // Stop it; then 20 calls at once, on two servers, with none running.
    home.stop_broker().await;
    assert!(!home.endpoint_file().exists());
    let before = stack.refreshes_at_as();
    let started = Instant::now();
    let calls = (0..20).map(|i| {
        let server = if i % 2 == 0 {
            "github-mcp"
        } else {
            "slack-mcp"
        };
        let home = &home;
        async move { (server, headers(home, server).await) }
    });
    let answers = futures_util::future::join_all(calls).await;
    let concurrent_wall = started.elapsed();
    let concurrent = stack.refreshes_at_as() - before;
    assert!(
        concurrent <= 2,
        "20 concurrent calls on two servers made {concurrent} refreshes at the AS"
    );
    let mut cold = Vec::new();
    for (server, (token, took)) in &answers {
        assert!(
            stack.accepted(server, token).await,
            "{server}'s header is accepted"
        );
        cold.push(*took);
    }
    let brokers = home.broker_pid();
    assert!(brokers.is_some(), "one broker runs");

    let (p50, max) = p50_max(running);
    let (cold_p50, cold_max) = p50_max(cold);
    println!(
        "headers with the broker running: p50 {p50:.1} ms, max {max:.1} ms (19 calls)\n\
         first call, starting the broker: {:.1} ms\n\
         20 concurrent calls with none running: p50 {cold_p50:.1} ms, max {cold_max:.1} ms, all done in {:.1} ms\n\
         refreshes at the AS: {sequential} for 20 sequential calls, {concurrent} for 20 concurrent calls on 2 servers",
        ms(first),
        ms(concurrent_wall)
    );
    home.stop_broker().await;
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_started_on_demand_exits_when_idle_and_one_run_by_hand_stays() {
    let stack = Stack::start(&["github-mcp"], 3600, 0).await;
    let home = Home::with_autostart("idle", "github-mcp");
    home.login(&stack.issuer()).await;
    let out = home
        .run_with(
            &["token", "github-mcp"],
            None,
            &[("MCP_PASSPORT_IDLE_EXIT", "2")],
        )
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid = home.broker_pid().expect("a broker was started");
    let gone = async {
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(15), gone)
        .await
        .expect("the idle broker exited");
    assert!(
        !home.endpoint_file().exists(),
        "and removed its endpoint file"
    );

    // One the user runs by hand has no idle exit.
    let mut by_hand = home.spawn_broker(None);
    home.endpoint(&mut by_hand).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        by_hand.try_wait().unwrap().is_none(),
        "a broker run by hand stays"
    );
    let out = home.run(&["token", "github-mcp"], None).await;
    assert!(out.status.success());
    home.stop_broker().await;
    stack.shutdown().await;
}
