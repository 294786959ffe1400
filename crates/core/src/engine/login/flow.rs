//! One sign-in flow: the client at the AS (stored, pre-registered, or
//! registered now), the authorization URL with PKCE and `state`, the page
//! and its callback, and the code exchanged for tokens.

use super::{LoginRequest, Opener};
use crate::discovery;
use crate::engine::Engine;
use crate::engine::plan::Plan;
use crate::error::EngineError;
use crate::flows::PendingFlow;
use crate::model::{Grant, Mode, Registration};
use crate::registration::{self, ClientChoice};
use crate::store::StoreKey;
use crate::token::TokenEndpoint;
use crate::{pkce, url_policy};
use url::Url;

impl Engine {
    pub(in crate::engine) async fn ensure_client(
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

    pub(in crate::engine) async fn run_flow(
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
}
