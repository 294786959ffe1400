//! The engine against the real reference AS and sample MCP servers on
//! loopback: sign-in, per-server tokens, adding and revoking servers,
//! refresh under load and under failure.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, dead_code)]

// Harness: demo stack, in-memory store, manual clock, a form-driving browser.
mod support;
// Sign-in, per-server tokens, add servers, revoke one, sign out.
mod grants;
// Refresh: storm, expiry, AS down, grant revoked at the AS.
mod refresh;
// RFC 8693 token exchange: every server's own token at once, revoked grants.
mod exchange;
// Several accounts at one issuer: labels, addresses, revoke and sign-out apart, old state.
mod accounts;
// SECURITY-CASES on the engine (9, 21, 23, 24, 26, 27).
mod security;
