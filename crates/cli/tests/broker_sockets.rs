//! A local process that opens hundreds of sockets to the broker and sends
//! nothing must not exhaust it. The broker (`mcp-passport serve`, signed in
//! to the reference AS, the real keyring of `scripts/desktop-session.sh`)
//! runs with 256 file descriptors, the default soft limit on macOS; 400
//! silent sockets are opened, then a well-behaved client asks for its token
//! and must get it at once, again and again. And a burst of real clients
//! that keep their connections open (a pooled HTTP client's keep-alive) is
//! all served: idle connections make room for new ones.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::{Duration, Instant};
use support::home::{Home, broker_token};
use support::stack::Stack;

const SILENT: usize = 400;

#[tokio::test(flavor = "multi_thread")]
async fn hundreds_of_silent_sockets_do_not_keep_a_client_from_its_token() {
    let stack = Stack::start(&["github-mcp"], 3600, 0).await;
    let home = Home::new("sockets", "github-mcp");
    home.login(&stack.issuer()).await;

    let mut broker = broker_with_few_descriptors(&home);
    let endpoint = home.endpoint(&mut broker).await;
    let (status, body) = broker_token(&endpoint, "github-mcp").await.unwrap();
    assert_eq!(status, 200, "before: {body}");

    // All at once, as a flood would; a broker that stops accepting leaves
    // some of them unconnected, which is the flood's problem, not the test's.
    let opening: Vec<_> = (0..SILENT)
        .map(|_| {
            let port = endpoint.0;
            tokio::spawn(async move {
                tokio::time::timeout(
                    Duration::from_secs(3),
                    tokio::net::TcpStream::connect(("127.0.0.1", port)),
                )
                .await
                .ok()
                .and_then(Result::ok)
            })
        })
        .collect();
    let mut silent = Vec::with_capacity(SILENT);
    for task in opening {
        silent.extend(task.await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let started = Instant::now();
        let answer = tokio::time::timeout(
            Duration::from_secs(10),
            broker_token(&endpoint, "github-mcp"),
        )
        .await
        .expect("no token within 10 s: the silent sockets exhausted the broker");
        let (status, body) = answer.expect("the broker died");
        assert_eq!(status, 200, "{body}");
        slowest = slowest.max(started.elapsed());
    }
    println!(
        "with {} silent sockets open: 20 tokens, slowest {:.1} ms",
        silent.len(),
        slowest.as_secs_f64() * 1000.0
    );
    assert!(
        slowest < Duration::from_millis(500),
        "a token took {slowest:?}"
    );
    drop(silent);
    assert!(broker.try_wait().unwrap().is_none(), "the broker died");
    broker.start_kill().unwrap();
    let _ = broker.wait().await;
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_keep_alive_clients_beyond_the_descriptors_is_all_served() {
    let stack = Stack::start(&["github-mcp"], 3600, 0).await;
    let home = Home::new("burst", "github-mcp");
    home.login(&stack.issuer()).await;
    let mut broker = broker_with_few_descriptors(&home);
    let endpoint = home.endpoint(&mut broker).await;

    // 400 clients at once, as 400 local processes would be: each sends its
    // request as it connects and keeps its connection open afterwards
    // (HTTP keep-alive) until the end of the test. That needs more
    // descriptors than the broker has, so answers must close connections
    // when few are left, instead of leaving idle ones to hold the last
    // clients back for the broker's header time (5 s).
    let url = format!("http://127.0.0.1:{}/v1/token/github-mcp", endpoint.0);
    let clients: Vec<_> = (0..SILENT)
        .map(|_| {
            reqwest::Client::builder()
                .pool_idle_timeout(Duration::from_secs(60))
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap()
        })
        .collect();
    let started = Instant::now();
    let asked: Vec<_> = clients
        .into_iter()
        .map(|client| {
            let (url, key) = (url.clone(), endpoint.1.clone());
            tokio::spawn(async move {
                let t = Instant::now();
                let status = client
                    .get(url)
                    .bearer_auth(key)
                    .send()
                    .await
                    .map(|r| r.status());
                let took = t.elapsed();
                (
                    status.map(|s| s.as_u16()).map_err(|e| format!("{e:?}")),
                    took,
                    client,
                )
            })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    let mut clients = Vec::with_capacity(SILENT);
    for task in asked {
        let (status, took, client) = task.await.unwrap();
        assert_eq!(status, Ok(200), "a request of the burst failed");
        slowest = slowest.max(took);
        clients.push(client);
    }
    println!(
        "{SILENT} keep-alive clients at once on 256 descriptors: all served, slowest {:.1} ms, all in {:.1} ms",
        slowest.as_secs_f64() * 1000.0,
        started.elapsed().as_secs_f64() * 1000.0
    );
    assert!(
        slowest < Duration::from_secs(3),
        "a request waited {slowest:?}: idle keep-alive connections held the broker's descriptors"
    );
    drop(clients);
    assert!(broker.try_wait().unwrap().is_none(), "the broker died");
    broker.start_kill().unwrap();
    let _ = broker.wait().await;
    stack.shutdown().await;
}

/// `mcp-passport serve` for `home` in its own process (`prlimit` keeps the
/// pid) with 256 file descriptors.
fn broker_with_few_descriptors(home: &Home) -> tokio::process::Child {
    tokio::process::Command::new("prlimit")
        .args(["--nofile=256:256", "--", env!("CARGO_BIN_EXE_mcp-passport")])
        .args(["serve", "--port", "0"])
        .env("MCP_PASSPORT_HOME", home.dir.path())
        .env("MCP_PASSPORT_KEYRING_SERVICE", &home.service)
        .env_remove("MCP_PASSPORT_FAULT")
        .env_remove("MCP_PASSPORT_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}
