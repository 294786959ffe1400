//! Integration tests of the reference AS and sample servers over real HTTP
//! on loopback, driving the sign-in and picker forms like a browser.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, dead_code)]

// The harness: demo stack + form-driving browser.
mod common;
// RFC 8628: device codes, the code page, polling answers.
mod device_flow;
// The Multi-Server global flow, picker and token shape.
mod global_flow;
// PKCE, code reuse, redirect and request validation.
mod authorization;
// Rotation, reuse detection, grace, narrowing, resource-restricted tokens.
mod refresh;
// RFC 8693: a grant's access token for one server's own token.
mod token_exchange;
// Revocation, introspection, the account page.
mod revocation;
// Per-server and multi-resource flows, CIMD and DCR.
mod standard_flows;
// Restart with the same state directory; sample servers' PRM and errors.
mod persistence_and_servers;
// The `approve` command that stands in for a person at the browser.
mod approve_command;
// The `server` command: one sample server trusting any issuer.
mod server_command;
// Enterprise-Managed Authorization: the IdP role, ID-JAGs, the JWT bearer grant.
mod idp;
