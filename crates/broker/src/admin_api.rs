//! The admin API's and the token route's documents, as types: the broker
//! reads and writes these, and the command line writes and reads the same
//! ones, so neither side spells a field by hand.
//!
//! - `POST /v1/admin/login` takes a [`LoginBody`] and answers JSON lines,
//!   each a [`LoginLine`]: `{"open": URL}` per sign-in page, then
//!   `{"report": {"servers": [...], "grants": [...]}}` (one outcome per
//!   server, signed in or not) or `{"error": {code, message}}`.
//!   With `open: device` a `{"device": {...}}` line shows the code first; with
//!   `open: paste` the caller posts the address the browser landed on to
//!   `POST /v1/admin/callback` ([`Pasted`]), as often as the person pastes.
//! - `POST /v1/admin/revoke/{server}` answers a [`Revoked`].
//! - `POST /v1/admin/logout` takes a [`LogoutBody`] and answers a [`LoggedOut`].
//! - `GET /v1/token/{server}` answers a [`TokenAnswer`].
//! - Any of them may answer an [`ErrorBody`] with an error status.

use passport_core::engine::{LoginReport, ServerResult};
use passport_core::model::Grant;
use serde::{Deserialize, Serialize};

/// The login route's path.
pub const LOGIN_PATH: &str = "/v1/admin/login";
/// The logout route's path.
pub const LOGOUT_PATH: &str = "/v1/admin/logout";

/// The revoke route's path for `server` (percent-encoded).
pub fn revoke_path(server: &str) -> String {
    format!("/v1/admin/revoke/{}", encode_segment(server))
}

/// The token route's path for `server` (percent-encoded).
pub fn token_path(server: &str) -> String {
    format!("/v1/token/{}", encode_segment(server))
}

/// The proxy route's path for `server` (percent-encoded).
pub fn proxy_path(server: &str) -> String {
    format!("/v1/mcp/{}", encode_segment(server))
}

fn encode_segment(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

/// What to sign in to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// An issuer URL.
    Issuer(String),
    /// MCP server URLs.
    Servers(Vec<String>),
}

/// How the sign-in page is opened.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenWith {
    /// The host's opener.
    #[default]
    Browser,
    /// Nobody: the caller prints the URL it is sent.
    Print,
    /// Follow the redirects without a browser.
    Headless,
    /// The device flow (RFC 8628): the caller shows the code it is sent.
    Device,
    /// Nobody: the caller prints the URL and sends back the address the
    /// browser landed on ([`PASTE_PATH`]).
    Paste,
    /// The device flow where the authorization server offers it, else paste-back.
    DeviceOrPaste,
}

/// The paste-back route's path: `POST` a [`Pasted`], answered with a
/// [`PasteAccepted`] or an [`ErrorBody`] (code `paste_refused`) to show
/// before asking again.
pub const PASTE_PATH: &str = "/v1/admin/callback";

/// A callback address the person pasted.
#[derive(Clone, Serialize, Deserialize)]
pub struct Pasted {
    /// The address, as pasted.
    pub url: String,
}

impl std::fmt::Debug for Pasted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The address holds an authorization code.
        f.write_str("Pasted([redacted])")
    }
}

/// The paste-back route's answer: the address ended a waiting sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasteAccepted {
    /// Always true.
    pub accepted: bool,
}

/// A device code to show (RFC 8628), as the login route sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceShown {
    /// The issuer it signs in to.
    pub issuer: String,
    /// Where to enter the code.
    pub verification_uri: String,
    /// The same page with the code filled in, when offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_uri_complete: Option<String>,
    /// The code to type.
    pub user_code: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// `POST /v1/admin/login`'s body.
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginBody {
    /// What to sign in to.
    pub target: Target,
    /// Servers to pre-check in a picker.
    #[serde(default)]
    pub servers: Vec<String>,
    /// A pre-registered client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Its secret.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Seconds to wait for each callback.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// How the page is opened.
    #[serde(default)]
    pub open: OpenWith,
    /// Provider settings for the issuers of this sign-in.
    #[serde(default)]
    pub quirks: passport_core::providers::QuirkOverrides,
    /// The account label to sign in as (from the token when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// A machine grant with this credential instead of a person's sign-in
    /// (the secret, for a client secret, in `client_secret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<passport_core::engine::MachineCredential>,
    /// A sign-in with the organization (Enterprise-Managed Authorization)
    /// instead: the IdP once, then each server of `target` by an ID-JAG.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise: Option<EnterpriseBody>,
}

/// The organization's identity provider for an enterprise sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnterpriseBody {
    /// The IdP's issuer.
    pub idp: String,
    /// This application's client id at the IdP.
    pub idp_client_id: String,
    /// An ID token obtained elsewhere, in this file (an absolute path the
    /// broker reads), instead of the browser sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for LoginBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client secret is never printed.
        f.debug_struct("LoginBody")
            .field("target", &self.target)
            .field("servers", &self.servers)
            .field("client_id", &self.client_id)
            .field("timeout_secs", &self.timeout_secs)
            .field("open", &self.open)
            .field("quirks", &self.quirks)
            .field("account", &self.account)
            .field("machine", &self.machine)
            .field("enterprise", &self.enterprise)
            .finish_non_exhaustive()
    }
}

fn default_timeout() -> u64 {
    300
}

/// One line of the login route's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginLine {
    /// A sign-in page to show or open.
    Open(String),
    /// A device code to show (open `device`, `device_or_paste`).
    Device(DeviceShown),
    /// The sign-in ended: each server's outcome (the last line).
    Report(LoginResult),
    /// The sign-in failed (the last line).
    Error(ErrorDetail),
}

/// How a sign-in ended, server by server: some may be signed in while
/// others failed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoginResult {
    /// One line per server.
    pub servers: Vec<ServerResult>,
    /// The grants stored.
    #[serde(default)]
    pub grants: Vec<Grant>,
}

impl From<&LoginReport> for LoginResult {
    fn from(report: &LoginReport) -> Self {
        Self {
            servers: report.servers(),
            grants: report.grants(),
        }
    }
}

/// What revoking one server did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevokeState {
    /// The server left the grant; the others stay.
    Narrowed,
    /// It was the last server: the grant is gone.
    SignedOut,
    /// The AS could not narrow the grant; the server is blocked here.
    BlockedLocally,
}

/// `POST /v1/admin/revoke/{server}`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    /// The server.
    pub server: String,
    /// What happened.
    pub outcome: RevokeState,
    /// Why it was only blocked here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `POST /v1/admin/logout`'s body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogoutBody {
    /// The issuer; every issuer when absent.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Only this account's grants; every account when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// `POST /v1/admin/logout`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedOut {
    /// How many grants were signed out.
    pub signed_out: u64,
}

/// `GET /v1/token/{server}`'s answer.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenAnswer {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Its expiry (RFC 3339).
    pub expires_at: String,
    /// The server id.
    pub server: String,
}

impl std::fmt::Debug for TokenAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is never printed.
        f.debug_struct("TokenAnswer")
            .field("expires_at", &self.expires_at)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// An error's stable code and message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// The engine's stable code (the command line's exit code follows it).
    pub code: String,
    /// What to tell the user.
    pub message: String,
}

/// `{"error": {code, message}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_keep_their_wire_shape() {
        let body = LoginBody {
            target: Target::Issuer("http://127.0.0.1:9000".into()),
            servers: vec!["github-mcp".into()],
            client_id: None,
            client_secret: Some("s3cret-value".into()),
            timeout_secs: 30,
            open: OpenWith::Headless,
            quirks: Default::default(),
            account: None,
            machine: None,
            enterprise: None,
        };
        let wire = serde_json::to_value(&body).unwrap();
        assert_eq!(wire["target"], json!({"issuer": "http://127.0.0.1:9000"}));
        assert_eq!(wire["open"], "headless");
        assert!(!format!("{body:?}").contains("s3cret"));
        let minimal: LoginBody =
            serde_json::from_value(json!({"target": {"servers": ["http://a/mcp"]}})).unwrap();
        assert_eq!(
            (minimal.timeout_secs, minimal.open),
            (300, OpenWith::Browser)
        );
        assert_eq!(minimal.account, None);
        assert!(wire.get("account").is_none(), "no label, no field");
        let logout: LogoutBody = serde_json::from_value(json!({"account": "work"})).unwrap();
        assert_eq!(
            (logout.issuer, logout.account.as_deref()),
            (None, Some("work"))
        );

        let open = serde_json::to_value(LoginLine::Open("http://as/authorize".into())).unwrap();
        assert_eq!(open, json!({"open": "http://as/authorize"}));
        let revoked = Revoked {
            server: "slack-mcp".into(),
            outcome: RevokeState::SignedOut,
            reason: None,
        };
        assert_eq!(
            serde_json::to_value(&revoked).unwrap(),
            json!({"server": "slack-mcp", "outcome": "signed-out"})
        );
        assert_eq!(
            revoke_path("http://h/mcp"),
            "/v1/admin/revoke/http%3A%2F%2Fh%2Fmcp"
        );
    }

    #[test]
    fn remote_sign_in_documents_keep_their_wire_shape_and_hide_the_pasted_code() {
        assert_eq!(
            serde_json::to_value(OpenWith::DeviceOrPaste).unwrap(),
            json!("device_or_paste")
        );
        let shown = LoginLine::Device(DeviceShown {
            issuer: "http://127.0.0.1:9000".into(),
            verification_uri: "http://127.0.0.1:9000/device".into(),
            verification_uri_complete: None,
            user_code: "BCDF-GHJK".into(),
            expires_in: 600,
        });
        let wire = serde_json::to_value(&shown).unwrap();
        assert_eq!(wire["device"]["user_code"], "BCDF-GHJK");
        assert!(wire["device"].get("verification_uri_complete").is_none());
        let pasted = Pasted {
            url: "http://127.0.0.1:1/callback?code=SECRET&state=s".into(),
        };
        assert!(!format!("{pasted:?}").contains("SECRET"));
        assert_eq!(
            serde_json::to_value(&pasted).unwrap()["url"],
            json!(pasted.url)
        );
    }
}
