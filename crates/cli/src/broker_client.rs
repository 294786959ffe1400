//! Asking a running broker: `token` and `headers` go through it when one
//! runs, so a helper called on every connection costs one loopback request
//! and never a second refresher on the same rotating grant.

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

/// What a running broker's endpoint file says.
pub struct Endpoint {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The CLI's key.
    pub key: String,
}

/// Reads the endpoint file; `None` when there is none or it is not valid.
pub fn read_endpoint(endpoint_file: &Path) -> Option<Endpoint> {
    let text = std::fs::read_to_string(endpoint_file).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let port = u16::try_from(value["port"].as_u64()?).ok()?;
    Some(Endpoint {
        port,
        key: value["key"].as_str()?.to_string(),
    })
}

/// Asks the broker described by `endpoint_file` for `server`'s token.
pub async fn ask_token(endpoint_file: &Path, server: &str) -> Asked {
    let Some(Endpoint { port, key }) = read_endpoint(endpoint_file) else {
        return Asked::NoBroker;
    };
    let Ok(client) = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
    else {
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
    if status == reqwest::StatusCode::FORBIDDEN && body.is_null() {
        return Asked::Error {
            code: "forbidden".into(),
            message: "the broker refused this request".into(),
        };
    }
    Asked::Error {
        code: body["error"]["code"]
            .as_str()
            .unwrap_or("broker_error")
            .to_string(),
        message: body["error"]["message"]
            .as_str()
            .unwrap_or("the broker refused the request")
            .to_string(),
    }
}
