//! The fourth mode, Enterprise-Managed Authorization (SEP-990): the person
//! signs in once at the organization's IdP (OpenID Connect, code + PKCE,
//! `openid offline_access`), or brings an ID token from the organization's
//! own sign-in tool in a file. For each MCP server, discovery finds its AS;
//! where that AS takes the JWT bearer grant, the ID token is exchanged at the
//! IdP for an ID-JAG naming that AS and server (RFC 8693), and the ID-JAG for
//! the server's own token (RFC 7523). No browser per server; the IdP's
//! policy decides.
//!
//! The grant is one per IdP sign-in (its issuer is the IdP's), each server
//! with its own token and expiry. Renewing a server's token is the same two
//! requests again, with the ID token from memory, or a fresh one from the
//! IdP's refresh token (in the store, `StoreKey::IdpRefreshToken`), or
//! reread from its file; `refresh_for` sends an enterprise grant here. The
//! ID token is never written anywhere. The state file's `enterprise` list
//! says, per grant, where each server's AS is and which client id is used
//! there; the client secret, if any, is in the store
//! (`StoreKey::EnterpriseSecret`).
//!
//! Here: the sign-in itself and what a grant records. Beside it: the IdP
//! session (`idp`), one server's token at sign-in and renewal
//! (`server_token`), keeping the new grant (`keep`), revocation (`revoke`)
//! and step-up (`step_up`).

use super::login::Opener;
use super::{Engine, lock};
use crate::discovery::{self, ServerDiscovery};
use crate::error::EngineError;
use crate::id_jag::IdToken;
use crate::model::Grant;
use crate::providers::QuirkOverrides;
use crate::secret::ClientSecret;
use crate::token::Tokens;
use crate::{scope, url_policy};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

mod idp;
mod keep;
mod revoke;
mod server_token;
mod step_up;

pub(super) use idp::IdpSessions;

/// How one enterprise grant gets its servers' tokens again (state file; no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnterpriseGrant {
    /// The grant.
    pub grant_id: String,
    /// The IdP's issuer.
    pub idp: String,
    /// This application's client id at the IdP.
    pub idp_client_id: String,
    /// Where the ID token is read from when it came from the organization's
    /// own tooling (no IdP sign-in here, so no IdP refresh token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_file: Option<PathBuf>,
    /// Each server's authorization server.
    #[serde(default)]
    pub servers: Vec<EnterpriseServer>,
}

/// One server of an enterprise grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnterpriseServer {
    /// The server's id in the grant (its URL).
    pub server: String,
    /// Its AS's issuer.
    pub issuer: String,
    /// This application's client id at that AS.
    pub client_id: String,
    /// The scope asked for, asked again each time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// A sign-in with the organization.
#[derive(Debug, Clone)]
pub struct EnterpriseLogin {
    /// The IdP's issuer.
    pub idp: String,
    /// This application's client id at the IdP (pre-registered there).
    pub idp_client_id: String,
    /// An ID token obtained elsewhere, in this file, instead of the browser sign-in.
    pub id_token_file: Option<PathBuf>,
    /// The MCP server URLs.
    pub servers: Vec<String>,
    /// This application's client id at the servers' authorization servers;
    /// `None` takes the one the IdP names in the ID-JAG.
    pub client_id: Option<String>,
    /// Its secret there (client_secret_basic); `None` for a public client.
    pub secret: Option<ClientSecret>,
    /// Scope to ask for beyond what each server asks.
    pub scope: Option<String>,
    /// Where the IdP sends the browser back.
    pub redirect_uri: String,
    /// How long to wait for the browser.
    pub timeout: std::time::Duration,
    /// The account label; `None` takes it from the ID token.
    pub account: Option<String>,
}

/// What a sign-in with the organization did.
#[derive(Debug)]
pub struct EnterpriseReport {
    /// The grant, when at least one server got its token.
    pub grant: Option<Grant>,
    /// The servers that did not, and why (each failed alone).
    pub failed: Vec<(String, EngineError)>,
}

impl Engine {
    /// Signs in with the organization: the IdP once (or the ID token from
    /// its file), then every server's token with no browser. A server whose
    /// AS does not take ID-JAGs, or that the IdP's policy refuses, fails
    /// alone; the grant keeps the others.
    pub async fn login_enterprise(
        &self,
        login: &EnterpriseLogin,
        opener: &dyn Opener,
    ) -> Result<EnterpriseReport, EngineError> {
        if let Some(label) = &login.account {
            crate::account::check_label(label)?;
        }
        if login.servers.is_empty() {
            return Err(EngineError::NotGranted(
                "no MCP server was named for the organization sign-in".into(),
            ));
        }
        let idp = self.idp_metadata(login.idp.trim()).await?;
        let (id_token, idp_refresh) = match &login.id_token_file {
            Some(file) => (
                IdToken::new(crate::client_assertion::read_assertion(file)?),
                None,
            ),
            None => {
                let tokens = self.idp_sign_in(&idp, login, opener).await?;
                (tokens.id_token, tokens.refresh_token)
            }
        };
        let hosts = |issuer: &str| self.endpoint_hosts(issuer, &QuirkOverrides::default());
        let hosts = &hosts;
        let discoveries = login
            .servers
            .iter()
            .map(|raw| async move {
                url_policy::check_user_url(raw)?;
                Ok::<_, EngineError>(
                    discovery::discover_server_allowing(&self.http, raw.trim(), hosts).await?,
                )
            })
            .collect();
        let discoveries = super::batch::join_all(discoveries).await;
        let mut failed = Vec::new();
        let mut found = Vec::new();
        for (raw, d) in login.servers.iter().zip(discoveries) {
            match d {
                Ok(d) => found.push(d),
                Err(e) => failed.push((raw.trim().to_string(), e)),
            }
        }
        let asks = found
            .iter()
            .map(|d| {
                let scope = scope::union([
                    discovery::choose_scope(d.challenge.as_ref(), Some(&d.resource)).as_deref(),
                    login.scope.as_deref(),
                ]);
                let id_token = &id_token;
                let idp = &idp;
                async move {
                    let asked = self
                        .server_token(
                            idp,
                            &login.idp_client_id,
                            id_token,
                            &d.metadata,
                            &d.server_url,
                            &d.resource.resource,
                            scope.as_deref(),
                            login.client_id.as_deref(),
                            login.secret.as_ref(),
                        )
                        .await;
                    (scope, asked)
                }
            })
            .collect();
        let answers = super::batch::join_all(asks).await;
        let mut got: Vec<(&ServerDiscovery, Option<String>, String, Tokens)> = Vec::new();
        for (d, (scope, answer)) in found.iter().zip(answers) {
            match answer {
                Ok((client_id, tokens)) => got.push((d, scope, client_id, tokens)),
                Err(e) => failed.push((d.server_url.clone(), e)),
            }
        }
        if got.is_empty() {
            // Nothing will use the IdP sign-in: end it there rather than
            // leave a live refresh token nobody holds.
            if let Some(rt) = &idp_refresh {
                self.revoke_idp_refresh(&idp, &login.idp_client_id, rt)
                    .await;
            }
            return Ok(EnterpriseReport {
                grant: None,
                failed,
            });
        }
        let grant = self
            .keep_enterprise(login, &idp, &id_token, idp_refresh, got)
            .await?;
        Ok(EnterpriseReport {
            grant: Some(grant),
            failed,
        })
    }

    /// How grant `id` gets its tokens, when it is an enterprise grant.
    pub fn enterprise_grant(&self, id: &str) -> Option<EnterpriseGrant> {
        lock(&self.state)
            .enterprise
            .iter()
            .find(|e| e.grant_id == id)
            .cloned()
    }
}
