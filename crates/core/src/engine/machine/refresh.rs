//! Renewing a machine grant's token: there is no refresh token, so the
//! same request is sent again with the same credential.

use super::{MachineCredential, MachineGrant};
use crate::engine::cache::SHARED;
use crate::engine::{Engine, IssuedToken};
use crate::error::EngineError;
use crate::model::{Grant, GrantStatus, TokenKind};
use crate::secret::ClientSecret;
use crate::store::StoreKey;

impl Engine {
    /// Renews a machine grant's token for `server`: the same request again.
    pub(in crate::engine) async fn machine_refresh(
        &self,
        grant: &Grant,
        entry: &MachineGrant,
        server: &str,
        resource: Option<&str>,
        kind: TokenKind,
    ) -> Result<IssuedToken, EngineError> {
        let metadata = self.metadata_for(&grant.issuer).await?;
        let secret = match entry.credential {
            MachineCredential::ClientSecret => self
                .store
                .get(&StoreKey::MachineSecret {
                    grant_id: grant.id.clone(),
                })?
                .map(ClientSecret::new),
            _ => None,
        };
        let resource = resource.filter(|_| !self.provider_quirks(&grant.issuer).no_resource);
        let tokens = self
            .ask(&metadata, entry, secret.as_ref(), resource)
            .await?;
        let now = self.clock.now();
        let lifetime = tokens
            .expires_in
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .unwrap_or(chrono::Duration::minutes(5));
        let expires_at = now + lifetime;
        let kind = if kind == TokenKind::Shared {
            TokenKind::Shared
        } else {
            TokenKind::Own
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
            for s in g
                .servers
                .iter_mut()
                .filter(|s| s.id == server || kind == TokenKind::Shared)
            {
                s.token_kind = kind;
                s.expires_at = Some(expires_at);
            }
        })?;
        Ok(IssuedToken {
            access_token: tokens.access_token,
            expires_at,
            server: server.to_string(),
            kind,
        })
    }
}
