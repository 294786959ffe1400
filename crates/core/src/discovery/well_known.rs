//! Where discovery looks: the well-known URLs of an authorization server's
//! metadata (RFC 8414 and OpenID Connect) and of an MCP server's protected
//! resource metadata (RFC 9728), each in the MCP spec's order.

use url::Url;

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
}
