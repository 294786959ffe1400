//! Discovery, in the MCP authorization spec's order: from an MCP server's
//! 401 (`WWW-Authenticate: Bearer resource_metadata=...`) or its well-known
//! RFC 9728 URLs to its protected resource metadata, then to the
//! authorization server's RFC 8414 / OIDC metadata.
//!
//! Each document is checked before use: the resource must be the server's
//! own URL, the metadata's `issuer` must be the issuer it was fetched for,
//! character for character, every endpoint must pass the URL policy and sit
//! on the issuer's origin, and S256 must be offered.

use crate::http::{HttpClient, HttpError};
use crate::metadata::{AsMetadata, CatalogServer, ResourceMetadata};
use crate::model::Mode;
use crate::url_policy::{self, UrlError};
use url::Url;

/// What a `WWW-Authenticate: Bearer` challenge says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BearerChallenge {
    /// RFC 9728 `resource_metadata`.
    pub resource_metadata: Option<String>,
    /// Scope the resource asks for.
    pub scope: Option<String>,
    /// `error`, e.g. `invalid_token` or `insufficient_scope`.
    pub error: Option<String>,
}

/// Why discovery failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The HTTP exchange failed.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// A URL was refused by the URL policy.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// No metadata document was found at any well-known URL.
    #[error("no authorization server metadata found for {issuer}; check the URL")]
    NoMetadata {
        /// The issuer.
        issuer: String,
    },
    /// A document was not the JSON it should be.
    #[error("{url} did not return valid metadata JSON")]
    NotJson {
        /// Where.
        url: String,
    },
    /// The metadata names another issuer.
    #[error("the metadata for {expected} says its issuer is {found}; refusing it")]
    IssuerMismatch {
        /// The issuer asked for.
        expected: String,
        /// The issuer in the document.
        found: String,
    },
    /// An endpoint lives on another origin than the issuer.
    #[error(
        "the {endpoint} endpoint {url} is not on the authorization server's own origin; refusing it"
    )]
    ForeignEndpoint {
        /// Which endpoint.
        endpoint: &'static str,
        /// Its URL.
        url: String,
    },
    /// No PKCE S256.
    #[error("{issuer} does not offer PKCE with S256; MCP Passport will not sign in without it")]
    NoS256 {
        /// The issuer.
        issuer: String,
    },
    /// The protected resource metadata names another resource.
    #[error("the server at {expected} describes itself as {found}; no sign-in was started")]
    ResourceMismatch {
        /// The server URL.
        expected: String,
        /// The `resource` in its metadata.
        found: String,
    },
    /// No protected resource metadata was found.
    #[error(
        "{server} publishes no OAuth protected resource metadata; it may not need sign-in or may not be an MCP server"
    )]
    NoResourceMetadata {
        /// The server URL.
        server: String,
    },
    /// The metadata names no authorization server.
    #[error("{server} names no authorization server")]
    NoAuthorizationServer {
        /// The server URL.
        server: String,
    },
    /// The AS does not speak the Multi-Server pattern (sign in with server URLs instead).
    #[error(
        "{issuer} does not offer Multi-Server sign-in (no mcp:global); sign in with the MCP server URLs instead"
    )]
    NotMultiServer {
        /// The issuer.
        issuer: String,
    },
}

/// Parses a `WWW-Authenticate` value; the Bearer challenge's parameters.
pub fn parse_www_authenticate(value: &str) -> Option<BearerChallenge> {
    if value.len() > 16 * 1024 {
        return None;
    }
    let lower = value.to_ascii_lowercase();
    let start = lower.find("bearer")?;
    let mut rest = &value[start + "bearer".len()..];
    let mut challenge = BearerChallenge::default();
    loop {
        rest = rest.trim_start_matches([' ', ',', '\t']);
        let Some(eq) = rest.find('=') else { break };
        let name = rest[..eq].trim().to_ascii_lowercase();
        if name.contains(' ') {
            break; // the next challenge's scheme
        }
        rest = &rest[eq + 1..];
        let text;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => out.push(c),
                }
            }
            let end = end?;
            text = out;
            rest = &quoted[end + 1..];
        } else {
            let end = rest.find([',', ' ']).unwrap_or(rest.len());
            text = rest[..end].to_string();
            rest = &rest[end..];
        }
        match name.as_str() {
            "resource_metadata" => challenge.resource_metadata = Some(text),
            "scope" => challenge.scope = Some(text),
            "error" => challenge.error = Some(text),
            _ => {}
        }
    }
    Some(challenge)
}

/// The metadata URLs for an issuer, in the spec's order.
pub fn metadata_urls(issuer: &Url) -> Vec<Url> {
    let origin = issuer.origin().ascii_serialization();
    let path = issuer.path().trim_end_matches('/');
    let join = |s: String| Url::parse(&s).ok();
    if path.is_empty() {
        [
            format!("{origin}/.well-known/oauth-authorization-server"),
            format!("{origin}/.well-known/openid-configuration"),
        ]
        .into_iter()
        .filter_map(join)
        .collect()
    } else {
        [
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{origin}/.well-known/openid-configuration{path}"),
            format!("{origin}{path}/.well-known/openid-configuration"),
        ]
        .into_iter()
        .filter_map(join)
        .collect()
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

/// Fetches and checks an AS's metadata.
pub async fn fetch_as_metadata(
    http: &HttpClient,
    issuer: &str,
) -> Result<AsMetadata, DiscoveryError> {
    let issuer_url = url_policy::check_user_url(issuer)?;
    for url in metadata_urls(&issuer_url) {
        let response = http.get_json(&url).await?;
        if !response.status.is_success() {
            continue;
        }
        let metadata: AsMetadata = response.json().ok_or_else(|| DiscoveryError::NotJson {
            url: url_policy::redact(&url),
        })?;
        if metadata.issuer != issuer {
            return Err(DiscoveryError::IssuerMismatch {
                expected: issuer.to_string(),
                found: metadata.issuer,
            });
        }
        let endpoints = [
            ("authorization", Some(&metadata.authorization_endpoint)),
            ("token", Some(&metadata.token_endpoint)),
            ("registration", metadata.registration_endpoint.as_ref()),
            ("revocation", metadata.revocation_endpoint.as_ref()),
            ("catalog", metadata.mcp_server_catalog_endpoint.as_ref()),
        ];
        for (name, endpoint) in endpoints {
            let Some(endpoint) = endpoint else { continue };
            let checked = url_policy::check_endpoint(endpoint, &issuer_url)?;
            if !same_origin(&checked, &issuer_url) {
                return Err(DiscoveryError::ForeignEndpoint {
                    endpoint: name,
                    url: url_policy::redact(&checked),
                });
            }
        }
        if !metadata.supports_s256() {
            return Err(DiscoveryError::NoS256 {
                issuer: issuer.to_string(),
            });
        }
        return Ok(metadata);
    }
    Err(DiscoveryError::NoMetadata {
        issuer: issuer.to_string(),
    })
}

/// Everything discovered from one MCP server URL.
#[derive(Debug, Clone)]
pub struct ServerDiscovery {
    /// The server URL as given.
    pub server_url: String,
    /// Its protected resource metadata.
    pub resource: ResourceMetadata,
    /// The challenge of its 401, if it sent one.
    pub challenge: Option<BearerChallenge>,
    /// The issuer used.
    pub issuer: String,
    /// That issuer's metadata.
    pub metadata: AsMetadata,
}

fn prm_urls(server: &Url) -> Vec<Url> {
    let origin = server.origin().ascii_serialization();
    let path = server.path().trim_end_matches('/');
    let mut urls = Vec::new();
    if !path.is_empty() {
        urls.extend(
            Url::parse(&format!(
                "{origin}/.well-known/oauth-protected-resource{path}"
            ))
            .ok(),
        );
    }
    urls.extend(Url::parse(&format!("{origin}/.well-known/oauth-protected-resource")).ok());
    urls
}

/// Discovers the authorization server of an MCP server.
pub async fn discover_server(
    http: &HttpClient,
    server_url: &str,
) -> Result<ServerDiscovery, DiscoveryError> {
    let server = url_policy::check_user_url(server_url)?;
    let probe = serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "mcp-passport", "version": env!("CARGO_PKG_VERSION")}}});
    let request = http::Request::post(server.as_str())
        .header(http::header::ACCEPT, "application/json, text/event-stream")
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(probe.to_string().into_bytes())
        .map_err(|_| UrlError::Malformed(server_url.to_string()))?;
    let challenge = match http.send(request).await {
        Ok(r) if r.status == http::StatusCode::UNAUTHORIZED => r
            .headers
            .get_all(http::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(parse_www_authenticate),
        Ok(_) => None,
        Err(HttpError::Redirect { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let mut candidates = Vec::new();
    if let Some(url) = challenge
        .as_ref()
        .and_then(|c| c.resource_metadata.as_deref())
    {
        candidates.push(url_policy::check_endpoint(url, &server)?);
    }
    candidates.extend(prm_urls(&server));
    let root = prm_urls(&server).pop();
    let mut found = None;
    let mut fetched_from_root = false;
    for url in candidates {
        let response = http.get_json(&url).await?;
        if response.status.is_success() {
            fetched_from_root = Some(&url) == root.as_ref();
            found = Some(response.json::<ResourceMetadata>().ok_or_else(|| {
                DiscoveryError::NotJson {
                    url: url_policy::redact(&url),
                }
            })?);
            break;
        }
    }
    let resource = found.ok_or_else(|| DiscoveryError::NoResourceMetadata {
        server: server_url.to_string(),
    })?;
    // RFC 9728 section 3.3: the resource must be the identifier the metadata
    // URL was built from: the server URL, or its origin for the root URL.
    let origin = server.origin().ascii_serialization();
    let from_root = fetched_from_root && resource.resource.trim_end_matches('/') == origin;
    if resource.resource != server_url && !from_root {
        return Err(DiscoveryError::ResourceMismatch {
            expected: server_url.to_string(),
            found: resource.resource,
        });
    }
    let issuer = resource
        .authorization_servers
        .first()
        .cloned()
        .ok_or_else(|| DiscoveryError::NoAuthorizationServer {
            server: server_url.to_string(),
        })?;
    url_policy::check_endpoint(&issuer, &server)?;
    let metadata = fetch_as_metadata(http, &issuer).await?;
    Ok(ServerDiscovery {
        server_url: server_url.to_string(),
        resource,
        challenge,
        issuer,
        metadata,
    })
}

/// The mode to use with an AS.
pub fn mode_of(metadata: &AsMetadata) -> Mode {
    if metadata.is_multi_server() {
        Mode::MultiServer
    } else if metadata.resource_indicators_supported == Some(true) {
        Mode::MultiResource
    } else {
        Mode::PerServer
    }
}

/// The Multi-Server catalog, or nothing when the AS has none.
pub async fn fetch_catalog(
    http: &HttpClient,
    metadata: &AsMetadata,
) -> Result<Vec<CatalogServer>, DiscoveryError> {
    let Some(endpoint) = &metadata.mcp_server_catalog_endpoint else {
        return Ok(Vec::new());
    };
    let issuer =
        Url::parse(&metadata.issuer).map_err(|_| UrlError::Malformed(metadata.issuer.clone()))?;
    let url = url_policy::check_endpoint(endpoint, &issuer)?;
    let response = http.get_json(&url).await?;
    #[derive(serde::Deserialize)]
    struct Catalog {
        servers: Vec<CatalogServer>,
    }
    if !response.status.is_success() {
        return Ok(Vec::new());
    }
    Ok(response
        .json::<Catalog>()
        .ok_or_else(|| DiscoveryError::NotJson {
            url: url_policy::redact(&url),
        })?
        .servers)
}

/// The scope to request: the challenge's, else the resource's `scopes_supported`, else none.
pub fn choose_scope(
    challenge: Option<&BearerChallenge>,
    resource: Option<&ResourceMetadata>,
) -> Option<String> {
    challenge
        .and_then(|c| c.scope.clone())
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            resource
                .and_then(|r| r.scopes_supported.as_ref())
                .filter(|s| !s.is_empty())
                .map(|s| s.join(" "))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_challenges_with_quotes_escapes_and_other_schemes() {
        let c = parse_www_authenticate(r#"Basic realm="x", Bearer error="insufficient_scope", scope="a b", resource_metadata="https://s.example/.well-known/oauth-protected-resource/mcp""#).unwrap_or_default();
        assert_eq!(c.error.as_deref(), Some("insufficient_scope"));
        assert_eq!(c.scope.as_deref(), Some("a b"));
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some("https://s.example/.well-known/oauth-protected-resource/mcp")
        );
        let e = parse_www_authenticate(r#"bearer scope="say \"hi\"""#).unwrap_or_default();
        assert_eq!(e.scope.as_deref(), Some("say \"hi\""));
        assert!(parse_www_authenticate("Basic realm=x").is_none());
        assert!(parse_www_authenticate(&"Bearer a=\"".repeat(5000)).is_none());
        let _ = parse_www_authenticate("Bearer =,=,\"\\");
    }

    #[test]
    fn metadata_urls_follow_the_spec_order() {
        let with_path = Url::parse("https://as.example/tenant1").unwrap_or_else(|_| unreachable!());
        let urls: Vec<String> = metadata_urls(&with_path)
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            urls,
            vec![
                "https://as.example/.well-known/oauth-authorization-server/tenant1",
                "https://as.example/.well-known/openid-configuration/tenant1",
                "https://as.example/tenant1/.well-known/openid-configuration",
            ]
        );
        let root = Url::parse("https://as.example/").unwrap_or_else(|_| unreachable!());
        assert_eq!(metadata_urls(&root).len(), 2);
        assert_eq!(
            metadata_urls(&root)[0].as_str(),
            "https://as.example/.well-known/oauth-authorization-server"
        );
    }

    #[test]
    fn scope_comes_from_the_challenge_then_the_resource() {
        let resource = ResourceMetadata {
            resource: "r".into(),
            authorization_servers: vec![],
            scopes_supported: Some(vec!["a".into(), "b".into()]),
            resource_name: None,
        };
        let challenge = BearerChallenge {
            scope: Some("c".into()),
            ..Default::default()
        };
        assert_eq!(
            choose_scope(Some(&challenge), Some(&resource)).as_deref(),
            Some("c")
        );
        assert_eq!(choose_scope(None, Some(&resource)).as_deref(), Some("a b"));
        assert_eq!(choose_scope(None, None), None);
    }
}
