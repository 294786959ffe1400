//! Sample MCP servers that are OAuth resource servers.
//!
//! They exist so that MCP Passport (and anyone else) can try the
//! Multi-Server OAuth flow end to end against real MCP servers: each one
//! speaks MCP over Streamable HTTP (via `rmcp`), publishes RFC 9728
//! protected resource metadata, and accepts only JWT access tokens from the
//! one authorization server it trusts whose `aud` names it, by id (the
//! Multi-Server AS's array audience) or by resource URL (RFC 8707 ASes).
//!
//! ```no_run
//! # async fn run() -> Result<(), sample_servers::Error> {
//! use sample_servers::{SampleServer, ServerSpec, Trust};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(sample_servers::Error::Listener)?;
//! let trust = Trust { issuer: "http://127.0.0.1:9000".into(), introspection: None };
//! let server = SampleServer::serve(ServerSpec::for_id("github-mcp"), listener, trust).await?;
//! println!("MCP at {}", server.resource());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod auth;
mod data;
mod dpop;
mod error;
mod jwks;
mod middleware;
mod prm;
mod server;
mod spec;
mod tools;

pub use error::Error;
pub use server::SampleServer;
pub use spec::{ServerSpec, default_ids};

/// Which authorization server a sample server trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trust {
    /// The issuer identifier, compared exactly with metadata `issuer` and
    /// token `iss` (no slash normalization).
    pub issuer: String,
    /// Credentials for RFC 7662 introspection; with them, every token is
    /// also checked at the AS's `introspection_endpoint` (so revoked tokens
    /// stop working before they expire).
    pub introspection: Option<Introspection>,
}

/// A resource server's client credentials at the introspection endpoint
/// (sent with HTTP Basic authentication).
#[derive(Clone, PartialEq, Eq)]
pub struct Introspection {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
}

impl std::fmt::Debug for Introspection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspection")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}
