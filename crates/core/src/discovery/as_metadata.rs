//! An authorization server's metadata: checked against the issuer it was
//! fetched for (issuer, endpoints, PKCE S256), fetched from the well-known
//! URLs in order, and the mode it offers.

use super::{DiscoveryError, metadata_urls, same_origin, untrusted};
use crate::http::HttpClient;
use crate::metadata::AsMetadata;
use crate::model::Mode;
use crate::url_policy;

/// Checks an AS metadata document against the issuer it was fetched for:
/// `issuer` identical character for character (SECURITY 5, 8), every
/// endpoint allowed by [`url_policy::check_endpoint`] (SECURITY 15, 19) and
/// on the issuer's own origin (SECURITY 7), and PKCE S256 offered
/// (SECURITY 16). [`fetch_as_metadata`] runs it on every document; run it
/// again on metadata that comes from anywhere else.
pub fn check_as_metadata(issuer: &str, metadata: &AsMetadata) -> Result<(), DiscoveryError> {
    check_as_metadata_allowing(issuer, metadata, &[])
}

/// [`check_as_metadata`], except that endpoints on one of `extra_hosts`
/// (`host` or `host:port`, from the issuer's provider profile or the
/// user's confirmation for this exact issuer) are accepted too. They still
/// pass the URL policy: https, or http on loopback announced by a loopback
/// issuer.
pub fn check_as_metadata_allowing(
    issuer: &str,
    metadata: &AsMetadata,
    extra_hosts: &[String],
) -> Result<(), DiscoveryError> {
    if metadata.issuer != issuer {
        return Err(DiscoveryError::IssuerMismatch {
            expected: issuer.to_string(),
            found: untrusted(&metadata.issuer),
        });
    }
    let issuer_url = url_policy::check_user_url(issuer)?;
    let endpoints = [
        ("authorization", Some(&metadata.authorization_endpoint)),
        ("token", Some(&metadata.token_endpoint)),
        ("registration", metadata.registration_endpoint.as_ref()),
        ("revocation", metadata.revocation_endpoint.as_ref()),
        (
            "device authorization",
            metadata.device_authorization_endpoint.as_ref(),
        ),
        (
            "server catalog",
            metadata.mcp_server_catalog_endpoint.as_ref(),
        ),
    ];
    let mut refused: Option<DiscoveryError> = None;
    for (name, endpoint) in endpoints {
        let Some(endpoint) = endpoint else { continue };
        let checked = url_policy::check_endpoint(endpoint, &issuer_url)?;
        let host = crate::providers::authority(&checked);
        let allowed = matches!(name, "authorization" | "token" | "revocation")
            && checked.scheme() == issuer_url.scheme()
            && extra_hosts.contains(&host);
        if same_origin(&checked, &issuer_url) || allowed {
            continue;
        }
        match &mut refused {
            Some(DiscoveryError::ForeignEndpoint { hosts, .. }) => {
                if !hosts.contains(&host) {
                    hosts.push(host);
                }
            }
            _ => {
                refused = Some(DiscoveryError::ForeignEndpoint {
                    endpoint: name,
                    url: url_policy::redact(&checked),
                    issuer: issuer.to_string(),
                    hosts: vec![host],
                })
            }
        }
    }
    if let Some(refused) = refused {
        return Err(refused);
    }
    if !metadata.supports_s256() {
        return Err(DiscoveryError::NoS256 {
            issuer: issuer.to_string(),
        });
    }
    Ok(())
}

/// Fetches an AS's metadata from the URLs of [`metadata_urls`], in order,
/// and checks it with [`check_as_metadata`].
///
/// A 404 or any other non-2xx answer moves on to the next URL, and so does
/// a 2xx whose body is not a metadata document (a web page served for any
/// path); a transport failure or a redirect ends the search with an error.
/// The first document found is the one used: if it fails a check, the
/// search stops there rather than trying the next URL.
pub async fn fetch_as_metadata(
    http: &HttpClient,
    issuer: &str,
) -> Result<AsMetadata, DiscoveryError> {
    fetch_as_metadata_allowing(http, issuer, &[]).await
}

/// [`fetch_as_metadata`] checked with [`check_as_metadata_allowing`].
pub async fn fetch_as_metadata_allowing(
    http: &HttpClient,
    issuer: &str,
    extra_hosts: &[String],
) -> Result<AsMetadata, DiscoveryError> {
    let issuer_url = url_policy::check_user_url(issuer)?;
    if issuer_url.query().is_some() || issuer_url.fragment().is_some() {
        return Err(DiscoveryError::InvalidIssuer {
            issuer: url_policy::redact(&issuer_url),
        });
    }
    let mut not_json = None;
    for url in metadata_urls(&issuer_url) {
        let response = http.get_json(&url).await?;
        if !response.status.is_success() {
            tracing::debug!(url = %url_policy::redact(&url), status = %response.status, "no AS metadata here");
            continue;
        }
        let Some(metadata) = response.json::<AsMetadata>() else {
            not_json.get_or_insert(DiscoveryError::NotJson {
                url: url_policy::redact(&url),
            });
            continue;
        };
        check_as_metadata_allowing(issuer, &metadata, extra_hosts)?;
        return Ok(metadata);
    }
    Err(not_json.unwrap_or_else(|| DiscoveryError::NoMetadata {
        issuer: issuer.to_string(),
    }))
}

/// The mode to use with an AS (DESIGN section 3, best first):
/// [`Mode::MultiServer`] when `mcp:global` is in `scopes_supported`,
/// [`Mode::MultiResource`] when it says `resource_indicators_supported:
/// true`, else [`Mode::PerServer`] (the engine may still try a
/// multi-resource grant on a standard AS).
pub fn mode_of(metadata: &AsMetadata) -> Mode {
    if metadata.is_multi_server() {
        Mode::MultiServer
    } else if metadata.resource_indicators_supported == Some(true) {
        Mode::MultiResource
    } else {
        Mode::PerServer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn as_metadata(issuer: &str) -> AsMetadata {
        AsMetadata {
            issuer: issuer.into(),
            authorization_endpoint: format!("{issuer}/authorize"),
            token_endpoint: format!("{issuer}/token"),
            registration_endpoint: None,
            revocation_endpoint: None,
            scopes_supported: None,
            code_challenge_methods_supported: Some(vec!["S256".into()]),
            authorization_response_iss_parameter_supported: false,
            client_id_metadata_document_supported: false,
            token_endpoint_auth_methods_supported: None,
            resource_indicators_supported: None,
            mcp_server_catalog_endpoint: None,
            dpop_signing_alg_values_supported: None,
            grant_types_supported: None,
            device_authorization_endpoint: None,
        }
    }

    #[test]
    fn sec_15_metadata_endpoints_at_metadata_addresses_or_loopback_from_remote_are_refused() {
        assert!(
            check_as_metadata("https://as.example", &as_metadata("https://as.example")).is_ok()
        );
        for (field, bad) in [
            ("token", "https://169.254.169.254/latest/meta-data"),
            ("token", "http://127.0.0.1:8080/token"),
            ("authorization", "https://localhost/authorize"),
            ("registration", "https://[fe80::1]/register"),
            ("revocation", "https://metadata.google.internal/revoke"),
            ("device", "https://169.254.169.254/device"),
        ] {
            let mut m = as_metadata("https://as.example");
            match field {
                "token" => m.token_endpoint = bad.into(),
                "authorization" => m.authorization_endpoint = bad.into(),
                "registration" => m.registration_endpoint = Some(bad.into()),
                "device" => m.device_authorization_endpoint = Some(bad.into()),
                _ => m.revocation_endpoint = Some(bad.into()),
            }
            assert!(
                matches!(
                    check_as_metadata("https://as.example", &m),
                    Err(DiscoveryError::Url(_))
                ),
                "{bad}"
            );
        }
        // Loopback endpoints are fine for a loopback issuer; metadata addresses never are.
        let local = as_metadata("http://127.0.0.1:9400");
        assert!(check_as_metadata("http://127.0.0.1:9400", &local).is_ok());
        let mut m = as_metadata("http://127.0.0.1:9400");
        m.token_endpoint = "http://169.254.169.254/token".into();
        assert!(check_as_metadata("http://127.0.0.1:9400", &m).is_err());
    }

    /// Found by the `as_metadata` fuzz target: the document's `issuer`
    /// came back inside the error message with its control characters.
    #[test]
    fn an_issuer_mismatch_shows_no_control_characters() {
        let mut m = as_metadata("https://as.example");
        m.issuer = "https://as.example\u{1b}[31m\u{7f}/x".into();
        let e = check_as_metadata("https://as.example", &m).err();
        assert!(
            matches!(&e, Some(DiscoveryError::IssuerMismatch { found, .. }) if found == "https://as.example[31m/x"),
            "{e:?}"
        );
        let shown = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
    }

    #[test]
    fn modes_follow_the_advertised_capabilities() {
        let mut m = as_metadata("https://as.example");
        assert_eq!(mode_of(&m), Mode::PerServer);
        m.resource_indicators_supported = Some(false);
        assert_eq!(mode_of(&m), Mode::PerServer);
        m.resource_indicators_supported = Some(true);
        assert_eq!(mode_of(&m), Mode::MultiResource);
        m.scopes_supported = Some(vec!["openid".into(), "mcp:global".into()]);
        assert_eq!(mode_of(&m), Mode::MultiServer);
    }
}
