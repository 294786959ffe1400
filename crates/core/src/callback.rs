//! Parsing an authorization callback (deep link or loopback request) into a
//! type, refusing anything malformed before any part of it is used.
//!
//! Why: a callback is attacker-reachable input. Any web page can navigate
//! the browser to our private-use scheme or to the loopback port, and any
//! local program can launch the app with arbitrary arguments (RFC 8252
//! section 8, RFC 9700 section 4). So the URL is parsed once, strictly, into
//! [`Callback`]; the pending-flow registry ([`crate::flows`]) then decides
//! whether it belongs to a flow at all.
//!
//! Accepted: `http://127.0.0.1:PORT/...` or `http://[::1]:PORT/...`, and
//! private-use schemes in reverse-DNS form (`io.github.mcppassport:/...`).
//! Refused (SECURITY-CASES 11): other schemes, whitespace (two URLs in one
//! string, argv junk), userinfo, fragments, NUL or control characters (also
//! percent-encoded), a parameter over 4 KiB or a URL over 16 KiB, repeated
//! `code`/`state`/`iss`/`error`/`error_description`, both or neither of
//! `code` and `error`, no `state`.
//!
//! Error messages never contain the code, the state or any other value
//! taken from the callback.

use crate::secret::AuthCode;
use std::net::{Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

/// The largest accepted parameter name or value, after percent-decoding.
pub const MAX_VALUE: usize = 4 * 1024;
/// The largest accepted callback URL, as received.
pub const MAX_TOTAL: usize = 16 * 1024;

/// A parsed callback. It says nothing yet about whether a flow waits for it.
/// Its `Debug` output hides the state (and the code is a secret type).
pub struct Callback {
    /// The `state` it carries (never empty).
    pub state: String,
    /// The `iss` it carries (RFC 9207), exactly as sent.
    pub iss: Option<String>,
    /// A code or an error.
    pub outcome: CallbackOutcome,
    /// Where it was sent: scheme, host, port and path (no query, no fragment).
    pub target: Url,
}

impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callback")
            .field("state", &"[redacted]")
            .field("iss", &self.iss)
            .field("outcome", &self.outcome)
            .field("target", &self.target.as_str())
            .finish()
    }
}

/// What the authorization server answered.
#[derive(Debug)]
pub enum CallbackOutcome {
    /// An authorization code (never printed).
    Code(AuthCode),
    /// An error answer.
    Error {
        /// OAuth error code (for example `access_denied`).
        error: String,
        /// The AS's `error_description`: untrusted text, never shown as ours.
        description: Option<String>,
    },
}

/// Why a callback was refused or did not end a flow.
///
/// The messages never contain a value taken from the callback.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// Not a URL, empty, or containing whitespace (for example two URLs).
    #[error("the callback is not a single valid URL")]
    Malformed,
    /// The URL or one of its parameters is too large.
    #[error("the callback is too large (over 16 KiB, or a parameter over 4 KiB)")]
    TooLarge,
    /// NUL or another control character, raw or percent-encoded.
    #[error("the callback contains control characters")]
    ControlCharacter,
    /// A scheme other than loopback http or a reverse-DNS private-use scheme.
    #[error("the callback uses a scheme or host that is not ours")]
    ForeignScheme,
    /// A user name or password inside the URL.
    #[error("the callback carries a user name or password")]
    Userinfo,
    /// A `#fragment`.
    #[error("the callback carries a fragment")]
    Fragment,
    /// A parameter appears more than once (the name is given, not the value).
    #[error("the callback repeats the parameter {0}")]
    Duplicate(&'static str),
    /// Neither a non-empty `code` nor a non-empty `error`, or both.
    #[error("the callback carries neither a code nor an error, or both")]
    NoOutcome,
    /// No `state`, or an empty one.
    #[error("the callback has no state")]
    MissingState,
    /// More than one callback URL among the process arguments.
    #[error("more than one callback URL was given")]
    TwoUrls,
    /// No pending flow has this state (unknown, expired or already used).
    #[error("no sign-in is waiting for this callback")]
    UnknownState,
    /// The callback came to another redirect URI than the flow's.
    #[error("the callback did not come to this sign-in's redirect URI")]
    WrongTarget,
    /// `iss` differs from the flow's issuer (RFC 9207 mix-up defence).
    #[error(
        "the callback comes from another authorization server than the one this sign-in started at"
    )]
    IssuerMismatch,
    /// `iss` is missing although the AS promises it.
    #[error("the callback lacks the iss parameter that this authorization server promises")]
    MissingIssuer,
}

/// Whether the scheme and host are ones our callbacks can arrive at.
fn scheme_ok(url: &Url) -> bool {
    match url.scheme() {
        "http" => {
            let loopback = match url.host() {
                Some(Host::Ipv4(ip)) => ip == Ipv4Addr::LOCALHOST,
                Some(Host::Ipv6(ip)) => ip == Ipv6Addr::LOCALHOST,
                _ => false,
            };
            loopback && url.port().is_some()
        }
        // A private-use scheme in reverse-DNS form (RFC 8252 section 7.1).
        // The special schemes (https, file, ws...) and `javascript`, `data`
        // and the like contain no dot, so they never get here.
        s => s.contains('.') && s.split('.').all(|label| !label.is_empty()),
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Whether `raw`, once percent-decoded, contains a control character
/// (C0, DEL or C1).
fn has_control(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let high = bytes.get(i + 1).copied().and_then(hex);
            let low = bytes.get(i + 2).copied().and_then(hex);
            if let (Some(high), Some(low)) = (high, low) {
                decoded.push((high << 4) | low);
                i += 3;
                continue;
            }
        }
        decoded.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&decoded)
        .chars()
        .any(char::is_control)
}

/// Parses one callback URL. Never panics, whatever the input.
pub fn parse_callback(raw: &str) -> Result<Callback, CallbackError> {
    if raw.len() > MAX_TOTAL {
        return Err(CallbackError::TooLarge);
    }
    if raw.chars().any(char::is_control) || has_control(raw) {
        return Err(CallbackError::ControlCharacter);
    }
    if raw.is_empty() || raw.chars().any(char::is_whitespace) {
        return Err(CallbackError::Malformed);
    }
    let url = Url::parse(raw).map_err(|_| CallbackError::Malformed)?;
    if !scheme_ok(&url) {
        return Err(CallbackError::ForeignScheme);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(CallbackError::Userinfo);
    }
    if url.fragment().is_some() {
        return Err(CallbackError::Fragment);
    }
    let (mut code, mut state, mut iss, mut error, mut description) = (None, None, None, None, None);
    for (key, value) in url.query_pairs() {
        if key.len() > MAX_VALUE || value.len() > MAX_VALUE {
            return Err(CallbackError::TooLarge);
        }
        let (slot, name) = match key.as_ref() {
            "code" => (&mut code, "code"),
            "state" => (&mut state, "state"),
            "iss" => (&mut iss, "iss"),
            "error" => (&mut error, "error"),
            "error_description" => (&mut description, "error_description"),
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(CallbackError::Duplicate(name));
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
    let mut target = url;
    target.set_query(None);
    Ok(Callback {
        state,
        iss,
        outcome,
        target,
    })
}

/// Finds the callback among process arguments (a deep-link launch).
///
/// Only arguments starting with `scheme:` (ASCII case-insensitive) are
/// considered; others (flags, paths) are ignored. None -> `Ok(None)`; two or
/// more -> [`CallbackError::TwoUrls`]; one -> [`parse_callback`].
pub fn callback_from_args(
    args: &[String],
    scheme: &str,
) -> Result<Option<Callback>, CallbackError> {
    let prefix = format!("{scheme}:");
    let mut found = args.iter().filter(|arg| {
        arg.as_bytes()
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
    });
    let first = found.next();
    if found.next().is_some() {
        return Err(CallbackError::TwoUrls);
    }
    first.map(|arg| parse_callback(arg)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> Callback {
        parse_callback(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    #[test]
    fn parses_code_state_and_iss_from_loopback_and_deep_links() {
        let c = ok(
            "http://127.0.0.1:5000/callback?code=abc&state=xyz&iss=http%3A%2F%2F127.0.0.1%3A9400",
        );
        assert_eq!(c.state, "xyz");
        assert_eq!(c.iss.as_deref(), Some("http://127.0.0.1:9400"));
        assert!(matches!(c.outcome, CallbackOutcome::Code(ref code) if code.expose() == "abc"));
        assert_eq!(c.target.as_str(), "http://127.0.0.1:5000/callback");

        let d = ok(
            "io.github.mcppassport:/oauth/callback?error=access_denied&error_description=No+thanks&state=s",
        );
        assert!(matches!(
            d.outcome,
            CallbackOutcome::Error { ref error, ref description }
                if error == "access_denied" && description.as_deref() == Some("No thanks")
        ));
        assert_eq!(d.target.as_str(), "io.github.mcppassport:/oauth/callback");
        assert!(d.iss.is_none());

        let v6 = ok("http://[::1]:5000/callback?code=a&state=b&error_uri=x&extra=1");
        assert_eq!(v6.target.as_str(), "http://[::1]:5000/callback");
    }

    #[test]
    fn refusals_name_the_reason() {
        use CallbackError as E;
        let cases: &[(&str, E)] = &[
            ("https://127.0.0.1:5000/cb?code=a&state=s", E::ForeignScheme),
            ("http://localhost:5000/cb?code=a&state=s", E::ForeignScheme),
            ("http://127.0.0.1/cb?code=a&state=s", E::ForeignScheme),
            ("http://10.0.0.1:5000/cb?code=a&state=s", E::ForeignScheme),
            ("myapp:/cb?code=a&state=s", E::ForeignScheme),
            ("io..x:/cb?code=a&state=s", E::ForeignScheme),
            ("http://u@127.0.0.1:5000/cb?code=a&state=s", E::Userinfo),
            ("http://127.0.0.1:5000/cb?code=a&state=s#", E::Fragment),
            (
                "http://127.0.0.1:5000/cb?code=a%00&state=s",
                E::ControlCharacter,
            ),
            (
                "http://127.0.0.1:5000/cb%0a?code=a&state=s",
                E::ControlCharacter,
            ),
            (
                "http://127.0.0.1:5000/cb?x%7F=1&code=a&state=s",
                E::ControlCharacter,
            ),
            (
                "http://127.0.0.1:5000/cb?code=a&state=s%C2%85",
                E::ControlCharacter,
            ),
            ("http://127.0.0.1:5000/cb?code=a&state=s ", E::Malformed),
            (
                "http://127.0.0.1:5000/cb?code=a&code=a&state=s",
                E::Duplicate("code"),
            ),
            (
                "http://127.0.0.1:5000/cb?code=a&iss=x&iss=x&state=s",
                E::Duplicate("iss"),
            ),
            (
                "http://127.0.0.1:5000/cb?error=a&error=b&state=s",
                E::Duplicate("error"),
            ),
            (
                "http://127.0.0.1:5000/cb?code=a&error=b&state=s",
                E::NoOutcome,
            ),
            ("http://127.0.0.1:5000/cb?state=s", E::NoOutcome),
            ("http://127.0.0.1:5000/cb?code=&state=s", E::NoOutcome),
            ("http://127.0.0.1:5000/cb?code=a", E::MissingState),
            ("http://127.0.0.1:5000/cb?code=a&state=", E::MissingState),
            ("", E::Malformed),
            ("not a url", E::Malformed),
        ];
        for (raw, expected) in cases {
            assert_eq!(parse_callback(raw).err().as_ref(), Some(expected), "{raw}");
        }
        let long = format!(
            "http://127.0.0.1:5000/cb?code={}&state=s",
            "a".repeat(MAX_VALUE + 1)
        );
        assert_eq!(parse_callback(&long).err(), Some(E::TooLarge));
        let edge = format!(
            "http://127.0.0.1:5000/cb?code={}&state=s",
            "a".repeat(MAX_VALUE)
        );
        assert!(parse_callback(&edge).is_ok());
    }

    #[test]
    fn error_messages_never_contain_the_code() {
        let e = parse_callback("http://127.0.0.1:5000/cb?code=SECRETCODE&code=SECRETCODE&state=s")
            .err();
        assert_eq!(e, Some(CallbackError::Duplicate("code")));
        assert!(!format!("{e:?}").contains("SECRETCODE"));
        let c = ok("http://127.0.0.1:5000/cb?code=SECRETCODE&state=SECRETSTATE");
        assert!(!format!("{c:?}").contains("SECRETCODE"));
        assert!(!format!("{c:?}").contains("SECRETSTATE"));
    }

    #[test]
    fn args_hold_at_most_one_callback() {
        let scheme = "io.github.mcppassport";
        let one = |s: &str| s.to_string();
        let args = [
            one("app"),
            one("--minimized"),
            one("io.github.mcppassport:/cb?code=a&state=s"),
        ];
        assert!(matches!(callback_from_args(&args, scheme), Ok(Some(_))));
        assert!(matches!(callback_from_args(&args[..2], scheme), Ok(None)));
        let two = [
            args[2].clone(),
            one("IO.GITHUB.MCPPASSPORT:/cb?code=b&state=t"),
        ];
        assert_eq!(
            callback_from_args(&two, scheme).err(),
            Some(CallbackError::TwoUrls)
        );
        let bad = [one("io.github.mcppassport:/cb?code=a")];
        assert_eq!(
            callback_from_args(&bad, scheme).err(),
            Some(CallbackError::MissingState)
        );
        let multibyte = [one("é")];
        assert!(matches!(callback_from_args(&multibyte, scheme), Ok(None)));
    }
}
