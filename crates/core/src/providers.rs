//! Provider quirks as data: what some authorization servers need beyond
//! the MCP authorization spec, kept in one table matched by issuer instead
//! of branches in the flows.
//!
//! Each entry of [`PROFILES`] names the behaviour it answers. The user's own
//! settings for an issuer (the state file's `providers`, written by `login`
//! options, by a confirmation, or learned from an AS's answer) are added on
//! top of the profile: a switch turned on stays on, parameters given by the
//! user win over the profile's, host lists are joined. Nothing here does
//! I/O; the engine reads [`effective`] where it builds requests.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What one issuer needs. Stored per issuer in the state file; every field
/// defaults, so older state files load unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderQuirks {
    /// Send no RFC 8707 `resource` parameter (authorize, token, refresh):
    /// the AS refuses it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_resource: bool,
    /// Extra parameters for the authorization request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub authorize_params: BTreeMap<String, String>,
    /// Add `offline_access` to the requested scope (where the AS lists it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub offline_access: bool,
    /// Hosts (`host` or `host:port`) besides the issuer's own where this
    /// issuer's endpoints may live.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoint_hosts: Vec<String>,
}

/// How a profile is matched.
#[derive(Debug, Clone, Copy)]
pub enum IssuerMatch {
    /// This exact issuer, character for character.
    Exact(&'static str),
    /// Any issuer starting with this (tenants in the path). Such a profile
    /// never lists endpoint hosts: those are only for one exact issuer.
    Prefix(&'static str),
}

/// One provider's built-in profile.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    /// Which issuers it is for.
    pub issuer: IssuerMatch,
    /// See [`ProviderQuirks::no_resource`].
    pub no_resource: bool,
    /// See [`ProviderQuirks::authorize_params`].
    pub authorize_params: &'static [(&'static str, &'static str)],
    /// See [`ProviderQuirks::offline_access`].
    pub offline_access: bool,
    /// See [`ProviderQuirks::endpoint_hosts`] (only with [`IssuerMatch::Exact`]).
    pub endpoint_hosts: &'static [&'static str],
}

/// The built-in profiles.
pub const PROFILES: &[Profile] = &[
    // Google: the token and revocation endpoints live on oauth2.googleapis.com,
    // not on the issuer's host; and Google issues a refresh token only when
    // the authorization request says access_type=offline, and again on a
    // later sign-in only with prompt=consent.
    Profile {
        issuer: IssuerMatch::Exact("https://accounts.google.com"),
        no_resource: false,
        authorize_params: &[("access_type", "offline"), ("prompt", "consent")],
        offline_access: false,
        endpoint_hosts: &["oauth2.googleapis.com"],
    },
    // Microsoft Entra ID v2: a `resource` parameter beside v2 scopes is refused
    // with AADSTS9010010, and a refresh token comes only with offline_access.
    Profile {
        issuer: IssuerMatch::Prefix("https://login.microsoftonline.com/"),
        no_resource: true,
        authorize_params: &[],
        offline_access: true,
        endpoint_hosts: &[],
    },
];

/// Authorization parameters the engine sets itself; an override of one of
/// these is refused (it would undo PKCE, `state` or the redirect check).
pub const RESERVED_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "scope",
    "resource",
    "request",
    "request_uri",
];

fn matches(m: IssuerMatch, issuer: &str) -> bool {
    match m {
        IssuerMatch::Exact(i) => i == issuer,
        IssuerMatch::Prefix(p) => issuer.starts_with(p),
    }
}

/// The built-in profile for `issuer`, if any.
pub fn profile(issuer: &str) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| matches(p.issuer, issuer))
}

/// What `issuer` needs: its profile joined with the user's `stored` settings.
pub fn effective(issuer: &str, stored: Option<&ProviderQuirks>) -> ProviderQuirks {
    let mut out = ProviderQuirks::default();
    if let Some(p) = profile(issuer) {
        out.no_resource = p.no_resource;
        out.offline_access = p.offline_access;
        for (k, v) in p.authorize_params {
            out.authorize_params.insert((*k).into(), (*v).into());
        }
        if matches!(p.issuer, IssuerMatch::Exact(_)) {
            out.endpoint_hosts = p.endpoint_hosts.iter().map(|h| (*h).into()).collect();
        }
    }
    if let Some(s) = stored {
        out.no_resource |= s.no_resource;
        out.offline_access |= s.offline_access;
        for (k, v) in &s.authorize_params {
            out.authorize_params.insert(k.clone(), v.clone());
        }
        for h in &s.endpoint_hosts {
            if !out.endpoint_hosts.contains(h) {
                out.endpoint_hosts.push(h.clone());
            }
        }
    }
    out.authorize_params
        .retain(|k, _| !RESERVED_PARAMS.contains(&k.as_str()));
    out
}

/// Settings the user gives for the issuers of one sign-in (`login` options).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuirkOverrides {
    /// Send no `resource` parameter.
    #[serde(default)]
    pub no_resource: bool,
    /// Extra authorization parameters.
    #[serde(default)]
    pub authorize_params: BTreeMap<String, String>,
    /// Endpoint hosts the user allows (kept only for the issuer that uses them).
    #[serde(default)]
    pub endpoint_hosts: Vec<String>,
}

impl QuirkOverrides {
    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Why an override was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuirkError {
    /// Not `key=value`.
    #[error("{0:?} is not a key=value pair")]
    NotAPair(String),
    /// A parameter the engine sets itself.
    #[error("{0} is set by MCP Passport itself and cannot be overridden")]
    Reserved(String),
    /// Not a host name, or `host:port`.
    #[error("{0:?} is not a host name (give a host such as oauth2.example.com, or host:port)")]
    NotAHost(String),
}

/// Parses an extra authorization parameter `key=value`.
pub fn parse_param(raw: &str) -> Result<(String, String), QuirkError> {
    let shown = || crate::text::untrusted(raw, 100);
    let (k, v) = raw
        .split_once('=')
        .ok_or_else(|| QuirkError::NotAPair(shown()))?;
    let k = k.trim();
    if k.is_empty() || k.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(QuirkError::NotAPair(shown()));
    }
    if RESERVED_PARAMS.contains(&k) {
        return Err(QuirkError::Reserved(k.to_string()));
    }
    Ok((k.to_string(), v.to_string()))
}

/// Parses an endpoint host (`host` or `host:port`), lower-cased.
pub fn parse_host(raw: &str) -> Result<String, QuirkError> {
    let host = raw.trim().to_ascii_lowercase();
    let ok = url::Url::parse(&format!("https://{host}/"))
        .is_ok_and(|u| u.username().is_empty() && u.password().is_none() && authority(&u) == host);
    if ok {
        Ok(host)
    } else {
        Err(QuirkError::NotAHost(crate::text::untrusted(raw, 100)))
    }
}

/// A URL's `host` or `host:port` (port only when not the scheme's default).
pub fn authority(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

/// Whether two redirect URIs are the same loopback address but for the
/// port, which the AS must accept for any port (RFC 8252 section 7.3).
pub fn same_loopback_redirect(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => {
            crate::url_policy::is_loopback(&a)
                && a.scheme() == b.scheme()
                && a.host() == b.host()
                && a.path() == b.path()
        }
        _ => false,
    }
}

/// Whether an OAuth error says the AS refuses the `resource` parameter:
/// RFC 8707's `invalid_target`, or Entra's AADSTS9010010 under any code.
pub fn refuses_resource(error: &str, description: &str) -> bool {
    error == "invalid_target" || description.contains("AADSTS9010010")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_profile_is_for_that_exact_issuer_only() {
        let google = effective("https://accounts.google.com", None);
        assert_eq!(google.endpoint_hosts, vec!["oauth2.googleapis.com"]);
        assert_eq!(
            google
                .authorize_params
                .get("access_type")
                .map(String::as_str),
            Some("offline")
        );
        for other in [
            "https://accounts.google.com/",
            "https://accounts.google.com.evil.example",
            "http://accounts.google.com",
        ] {
            assert_eq!(effective(other, None), ProviderQuirks::default(), "{other}");
        }
    }

    #[test]
    fn entra_tenants_send_no_resource_and_ask_offline_access() {
        let q = effective("https://login.microsoftonline.com/contoso/v2.0", None);
        assert!(q.no_resource && q.offline_access);
        assert!(q.endpoint_hosts.is_empty());
    }

    #[test]
    fn stored_settings_add_to_the_profile_and_reserved_keys_never_pass() {
        let mut stored = ProviderQuirks::default();
        stored
            .authorize_params
            .insert("prompt".into(), "select_account".into());
        stored.authorize_params.insert("state".into(), "x".into());
        stored.endpoint_hosts.push("other.example".into());
        let q = effective("https://accounts.google.com", Some(&stored));
        assert_eq!(q.authorize_params["prompt"], "select_account");
        assert!(!q.authorize_params.contains_key("state"));
        assert_eq!(q.endpoint_hosts.len(), 2);
    }

    #[test]
    fn overrides_are_parsed_strictly() {
        assert_eq!(
            parse_param("access_type=offline"),
            Ok(("access_type".into(), "offline".into()))
        );
        assert!(matches!(parse_param("nokey"), Err(QuirkError::NotAPair(_))));
        assert!(matches!(
            parse_param("redirect_uri=https://evil.example"),
            Err(QuirkError::Reserved(_))
        ));
        assert_eq!(
            parse_host("OAuth2.GoogleAPIs.com"),
            Ok("oauth2.googleapis.com".into())
        );
        assert_eq!(parse_host("127.0.0.1:9400"), Ok("127.0.0.1:9400".into()));
        for bad in ["https://x.example", "a@b.example", "x.example/path", ""] {
            assert!(parse_host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_loopback_redirects_may_differ_by_port() {
        assert!(same_loopback_redirect(
            "http://127.0.0.1:4000/callback",
            "http://127.0.0.1:5000/callback"
        ));
        assert!(!same_loopback_redirect(
            "http://127.0.0.1:4000/callback",
            "io.github.mcppassport:/oauth/callback"
        ));
        assert!(!same_loopback_redirect(
            "https://app.example:4000/callback",
            "https://app.example:5000/callback"
        ));
    }

    #[test]
    fn resource_refusals_are_recognised() {
        assert!(refuses_resource("invalid_target", ""));
        assert!(refuses_resource(
            "invalid_request",
            "AADSTS9010010: The resource parameter provided in the request doesn't match"
        ));
        assert!(!refuses_resource("invalid_request", "bad PKCE"));
    }
}
