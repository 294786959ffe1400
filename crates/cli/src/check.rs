//! `mcp-passport check`: "does my server work?" It connects as an MCP
//! client over Streamable HTTP ([`crate::mcp_client`]: MCP 2026-07-28, or
//! the initialize handshake with older servers) with the server's token,
//! or with none when there is no grant; when the server answers 401 it signs
//! in (the challenge's `scope` is asked for) and again with a wider scope
//! when it answers 403 `insufficient_scope` (at most three sign-ins). A
//! 403 is recorded on the server as the broker's proxy records it (step-up),
//! so a scope the authorization server will not grant stops the loop.

use crate::cli::SignInOptions;
use crate::commands::{Failure, sign_in_with};
use crate::mcp_client::{self, ConnectError};
use passport_core::engine::{Engine, LoginTarget};
use passport_core::error::EngineError;
use passport_core::step_up::StepUpState;
use rmcp::model::{CallToolRequestParams, GetPromptRequestParams, ReadResourceRequestParams};
use rmcp::service::ClientInitializeError;
use rmcp::transport::streamable_http_client::{AuthRequiredError, InsufficientScopeError};
use serde_json::{Value, json};
use std::sync::Arc;

const MAX_SIGN_INS: usize = 3;

enum Outcome {
    Done(Value),
    NeedsSignIn,
    NeedsScope(Option<String>),
}

/// What the check asks of the server beyond listing what it offers.
pub struct Asks<'a> {
    /// A tool to call.
    pub call: Option<&'a str>,
    /// Its arguments, a JSON object.
    pub args: Option<&'a str>,
    /// A resource to read (its URI).
    pub read: Option<&'a str>,
    /// A prompt to get (its name).
    pub prompt: Option<&'a str>,
}

/// Runs the check and prints what it found.
pub async fn check(
    engine: &Arc<Engine>,
    url: &str,
    asks: &Asks<'_>,
    options: &SignInOptions,
    json: bool,
) -> Result<(), Failure> {
    let arguments = match asks.args {
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
        // No grant yet: the server is asked without a token, so a server
        // that needs none is checked as it is, and one that does says in its
        // 401 which scope to sign in with.
        let token = match engine.token(url).await {
            Ok(t) => Some(t),
            Err(EngineError::NotGranted(_) | EngineError::SignInNeeded { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        // A DPoP-bound token goes through a forwarder that signs each request.
        let forwarder = match &token {
            Some(t) if engine.dpop_bound(url) => Some(
                crate::dpop_forward::start(Arc::clone(engine), url, t.access_token.expose())
                    .await
                    .map_err(|e| Failure::other("mcp_failed", e))?,
            ),
            _ => None,
        };
        let session_url = forwarder.as_ref().map_or(url, |f| f.url.as_str());
        let bearer = token.as_ref().map(|t| t.access_token.expose());
        let outcome = session(session_url, bearer, asks, arguments.clone()).await?;
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

/// The 401/403 that stopped a session from opening (the discover or
/// initialize exchange, or the legacy handshake after it).
fn refusal(error: &ClientInitializeError) -> Option<Outcome> {
    if !mcp_client::refused(error) {
        return None;
    }
    if let Some(outcome) = auth_outcome(error) {
        return Some(outcome);
    }
    let challenge = error
        .auth_challenge()
        .and_then(passport_core::discovery::parse_www_authenticate);
    Some(match challenge {
        Some(c) if c.error.as_deref() == Some("insufficient_scope") => Outcome::NeedsScope(c.scope),
        _ => Outcome::NeedsSignIn,
    })
}

async fn session(
    url: &str,
    token: Option<&str>,
    asks: &Asks<'_>,
    arguments: Option<serde_json::Map<String, Value>>,
) -> Result<Outcome, Failure> {
    let client = match mcp_client::connect(url, token).await {
        Ok(c) => c,
        Err(ConnectError::Http(e)) => {
            return Err(Failure::other(
                "http_client",
                format!("cannot build an HTTP client: {e}"),
            ));
        }
        Err(ConnectError::Init(e)) => {
            return refusal(&e).ok_or_else(|| {
                Failure::other("mcp_failed", format!("connecting to {url} failed: {e}"))
            });
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
    let capabilities = client.peer_info().map(|i| i.capabilities.clone());
    if capabilities.as_ref().is_some_and(|c| c.resources.is_some()) {
        match client.list_all_resources().await {
            Ok(list) => {
                report["resources"] = json!(list.iter().map(|r| r.uri.clone()).collect::<Vec<_>>());
            }
            Err(e) => {
                return auth_outcome(&e).ok_or_else(|| {
                    Failure::other("mcp_failed", format!("resources/list failed: {e}"))
                });
            }
        }
    }
    if capabilities.as_ref().is_some_and(|c| c.prompts.is_some()) {
        match client.list_all_prompts().await {
            Ok(list) => {
                report["prompts"] = json!(list.iter().map(|p| p.name.clone()).collect::<Vec<_>>());
            }
            Err(e) => {
                return auth_outcome(&e).ok_or_else(|| {
                    Failure::other("mcp_failed", format!("prompts/list failed: {e}"))
                });
            }
        }
    }
    if let Some(name) = asks.call {
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
    if let Some(uri) = asks.read {
        match client
            .read_resource(ReadResourceRequestParams::new(uri))
            .await
        {
            Ok(result) => report["read"] = json!({"uri": uri, "contents": result.contents.len()}),
            Err(e) => {
                return auth_outcome(&e).ok_or_else(|| {
                    Failure::other("mcp_failed", format!("resources/read {uri} failed: {e}"))
                });
            }
        }
    }
    if let Some(name) = asks.prompt {
        match client.get_prompt(GetPromptRequestParams::new(name)).await {
            Ok(result) => {
                report["prompt"] = json!({"name": name, "messages": result.messages.len()});
            }
            Err(e) => {
                return auth_outcome(&e).ok_or_else(|| {
                    Failure::other("mcp_failed", format!("prompts/get {name} failed: {e}"))
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
    for (key, title) in [("resources", "Resources"), ("prompts", "Prompts")] {
        if let Some(list) = report.get(key).and_then(Value::as_array) {
            let names: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
            println!("{title} ({}): {}", names.len(), names.join(", "));
        }
    }
    if let Some(read) = report.get("read") {
        println!(
            "{} -> {} item(s)",
            read["uri"].as_str().unwrap_or("?"),
            read["contents"]
        );
    }
    if let Some(prompt) = report.get("prompt") {
        println!(
            "prompt {} -> {} message(s)",
            prompt["name"].as_str().unwrap_or("?"),
            prompt["messages"]
        );
    }
    if let Some(call) = report.get("call") {
        println!(
            "{} -> {}",
            call["tool"].as_str().unwrap_or("?"),
            call["text"].as_str().unwrap_or("")
        );
    }
}
