//! Parsing an authorization callback (deep link or loopback request) into a
//! type, refusing anything malformed before any of it is used.
//!
//! Accepted: `http://127.0.0.1:PORT/...` or `http://[::1]:PORT/...`, and
//! private-use schemes in reverse-DNS form (`io.github.mcppassport:/...`).
//! Refused: other schemes, userinfo, fragments, NUL or control characters,
//! oversized values, repeated `code`/`state`/`iss`/`error`, both or neither
//! of `code` and `error`, no `state`. Messages never contain the code.

use crate::secret::AuthCode;
use url::Url;

const MAX_VALUE: usize = 4 * 1024;
const MAX_TOTAL: usize = 16 * 1024;

/// A parsed callback.
#[derive(Debug)]
pub struct Callback {
    /// The `state` it carries.
    pub state: String,
    /// The `iss` it carries (RFC 9207).
    pub iss: Option<String>,
    /// A code or an error.
    pub outcome: CallbackOutcome,
    /// Where it was sent: scheme, host, port and path (no query).
    pub target: Url,
}

/// What the AS answered.
#[derive(Debug)]
pub enum CallbackOutcome {
    /// An authorization code.
    Code(AuthCode),
    /// An error answer; `description` is the AS's untrusted text.
    Error {
        /// OAuth error code.
        error: String,
        /// Description, if any.
        description: Option<String>,
    },
}

/// Why a callback was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// Not a URL, or larger than 16 KiB.
    #[error("the callback is not a valid URL")]
    Malformed,
    /// A scheme other than loopback http or a reverse-DNS private-use scheme.
    #[error("the callback uses a scheme that is not ours")]
    ForeignScheme,
    /// User name, password or fragment present.
    #[error("the callback carries userinfo or a fragment")]
    Unexpected,
    /// NUL or control characters, or a value over 4 KiB.
    #[error("the callback carries control characters or oversized values")]
    BadValue,
    /// A parameter appears twice.
    #[error("the callback repeats the parameter {0}")]
    Duplicate(&'static str),
    /// Neither `code` nor `error`, or both.
    #[error("the callback carries neither a code nor an error, or both")]
    NoOutcome,
    /// No `state`.
    #[error("the callback has no state")]
    MissingState,
    /// More than one callback URL in the arguments.
    #[error("more than one callback URL was given")]
    TwoUrls,
    /// No pending flow has this state (unknown, expired or already used).
    #[error("no sign-in is waiting for this callback")]
    UnknownState,
    /// The callback came to another redirect URI than the flow's.
    #[error("the callback did not come to this sign-in's redirect URI")]
    WrongTarget,
    /// `iss` differs from the flow's issuer.
    #[error(
        "the callback comes from another authorization server than the one this sign-in started at"
    )]
    IssuerMismatch,
    /// `iss` is missing although the AS promises it.
    #[error("the callback lacks the iss parameter that this authorization server promises")]
    MissingIssuer,
}

fn scheme_ok(url: &Url) -> bool {
    match url.scheme() {
        "http" => matches!(url.host_str(), Some("127.0.0.1" | "[::1]")) && url.port().is_some(),
        "https" | "file" | "javascript" | "data" | "ftp" | "smb" => false,
        s => s.contains('.') && s.split('.').all(|part| !part.is_empty()),
    }
}

/// Parses one callback URL.
pub fn parse_callback(raw: &str) -> Result<Callback, CallbackError> {
    if raw.len() > MAX_TOTAL || raw.trim() != raw || raw.is_empty() {
        return Err(CallbackError::Malformed);
    }
    if raw.chars().any(|c| c.is_control()) {
        return Err(CallbackError::BadValue);
    }
    let url = Url::parse(raw).map_err(|_| CallbackError::Malformed)?;
    if !scheme_ok(&url) {
        return Err(CallbackError::ForeignScheme);
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(CallbackError::Unexpected);
    }
    let (mut code, mut state, mut iss, mut error, mut description) = (None, None, None, None, None);
    for (key, value) in url.query_pairs() {
        if value.len() > MAX_VALUE || value.chars().any(|c| c.is_control()) {
            return Err(CallbackError::BadValue);
        }
        let slot = match key.as_ref() {
            "code" => (&mut code, "code"),
            "state" => (&mut state, "state"),
            "iss" => (&mut iss, "iss"),
            "error" => (&mut error, "error"),
            "error_description" => (&mut description, "error_description"),
            _ => continue,
        };
        if slot.0.replace(value.into_owned()).is_some() {
            return Err(CallbackError::Duplicate(slot.1));
        }
    }
    let state = state
        .filter(|s| !s.is_empty())
        .ok_or(CallbackError::MissingState)?;
    let outcome = match (code, error) {
        (Some(code), None) if !code.is_empty() => CallbackOutcome::Code(AuthCode::new(code)),
        (None, Some(error)) if !error.is_empty() => CallbackOutcome::Error { error, description },
        _ => return Err(CallbackError::NoOutcome),
    };
    let mut target = url.clone();
    target.set_query(None);
    Ok(Callback {
        state,
        iss,
        outcome,
        target,
    })
}

/// Finds the callback among process arguments (a deep link launch): at most
/// one argument may start with `scheme:`; others are ignored.
pub fn callback_from_args(
    args: &[String],
    scheme: &str,
) -> Result<Option<Callback>, CallbackError> {
    let prefix = format!("{scheme}:");
    let mut found = args.iter().filter(|a| a.starts_with(&prefix));
    let first = found.next();
    if found.next().is_some() {
        return Err(CallbackError::TwoUrls);
    }
    first.map(|a| parse_callback(a)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_code_state_and_iss_from_loopback_and_deep_links() {
        let c = parse_callback(
            "http://127.0.0.1:5000/callback?code=abc&state=xyz&iss=http%3A%2F%2F127.0.0.1%3A9400",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.state, "xyz");
        assert_eq!(c.iss.as_deref(), Some("http://127.0.0.1:9400"));
        assert!(matches!(c.outcome, CallbackOutcome::Code(ref code) if code.expose() == "abc"));
        assert_eq!(c.target.as_str(), "http://127.0.0.1:5000/callback");
        let d = parse_callback("io.github.mcppassport:/oauth/callback?error=access_denied&state=s")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(d.outcome, CallbackOutcome::Error { ref error, .. } if error == "access_denied")
        );
    }

    #[test]
    fn error_messages_never_contain_the_code() {
        let e = parse_callback("http://127.0.0.1:5000/cb?code=SECRETCODE&code=SECRETCODE&state=s")
            .err();
        assert_eq!(e, Some(CallbackError::Duplicate("code")));
        assert!(!format!("{e:?}").contains("SECRETCODE"));
    }
}
