//! `mcp-passport stdio <server>`: MCP over stdin/stdout on one side,
//! Streamable HTTP to the broker's proxy on the other (what `mcp-remote`
//! does for stdio-only clients such as Claude Desktop).
//!
//! The bridge speaks for its client, with that client's own key: `connect
//! claude-desktop` writes it into the entry's environment as
//! [`AUTHORIZATION_VAR`], so `disconnect` (which revokes the key) cuts the
//! bridge off like any other client. It never uses the CLI's admin key.
//! The broker puts a fresh token on every request, so long sessions
//! outlive any one token; when none runs, the bridge starts one.

use crate::cli::Cli;
use crate::commands::Failure;
use passport_broker::admin_api;
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, Transport};
use rmcp::{RoleClient, RoleServer};

/// The variable holding the client's `Authorization` value (`Bearer <key>`)
/// for the broker, as `connect` writes it into the client's entry.
pub const AUTHORIZATION_VAR: &str = "MCP_PASSPORT_AUTHORIZATION";

/// The client key from [`AUTHORIZATION_VAR`] (with or without `Bearer `).
fn client_key() -> Result<String, Failure> {
    let value = std::env::var(AUTHORIZATION_VAR).unwrap_or_default();
    let value = value.trim();
    let key = value.strip_prefix("Bearer ").unwrap_or(value).trim();
    if key.is_empty() {
        return Err(Failure::other(
            "no_client_key",
            format!(
                "the bridge has no client key: run `mcp-passport connect claude-desktop` (it writes the key into the client's entry as {AUTHORIZATION_VAR})"
            ),
        ));
    }
    Ok(key.to_string())
}

fn upstream_failure(e: &dyn std::fmt::Display) -> Failure {
    let text = e.to_string();
    if text.contains("Auth required") || text.contains("401") || text.contains("403") {
        return Failure::other(
            "client_key_refused",
            "the broker refused this client's key: the client was disconnected or is limited to other servers; run `mcp-passport connect claude-desktop` again",
        );
    }
    Failure::other(
        "upstream",
        format!("the broker's proxy failed: {text}; is the broker still running?"),
    )
}

/// Runs the bridge until either side closes.
pub async fn bridge(cli: &Cli, server: &str) -> Result<(), Failure> {
    let key = client_key()?;
    let paths = crate::context::paths_for(cli)?;
    // Held for the bridge's life: an idle broker started on demand stays.
    let _mark = crate::idle::mark_bridge(&paths.runtime)
        .await
        .map_err(|e| Failure::other("runtime", format!("cannot use the runtime directory: {e}")))?;
    if !crate::autostart::answering(&paths) {
        if crate::autostart::disabled() {
            return Err(Failure::other(
                "no_broker",
                "no broker is running: start it with `mcp-passport serve`",
            ));
        }
        crate::autostart::ensure_broker(cli).await?;
    }
    let endpoint =
        crate::broker_client::read_endpoint(&paths.endpoint_file()).ok_or_else(|| {
            Failure::other(
                "no_broker",
                "the broker's endpoint file is gone; start it with `mcp-passport serve`",
            )
        })?;
    let url = format!(
        "http://127.0.0.1:{}{}",
        endpoint.port,
        admin_api::proxy_path(server)
    );
    let http = crate::broker_client::http_client(None)
        .ok_or_else(|| Failure::other("http_client", "cannot build an HTTP client"))?;
    let mut local =
        AsyncRwTransport::<RoleServer, _, _>::new(tokio::io::stdin(), tokio::io::stdout());
    let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(key);
    let mut remote = StreamableHttpClientTransport::with_client(http, config);
    loop {
        tokio::select! {
            message = Transport::<RoleServer>::receive(&mut local) => match message {
                Some(m) => Transport::<RoleClient>::send(&mut remote, m).await.map_err(|e| upstream_failure(&e))?,
                None => break,
            },
            message = Transport::<RoleClient>::receive(&mut remote) => match message {
                Some(m) => Transport::<RoleServer>::send(&mut local, m).await.map_err(|e| Failure::other("stdout", e.to_string()))?,
                None => break,
            },
        }
    }
    let _ = Transport::<RoleClient>::close(&mut remote).await;
    Ok(())
}
