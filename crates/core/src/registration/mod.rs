//! Getting a client id at an AS, in the MCP spec's order of preference:
//! pre-registered (given by the user), a Client ID Metadata Document URL
//! (where the AS supports them), or RFC 7591 dynamic registration asking
//! for `refresh_token` among the grant types.
//!
//! Here: the choice and the pre-registered and metadata-document clients.
//! Beside it: RFC 7591 dynamic registration (`dynamic`) and why no client
//! could be had (`error`).

use crate::http::HttpClient;
use crate::metadata::AsMetadata;
use crate::model::{ClientAuth, ClientRecord, Registration};
use crate::secret::ClientSecret;
use crate::url_policy;

mod dynamic;
mod error;

use dynamic::dynamic;
pub use error::RegistrationError;

/// How to identify the client.
#[derive(Debug, Clone)]
pub enum ClientChoice {
    /// A client id (and secret) the user registered beforehand.
    Preregistered {
        /// The client id, kept exactly as given.
        client_id: String,
        /// Its secret, for confidential clients.
        client_secret: Option<ClientSecret>,
        /// How to authenticate; chosen from the AS's list when `None`.
        auth: Option<ClientAuth>,
    },
    /// A Client ID Metadata Document URL, used when the AS says
    /// `client_id_metadata_document_supported`; otherwise dynamic
    /// registration is used instead.
    MetadataDocument {
        /// The document's URL, which is the client id.
        url: String,
    },
    /// RFC 7591 dynamic registration.
    Dynamic,
}

/// A client ready to use. Its `Debug` output shows no secret.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    /// What is stored in the state file.
    pub record: ClientRecord,
    /// Its secret (goes to the keyring).
    pub secret: Option<ClientSecret>,
}

fn listed(metadata: &AsMetadata, method: &str) -> Option<bool> {
    metadata
        .token_endpoint_auth_methods_supported
        .as_ref()
        .map(|m| m.iter().any(|x| x == method))
}

/// The token endpoint authentication for a pre-registered client: none
/// without a secret; with one, `client_secret_basic` when the AS lists it
/// or lists nothing, `client_secret_post` when only that is listed.
fn preregistered_auth(metadata: &AsMetadata, has_secret: bool) -> ClientAuth {
    if !has_secret {
        return ClientAuth::None;
    }
    match (
        listed(metadata, "client_secret_basic"),
        listed(metadata, "client_secret_post"),
    ) {
        (Some(false), Some(true)) => ClientAuth::ClientSecretPost,
        _ => ClientAuth::ClientSecretBasic,
    }
}

/// Checks a Client ID Metadata Document URL: https (or http on loopback),
/// a path other than `/`, no fragment.
fn check_metadata_document_url(raw: &str) -> Result<(), RegistrationError> {
    let invalid = || RegistrationError::InvalidMetadataDocumentUrl {
        url: raw.chars().take(200).collect(),
    };
    let url = url_policy::check_user_url(raw).map_err(|_| invalid())?;
    if raw.trim() != raw || url.path() == "/" || url.fragment().is_some() {
        return Err(invalid());
    }
    Ok(())
}

/// Obtains a client at `issuer` whose checked metadata is `metadata`.
///
/// - [`ClientChoice::Preregistered`]: kept as given; the authentication is
///   the given one, else chosen as described on [`ClientChoice`].
/// - [`ClientChoice::MetadataDocument`]: the URL is the client id when the
///   AS supports such documents; otherwise dynamic registration.
/// - [`ClientChoice::Dynamic`]: RFC 7591 registration of a public client
///   (`token_endpoint_auth_method: none`) for the authorization code and
///   refresh token grants at `registration_endpoint`, which must pass the
///   URL policy and sit on the issuer's origin; 200 and 201 are accepted,
///   a redirect is an error.
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
            if client_id.trim().is_empty() {
                return Err(RegistrationError::EmptyClientId {
                    issuer: issuer.to_string(),
                });
            }
            let auth = auth
                .clone()
                .unwrap_or_else(|| preregistered_auth(metadata, client_secret.is_some()));
            Ok(RegisteredClient {
                record: record(client_id.clone(), auth, Registration::Preregistered),
                secret: client_secret.clone(),
            })
        }
        ClientChoice::MetadataDocument { url }
            if metadata.client_id_metadata_document_supported =>
        {
            check_metadata_document_url(url)?;
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
            let (client_id, auth, secret) =
                dynamic(http, issuer, metadata, redirect_uris, client_name).await?;
            Ok(RegisteredClient {
                record: record(client_id, auth, Registration::Dynamic),
                secret,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(methods: Option<&[&str]>) -> AsMetadata {
        AsMetadata {
            issuer: "https://as.example".into(),
            authorization_endpoint: "https://as.example/authorize".into(),
            token_endpoint: "https://as.example/token".into(),
            registration_endpoint: None,
            revocation_endpoint: None,
            scopes_supported: None,
            code_challenge_methods_supported: Some(vec!["S256".into()]),
            authorization_response_iss_parameter_supported: false,
            client_id_metadata_document_supported: false,
            token_endpoint_auth_methods_supported: methods
                .map(|m| m.iter().map(|s| (*s).to_string()).collect()),
            resource_indicators_supported: None,
            mcp_server_catalog_endpoint: None,
            dpop_signing_alg_values_supported: None,
            grant_types_supported: None,
            device_authorization_endpoint: None,
        }
    }

    #[test]
    fn preregistered_auth_follows_the_secret_and_the_as_list() {
        let none = metadata(None);
        assert_eq!(preregistered_auth(&none, false), ClientAuth::None);
        assert_eq!(
            preregistered_auth(&none, true),
            ClientAuth::ClientSecretBasic
        );
        let both = metadata(Some(&["client_secret_post", "client_secret_basic"]));
        assert_eq!(
            preregistered_auth(&both, true),
            ClientAuth::ClientSecretBasic
        );
        let post = metadata(Some(&["none", "client_secret_post"]));
        assert_eq!(
            preregistered_auth(&post, true),
            ClientAuth::ClientSecretPost
        );
        assert_eq!(preregistered_auth(&post, false), ClientAuth::None);
        let basic = metadata(Some(&["client_secret_basic"]));
        assert_eq!(
            preregistered_auth(&basic, true),
            ClientAuth::ClientSecretBasic
        );
    }

    #[test]
    fn metadata_document_urls_must_be_https_with_a_path() {
        assert!(check_metadata_document_url("https://app.example/client.json").is_ok());
        assert!(check_metadata_document_url("http://127.0.0.1:8000/client.json").is_ok());
        for bad in [
            "https://app.example",
            "https://app.example/",
            "http://app.example/client.json",
            "https://app.example/client.json#x",
            "file:///client.json",
            " https://app.example/client.json",
        ] {
            assert!(check_metadata_document_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let client = RegisteredClient {
            record: ClientRecord {
                issuer: "https://as.example".into(),
                client_id: "id".into(),
                auth: ClientAuth::ClientSecretBasic,
                registration: Registration::Dynamic,
                redirect_uris: vec![],
            },
            secret: Some(ClientSecret::new("s3cr3t-value")),
        };
        let shown = format!("{client:?}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }
}
