//! Signing in: plan the flows a login needs (one global flow per
//! Multi-Server AS, one multi-resource flow per RFC 8707 AS, one flow per
//! server elsewhere), run each through the browser and a callback, and
//! store the resulting grant, replacing the grant it supersedes only once
//! the new one is safely stored.

use super::Engine;
use super::plan::Plan;
use crate::discovery;
use crate::error::EngineError;
use crate::flows::{FlowEnd, PendingFlow};
use crate::model::{Grant, GrantStatus, GrantedServer, Mode, Registration, TokenKind};
use crate::providers::QuirkOverrides;
use crate::registration::{self, ClientChoice};
use crate::secret::RefreshToken;
use crate::store::StoreKey;
use crate::token::TokenEndpoint;
use crate::{pkce, scope, url_policy};
use url::Url;

/// What to sign in to.
#[derive(Debug, Clone)]
pub enum LoginTarget {
    /// An authorization server's issuer URL (Multi-Server ASes).
    Issuer(String),
    /// MCP server URLs; their authorization servers are discovered.
    Servers(Vec<String>),
}

impl LoginTarget {
    /// What the user gave: one address is an issuer unless its path ends in
    /// `/mcp` or `/sse` (the usual MCP endpoints); several are MCP servers.
    pub fn from_addresses(addresses: &[String]) -> Self {
        let server_like = |a: &str| {
            url::Url::parse(a).is_ok_and(|u| {
                u.path().trim_end_matches('/').ends_with("/mcp") || u.path().ends_with("/sse")
            })
        };
        match addresses {
            [one] if !server_like(one) => LoginTarget::Issuer(one.clone()),
            _ => LoginTarget::Servers(addresses.to_vec()),
        }
    }
}

/// A sign-in request.
#[derive(Debug, Clone)]
pub struct LoginRequest {
    /// What to sign in to.
    pub target: LoginTarget,
    /// Server ids to pre-check in a Multi-Server picker.
    pub servers: Vec<String>,
    /// How to identify the client; `None` picks: stored registration, then
    /// Client ID Metadata Document, then dynamic registration.
    pub client: Option<ClientChoice>,
    /// Where the AS sends the browser back (loopback or private-use scheme).
    pub redirect_uri: String,
    /// Extra scope to ask for (step-up), added to the discovered one.
    pub scope: Option<String>,
    /// How long to wait for each callback.
    pub timeout: std::time::Duration,
    /// The account label the user chose; `None` takes it from the token.
    pub account: Option<String>,
}

/// Opens an authorization URL: the system browser, or a test driver.
pub trait Opener: Send + Sync {
    /// Opens `url` (already checked: https, or http on loopback).
    fn open(&self, url: &Url) -> Result<(), String>;
}

impl Engine {
    /// Opens the sign-in page of a registered flow and waits for it to end:
    /// the accepted code, or why not (the flow is cancelled when the page
    /// cannot be opened or the wait runs out).
    pub(crate) async fn open_and_wait(
        &self,
        opener: &dyn Opener,
        url: &Url,
        state: &str,
        receiver: tokio::sync::oneshot::Receiver<FlowEnd>,
        timeout: std::time::Duration,
    ) -> Result<crate::flows::Accepted, EngineError> {
        if let Err(e) = opener.open(url) {
            self.flows.cancel(state);
            return Err(EngineError::Browser(e));
        }
        let end = match tokio::time::timeout(timeout, receiver).await {
            Ok(Ok(end)) => end,
            _ => {
                self.flows.cancel(state);
                return Err(EngineError::TimedOut(timeout.as_secs()));
            }
        };
        match end {
            FlowEnd::Accepted(a) => Ok(a),
            FlowEnd::Denied { error, description } => Err(EngineError::Denied {
                error,
                description: description.unwrap_or_default(),
            }),
            FlowEnd::Aborted(e) => Err(EngineError::FlowAborted(e)),
        }
    }

    /// Signs in: runs every flow the request needs and returns the new
    /// grants, or the first failure (see [`Engine::sign_in`] for each
    /// flow's outcome; grants that signed in are kept either way).
    pub async fn login(
        &self,
        request: &LoginRequest,
        opener: &dyn Opener,
    ) -> Result<Vec<Grant>, EngineError> {
        self.login_with(request, &QuirkOverrides::default(), opener)
            .await
    }

    /// Signs in like [`Engine::login`], with the user's `overrides` for the
    /// issuers of this sign-in ([`crate::providers`]). They are remembered
    /// per issuer once its metadata is known; endpoint hosts only for an
    /// issuer whose metadata uses them.
    pub async fn login_with(
        &self,
        request: &LoginRequest,
        overrides: &QuirkOverrides,
        opener: &dyn Opener,
    ) -> Result<Vec<Grant>, EngineError> {
        self.sign_in_with(request, overrides, opener, &super::NoProgress)
            .await
            .into_result()
    }

    pub(super) async fn ensure_client(
        &self,
        plan: &Plan,
        request: &LoginRequest,
    ) -> Result<
        (
            crate::model::ClientRecord,
            Option<crate::secret::ClientSecret>,
        ),
        EngineError,
    > {
        // A pre-registered client is kept for its issuer whatever the
        // loopback port (RFC 8252 section 7.3: ports change per sign-in).
        if request.client.is_none()
            && let Some((record, secret)) = self.client_for(&plan.issuer)
            && record.redirect_uris.iter().any(|u| {
                u == &request.redirect_uri
                    || record.registration == Registration::Preregistered
                        && crate::providers::same_loopback_redirect(u, &request.redirect_uri)
            })
        {
            return Ok((record, secret));
        }
        let choice = match (&request.client, &self.config.client_metadata_url) {
            (Some(c), _) => c.clone(),
            (None, Some(url)) if plan.metadata.client_id_metadata_document_supported => {
                ClientChoice::MetadataDocument { url: url.clone() }
            }
            _ => ClientChoice::Dynamic,
        };
        let registered = registration::register(
            &self.http,
            &plan.issuer,
            &plan.metadata,
            &choice,
            std::slice::from_ref(&request.redirect_uri),
            &self.config.client_name,
        )
        .await?;
        let key = StoreKey::ClientSecret {
            issuer: plan.issuer.clone(),
        };
        match &registered.secret {
            Some(secret) => self.store.put(&key, secret.expose())?,
            None => self.store.delete(&key)?,
        }
        let record = registered.record.clone();
        self.update(|s| {
            // A client another account's grant was issued to stays for its refreshes.
            let grants = &s.grants;
            s.clients.retain(|c| {
                c.issuer != record.issuer
                    || grants
                        .iter()
                        .any(|g| g.issuer == c.issuer && g.client_id == c.client_id)
            });
            s.clients.push(record);
        })?;
        Ok((registered.record, registered.secret))
    }

    fn authorize_url(
        &self,
        plan: &Plan,
        client_id: &str,
        redirect_uri: &str,
        state: &str,
        challenge: &str,
    ) -> Result<Url, EngineError> {
        let mut url = url_policy::check_endpoint(
            &plan.metadata.authorization_endpoint,
            &Url::parse(&plan.issuer)
                .map_err(|_| url_policy::UrlError::Malformed(plan.issuer.clone()))?,
        )?;
        let quirks = self.provider_quirks(&plan.issuer);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", client_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("state", state)
                .append_pair("code_challenge", challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(scope) = &self.requested_scope(plan) {
                q.append_pair("scope", scope);
            }
            if plan.mode == Mode::MultiServer && !quirks.no_resource {
                q.append_pair("resource", &plan.issuer);
            }
            for resource in plan.resources.iter().filter(|_| !quirks.no_resource) {
                q.append_pair("resource", resource);
            }
            for (key, value) in &quirks.authorize_params {
                q.append_pair(key, value);
            }
        }
        Ok(url_policy::check_browser_url(url.as_str())?)
    }

    pub(super) async fn run_flow(
        &self,
        plan: &Plan,
        request: &LoginRequest,
        opener: &dyn Opener,
    ) -> Result<Grant, EngineError> {
        if !plan.metadata.supports_s256() {
            return Err(EngineError::Discovery(discovery::DiscoveryError::NoS256 {
                issuer: plan.issuer.clone(),
            }));
        }
        let (client, secret) = self.ensure_client(plan, request).await?;
        let (challenge, verifier) = pkce::new_pkce();
        let state = pkce::new_state();
        let url = self.authorize_url(
            plan,
            &client.client_id,
            &request.redirect_uri,
            &state,
            challenge.as_str(),
        )?;
        let timeout =
            chrono::Duration::from_std(request.timeout).unwrap_or(chrono::Duration::minutes(10));
        let flow = PendingFlow {
            state: state.clone(),
            issuer: plan.issuer.clone(),
            iss_required: plan.metadata.authorization_response_iss_parameter_supported,
            redirect_uri: request.redirect_uri.clone(),
            verifier,
            expires_at: self.clock.now() + timeout,
        };
        let receiver = self.flows.register(flow);
        let accepted = self
            .open_and_wait(opener, &url, &state, receiver, request.timeout)
            .await?;
        let dpop_key = self.dpop_key_for(&plan.metadata)?;
        let endpoint = TokenEndpoint::new(&self.http, &plan.metadata, &client, secret.as_ref())?
            .with_dpop(self.prover(dpop_key.as_deref()));
        // One `resource` per token request, as every RFC 8707 AS accepts: a
        // multi-resource grant's other servers get theirs by refresh. None
        // for an issuer that refuses it.
        let token_resources: Vec<String> = match plan.mode {
            _ if self.provider_quirks(&plan.issuer).no_resource => Vec::new(),
            Mode::PerServer | Mode::Enterprise => plan.resources.clone(),
            Mode::MultiResource => plan.resources.iter().take(1).cloned().collect(),
            Mode::MultiServer => Vec::new(),
        };
        let tokens = match endpoint
            .exchange_code(
                accepted.code,
                accepted.flow.verifier,
                &request.redirect_uri,
                &token_resources,
            )
            .await
        {
            Err(crate::token::TokenError::InvalidClient(reason)) => {
                self.update(|s| s.clients.retain(|c| c.issuer != plan.issuer))?;
                return Err(EngineError::Token(crate::token::TokenError::InvalidClient(
                    format!(
                        "{reason}; the registration was dropped, sign in again to register anew"
                    ),
                )));
            }
            other => other?,
        };
        self.keep(plan, request, &client, tokens).await
    }

    /// Keeps what a sign-in's token request returned, whichever grant it
    /// came by: the refresh token to the store first, then the grant.
    pub(super) async fn keep(
        &self,
        plan: &Plan,
        request: &LoginRequest,
        client: &crate::model::ClientRecord,
        tokens: crate::token::Tokens,
    ) -> Result<Grant, EngineError> {
        if tokens.refresh_token.is_none() {
            tracing::warn!(issuer = %plan.issuer, "no refresh token issued; the grant lasts until its access token expires");
        }
        self.keep_renewable(plan, request, client, tokens).await
    }

    /// [`Self::keep`] without the warning about a missing refresh token:
    /// for a grant renewed by asking again (a machine grant), none is due.
    pub(super) async fn keep_renewable(
        &self,
        plan: &Plan,
        request: &LoginRequest,
        client: &crate::model::ClientRecord,
        tokens: crate::token::Tokens,
    ) -> Result<Grant, EngineError> {
        crate::fault::point("login-after-code-exchange");
        let refresh = tokens.refresh_token.clone();
        let now = self.clock.now();
        let (plain, granted_ids) = tokens
            .scope
            .as_deref()
            .map(scope::split)
            .unwrap_or_default();
        let servers = self.granted_servers(plan, granted_ids);
        let grant = Grant {
            id: pkce::new_state(),
            issuer: plan.issuer.clone(),
            account: Some(super::accounts::label_for(request, &tokens)),
            mode: plan.mode,
            client_id: client.client_id.clone(),
            scope: if plain.is_empty() {
                plan.scope
                    .as_deref()
                    .map(|s| scope::split(s).0)
                    .unwrap_or_default()
            } else {
                plain
            },
            servers,
            blocked: Vec::new(),
            created_at: now,
            refreshed_at: Some(now),
            status: GrantStatus::Active,
            dpop_bound: tokens.dpop_bound,
        };
        if let Some(refresh) = &refresh {
            self.store.put(
                &StoreKey::RefreshToken {
                    grant_id: grant.id.clone(),
                },
                refresh.expose(),
            )?;
        }
        let expires_at = now
            + chrono::Duration::from_std(
                tokens
                    .expires_in
                    .unwrap_or(std::time::Duration::from_secs(300)),
            )
            .unwrap_or(chrono::Duration::minutes(5));
        let mut grant = grant;
        match plan.mode {
            Mode::MultiServer => {
                self.tokens
                    .put_shared(&grant.id, tokens.access_token, now, expires_at)
            }
            // The code's token is the first server's own (the one named).
            Mode::PerServer | Mode::MultiResource | Mode::Enterprise => {
                if let Some(s) = grant.servers.first_mut() {
                    s.token_kind = TokenKind::Own;
                    s.expires_at = Some(expires_at);
                    self.tokens
                        .put(&grant.id, &s.id, tokens.access_token, now, expires_at);
                }
            }
        }
        if plan.mode == Mode::MultiServer {
            for s in grant.servers.iter_mut() {
                s.expires_at = Some(expires_at);
            }
        }
        self.carry_step_ups(&mut grant);
        let replaced = self.replace_grants(&grant, request.account.is_some())?;
        for old in replaced {
            self.forget_grant(&old).await;
        }
        Ok(grant)
    }

    fn granted_servers(&self, plan: &Plan, granted: Option<Vec<String>>) -> Vec<GrantedServer> {
        let entry = |id: String, name: String, resource: Option<String>| GrantedServer {
            id,
            name,
            resource,
            resource_indicator: None,
            token_kind: TokenKind::Unknown,
            expires_at: None,
            step_up: None,
        };
        match plan.mode {
            Mode::MultiServer => granted
                .unwrap_or_else(|| plan.hint.clone())
                .into_iter()
                .map(|id| match plan.catalog.iter().find(|c| c.id == id) {
                    Some(c) => entry(id, c.name.clone(), Some(c.resource.clone())),
                    None => entry(id.clone(), id, None),
                })
                .collect(),
            _ => plan
                .urls
                .iter()
                .zip(&plan.resources)
                .zip(&plan.names)
                .map(|((url, indicator), name)| GrantedServer {
                    resource_indicator: (indicator != url).then(|| indicator.clone()),
                    ..entry(url.clone(), name.clone(), Some(url.clone()))
                })
                .collect(),
        }
    }

    /// Stores `grant`, removing the grants of the same account it
    /// supersedes (in the first one's place); returns those.
    fn replace_grants(&self, grant: &Grant, chosen: bool) -> Result<Vec<Grant>, EngineError> {
        let urls: Vec<&str> = grant
            .servers
            .iter()
            .filter_map(|s| s.resource.as_deref())
            .collect();
        let supersedes = |g: &Grant| {
            g.issuer == grant.issuer
                && crate::account::same_account(g, grant.account_label(), chosen)
                && (grant.mode == Mode::MultiServer && g.mode == Mode::MultiServer
                    || g.servers
                        .iter()
                        .any(|x| x.resource.as_deref().is_some_and(|r| urls.contains(&r))))
        };
        self.update(|s| {
            let at = s.grants.iter().position(supersedes);
            let (old, keep): (Vec<Grant>, Vec<Grant>) = s.grants.drain(..).partition(supersedes);
            s.grants = keep;
            let at = at.unwrap_or(s.grants.len()).min(s.grants.len());
            s.grants.insert(at, grant.clone());
            // Registrations no grant uses any more go, except the one just used.
            let grants = &s.grants;
            s.clients.retain(|c| {
                c.issuer != grant.issuer
                    || c.client_id == grant.client_id
                    || grants
                        .iter()
                        .any(|g| g.issuer == c.issuer && g.client_id == c.client_id)
            });
            old
        })
    }

    /// Revokes a superseded or signed-out grant's refresh token at the AS
    /// (best effort) and deletes it from the store and the caches.
    pub(super) async fn forget_grant(&self, grant: &Grant) {
        let key = StoreKey::RefreshToken {
            grant_id: grant.id.clone(),
        };
        let stored = self.store.get(&key).ok().flatten();
        if let (Some(rt), Ok(metadata), Some((client, secret))) = (
            stored,
            self.metadata_for(&grant.issuer).await,
            self.client_of(grant),
        ) && let Ok(endpoint) =
            TokenEndpoint::new(&self.http, &metadata, &client, secret.as_ref())
            && let Err(e) = endpoint.revoke_refresh(&RefreshToken::new(rt)).await
        {
            tracing::warn!(issuer = %grant.issuer, error = %e, "could not revoke a refresh token at the authorization server");
        }
        if let Err(e) = self.store.delete(&key) {
            tracing::warn!(error = %e, "could not delete a refresh token from the keyring");
        }
        self.forget_enterprise(grant).await;
        self.tokens.take(&grant.id, None);
        self.forget_machine(&grant.id);
    }
}
