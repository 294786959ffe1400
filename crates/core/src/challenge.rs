//! Parsing `WWW-Authenticate` challenges: what a 401 or 403 from an MCP
//! server says about where its metadata is, which scope it wants and why
//! it refused. Kept apart from discovery because the CLI reads 403
//! `insufficient_scope` challenges with it too.

/// What a `WWW-Authenticate: Bearer` challenge says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BearerChallenge {
    /// RFC 9728 `resource_metadata`.
    pub resource_metadata: Option<String>,
    /// Scope the resource asks for.
    pub scope: Option<String>,
    /// `error`, e.g. `invalid_token` or `insufficient_scope`.
    pub error: Option<String>,
}

/// Longest `WWW-Authenticate` value parsed; longer ones are ignored as junk.
pub const MAX_CHALLENGE_LEN: usize = 16 * 1024;

/// Parses a `WWW-Authenticate` value (RFC 9110 section 11.6.1, RFC 6750
/// section 3, RFC 9728 section 5.1) and returns its first `Bearer`
/// challenge, or `None` when it has none.
///
/// Several challenges in one value, a scheme in any letter case, quoted
/// strings with backslash escapes and token68 credentials are understood;
/// a parameter given twice keeps its first value; empty values count as
/// absent. Junk never panics: unknown bytes are skipped, an unterminated
/// quoted string ends the parse, and values longer than
/// [`MAX_CHALLENGE_LEN`] are ignored.
pub fn parse_www_authenticate(header_value: &str) -> Option<BearerChallenge> {
    if header_value.len() > MAX_CHALLENGE_LEN {
        return None;
    }
    let mut lexer = Lexer {
        text: header_value,
        at: 0,
    };
    // `Some` while the parameters being read belong to the first Bearer challenge.
    let mut current: Option<BearerChallenge> = None;
    let mut found: Option<BearerChallenge> = None;
    loop {
        lexer.skip_while(|b| matches!(b, b' ' | b'\t' | b','));
        let Some(next) = lexer.peek() else { break };
        let Some(name) = lexer.token() else {
            // Not a token: junk (or a stray quote); skip it.
            if next == b'"' {
                if lexer.quoted().is_none() {
                    break;
                }
            } else {
                lexer.at += 1;
            }
            continue;
        };
        lexer.skip_while(|b| matches!(b, b' ' | b'\t'));
        if lexer.peek() != Some(b'=') {
            // A new challenge's scheme (or a token68 without padding).
            if let Some(done) = current.take() {
                found = Some(done);
            }
            if found.is_none() && name.eq_ignore_ascii_case("bearer") {
                current = Some(BearerChallenge::default());
            }
            continue;
        }
        lexer.at += 1;
        lexer.skip_while(|b| matches!(b, b' ' | b'\t'));
        let value = match lexer.peek() {
            Some(b'"') => match lexer.quoted() {
                Some(v) => v,
                None => break, // unterminated: nothing after it can be trusted
            },
            Some(b'=') => {
                // token68 padding ("abc=="): a credential, not a parameter.
                lexer.skip_while(|b| b == b'=');
                continue;
            }
            _ => lexer.bare_value().to_string(),
        };
        let Some(challenge) = current.as_mut() else {
            continue;
        };
        let slot = match name.to_ascii_lowercase().as_str() {
            "resource_metadata" => &mut challenge.resource_metadata,
            "scope" => &mut challenge.scope,
            "error" => &mut challenge.error,
            _ => continue,
        };
        if slot.is_none() && !value.is_empty() {
            *slot = Some(value);
        }
    }
    found.or(current)
}

/// A byte cursor over a header value. It only stops on ASCII bytes, so
/// every slice it takes falls on a `char` boundary.
struct Lexer<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_while(&mut self, keep: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&keep) {
            self.at += 1;
        }
    }

    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a str {
        let start = self.at;
        self.skip_while(keep);
        self.text.get(start..self.at).unwrap_or("")
    }

    /// An RFC 9110 token, or `None` when none starts here.
    fn token(&mut self) -> Option<&'a str> {
        let token =
            self.take_while(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        (!token.is_empty()).then_some(token)
    }

    /// An unquoted value: everything up to a separator (lenient: servers
    /// send unquoted URLs, which are not RFC 9110 tokens).
    fn bare_value(&mut self) -> &'a str {
        self.take_while(|b| !matches!(b, b',' | b' ' | b'\t' | b'"'))
    }

    /// A quoted string starting at the opening quote, unescaped; `None`
    /// when it is not terminated.
    fn quoted(&mut self) -> Option<String> {
        let bytes = self.text.as_bytes();
        let mut out = Vec::new();
        let mut i = self.at + 1;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'"' => {
                    self.at = i + 1;
                    return Some(String::from_utf8_lossy(&out).into_owned());
                }
                b'\\' => {
                    out.extend(bytes.get(i + 1).copied());
                    i += 2;
                }
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        self.at = bytes.len();
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_challenges_with_quotes_escapes_and_other_schemes() {
        let c = parse_www_authenticate(r#"Basic realm="x", Bearer error="insufficient_scope", scope="a b", resource_metadata="https://s.example/.well-known/oauth-protected-resource/mcp""#).unwrap_or_default();
        assert_eq!(c.error.as_deref(), Some("insufficient_scope"));
        assert_eq!(c.scope.as_deref(), Some("a b"));
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some("https://s.example/.well-known/oauth-protected-resource/mcp")
        );
        let e = parse_www_authenticate(r#"bearer scope="say \"hi\" \\ ok""#).unwrap_or_default();
        assert_eq!(e.scope.as_deref(), Some(r#"say "hi" \ ok"#));
        let upper = parse_www_authenticate("BEARER error=invalid_token").unwrap_or_default();
        assert_eq!(upper.error.as_deref(), Some("invalid_token"));
        assert!(parse_www_authenticate("Basic realm=x").is_none());
        assert!(parse_www_authenticate("").is_none());
    }

    #[test]
    fn the_bearer_word_inside_another_challenge_is_not_a_bearer_challenge() {
        assert!(parse_www_authenticate(r#"Basic realm="Bearer scope=x""#).is_none());
        assert!(parse_www_authenticate("NotBearer scope=x").is_none());
        assert!(parse_www_authenticate("Basic bearer=1").is_none());
        let c = parse_www_authenticate(
            r#"Basic realm="Bearer error=fake", Bearer error="invalid_token""#,
        )
        .unwrap_or_default();
        assert_eq!(c.error.as_deref(), Some("invalid_token"));
    }

    #[test]
    fn parameters_stay_with_their_challenge_and_token68_is_skipped() {
        // Parameters after a second scheme belong to it, not to Bearer.
        let c = parse_www_authenticate(
            r#"Bearer scope="a", DPoP algs="ES256", error="use_dpop_nonce""#,
        )
        .unwrap_or_default();
        assert_eq!(c.scope.as_deref(), Some("a"));
        assert_eq!(c.error, None);
        // A token68 credential before the Bearer challenge.
        let c = parse_www_authenticate("Negotiate dGVzdA==, Bearer scope=b").unwrap_or_default();
        assert_eq!(c.scope.as_deref(), Some("b"));
        // The first of two Bearer challenges, and the first of a duplicated parameter.
        let c = parse_www_authenticate(r#"Bearer scope="one", scope="two", Bearer scope="three""#)
            .unwrap_or_default();
        assert_eq!(c.scope.as_deref(), Some("one"));
        // Unquoted URL values, spaces around '=', empty values count as absent.
        let c = parse_www_authenticate(
            "Bearer resource_metadata = https://s.example/prm , scope=\"\", error=x",
        )
        .unwrap_or_default();
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some("https://s.example/prm")
        );
        assert_eq!(c.scope, None);
        assert_eq!(c.error.as_deref(), Some("x"));
        // A bare Bearer challenge.
        assert_eq!(
            parse_www_authenticate("Bearer"),
            Some(BearerChallenge::default())
        );
    }

    #[test]
    fn junk_and_huge_challenges_never_panic() {
        assert!(parse_www_authenticate(&"Bearer a=\"".repeat(5000)).is_none());
        let huge = format!("Bearer scope=\"{}\"", "x".repeat(MAX_CHALLENGE_LEN));
        assert!(parse_www_authenticate(&huge).is_none());
        let unterminated =
            parse_www_authenticate(r#"Bearer error="x", scope="never ends"#).unwrap_or_default();
        assert_eq!(unterminated.error.as_deref(), Some("x"));
        assert_eq!(unterminated.scope, None);
        for junk in [
            "Bearer =,=,\"\\",
            "\"",
            "\\",
            "====",
            ",,,,",
            "Bearer \"quoted\" scope=a",
            "Bearer scope=\"\\",
            "Bearer scope=\"é\\é\"",
            "ü Bearer ü=ü, scope=ö",
            "Bearer\u{0}scope=\u{7f}",
            "Bearer scope=\"a\"\"b\"",
            "Bearer ,scope=a,,,error=b==",
        ] {
            let _ = parse_www_authenticate(junk);
        }
        // Every prefix of a real value, cut at each char boundary.
        let real = r#"Basic realm="ü", Bearer error="invalid_token", scope="a b", resource_metadata="https://s.example/x""#;
        for (i, _) in real.char_indices() {
            let _ = parse_www_authenticate(&real[..i]);
        }
        // Pseudo-random bytes.
        let mut seed: u32 = 12345;
        for _ in 0..2000 {
            let alphabet = b" ,=\"\\BearerScope=abc\xC3\xA9\t";
            let bytes: Vec<u8> = (0..64)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    alphabet[(seed >> 16) as usize % alphabet.len()]
                })
                .collect();
            let _ = parse_www_authenticate(&String::from_utf8_lossy(&bytes));
        }
    }
}
