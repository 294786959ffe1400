//! Each server's own token of a Multi-Server grant by RFC 8693 token
//! exchange, where the AS lists the grant type in its metadata.
//!
//! Why: a refresh with `resource=` rotates the grant's refresh token, so a
//! grant's servers can only be served one after another (each refresh
//! presents the token the previous one returned), and each step persists
//! the rotated token. An exchange presents the grant's multi-audience
//! access token (the subject, in memory from the code exchange or from one
//! refresh without `resource`) and rotates nothing, so every server's token
//! is asked for at once. The AS narrows `aud` to the one server, as with
//! `resource` on a refresh.
//!
//! Locks: one per server for its exchange; the grant's own lock only for
//! the refresh that renews the subject (one per expiry, however many
//! servers wait for it). The rotated refresh token is in the keyring before
//! the subject is used, as on every refresh.
//!
//! An AS that lists the grant and then refuses it (a provider that enables
//! it per client) is remembered in memory and served by refresh instead.

use super::cache::SHARED;
use super::tokens::{IssuedToken, expiry, is_transient, issued};
use super::{Engine, lock};
use crate::error::EngineError;
use crate::model::{Grant, GrantStatus, GrantedServer, Mode, TokenKind};
use crate::secret::AccessToken;
use crate::token::{TOKEN_EXCHANGE, TokenEndpoint, TokenError, Tokens};
use std::time::Instant;

impl Engine {
    /// The resource to ask an exchange for, when `server` of `grant` gets
    /// its token that way: a Multi-Server grant whose server has (or may
    /// have) its own token, at an AS that offers token exchange.
    pub(super) async fn exchanges_for(
        &self,
        grant: &Grant,
        server: &GrantedServer,
    ) -> Option<String> {
        if grant.mode != Mode::MultiServer
            || server.token_kind == TokenKind::Shared
            || self.machine_grant(&grant.id).is_some()
            || self.provider_quirks(&grant.issuer).no_resource
        {
            return None;
        }
        let resource = server
            .resource_indicator
            .as_deref()
            .or(server.resource.as_deref())?;
        let metadata = self.metadata_for(&grant.issuer).await.ok()?;
        metadata
            .offers_token_exchange()
            .then(|| resource.to_string())
    }

    /// `server`'s own token by exchange, from memory while fresh (unless
    /// `now_please`). `None`: the AS refused the grant type; the caller
    /// refreshes instead.
    pub(super) async fn token_by_exchange(
        &self,
        server: &str,
        resource: &str,
        now_please: bool,
    ) -> Result<Option<IssuedToken>, EngineError> {
        let (grant, entry) = self
            .resolve(server, false)
            .ok_or_else(|| EngineError::NotGranted(server.to_string()))?;
        let flight = self.tokens.flight(&format!("{}\n{}", grant.id, entry.id));
        let _guard = flight.lock().await;
        // Re-read: the grant may have changed while we waited.
        let (grant, entry) = self.resolve_usable(server)?;
        let now = self.clock.now();
        let cached = self.tokens.get(&grant.id, &entry.id);
        if let Some(c) = cached.clone().filter(|c| !now_please && self.fresh(c, now)) {
            return Ok(Some(issued(c, &entry.id, TokenKind::Own)));
        }
        let served_while_down =
            |reason: String| match cached.clone().filter(|c| c.expires_at > self.clock.now()) {
                Some(c) => Ok(Some(issued(c, &entry.id, TokenKind::Own))),
                None => Err(EngineError::Unreachable {
                    issuer: grant.issuer.clone(),
                    reason,
                }),
            };
        if let GrantStatus::Unreachable {
            retry_at, reason, ..
        } = &grant.status
            && *retry_at > now
            && !now_please
        {
            return served_while_down(reason.clone());
        }
        match self.exchange_for(&grant, &entry.id, resource).await {
            Err(e) if is_transient(&e) => {
                self.note_unreachable(&grant, &e)?;
                served_while_down(e.to_string())
            }
            other => other,
        }
    }

    async fn exchange_for(
        &self,
        grant: &Grant,
        server: &str,
        resource: &str,
    ) -> Result<Option<IssuedToken>, EngineError> {
        let (subject, just_refreshed) = self.subject_token(grant).await?;
        let tokens = match self.ask_exchange(grant, &subject, resource).await {
            // The subject alone may be spent (expired early, revoked by
            // itself): one refresh says whether the grant still lives.
            Err(EngineError::Token(TokenError::InvalidGrant(_))) if !just_refreshed => {
                let subject = self.renew_subject(grant).await?;
                self.ask_exchange(grant, &subject, resource).await
            }
            other => other,
        };
        let tokens = match tokens {
            Ok(tokens) => tokens,
            Err(EngineError::Token(TokenError::InvalidGrant(reason))) => {
                return Err(self.sign_in_needed(grant, &reason)?);
            }
            Err(EngineError::Token(TokenError::InvalidClient(reason))) => {
                // The registration is gone at the AS: register anew at the next sign-in.
                let issuer = grant.issuer.clone();
                self.update(|s| s.clients.retain(|c| c.issuer != issuer))?;
                return Err(self.sign_in_needed(grant, &reason)?);
            }
            Err(EngineError::Token(TokenError::Other { error, .. })) => {
                tracing::info!(issuer = %grant.issuer, error, "token exchange refused; each server's token comes by refresh");
                if let Some(m) = lock(&self.metadata).get_mut(&grant.issuer)
                    && let Some(types) = m.grant_types_supported.as_mut()
                {
                    types.retain(|t| t != TOKEN_EXCHANGE);
                }
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let now = self.clock.now();
        let expires_at = now + expiry(&tokens);
        self.tokens.put(
            &grant.id,
            server,
            tokens.access_token.clone(),
            now,
            expires_at,
        );
        let note = |g: &mut Grant| {
            if let Some(s) = g.servers.iter_mut().find(|s| s.id == server) {
                s.token_kind = TokenKind::Own;
                s.expires_at = Some(expires_at);
            }
        };
        // The file is written when what it says changes (the grant works
        // again, binding changed); an expiry time and the kind of a token
        // held only in memory are kept in memory until the next write.
        if grant.status != GrantStatus::Active || grant.dpop_bound != tokens.dpop_bound {
            self.update_grant(&grant.id, |g| {
                g.status = GrantStatus::Active;
                g.dpop_bound = tokens.dpop_bound;
                note(g);
            })?;
        } else {
            let _turn = lock(&self.saving);
            if let Some(g) = lock(&self.state)
                .grants
                .iter_mut()
                .find(|g| g.id == grant.id)
            {
                note(g);
            }
        }
        Ok(Some(IssuedToken {
            access_token: tokens.access_token,
            expires_at,
            server: server.to_string(),
            kind: TokenKind::Own,
        }))
    }

    /// The grant's multi-audience access token: from memory while fresh,
    /// else from one refresh without `resource` (shared by every server
    /// waiting). `true` when it was just refreshed.
    async fn subject_token(&self, grant: &Grant) -> Result<(AccessToken, bool), EngineError> {
        let fresh = || {
            self.tokens
                .get(&grant.id, SHARED)
                .filter(|c| self.fresh(c, self.clock.now()))
        };
        if let Some(c) = fresh() {
            return Ok((c.token, false));
        }
        let flight = self.tokens.flight(&grant.id);
        let _guard = flight.lock().await;
        if let Some(c) = fresh() {
            return Ok((c.token, false));
        }
        Ok((self.refresh_subject(grant).await?, true))
    }

    /// A new subject from a refresh, whatever is in memory.
    async fn renew_subject(&self, grant: &Grant) -> Result<AccessToken, EngineError> {
        let flight = self.tokens.flight(&grant.id);
        let _guard = flight.lock().await;
        self.refresh_subject(grant).await
    }

    /// One refresh without `resource` (the caller holds the grant's lock):
    /// the rotated refresh token to the keyring first, then the grant's
    /// state, then the subject to memory.
    async fn refresh_subject(&self, grant: &Grant) -> Result<AccessToken, EngineError> {
        let tokens = self.refresh_once(grant, None, None).await?;
        let now = self.clock.now();
        let expires_at = now + expiry(&tokens);
        let granted = tokens
            .scope
            .as_deref()
            .and_then(|s| crate::scope::split(s).1);
        self.update_grant(&grant.id, |g| {
            g.status = GrantStatus::Active;
            g.refreshed_at = Some(now);
            g.dpop_bound = tokens.dpop_bound;
            // The AS may have narrowed the grant's servers.
            if let Some(ids) = &granted {
                g.servers.retain(|s| ids.contains(&s.id));
            }
        })?;
        self.tokens
            .put_shared(&grant.id, tokens.access_token.clone(), now, expires_at);
        Ok(tokens.access_token)
    }

    /// One exchange request: `subject` for a token for `resource` alone.
    async fn ask_exchange(
        &self,
        grant: &Grant,
        subject: &AccessToken,
        resource: &str,
    ) -> Result<Tokens, EngineError> {
        let metadata = self.metadata_for(&grant.issuer).await?;
        let (client, secret) = self
            .client_of(grant)
            .ok_or_else(|| EngineError::SignInNeeded {
                issuer: grant.issuer.clone(),
                reason: "the client registration is gone".into(),
            })?;
        let dpop_key = self.dpop_key_for(&metadata)?;
        let endpoint = TokenEndpoint::new(&self.http, &metadata, &client, secret.as_ref())?
            .with_dpop(self.prover(dpop_key.as_deref()));
        let started = Instant::now();
        let answer = endpoint.exchange(subject, resource).await;
        tracing::debug!(
            took_ms = started.elapsed().as_secs_f64() * 1000.0,
            "token exchange request"
        );
        Ok(answer?)
    }
}
