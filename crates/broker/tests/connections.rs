//! The broker's connections on real sockets: a client that sends nothing,
//! or its headers a byte at a time, is dropped after a few seconds; when
//! silent sockets fill the broker, those silent for their grace are closed,
//! oldest first, and a well-behaved client is served; every response the broker writes
//! says `Cache-Control: no-store`; and the proxy passes no hop-by-hop header
//! either way, including those a `Connection` header names, to a real
//! upstream that records what it receives; the MCP headers (version,
//! method, name, `Mcp-Param-*`, session) pass unchanged both ways.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use passport_broker::descriptors::connection_cap;
use passport_broker::service::{GRACE, HEADER_READ, MAX_CONNECTIONS};
use passport_broker::{BrokerConfig, RunningBroker};
use passport_core::clock::SystemClock;
use passport_core::engine::{Engine, EngineConfig, LoginRequest, LoginTarget, Opener};
use passport_core::http::HttpClient;
use passport_core::loopback::sign_in_via_loopback;
use passport_core::store::MemoryStore;
use reference_as::config::{AsConfig, CatalogEntry};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::setup;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Reads until the peer closes (or `limit` passes); returns when it closed.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(started + limit),
            stream.read(&mut buf),
        )
        .await
        {
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn a_client_that_sends_nothing_or_trickles_its_headers_is_dropped() {
    let s = setup().await;
    let addr = s.broker.addr;
    let limit = HEADER_READ + Duration::from_secs(3);

    let mut silent = TcpStream::connect(addr).await.unwrap();
    let took = closed_within(&mut silent, limit).await;
    assert!(
        took.is_some_and(|t| t >= HEADER_READ - Duration::from_millis(500)),
        "a silent socket: {took:?}"
    );

    let mut slow = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    slow.write_all(format!("GET /v1/servers HTTP/1.1\r\nHost: {addr}\r\n").as_bytes())
        .await
        .unwrap();
    let mut dropped = false;
    while started.elapsed() < limit {
        if slow.write_all(b"X-Slow: a\r\n").await.is_err() {
            dropped = true;
            break;
        }
        let mut buf = [0u8; 256];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(500), slow.read(&mut buf)).await
        {
            dropped = true;
            break;
        }
    }
    assert!(
        dropped,
        "headers sent one line every half second kept the connection for {:?}",
        started.elapsed()
    );

    // A client that keeps to the protocol is not affected.
    let servers = reqwest::Client::new()
        .get(format!("{}/v1/servers", s.base))
        .bearer_auth(&s.key)
        .send()
        .await
        .unwrap();
    assert_eq!(servers.status(), 200);
    s.broker.shutdown().await;
    s.demo.shutdown().await;
}

#[tokio::test]
async fn silent_sockets_that_fill_the_broker_make_room_for_a_new_client() {
    let s = setup().await;
    // The broker's cap under this process's open-files limit (which the
    // broker has raised as far as it goes).
    let cap = connection_cap(MAX_CONNECTIONS);
    let mut silent = Vec::new();
    for _ in 0..cap + 100 {
        silent.push(TcpStream::connect(s.broker.addr).await.unwrap());
    }
    let started = Instant::now();
    let token = reqwest::Client::new()
        .get(format!("{}/v1/token/github-mcp", s.base))
        .bearer_auth(&s.key)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(token.status(), 200);
    assert!(
        took < GRACE + Duration::from_secs(1),
        "the token took {took:?} behind {} silent sockets",
        cap + 100
    );
    // Silent sockets were closed, oldest first, to make room for the 100
    // behind them and the client, long before their header time ran out;
    // those still within their grace when room was made may stay.
    let mut closed = 0;
    for stream in silent.iter_mut().take(cap) {
        if closed_within(stream, Duration::from_millis(200))
            .await
            .is_some()
        {
            closed += 1;
        }
    }
    assert!(
        closed > 100 && closed <= cap,
        "{closed} of the first {cap} silent sockets were closed"
    );
    assert!(started.elapsed() < HEADER_READ);
    s.broker.shutdown().await;
    s.demo.shutdown().await;
}

#[tokio::test]
async fn every_response_the_broker_writes_says_no_store() {
    let s = setup().await;
    let client = reqwest::Client::new();
    let asked = [
        ("/v1/token/github-mcp", Some(&s.key), 200),
        ("/v1/servers", Some(&s.key), 200),
        ("/v1/token/github-mcp", None, 401),
        ("/v1/token/nobody-mcp", Some(&s.key), 404),
        ("/v1/nothing-here", Some(&s.key), 404),
    ];
    for (path, key, status) in asked {
        let mut request = client.get(format!("{}{path}", s.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{path} ({status})"
        );
    }
    s.broker.shutdown().await;
    s.demo.shutdown().await;
}

/// An upstream MCP server that records each request head it receives and
/// answers with hop-by-hop headers of its own.
async fn recording_upstream() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let heads = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&heads);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = stream.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                        buf.drain(..end + 4);
                        record.lock().unwrap().push(head);
                        let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                            Content-Length: 2\r\nConnection: X-Up-Hop, keep-alive\r\n\
                            Keep-Alive: timeout=5\r\nX-Up-Hop: 1\r\nProxy-Connection: keep-alive\r\n\
                            X-Up-End: kept\r\n\r\n{}";
                        if stream.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (url, heads)
}

/// Ticks `recorder` at the reference AS's consent page.
struct Approve;

impl Opener for Approve {
    fn open(&self, url: &url::Url) -> Result<(), String> {
        let approval = reference_as::approve::Approval {
            url: url.to_string(),
            user: ("demo".into(), "demo".into()),
            servers: vec!["recorder".into()],
            exec: None,
        };
        tokio::spawn(async move { reference_as::approve::approve(&approval).await });
        Ok(())
    }
}

/// The reference AS with the recording upstream in its catalog, an engine
/// signed in to it, and a broker for that engine.
async fn broker_before(upstream: &str, dir: &std::path::Path) -> RunningBroker {
    let as_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = AsConfig::new(format!("http://{}", as_listener.local_addr().unwrap()));
    config.catalog = vec![CatalogEntry {
        id: "recorder".into(),
        name: "Recorder".into(),
        resource: upstream.to_string(),
        description: "records what it receives".into(),
    }];
    config.state_dir = Some(dir.join("as"));
    let issuer = config.issuer.clone();
    let state = Arc::new(reference_as::open_state(config).unwrap());
    tokio::spawn(reference_as::serve(
        state,
        as_listener,
        std::future::pending(),
    ));
    let engine = Arc::new(
        Engine::new(
            EngineConfig::new(dir.join("state.json")),
            HttpClient::new().unwrap(),
            Arc::new(SystemClock),
            Arc::new(MemoryStore::new()),
        )
        .unwrap(),
    );
    let timeout = Duration::from_secs(20);
    sign_in_via_loopback(engine.flows(), engine.clock(), timeout, |redirect_uri| {
        let request = LoginRequest {
            target: LoginTarget::Issuer(issuer),
            servers: vec![],
            client: None,
            redirect_uri,
            scope: None,
            timeout,
            account: None,
        };
        let engine = Arc::clone(&engine);
        async move { engine.login(&request, &Approve).await }
    })
    .await
    .unwrap()
    .unwrap();
    let config = BrokerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        endpoint_file: dir.join("run/endpoint.json"),
        keys_file: dir.join("keys.json"),
        audit_file: dir.join("audit.jsonl"),
        refresh_every: Duration::from_secs(3600),
    };
    passport_broker::start(config, engine, Arc::new(Approve))
        .await
        .unwrap()
}

/// The response head to `request`, sent raw, lowercased.
async fn raw_exchange(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the broker closed without an answer");
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&buf).to_lowercase()
}

fn has_header(head: &str, name: &str) -> bool {
    head.lines().any(|l| l.starts_with(&format!("{name}:")))
}

#[tokio::test]
async fn the_proxy_passes_no_hop_by_hop_header_either_way() {
    let (upstream, heads) = recording_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_before(&upstream, dir.path()).await;
    let key = passport_broker::endpoint::read(&dir.path().join("run/endpoint.json"))
        .unwrap()
        .key;
    let addr = broker.addr;
    let head = raw_exchange(
        addr,
        &format!(
            "GET /v1/mcp/recorder HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
             Connection: X-Down-Hop, keep-alive\r\nX-Down-Hop: 1\r\nKeep-Alive: timeout=9\r\n\
             Proxy-Connection: keep-alive\r\nTE: trailers\r\nMcp-Session-Id: s1\r\n\
             X-Down-End: kept\r\n\r\n"
        ),
    )
    .await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let received = heads.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{received:?}");
    let sent = &received[0];
    for hop in [
        "x-down-hop",
        "keep-alive",
        "proxy-connection",
        "te",
        "connection",
    ] {
        assert!(!has_header(sent, hop), "{hop} reached the upstream: {sent}");
    }
    assert!(has_header(sent, "x-down-end"), "{sent}");
    assert!(has_header(sent, "mcp-session-id"), "{sent}");
    assert!(
        !sent.contains(&key.to_lowercase()),
        "the client's key reached the upstream"
    );
    for hop in ["x-up-hop", "keep-alive", "proxy-connection"] {
        assert!(!has_header(&head, hop), "{hop} reached the client: {head}");
    }
    assert!(has_header(&head, "x-up-end"), "{head}");
    broker.shutdown().await;
}

/// The MCP headers a 2026-07-28 client sends on a POST (SEP-2243, SEP-2575).
const MCP_HEADERS: [(&str, &str); 6] = [
    ("MCP-Protocol-Version", "2026-07-28"),
    ("Mcp-Method", "tools/call"),
    ("Mcp-Name", "my-hyphenated-tool"),
    ("Mcp-Param-Region", "us-west1"),
    ("Mcp-Param-NonAscii", "=?base64?SGVsbG8sIOS4lueVjA==?="),
    ("Mcp-Session-Id", "Session-A1b2"),
];

/// An upstream MCP server that records each request head it receives, as
/// sent, and answers with every `mcp-*` header of the request echoed back.
async fn echoing_upstream() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let heads = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&heads);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = stream.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    let length: usize = head
                        .lines()
                        .filter_map(|l| l.split_once(':'))
                        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                        .map_or(0, |(_, v)| v.trim().parse().unwrap());
                    if buf.len() < end + 4 + length {
                        continue;
                    }
                    buf.drain(..end + 4 + length);
                    let echoed: String = head
                        .lines()
                        .filter(|l| l.to_lowercase().starts_with("mcp-"))
                        .map(|l| format!("{l}\r\n"))
                        .collect();
                    record.lock().unwrap().push(head);
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{echoed}\
                         Content-Length: 2\r\n\r\n{{}}"
                    );
                    if stream.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, heads)
}

/// The value of header `name` in a raw head, as written.
fn header_value<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

#[tokio::test]
async fn the_proxy_passes_the_mcp_headers_unchanged_both_ways() {
    let (upstream, heads) = echoing_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_before(&upstream, dir.path()).await;
    let key = passport_broker::endpoint::read(&dir.path().join("run/endpoint.json"))
        .unwrap()
        .key;
    let addr = broker.addr;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"my-hyphenated-tool","arguments":{"region":"us-west1","non_ascii":"Hello, 世界"}}}"#;
    let mcp: String = MCP_HEADERS
        .iter()
        .map(|(n, v)| format!("{n}: {v}\r\n"))
        .collect();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /v1/mcp/recorder HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
                 Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
                 {mcp}Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the broker closed without an answer");
        answer.extend_from_slice(&chunk[..n]);
    }
    let answer = String::from_utf8_lossy(&answer).to_string();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let received = heads.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{received:?}");
    for (name, value) in MCP_HEADERS {
        assert_eq!(
            header_value(&received[0], name),
            Some(value),
            "{name} upstream: {}",
            received[0]
        );
        assert_eq!(
            header_value(&answer, name),
            Some(value),
            "{name} back: {answer}"
        );
    }
    assert!(
        header_value(&received[0], "authorization").is_some_and(|v| !v.contains(&key)),
        "the upstream got the server's token, not the client's key"
    );
    broker.shutdown().await;
}
