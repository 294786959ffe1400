//! `login`, `add-servers`, `revoke` and `logout` while a broker runs. The
//! broker holds the refresher lock and the grants, so these commands ask
//! it (its admin API, with the CLI's key from the endpoint file) instead of
//! waiting for the lock; with no broker running they return `None` and the
//! command runs here. Errors keep the engine's codes, so exit codes are
//! the same either way.

use crate::broker_client::{self, AdminAnswer};
use crate::cli::{Cli, SignInOptions};
use crate::commands::Failure;
use crate::context::Paths;
use passport_core::engine::LoginTarget;
use passport_core::model::Grant;
use serde_json::{Value, json};

fn answer(answer: AdminAnswer) -> Option<Result<Value, Failure>> {
    match answer {
        AdminAnswer::NoBroker => None,
        AdminAnswer::Done(value) => Some(Ok(value)),
        AdminAnswer::Error { code, message } => Some(Err(Failure::Remote { code, message })),
    }
}

/// Signs in through the running broker; `None` when none runs.
pub async fn login(
    cli: &Cli,
    target: &LoginTarget,
    servers: &[String],
    options: &SignInOptions,
) -> Option<Result<Vec<Grant>, Failure>> {
    let paths = match Paths::resolve(cli) {
        Ok(p) => p,
        Err(e) => return Some(Err(e)),
    };
    let target = match target {
        LoginTarget::Issuer(issuer) => json!({"issuer": issuer}),
        LoginTarget::Servers(urls) => json!({"servers": urls}),
    };
    let open = if options.headless_authorize {
        "headless"
    } else if options.no_browser {
        "print"
    } else {
        "browser"
    };
    let body = json!({
        "target": target, "servers": servers, "client_id": options.client_id,
        "client_secret": options.client_secret, "timeout_secs": options.timeout, "open": open,
    });
    let asked = broker_client::admin_login(&paths.endpoint_file(), &body, |url| match open {
        "print" => eprintln!("Open this URL in your browser to sign in:\n  {url}"),
        "browser" => eprintln!(
            "Opening your browser to sign in (through the running broker). If it does not open, visit:\n  {url}"
        ),
        _ => {}
    })
    .await;
    let done = answer(asked)?;
    Some(done.and_then(|mut value| {
        serde_json::from_value(value["grants"].take()).map_err(|_| {
            Failure::other(
                "broker_error",
                "the broker's answer to the sign-in was not understood",
            )
        })
    }))
}

/// What revoking one server did: `(outcome, reason)`.
pub type Revoked = (String, Option<String>);

/// Revokes `server` through the running broker; `None` when none runs.
pub async fn revoke(cli: &Cli, server: &str) -> Option<Result<Revoked, Failure>> {
    let paths = match Paths::resolve(cli) {
        Ok(p) => p,
        Err(e) => return Some(Err(e)),
    };
    let encoded: String = url::form_urlencoded::byte_serialize(server.as_bytes()).collect();
    let asked = broker_client::admin(
        &paths.endpoint_file(),
        &format!("revoke/{encoded}"),
        &json!({}),
    )
    .await;
    let done = answer(asked)?;
    Some(done.map(|value| {
        (
            value["outcome"].as_str().unwrap_or_default().to_string(),
            value["reason"].as_str().map(str::to_string),
        )
    }))
}

/// Signs out through the running broker; `None` when none runs.
pub async fn logout(cli: &Cli, issuer: Option<&str>) -> Option<Result<u64, Failure>> {
    let paths = match Paths::resolve(cli) {
        Ok(p) => p,
        Err(e) => return Some(Err(e)),
    };
    let asked =
        broker_client::admin(&paths.endpoint_file(), "logout", &json!({"issuer": issuer})).await;
    let done = answer(asked)?;
    Some(done.map(|value| value["signed_out"].as_u64().unwrap_or_default()))
}
