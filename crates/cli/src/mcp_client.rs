//! One MCP client session over Streamable HTTP, as `check` opens it.
//!
//! MCP 2026-07-28 first: `server/discover`, then every request carries its
//! `_meta` (protocol version, client capabilities and identity), the
//! `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers, and
//! `Mcp-Param-*` headers for the arguments a tool's schema marks with
//! `x-mcp-header`; a tool whose marks are malformed is left out of the list
//! and the others are kept (rmcp's transport does the wire part). A server
//! of an earlier revision answers `server/discover` with an error; the
//! session then opens with the `initialize` handshake instead. A 401 or 403
//! is never retried here: it goes back to the caller, who signs in.

use rmcp::RoleClient;
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, ProtocolVersion};
use rmcp::service::{ClientInitializeError, ClientLifecycleMode, ClientServiceExt, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

/// An open session.
pub type Session = RunningService<RoleClient, ClientConfig>;

/// The revision asked for first.
pub const PREFERRED: ProtocolVersion = ProtocolVersion::V_2026_07_28;
/// The revision offered to a server that has no `server/discover`.
pub const LEGACY: ProtocolVersion = ProtocolVersion::V_2025_11_25;

/// Why no session opened.
#[derive(Debug)]
pub enum ConnectError {
    /// No HTTP client could be built.
    Http(String),
    /// The server refused or failed the opening exchange.
    Init(Box<ClientInitializeError>),
}

impl From<ClientInitializeError> for ConnectError {
    fn from(e: ClientInitializeError) -> Self {
        Self::Init(Box::new(e))
    }
}

fn client(version: ProtocolVersion) -> ClientConfig {
    let mut config = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("mcp-passport", env!("CARGO_PKG_VERSION")),
    );
    config.protocol_version = version;
    config
}

fn transport(
    url: &str,
    token: Option<&str>,
) -> Result<StreamableHttpClientTransport<reqwest::Client>, ConnectError> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url);
    if let Some(token) = token {
        config = config.auth_header(token);
    }
    // The core's proxy rule: a server on this machine is reached directly.
    let http = passport_core::http::client_builder()
        .build()
        .map_err(|e| ConnectError::Http(e.to_string()))?;
    Ok(StreamableHttpClientTransport::with_client(http, config))
}

/// Whether an opening failure is the server asking for (more) authorization.
pub fn refused(error: &ClientInitializeError) -> bool {
    error.is_authorization_required() || error.auth_challenge().is_some()
}

/// Opens a session with `url`, with `token` as its bearer token when given.
pub async fn connect(url: &str, token: Option<&str>) -> Result<Session, ConnectError> {
    // Not `Auto`: its fallback after a fixed wait would race a slow answer
    // to `server/discover` on a busy machine.
    let modern = ClientLifecycleMode::Discover {
        preferred_versions: vec![PREFERRED],
    };
    let first = match client(PREFERRED)
        .serve_with_lifecycle(transport(url, token)?, modern)
        .await
    {
        Ok(session) => return Ok(session),
        Err(e) if refused(&e) => return Err(e.into()),
        Err(e) => e,
    };
    // A server of an earlier revision answers `server/discover` with a
    // JSON-RPC error, or fails it at the HTTP level (no session yet): open a
    // new connection with the initialize handshake.
    tracing::debug!(error = %first, "server/discover failed; trying the initialize handshake");
    Ok(client(LEGACY)
        .serve_with_lifecycle(transport(url, token)?, ClientLifecycleMode::Initialize)
        .await?)
}
