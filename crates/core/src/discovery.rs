//! Discovery, in the MCP authorization spec's order: from an MCP server's
//! 401 (`WWW-Authenticate: Bearer resource_metadata=...`) or its well-known
//! RFC 9728 URLs to its protected resource metadata, then to the
//! authorization server's RFC 8414 / OIDC metadata.
//!
//! Each document is checked before use: the resource must be the server's
//! own URL (or its origin, from the root well-known URL), the metadata's
//! `issuer` must be the issuer it was fetched for, character for character,
//! every endpoint must pass the URL policy and sit on the issuer's origin
//! (authorization, token and revocation endpoints may also sit on a host
//! the issuer's provider profile lists or the user allowed, see
//! [`crate::providers`]),
//! and S256 must be offered. Nothing here follows a redirect.

use crate::http::{HttpClient, HttpError};
use crate::metadata::{AsMetadata, CatalogServer, ResourceMetadata};
use crate::model::Mode;
use crate::url_policy::{self, UrlError};
use url::Url;

pub use crate::challenge::{BearerChallenge, MAX_CHALLENGE_LEN, parse_www_authenticate};

/// Why discovery failed. Each message says what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The HTTP exchange failed (unreachable, timeout, a redirect, too large).
    #[error(transparent)]
    Http(#[from] HttpError),
    /// A URL was refused by the URL policy (scheme, credentials, metadata
    /// address, loopback announced by a remote server).
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The issuer URL has a query or fragment, which RFC 8414 forbids.
    #[error("{issuer} cannot be an issuer: issuer URLs have no query or fragment; check the URL")]
    InvalidIssuer {
        /// The issuer, without query and fragment.
        issuer: String,
    },
    /// No metadata document was found at any well-known URL.
    #[error(
        "no authorization server metadata found for {issuer} (RFC 8414 or OpenID Connect well-known URLs); check the issuer URL, or that the server supports OAuth discovery"
    )]
    NoMetadata {
        /// The issuer.
        issuer: String,
    },
    /// A document was not the JSON it should be (and no other URL had one).
    #[error("{url} did not return a valid metadata document; the server may be misconfigured")]
    NotJson {
        /// Where it was fetched (without query).
        url: String,
    },
    /// The metadata names another issuer than the one it was fetched for
    /// (SECURITY 5, 8). Compared exactly: a trailing slash, letter case or
    /// default port makes a difference.
    #[error(
        "the metadata fetched for {expected} says its issuer is {found}; refusing it (they must be identical). If {found} is the right issuer, use exactly that URL"
    )]
    IssuerMismatch {
        /// The issuer asked for.
        expected: String,
        /// The issuer in the document (untrusted, cut to 300 characters).
        found: String,
    },
    /// An endpoint lives on another origin than the issuer (SECURITY 7),
    /// and neither the issuer's provider profile nor the user allowed its host.
    #[error(
        "the {endpoint} endpoint {url} is not on the origin of {issuer}; refusing this authorization server's metadata. Only if you trust {issuer} to use {} for its endpoints, allow {} for this issuer and sign in again",
        hosts.join(", "), if hosts.len() == 1 { "that host" } else { "those hosts" }
    )]
    ForeignEndpoint {
        /// Which endpoint (`authorization`, `token`, `registration`, ...).
        endpoint: &'static str,
        /// Its URL (without query).
        url: String,
        /// The issuer that announced it.
        issuer: String,
        /// Every host (`host` or `host:port`) of the metadata's endpoints
        /// that is not the issuer's and not allowed: what to confirm.
        hosts: Vec<String>,
    },
    /// PKCE S256 is not listed in `code_challenge_methods_supported` (SECURITY 16).
    #[error(
        "{issuer} does not list PKCE S256 in its metadata; MCP Passport will not sign in without it (ask its operator to enable S256)"
    )]
    NoS256 {
        /// The issuer.
        issuer: String,
    },
    /// The protected resource metadata names another resource (SECURITY 20).
    #[error(
        "the server at {expected} describes itself as {found}; no sign-in was started. Use the server's exact MCP URL, or do not trust this server"
    )]
    ResourceMismatch {
        /// The server URL.
        expected: String,
        /// The `resource` in its metadata (untrusted, cut to 300 characters).
        found: String,
    },
    /// No protected resource metadata was found.
    #[error(
        "{server} publishes no OAuth protected resource metadata (RFC 9728); it may not need sign-in, or the URL is not its MCP endpoint"
    )]
    NoResourceMetadata {
        /// The server URL.
        server: String,
    },
    /// The protected resource metadata lists no authorization server.
    #[error(
        "{server} names no authorization server in its metadata; it cannot be signed in to with OAuth"
    )]
    NoAuthorizationServer {
        /// The server URL.
        server: String,
    },
    /// The catalog endpoint answered with an error status.
    #[error("the server catalog at {url} failed with HTTP {status}; try again later")]
    CatalogUnavailable {
        /// The catalog URL (without query).
        url: String,
        /// The HTTP status.
        status: u16,
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

/// The metadata URLs for an issuer, in the MCP spec's order (2025-11-25,
/// "Authorization Server Metadata Discovery").
///
/// With a path (`https://as.example/tenant1`): RFC 8414 path insertion
/// (`/.well-known/oauth-authorization-server/tenant1`), OIDC path insertion
/// (`/.well-known/openid-configuration/tenant1`), then OIDC path appending
/// (`/tenant1/.well-known/openid-configuration`). Without one (a lone `/`
/// counts as none): `/.well-known/oauth-authorization-server`, then
/// `/.well-known/openid-configuration`. A trailing slash of the path is
/// dropped before building them; query and fragment are never kept.
pub fn metadata_urls(issuer: &Url) -> Vec<Url> {
    if issuer.cannot_be_a_base() {
        return Vec::new();
    }
    let path = issuer.path().trim_end_matches('/');
    let at = |new_path: String| {
        let mut url = issuer.clone();
        url.set_path(&new_path);
        url.set_query(None);
        url.set_fragment(None);
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url
    };
    if path.is_empty() {
        vec![
            at("/.well-known/oauth-authorization-server".into()),
            at("/.well-known/openid-configuration".into()),
        ]
    } else {
        vec![
            at(format!("/.well-known/oauth-authorization-server{path}")),
            at(format!("/.well-known/openid-configuration{path}")),
            at(format!("{path}/.well-known/openid-configuration")),
        ]
    }
}

/// A value from a fetched document, made safe to show (see [`crate::text`]).
fn untrusted(text: &str) -> String {
    crate::text::untrusted(text, 300)
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

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

/// Everything discovered from one MCP server URL.
#[derive(Debug, Clone)]
pub struct ServerDiscovery {
    /// The server URL as given.
    pub server_url: String,
    /// Its protected resource metadata.
    pub resource: ResourceMetadata,
    /// The challenge of its 401, if it sent one.
    pub challenge: Option<BearerChallenge>,
    /// The issuer used: the first of the metadata's `authorization_servers`.
    pub issuer: String,
    /// That issuer's metadata, checked with [`check_as_metadata`].
    pub metadata: AsMetadata,
}

/// The well-known RFC 9728 URLs of a server, in the MCP spec's order: the
/// path-based one (`/.well-known/oauth-protected-resource/PATH`) when the
/// URL has a path, then the root one.
pub fn resource_metadata_urls(server: &Url) -> Vec<Url> {
    if server.cannot_be_a_base() {
        return Vec::new();
    }
    let path = server.path().trim_end_matches('/');
    let at = |new_path: String| {
        let mut url = server.clone();
        url.set_path(&new_path);
        url.set_query(None);
        url.set_fragment(None);
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url
    };
    let mut urls = Vec::new();
    if !path.is_empty() {
        urls.push(at(format!("/.well-known/oauth-protected-resource{path}")));
    }
    urls.push(at("/.well-known/oauth-protected-resource".into()));
    urls
}

/// The requests sent without a token to provoke the 401, in order: the
/// MCP `initialize` of the revisions before 2026-07-28, then (when that one
/// is let through, as servers may do for `initialize` alone) 2026-07-28's
/// `server/discover` with its `_meta` and `MCP-Protocol-Version` header.
fn probe_request(server: &Url, modern: bool) -> Result<http::Request<Vec<u8>>, DiscoveryError> {
    let client_info =
        serde_json::json!({"name": "mcp-passport", "version": env!("CARGO_PKG_VERSION")});
    let (version, probe) = if modern {
        let version = "2026-07-28";
        let probe = serde_json::json!({
            "jsonrpc": "2.0", "id": 0, "method": "server/discover",
            "params": {"_meta": {
                "io.modelcontextprotocol/protocolVersion": version,
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": client_info,
            }},
        });
        (version, probe)
    } else {
        let version = "2025-11-25";
        let probe = serde_json::json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": client_info},
        });
        (version, probe)
    };
    let method = if modern {
        "server/discover"
    } else {
        "initialize"
    };
    http::Request::post(server.as_str())
        .header(http::header::ACCEPT, "application/json, text/event-stream")
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("mcp-protocol-version", version)
        .header("mcp-method", method)
        .body(probe.to_string().into_bytes())
        .map_err(|_| UrlError::Malformed(url_policy::redact(server)).into())
}

/// Sends a probe; the Bearer challenge of a 401, if one came.
async fn probe(
    http: &HttpClient,
    server: &Url,
    modern: bool,
) -> Result<Option<BearerChallenge>, DiscoveryError> {
    match http.send(probe_request(server, modern)?).await {
        Ok(r) if r.status == http::StatusCode::UNAUTHORIZED => Ok(r
            .headers
            .get_all(http::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(parse_www_authenticate)),
        Ok(_) | Err(HttpError::Redirect { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Discovers the authorization server of an MCP server (MCP authorization
/// spec, "Protected Resource Metadata Discovery Requirements").
///
/// Sends an MCP `initialize` without a token (then a `server/discover` when
/// that drew no 401); the `resource_metadata` of a 401's Bearer challenge (allowed by [`url_policy::check_endpoint`] against
/// the server URL) is tried first, then [`resource_metadata_urls`]. The
/// metadata's `resource` must be `server_url` exactly (SECURITY 20); a
/// document from the root well-known URL may instead name the server's
/// origin, the identifier that URL stands for (RFC 9728 section 3.3).
/// Anything else stops here, before any authorization server is contacted.
/// The first of `authorization_servers` is the issuer, whose metadata is
/// then fetched with [`fetch_as_metadata`].
pub async fn discover_server(
    http: &HttpClient,
    server_url: &str,
) -> Result<ServerDiscovery, DiscoveryError> {
    discover_server_allowing(http, server_url, &|_| Vec::new()).await
}

/// [`discover_server`], fetching the issuer's metadata with
/// [`fetch_as_metadata_allowing`] and the extra endpoint hosts
/// `extra_hosts(issuer)` gives for the issuer found.
pub async fn discover_server_allowing(
    http: &HttpClient,
    server_url: &str,
    extra_hosts: &(dyn Fn(&str) -> Vec<String> + Sync),
) -> Result<ServerDiscovery, DiscoveryError> {
    let server = url_policy::check_user_url(server_url)?;
    let challenge = match probe(http, &server, false).await? {
        Some(challenge) => Some(challenge),
        None => probe(http, &server, true).await?,
    };
    let mut candidates = Vec::new();
    if let Some(url) = challenge
        .as_ref()
        .and_then(|c| c.resource_metadata.as_deref())
    {
        candidates.push(url_policy::check_endpoint(url, &server)?);
    }
    let well_known = resource_metadata_urls(&server);
    let root = well_known.last().cloned();
    candidates.extend(well_known);
    let mut not_json = None;
    let mut found = None;
    for url in candidates {
        let response = http.get_json(&url).await?;
        if !response.status.is_success() {
            tracing::debug!(url = %url_policy::redact(&url), status = %response.status, "no resource metadata here");
            continue;
        }
        match response.json::<ResourceMetadata>() {
            Some(document) => {
                found = Some((document, Some(&url) == root.as_ref()));
                break;
            }
            None => {
                not_json.get_or_insert(DiscoveryError::NotJson {
                    url: url_policy::redact(&url),
                });
            }
        }
    }
    let Some((resource, fetched_from_root)) = found else {
        return Err(
            not_json.unwrap_or_else(|| DiscoveryError::NoResourceMetadata {
                server: server_url.to_string(),
            }),
        );
    };
    // RFC 9728 section 3.3: the resource must be the identifier the metadata
    // URL was built from: the server URL, or its origin for the root URL.
    let origin = server.origin().ascii_serialization();
    let from_root = fetched_from_root && resource.resource.trim_end_matches('/') == origin;
    if resource.resource != server_url && !from_root {
        return Err(DiscoveryError::ResourceMismatch {
            expected: server_url.to_string(),
            found: untrusted(&resource.resource),
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
    let metadata = fetch_as_metadata_allowing(http, &issuer, &extra_hosts(&issuer)).await?;
    Ok(ServerDiscovery {
        server_url: server_url.to_string(),
        resource,
        challenge,
        issuer,
        metadata,
    })
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

/// The Multi-Server catalog (`mcp_server_catalog_endpoint`), or an empty
/// list when the AS has none.
///
/// The endpoint must pass the URL policy and sit on the issuer's origin.
/// Entries whose `resource` the URL policy refuses (plain http off
/// loopback, metadata addresses, loopback from a remote AS) are dropped
/// with a warning: tokens are later sent to those URLs.
pub async fn fetch_catalog(
    http: &HttpClient,
    metadata: &AsMetadata,
) -> Result<Vec<CatalogServer>, DiscoveryError> {
    #[derive(serde::Deserialize)]
    struct Catalog {
        servers: Vec<CatalogServer>,
    }
    let Some(endpoint) = &metadata.mcp_server_catalog_endpoint else {
        return Ok(Vec::new());
    };
    let issuer = url_policy::check_user_url(&metadata.issuer)?;
    let url = url_policy::check_endpoint(endpoint, &issuer)?;
    if !same_origin(&url, &issuer) {
        return Err(DiscoveryError::ForeignEndpoint {
            endpoint: "server catalog",
            url: url_policy::redact(&url),
            issuer: metadata.issuer.clone(),
            hosts: vec![crate::providers::authority(&url)],
        });
    }
    let response = http.get_json(&url).await?;
    if !response.status.is_success() {
        return Err(DiscoveryError::CatalogUnavailable {
            url: url_policy::redact(&url),
            status: response.status.as_u16(),
        });
    }
    let catalog = response
        .json::<Catalog>()
        .ok_or_else(|| DiscoveryError::NotJson {
            url: url_policy::redact(&url),
        })?;
    Ok(catalog
        .servers
        .into_iter()
        .filter(|s| match url_policy::check_endpoint(&s.resource, &issuer) {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(id = %s.id, error = %e, "catalog entry dropped");
                false
            }
        })
        .collect())
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

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|_| panic!("{s}"))
    }

    fn strings(urls: &[Url]) -> Vec<&str> {
        urls.iter().map(Url::as_str).collect()
    }

    #[test]
    fn metadata_urls_follow_the_spec_order_with_a_path() {
        assert_eq!(
            strings(&metadata_urls(&url("https://as.example/tenant1"))),
            vec![
                "https://as.example/.well-known/oauth-authorization-server/tenant1",
                "https://as.example/.well-known/openid-configuration/tenant1",
                "https://as.example/tenant1/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            strings(&metadata_urls(&url("https://as.example:8443/a/b/"))),
            vec![
                "https://as.example:8443/.well-known/oauth-authorization-server/a/b",
                "https://as.example:8443/.well-known/openid-configuration/a/b",
                "https://as.example:8443/a/b/.well-known/openid-configuration",
            ]
        );
    }

    #[test]
    fn metadata_urls_without_a_path_or_with_a_lone_slash_are_the_root_ones() {
        let expected = vec![
            "https://as.example/.well-known/oauth-authorization-server",
            "https://as.example/.well-known/openid-configuration",
        ];
        assert_eq!(
            strings(&metadata_urls(&url("https://as.example"))),
            expected
        );
        assert_eq!(
            strings(&metadata_urls(&url("https://as.example/"))),
            expected
        );
        assert_eq!(
            strings(&metadata_urls(&url("http://127.0.0.1:9400/?q=1#f"))),
            vec![
                "http://127.0.0.1:9400/.well-known/oauth-authorization-server",
                "http://127.0.0.1:9400/.well-known/openid-configuration",
            ]
        );
        assert!(metadata_urls(&url("mailto:a@b.example")).is_empty());
    }

    #[test]
    fn resource_metadata_urls_try_the_path_then_the_root() {
        assert_eq!(
            strings(&resource_metadata_urls(&url(
                "https://s.example/public/mcp"
            ))),
            vec![
                "https://s.example/.well-known/oauth-protected-resource/public/mcp",
                "https://s.example/.well-known/oauth-protected-resource",
            ]
        );
        assert_eq!(
            strings(&resource_metadata_urls(&url("https://s.example/"))),
            vec!["https://s.example/.well-known/oauth-protected-resource"]
        );
    }

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
            device_authorization_endpoint: None,
            grant_types_supported: None,
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
        let no_scope = BearerChallenge::default();
        assert_eq!(
            choose_scope(Some(&no_scope), Some(&resource)).as_deref(),
            Some("a b")
        );
        assert_eq!(choose_scope(None, Some(&resource)).as_deref(), Some("a b"));
        let empty = ResourceMetadata {
            scopes_supported: Some(vec![]),
            ..resource
        };
        assert_eq!(choose_scope(None, Some(&empty)), None);
        assert_eq!(choose_scope(Some(&challenge), None).as_deref(), Some("c"));
        assert_eq!(choose_scope(None, None), None);
    }
}
