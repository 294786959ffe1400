//! The broker's local endpoint over a real loopback connection, as any
//! local program can reach it: arbitrary method, path, `Host`, key, other
//! headers and body, parsed by its HTTP server and answered by the guard,
//! the token route, the admin API and the router. Whatever arrives, the
//! answer comes without a 5xx or a hang, never carries an
//! `Access-Control-Allow-*` header (SECURITY-CASES 32), and a request the
//! guard must refuse (28-31) gets 403 with an empty body, or 401.
#![no_main]

#[path = "common/broker.rs"]
mod broker;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::io::{Read as _, Write as _};
use std::sync::OnceLock;
use std::time::Duration;

#[derive(Arbitrary, Debug)]
struct Input {
    method: u8,
    route: u8,
    path: String,
    host: u8,
    raw_host: Vec<u8>,
    key: u8,
    raw_key: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

const METHODS: [&str; 8] = [
    "GET", "POST", "DELETE", "OPTIONS", "PUT", "HEAD", "PATCH", "GET",
];
const ROUTES: [&str; 7] = [
    "/v1/token/",
    "/v1/mcp/",
    "/v1/servers",
    "/v1/admin/",
    "/",
    "/v1/token/github-mcp",
    "/v1/",
];

fn broker() -> &'static broker::Broker {
    static BROKER: OnceLock<broker::Broker> = OnceLock::new();
    BROKER.get_or_init(broker::start)
}

/// A header value as the server will see it: no surrounding blanks.
fn trimmed(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &value[start..end.max(start)]
}

fuzz_target!(|input: Input| {
    let b = broker();
    let own = b.hosts();
    let target = format!(
        "{}{}",
        ROUTES[usize::from(input.route) % ROUTES.len()],
        input.path
    );
    if target.parse::<http::uri::PathAndQuery>().is_err() || !target.starts_with('/') {
        return;
    }
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    match input.host % 4 {
        0 | 1 => headers.push((
            "host".into(),
            own[usize::from(input.host % 2)].clone().into_bytes(),
        )),
        2 => headers.push(("host".into(), trimmed(&input.raw_host).to_vec())),
        _ => {}
    }
    match input.key % 4 {
        0 => headers.push((
            "authorization".into(),
            format!("Bearer {}", b.key).into_bytes(),
        )),
        1 => headers.push((
            "authorization".into(),
            format!("Bearer {}", input.raw_key).into_bytes(),
        )),
        2 => headers.push(("authorization".into(), input.raw_key.clone().into_bytes())),
        _ => {}
    }
    for (name, value) in &input.headers {
        headers.push((name.to_ascii_lowercase(), trimmed(value).to_vec()));
    }
    // Only headers the server can read as such: token names, no line breaks or NUL.
    let valid = |(name, value): &(String, Vec<u8>)| {
        http::HeaderName::from_bytes(name.as_bytes()).is_ok()
            && http::HeaderValue::from_bytes(value).is_ok()
            && !name.is_empty()
    };
    if !headers.iter().all(valid) {
        return;
    }

    let foreign = headers
        .iter()
        .any(|(name, _)| matches!(name.as_str(), "origin" | "x-forwarded-for" | "forwarded"));
    let hosts: Vec<&Vec<u8>> = headers
        .iter()
        .filter(|(n, _)| n == "host")
        .map(|(_, v)| v)
        .collect();
    let host_ok = hosts.len() == 1 && own.iter().any(|h| h.as_bytes() == hosts[0].as_slice());

    let mut request = format!(
        "{} {target} HTTP/1.1\r\n",
        METHODS[usize::from(input.method) % 8]
    )
    .into_bytes();
    for (name, value) in &headers {
        request.extend_from_slice(name.as_bytes());
        request.extend_from_slice(b": ");
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            input.body.len()
        )
        .as_bytes(),
    );
    request.extend_from_slice(&input.body);

    let mut stream = std::net::TcpStream::connect(("127.0.0.1", b.port())).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    if stream.write_all(&request).is_err() {
        return;
    }
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return, // closed without an answer: a request the server could not parse
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("no answer within 5 s: {e}"),
        }
    };
    let head = String::from_utf8_lossy(&answer[..head_end]).to_ascii_lowercase();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    assert!(
        !head.contains("\r\naccess-control-"),
        "CORS header in {head}"
    );
    assert!(status < 500, "server error {status} for {target}");
    if status == 400 {
        // Refused as malformed (by the HTTP layer before anything ran, or a
        // server id that does not decode): nothing was served.
        return;
    }
    if foreign || !host_ok {
        assert_eq!(status, 403, "{target}");
        // An empty body: said by its length, or nothing before the connection closes.
        if let Some(length) = head.split("\r\ncontent-length:").nth(1) {
            assert_eq!(
                length.split("\r\n").next().map(str::trim),
                Some("0"),
                "{head}"
            );
        } else if head.contains("\r\nconnection: close") {
            let mut rest = answer.split_off(head_end + 4);
            if stream.read_to_end(&mut rest).is_ok() {
                assert!(
                    rest.is_empty() || rest == b"0\r\n\r\n",
                    "a refusal with a body: {head}"
                );
            }
        }
    } else {
        let live = headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|k| k.trim() == b.key);
        if !live {
            assert_eq!(status, 401, "{target}");
        }
    }
});
