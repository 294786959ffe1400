//! Why no client could be had at an AS, each message saying what to do;
//! the AS's own words quoted and marked as its own.

use crate::http::HttpError;
use crate::url_policy::UrlError;

/// Why no client could be had. Each message says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// The HTTP exchange failed (unreachable, timeout, a redirect).
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The registration endpoint or the issuer was refused by the URL policy.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The AS offers no way to get a client id.
    #[error(
        "{issuer} offers no dynamic client registration and no client id was given; register MCP Passport there by hand, then sign in again with the client id it issued (and its secret, if it issued one)"
    )]
    NoRegistration {
        /// The issuer.
        issuer: String,
    },
    /// The registration endpoint is not on the issuer's origin.
    #[error(
        "the registration endpoint {url} is not on the origin of {issuer}; refusing to register there"
    )]
    ForeignEndpoint {
        /// The endpoint (without query).
        url: String,
        /// The issuer.
        issuer: String,
    },
    /// A given client id is empty.
    #[error(
        "the client id given for {issuer} is empty; pass the client id the authorization server issued"
    )]
    EmptyClientId {
        /// The issuer.
        issuer: String,
    },
    /// The Client ID Metadata Document URL is not an https URL with a path.
    #[error(
        "{url} cannot be a client id metadata document URL: it must be https (http only on loopback) and have a path, without fragment"
    )]
    InvalidMetadataDocumentUrl {
        /// The URL as given (cut to 200 characters).
        url: String,
    },
    /// The AS refused the redirect URI (RFC 7591 `invalid_redirect_uri`):
    /// the caller may try another kind of redirect (the desktop app falls
    /// back from its link scheme to a loopback address).
    #[error(
        "{issuer} does not accept the redirect address {redirect_uri}{}",
        as_its_words(description)
    )]
    RedirectUriRefused {
        /// The issuer.
        issuer: String,
        /// The redirect URI that was refused.
        redirect_uri: String,
        /// The AS's own words (untrusted text, cut to 300 characters).
        description: String,
    },
    /// The AS refused the registration with an RFC 7591 error.
    #[error(
        "{issuer} refused to register MCP Passport ({error}){}; register MCP Passport there by hand, then sign in again with the client id it issued",
        as_its_words(description)
    )]
    Refused {
        /// The issuer.
        issuer: String,
        /// RFC 7591 error code (printable ASCII only).
        error: String,
        /// The AS's own words (untrusted text, control characters removed,
        /// cut to 300 characters; empty when it gave none).
        description: String,
    },
    /// The registration endpoint answered with an error status and no
    /// RFC 7591 error.
    #[error(
        "{issuer} answered the registration with HTTP {status}; try again later, or register MCP Passport there by hand and sign in with the client id it issued"
    )]
    Status {
        /// The issuer.
        issuer: String,
        /// The HTTP status.
        status: u16,
    },
    /// The answer was not a usable registration response.
    #[error(
        "{issuer} answered the registration with something that is not a client registration ({reason}); register MCP Passport there by hand and sign in with the client id it issued"
    )]
    Malformed {
        /// The issuer.
        issuer: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The AS registered the client with an authentication method MCP
    /// Passport cannot use.
    #[error(
        "{issuer} registered the client with token endpoint authentication {method:?}, which MCP Passport does not support; register MCP Passport there by hand and sign in with the client id it issued"
    )]
    UnsupportedAuthMethod {
        /// The issuer.
        issuer: String,
        /// The method it named (cut to 100 characters).
        method: String,
    },
}

/// `; in its own words: "..."`, or nothing for an empty description.
fn as_its_words(description: &str) -> String {
    if description.is_empty() {
        String::new()
    } else {
        format!("; the authorization server said, in its own words: \"{description}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::untrusted;

    #[test]
    fn the_as_words_are_quoted_and_marked_as_its_own() {
        let err = RegistrationError::Refused {
            issuer: "https://as.example".into(),
            error: "invalid_redirect_uri".into(),
            description: untrusted("bad\nuri \u{1b}[31m", 300),
        };
        let text = err.to_string();
        assert!(text.contains("(invalid_redirect_uri)"), "{text}");
        assert!(text.contains("in its own words: \"baduri [31m\""), "{text}");
        let bare = RegistrationError::Refused {
            issuer: "https://as.example".into(),
            error: "invalid_client_metadata".into(),
            description: String::new(),
        };
        assert!(!bare.to_string().contains("own words"));
    }
}
