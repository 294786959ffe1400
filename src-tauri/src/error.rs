//! Errors as the dashboard sees them: `{code, message}`, where `code` is
//! stable (the UI branches on it) and `message` says what to do next in the
//! app's own words. Never a token, a code or a key.

use passport_core::error::EngineError;
use serde::Serialize;

/// An error for the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UiError {
    /// Stable machine-readable code.
    pub code: String,
    /// One or two sentences for the person, ending with the next step.
    pub message: String,
}

impl UiError {
    /// An error with this code and message.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_string(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl From<EngineError> for UiError {
    fn from(e: EngineError) -> Self {
        Self::from(&e)
    }
}

impl From<&EngineError> for UiError {
    fn from(e: &EngineError) -> Self {
        let message = match e {
            EngineError::NotGranted(server) => {
                format!("{server} is not among your granted servers. Use Add servers to grant it.")
            }
            EngineError::SignInNeeded { issuer, .. } => format!(
                "{issuer} no longer accepts this sign-in (it was revoked or expired there). Sign in again."
            ),
            EngineError::Store(_) => format!(
                "{e}. Unlock your system keyring (or start it), then try again; nothing is written to disk instead."
            ),
            EngineError::TimedOut(_) => {
                "No answer came back from the browser in time. Start the sign-in again.".to_string()
            }
            EngineError::Browser(reason) => format!(
                "Could not open your browser ({reason}). Set a default browser for this desktop and try again."
            ),
            _ => e.to_string(),
        };
        Self::new(e.code(), message)
    }
}
