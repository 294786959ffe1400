//! The RFC 8628 device authorization grant, for sign-ins where the browser
//! runs on another machine than MCP Passport (SSH, containers, WSL).
//!
//! Why: a loopback redirect reaches only the machine that listens, so a
//! person signing in from a remote shell has no way back. The device grant
//! needs no redirect: the AS shows a page where the person types a short
//! user code, and this side polls the token endpoint until the person has
//! approved, declined, or the code expired.
//!
//! Everything the AS sends for display (the verification URIs, the user
//! code) passes through [`crate::text::untrusted`]; the verification URIs
//! are checked like any address opened in a browser. The device code is a
//! secret (it is a bearer credential until used) and never printed.
//!
//! Here: the code and the polling. Beside it: what the AS answers, read
//! into tokens or errors (`answers`), and each form POSTed with the
//! client's authentication (`request`).

use crate::http::HttpClient;
use crate::model::ClientRecord;
use crate::secret::ClientSecret;
use crate::token::{TokenError, Tokens};
use crate::url_policy::{self, UrlError};
use std::time::Duration;
use url::Url;

mod answers;
mod request;

use answers::{Answer, TokenAnswer, error_of, tokens_of, untrusted};

/// The grant type of a device access token request (RFC 8628 section 3.4).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// How long to wait between polls when the AS names no `interval`.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// What `slow_down` adds to the interval (RFC 8628 section 3.5).
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// The longest interval honoured; a larger one is cut to this.
const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// The device code the AS issued: what to show the person, and the secret
/// to poll with. `Debug` hides the device code.
#[derive(Clone)]
pub struct DeviceCode {
    device_code: String,
    /// The code the person types on the verification page (filtered).
    pub user_code: String,
    /// The page where the person enters the code (checked).
    pub verification_uri: Url,
    /// The page with the code already filled in, when the AS offers one (checked).
    pub verification_uri_complete: Option<Url>,
    /// How long the code lives.
    pub expires_in: Duration,
    /// The interval to poll at first.
    pub interval: Duration,
}

impl std::fmt::Debug for DeviceCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCode")
            .field("device_code", &"[redacted]")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri.as_str())
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish()
    }
}

/// Why a device sign-in failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The AS advertises no device authorization endpoint.
    #[error(
        "{issuer} does not offer sign-in with a code on another device (it has no device_authorization_endpoint)"
    )]
    NotOffered {
        /// The issuer.
        issuer: String,
    },
    /// An endpoint or a verification URI was refused.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The AS's answer to the device authorization request was not usable.
    #[error("the authorization server's device code answer could not be understood: {0}")]
    Malformed(String),
    /// The person declined on the verification page (`access_denied`).
    #[error("the sign-in was declined on the verification page; start it again to retry")]
    Declined,
    /// The code expired before the person approved (`expired_token`).
    #[error("the code expired before it was approved; start the sign-in again for a new code")]
    Expired,
    /// The caller's time limit passed before the person approved.
    #[error("no approval within {0} seconds; start the sign-in again for a new code")]
    TimedOut(u64),
    /// The token endpoint failed otherwise.
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// One registered client at one AS, speaking the device grant.
pub struct DeviceClient<'a> {
    http: &'a HttpClient,
    record: &'a ClientRecord,
    secret: Option<&'a ClientSecret>,
    device_endpoint: Url,
    token_endpoint: Url,
}

/// What one poll of the token endpoint said.
#[derive(Debug)]
enum Poll {
    Done(Tokens),
    Pending,
    SlowDown,
}

impl<'a> DeviceClient<'a> {
    /// The client for `record` at the AS whose metadata names these
    /// endpoints; both are checked against the issuer like every endpoint.
    pub fn new(
        http: &'a HttpClient,
        issuer: &str,
        metadata: &crate::metadata::AsMetadata,
        record: &'a ClientRecord,
        secret: Option<&'a ClientSecret>,
    ) -> Result<Self, DeviceError> {
        let raw = metadata
            .device_authorization_endpoint
            .as_deref()
            .ok_or_else(|| DeviceError::NotOffered {
                issuer: issuer.to_string(),
            })?;
        let origin = url_policy::check_user_url(issuer)?;
        Ok(Self {
            http,
            record,
            secret,
            device_endpoint: url_policy::check_endpoint(raw, &origin)?,
            token_endpoint: url_policy::check_endpoint(&metadata.token_endpoint, &origin)?,
        })
    }

    /// Asks for a device code (RFC 8628 section 3.1) with `scope` and the
    /// `resource` indicators, as the authorization request would send them.
    pub async fn request_code(
        &self,
        scope: Option<&str>,
        resources: &[String],
    ) -> Result<DeviceCode, DeviceError> {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if let Some(scope) = scope {
            pairs.push(("scope", scope));
        }
        for r in resources {
            pairs.push(("resource", r));
        }
        let response = self.post(&self.device_endpoint, &pairs).await?;
        if !response.status.is_success() {
            return Err(DeviceError::Token(error_of(&response.body)));
        }
        let answer: Answer = serde_json::from_slice(&response.body)
            .map_err(|e| DeviceError::Malformed(untrusted(&e.to_string())))?;
        let user_code = crate::text::untrusted(&answer.user_code, 64);
        if user_code.trim().is_empty() || answer.device_code.is_empty() {
            return Err(DeviceError::Malformed("an empty code".into()));
        }
        // Refused, not cleaned, when it hides characters: an address that
        // reads differently from what it is must not be shown at all.
        let check = |raw: &str| {
            if crate::text::has_hidden(raw) {
                return Err(DeviceError::Malformed(
                    "the verification address holds hidden characters".into(),
                ));
            }
            Ok(url_policy::check_browser_url(raw)?)
        };
        Ok(DeviceCode {
            device_code: answer.device_code,
            user_code,
            verification_uri: check(&answer.verification_uri)?,
            verification_uri_complete: answer
                .verification_uri_complete
                .as_deref()
                .map(check)
                .transpose()?,
            expires_in: Duration::from_secs(answer.expires_in.clamp(1, 3600)),
            interval: answer
                .interval
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_INTERVAL)
                .clamp(Duration::from_secs(1), MAX_INTERVAL),
        })
    }

    /// Polls the token endpoint until the person approves or declines, the
    /// code expires, or `deadline` passes: waits `interval` before each
    /// poll, and 5 seconds more after every `slow_down` (RFC 8628 section
    /// 3.5). `resources` go with each poll, as with a code exchange.
    pub async fn wait_for_tokens(
        &self,
        code: &DeviceCode,
        resources: &[String],
        deadline: Duration,
    ) -> Result<Tokens, DeviceError> {
        let started = tokio::time::Instant::now();
        let give_up = started + deadline.min(code.expires_in);
        let mut interval = code.interval;
        loop {
            if tokio::time::Instant::now() + interval > give_up {
                return Err(if deadline < code.expires_in {
                    DeviceError::TimedOut(deadline.as_secs())
                } else {
                    DeviceError::Expired
                });
            }
            tokio::time::sleep(interval).await;
            match self.poll(code, resources).await? {
                Poll::Done(tokens) => return Ok(tokens),
                Poll::Pending => {}
                Poll::SlowDown => {
                    interval = (interval + SLOW_DOWN_STEP).min(MAX_INTERVAL);
                    tracing::debug!(
                        seconds = interval.as_secs(),
                        "device sign-in: polling slower"
                    );
                }
            }
        }
    }

    async fn poll(&self, code: &DeviceCode, resources: &[String]) -> Result<Poll, DeviceError> {
        let mut pairs: Vec<(&str, &str)> = vec![
            ("grant_type", GRANT_TYPE),
            ("device_code", code.device_code.as_str()),
        ];
        for r in resources {
            pairs.push(("resource", r));
        }
        let response = match self.post(&self.token_endpoint, &pairs).await {
            // An AS that is briefly down is polled again at the next interval.
            Err(DeviceError::Token(e)) if e.is_transient() => {
                tracing::info!(error = %e, "device sign-in: token endpoint unreachable; polling again");
                return Ok(Poll::Pending);
            }
            other => other?,
        };
        let answer: TokenAnswer = serde_json::from_slice(&response.body)
            .map_err(|e| TokenError::Malformed(untrusted(&e.to_string())))?;
        if response.status.is_success() {
            return tokens_of(answer).map(Poll::Done);
        }
        match answer.error.as_deref() {
            Some("authorization_pending") => Ok(Poll::Pending),
            Some("slow_down") => Ok(Poll::SlowDown),
            Some("access_denied") => Err(DeviceError::Declined),
            Some("expired_token") => Err(DeviceError::Expired),
            _ => Err(DeviceError::Token(error_of(&response.body))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_device_code() {
        let code = DeviceCode {
            device_code: "SECRET-DEVICE-CODE".into(),
            user_code: "ABCD-EFGH".into(),
            verification_uri: Url::parse("https://as.example/device")
                .unwrap_or_else(|e| panic!("{e}")),
            verification_uri_complete: None,
            expires_in: Duration::from_secs(600),
            interval: Duration::from_secs(5),
        };
        let shown = format!("{code:?}");
        assert!(!shown.contains("SECRET-DEVICE-CODE"), "{shown}");
        assert!(shown.contains("ABCD-EFGH"));
    }

    #[tokio::test]
    async fn verification_addresses_with_hidden_characters_are_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let issuer = format!(
            "http://{}",
            listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
        );
        let body = serde_json::json!({
            "device_code": "d", "user_code": "ABCD", "expires_in": 60,
            "verification_uri": format!("{issuer}/dev\u{202e}ice"),
        })
        .to_string();
        tokio::spawn(async move {
            let app = axum::Router::new()
                .route("/device", axum::routing::post(move || async move { body }));
            let _ = axum::serve(listener, app).await;
        });
        let metadata: crate::metadata::AsMetadata = serde_json::from_value(serde_json::json!({
            "issuer": issuer, "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "device_authorization_endpoint": format!("{issuer}/device"),
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let record: ClientRecord = serde_json::from_value(serde_json::json!({
            "issuer": issuer, "client_id": "c", "auth": "none", "registration": "dynamic",
            "redirect_uris": [],
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let http = HttpClient::new().unwrap_or_else(|e| panic!("{e}"));
        let client = DeviceClient::new(&http, &issuer, &metadata, &record, None)
            .unwrap_or_else(|e| panic!("{e}"));
        let e = client.request_code(None, &[]).await.expect_err("refused");
        assert!(matches!(e, DeviceError::Malformed(_)), "{e:?}");
        assert!(!e.to_string().contains('\u{202e}'));
    }
}
