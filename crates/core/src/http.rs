//! The one HTTP client the engine uses, passed in by the caller.
//!
//! It follows no redirects (a 30x from a token, registration or metadata
//! endpoint is an error, not a hop to another host), has timeouts, caps
//! response bodies, and identifies itself. `oauth2`'s requests go through it
//! via its `oauth2::AsyncHttpClient` implementation.
//!
//! Every client on this side of the wire is built from [`client_builder`],
//! which holds the one proxy rule: a loopback host (127.0.0.0/8, `::1`,
//! `localhost`) is always reached directly, whatever `HTTP_PROXY`,
//! `HTTPS_PROXY` or `ALL_PROXY` say (a proxy must never see a request to
//! the broker, let alone the key it carries); any other host goes through
//! the environment's proxy, honouring `NO_PROXY`.

use base64::Engine as _;
use std::time::Duration;

/// Largest response body accepted from any endpoint.
pub const MAX_BODY: usize = 1024 * 1024;

/// Why an HTTP exchange failed before a usable response arrived.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// Connection refused, reset, TLS failure, or timeout.
    #[error("could not reach {url}: {reason}")]
    Transport {
        /// The URL (without query).
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A redirect where none is allowed.
    #[error(
        "{url} answered with a redirect ({status}); redirects are not followed for OAuth endpoints"
    )]
    Redirect {
        /// The URL (without query).
        url: String,
        /// The 30x status.
        status: u16,
    },
    /// The server failed (5xx) while answering an OAuth request.
    #[error("{url} failed with HTTP {status}; it may be down, try again later")]
    ServerError {
        /// The URL (without query).
        url: String,
        /// The 5xx status.
        status: u16,
    },
    /// The body was larger than [`MAX_BODY`].
    #[error("{url} sent more than 1 MiB")]
    TooLarge {
        /// The URL (without query).
        url: String,
    },
}

/// A plain response: status, headers, body.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: http::StatusCode,
    /// Response headers.
    pub headers: http::HeaderMap,
    /// The body (at most [`MAX_BODY`]).
    pub body: Vec<u8>,
}

impl Response {
    /// The body parsed as JSON, if it is.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Whether `url` names this machine: 127.0.0.0/8, `::1` (also as an
/// IPv4-mapped address), or `localhost`.
pub fn is_loopback_url(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.strip_suffix('.').unwrap_or(d);
            d.eq_ignore_ascii_case("localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        None => false,
    }
}

/// The proxy rule: `None` (direct) for a loopback host, else what the
/// environment's `HTTP(S)_PROXY`/`ALL_PROXY` and `NO_PROXY` (either case)
/// say, read once when the rule is made.
pub fn proxy_rule() -> reqwest::Proxy {
    let env = hyper_util::client::proxy::matcher::Matcher::from_env();
    reqwest::Proxy::custom(move |url| proxy_for(&env, url))
}

fn proxy_for(
    env: &hyper_util::client::proxy::matcher::Matcher,
    url: &url::Url,
) -> Option<url::Url> {
    if is_loopback_url(url) {
        return None;
    }
    let uri: http::Uri = url.as_str().parse().ok()?;
    let hit = env.intercept(&uri)?;
    let mut proxy = url::Url::parse(&hit.uri().to_string()).ok()?;
    // The proxy's credentials: kept apart by the matcher (Basic for an
    // HTTP proxy, raw for SOCKS); reqwest takes them from the URL.
    let basic = hit
        .basic_auth()
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let credentials = match (&basic, hit.raw_auth()) {
        (Some(pair), _) => pair.split_once(':'),
        (None, raw) => raw,
    };
    if let Some((user, password)) = credentials {
        proxy.set_username(user).ok()?;
        proxy.set_password(Some(password)).ok()?;
    }
    Some(proxy)
}

/// A `reqwest` client builder with the proxy rule ([`proxy_rule`]): start
/// every client of this side of the wire here.
/// Its TLS reads the system's roots at the first certificate it checks
/// ([`crate::tls_roots`]).
pub fn client_builder() -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder().proxy(proxy_rule());
    match crate::tls_roots::client_config() {
        Ok(tls) => builder.tls_backend_preconfigured(tls),
        Err(_) => builder,
    }
}

/// The engine's HTTP client.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
}

impl HttpClient {
    /// A client with a 15 s overall timeout and no redirects.
    pub fn new() -> Result<Self, HttpError> {
        Self::with_timeout(Duration::from_secs(15))
    }

    /// A client with the given overall timeout and no redirects.
    pub fn with_timeout(timeout: Duration) -> Result<Self, HttpError> {
        let inner = client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5).min(timeout))
            .timeout(timeout)
            .user_agent(concat!("mcp-passport/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::Transport {
                url: String::new(),
                reason: e.to_string(),
            })?;
        Ok(Self { inner })
    }

    /// Sends a request; a 30x is an error.
    pub async fn send(&self, request: http::Request<Vec<u8>>) -> Result<Response, HttpError> {
        let shown = crate::url_policy::redact(
            &url::Url::parse(&request.uri().to_string()).map_err(|e| HttpError::Transport {
                url: String::new(),
                reason: e.to_string(),
            })?,
        );
        let request = reqwest::Request::try_from(request).map_err(|e| HttpError::Transport {
            url: shown.clone(),
            reason: e.to_string(),
        })?;
        let mut response = self
            .inner
            .execute(request)
            .await
            .map_err(|e| HttpError::Transport {
                url: shown.clone(),
                reason: describe(&e),
            })?;
        let status = response.status();
        if status.is_redirection() {
            return Err(HttpError::Redirect {
                url: shown,
                status: status.as_u16(),
            });
        }
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| HttpError::Transport {
            url: shown.clone(),
            reason: describe(&e),
        })? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(HttpError::TooLarge { url: shown });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// A GET with `Accept: application/json`.
    pub async fn get_json(&self, url: &url::Url) -> Result<Response, HttpError> {
        let request = http::Request::get(url.as_str())
            .header(http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|e| HttpError::Transport {
                url: crate::url_policy::redact(url),
                reason: e.to_string(),
            })?;
        self.send(request).await
    }

    /// The adapter `oauth2` calls for its requests. A 5xx is an outage, not
    /// an OAuth answer (RFC 6749 errors are 400 and 401), so it fails here as
    /// [`HttpError::ServerError`] and the engine backs off.
    pub async fn oauth_call(
        &self,
        request: oauth2::HttpRequest,
    ) -> Result<oauth2::HttpResponse, HttpError> {
        let url = url::Url::parse(&request.uri().to_string())
            .map(|u| crate::url_policy::redact(&u))
            .unwrap_or_default();
        let response = self.send(request).await?;
        if response.status.is_server_error() {
            return Err(HttpError::ServerError {
                url,
                status: response.status.as_u16(),
            });
        }
        let mut out = http::Response::builder().status(response.status);
        if let Some(headers) = out.headers_mut() {
            *headers = response.headers;
        }
        out.body(response.body).map_err(|e| HttpError::Transport {
            url: String::new(),
            reason: e.to_string(),
        })
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        // reqwest's Display includes the URL with its query; keep only the kind.
        let mut text = e.to_string();
        if let Some(i) = text.find(" for url (") {
            text.truncate(i);
        }
        text
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.oauth_call(request))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{is_loopback_url, proxy_for};
    use hyper_util::client::proxy::matcher::Matcher;

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    #[test]
    fn loopback_hosts_are_never_proxied() {
        let env = Matcher::builder()
            .all("http://user:pw@proxy.example:3128")
            .build();
        for direct in [
            "http://127.0.0.1:8755/v1/token/github-mcp",
            "http://127.8.9.10/",
            "http://[::1]:9000/mcp",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost:3000/",
            "http://LOCALHOST./",
        ] {
            assert!(is_loopback_url(&url(direct)), "{direct}");
            assert_eq!(proxy_for(&env, &url(direct)), None, "{direct}");
        }
    }

    #[test]
    fn other_hosts_use_the_environment_proxy_unless_no_proxy_names_them() {
        let env = Matcher::builder()
            .http("http://user:pw@proxy.example:3128")
            .https("http://proxy.example:3129")
            .no("corp.example")
            .build();
        let proxied = proxy_for(&env, &url("http://mcp.example.invalid/mcp")).unwrap();
        assert_eq!(proxied.host_str(), Some("proxy.example"));
        assert_eq!(proxied.port(), Some(3128));
        assert_eq!(
            (proxied.username(), proxied.password()),
            ("user", Some("pw"))
        );
        let tls = proxy_for(&env, &url("https://as.example.invalid/token")).unwrap();
        assert_eq!(tls.port(), Some(3129));
        assert_eq!(proxy_for(&env, &url("https://mcp.corp.example/")), None);
        assert!(!is_loopback_url(&url("http://128.0.0.1/")));
        assert!(!is_loopback_url(&url("http://localhost.example/")));
    }
}
