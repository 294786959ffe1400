//! Access tokens: served from memory while fresh, refreshed on demand,
//! single-flight per grant.
//!
//! A refresh goes: receive the new tokens, persist the new refresh token in
//! the store, then publish the access token. If persisting fails the refresh
//! counts as failed and the grant says so. `invalid_grant` marks the grant
//! "sign-in needed" and is never retried with an older token. An unreachable
//! AS leaves unexpired tokens in service and sets a retry time with backoff
//! and jitter.

use super::cache::{Cached, SHARED};
use super::{Engine, lock};
use crate::error::EngineError;
use crate::model::{Grant, GrantStatus, GrantedServer, Mode, TokenKind};
use crate::scope;
use crate::secret::{AccessToken, RefreshToken};
use crate::store::StoreKey;
use crate::token::{TokenEndpoint, TokenError, Tokens};
use chrono::{DateTime, Duration, Utc};

/// An access token for one server.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The token (never log it).
    pub access_token: AccessToken,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// The server's id.
    pub server: String,
    /// Whether only this server accepts it.
    pub kind: TokenKind,
}

impl Engine {
    /// The grant and entry serving `server`, when the grant can still be
    /// used: not granted, or a grant that needs a new sign-in, is the error.
    pub(super) fn resolve_usable(
        &self,
        server: &str,
    ) -> Result<(Grant, GrantedServer), EngineError> {
        let (grant, entry) = self
            .resolve(server, false)
            .ok_or_else(|| EngineError::NotGranted(server.to_string()))?;
        if let GrantStatus::SignInNeeded { reason } = &grant.status {
            return Err(EngineError::SignInNeeded {
                issuer: grant.issuer.clone(),
                reason: reason.clone(),
            });
        }
        Ok((grant, entry))
    }

    pub(super) fn fresh(&self, c: &Cached, now: DateTime<Utc>) -> bool {
        let lifetime = c.expires_at - c.issued_at;
        let margin = self.config.refresh_margin.min(lifetime / 10);
        c.expires_at - margin > now
    }

    fn cached_for(&self, grant: &Grant, server: &str, kind: TokenKind) -> Option<Cached> {
        match kind {
            TokenKind::Shared => self.tokens.get(&grant.id, SHARED),
            TokenKind::Own => self.tokens.get(&grant.id, server),
            TokenKind::Unknown => self.tokens.get(&grant.id, server),
        }
    }

    /// A fresh token from memory, found without copying the grant (the
    /// common case, on every request a local client makes).
    fn fresh_in_memory(&self, server: &str) -> Option<IssuedToken> {
        let state = lock(&self.state);
        let (grant, entry) = crate::account::resolve(&state.grants, server, false)?;
        if matches!(grant.status, GrantStatus::SignInNeeded { .. }) {
            return None;
        }
        let slot = if entry.token_kind == TokenKind::Shared {
            SHARED
        } else {
            entry.id.as_str()
        };
        let cached = self.tokens.get(&grant.id, slot)?;
        self.fresh(&cached, self.clock.now())
            .then(|| issued(cached, &entry.id, entry.token_kind))
    }

    /// Forgets the in-memory token of `server` (id or URL), so the next
    /// request refreshes: for when the server itself refused the token.
    pub fn invalidate(&self, server: &str) {
        if let Some((grant, entry)) = self.resolve(server, false) {
            self.tokens.take(&grant.id, Some(&entry.id));
        }
    }

    /// The current access token for `server` (id or URL), refreshing first
    /// when it is missing or near expiry. Concurrent callers for one grant
    /// share one refresh.
    pub async fn token(&self, server: &str) -> Result<IssuedToken, EngineError> {
        if let Some(hit) = self.fresh_in_memory(server) {
            return Ok(hit);
        }
        self.token_from_as(server, false).await
    }

    /// A new access token for `server` from the AS now, whatever is in
    /// memory or however recently it was refreshed: what a person means by
    /// "Refresh now" (and how they learn at once that the AS has revoked the
    /// grant). A refresh already in flight for the grant finishes first;
    /// this one asks the AS after it, never reusing its answer.
    pub async fn refresh_now(&self, server: &str) -> Result<IssuedToken, EngineError> {
        self.token_from_as(server, true).await
    }

    async fn token_from_as(
        &self,
        server: &str,
        now_please: bool,
    ) -> Result<IssuedToken, EngineError> {
        let (grant, entry) = self.resolve_usable(server)?;
        let now = self.clock.now();
        if let Some(c) = self
            .cached_for(&grant, &entry.id, entry.token_kind)
            .filter(|c| !now_please && self.fresh(c, now))
        {
            return Ok(issued(c, &entry.id, entry.token_kind));
        }
        // Each server's own token by exchange where the AS offers it, all at once.
        if let Some(resource) = self.exchanges_for(&grant, &entry).await
            && let Some(token) = self
                .token_by_exchange(server, &resource, now_please)
                .await?
        {
            return Ok(token);
        }
        let flight = self.tokens.flight(&grant.id);
        let _guard = flight.lock().await;
        // Re-read: another caller may have refreshed (or the grant changed) while we waited.
        let (grant, entry) = self.resolve_usable(server)?;
        let now = self.clock.now();
        let cached = self.cached_for(&grant, &entry.id, entry.token_kind);
        if let Some(c) = cached.clone().filter(|c| !now_please && self.fresh(c, now)) {
            return Ok(issued(c, &entry.id, entry.token_kind));
        }
        // While backing off, nobody asks the AS unless a person asked: an
        // unexpired token is served, and without one the caller hears why at once.
        if let GrantStatus::Unreachable {
            retry_at, reason, ..
        } = &grant.status
            && *retry_at > now
            && !now_please
        {
            return match cached.filter(|c| c.expires_at > now) {
                Some(c) => Ok(issued(c, &entry.id, entry.token_kind)),
                None => Err(EngineError::Unreachable {
                    issuer: grant.issuer.clone(),
                    reason: reason.clone(),
                }),
            };
        }
        match self
            .refresh_for(
                &grant,
                &entry.id,
                entry
                    .resource_indicator
                    .as_deref()
                    .or(entry.resource.as_deref()),
                entry.token_kind,
            )
            .await
        {
            Ok(token) => Ok(token),
            Err(e) if is_transient(&e) => {
                self.note_unreachable(&grant, &e)?;
                match cached.filter(|c| c.expires_at > self.clock.now()) {
                    Some(c) => Ok(issued(c, &entry.id, entry.token_kind)),
                    None => Err(EngineError::Unreachable {
                        issuer: grant.issuer.clone(),
                        reason: e.to_string(),
                    }),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// One refresh for `server` of `grant`, trying an audience-restricted
    /// token first where one may be had.
    async fn refresh_for(
        &self,
        grant: &Grant,
        server: &str,
        resource: Option<&str>,
        kind: TokenKind,
    ) -> Result<IssuedToken, EngineError> {
        if let Some(machine) = self.machine_grant(&grant.id) {
            return self
                .machine_refresh(grant, &machine, server, resource, kind)
                .await;
        }
        if let Some(enterprise) = self.enterprise_grant(&grant.id) {
            return self
                .enterprise_refresh(grant, &enterprise, server, resource)
                .await;
        }
        // An issuer that refuses `resource` gets none on refresh either.
        let resource = resource.filter(|_| !self.provider_quirks(&grant.issuer).no_resource);
        let want_own = kind != TokenKind::Shared
            && resource.is_some()
            && (grant.mode != Mode::PerServer || grant.servers.len() == 1);
        let attempt = self
            .refresh_once(grant, if want_own { resource } else { None }, None)
            .await;
        let tokens = match attempt {
            // Only a Multi-Server AS is asked again without `resource`: a
            // standard AS (oidc-provider) may spend the refresh token even
            // when it refuses the resource, and a retry would be reuse.
            Err(EngineError::Token(TokenError::Refused {
                what: "resource", ..
            })) if want_own && grant.mode == Mode::MultiServer => {
                self.update_grant(&grant.id, |g| set_kind(g, server, TokenKind::Shared))?;
                self.refresh_once(grant, None, None).await?
            }
            other => other?,
        };
        let now = self.clock.now();
        let expires_at = now + expiry(&tokens);
        let granted = tokens.scope.as_deref().map(scope::split);
        let kind = match (want_own, granted.as_ref().and_then(|(_, s)| s.as_ref())) {
            (false, _) => TokenKind::Shared,
            (true, Some(ids)) if ids.len() == 1 && ids[0] == server => TokenKind::Own,
            (true, Some(_)) => TokenKind::Shared,
            (true, None) if grant.mode == Mode::MultiServer => TokenKind::Shared,
            (true, None) => TokenKind::Own,
        };
        let key = if kind == TokenKind::Own {
            server
        } else {
            SHARED
        };
        self.tokens
            .put(&grant.id, key, tokens.access_token.clone(), now, expires_at);
        self.update_grant(&grant.id, |g| {
            g.status = GrantStatus::Active;
            g.refreshed_at = Some(now);
            // The AS may start or stop binding tokens (DPoP) at any refresh.
            g.dpop_bound = tokens.dpop_bound;
            set_kind(g, server, kind);
            for s in g.servers.iter_mut().filter(|s| {
                s.id == server || (kind == TokenKind::Shared && s.token_kind != TokenKind::Own)
            }) {
                s.expires_at = Some(expires_at);
            }
            if !want_own && let Some((_, Some(ids))) = &granted {
                g.servers
                    .retain(|s| ids.contains(&s.id) || g.mode != Mode::MultiServer);
            }
        })?;
        crate::fault::point("refresh-after-state-write");
        Ok(IssuedToken {
            access_token: tokens.access_token,
            expires_at,
            server: server.to_string(),
            kind,
        })
    }

    /// One refresh-token exchange, persisting the rotated refresh token
    /// before anything else sees the new access token.
    pub(super) async fn refresh_once(
        &self,
        grant: &Grant,
        resource: Option<&str>,
        narrow_scope: Option<&str>,
    ) -> Result<Tokens, EngineError> {
        let metadata = self.metadata_for(&grant.issuer).await?;
        let reading = std::time::Instant::now();
        let (client, secret) = self
            .client_of(grant)
            .ok_or_else(|| EngineError::SignInNeeded {
                issuer: grant.issuer.clone(),
                reason: "the client registration is gone".into(),
            })?;
        let key = StoreKey::RefreshToken {
            grant_id: grant.id.clone(),
        };
        let Some(stored) = self.store.get(&key)? else {
            let reason = "its refresh token is not in the keyring (it was removed there, or this authorization server issues none); sign in again".to_string();
            self.update_grant(&grant.id, |g| {
                g.status = GrantStatus::SignInNeeded {
                    reason: reason.clone(),
                }
            })?;
            return Err(EngineError::SignInNeeded {
                issuer: grant.issuer.clone(),
                reason,
            });
        };
        let read = reading.elapsed();
        let dpop_key = self.dpop_key_for(&metadata)?;
        let endpoint = TokenEndpoint::new(&self.http, &metadata, &client, secret.as_ref())?
            .with_dpop(self.prover(dpop_key.as_deref()));
        let flow = if narrow_scope.is_some() {
            "narrow"
        } else {
            "refresh"
        };
        crate::fault::step(flow, "before-request");
        let started = std::time::Instant::now();
        let answer = endpoint
            .refresh(&RefreshToken::new(stored), narrow_scope, resource)
            .await;
        let asked = started.elapsed();
        let tokens = match answer {
            Ok(t) => t,
            Err(TokenError::InvalidClient(reason)) => {
                // The registration is gone at the AS: register anew at the next sign-in.
                let issuer = grant.issuer.clone();
                self.update(|s| s.clients.retain(|c| c.issuer != issuer))?;
                return Err(self.sign_in_needed(grant, &reason)?);
            }
            Err(TokenError::InvalidGrant(reason)) => {
                return Err(self.sign_in_needed(grant, &reason)?);
            }
            Err(e) => return Err(e.into()),
        };
        crate::fault::step(flow, "after-response");
        if let Some(rotated) = &tokens.refresh_token
            && let Err(e) = self.store.put(&key, rotated.expose())
        {
            let reason = format!(
                "the new refresh token could not be saved to the keyring ({e}); sign in again once the keyring works"
            );
            self.update_grant(&grant.id, |g| {
                g.status = GrantStatus::SignInNeeded {
                    reason: reason.clone(),
                }
            })?;
            return Err(EngineError::Store(e));
        }
        crate::fault::step(flow, "after-keyring-write");
        tracing::debug!(
            keyring_read_ms = read.as_secs_f64() * 1000.0,
            request_ms = asked.as_secs_f64() * 1000.0,
            keyring_write_ms = (started.elapsed() - asked).as_secs_f64() * 1000.0,
            "refresh"
        );
        Ok(tokens)
    }

    /// Marks `grant` "sign-in needed" after the AS refused its refresh token
    /// (never retried), drops its tokens, and returns the error to report.
    pub(super) fn sign_in_needed(
        &self,
        grant: &Grant,
        said: &str,
    ) -> Result<EngineError, EngineError> {
        tracing::warn!(issuer = %grant.issuer, "refresh refused; sign-in needed");
        self.tokens.take(&grant.id, None);
        let reason = format!("the authorization server refused the refresh token ({said})");
        self.update_grant(&grant.id, |g| {
            g.status = GrantStatus::SignInNeeded {
                reason: reason.clone(),
            }
        })?;
        Ok(EngineError::SignInNeeded {
            issuer: grant.issuer.clone(),
            reason,
        })
    }

    pub(super) fn note_unreachable(
        &self,
        grant: &Grant,
        e: &EngineError,
    ) -> Result<(), EngineError> {
        let now = self.clock.now();
        let attempts = match &grant.status {
            GrantStatus::Unreachable { attempts, .. } => attempts.saturating_add(1),
            _ => 1,
        };
        let jitter = Duration::milliseconds(i64::from(rand::random::<u16>() % 1000));
        let reason = e.to_string();
        self.update_grant(&grant.id, |g| {
            g.status = GrantStatus::Unreachable {
                reason,
                retry_at: now + backoff(attempts) + jitter,
                attempts,
            }
        })
    }
}

pub(super) fn issued(c: Cached, server: &str, kind: TokenKind) -> IssuedToken {
    IssuedToken {
        access_token: c.token,
        expires_at: c.expires_at,
        server: server.to_string(),
        kind,
    }
}

fn set_kind(grant: &mut Grant, server: &str, kind: TokenKind) {
    if let Some(s) = grant.servers.iter_mut().find(|s| s.id == server) {
        s.token_kind = kind;
    }
}

pub(super) fn expiry(tokens: &Tokens) -> Duration {
    tokens
        .expires_in
        .and_then(|d| Duration::from_std(d).ok())
        .filter(|d| *d > Duration::zero())
        .unwrap_or_else(|| Duration::minutes(5))
}

pub(super) fn is_transient(e: &EngineError) -> bool {
    matches!(e, EngineError::Token(t) if t.is_transient())
        || matches!(
            e,
            EngineError::Discovery(crate::discovery::DiscoveryError::Http(_))
        )
}

/// Doubling backoff: 2 s after the first failure, up to 5 minutes.
fn backoff(attempts: u32) -> Duration {
    let seconds = 2i64.saturating_mul(1i64 << attempts.saturating_sub(1).min(10));
    Duration::seconds(seconds.min(300))
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use chrono::Duration;

    #[test]
    fn backoff_doubles_and_caps_at_five_minutes() {
        assert_eq!(backoff(1), Duration::seconds(2));
        assert_eq!(backoff(2), Duration::seconds(4));
        assert_eq!(backoff(5), Duration::seconds(32));
        assert_eq!(backoff(40), Duration::seconds(300));
    }
}
