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

pub mod account;
pub mod atomic_file;
pub mod browser;
pub mod callback;
pub mod challenge;
pub mod client_assertion;
pub mod clock;
pub mod device;
pub mod discovery;
pub mod dpop;
pub mod engine;
pub mod error;
pub mod fault;
pub mod flows;
pub mod headless;
pub mod http;
pub mod id_jag;
pub mod lock;
pub mod loopback;
pub mod metadata;
pub mod model;
pub mod paste;
pub mod pkce;
pub mod providers;
pub mod registration;
pub mod scope;
pub mod secret;
pub mod state_file;
pub mod step_up;
pub mod store;
pub mod text;
pub mod tls_roots;
pub mod token;
pub mod url_policy;
