//! The demo's enterprise identity provider (`DemoConfig::idp`): the IdP role
//! on a listener of its own, trusting the demo AS for every catalog server
//! (or, per user, `idp_allowed`), and what a client needs to use it.

use super::{DemoConfig, DemoError, bind};
use crate::config::CatalogEntry;
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The AS-side client id the demo IdP names in its ID-JAGs.
pub const ENTERPRISE_CLIENT_ID: &str = "mcp-passport-enterprise";

/// What a client needs to use the demo's IdP (Enterprise-Managed Authorization).
#[derive(Debug, Clone, Serialize)]
pub struct EnterpriseInfo {
    /// The IdP's issuer (its OpenID configuration is at
    /// `{idp_issuer}/.well-known/openid-configuration`).
    pub idp_issuer: String,
    /// The public client id registered at the IdP ([`crate::idp::DEMO_CLIENT_ID`]).
    pub idp_client_id: String,
    /// The client id at the AS, named in the ID-JAGs ([`ENTERPRISE_CLIENT_ID`]).
    pub as_client_id: String,
    /// Its secret for `client_secret_basic`, or `None` when it is public.
    pub as_client_secret: Option<String>,
}

/// The running IdP role.
pub(super) struct RunningIdp {
    pub(super) state: std::sync::Arc<crate::idp::IdpState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningIdp {
    /// Stops the IdP and waits until its port is free.
    pub(super) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// Starts the IdP role on `port` for the AS at `as_issuer` and its `catalog`.
pub(super) async fn start_idp(
    config: &DemoConfig,
    port: u16,
    as_issuer: &str,
    catalog: &[CatalogEntry],
) -> Result<(RunningIdp, EnterpriseInfo), DemoError> {
    let listener = bind(port).await?;
    let addr = listener
        .local_addr()
        .map_err(|source| DemoError::Bind { port, source })?;
    let issuer = format!("http://127.0.0.1:{}", addr.port());
    let resource_of = |id: &String| {
        catalog
            .iter()
            .find(|e| &e.id == id)
            .map(|e| e.resource.clone())
    };
    let mut idp_config = crate::idp::IdpConfig::new(issuer.clone());
    idp_config.users = config.users.clone();
    idp_config.state_dir = config.state_dir.as_ref().map(|d| d.join("idp"));
    idp_config.trusted = vec![crate::idp::TrustedAs {
        issuer: as_issuer.to_string(),
        client_id: ENTERPRISE_CLIENT_ID.into(),
        resources: catalog.iter().map(|e| e.resource.clone()).collect(),
    }];
    idp_config.policies = config
        .idp_allowed
        .iter()
        .map(|(user, ids)| crate::idp::UserPolicy {
            user: user.clone(),
            resources: ids.iter().filter_map(resource_of).collect(),
        })
        .collect();
    let state = std::sync::Arc::new(crate::idp::IdpState::open(idp_config)?);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(crate::idp::serve(
        std::sync::Arc::clone(&state),
        listener,
        async move {
            let _ = stopped.await;
        },
    ));
    let as_client_secret = (!config.idp_public_client).then(crate::crypto::random_token);
    if let Some(secret) = &as_client_secret {
        crate::secrets_log::record("client_secret", secret);
    }
    let info = EnterpriseInfo {
        idp_issuer: issuer,
        idp_client_id: crate::idp::DEMO_CLIENT_ID.into(),
        as_client_id: ENTERPRISE_CLIENT_ID.into(),
        as_client_secret,
    };
    let running = RunningIdp {
        state,
        stop: Some(stop),
        task: Some(task),
    };
    Ok((running, info))
}
