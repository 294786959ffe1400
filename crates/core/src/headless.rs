//! A browser stand-in for authorization servers that approve without a
//! person (test ASes, the MCP conformance suite's mock AS): it fetches the
//! authorization URL with a cookie-keeping HTTP client and follows
//! redirects until one points at the redirect URI, then hands that URL to
//! the callback handler exactly as a browser redirect would.

use std::sync::Arc;
use url::Url;

/// Receives the final redirect (the callback URL).
pub type Deliver = Arc<dyn Fn(String) + Send + Sync>;

/// Follows an authorization URL's redirects without a browser.
pub struct HeadlessOpener {
    redirect_uri: Url,
    deliver: Deliver,
    max_hops: usize,
}

impl std::fmt::Debug for HeadlessOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadlessOpener")
            .field("redirect_uri", &self.redirect_uri.as_str())
            .finish_non_exhaustive()
    }
}

impl HeadlessOpener {
    /// An opener that delivers the redirect to `redirect_uri` through `deliver`.
    pub fn new(redirect_uri: &str, deliver: Deliver) -> Result<Self, url::ParseError> {
        Ok(Self {
            redirect_uri: Url::parse(redirect_uri)?,
            deliver,
            max_hops: 20,
        })
    }

    fn is_callback(&self, url: &Url) -> bool {
        let r = &self.redirect_uri;
        url.scheme() == r.scheme()
            && url.host_str() == r.host_str()
            && url.path() == r.path()
            && (url.port() == r.port() || crate::url_policy::is_loopback(r))
    }

    /// Follows redirects from `start`; returns the callback URL reached.
    pub async fn follow(&self, start: &Url) -> Result<String, String> {
        let client = crate::http::client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .map_err(|e| e.to_string())?;
        let mut url = start.clone();
        for _ in 0..self.max_hops {
            crate::url_policy::check_browser_url(url.as_str()).map_err(|e| e.to_string())?;
            let response = client.get(url.clone()).send().await.map_err(|e| {
                format!(
                    "fetching the authorization page failed: {}",
                    e.without_url()
                )
            })?;
            let Some(location) = response.headers().get(reqwest::header::LOCATION) else {
                return Err(format!(
                    "the authorization server answered {} without redirecting; it needs a person (use the browser instead)",
                    response.status()
                ));
            };
            let next = url
                .join(
                    location
                        .to_str()
                        .map_err(|_| "a redirect location is not text".to_string())?,
                )
                .map_err(|_| "a redirect location is not a URL".to_string())?;
            if self.is_callback(&next) {
                return Ok(next.to_string());
            }
            url = next;
        }
        Err("too many redirects before reaching the redirect URI".into())
    }
}

impl crate::engine::Opener for HeadlessOpener {
    fn open(&self, url: &Url) -> Result<(), String> {
        let this = Self {
            redirect_uri: self.redirect_uri.clone(),
            deliver: Arc::clone(&self.deliver),
            max_hops: self.max_hops,
        };
        let url = url.clone();
        tokio::spawn(async move {
            match this.follow(&url).await {
                Ok(callback) => (this.deliver)(callback),
                Err(e) => tracing::warn!(error = %e, "headless authorization failed"),
            }
        });
        Ok(())
    }
}
