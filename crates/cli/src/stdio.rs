//! `mcp-passport stdio <server>`: MCP over stdin/stdout on one side,
//! Streamable HTTP to the server on the other, with the server's token and
//! no sign-in of its own (what `mcp-remote` does for stdio-only clients).
//!
//! Through a running broker the bridge talks to its proxy, which puts a
//! fresh token on every request, so long sessions outlive any one token;
//! without a broker it connects directly with the current token.

use crate::cli::Cli;
use crate::commands::Failure;
use crate::context::{Context, Paths};
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, Transport};
use rmcp::{RoleClient, RoleServer};

/// Runs the bridge until either side closes.
pub async fn bridge(cli: &Cli, server: &str) -> Result<(), Failure> {
    let paths = Paths::resolve(cli)?;
    let (url, auth) = match broker_route(&paths, server) {
        Some(route) => route,
        None => {
            let ctx = Context::open(cli, true)?;
            let grant = ctx.engine.grant_for(server).ok_or_else(|| {
                Failure::other(
                    "not_granted",
                    format!("{server} is not among your granted servers"),
                )
            })?;
            let url = grant
                .server(server)
                .and_then(|s| s.resource.clone())
                .ok_or_else(|| {
                    Failure::other("no_url", format!("the URL of {server} is not known"))
                })?;
            let token = ctx.engine.token(server).await?;
            (url, token.access_token.expose().to_string())
        }
    };
    let mut local =
        AsyncRwTransport::<RoleServer, _, _>::new(tokio::io::stdin(), tokio::io::stdout());
    let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(auth);
    let mut remote = StreamableHttpClientTransport::from_config(config);
    loop {
        tokio::select! {
            message = Transport::<RoleServer>::receive(&mut local) => match message {
                Some(m) => Transport::<RoleClient>::send(&mut remote, m).await.map_err(|e| Failure::other("upstream", e.to_string()))?,
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

/// The broker's proxy URL for `server` and the CLI's key, when a broker runs.
fn broker_route(paths: &Paths, server: &str) -> Option<(String, String)> {
    let endpoint = crate::broker_client::read_endpoint(&paths.endpoint_file())?;
    std::net::TcpStream::connect(("127.0.0.1", endpoint.port)).ok()?;
    let encoded: String = url::form_urlencoded::byte_serialize(server.as_bytes()).collect();
    Some((
        format!("http://127.0.0.1:{}/v1/mcp/{encoded}", endpoint.port),
        endpoint.key,
    ))
}
