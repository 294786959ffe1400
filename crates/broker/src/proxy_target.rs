//! Where the proxy sends a server's requests, worked out once per URL
//! rather than for every request: the URL itself (DPoP proofs name it), the
//! parsed request target, and for plain `http` the `Host` header (which the
//! HTTP client would otherwise format anew for every request).

use http::{HeaderValue, Uri};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// URLs kept at most; past that the cache starts over (a user has a
/// handful of servers, and their URLs change only on a new sign-in).
const KEEP: usize = 256;

/// One server URL, ready to send to.
#[derive(Debug)]
pub struct Target {
    /// The URL as the grant has it.
    pub url: String,
    /// The URL as a request target.
    pub uri: Uri,
    /// `host[:port]` for a plain `http` URL; `None` for others (their
    /// client sets it).
    pub host: Option<HeaderValue>,
}

/// The targets worked out so far, by URL.
#[derive(Debug, Default, Clone)]
pub struct Targets(Arc<Mutex<HashMap<String, Arc<Target>>>>);

impl Targets {
    /// The target for `url`; `None` if it is not a valid request target.
    pub fn get(&self, url: &str) -> Option<Arc<Target>> {
        let mut known = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(target) = known.get(url) {
            return Some(Arc::clone(target));
        }
        let target = Arc::new(Target::new(url)?);
        if known.len() >= KEEP {
            known.clear();
        }
        known.insert(url.to_string(), Arc::clone(&target));
        Some(target)
    }
}

impl Target {
    fn new(url: &str) -> Option<Target> {
        let uri = url.parse::<Uri>().ok()?;
        let host = if uri.scheme() == Some(&http::uri::Scheme::HTTP) {
            Some(host_header(&uri)?)
        } else {
            None
        };
        Some(Target {
            url: url.to_string(),
            uri,
            host,
        })
    }
}

/// `host[:port]` as an HTTP/1.1 client sends it: the port only when it is
/// not 80; no user information.
fn host_header(uri: &Uri) -> Option<HeaderValue> {
    let host = uri.host()?;
    let value = match uri.port_u16() {
        Some(port) if port != 80 => format!("{host}:{port}"),
        _ => host.to_string(),
    };
    HeaderValue::from_str(&value).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_plain_url_gets_its_host_header_once() {
        let targets = Targets::default();
        let first = targets.get("http://127.0.0.1:9401/mcp").unwrap();
        assert_eq!(first.host.as_ref().unwrap(), "127.0.0.1:9401");
        assert_eq!(first.uri.path(), "/mcp");
        assert_eq!(first.url, "http://127.0.0.1:9401/mcp");
        let again = targets.get("http://127.0.0.1:9401/mcp").unwrap();
        assert!(Arc::ptr_eq(&first, &again), "worked out once, then shared");
        let default_port = targets.get("http://user:pw@mcp.example:80/x").unwrap();
        assert_eq!(default_port.host.as_ref().unwrap(), "mcp.example");
    }

    #[test]
    fn tls_urls_leave_the_host_to_their_client_and_bad_urls_are_refused() {
        let targets = Targets::default();
        assert!(
            targets
                .get("https://mcp.example/mcp")
                .unwrap()
                .host
                .is_none()
        );
        assert!(targets.get("http://bad host/mcp").is_none());
        assert!(targets.get("").is_none());
    }
}
