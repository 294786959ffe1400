//! The engine's non-secret state: registered clients and grants. All of it
//! is safe to write to the state file; secrets live in the [`TokenStore`](crate::store::TokenStore).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How an authorization server is used (DESIGN section 3, best first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// The AS advertises `mcp:global`: one login, a server picker, one grant.
    MultiServer,
    /// A standard AS with RFC 8707: one login naming every server.
    MultiResource,
    /// Plain MCP OAuth: one login per server.
    PerServer,
    /// Enterprise-Managed Authorization (SEP-990): one sign-in at the
    /// organization's IdP; each server's token by an ID-JAG and the JWT
    /// bearer grant at its AS (`engine::enterprise`).
    Enterprise,
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// Public client.
    None,
    /// HTTP Basic with the secret.
    ClientSecretBasic,
    /// Secret in the form body.
    ClientSecretPost,
}

/// How a client id was obtained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Registration {
    /// Given by the user (`--client-id`).
    Preregistered,
    /// A Client ID Metadata Document URL.
    MetadataDocument,
    /// RFC 7591 dynamic registration.
    Dynamic,
}

/// The client registered at one issuer. Its secret, if any, is in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    /// The issuer, exactly as published.
    pub issuer: String,
    /// The client id there.
    pub client_id: String,
    /// Token endpoint authentication.
    pub auth: ClientAuth,
    /// How it was obtained.
    pub registration: Registration,
    /// Redirect URIs it registered.
    pub redirect_uris: Vec<String>,
}

/// Whether a server gets its own audience-restricted token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenKind {
    /// Not known yet (no token requested since sign-in).
    Unknown,
    /// A token only this server accepts (refresh with `resource=`).
    Own,
    /// The grant's shared multi-audience token.
    Shared,
}

/// One server in a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantedServer {
    /// Catalog id (or, without a catalog, the resource URL).
    pub id: String,
    /// Display name.
    pub name: String,
    /// The server's MCP URL, when known.
    pub resource: Option<String>,
    /// The `resource` indicator to send when it differs from the URL (a
    /// server whose RFC 9728 metadata names its origin as the resource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_indicator: Option<String>,
    /// Own or shared token.
    pub token_kind: TokenKind,
    /// When its current access token expires, if one was issued.
    pub expires_at: Option<DateTime<Utc>>,
    /// More access it asked for with 403 `insufficient_scope` (step-up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_up: Option<crate::step_up::StepUp>,
}

/// Where a grant stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum GrantStatus {
    /// Working.
    Active,
    /// The AS refused the refresh token (`invalid_grant`): sign in again.
    SignInNeeded {
        /// What the AS said, for the user.
        reason: String,
    },
    /// The AS could not be reached at the last attempt; unexpired tokens are still served.
    Unreachable {
        /// What failed.
        reason: String,
        /// When the next attempt may run.
        retry_at: DateTime<Utc>,
        /// Failed attempts in a row.
        #[serde(default)]
        attempts: u32,
    },
}

/// One sign-in at one issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Random id; keys the refresh token in the store.
    pub id: String,
    /// The issuer.
    pub issuer: String,
    /// The account's label (`login --account`, else the token's email or
    /// `sub`); `None` for a grant stored before accounts had labels, which
    /// is the account "default".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Which flow made it.
    pub mode: Mode,
    /// The client id it belongs to.
    pub client_id: String,
    /// Plain scopes granted (without `servers:`).
    pub scope: Vec<String>,
    /// The granted servers.
    pub servers: Vec<GrantedServer>,
    /// Servers removed locally although the AS did not narrow the grant.
    #[serde(default)]
    pub blocked: Vec<String>,
    /// When the user signed in.
    pub created_at: DateTime<Utc>,
    /// When the last refresh succeeded.
    pub refreshed_at: Option<DateTime<Utc>>,
    /// Where it stands.
    pub status: GrantStatus,
    /// Its tokens are DPoP-bound (RFC 9449 `token_type: DPoP`) to this
    /// installation's key: usable only with a proof, so only through the proxy.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound: bool,
}

impl Grant {
    /// The account's label ("default" for a grant stored without one).
    pub fn account_label(&self) -> &str {
        self.account.as_deref().unwrap_or(crate::account::DEFAULT)
    }

    /// The granted servers that are not blocked here: the ones whose tokens
    /// are handed out.
    pub fn active_servers(&self) -> impl Iterator<Item = &GrantedServer> {
        self.servers.iter().filter(|s| !self.is_blocked(&s.id))
    }

    /// Whether the server `id` was removed here although the AS has not
    /// narrowed the grant yet.
    pub fn is_blocked(&self, id: &str) -> bool {
        self.blocked.iter().any(|b| b == id)
    }

    /// The granted server with this id or resource URL, unless blocked.
    pub fn server(&self, id_or_url: &str) -> Option<&GrantedServer> {
        self.active_servers()
            .find(|s| s.id == id_or_url || s.resource.as_deref() == Some(id_or_url))
    }
}
