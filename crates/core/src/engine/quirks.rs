//! The engine's side of provider quirks ([`crate::providers`]): reading an
//! issuer's settings, keeping the user's overrides and confirmations per
//! issuer, and learning from an AS's answers (a refused `resource`, a
//! missing refresh token), each remembered in the state file.

use super::Engine;
use super::login::{LoginRequest, Opener};
use super::plan::Plan;
use crate::error::EngineError;
use crate::metadata::AsMetadata;
use crate::model::{Grant, Mode};
use crate::providers::{self, ProviderQuirks, QuirkOverrides};
use crate::store::StoreKey;
use crate::token::TokenError;

impl Engine {
    /// What `issuer` needs: its built-in profile joined with the settings
    /// stored for it.
    pub fn provider_quirks(&self, issuer: &str) -> ProviderQuirks {
        providers::effective(issuer, super::lock(&self.state).providers.get(issuer))
    }

    /// Changes the settings stored for `issuer` and saves them.
    pub fn update_provider_quirks(
        &self,
        issuer: &str,
        change: impl FnOnce(&mut ProviderQuirks),
    ) -> Result<(), EngineError> {
        self.update(|s| {
            let entry = s.providers.entry(issuer.to_string()).or_default();
            change(entry);
            if *entry == ProviderQuirks::default() {
                s.providers.remove(issuer);
            }
        })
    }

    /// Allows `hosts` (`host` or `host:port`, as [`providers::parse_host`]
    /// gives them) for the endpoints of this exact `issuer`, once confirmed
    /// by the user (SECURITY 7).
    pub fn allow_endpoint_hosts(&self, issuer: &str, hosts: &[String]) -> Result<(), EngineError> {
        self.update_provider_quirks(issuer, |q| {
            for h in hosts {
                if !q.endpoint_hosts.contains(h) {
                    q.endpoint_hosts.push(h.clone());
                }
            }
        })
    }

    /// The extra endpoint hosts allowed for `issuer` during this sign-in.
    pub(super) fn endpoint_hosts(&self, issuer: &str, overrides: &QuirkOverrides) -> Vec<String> {
        let mut hosts = self.provider_quirks(issuer).endpoint_hosts;
        hosts.extend(overrides.endpoint_hosts.iter().cloned());
        hosts
    }

    /// Remembers `overrides` for `issuer`, whose checked metadata is `metadata`.
    pub(super) fn adopt_overrides(
        &self,
        issuer: &str,
        metadata: &AsMetadata,
        overrides: &QuirkOverrides,
    ) -> Result<(), EngineError> {
        if overrides.is_empty() {
            return Ok(());
        }
        let used: Vec<String> = [
            Some(&metadata.authorization_endpoint),
            Some(&metadata.token_endpoint),
            metadata.revocation_endpoint.as_ref(),
        ]
        .into_iter()
        .flatten()
        .filter_map(|e| url::Url::parse(e).ok())
        .map(|u| providers::authority(&u))
        .filter(|h| overrides.endpoint_hosts.contains(h))
        .collect();
        self.update_provider_quirks(issuer, |q| {
            q.no_resource |= overrides.no_resource;
            for (k, v) in &overrides.authorize_params {
                q.authorize_params.insert(k.clone(), v.clone());
            }
            for h in used {
                if !q.endpoint_hosts.contains(&h) {
                    q.endpoint_hosts.push(h);
                }
            }
        })
    }

    /// Runs a flow and learns from the AS's answer, each lesson remembered
    /// for the issuer and acted on once: when a per-server flow's
    /// `resource` parameter is refused (at the authorization redirect or
    /// the token endpoint), the flow runs again without it; when no refresh
    /// token came back and the AS lists `offline_access` (SEP-2207), the
    /// flow runs again at once asking for it.
    pub(super) async fn run_flow_learning(
        &self,
        plan: &Plan,
        request: &LoginRequest,
        opener: &dyn Opener,
    ) -> Result<Grant, EngineError> {
        let result = self.run_flow(plan, request, opener).await;
        let refused = match &result {
            Err(EngineError::Denied { error, description }) => {
                providers::refuses_resource(error, description)
            }
            Err(EngineError::Token(TokenError::Refused {
                what: "resource", ..
            })) => true,
            Err(EngineError::Token(TokenError::Other { error, description })) => {
                providers::refuses_resource(error, description)
            }
            _ => false,
        };
        let result = if refused
            && plan.mode == Mode::PerServer
            && !self.provider_quirks(&plan.issuer).no_resource
        {
            tracing::info!(issuer = %plan.issuer, "the authorization server refuses the resource parameter; signing in again without it (remembered for this issuer)");
            self.update_provider_quirks(&plan.issuer, |q| q.no_resource = true)?;
            self.run_flow(plan, request, opener).await
        } else {
            result
        };
        let grant = result?;
        let key = StoreKey::RefreshToken {
            grant_id: grant.id.clone(),
        };
        if self.store.get(&key)?.is_none() && self.learn_offline_access(plan)? {
            // Asked again at once: the grant just made stays until the
            // new one, with a refresh token, replaces it.
            return match self.run_flow(plan, request, opener).await {
                Ok(again) => Ok(again),
                Err(e) => {
                    tracing::warn!(issuer = %plan.issuer, error = %e, "asking again with offline_access failed; keeping the grant without a refresh token");
                    Ok(grant)
                }
            };
        }
        Ok(grant)
    }

    /// The scope to request from `plan`'s AS: with `offline_access` where
    /// the issuer's settings ask for it and the AS lists it (SEP-2207: never
    /// where it does not).
    pub(super) fn requested_scope(&self, plan: &Plan) -> Option<String> {
        let listed = plan
            .metadata
            .scopes_supported
            .as_ref()
            .is_some_and(|s| s.iter().any(|x| x == "offline_access"));
        if listed && self.provider_quirks(&plan.issuer).offline_access {
            crate::scope::union([plan.scope.as_deref(), Some("offline_access")])
        } else {
            plan.scope.clone()
        }
    }

    /// After a sign-in that brought no refresh token: where the AS lists
    /// `offline_access` and it was not asked for, remember to ask for it
    /// from now on. Returns whether it was learned now.
    pub(super) fn learn_offline_access(&self, plan: &Plan) -> Result<bool, EngineError> {
        let listed = plan
            .metadata
            .scopes_supported
            .as_ref()
            .is_some_and(|s| s.iter().any(|x| x == "offline_access"));
        if !listed || self.provider_quirks(&plan.issuer).offline_access {
            return Ok(false);
        }
        tracing::warn!(issuer = %plan.issuer, "no refresh token issued; asking again with offline_access (remembered for this issuer)");
        self.update_provider_quirks(&plan.issuer, |q| q.offline_access = true)?;
        Ok(true)
    }
}
