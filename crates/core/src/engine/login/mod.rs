//! Signing in: plan the flows a login needs (one global flow per
//! Multi-Server AS, one multi-resource flow per RFC 8707 AS, one flow per
//! server elsewhere), run each through the browser and a callback, and
//! store the resulting grant, replacing the grant it supersedes only once
//! the new one is safely stored.
//!
//! Here: what a sign-in asks for, the page opener, and waiting for a flow.
//! Beside it: one flow from client to code exchange (`flow`), and keeping
//! the grant it returns, or forgetting one (`keep`).

use super::Engine;
use crate::error::EngineError;
use crate::flows::FlowEnd;
use crate::model::Grant;
use crate::providers::QuirkOverrides;
use crate::registration::ClientChoice;
use url::Url;

mod flow;
mod keep;

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
}
