//! Enterprise-Managed Authorization on the wire (SEP-990, extension
//! `io.modelcontextprotocol/enterprise-managed-authorization`;
//! draft-ietf-oauth-identity-assertion-authz-grant): the organization's
//! identity provider (OpenID Connect discovery, the code exchange and the
//! refresh that return an ID token), the RFC 8693 token exchange of that ID
//! token for an Identity Assertion JWT Authorization Grant (ID-JAG), and the
//! RFC 7523 JWT bearer grant that presents the ID-JAG at an MCP server's
//! authorization server. No engine state here: `engine::enterprise` keeps
//! the grant.
//!
//! The parts: the IdP's configuration, sign-in code and refresh (`idp`),
//! the token exchange for an ID-JAG (`exchange`), the JWT bearer grant at
//! the server's AS (`bearer`), and what the three share on the wire
//! (`wire`: the form, HTTP Basic, the POST, the answer, a JWT's claims).

mod bearer;
mod exchange;
mod idp;
mod wire;

pub use bearer::{BearerRequest, jwt_bearer};
pub use exchange::{IdJag, JagRequest, exchange_for_id_jag};
pub use idp::{IdpMetadata, IdpTokens, fetch_idp_metadata, redeem_code, refresh_id_token};
pub use wire::expiry;

pub use crate::client_assertion::JWT_BEARER_GRANT;

/// RFC 8693's grant type.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The subject token's type: an OpenID Connect ID token.
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
/// The requested token's type: an ID-JAG.
pub const ID_JAG_TYPE: &str = "urn:ietf:params:oauth:token-type:id-jag";
/// What the desktop client is called at the IdP unless configured otherwise
/// (enterprises pre-register it; there is no dynamic registration there).
pub const DEFAULT_IDP_CLIENT_ID: &str = "mcp-passport";
/// What is asked of the IdP at sign-in: an ID token, and a refresh token to
/// get the next one without a browser.
pub const IDP_SCOPE: &str = "openid offline_access";

pub use crate::secret::IdToken;

/// What went wrong with the organization's identity provider or the
/// enterprise grant at one server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdpError {
    /// The IdP sent no ID token.
    #[error(
        "the identity provider sent no ID token; check that the client id {client_id} may use OpenID Connect (scope openid) there"
    )]
    NoIdToken {
        /// The client id used at the IdP.
        client_id: String,
    },
    /// The IdP offers no browser sign-in this client can use.
    #[error(
        "the identity provider {issuer} offers no browser sign-in with PKCE (S256); use an ID token from your organization's sign-in tool instead"
    )]
    NoBrowserSignIn {
        /// The IdP.
        issuer: String,
    },
    /// The IdP's policy refused an ID-JAG for this server.
    #[error(
        "your organization's identity provider refused access to {resource} ({error}: {description}); ask your administrator for access, or sign in to that server directly"
    )]
    Denied {
        /// The server's resource URL.
        resource: String,
        /// The OAuth error code.
        error: String,
        /// The IdP's own words (untrusted, filtered).
        description: String,
    },
    /// The IdP answered the exchange with something that is not an ID-JAG.
    #[error(
        "the identity provider answered the token exchange with {0} instead of an ID-JAG; check that it supports Enterprise-Managed Authorization"
    )]
    NotAnIdJag(String),
    /// The server's AS does not take ID-JAGs.
    #[error(
        "the authorization server {issuer} of {server} does not accept enterprise sign-in (its metadata lists no JWT bearer grant); sign in to that server directly"
    )]
    NoGrantProfile {
        /// The MCP server.
        server: String,
        /// Its AS.
        issuer: String,
    },
    /// No client id at the server's AS: neither configured nor named by the IdP.
    #[error(
        "no client id is known for this application at {issuer}; give the client id your administrator registered there"
    )]
    NoClientId {
        /// The AS.
        issuer: String,
    },
}
