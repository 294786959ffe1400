//! Which URLs the engine will talk to or open.
//!
//! Endpoints must be https, or http on a loopback host; loopback endpoints
//! are accepted only when the URL they came from (issuer or MCP server) is
//! itself on loopback, so a remote AS cannot point the engine at local
//! services. Link-local and cloud metadata addresses are always refused.
//! URLs opened in the browser follow the same scheme rule and are opened
//! without a shell.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Not a URL at all.
    #[error("{0:?} is not a valid URL")]
    Malformed(String),
    /// A scheme other than https (or http on loopback).
    #[error(
        "{0} uses a scheme that is not allowed; only https (or http on 127.0.0.1/localhost) is"
    )]
    Scheme(String),
    /// User name or password inside the URL.
    #[error("{0} carries credentials in the URL, which is not allowed")]
    Userinfo(String),
    /// A link-local, unspecified or cloud metadata address.
    #[error("{0} points to a link-local or metadata address, which is never contacted")]
    ForbiddenHost(String),
    /// A loopback endpoint announced by a non-loopback issuer or server.
    #[error("{0} points to this machine but was announced by a remote server")]
    LoopbackFromRemote(String),
}

/// Whether the URL's host is `localhost`, 127.0.0.0/8 or `::1`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4 == Ipv4Addr::new(100, 100, 100, 200)
        }
        IpAddr::V6(v6) => {
            v6.is_unspecified()
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
        }
    }
}

fn check_common(raw: &str) -> Result<Url, UrlError> {
    let url = Url::parse(raw).map_err(|_| UrlError::Malformed(crate::text::untrusted(raw, 200)))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::Userinfo(redact(&url)));
    }
    let forbidden = match url.host() {
        Some(Host::Ipv4(ip)) => forbidden_ip(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => forbidden_ip(IpAddr::V6(ip)),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("metadata.google.internal"),
        None => false,
    };
    if forbidden {
        return Err(UrlError::ForbiddenHost(redact(&url)));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => Err(UrlError::Scheme(redact(&url))),
    }
}

/// The URL without query or fragment, for messages.
pub fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// Checks an endpoint announced by `origin` (an issuer or MCP server URL).
pub fn check_endpoint(raw: &str, origin: &Url) -> Result<Url, UrlError> {
    let url = check_common(raw)?;
    if is_loopback(&url) && !is_loopback(origin) {
        return Err(UrlError::LoopbackFromRemote(redact(&url)));
    }
    Ok(url)
}

/// Checks a URL the user typed (issuer or MCP server).
pub fn check_user_url(raw: &str) -> Result<Url, UrlError> {
    check_common(raw.trim())
}

/// Checks a URL before it is opened in the system browser.
pub fn check_browser_url(raw: &str) -> Result<Url, UrlError> {
    if raw
        .chars()
        .any(|c| c.is_control() || c == ' ' || c == '`' || c == '"')
    {
        return Err(UrlError::Malformed(crate::text::untrusted(raw, 200)));
    }
    check_common(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|_| panic!("{s}"))
    }

    #[test]
    fn sec_14_browser_urls_with_dangerous_schemes_are_never_opened() {
        for bad in [
            "file:///etc/passwd",
            "smb://host/share",
            "javascript:alert(1)",
            "http://evil.example/",
            "https://a.example/$(rm -rf ~)`x`",
            "data:text/html,hi",
        ] {
            assert!(check_browser_url(bad).is_err(), "{bad}");
        }
        assert!(check_browser_url("https://as.example/authorize?x=1").is_ok());
        assert!(check_browser_url("http://127.0.0.1:9400/authorize").is_ok());
    }

    #[test]
    fn sec_15_metadata_addresses_are_refused_and_loopback_only_from_loopback() {
        let remote = url("https://as.example");
        let local = url("http://127.0.0.1:9400");
        assert_eq!(
            check_endpoint("http://169.254.169.254/latest/meta-data", &local),
            Err(UrlError::ForbiddenHost(
                "http://169.254.169.254/latest/meta-data".into()
            ))
        );
        assert!(check_endpoint("https://169.254.169.254/token", &remote).is_err());
        assert!(check_endpoint("https://[fe80::1]/token", &remote).is_err());
        assert!(matches!(
            check_endpoint("http://127.0.0.1:8080/token", &remote),
            Err(UrlError::LoopbackFromRemote(_))
        ));
        assert!(matches!(
            check_endpoint("https://localhost/token", &remote),
            Err(UrlError::LoopbackFromRemote(_))
        ));
        assert!(check_endpoint("http://127.0.0.1:9400/token", &local).is_ok());
    }

    #[test]
    fn sec_19_plain_http_off_loopback_is_refused() {
        let remote = url("https://as.example");
        assert!(matches!(
            check_endpoint("http://as.example/token", &remote),
            Err(UrlError::Scheme(_))
        ));
        assert!(check_endpoint("https://as.example/token", &remote).is_ok());
    }

    #[test]
    fn a_refused_address_is_named_without_its_control_characters() {
        for raw in [
            "https://as.example/\u{1b}[2Jdevice",
            "not a url \u{1b}]8;;evil\u{7}\u{202e}",
        ] {
            let message = match check_browser_url(raw) {
                Err(e) => e.to_string(),
                Ok(u) => panic!("accepted {u}"),
            };
            assert!(
                !message.contains('\u{1b}')
                    && !message.contains('\u{7}')
                    && !message.contains('\u{202e}'),
                "{message:?}"
            );
        }
    }

    #[test]
    fn userinfo_is_refused_and_not_echoed() {
        let Err(err) = check_user_url("https://user:pw@as.example/") else {
            panic!("accepted")
        };
        assert!(!err.to_string().contains("pw"));
    }
}
