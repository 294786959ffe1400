//! An MCP server's protected resource metadata (RFC 9728): the probe that
//! draws its 401 challenge, the document found from the challenge or the
//! well-known URLs, checked to name the server, then the issuer it names
//! and that issuer's metadata; and the scope to ask for.

use super::{
    BearerChallenge, DiscoveryError, fetch_as_metadata_allowing, parse_www_authenticate,
    resource_metadata_urls, untrusted,
};
use crate::http::{HttpClient, HttpError};
use crate::metadata::{AsMetadata, ResourceMetadata};
use crate::url_policy::{self, UrlError};
use url::Url;

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
    /// That issuer's metadata, checked with [`check_as_metadata`](super::check_as_metadata).
    pub metadata: AsMetadata,
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
/// then fetched with [`fetch_as_metadata`](super::fetch_as_metadata).
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
