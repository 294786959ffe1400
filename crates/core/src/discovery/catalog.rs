//! The Multi-Server catalog: the MCP servers an authorization server lists
//! at its `mcp_server_catalog_endpoint`.

use super::{DiscoveryError, same_origin};
use crate::http::HttpClient;
use crate::metadata::{AsMetadata, CatalogServer};
use crate::url_policy;

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
