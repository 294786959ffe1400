//! Minting a token response for a grant: the `at+jwt` access token (its
//! `aud` the grant's server ids, or one server's), a rotated refresh token,
//! and the `scope` with the `servers:` list.

use crate::crypto::{digest, now, random_token};
use crate::db::{self, GrantRow};
use crate::error::OAuthError;
use crate::scope;
use crate::state::AsState;
use rusqlite::Connection;
use serde_json::{Value, json};

/// What one access token covers.
#[derive(Debug, Clone)]
pub struct Audience {
    /// The server ids in `aud`.
    pub servers: Vec<String>,
    /// Whether a `resource` parameter narrowed it to named servers.
    pub narrowed: bool,
    /// Plain scopes in the token (a subset of the grant's).
    pub scope: Vec<String>,
    /// The thumbprint of the DPoP key the token is bound to (`cnf.jkt`).
    pub jkt: Option<String>,
}

impl Audience {
    /// The whole grant.
    pub fn of_grant(grant: &GrantRow) -> Self {
        Self {
            servers: grant.servers.clone(),
            narrowed: false,
            scope: grant.scope.clone(),
            jkt: None,
        }
    }

    fn aud_claim(&self, grant: &GrantRow) -> Value {
        match self.servers.as_slice() {
            [one] if self.narrowed || !grant.global => json!(one),
            many => json!(many),
        }
    }
}

/// Maps `resource` parameters to server ids of `granted`; the AS root means
/// "no narrowing". `Err` when one names a server outside the grant.
pub fn resources_to_servers(
    state: &AsState,
    resources: &[&str],
    granted: &[String],
) -> Result<Option<Vec<String>>, OAuthError> {
    let mut ids = Vec::new();
    for resource in resources {
        if state.config.is_root_resource(resource) {
            continue;
        }
        match state.config.server_by_resource(resource) {
            Some(entry) if granted.contains(&entry.id) => {
                if !ids.contains(&entry.id) {
                    ids.push(entry.id.clone());
                }
            }
            _ => {
                return Err(OAuthError::invalid_target(
                    "the resource is not part of this grant",
                ));
            }
        }
    }
    Ok((!ids.is_empty()).then_some(ids))
}

/// Mints an access token and a new refresh token for `grant`, recording both.
pub fn token_response(
    state: &AsState,
    c: &Connection,
    grant: &GrantRow,
    audience: &Audience,
) -> Result<Value, OAuthError> {
    let mut response = access_token_response(state, c, grant, audience)?;
    let refresh_token = random_token();
    db::insert_refresh(c, &digest(&refresh_token), &grant.id, now())?;
    crate::secrets_log::record("refresh_token", &refresh_token);
    response["refresh_token"] = json!(refresh_token);
    Ok(response)
}

/// Mints an access token for `grant` and records it, with no refresh token
/// (the JWT bearer grant: the client presents a new assertion instead).
pub fn access_token_response(
    state: &AsState,
    c: &Connection,
    grant: &GrantRow,
    audience: &Audience,
) -> Result<Value, OAuthError> {
    let now = now();
    let exp = now + state.config.access_ttl;
    let jti = random_token();
    let scope_text = scope::format(&audience.scope, &audience.servers);
    let mut claims = json!({
        "iss": state.config.issuer, "sub": grant.user, "client_id": grant.client_id,
        "aud": audience.aud_claim(grant), "scope": scope_text, "iat": now, "exp": exp, "jti": jti,
    });
    if let Some(jkt) = &audience.jkt {
        claims["cnf"] = json!({"jkt": jkt});
    }
    let access_token = state.signer.sign(&claims);
    db::record_access(c, &jti, &grant.id, exp)?;
    crate::secrets_log::record("access_token", &access_token);
    Ok(json!({
        "access_token": access_token,
        "token_type": if audience.jkt.is_some() { "DPoP" } else { "Bearer" },
        "expires_in": state.config.access_ttl,
        "scope": scope_text,
    }))
}
