//! The documents discovery reads: RFC 9728 protected resource metadata,
//! RFC 8414 authorization server metadata, and the Multi-Server catalog.
//! Unknown fields are ignored; missing optional ones are `None`.

use serde::Deserialize;

/// RFC 9728 protected resource metadata.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ResourceMetadata {
    /// The resource identifier; must equal the MCP server's URL.
    pub resource: String,
    /// Issuers that can issue tokens for it.
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    /// Scopes the resource understands.
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
    /// Display name.
    #[serde(default)]
    pub resource_name: Option<String>,
}

/// RFC 8414 authorization server metadata (the fields the engine uses).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct AsMetadata {
    /// Issuer identifier; must equal the issuer the document was fetched for.
    pub issuer: String,
    /// Where the browser goes.
    pub authorization_endpoint: String,
    /// Where codes and refresh tokens are exchanged.
    pub token_endpoint: String,
    /// RFC 7591 dynamic registration.
    #[serde(default)]
    pub registration_endpoint: Option<String>,
    /// RFC 7009 revocation.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// Scopes; `mcp:global` marks the Multi-Server pattern.
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
    /// PKCE methods; must include `S256`.
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// RFC 9207: when true, callbacks must carry `iss`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// Whether `client_id` may be a metadata document URL.
    #[serde(default)]
    pub client_id_metadata_document_supported: bool,
    /// Client authentication methods at the token endpoint.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// RFC 8707 support, when the AS says so.
    #[serde(default)]
    pub resource_indicators_supported: Option<bool>,
    /// RFC 8628 device authorization, for sign-ins from a machine without a browser.
    #[serde(default)]
    pub device_authorization_endpoint: Option<String>,
    /// The Multi-Server catalog (reference AS extension).
    #[serde(default)]
    pub mcp_server_catalog_endpoint: Option<String>,
    /// RFC 9449: the DPoP proof algorithms the AS accepts; with ES256
    /// listed, token requests carry proofs and tokens are bound.
    #[serde(default)]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// The grant types the AS offers (RFC 8414), when it lists them; the JWT
    /// bearer grant marks an AS that accepts ID-JAGs (Enterprise-Managed
    /// Authorization).
    #[serde(default)]
    pub grant_types_supported: Option<Vec<String>>,
}

impl AsMetadata {
    /// Whether the AS speaks the Multi-Server pattern.
    pub fn is_multi_server(&self) -> bool {
        self.scopes_supported
            .as_ref()
            .is_some_and(|s| s.iter().any(|x| x == "mcp:global"))
    }

    /// Whether the AS offers RFC 8693 token exchange, which gives each
    /// server of a grant its own token from the grant's access token.
    pub fn offers_token_exchange(&self) -> bool {
        self.grant_types_supported
            .as_ref()
            .is_some_and(|g| g.iter().any(|x| x == crate::token::TOKEN_EXCHANGE))
    }

    /// Whether PKCE S256 is advertised (absent list means no).
    pub fn supports_s256(&self) -> bool {
        self.code_challenge_methods_supported
            .as_ref()
            .is_some_and(|m| m.iter().any(|x| x == "S256"))
    }
}

/// One entry of the Multi-Server catalog.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct CatalogServer {
    /// The id used in `aud` and `servers:`.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// The RFC 9728 resource URL.
    pub resource: String,
    /// One line of description.
    #[serde(default)]
    pub description: String,
}
