//! The engine's side of several accounts: the label a new grant gets, the
//! grant and server an address names (see [`crate::account`]), and
//! signing out of one account.

use super::{Engine, LoginRequest, lock};
use crate::account;
use crate::error::EngineError;
use crate::model::{ClientRecord, Grant, GrantedServer};
use crate::secret::ClientSecret;
use crate::token::Tokens;

/// The label of a grant made by `request`: the one chosen, else the
/// token's, else "default".
pub(super) fn label_for(request: &LoginRequest, tokens: &Tokens) -> String {
    request
        .account
        .clone()
        .or_else(|| account::label_from_token(tokens.access_token.expose()))
        .unwrap_or_else(|| account::DEFAULT.to_string())
}

impl Engine {
    /// The client `grant` was issued to: an older account's grant keeps
    /// its own registration after a later sign-in registered anew (a
    /// loopback redirect on another port). Falls back to the latest client.
    pub(super) fn client_of(&self, grant: &Grant) -> Option<(ClientRecord, Option<ClientSecret>)> {
        let (latest, secret) = self.client_for(&grant.issuer)?;
        if latest.client_id == grant.client_id {
            return Some((latest, secret));
        }
        let own = lock(&self.state)
            .clients
            .iter()
            .find(|c| c.issuer == grant.issuer && c.client_id == grant.client_id)
            .cloned();
        // The store keeps one client secret per issuer: the latest client's.
        match own {
            Some(record) if record.auth == crate::model::ClientAuth::None => Some((record, None)),
            _ => Some((latest, secret)),
        }
    }

    /// The grant and server `address` names: an id or URL (the first
    /// account holding it), or either with `@<label>`. Blocked servers are
    /// skipped unless `with_blocked`.
    pub fn resolve(&self, address: &str, with_blocked: bool) -> Option<(Grant, GrantedServer)> {
        let state = lock(&self.state);
        account::resolve(&state.grants, address, with_blocked).map(|(g, s)| (g.clone(), s.clone()))
    }

    /// What `read` takes from the grant and server `address` names (as
    /// [`Engine::resolve`]), without copying them: for what every proxied
    /// request asks. `read` runs under the state lock: it must not call the
    /// engine.
    pub fn with_resolved<R>(
        &self,
        address: &str,
        with_blocked: bool,
        read: impl FnOnce(&Grant, &GrantedServer) -> R,
    ) -> Option<R> {
        let state = lock(&self.state);
        account::resolve(&state.grants, address, with_blocked).map(|(g, s)| read(g, s))
    }

    /// The address of server `id` in grant `grant_id` as the user and
    /// clients use it (`id`, or `id@label` for a second account).
    pub fn address_of(&self, grant_id: &str, id: &str) -> Option<String> {
        let state = lock(&self.state);
        let grant = state.grants.iter().find(|g| g.id == grant_id)?;
        Some(account::address(&state.grants, grant, id))
    }

    /// Signs out of the account `label` (at `issuer`, or at every issuer):
    /// each of its grants is revoked at the AS, deleted from the store and
    /// forgotten; other accounts are untouched. Returns how many.
    pub async fn sign_out_account(
        &self,
        issuer: Option<&str>,
        label: &str,
    ) -> Result<usize, EngineError> {
        let ids: Vec<String> = self
            .grants()
            .into_iter()
            .filter(|g| issuer.is_none_or(|i| g.issuer == i) && g.account_label() == label)
            .map(|g| g.id)
            .collect();
        for id in &ids {
            self.sign_out_grant(id).await?;
        }
        Ok(ids.len())
    }
}
