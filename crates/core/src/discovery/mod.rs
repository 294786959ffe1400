//! Discovery, in the MCP authorization spec's order: from an MCP server's
//! 401 (`WWW-Authenticate: Bearer resource_metadata=...`) or its well-known
//! RFC 9728 URLs to its protected resource metadata, then to the
//! authorization server's RFC 8414 / OIDC metadata.
//!
//! Each document is checked before use: the resource must be the server's
//! own URL (or its origin, from the root well-known URL), the metadata's
//! `issuer` must be the issuer it was fetched for, character for character,
//! every endpoint must pass the URL policy and sit on the issuer's origin
//! (authorization, token and revocation endpoints may also sit on a host
//! the issuer's provider profile lists or the user allowed, see
//! [`crate::providers`]),
//! and S256 must be offered. Nothing here follows a redirect.
//!
//! The parts: the well-known URLs where each document is looked for
//! (`well_known`), the authorization server's metadata, checked and
//! fetched, and the mode it offers (`as_metadata`), an MCP server's
//! protected resource metadata and the issuer it names (`resource`), and
//! the Multi-Server catalog (`catalog`). This module keeps what they share:
//! the error and how a fetched value is shown.

use crate::http::HttpError;
use crate::url_policy::UrlError;
use url::Url;

pub use crate::challenge::{BearerChallenge, MAX_CHALLENGE_LEN, parse_www_authenticate};

mod as_metadata;
mod catalog;
mod resource;
mod well_known;

pub use as_metadata::{
    check_as_metadata, check_as_metadata_allowing, fetch_as_metadata, fetch_as_metadata_allowing,
    mode_of,
};
pub use catalog::fetch_catalog;
pub use resource::{ServerDiscovery, choose_scope, discover_server, discover_server_allowing};
pub use well_known::{metadata_urls, resource_metadata_urls};

/// Why discovery failed. Each message says what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The HTTP exchange failed (unreachable, timeout, a redirect, too large).
    #[error(transparent)]
    Http(#[from] HttpError),
    /// A URL was refused by the URL policy (scheme, credentials, metadata
    /// address, loopback announced by a remote server).
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The issuer URL has a query or fragment, which RFC 8414 forbids.
    #[error("{issuer} cannot be an issuer: issuer URLs have no query or fragment; check the URL")]
    InvalidIssuer {
        /// The issuer, without query and fragment.
        issuer: String,
    },
    /// No metadata document was found at any well-known URL.
    #[error(
        "no authorization server metadata found for {issuer} (RFC 8414 or OpenID Connect well-known URLs); check the issuer URL, or that the server supports OAuth discovery"
    )]
    NoMetadata {
        /// The issuer.
        issuer: String,
    },
    /// A document was not the JSON it should be (and no other URL had one).
    #[error("{url} did not return a valid metadata document; the server may be misconfigured")]
    NotJson {
        /// Where it was fetched (without query).
        url: String,
    },
    /// The metadata names another issuer than the one it was fetched for
    /// (SECURITY 5, 8). Compared exactly: a trailing slash, letter case or
    /// default port makes a difference.
    #[error(
        "the metadata fetched for {expected} says its issuer is {found}; refusing it (they must be identical). If {found} is the right issuer, use exactly that URL"
    )]
    IssuerMismatch {
        /// The issuer asked for.
        expected: String,
        /// The issuer in the document (untrusted, cut to 300 characters).
        found: String,
    },
    /// An endpoint lives on another origin than the issuer (SECURITY 7),
    /// and neither the issuer's provider profile nor the user allowed its host.
    #[error(
        "the {endpoint} endpoint {url} is not on the origin of {issuer}; refusing this authorization server's metadata. Only if you trust {issuer} to use {} for its endpoints, allow {} for this issuer and sign in again",
        hosts.join(", "), if hosts.len() == 1 { "that host" } else { "those hosts" }
    )]
    ForeignEndpoint {
        /// Which endpoint (`authorization`, `token`, `registration`, ...).
        endpoint: &'static str,
        /// Its URL (without query).
        url: String,
        /// The issuer that announced it.
        issuer: String,
        /// Every host (`host` or `host:port`) of the metadata's endpoints
        /// that is not the issuer's and not allowed: what to confirm.
        hosts: Vec<String>,
    },
    /// PKCE S256 is not listed in `code_challenge_methods_supported` (SECURITY 16).
    #[error(
        "{issuer} does not list PKCE S256 in its metadata; MCP Passport will not sign in without it (ask its operator to enable S256)"
    )]
    NoS256 {
        /// The issuer.
        issuer: String,
    },
    /// The protected resource metadata names another resource (SECURITY 20).
    #[error(
        "the server at {expected} describes itself as {found}; no sign-in was started. Use the server's exact MCP URL, or do not trust this server"
    )]
    ResourceMismatch {
        /// The server URL.
        expected: String,
        /// The `resource` in its metadata (untrusted, cut to 300 characters).
        found: String,
    },
    /// No protected resource metadata was found.
    #[error(
        "{server} publishes no OAuth protected resource metadata (RFC 9728); it may not need sign-in, or the URL is not its MCP endpoint"
    )]
    NoResourceMetadata {
        /// The server URL.
        server: String,
    },
    /// The protected resource metadata lists no authorization server.
    #[error(
        "{server} names no authorization server in its metadata; it cannot be signed in to with OAuth"
    )]
    NoAuthorizationServer {
        /// The server URL.
        server: String,
    },
    /// The catalog endpoint answered with an error status.
    #[error("the server catalog at {url} failed with HTTP {status}; try again later")]
    CatalogUnavailable {
        /// The catalog URL (without query).
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The AS does not speak the Multi-Server pattern (sign in with server URLs instead).
    #[error(
        "{issuer} does not offer Multi-Server sign-in (no mcp:global); sign in with the MCP server URLs instead"
    )]
    NotMultiServer {
        /// The issuer.
        issuer: String,
    },
}

/// A value from a fetched document, made safe to show (see [`crate::text`]).
fn untrusted(text: &str) -> String {
    crate::text::untrusted(text, 300)
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}
