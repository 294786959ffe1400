//! One token request with a machine's credential: the client secret (HTTP
//! Basic, or in the body where only that is offered), a `private_key_jwt`
//! assertion signed now, or the workload's JWT read from its file.

use super::{MachineCredential, MachineGrant};
use crate::client_assertion::{self, ASSERTION_TYPE, AssertionError, JWT_BEARER_GRANT};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::metadata::AsMetadata;
use crate::secret::ClientSecret;
use crate::token::{self, Tokens};
use base64::Engine as _;

impl Engine {
    /// One token request with the machine's credential.
    pub(super) async fn ask(
        &self,
        metadata: &AsMetadata,
        entry: &MachineGrant,
        secret: Option<&ClientSecret>,
        resource: Option<&str>,
    ) -> Result<Tokens, EngineError> {
        let (body, basic) = self.form(metadata, entry, secret, resource)?;
        let mut builder = http::Request::builder()
            .method(http::Method::POST)
            .uri(metadata.token_endpoint.as_str())
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json");
        if let Some(basic) = basic {
            builder = builder.header(http::header::AUTHORIZATION, basic);
        }
        let request = builder
            .body(body.into_bytes())
            .map_err(|e| token::TokenError::Malformed(e.to_string()))?;
        let response = self
            .http
            .oauth_call(request)
            .await
            .map_err(token::TokenError::from)?;
        Ok(token::parse_answer(
            response.status().as_u16(),
            response.body(),
        )?)
    }

    /// The token request's form body, and its `Authorization` header when
    /// the secret goes there (client_secret_basic).
    fn form(
        &self,
        metadata: &AsMetadata,
        entry: &MachineGrant,
        secret: Option<&ClientSecret>,
        resource: Option<&str>,
    ) -> Result<(String, Option<String>), EngineError> {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        let mut basic = None;
        let client_id = entry.client_id.as_deref().unwrap_or_default();
        match &entry.credential {
            MachineCredential::ClientSecret => {
                form.append_pair("grant_type", "client_credentials");
                let secret = secret.ok_or(AssertionError::Incomplete(
                    "the client secret is missing from the keyring; sign in again with login --client-credentials",
                ))?;
                let post_only = metadata
                    .token_endpoint_auth_methods_supported
                    .as_ref()
                    .is_some_and(|m| {
                        m.iter().any(|x| x == "client_secret_post")
                            && !m.iter().any(|x| x == "client_secret_basic")
                    });
                if post_only {
                    form.append_pair("client_id", client_id);
                    form.append_pair("client_secret", secret.expose());
                } else {
                    // RFC 6749 section 2.3.1: each part form-encoded, then base64.
                    let enc = |s: &str| {
                        url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                    };
                    let pair = format!("{}:{}", enc(client_id), enc(secret.expose()));
                    basic = Some(format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(pair)
                    ));
                }
            }
            MachineCredential::PrivateKeyJwt { key_file } => {
                let jwt = client_assertion::sign_client_assertion(
                    key_file,
                    client_id,
                    &metadata.issuer,
                    self.clock.now(),
                )?;
                form.append_pair("grant_type", "client_credentials");
                form.append_pair("client_id", client_id);
                form.append_pair("client_assertion_type", ASSERTION_TYPE);
                form.append_pair("client_assertion", &jwt);
            }
            MachineCredential::JwtBearer { assertion_file } => {
                let jwt = client_assertion::read_assertion(assertion_file)?;
                form.append_pair("grant_type", JWT_BEARER_GRANT);
                form.append_pair("assertion", &jwt);
                if !client_id.is_empty() {
                    form.append_pair("client_id", client_id);
                }
            }
        }
        if let Some(resource) = resource {
            form.append_pair("resource", resource);
        }
        if let Some(scope) = entry.scope.as_deref().filter(|s| !s.trim().is_empty()) {
            form.append_pair("scope", scope);
        }
        Ok((form.finish(), basic))
    }
}
