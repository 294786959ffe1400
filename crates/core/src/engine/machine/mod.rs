//! Machine grants, for agents that run with no person: the OAuth client
//! credentials grant (client secret, or an RFC 7523 `private_key_jwt`
//! assertion) and the workload identity JWT bearer grant (SEP-1933, the
//! platform's own JWT as the grant).
//!
//! A machine grant is a grant like any other (state file, status, broker,
//! proxy, connect); what differs is how its tokens are renewed: there is no
//! refresh token, so "refresh" asks the token endpoint again with the same
//! credentials. The client secret is kept in the store under the grant's id;
//! a private key and a workload JWT are read from their files at every
//! request (the user's key stays where they manage and rotate it, and the
//! platform rewrites its short-lived JWT in place), so only their paths are
//! in the state file.
//!
//! Here: the sign-in and what a grant records. Beside it: the token
//! request with the credential (`request`) and the renewal (`refresh`).

use super::Engine;
use super::login::{LoginRequest, LoginTarget};
use crate::client_assertion::{self, AssertionError, JWT_BEARER_GRANT};
use crate::error::EngineError;
use crate::metadata::AsMetadata;
use crate::model::{ClientAuth, ClientRecord, Grant, Registration};
use crate::providers::QuirkOverrides;
use crate::secret::ClientSecret;
use crate::store::StoreKey;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

mod refresh;
mod request;

/// What a machine presents at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MachineCredential {
    /// Client credentials grant with a client secret (in the store).
    ClientSecret,
    /// Client credentials grant with a JWT signed by this private key (PEM file).
    PrivateKeyJwt {
        /// The PEM file, read at every request.
        key_file: PathBuf,
    },
    /// JWT bearer grant with the workload's identity JWT (SEP-1933).
    JwtBearer {
        /// The file the platform writes the JWT to, read at every request.
        assertion_file: PathBuf,
    },
}

/// How one machine grant asks for its tokens again (state file; no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineGrant {
    /// The grant.
    pub grant_id: String,
    /// The client id, when one is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The credential.
    pub credential: MachineCredential,
    /// The scope asked for, asked again each time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// A machine sign-in.
#[derive(Debug, Clone)]
pub struct MachineLogin {
    /// The MCP server URL(s), or a Multi-Server issuer.
    pub target: LoginTarget,
    /// The client id (required with a client secret or a private key).
    pub client_id: Option<String>,
    /// The credential.
    pub credential: MachineCredential,
    /// The client secret, with [`MachineCredential::ClientSecret`].
    pub secret: Option<ClientSecret>,
    /// Scope to ask for beyond what discovery suggests.
    pub scope: Option<String>,
    /// The account label (default: the client id).
    pub account: Option<String>,
}

/// Reads the credential's file as every request will: the private key
/// must sign, the workload's file must hold a JWT.
fn check_credential(
    login: &MachineLogin,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), AssertionError> {
    match &login.credential {
        MachineCredential::ClientSecret => Ok(()),
        MachineCredential::PrivateKeyJwt { key_file } => {
            let client_id = login.client_id.as_deref().unwrap_or_default();
            client_assertion::sign_client_assertion(key_file, client_id, "check", now).map(|_| ())
        }
        MachineCredential::JwtBearer { assertion_file } => {
            client_assertion::read_assertion(assertion_file).map(|_| ())
        }
    }
}

/// Whether the AS offers the credential's grant. An AS that lists no
/// grant types is asked anyway (many omit the list); one that lists them
/// without this grant would only refuse it.
fn offers_grant(
    metadata: &AsMetadata,
    credential: &MachineCredential,
) -> Result<(), AssertionError> {
    let grant = match credential {
        MachineCredential::JwtBearer { .. } => JWT_BEARER_GRANT,
        _ => "client_credentials",
    };
    match &metadata.grant_types_supported {
        Some(listed) if !listed.iter().any(|g| g == grant) => {
            Err(AssertionError::GrantNotOffered {
                issuer: metadata.issuer.clone(),
                grant,
                offered: crate::text::untrusted(&listed.join(", "), 200),
            })
        }
        _ => Ok(()),
    }
}

impl Engine {
    /// Gets a machine grant: discovers the server's AS, asks its token
    /// endpoint with the credential, and keeps the grant, its credential's
    /// description and (for a client secret) the secret in the store.
    pub async fn login_machine(&self, login: &MachineLogin) -> Result<Grant, EngineError> {
        let needs_id = !matches!(login.credential, MachineCredential::JwtBearer { .. });
        if needs_id && login.client_id.is_none() {
            return Err(AssertionError::Incomplete("--client-id is required").into());
        }
        if login.credential == MachineCredential::ClientSecret
            && login.secret.as_ref().is_none_or(|s| s.expose().is_empty())
        {
            return Err(AssertionError::Incomplete(
                "a client secret is required: set MCP_PASSPORT_CLIENT_SECRET",
            )
            .into());
        }
        // A credential file that cannot be used is refused before anything
        // is asked or kept.
        check_credential(login, self.clock.now())?;
        let request = LoginRequest {
            target: login.target.clone(),
            servers: Vec::new(),
            client: None,
            redirect_uri: String::new(),
            scope: login.scope.clone(),
            timeout: std::time::Duration::from_secs(30),
            account: login.account.clone().or_else(|| {
                login
                    .client_id
                    .clone()
                    .filter(|c| crate::account::check_label(c).is_ok())
            }),
        };
        let (plans, mut undiscovered) = self.plan(&request, &QuirkOverrides::default()).await?;
        let Some(plan) = plans.into_iter().next() else {
            return Err(match undiscovered.pop() {
                Some((_, e)) => e,
                None => EngineError::NotGranted(String::new()),
            });
        };
        offers_grant(&plan.metadata, &login.credential)?;
        let entry = MachineGrant {
            grant_id: String::new(),
            client_id: login.client_id.clone(),
            credential: login.credential.clone(),
            scope: plan.scope.clone(),
        };
        let resource = plan
            .resources
            .first()
            .filter(|_| !self.provider_quirks(&plan.issuer).no_resource)
            .cloned();
        let tokens = self
            .ask(
                &plan.metadata,
                &entry,
                login.secret.as_ref(),
                resource.as_deref(),
            )
            .await?;
        let record = ClientRecord {
            issuer: plan.issuer.clone(),
            client_id: login.client_id.clone().unwrap_or_default(),
            auth: match login.credential {
                MachineCredential::ClientSecret => ClientAuth::ClientSecretBasic,
                _ => ClientAuth::None,
            },
            registration: Registration::Preregistered,
            redirect_uris: Vec::new(),
        };
        let grant = self
            .keep_renewable(&plan, &request, &record, tokens)
            .await?;
        if let Some(secret) = &login.secret {
            let key = StoreKey::MachineSecret {
                grant_id: grant.id.clone(),
            };
            if let Err(e) = self.store.put(&key, secret.expose()) {
                self.sign_out_grant(&grant.id).await?;
                return Err(e.into());
            }
        }
        let entry = MachineGrant {
            grant_id: grant.id.clone(),
            ..entry
        };
        self.update(|s| {
            let grants = &s.grants;
            s.machine
                .retain(|m| grants.iter().any(|g| g.id == m.grant_id));
            s.machine.push(entry);
        })?;
        Ok(grant)
    }

    /// How grant `id` is renewed, when it is a machine grant.
    pub fn machine_grant(&self, id: &str) -> Option<MachineGrant> {
        super::lock(&self.state)
            .machine
            .iter()
            .find(|m| m.grant_id == id)
            .cloned()
    }

    /// Forgets a machine grant's credential (its secret and its entry).
    pub(super) fn forget_machine(&self, grant_id: &str) {
        if let Err(e) = self.store.delete(&StoreKey::MachineSecret {
            grant_id: grant_id.to_string(),
        }) {
            tracing::warn!(error = %e, "could not delete a client secret from the keyring");
        }
        if self.machine_grant(grant_id).is_some()
            && let Err(e) = self.update(|s| s.machine.retain(|m| m.grant_id != grant_id))
        {
            tracing::warn!(error = %e, "could not update the state file");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn metadata(grants: Option<&[&str]>) -> AsMetadata {
        let mut doc = serde_json::json!({
            "issuer": "https://as.example",
            "authorization_endpoint": "https://as.example/authorize",
            "token_endpoint": "https://as.example/token",
        });
        if let Some(grants) = grants {
            doc["grant_types_supported"] = serde_json::json!(grants);
        }
        serde_json::from_value(doc).unwrap()
    }

    #[test]
    fn an_as_that_lists_its_grants_without_the_machine_grant_is_refused_and_one_that_lists_none_is_asked()
     {
        let secret = MachineCredential::ClientSecret;
        let workload = MachineCredential::JwtBearer {
            assertion_file: PathBuf::from("/run/token"),
        };
        let person_only = metadata(Some(&["authorization_code", "refresh_token"]));
        let e = offers_grant(&person_only, &secret).unwrap_err().to_string();
        assert!(
            e.contains("does not offer the client_credentials grant")
                && e.contains("authorization_code, refresh_token"),
            "{e}"
        );
        let e = offers_grant(&person_only, &workload)
            .unwrap_err()
            .to_string();
        assert!(e.contains(JWT_BEARER_GRANT), "{e}");
        let machines = metadata(Some(&["client_credentials"]));
        assert!(offers_grant(&machines, &secret).is_ok());
        assert!(offers_grant(&machines, &workload).is_err());
        assert!(offers_grant(&metadata(None), &secret).is_ok());
        assert!(offers_grant(&metadata(None), &workload).is_ok());
    }
}
