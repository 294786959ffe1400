//! `mcp-passport check`: "does my server work?" It connects as an MCP
//! client over Streamable HTTP with the server's token, signing in first
//! when there is no grant, and again with a wider scope when the server
//! answers 401 or 403 `insufficient_scope` (at most three sign-ins). A
//! 403 is recorded on the server as the broker's proxy records it (step-up),
//! so a scope the authorization server will not grant stops the loop.

use crate::cli::SignInOptions;
use crate::commands::{Failure, sign_in_with};
use passport_core::engine::{Engine, LoginTarget};
use passport_core::error::EngineError;
use passport_core::step_up::StepUpState;
use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::{
    AuthRequiredError, InsufficientScopeError, StreamableHttpClientTransportConfig,
};
use serde_json::{Value, json};
use std::sync::Arc;

const MAX_SIGN_INS: usize = 3;

enum Outcome {
    Done(Value),
    NeedsSignIn,
    NeedsScope(Option<String>),
}

/// Runs the check and prints what it found.
pub async fn check(
    engine: &Arc<Engine>,
    url: &str,
    call: Option<&str>,
    args: Option<&str>,
    options: &SignInOptions,
    json: bool,
) -> Result<(), Failure> {
    let arguments = match args {
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Some(map),
            _ => {
                return Err(Failure::other(
                    "bad_arguments",
                    "--args must be a JSON object, for example '{\"q\":\"x\"}'",
                ));
            }
        },
        None => None,
    };
    let mut extra_scope: Option<String> = None;
    let mut sign_ins = 0;
    loop {
        let token = match engine.token(url).await {
            Ok(t) => t,
            Err(EngineError::NotGranted(_) | EngineError::SignInNeeded { .. })
                if sign_ins < MAX_SIGN_INS =>
            {
                sign_ins += 1;
                sign_in_with(
                    engine,
                    LoginTarget::Servers(vec![url.to_string()]),
                    Vec::new(),
                    options,
                    extra_scope.clone(),
                )
                .await?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        // A DPoP-bound token goes through a forwarder that signs each request.
        let forwarder = if engine.dpop_bound(url) {
            Some(
                crate::dpop_forward::start(Arc::clone(engine), url, token.access_token.expose())
                    .await
                    .map_err(|e| Failure::other("mcp_failed", e))?,
            )
        } else {
            None
        };
        let session_url = forwarder.as_ref().map_or(url, |f| f.url.as_str());
        let outcome = session(
            session_url,
            token.access_token.expose(),
            call,
            arguments.clone(),
        )
        .await?;
        drop(forwarder);
        if let Outcome::NeedsScope(Some(asked)) = &outcome
            && let Some(notice) = engine.record_insufficient_scope(url, asked)?
        {
            if notice.step_up.state == StepUpState::Refused {
                return Err(Failure::other("scope_not_granted", notice.message));
            }
            eprintln!("{}", notice.message);
        }
        match outcome {
            Outcome::Done(report) => {
                if json {
                    println!("{report}");
                } else {
                    print_report(&report);
                }
                return Ok(());
            }
            _ if sign_ins >= MAX_SIGN_INS => {
                return Err(Failure::other(
                    "auth_failed",
                    format!("{url} still refuses the token after {MAX_SIGN_INS} sign-ins"),
                ));
            }
            Outcome::NeedsScope(scope) => {
                extra_scope =
                    passport_core::scope::union([extra_scope.as_deref(), scope.as_deref()]);
                sign_ins += 1;
                sign_in_with(
                    engine,
                    LoginTarget::Servers(vec![url.to_string()]),
                    Vec::new(),
                    options,
                    extra_scope.clone(),
                )
                .await?;
            }
            Outcome::NeedsSignIn => {
                sign_ins += 1;
                sign_in_with(
                    engine,
                    LoginTarget::Servers(vec![url.to_string()]),
                    Vec::new(),
                    options,
                    extra_scope.clone(),
                )
                .await?;
            }
        }
    }
}

/// Looks through an error's sources for the transport's 401/403 answers.
fn auth_outcome(error: &(dyn std::error::Error + 'static)) -> Option<Outcome> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(s) = e.downcast_ref::<InsufficientScopeError>() {
            let scope = s.required_scope.clone().or_else(|| {
                passport_core::discovery::parse_www_authenticate(&s.www_authenticate_header)
                    .and_then(|c| c.scope)
            });
            return Some(Outcome::NeedsScope(scope));
        }
        if e.downcast_ref::<AuthRequiredError>().is_some() {
            return Some(Outcome::NeedsSignIn);
        }
        current = e.source();
    }
    None
}

async fn session(
    url: &str,
    token: &str,
    call: Option<&str>,
    arguments: Option<serde_json::Map<String, Value>>,
) -> Result<Outcome, Failure> {
    let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(token);
    // The core's proxy rule: a server on this machine is reached directly.
    let http = passport_core::http::client_builder()
        .build()
        .map_err(|e| Failure::other("http_client", format!("cannot build an HTTP client: {e}")))?;
    let client = match ClientConfig::default()
        .serve(StreamableHttpClientTransport::with_client(http, config))
        .await
    {
        Ok(c) => c,
        Err(e) => {
            return auth_outcome(&e)
                .ok_or_else(|| Failure::other("mcp_failed", format!("initialize failed: {e}")));
        }
    };
    let server = client
        .peer_info()
        .and_then(|i| i.server_info.as_ref().map(|s| s.name.clone()))
        .unwrap_or_default();
    let tools = match client.list_all_tools().await {
        Ok(t) => t,
        Err(e) => {
            return auth_outcome(&e)
                .ok_or_else(|| Failure::other("mcp_failed", format!("tools/list failed: {e}")));
        }
    };
    let names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    let mut report = json!({"server": server, "url": url, "tools": names});
    if let Some(name) = call {
        let mut params = CallToolRequestParams::new(name.to_string());
        if let Some(map) = arguments {
            params = params.with_arguments(map);
        }
        match client.call_tool(params).await {
            Ok(result) => {
                let text: String = result
                    .content
                    .iter()
                    .filter_map(|c| c.as_text())
                    .map(|t| t.text.clone())
                    .collect();
                report["call"] = json!({"tool": name, "is_error": result.is_error.unwrap_or(false), "text": text});
            }
            Err(e) => {
                return auth_outcome(&e).ok_or_else(|| {
                    Failure::other("mcp_failed", format!("tools/call {name} failed: {e}"))
                });
            }
        }
    }
    let _ = client.cancel().await;
    Ok(Outcome::Done(report))
}

fn print_report(report: &Value) {
    println!(
        "Connected to {} at {}",
        report["server"].as_str().unwrap_or("?"),
        report["url"].as_str().unwrap_or("?")
    );
    let tools: Vec<&str> = report["tools"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    println!("Tools ({}): {}", tools.len(), tools.join(", "));
    if let Some(call) = report.get("call") {
        println!(
            "{} -> {}",
            call["tool"].as_str().unwrap_or("?"),
            call["text"].as_str().unwrap_or("")
        );
    }
}
