//! Asking a running broker: `token` and `headers` go through it when one
//! runs, so a helper called on every connection costs one loopback request
//! and never a second refresher on the same rotating grant. `login`,
//! `add-servers`, `revoke` and `logout` go through its admin API, since the
//! broker holds the refresher lock and the grants.
//!
//! The documents are `passport_broker::admin_api`'s types, the broker's
//! own; the HTTP client is built with the core's proxy rule, so a request
//! to the broker (and the key it carries) never goes to an HTTP proxy.

use passport_broker::admin_api::{
    self, ErrorBody, LoggedOut, LoginBody, LoginLine, LoginResult, LogoutBody, Revoked, TokenAnswer,
};
use serde::de::DeserializeOwned;
use std::path::Path;

/// What asking the broker gave.
pub enum Asked {
    /// No broker is running (no endpoint file, or nothing listens).
    NoBroker,
    /// The broker answered with a token.
    Token(TokenAnswer),
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
pub enum AdminAnswer<T> {
    /// No broker is running (no endpoint file, or nothing listens).
    NoBroker,
    /// The result document.
    Done(T),
    /// An error `{code, message}`.
    Error {
        /// Stable code (the engine's, so exit codes stay the same).
        code: String,
        /// Message.
        message: String,
    },
}

/// The broker's error document as `(code, message)` (`forbidden` for an
/// empty 403).
fn error_of(status: reqwest::StatusCode, body: &[u8]) -> (String, String) {
    if let Ok(ErrorBody { error }) = serde_json::from_slice::<ErrorBody>(body) {
        return (error.code, error.message);
    }
    if status == reqwest::StatusCode::FORBIDDEN {
        return ("forbidden".into(), "the broker refused this request".into());
    }
    (
        "broker_error".into(),
        format!("the broker refused the request ({status})"),
    )
}

/// A client for the broker: the core's proxy rule (loopback is never
/// proxied), with an overall timeout when given.
pub fn http_client(timeout: Option<u64>) -> Option<reqwest::Client> {
    let mut builder = passport_core::http::client_builder();
    if let Some(secs) = timeout {
        builder = builder.timeout(std::time::Duration::from_secs(secs));
    }
    builder.build().ok()
}

/// The endpoint and a client for it; `None` when no broker is described.
fn connect(endpoint_file: &Path, timeout: Option<u64>) -> Option<(Endpoint, reqwest::Client)> {
    let endpoint = read_endpoint(endpoint_file)?;
    Some((endpoint, http_client(timeout)?))
}

fn unreachable<T>(e: &reqwest::Error) -> AdminAnswer<T> {
    AdminAnswer::Error {
        code: "broker_unreachable".into(),
        message: format!(
            "the broker did not answer: {}. Is it still running? See `mcp-passport serve`",
            describe(e)
        ),
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else {
        let mut text = e.to_string();
        if let Some(i) = text.find(" for url (") {
            text.truncate(i);
        }
        text
    }
}

fn not_understood<T>(what: &str) -> AdminAnswer<T> {
    AdminAnswer::Error {
        code: "broker_error".into(),
        message: format!(
            "the broker's answer to {what} was not understood; are the broker and this command the same version?"
        ),
    }
}

/// Posts `body` to the admin route `path` and reads the answer as `T`.
async fn admin<T: DeserializeOwned>(
    endpoint_file: &Path,
    path: &str,
    body: &impl serde::Serialize,
    what: &str,
) -> AdminAnswer<T> {
    let Some((Endpoint { port, key, .. }, client)) = connect(endpoint_file, Some(120)) else {
        return AdminAnswer::NoBroker;
    };
    let response = match client
        .post(format!("http://127.0.0.1:{port}{path}"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) if e.is_connect() => return AdminAnswer::NoBroker,
        Err(e) => return unreachable(&e),
    };
    let status = response.status();
    let bytes = match response.bytes().await {
        Ok(b) => b,
        Err(e) => return unreachable(&e),
    };
    if !status.is_success() {
        let (code, message) = error_of(status, &bytes);
        return AdminAnswer::Error { code, message };
    }
    match serde_json::from_slice(&bytes) {
        Ok(done) => AdminAnswer::Done(done),
        Err(_) => not_understood(what),
    }
}

/// Asks the broker to revoke `server`.
pub async fn admin_revoke(endpoint_file: &Path, server: &str) -> AdminAnswer<Revoked> {
    let path = admin_api::revoke_path(server);
    admin(
        endpoint_file,
        &path,
        &serde_json::json!({}),
        "the revocation",
    )
    .await
}

/// Asks the broker to sign out of `body.issuer` (every issuer when absent).
pub async fn admin_logout(endpoint_file: &Path, body: &LogoutBody) -> AdminAnswer<LoggedOut> {
    admin(endpoint_file, admin_api::LOGOUT_PATH, body, "the sign-out").await
}

/// Hands the broker an address the person pasted for its waiting sign-in.
pub async fn admin_paste(
    endpoint_file: &Path,
    pasted: &admin_api::Pasted,
) -> AdminAnswer<admin_api::PasteAccepted> {
    admin(
        endpoint_file,
        admin_api::PASTE_PATH,
        pasted,
        "the pasted address",
    )
    .await
}

/// Asks the broker to sign in: `on_show` gets each sign-in page's URL and
/// each device code as the broker sends them; the answer is each server's
/// outcome and the grants.
pub async fn admin_login(
    endpoint_file: &Path,
    body: &LoginBody,
    on_show: impl Fn(&LoginLine),
) -> AdminAnswer<LoginResult> {
    // No overall timeout: the sign-in waits for a person; the broker times it out.
    let Some((Endpoint { port, key, .. }, client)) = connect(endpoint_file, None) else {
        return AdminAnswer::NoBroker;
    };
    let mut response = match client
        .post(format!("http://127.0.0.1:{port}{}", admin_api::LOGIN_PATH))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) if e.is_connect() => return AdminAnswer::NoBroker,
        Err(e) => return unreachable(&e),
    };
    let status = response.status();
    if !status.is_success() {
        let bytes = response.bytes().await.unwrap_or_default();
        let (code, message) = error_of(status, &bytes);
        return AdminAnswer::Error { code, message };
    }
    let mut pending: Vec<u8> = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => pending.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => return unreachable(&e),
        }
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            match serde_json::from_slice::<LoginLine>(&line) {
                Ok(shown @ (LoginLine::Open(_) | LoginLine::Device(_))) => on_show(&shown),
                Ok(LoginLine::Report(result)) => return AdminAnswer::Done(result),
                Ok(LoginLine::Error(error)) => {
                    return AdminAnswer::Error {
                        code: error.code,
                        message: error.message,
                    };
                }
                Err(_) => return not_understood("the sign-in"),
            }
        }
    }
    AdminAnswer::Error {
        code: "broker_error".into(),
        message:
            "the broker stopped answering before the sign-in ended; see its log, then sign in again"
                .into(),
    }
}

/// Asks the broker described by `endpoint_file` for `server`'s token.
pub async fn ask_token(endpoint_file: &Path, server: &str) -> Asked {
    let Some((Endpoint { port, key, .. }, client)) = connect(endpoint_file, Some(30)) else {
        return Asked::NoBroker;
    };
    let response = match client
        .get(format!(
            "http://127.0.0.1:{port}{}",
            admin_api::token_path(server)
        ))
        .bearer_auth(key)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) if e.is_connect() => return Asked::NoBroker,
        Err(e) => {
            return Asked::Error {
                code: "broker_unreachable".into(),
                message: format!("the broker did not answer: {}", describe(&e)),
            };
        }
    };
    let status = response.status();
    let bytes = response.bytes().await.unwrap_or_default();
    if !status.is_success() {
        let (code, message) = error_of(status, &bytes);
        return Asked::Error { code, message };
    }
    match serde_json::from_slice::<TokenAnswer>(&bytes) {
        Ok(token) => Asked::Token(token),
        Err(_) => Asked::Error {
            code: "broker_error".into(),
            message: "the broker's token answer was not understood; are the broker and this command the same version?".into(),
        },
    }
}
