//! The engine's error: one enum whose [`EngineError::code`] the UI and the
//! CLI branch on, and whose message says what happened and what to do next.

use crate::callback::CallbackError;
use crate::discovery::DiscoveryError;
use crate::registration::RegistrationError;
use crate::state_file::StateFileError;
use crate::store::StoreError;
use crate::token::TokenError;
use crate::url_policy::UrlError;

/// Anything the engine can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// Discovery of a server or authorization server failed.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// A sign-in with a code on another device failed.
    #[error(transparent)]
    Device(#[from] crate::device::DeviceError),
    /// Client registration failed.
    #[error(transparent)]
    Registration(#[from] RegistrationError),
    /// A token request failed.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The OS keyring failed; nothing was written elsewhere.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The state file could not be read or written.
    #[error(transparent)]
    StateFile(#[from] StateFileError),
    /// A URL was refused.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The server is not part of any grant.
    #[error("{0} is not among your granted servers; sign in to it, or add it to a grant")]
    NotGranted(String),
    /// The grant needs a new sign-in.
    #[error("sign-in needed for {issuer}: {reason}")]
    SignInNeeded {
        /// The issuer.
        issuer: String,
        /// Why.
        reason: String,
    },
    /// The AS is unreachable and no unexpired token is left.
    #[error("{issuer} cannot be reached ({reason}); it will be retried")]
    Unreachable {
        /// The issuer.
        issuer: String,
        /// What failed.
        reason: String,
    },
    /// The callback was refused (mix-up, missing `iss`...); no token was requested.
    #[error("the sign-in was stopped for safety: {0}")]
    FlowAborted(CallbackError),
    /// The user or the AS declined.
    #[error("the authorization server declined the sign-in ({error}): {description}")]
    Denied {
        /// OAuth error code.
        error: String,
        /// The AS's own words (untrusted).
        description: String,
    },
    /// No callback arrived in time.
    #[error("no answer from the browser within {0} seconds; start the sign-in again")]
    TimedOut(u64),
    /// The browser could not be opened.
    #[error("could not open the browser: {0}; open the sign-in address yourself")]
    Browser(String),
    /// An account label that cannot be used.
    #[error(transparent)]
    BadAccount(#[from] crate::account::BadLabel),
    /// A DPoP proof could not be made.
    #[error(transparent)]
    Dpop(#[from] crate::dpop::DpopError),
    /// A machine credential file could not be used.
    #[error(transparent)]
    Machine(#[from] crate::client_assertion::AssertionError),
    /// The organization's IdP, or a server's AS, refused enterprise sign-in.
    #[error(transparent)]
    Enterprise(#[from] crate::id_jag::IdpError),
}

impl EngineError {
    /// A stable code for programs (UI, scripts) to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Discovery(DiscoveryError::ForeignEndpoint { .. }) => {
                "endpoint_host_unconfirmed"
            }
            EngineError::Discovery(_) => "discovery_failed",
            EngineError::Registration(RegistrationError::NoRegistration { .. }) => {
                "client_id_needed"
            }
            EngineError::Registration(RegistrationError::RedirectUriRefused { .. }) => {
                "redirect_uri_refused"
            }
            EngineError::Registration(_) => "registration_failed",
            EngineError::Device(crate::device::DeviceError::NotOffered { .. }) => {
                "device_flow_not_offered"
            }
            EngineError::Device(crate::device::DeviceError::Declined) => "access_denied",
            EngineError::Device(
                crate::device::DeviceError::Expired | crate::device::DeviceError::TimedOut(_),
            ) => "timed_out",
            EngineError::Device(crate::device::DeviceError::Token(TokenError::InvalidGrant(_))) => {
                "sign_in_needed"
            }
            EngineError::Device(_) => "token_request_failed",
            EngineError::Token(TokenError::InvalidGrant(_)) => "sign_in_needed",
            EngineError::Token(e) if e.is_transient() => "unreachable",
            EngineError::Token(_) => "token_request_failed",
            EngineError::Store(_) => "keyring_unavailable",
            EngineError::StateFile(_) => "state_file_error",
            EngineError::Url(_) => "url_refused",
            EngineError::NotGranted(_) => "not_granted",
            EngineError::SignInNeeded { .. } => "sign_in_needed",
            EngineError::Unreachable { .. } => "unreachable",
            EngineError::FlowAborted(_) => "flow_aborted",
            EngineError::Denied { .. } => "access_denied",
            EngineError::TimedOut(_) => "timed_out",
            EngineError::Browser(_) => "browser_failed",
            EngineError::BadAccount(_) => "bad_account",
            EngineError::Dpop(_) => "dpop_failed",
            EngineError::Machine(_) => "machine_credential",
            EngineError::Enterprise(crate::id_jag::IdpError::Denied { .. }) => "access_denied",
            EngineError::Enterprise(crate::id_jag::IdpError::NoGrantProfile { .. }) => {
                "enterprise_not_offered"
            }
            EngineError::Enterprise(_) => "idp_failed",
        }
    }
}
