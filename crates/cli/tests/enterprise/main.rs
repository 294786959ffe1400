//! Sign in with your organization (Enterprise-Managed Authorization,
//! SEP-990) end to end, on the demo with its IdP (`DemoConfig { idp: true }`):
//! `mcp-passport login --idp` opens one sign-in at the IdP (a person at the
//! browser, played here over real HTTP through the IdP's own sign-in form),
//! then gets a token for each of the three sample servers by an ID-JAG and
//! the JWT bearer grant, with no visit to the AS's authorization page. The
//! IdP refresh token is in the real keyring and nothing secret is on disk;
//! `status` names the IdP and each server's expiry; the broker's proxy
//! reaches each server (its first tokens by the IdP refresh token, as no ID
//! token is ever kept on disk); revoking one server drops it alone; and
//! expired tokens come back by new ID-JAGs with no browser. A server the
//! IdP's policy refuses fails alone, with a message that says what to do.
//!
//! Needs the real keyring: run under scripts/desktop-session.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../support/mod.rs"]
mod support;

// The demo with its IdP, the person at the IdP's form, login, tools, MCP calls.
mod harness;
// One IdP sign-in, renewal, revocation; servers that fail alone.
mod sign_in;
// Inside a running broker; step-up through its proxy.
mod broker;
