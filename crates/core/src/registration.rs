//! Getting a client id at an AS: pre-registered (given by the user), a
//! Client ID Metadata Document URL (where the AS supports them), or RFC 7591
//! dynamic registration asking for `refresh_token` among the grant types.

use crate::http::{HttpClient, HttpError};
use crate::metadata::AsMetadata;
use crate::model::{ClientAuth, ClientRecord, Registration};
use crate::secret::ClientSecret;
use crate::url_policy::{self, UrlError};
use serde_json::{Value, json};

/// How to identify the client.
#[derive(Debug, Clone)]
pub enum ClientChoice {
    /// A client id (and secret) the user registered beforehand.
    Preregistered {
        /// The client id.
        client_id: String,
        /// Its secret, for confidential clients.
        client_secret: Option<ClientSecret>,
        /// How to authenticate; chosen from the AS's list when `None`.
        auth: Option<ClientAuth>,
    },
    /// A Client ID Metadata Document URL (used when the AS supports them).
    MetadataDocument {
        /// The document's URL, which is the client id.
        url: String,
    },
    /// Dynamic registration.
    Dynamic,
}

/// A client ready to use.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    /// What is stored in the state file.
    pub record: ClientRecord,
    /// Its secret (goes to the keyring).
    pub secret: Option<ClientSecret>,
}

/// Why registration failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// The HTTP exchange failed.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The registration endpoint was refused by the URL policy.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The AS offers no way to get a client id.
    #[error(
        "{issuer} has no dynamic registration and no client id was given; register MCP Passport there and pass --client-id"
    )]
    NoRegistration {
        /// The issuer.
        issuer: String,
    },
    /// The AS refused the registration.
    #[error("{issuer} refused the registration ({error}); it said: {description}")]
    Refused {
        /// The issuer.
        issuer: String,
        /// RFC 7591 error code.
        error: String,
        /// The AS's own words (untrusted text).
        description: String,
    },
    /// The answer was not a registration response.
    #[error("{issuer} answered the registration with something that is not a client registration")]
    Malformed {
        /// The issuer.
        issuer: String,
    },
}

fn supported(metadata: &AsMetadata, method: &str) -> bool {
    metadata
        .token_endpoint_auth_methods_supported
        .as_ref()
        .is_none_or(|m| m.iter().any(|x| x == method))
}

/// Obtains a client at `issuer`.
pub async fn register(
    http: &HttpClient,
    issuer: &str,
    metadata: &AsMetadata,
    choice: &ClientChoice,
    redirect_uris: &[String],
    client_name: &str,
) -> Result<RegisteredClient, RegistrationError> {
    let record = |client_id: String, auth: ClientAuth, registration: Registration| ClientRecord {
        issuer: issuer.to_string(),
        client_id,
        auth,
        registration,
        redirect_uris: redirect_uris.to_vec(),
    };
    match choice {
        ClientChoice::Preregistered {
            client_id,
            client_secret,
            auth,
        } => {
            let auth = auth.clone().unwrap_or(match client_secret {
                None => ClientAuth::None,
                Some(_) if supported(metadata, "client_secret_basic") => {
                    ClientAuth::ClientSecretBasic
                }
                Some(_) => ClientAuth::ClientSecretPost,
            });
            Ok(RegisteredClient {
                record: record(client_id.clone(), auth, Registration::Preregistered),
                secret: client_secret.clone(),
            })
        }
        ClientChoice::MetadataDocument { url }
            if metadata.client_id_metadata_document_supported =>
        {
            Ok(RegisteredClient {
                record: record(
                    url.clone(),
                    ClientAuth::None,
                    Registration::MetadataDocument,
                ),
                secret: None,
            })
        }
        ClientChoice::MetadataDocument { .. } | ClientChoice::Dynamic => {
            dynamic(http, issuer, metadata, redirect_uris, client_name, record).await
        }
    }
}

async fn dynamic(
    http: &HttpClient,
    issuer: &str,
    metadata: &AsMetadata,
    redirect_uris: &[String],
    client_name: &str,
    record: impl Fn(String, ClientAuth, Registration) -> ClientRecord,
) -> Result<RegisteredClient, RegistrationError> {
    let endpoint = metadata.registration_endpoint.as_ref().ok_or_else(|| {
        RegistrationError::NoRegistration {
            issuer: issuer.to_string(),
        }
    })?;
    let issuer_url =
        url::Url::parse(issuer).map_err(|_| UrlError::Malformed(issuer.to_string()))?;
    let url = url_policy::check_endpoint(endpoint, &issuer_url)?;
    let body = json!({
        "client_name": client_name, "redirect_uris": redirect_uris,
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    let request = http::Request::post(url.as_str())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(body.to_string().into_bytes())
        .map_err(|_| UrlError::Malformed(url.to_string()))?;
    let response = http.send(request).await?;
    let malformed = || RegistrationError::Malformed {
        issuer: issuer.to_string(),
    };
    let value: Value = response.json().ok_or_else(malformed)?;
    if !response.status.is_success() {
        let text = |k: &str| {
            value
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_control())
                .take(300)
                .collect::<String>()
        };
        return Err(RegistrationError::Refused {
            issuer: issuer.to_string(),
            error: text("error"),
            description: text("error_description"),
        });
    }
    let client_id = value
        .get("client_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(malformed)?
        .to_string();
    let secret = value
        .get("client_secret")
        .and_then(Value::as_str)
        .map(ClientSecret::new);
    let auth = match value
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
    {
        Some("client_secret_basic") if secret.is_some() => ClientAuth::ClientSecretBasic,
        Some("client_secret_post") if secret.is_some() => ClientAuth::ClientSecretPost,
        _ => ClientAuth::None,
    };
    Ok(RegisteredClient {
        record: record(client_id, auth, Registration::Dynamic),
        secret,
    })
}
