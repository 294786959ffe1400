//! Getting a client id at an AS, in the MCP spec's order of preference:
//! pre-registered (given by the user), a Client ID Metadata Document URL
//! (where the AS supports them), or RFC 7591 dynamic registration asking
//! for `refresh_token` among the grant types.

use crate::http::{HttpClient, HttpError};
use crate::metadata::AsMetadata;
use crate::model::{ClientAuth, ClientRecord, Registration};
use crate::secret::ClientSecret;
use crate::text::untrusted;
use crate::url_policy::{self, UrlError};
use serde_json::{Value, json};

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

/// Why no client could be had. Each message says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// The HTTP exchange failed (unreachable, timeout, a redirect).
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The registration endpoint or the issuer was refused by the URL policy.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The AS offers no way to get a client id.
    #[error(
        "{issuer} offers no dynamic client registration and no client id was given; register MCP Passport there by hand, then sign in again with the client id it issued (and its secret, if it issued one)"
    )]
    NoRegistration {
        /// The issuer.
        issuer: String,
    },
    /// The registration endpoint is not on the issuer's origin.
    #[error(
        "the registration endpoint {url} is not on the origin of {issuer}; refusing to register there"
    )]
    ForeignEndpoint {
        /// The endpoint (without query).
        url: String,
        /// The issuer.
        issuer: String,
    },
    /// A given client id is empty.
    #[error(
        "the client id given for {issuer} is empty; pass the client id the authorization server issued"
    )]
    EmptyClientId {
        /// The issuer.
        issuer: String,
    },
    /// The Client ID Metadata Document URL is not an https URL with a path.
    #[error(
        "{url} cannot be a client id metadata document URL: it must be https (http only on loopback) and have a path, without fragment"
    )]
    InvalidMetadataDocumentUrl {
        /// The URL as given (cut to 200 characters).
        url: String,
    },
    /// The AS refused the redirect URI (RFC 7591 `invalid_redirect_uri`):
    /// the caller may try another kind of redirect (the desktop app falls
    /// back from its link scheme to a loopback address).
    #[error(
        "{issuer} does not accept the redirect address {redirect_uri}{}",
        as_its_words(description)
    )]
    RedirectUriRefused {
        /// The issuer.
        issuer: String,
        /// The redirect URI that was refused.
        redirect_uri: String,
        /// The AS's own words (untrusted text, cut to 300 characters).
        description: String,
    },
    /// The AS refused the registration with an RFC 7591 error.
    #[error(
        "{issuer} refused to register MCP Passport ({error}){}; register MCP Passport there by hand, then sign in again with the client id it issued",
        as_its_words(description)
    )]
    Refused {
        /// The issuer.
        issuer: String,
        /// RFC 7591 error code (printable ASCII only).
        error: String,
        /// The AS's own words (untrusted text, control characters removed,
        /// cut to 300 characters; empty when it gave none).
        description: String,
    },
    /// The registration endpoint answered with an error status and no
    /// RFC 7591 error.
    #[error(
        "{issuer} answered the registration with HTTP {status}; try again later, or register MCP Passport there by hand and sign in with the client id it issued"
    )]
    Status {
        /// The issuer.
        issuer: String,
        /// The HTTP status.
        status: u16,
    },
    /// The answer was not a usable registration response.
    #[error(
        "{issuer} answered the registration with something that is not a client registration ({reason}); register MCP Passport there by hand and sign in with the client id it issued"
    )]
    Malformed {
        /// The issuer.
        issuer: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The AS registered the client with an authentication method MCP
    /// Passport cannot use.
    #[error(
        "{issuer} registered the client with token endpoint authentication {method:?}, which MCP Passport does not support; register MCP Passport there by hand and sign in with the client id it issued"
    )]
    UnsupportedAuthMethod {
        /// The issuer.
        issuer: String,
        /// The method it named (cut to 100 characters).
        method: String,
    },
}

/// `; in its own words: "..."`, or nothing for an empty description.
fn as_its_words(description: &str) -> String {
    if description.is_empty() {
        String::new()
    } else {
        format!("; the authorization server said, in its own words: \"{description}\"")
    }
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

async fn dynamic(
    http: &HttpClient,
    issuer: &str,
    metadata: &AsMetadata,
    redirect_uris: &[String],
    client_name: &str,
) -> Result<(String, ClientAuth, Option<ClientSecret>), RegistrationError> {
    let endpoint = metadata.registration_endpoint.as_ref().ok_or_else(|| {
        RegistrationError::NoRegistration {
            issuer: issuer.to_string(),
        }
    })?;
    let issuer_url = url_policy::check_user_url(issuer)?;
    let url = url_policy::check_endpoint(endpoint, &issuer_url)?;
    if url.origin() != issuer_url.origin() {
        return Err(RegistrationError::ForeignEndpoint {
            url: url_policy::redact(&url),
            issuer: issuer.to_string(),
        });
    }
    // The device grant is asked for where the AS offers it, so a later
    // sign-in from a remote shell can use the same registration.
    let mut grant_types = vec!["authorization_code", "refresh_token"];
    if metadata.device_authorization_endpoint.is_some() {
        grant_types.push(crate::device::GRANT_TYPE);
    }
    // A desktop client: `native` (OpenID Connect Dynamic Client Registration,
    // MCP SEP-837); its redirects are loopback or the app's own scheme.
    let body = json!({
        "application_type": "native",
        "client_name": client_name,
        "redirect_uris": redirect_uris,
        "grant_types": grant_types,
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    let request = http::Request::post(url.as_str())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(body.to_string().into_bytes())
        .map_err(|_| UrlError::Malformed(url_policy::redact(&url)))?;
    let response = http.send(request).await?;
    let value = response.json::<Value>();
    let status = response.status.as_u16();
    let malformed = |reason| RegistrationError::Malformed {
        issuer: issuer.to_string(),
        reason,
    };
    if !matches!(status, 200 | 201) {
        let error = value
            .as_ref()
            .and_then(|v| v.get("error"))
            .and_then(Value::as_str)
            .map(|e| {
                e.chars()
                    .filter(|c| c.is_ascii_graphic() || *c == ' ')
                    .take(100)
                    .collect::<String>()
            })
            .filter(|e| !e.is_empty());
        let description = value
            .as_ref()
            .and_then(|v| v.get("error_description"))
            .and_then(Value::as_str)
            .map(|d| untrusted(d, 300))
            .unwrap_or_default();
        return Err(match error {
            Some(error) if (400..500).contains(&status) && error == "invalid_redirect_uri" => {
                RegistrationError::RedirectUriRefused {
                    issuer: issuer.to_string(),
                    redirect_uri: untrusted(&redirect_uris.join(" "), 300),
                    description,
                }
            }
            Some(error) if (400..500).contains(&status) => RegistrationError::Refused {
                issuer: issuer.to_string(),
                error,
                description,
            },
            _ => RegistrationError::Status {
                issuer: issuer.to_string(),
                status,
            },
        });
    }
    let value = value
        .filter(Value::is_object)
        .ok_or_else(|| malformed("the body is not a JSON object"))?;
    let client_id = value
        .get("client_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 1024 && !crate::text::has_hidden(s))
        .ok_or_else(|| malformed("no usable client_id"))?
        .to_string();
    let secret = value
        .get("client_secret")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(ClientSecret::new);
    let method = value
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str);
    let (auth, secret) = match (method, secret) {
        (Some("none"), _) => (ClientAuth::None, None),
        // RFC 7591 section 2: an omitted method means client_secret_basic.
        (Some("client_secret_basic") | None, Some(s)) => (ClientAuth::ClientSecretBasic, Some(s)),
        (None, None) => (ClientAuth::None, None),
        (Some("client_secret_post"), Some(s)) => (ClientAuth::ClientSecretPost, Some(s)),
        (Some("client_secret_basic" | "client_secret_post"), None) => {
            return Err(malformed("a client secret method without a client_secret"));
        }
        (Some(other), _) => {
            return Err(RegistrationError::UnsupportedAuthMethod {
                issuer: issuer.to_string(),
                method: untrusted(other, 100),
            });
        }
    };
    Ok((client_id, auth, secret))
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
            device_authorization_endpoint: None,
            grant_types_supported: None,
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
    fn the_as_words_are_quoted_and_marked_as_its_own() {
        let err = RegistrationError::Refused {
            issuer: "https://as.example".into(),
            error: "invalid_redirect_uri".into(),
            description: untrusted("bad\nuri \u{1b}[31m", 300),
        };
        let text = err.to_string();
        assert!(text.contains("(invalid_redirect_uri)"), "{text}");
        assert!(text.contains("in its own words: \"baduri [31m\""), "{text}");
        let bare = RegistrationError::Refused {
            issuer: "https://as.example".into(),
            error: "invalid_client_metadata".into(),
            description: String::new(),
        };
        assert!(!bare.to_string().contains("own words"));
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
