//! Planning a sign-in: which authorization requests a login needs. An
//! issuer gives one global flow; MCP server URLs are discovered, grouped by
//! authorization server and given the best mode each AS supports
//! (Multi-Server, multi-resource, per-server).

use super::Engine;
use super::login::{LoginRequest, LoginTarget};
use crate::discovery::{self, ServerDiscovery};
use crate::error::EngineError;
use crate::metadata::{AsMetadata, CatalogServer};
use crate::model::Mode;
use crate::providers::QuirkOverrides;
use crate::{scope, url_policy};
use url::Url;

/// One authorization request to make.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub(super) issuer: String,
    pub(super) metadata: AsMetadata,
    pub(super) mode: Mode,
    pub(super) catalog: Vec<CatalogServer>,
    /// Resource indicators sent as `resource` (multi-resource and per-server):
    /// each server's RFC 9728 `resource`.
    pub(super) resources: Vec<String>,
    /// The MCP server URLs, parallel to `resources`.
    pub(super) urls: Vec<String>,
    /// Display names of those servers.
    pub(super) names: Vec<String>,
    pub(super) hint: Vec<String>,
    pub(super) scope: Option<String>,
}

fn display_name(d: &ServerDiscovery) -> String {
    d.resource.resource_name.clone().unwrap_or_else(|| {
        Url::parse(&d.server_url)
            .ok()
            .and_then(|u| u.host_str().map(|h| format!("{h}{}", u.path())))
            .unwrap_or_else(|| d.server_url.clone())
    })
}

/// The flows to run, and the server URLs that could not be discovered.
pub(super) type Planned = (Vec<Plan>, Vec<(String, EngineError)>);

impl Engine {
    pub(super) async fn plan(
        &self,
        request: &LoginRequest,
        overrides: &QuirkOverrides,
    ) -> Result<Planned, EngineError> {
        if let Some(label) = &request.account {
            crate::account::check_label(label)?;
        }
        let extra = request.scope.as_deref();
        match &request.target {
            LoginTarget::Issuer(raw) => {
                url_policy::check_user_url(raw)?;
                let hosts = self.endpoint_hosts(raw.trim(), overrides);
                let metadata =
                    discovery::fetch_as_metadata_allowing(&self.http, raw.trim(), &hosts).await?;
                self.adopt_overrides(&metadata.issuer, &metadata, overrides)?;
                let mode = discovery::mode_of(&metadata);
                if mode != Mode::MultiServer {
                    return Err(EngineError::Discovery(
                        discovery::DiscoveryError::NotMultiServer {
                            issuer: metadata.issuer.clone(),
                        },
                    ));
                }
                let catalog = discovery::fetch_catalog(&self.http, &metadata).await?;
                let hint = request.servers.clone();
                let scope = scope::union([Some(scope::global_request(&hint).as_str()), extra]);
                Ok((
                    vec![Plan {
                        issuer: metadata.issuer.clone(),
                        metadata,
                        mode,
                        catalog,
                        resources: vec![],
                        urls: vec![],
                        names: vec![],
                        hint,
                        scope,
                    }],
                    Vec::new(),
                ))
            }
            LoginTarget::Servers(urls) => {
                let mut found: Vec<ServerDiscovery> = Vec::new();
                let mut undiscovered = Vec::new();
                // Every server is discovered at once: ten servers cost one round trip's wait.
                let hosts = |issuer: &str| self.endpoint_hosts(issuer, overrides);
                let hosts = &hosts;
                let discoveries = urls
                    .iter()
                    .map(|raw| async move {
                        match url_policy::check_user_url(raw) {
                            Ok(_) => {
                                discovery::discover_server_allowing(&self.http, raw.trim(), hosts)
                                    .await
                                    .map_err(EngineError::from)
                            }
                            Err(e) => Err(e.into()),
                        }
                    })
                    .collect();
                let discoveries = super::batch::join_all(discoveries).await;
                for (raw, discovered) in urls.iter().zip(discoveries) {
                    let discovered = discovered.and_then(|d| {
                        self.adopt_overrides(&d.issuer, &d.metadata, overrides)
                            .map(|()| d)
                    });
                    match discovered {
                        Ok(d) => found.push(d),
                        Err(e) => undiscovered.push((raw.trim().to_string(), e)),
                    }
                }
                let mut plans: Vec<Plan> = Vec::new();
                let mut issuers: Vec<String> = found.iter().map(|d| d.issuer.clone()).collect();
                issuers.dedup();
                issuers.sort_by_key(|i| found.iter().position(|d| &d.issuer == i));
                issuers.dedup();
                for issuer in issuers {
                    let group: Vec<&ServerDiscovery> =
                        found.iter().filter(|d| d.issuer == issuer).collect();
                    let metadata = group[0].metadata.clone();
                    let scopes = group
                        .iter()
                        .map(|d| discovery::choose_scope(d.challenge.as_ref(), Some(&d.resource)));
                    let scopes: Vec<Option<String>> = scopes.collect();
                    match discovery::mode_of(&metadata) {
                        Mode::MultiServer => {
                            let catalog = discovery::fetch_catalog(&self.http, &metadata).await?;
                            let mut hint: Vec<String> = catalog
                                .iter()
                                .filter(|c| group.iter().any(|d| d.server_url == c.resource))
                                .map(|c| c.id.clone())
                                .collect();
                            hint.extend(
                                request
                                    .servers
                                    .iter()
                                    .filter(|s| !hint.contains(s))
                                    .cloned()
                                    .collect::<Vec<_>>(),
                            );
                            let scope =
                                scope::union([Some(scope::global_request(&hint).as_str()), extra]);
                            plans.push(Plan {
                                issuer,
                                metadata,
                                mode: Mode::MultiServer,
                                catalog,
                                resources: vec![],
                                urls: vec![],
                                names: vec![],
                                hint,
                                scope,
                            });
                        }
                        mode if group.len() > 1 || mode == Mode::MultiResource => {
                            let scope =
                                scope::union(scopes.iter().map(|s| s.as_deref()).chain([extra]));
                            let resources =
                                group.iter().map(|d| d.resource.resource.clone()).collect();
                            let urls = group.iter().map(|d| d.server_url.clone()).collect();
                            let names = group.iter().map(|d| display_name(d)).collect();
                            let mode = if group.len() > 1 {
                                Mode::MultiResource
                            } else {
                                Mode::PerServer
                            };
                            plans.push(Plan {
                                issuer,
                                metadata,
                                mode,
                                catalog: vec![],
                                resources,
                                urls,
                                names,
                                hint: vec![],
                                scope,
                            });
                        }
                        _ => {
                            let scope = scope::union([scopes[0].as_deref(), extra]);
                            let d = group[0];
                            plans.push(Plan {
                                issuer,
                                metadata,
                                mode: Mode::PerServer,
                                catalog: vec![],
                                resources: vec![d.resource.resource.clone()],
                                urls: vec![d.server_url.clone()],
                                names: vec![display_name(d)],
                                hint: vec![],
                                scope,
                            });
                        }
                    }
                }
                Ok((plans, undiscovered))
            }
        }
    }
}
