//! Asking a running broker: `token` and `headers` go through it when one
//! runs, so a helper called on every connection costs one loopback request
//! and never a second refresher on the same rotating grant. `login`,
//! `add-servers`, `revoke` and `logout` go through its admin API, since the
//! broker holds the refresher lock and the grants.

use std::path::Path;

/// The token the broker handed out.
pub struct BrokerToken {
    /// The access token.
    pub access_token: String,
    /// Its expiry (RFC 3339).
    pub expires_at: String,
    /// The server id.
    pub server: String,
}

/// What asking the broker gave.
pub enum Asked {
    /// No broker is running (no endpoint file, or nothing listens).
    NoBroker,
    /// The broker answered with a token.
    Token(BrokerToken),
    /// The broker answered with an error `{code, message}`.
    Error {
        /// Stable code.
        code: String,
        /// Message.
        message: String,
    },
}

pub use passport_broker::endpoint::Endpoint;

/// Reads the endpoint file; `None` when there is none or it is not valid.
pub fn read_endpoint(endpoint_file: &Path) -> Option<Endpoint> {
    passport_broker::endpoint::read(endpoint_file)
}

/// What the broker's admin API answered.
pub enum AdminAnswer {
    /// No broker is running (no endpoint file, or nothing listens).
    NoBroker,
    /// The result document.
    Done(serde_json::Value),
    /// An error `{code, message}`.
    Error {
        /// Stable code (the engine's, so exit codes stay the same).
        code: String,
        /// Message.
        message: String,
    },
}

/// The broker's error document as an answer (`forbidden` for an empty 403).
fn error_of(status: reqwest::StatusCode, body: &serde_json::Value) -> (String, String) {
    if status == reqwest::StatusCode::FORBIDDEN && body.is_null() {
        return ("forbidden".into(), "the broker refused this request".into());
    }
    (
        body["error"]["code"]
            .as_str()
            .unwrap_or("broker_error")
            .to_string(),
        body["error"]["message"]
            .as_str()
            .unwrap_or("the broker refused the request")
            .to_string(),
    )
}

/// The endpoint and a client for it; `None` when no broker is described.
fn connect(endpoint_file: &Path, timeout: Option<u64>) -> Option<(Endpoint, reqwest::Client)> {
    let endpoint = read_endpoint(endpoint_file)?;
    let mut builder = reqwest::Client::builder();
    if let Some(secs) = timeout {
        builder = builder.timeout(std::time::Duration::from_secs(secs));
    }
    Some((endpoint, builder.build().ok()?))
}

fn unreachable(e: reqwest::Error) -> AdminAnswer {
    AdminAnswer::Error {
        code: "broker_unreachable".into(),
        message: format!("the broker did not answer: {}", e.without_url()),
    }
}

/// Posts `body` to the admin route `path` (under `/v1/admin/`).
pub async fn admin(endpoint_file: &Path, path: &str, body: &serde_json::Value) -> AdminAnswer {
    let Some((Endpoint { port, key, .. }, client)) = connect(endpoint_file, Some(120)) else {
        return AdminAnswer::NoBroker;
    };
    let response = match client
        .post(format!("http://127.0.0.1:{port}/v1/admin/{path}"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) if e.is_connect() => return AdminAnswer::NoBroker,
        Err(e) => return unreachable(e),
    };
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if status.is_success() {
        return AdminAnswer::Done(body);
    }
    let (code, message) = error_of(status, &body);
    AdminAnswer::Error { code, message }
}

/// Asks the broker to sign in: `on_open` gets each sign-in page's URL as
/// the broker sends it; the answer is the `{"grants": [...]}` document.
pub async fn admin_login(
    endpoint_file: &Path,
    body: &serde_json::Value,
    on_open: impl Fn(&str),
) -> AdminAnswer {
    // No overall timeout: the sign-in waits for a person; the broker times it out.
    let Some((Endpoint { port, key, .. }, client)) = connect(endpoint_file, None) else {
        return AdminAnswer::NoBroker;
    };
    let mut response = match client
        .post(format!("http://127.0.0.1:{port}/v1/admin/login"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) if e.is_connect() => return AdminAnswer::NoBroker,
        Err(e) => return unreachable(e),
    };
    let status = response.status();
    if !status.is_success() {
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let (code, message) = error_of(status, &body);
        return AdminAnswer::Error { code, message };
    }
    let mut pending: Vec<u8> = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => pending.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => return unreachable(e),
        }
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let value: serde_json::Value = serde_json::from_slice(&line).unwrap_or_default();
            if let Some(url) = value["open"].as_str() {
                on_open(url);
            } else if value.get("grants").is_some() {
                return AdminAnswer::Done(value);
            } else if value.get("error").is_some() {
                let (code, message) = error_of(status, &value);
                return AdminAnswer::Error { code, message };
            }
        }
    }
    AdminAnswer::Error {
        code: "broker_error".into(),
        message: "the broker stopped answering before the sign-in ended".into(),
    }
}

/// Asks the broker described by `endpoint_file` for `server`'s token.
pub async fn ask_token(endpoint_file: &Path, server: &str) -> Asked {
    let Some((Endpoint { port, key, .. }, client)) = connect(endpoint_file, Some(30)) else {
        return Asked::NoBroker;
    };
    let encoded: String = url::form_urlencoded::byte_serialize(server.as_bytes()).collect();
    let response = match client
        .get(format!("http://127.0.0.1:{port}/v1/token/{encoded}"))
        .bearer_auth(key)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) if e.is_connect() => return Asked::NoBroker,
        Err(e) => {
            return Asked::Error {
                code: "broker_unreachable".into(),
                message: format!("the broker did not answer: {}", e.without_url()),
            };
        }
    };
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if status.is_success() {
        let field = |k: &str| body[k].as_str().unwrap_or_default().to_string();
        return Asked::Token(BrokerToken {
            access_token: field("access_token"),
            expires_at: field("expires_at"),
            server: field("server"),
        });
    }
    let (code, message) = error_of(status, &body);
    Asked::Error { code, message }
}
