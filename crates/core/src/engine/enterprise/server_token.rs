//! One server's token of an enterprise grant: an ID-JAG from the IdP for
//! the server's AS, then the JWT bearer grant there; at sign-in, and again
//! to renew it.

use super::EnterpriseGrant;
use crate::engine::{Engine, IssuedToken};
use crate::error::EngineError;
use crate::id_jag::{self, BearerRequest, IdToken, IdpError, IdpMetadata, JagRequest};
use crate::metadata::AsMetadata;
use crate::model::{Grant, GrantStatus, TokenKind};
use crate::secret::ClientSecret;
use crate::store::StoreKey;
use crate::token::Tokens;
use chrono::Duration;

impl Engine {
    /// Renews one server's token of an enterprise grant: a new ID-JAG from
    /// the IdP (with a fresh ID token first when it has expired), then the
    /// JWT bearer grant at the server's AS.
    pub(in crate::engine) async fn enterprise_refresh(
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
    pub(super) async fn server_token(
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
}

pub(super) fn lifetime(tokens: &Tokens) -> Duration {
    tokens
        .expires_in
        .and_then(|d| Duration::from_std(d).ok())
        .unwrap_or(Duration::minutes(5))
}
