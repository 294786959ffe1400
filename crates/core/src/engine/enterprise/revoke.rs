//! Ending enterprise grants: one server leaves the grant (its token
//! revoked at its AS where that AS allows it), or the whole grant goes (the
//! IdP refresh token revoked at the IdP where it allows it, the secrets
//! deleted).

use super::{EnterpriseGrant, EnterpriseServer};
use crate::engine::{Engine, lock};
use crate::error::EngineError;
use crate::id_jag::IdpMetadata;
use crate::metadata::AsMetadata;
use crate::model::Grant;
use crate::secret::{ClientSecret, RefreshToken};
use crate::store::StoreKey;

impl Engine {
    /// Removes one server from an enterprise grant: its token is revoked at
    /// its AS where that AS has a revocation endpoint, and it leaves the grant.
    pub(in crate::engine) async fn revoke_enterprise_server(
        &self,
        grant: &Grant,
        entry: &EnterpriseGrant,
        server: &str,
    ) -> Result<(), EngineError> {
        let flight = self.tokens.flight(&grant.id);
        let _guard = flight.lock().await;
        let old = self.tokens.take(&grant.id, Some(server));
        let grant_id = grant.id.clone();
        self.update(|s| {
            if let Some(g) = s.grants.iter_mut().find(|g| g.id == grant_id) {
                g.servers.retain(|x| x.id != server);
                g.blocked.retain(|b| b != server);
            }
            if let Some(e) = s.enterprise.iter_mut().find(|e| e.grant_id == grant_id) {
                e.servers.retain(|x| x.server != server);
            }
        })?;
        if let Some(target) = entry.servers.iter().find(|s| s.server == server) {
            self.revoke_at_as(grant, target, &old).await;
        }
        Ok(())
    }

    /// Forgets an enterprise grant: revokes each server's token at its AS
    /// and the IdP refresh token at the IdP where they allow it (best
    /// effort), and deletes its secrets and its entry.
    pub(in crate::engine) async fn forget_enterprise(&self, grant: &Grant) {
        let Some(entry) = self.enterprise_grant(&grant.id) else {
            return;
        };
        for target in &entry.servers {
            let old = self.tokens.take(&grant.id, Some(&target.server));
            self.revoke_at_as(grant, target, &old).await;
        }
        let key = StoreKey::IdpRefreshToken {
            grant_id: grant.id.clone(),
        };
        if let Ok(Some(rt)) = self.store.get(&key)
            && let Ok(idp) = self.idp_metadata(&entry.idp).await
        {
            self.revoke_idp_refresh(&idp, &entry.idp_client_id, &RefreshToken::new(rt))
                .await;
        }
        for key in [
            key,
            StoreKey::EnterpriseSecret {
                grant_id: grant.id.clone(),
            },
        ] {
            if let Err(e) = self.store.delete(&key) {
                tracing::warn!(error = %e, "could not delete a secret from the keyring");
            }
        }
        lock(&self.enterprise.id_tokens).remove(&grant.id);
        if let Err(e) = self.update(|s| s.enterprise.retain(|e| e.grant_id != grant.id)) {
            tracing::warn!(error = %e, "could not update the state file");
        }
    }

    /// Ends a sign-in at the IdP by revoking its refresh token, where the
    /// IdP has a revocation endpoint (best effort: a failure is logged).
    pub(super) async fn revoke_idp_refresh(
        &self,
        idp: &IdpMetadata,
        idp_client_id: &str,
        refresh: &RefreshToken,
    ) {
        let Some(endpoint) = &idp.revocation_endpoint else {
            return;
        };
        let metadata = revocation_only(idp, endpoint);
        let record = crate::model::ClientRecord {
            issuer: idp.issuer.clone(),
            client_id: idp_client_id.to_string(),
            auth: crate::model::ClientAuth::None,
            registration: crate::model::Registration::Preregistered,
            redirect_uris: Vec::new(),
        };
        if let Ok(endpoint) = crate::token::TokenEndpoint::new(&self.http, &metadata, &record, None)
            && let Err(e) = endpoint.revoke_refresh(refresh).await
        {
            tracing::warn!(idp = %idp.issuer, error = %e, "could not revoke the sign-in at the identity provider");
        }
    }

    async fn revoke_at_as(
        &self,
        grant: &Grant,
        target: &EnterpriseServer,
        tokens: &[crate::secret::AccessToken],
    ) {
        if tokens.is_empty() {
            return;
        }
        let Ok(metadata) = self.metadata_for(&target.issuer).await else {
            return;
        };
        if metadata.revocation_endpoint.is_none() {
            return;
        }
        let secret = self
            .store
            .get(&StoreKey::EnterpriseSecret {
                grant_id: grant.id.clone(),
            })
            .ok()
            .flatten()
            .map(ClientSecret::new);
        let record = crate::model::ClientRecord {
            issuer: target.issuer.clone(),
            client_id: target.client_id.clone(),
            auth: if secret.is_some() {
                crate::model::ClientAuth::ClientSecretBasic
            } else {
                crate::model::ClientAuth::None
            },
            registration: crate::model::Registration::Preregistered,
            redirect_uris: Vec::new(),
        };
        let Ok(endpoint) =
            crate::token::TokenEndpoint::new(&self.http, &metadata, &record, secret.as_ref())
        else {
            return;
        };
        for token in tokens {
            if let Err(e) = endpoint.revoke_access(token).await {
                tracing::warn!(issuer = %target.issuer, error = %e, "could not revoke an access token");
            }
        }
    }
}

/// Just enough AS metadata for the revocation of the IdP's refresh token.
fn revocation_only(idp: &IdpMetadata, endpoint: &str) -> AsMetadata {
    AsMetadata {
        issuer: idp.issuer.clone(),
        authorization_endpoint: idp.authorization_endpoint.clone().unwrap_or_default(),
        token_endpoint: idp.token_endpoint.clone(),
        registration_endpoint: None,
        revocation_endpoint: Some(endpoint.to_string()),
        scopes_supported: None,
        code_challenge_methods_supported: None,
        authorization_response_iss_parameter_supported: false,
        client_id_metadata_document_supported: false,
        token_endpoint_auth_methods_supported: None,
        resource_indicators_supported: None,
        device_authorization_endpoint: None,
        mcp_server_catalog_endpoint: None,
        dpop_signing_alg_values_supported: None,
        grant_types_supported: None,
    }
}
