//! The broker's guard (SECURITY-CASES 28-31), called in-process with
//! arbitrary headers and compared with its rules: `Origin`,
//! `X-Forwarded-For` or `Forwarded` -> forbidden; anything but exactly one
//! of the broker's own `Host` values -> forbidden; otherwise the caller is
//! let in exactly when `Authorization: Bearer <key>` names a live key.
#![no_main]

#[path = "common/broker.rs"]
mod broker;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use passport_broker::guard::{Refusal, check};
use std::sync::OnceLock;

#[derive(Arbitrary, Debug)]
struct Input {
    host: u8,
    raw_host: Vec<u8>,
    key: u8,
    raw_key: String,
    headers: Vec<(String, Vec<u8>)>,
}

fn broker() -> &'static broker::Broker {
    static BROKER: OnceLock<broker::Broker> = OnceLock::new();
    BROKER.get_or_init(broker::start)
}

fuzz_target!(|input: Input| {
    let b = broker();
    let own = b.hosts();
    let mut headers = http::HeaderMap::new();
    match input.host % 4 {
        0 | 1 => {
            let host = &own[usize::from(input.host % 2)];
            headers.insert(
                http::header::HOST,
                http::HeaderValue::from_str(host).expect("host"),
            );
        }
        2 => {
            if let Ok(value) = http::HeaderValue::from_bytes(&input.raw_host) {
                headers.insert(http::header::HOST, value);
            }
        }
        _ => {}
    }
    let authorization = match input.key % 4 {
        0 => Some(format!("Bearer {}", b.key)),
        1 => Some(format!("Bearer {}", input.raw_key)),
        2 => Some(input.raw_key.clone()),
        _ => None,
    };
    if let Some(value) = authorization.and_then(|v| http::HeaderValue::from_str(&v).ok()) {
        headers.insert(http::header::AUTHORIZATION, value);
    }
    for (name, value) in &input.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }

    let foreign = ["origin", "x-forwarded-for", "forwarded"]
        .iter()
        .any(|name| headers.contains_key(*name));
    let hosts: Vec<_> = headers.get_all(http::header::HOST).iter().collect();
    let host_ok = hosts.len() == 1 && own.iter().any(|h| h.as_bytes() == hosts[0].as_bytes());
    let presented = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);

    match check(&b.running.state, &headers) {
        Err(Refusal::Forbidden) => assert!(foreign || !host_ok),
        Err(Refusal::Unauthorized) => {
            assert!(!foreign && host_ok);
            assert_ne!(presented, Some(b.key.as_str()));
        }
        Ok(key) => {
            assert!(!foreign && host_ok);
            // The only live key is the CLI's.
            assert_eq!(presented, Some(b.key.as_str()));
            assert!(!key.revoked);
        }
    }
});
