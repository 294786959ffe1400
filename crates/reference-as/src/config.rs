//! What an AS instance is told at start: its users, its catalog, its clients
//! and its token lifetimes. Nothing here is read from the environment, so a
//! test builds exactly the AS it needs.

use serde::Serialize;
use std::path::PathBuf;

/// One MCP server the AS can grant access to (DESIGN section 2, the catalog).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CatalogEntry {
    /// Stable id, used in `aud` and in `servers:` scopes.
    pub id: String,
    /// Human name shown in the picker.
    pub name: String,
    /// The server's RFC 9728 resource URL.
    pub resource: String,
    /// One line shown under the name in the picker.
    pub description: String,
}

/// A client registered by configuration rather than at run time.
#[derive(Debug, Clone)]
pub struct PreregisteredClient {
    /// The `client_id`.
    pub client_id: String,
    /// A secret for confidential clients (`client_secret_basic` or `_post`); `None` for public ones.
    pub client_secret: Option<String>,
    /// Exact redirect URIs (loopback ones match any port).
    pub redirect_uris: Vec<String>,
    /// Name shown on the consent page.
    pub name: String,
}

/// Credentials a resource server uses at the introspection endpoint.
#[derive(Debug, Clone)]
pub struct ResourceServerCredential {
    /// Its client id at the AS.
    pub client_id: String,
    /// Its secret (HTTP Basic).
    pub client_secret: String,
}

/// Everything an AS instance needs.
#[derive(Debug, Clone)]
pub struct AsConfig {
    /// The issuer identifier, exactly as published (no trailing slash added or removed).
    pub issuer: String,
    /// `(name, password)` pairs that can sign in.
    pub users: Vec<(String, String)>,
    /// The servers offered in the picker.
    pub catalog: Vec<CatalogEntry>,
    /// Clients known from configuration.
    pub clients: Vec<PreregisteredClient>,
    /// Resource servers allowed to introspect.
    pub resource_servers: Vec<ResourceServerCredential>,
    /// Access token lifetime in seconds.
    pub access_ttl: i64,
    /// How long the immediately previous refresh token stays usable after rotation, in seconds.
    pub refresh_grace: i64,
    /// Where the SQLite state lives; `None` means a temporary directory.
    pub state_dir: Option<PathBuf>,
    /// Whether Client ID Metadata Documents may be fetched over http from loopback hosts.
    pub allow_loopback_cimd: bool,
    /// The polling interval announced with a device code, in seconds (RFC 8628).
    pub device_interval: u64,
    /// The interval actually enforced, when it differs from the announced one
    /// (a test makes the AS answer `slow_down` to a client that keeps to the announced one).
    pub device_enforced_interval: Option<u64>,
    /// How long a device code lives, in seconds.
    pub device_code_lifetime: i64,
    /// Whether the device grant is offered (advertised and answered).
    pub device_flow: bool,
    /// DPoP (RFC 9449): advertise ES256 proofs and bind tokens to the key of a proof.
    pub dpop: bool,
    /// With `dpop`, require this AS's nonce in every proof (`use_dpop_nonce`).
    pub dpop_nonce: bool,
    /// Offer RFC 8693 token exchange: a grant's access token for one server's own token.
    pub token_exchange: bool,
    /// Identity providers whose ID-JAGs the token endpoint accepts with the
    /// JWT bearer grant (Enterprise-Managed Authorization); empty: the grant is off.
    pub trusted_idps: Vec<TrustedIdp>,
}

/// An identity provider this AS trusts to issue ID-JAGs (`jwt_bearer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIdp {
    /// Its issuer, exactly as in the `iss` of its assertions. Its keys are
    /// found through `{issuer}/.well-known/openid-configuration`'s `jwks_uri`.
    pub issuer: String,
}

impl AsConfig {
    /// A config with the demo defaults for the given issuer: user `demo:demo`,
    /// one-hour access tokens, no refresh grace, an empty catalog.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            users: vec![("demo".into(), "demo".into())],
            catalog: Vec::new(),
            clients: Vec::new(),
            resource_servers: Vec::new(),
            access_ttl: 3600,
            refresh_grace: 0,
            state_dir: None,
            allow_loopback_cimd: true,
            device_interval: 5,
            device_enforced_interval: None,
            device_code_lifetime: 600,
            device_flow: true,
            dpop: false,
            dpop_nonce: false,
            token_exchange: false,
            trusted_idps: Vec::new(),
        }
    }

    /// The catalog entry whose resource URL is `resource`, if any.
    pub fn server_by_resource(&self, resource: &str) -> Option<&CatalogEntry> {
        self.catalog.iter().find(|s| s.resource == resource)
    }

    /// Whether `resource` names the AS itself (the global flow's resource).
    pub fn is_root_resource(&self, resource: &str) -> bool {
        let root = self.issuer.trim_end_matches('/');
        resource == root || resource.strip_suffix('/') == Some(root)
    }
}
