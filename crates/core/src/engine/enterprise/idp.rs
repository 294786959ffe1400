//! The IdP session of enterprise grants: the IdP's configuration, the
//! browser sign-in there, and the ID token (memory only), renewed by the
//! IdP refresh token (`StoreKey::IdpRefreshToken`) or reread from its file.

use super::{EnterpriseGrant, EnterpriseLogin};
use crate::engine::login::Opener;
use crate::engine::{Engine, lock};
use crate::error::EngineError;
use crate::flows::PendingFlow;
use crate::id_jag::{self, IdToken, IdpError, IdpMetadata};
use crate::model::{Grant, GrantStatus};
use crate::secret::RefreshToken;
use crate::store::StoreKey;
use crate::token::TokenError;
use crate::{pkce, url_policy};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

/// The ID tokens (memory only) and the IdPs' configurations.
#[derive(Debug, Default)]
pub(in crate::engine) struct IdpSessions {
    pub(super) id_tokens: Mutex<HashMap<String, (IdToken, DateTime<Utc>)>>,
    metadata: Mutex<HashMap<String, IdpMetadata>>,
}

/// An ID token is renewed this long before its `exp`.
const ID_TOKEN_MARGIN_SECS: i64 = 60;

impl Engine {
    /// The IdP's configuration, fetched once per run.
    pub(super) async fn idp_metadata(&self, issuer: &str) -> Result<IdpMetadata, EngineError> {
        if let Some(m) = lock(&self.enterprise.metadata).get(issuer) {
            return Ok(m.clone());
        }
        let m = id_jag::fetch_idp_metadata(&self.http, issuer).await?;
        lock(&self.enterprise.metadata).insert(issuer.to_string(), m.clone());
        Ok(m)
    }

    /// The browser sign-in at the IdP, through the same pending flows,
    /// loopback or deep link, and `state`/`iss` checks as any sign-in.
    pub(super) async fn idp_sign_in(
        &self,
        idp: &IdpMetadata,
        login: &EnterpriseLogin,
        opener: &dyn Opener,
    ) -> Result<id_jag::IdpTokens, EngineError> {
        let s256 = idp
            .code_challenge_methods_supported
            .as_ref()
            .is_some_and(|m| m.iter().any(|x| x == "S256"));
        let Some(endpoint) = idp.authorization_endpoint.as_ref().filter(|_| s256) else {
            return Err(IdpError::NoBrowserSignIn {
                issuer: idp.issuer.clone(),
            }
            .into());
        };
        let issuer_url = url_policy::check_user_url(&idp.issuer)?;
        let mut url = url_policy::check_endpoint(endpoint, &issuer_url)?;
        let (challenge, verifier) = pkce::new_pkce();
        let state = pkce::new_state();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &login.idp_client_id)
            .append_pair("redirect_uri", &login.redirect_uri)
            .append_pair("scope", id_jag::IDP_SCOPE)
            .append_pair("state", &state)
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", "S256");
        let url = url_policy::check_browser_url(url.as_str())?;
        let timeout = Duration::from_std(login.timeout).unwrap_or(Duration::minutes(10));
        let receiver = self.flows.register(PendingFlow {
            state: state.clone(),
            issuer: idp.issuer.clone(),
            iss_required: idp.authorization_response_iss_parameter_supported,
            redirect_uri: login.redirect_uri.clone(),
            verifier,
            expires_at: self.clock.now() + timeout,
        });
        let accepted = self
            .open_and_wait(opener, &url, &state, receiver, login.timeout)
            .await?;
        id_jag::redeem_code(
            &self.http,
            idp,
            &login.idp_client_id,
            &accepted.code,
            accepted.flow.verifier.secret(),
            &login.redirect_uri,
        )
        .await
    }

    /// The grant's ID token: from memory while it has a minute left, else
    /// reread from its file, else a fresh one by the IdP refresh token
    /// (rotated, kept in the store before anything else).
    pub(super) async fn current_id_token(
        &self,
        grant: &Grant,
        entry: &EnterpriseGrant,
        idp: &IdpMetadata,
    ) -> Result<IdToken, EngineError> {
        let now = self.clock.now();
        if let Some((token, exp)) = lock(&self.enterprise.id_tokens).get(&grant.id)
            && *exp - Duration::seconds(ID_TOKEN_MARGIN_SECS) > now
        {
            return Ok(token.clone());
        }
        if let Some(file) = &entry.id_token_file {
            let token = IdToken::new(crate::client_assertion::read_assertion(file)?);
            self.remember_id_token(&grant.id, &token);
            return Ok(token);
        }
        let key = StoreKey::IdpRefreshToken {
            grant_id: grant.id.clone(),
        };
        let Some(stored) = self.store.get(&key)? else {
            return Err(self.enterprise_sign_in_needed(
                grant,
                "the sign-in with your organization is not in the keyring (it was removed there, or the identity provider issued no refresh token); sign in with your organization again",
            )?);
        };
        let tokens = match id_jag::refresh_id_token(
            &self.http,
            idp,
            &entry.idp_client_id,
            &RefreshToken::new(stored),
        )
        .await
        {
            Ok(t) => t,
            Err(EngineError::Token(TokenError::InvalidGrant(said))) => {
                return Err(self.enterprise_sign_in_needed(
                    grant,
                    &format!(
                        "your organization's identity provider ended the sign-in ({said}); sign in with your organization again"
                    ),
                )?);
            }
            Err(e) => return Err(e),
        };
        if let Some(rotated) = &tokens.refresh_token
            && let Err(e) = self.store.put(&key, rotated.expose())
        {
            self.enterprise_sign_in_needed(
                grant,
                &format!(
                    "the new sign-in could not be saved to the keyring ({e}); sign in with your organization again once the keyring works"
                ),
            )?;
            return Err(EngineError::Store(e));
        }
        self.remember_id_token(&grant.id, &tokens.id_token);
        Ok(tokens.id_token)
    }

    pub(super) fn remember_id_token(&self, grant_id: &str, token: &IdToken) {
        let exp = id_jag::expiry(token.expose())
            .unwrap_or_else(|| self.clock.now() + Duration::minutes(5));
        lock(&self.enterprise.id_tokens).insert(grant_id.to_string(), (token.clone(), exp));
    }

    fn enterprise_sign_in_needed(
        &self,
        grant: &Grant,
        reason: &str,
    ) -> Result<EngineError, EngineError> {
        self.tokens.take(&grant.id, None);
        lock(&self.enterprise.id_tokens).remove(&grant.id);
        self.update_grant(&grant.id, |g| {
            g.status = GrantStatus::SignInNeeded {
                reason: reason.to_string(),
            }
        })?;
        Ok(EngineError::SignInNeeded {
            issuer: grant.issuer.clone(),
            reason: reason.to_string(),
        })
    }
}
