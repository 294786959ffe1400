//! MCP Passport's engine.
//!
//! It signs a user in once per authorization server and keeps a fresh
//! access token for every MCP server the user granted: discovery (RFC 9728,
//! RFC 8414), client registration, the Multi-Server global flow, the
//! multi-resource flow and per-server MCP OAuth, callbacks, grants, refresh,
//! narrowing revocation and sign-out.
//!
//! It knows nothing of Tauri, the OS keyring or any UI: secrets go through
//! [`store::TokenStore`], time through [`clock::Clock`], HTTP through
//! [`http::HttpClient`], all passed in by the caller.

pub mod clock;
pub mod http;
pub mod metadata;
pub mod model;
pub mod secret;
pub mod store;
pub mod url_policy;
