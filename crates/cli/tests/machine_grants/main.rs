//! Machine grants end to end, with the real `mcp-passport` binary, against
//! `oidc-provider` (a certified OpenID provider from npm, started by
//! `tests/oidc-provider/server.mjs`): two sample MCP servers trust its JWKS.
//!
//! The provider runs with `--client-credentials`: its `clientCredentials`
//! feature on (off in the stock configuration), resource indicators as the
//! other oidc-provider tests have them (the token request names one
//! registered resource and gets a JWT access token with that `aud`), and
//! two pre-registered confidential clients: one authenticating with a
//! client secret (`client_secret_basic`), one with `private_key_jwt` (its
//! public key registered as `jwks`). Everything else is oidc-provider's
//! default (DPoP offered, not required). Access tokens last a few seconds
//! (`--access-ttl`), so renewal is seen in the test's time.
//!
//! Needs `scripts/setup.sh` (the npm packages), Node on PATH, and the real
//! keyring: run under scripts/desktop-session.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../support/mod.rs"]
mod support;

// oidc-provider, the sample servers, the CLI, the broker and the keyring.
mod harness;
// Tools through the proxy, renewed by asking again.
mod renewal;
// Bad credentials refused, nothing changed.
mod refusals;
