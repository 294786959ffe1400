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

use super::login::Opener;
use super::{Engine, IssuedToken, lock};
use crate::discovery::{self, ServerDiscovery};
use crate::error::EngineError;
use crate::id_jag::{self, BearerRequest, IdToken, IdpError, IdpMetadata, JagRequest};
use crate::metadata::AsMetadata;
use crate::model::{Grant, GrantStatus, GrantedServer, Mode, TokenKind};
use crate::providers::QuirkOverrides;
use crate::secret::{ClientSecret, RefreshToken};
use crate::store::StoreKey;
use crate::token::Tokens;
use crate::{pkce, scope, url_policy};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

mod idp;
mod revoke;
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

    /// Renews one server's token of an enterprise grant: a new ID-JAG from
    /// the IdP (with a fresh ID token first when it has expired), then the
    /// JWT bearer grant at the server's AS.
    pub(super) async fn enterprise_refresh(
        &self,
        grant: &Grant,
        entry: &EnterpriseGrant,
        server: &str,
        resource: Option<&str>,
    ) -> Result<IssuedToken, EngineError> {
        let target = entry
            .servers
            .iter()
            .find(|s| s.server == server)
            .ok_or_else(|| EngineError::NotGranted(server.to_string()))?;
        let resource = resource.unwrap_or(server);
        let idp = self.idp_metadata(&entry.idp).await?;
        let id_token = self.current_id_token(grant, entry, &idp).await?;
        let metadata = self.metadata_for(&target.issuer).await?;
        let secret = self
            .store
            .get(&StoreKey::EnterpriseSecret {
                grant_id: grant.id.clone(),
            })?
            .map(ClientSecret::new);
        let (_, tokens) = self
            .server_token(
                &idp,
                &entry.idp_client_id,
                &id_token,
                &metadata,
                server,
                resource,
                target.scope.as_deref(),
                Some(&target.client_id),
                secret.as_ref(),
            )
            .await?;
        let now = self.clock.now();
        let expires_at = now + lifetime(&tokens);
        self.tokens.put(
            &grant.id,
            server,
            tokens.access_token.clone(),
            now,
            expires_at,
        );
        self.update_grant(&grant.id, |g| {
            g.status = GrantStatus::Active;
            g.refreshed_at = Some(now);
            g.dpop_bound = tokens.dpop_bound;
            if let Some(s) = g.servers.iter_mut().find(|s| s.id == server) {
                s.token_kind = TokenKind::Own;
                s.expires_at = Some(expires_at);
            }
        })?;
        Ok(IssuedToken {
            access_token: tokens.access_token,
            expires_at,
            server: server.to_string(),
            kind: TokenKind::Own,
        })
    }

    /// One server's token: an ID-JAG from the IdP for its AS, then the JWT
    /// bearer grant there. Returns the client id used at the AS.
    #[allow(clippy::too_many_arguments)]
    async fn server_token(
        &self,
        idp: &IdpMetadata,
        idp_client_id: &str,
        id_token: &IdToken,
        metadata: &AsMetadata,
        server: &str,
        resource: &str,
        scope: Option<&str>,
        client_id: Option<&str>,
        secret: Option<&ClientSecret>,
    ) -> Result<(String, Tokens), EngineError> {
        let profile = metadata
            .grant_types_supported
            .as_ref()
            .is_some_and(|g| g.iter().any(|x| x == id_jag::JWT_BEARER_GRANT));
        if !profile {
            return Err(IdpError::NoGrantProfile {
                server: server.to_string(),
                issuer: metadata.issuer.clone(),
            }
            .into());
        }
        let jag = id_jag::exchange_for_id_jag(
            &self.http,
            &JagRequest {
                token_endpoint: &idp.token_endpoint,
                client_id: idp_client_id,
                id_token,
                audience: &metadata.issuer,
                resource,
                scope,
            },
        )
        .await?;
        let client_id = match client_id.map(str::to_string).or(jag.client_id) {
            Some(c) => c,
            None => {
                return Err(IdpError::NoClientId {
                    issuer: metadata.issuer.clone(),
                }
                .into());
            }
        };
        let no_resource = self.provider_quirks(&metadata.issuer).no_resource;
        let dpop_key = self.dpop_key_for(metadata)?;
        let tokens = id_jag::jwt_bearer(
            &self.http,
            &BearerRequest {
                metadata,
                client_id: &client_id,
                secret,
                assertion: &jag.assertion,
                resource: Some(resource).filter(|_| !no_resource),
                scope,
            },
            self.prover(dpop_key.as_deref()),
        )
        .await?;
        Ok((client_id, tokens))
    }

    /// Keeps the new grant: the IdP refresh token and the AS client secret
    /// to the store first, then the grant and its entry to the state file
    /// (replacing this account's earlier grant at the same IdP), then the
    /// ID token and the access tokens to memory.
    async fn keep_enterprise(
        &self,
        login: &EnterpriseLogin,
        idp: &IdpMetadata,
        id_token: &IdToken,
        idp_refresh: Option<RefreshToken>,
        got: Vec<(&ServerDiscovery, Option<String>, String, Tokens)>,
    ) -> Result<Grant, EngineError> {
        let now = self.clock.now();
        let id = pkce::new_state();
        let chosen = login.account.is_some();
        let label = login
            .account
            .clone()
            .or_else(|| crate::account::label_from_token(id_token.expose()));
        if let Some(rt) = &idp_refresh {
            self.store.put(
                &StoreKey::IdpRefreshToken {
                    grant_id: id.clone(),
                },
                rt.expose(),
            )?;
        }
        if let Some(secret) = &login.secret {
            self.store.put(
                &StoreKey::EnterpriseSecret {
                    grant_id: id.clone(),
                },
                secret.expose(),
            )?;
        }
        let mut servers = Vec::new();
        let mut targets = Vec::new();
        let mut cached = Vec::new();
        let mut bound = false;
        for (d, scope, client_id, tokens) in got {
            let expires_at = now + lifetime(&tokens);
            bound |= tokens.dpop_bound;
            servers.push(GrantedServer {
                id: d.server_url.clone(),
                name: display_name(d),
                resource: Some(d.server_url.clone()),
                resource_indicator: (d.resource.resource != d.server_url)
                    .then(|| d.resource.resource.clone()),
                token_kind: TokenKind::Own,
                expires_at: Some(expires_at),
                step_up: None,
            });
            targets.push(EnterpriseServer {
                server: d.server_url.clone(),
                issuer: d.issuer.clone(),
                client_id,
                scope,
            });
            cached.push((d.server_url.clone(), tokens.access_token, expires_at));
        }
        let grant = Grant {
            id: id.clone(),
            issuer: idp.issuer.clone(),
            account: label,
            mode: Mode::Enterprise,
            client_id: login.idp_client_id.clone(),
            scope: Vec::new(),
            servers,
            blocked: Vec::new(),
            created_at: now,
            refreshed_at: Some(now),
            status: GrantStatus::Active,
            dpop_bound: bound,
        };
        let entry = EnterpriseGrant {
            grant_id: id.clone(),
            idp: idp.issuer.clone(),
            idp_client_id: login.idp_client_id.clone(),
            id_token_file: login
                .id_token_file
                .as_ref()
                .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone())),
            servers: targets,
        };
        let supersedes = |g: &Grant| {
            g.mode == Mode::Enterprise
                && g.issuer == grant.issuer
                && crate::account::same_account(g, grant.account_label(), chosen)
        };
        let replaced = self.update(|s| {
            let old: Vec<Grant> = s.grants.iter().filter(|g| supersedes(g)).cloned().collect();
            s.grants.retain(|g| !supersedes(g));
            s.grants.push(grant.clone());
            s.enterprise.push(entry);
            old
        })?;
        for old in replaced {
            self.forget_grant(&old).await;
        }
        self.remember_id_token(&id, id_token);
        for (server, token, expires_at) in cached {
            self.tokens.put(&id, &server, token, now, expires_at);
        }
        Ok(grant)
    }
}

fn lifetime(tokens: &Tokens) -> Duration {
    tokens
        .expires_in
        .and_then(|d| Duration::from_std(d).ok())
        .unwrap_or(Duration::minutes(5))
}

fn display_name(d: &ServerDiscovery) -> String {
    d.resource.resource_name.clone().unwrap_or_else(|| {
        url::Url::parse(&d.server_url)
            .ok()
            .and_then(|u| u.host_str().map(|h| format!("{h}{}", u.path())))
            .unwrap_or_else(|| d.server_url.clone())
    })
}
