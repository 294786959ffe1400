//! The endpoint's front door. Browsers and other machines are kept out
//! before anything else runs: a request with an `Origin` header (a web page
//! talking to localhost), with `X-Forwarded-For`/`Forwarded` (something
//! relaying it), or whose `Host` is not this loopback address and port (DNS
//! rebinding) gets 403 with an empty body. Then the client key: missing,
//! wrong or revoked is 401. No response ever carries CORS headers.
//!
//! It is a plain function over the request's headers, called by the
//! connection service before any route, so every route (the admin API and
//! the fallback included) passes through it and the token route pays for
//! nothing but the checks themselves.

use crate::BrokerState;
use crate::keys::ClientKey;
use http::{HeaderMap, StatusCode, header};
use std::sync::Arc;

/// Why a request was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A browser, a relay or a foreign `Host`: 403, empty body.
    Forbidden,
    /// No valid key: 401 with a `WWW-Authenticate` challenge.
    Unauthorized,
}

impl Refusal {
    /// The status it answers with.
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::Forbidden => StatusCode::FORBIDDEN,
            Refusal::Unauthorized => StatusCode::UNAUTHORIZED,
        }
    }
}

/// The challenge sent with a 401.
pub const CHALLENGE: &str = "Bearer realm=\"mcp-passport\"";

/// Checks a request's headers; returns the caller's key record. One pass
/// over the headers (a client sends a handful) rather than a lookup each.
pub fn check(state: &BrokerState, headers: &HeaderMap) -> Result<Arc<ClientKey>, Refusal> {
    let mut host = None;
    let mut hosts = 0;
    let mut authorization = None;
    for (name, value) in headers {
        if name == header::HOST {
            hosts += 1;
            host = Some(value);
        } else if name == header::AUTHORIZATION {
            authorization.get_or_insert(value);
        } else if name == header::ORIGIN
            || name == header::FORWARDED
            || name.as_str() == "x-forwarded-for"
        {
            return Err(Refusal::Forbidden);
        }
    }
    let host_ok = hosts == 1
        && host.is_some_and(|h| state.hosts.iter().any(|a| a.as_bytes() == h.as_bytes()));
    if !host_ok {
        return Err(Refusal::Forbidden);
    }
    authorization
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .and_then(|k| state.keys.verify(k))
        .ok_or(Refusal::Unauthorized)
}
