//! Signing in with a code on another device (RFC 8628): the same plans as
//! a browser sign-in, but the person approves on any machine by typing a
//! user code, and the grant is kept exactly as after a code exchange.

use super::Engine;
use super::login::LoginRequest;
use super::plan::Plan;
use crate::device::{DeviceClient, DeviceCode, DeviceError};
use crate::error::EngineError;
use crate::model::{Grant, Mode};

/// Shows a device code to the person (the CLI prints it; the broker
/// passes it to the CLI that asked).
pub trait DevicePrompt: Send + Sync {
    /// `code` is ready at `issuer`: show its verification URI and user code.
    fn show(&self, issuer: &str, code: &DeviceCode);
}

impl Engine {
    /// Signs in through the device authorization grant. Every authorization
    /// server the request reaches must offer it; when one does not, this
    /// fails with [`DeviceError::NotOffered`] before anything is asked or kept.
    pub async fn login_device(
        &self,
        request: &LoginRequest,
        prompt: &dyn DevicePrompt,
    ) -> Result<Vec<Grant>, EngineError> {
        let (plans, undiscovered) = self
            .plan(request, &crate::providers::QuirkOverrides::default())
            .await?;
        if let Some((_, e)) = undiscovered.into_iter().next() {
            return Err(e);
        }
        if let Some(plan) = plans
            .iter()
            .find(|p| p.metadata.device_authorization_endpoint.is_none())
        {
            return Err(DeviceError::NotOffered {
                issuer: plan.issuer.clone(),
            }
            .into());
        }
        let mut grants = Vec::new();
        for plan in plans {
            let grant = self.run_device_flow(&plan, request, prompt).await?;
            // The other servers of a multi-resource grant get their tokens
            // by refresh; one the AS refuses is left out of the grant.
            let grant = if plan.mode == Mode::MultiResource && plan.resources.len() > 1 {
                self.complete_multi_resource(&plan, grant).await?.0
            } else {
                grant
            };
            grants.push(grant);
        }
        Ok(grants)
    }

    async fn run_device_flow(
        &self,
        plan: &Plan,
        request: &LoginRequest,
        prompt: &dyn DevicePrompt,
    ) -> Result<Grant, EngineError> {
        let (client, secret) = self.ensure_client(plan, request).await?;
        let device = DeviceClient::new(
            &self.http,
            &plan.issuer,
            &plan.metadata,
            &client,
            secret.as_ref(),
        )?;
        // The same resources as the authorization request would name.
        let mut resources = Vec::new();
        if plan.mode == Mode::MultiServer {
            resources.push(plan.issuer.clone());
        }
        resources.extend(plan.resources.iter().cloned());
        let code = device
            .request_code(plan.scope.as_deref(), &resources)
            .await?;
        prompt.show(&plan.issuer, &code);
        // One `resource` per token request, as for the code exchange.
        let token_resources: Vec<String> = match plan.mode {
            _ if self.provider_quirks(&plan.issuer).no_resource => Vec::new(),
            Mode::PerServer | Mode::Enterprise => plan.resources.clone(),
            Mode::MultiResource => plan.resources.iter().take(1).cloned().collect(),
            Mode::MultiServer => Vec::new(),
        };
        let tokens = device
            .wait_for_tokens(&code, &token_resources, request.timeout)
            .await?;
        self.keep(plan, request, &client, tokens).await
    }
}
