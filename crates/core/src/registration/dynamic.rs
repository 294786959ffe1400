//! RFC 7591 dynamic registration: a public `native` client for the
//! authorization code and refresh token grants (and the device grant where
//! offered), at a registration endpoint on the issuer's origin.

use super::RegistrationError;
use crate::http::HttpClient;
use crate::metadata::AsMetadata;
use crate::model::ClientAuth;
use crate::secret::ClientSecret;
use crate::text::untrusted;
use crate::url_policy::{self, UrlError};
use serde_json::{Value, json};

pub(super) async fn dynamic(
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
