//! Why a sample server could not start.
//!
//! Only start-up can fail in a way the caller must handle; failures while
//! serving (a bad token, an unreachable AS) become HTTP answers and log lines.

/// A failure to start a [`crate::SampleServer`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The trusted issuer is not an absolute `http` or `https` URL, so no
    /// metadata address can be derived from it.
    #[error("issuer {issuer:?} is not an absolute http(s) URL")]
    InvalidIssuer {
        /// The issuer as given.
        issuer: String,
    },
    /// The listener's local address could not be read.
    #[error("could not read the listener's address: {0}")]
    Listener(#[source] std::io::Error),
    /// The HTTP client for the AS (metadata, JWKS, introspection) could not
    /// be built.
    #[error("could not build the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
}
