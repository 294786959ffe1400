//! Deciding whether an access token is good for this server.
//!
//! Checks follow RFC 9068 loosely enough for common ASes: the signature
//! through the AS's JWKS, `iss` exactly the trusted issuer, `exp`, and an
//! `aud` (string or array) naming this server by id (the Multi-Server AS) or
//! by resource URL (RFC 8707 ASes such as oidc-provider). Optionally the AS
//! is then asked (RFC 7662) whether the token is still active, which is the
//! only way a resource server learns of revocation before expiry.

use crate::Introspection;
use crate::jwks::{KeyError, KeySource};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde::Deserialize;
use serde_json::Value;

/// The algorithms a token may be signed with.
const ALGORITHMS: [Algorithm; 4] = [
    Algorithm::ES256,
    Algorithm::EdDSA,
    Algorithm::RS256,
    Algorithm::PS256,
];
/// The `typ` header values accepted (RFC 9068, and plain JWTs).
const TYPES: [&str; 3] = ["at+jwt", "application/at+jwt", "JWT"];
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY_SECS: u64 = 5;

/// What a validated token says about its bearer, handed to the tools
/// through the HTTP request's extensions.
#[derive(Debug, Clone)]
pub(crate) struct Claims {
    /// The subject (the user), if the token names one.
    pub sub: Option<String>,
    /// The audience exactly as in the token (a string or an array).
    pub aud: Value,
    /// The client the token was issued to (`client_id`, else `azp`).
    pub client_id: Option<String>,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// The DPoP key the token is bound to (`cnf.jkt`), if it is bound.
    pub jkt: Option<String>,
}

impl Claims {
    /// Whether the token carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// The scopes as one space-separated string, as in a `scope` claim.
    pub fn scope_text(&self) -> String {
        self.scopes.join(" ")
    }
}

/// Why a request was not let through; the `&'static str` is for the log only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// No bearer token at all.
    Missing,
    /// The token is bad (the reason is never sent to the client).
    Invalid(&'static str),
    /// The token could not be checked because the AS is unreachable.
    Unavailable(&'static str),
}

/// The claims as they appear in the JWT.
#[derive(Deserialize)]
struct RawClaims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    aud: Value,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    scope: Value,
    #[serde(default)]
    scp: Value,
    #[serde(default)]
    cnf: Value,
}

/// Validates tokens for one server.
pub(crate) struct Verifier {
    issuer: String,
    id: String,
    resource: String,
    keys: KeySource,
    introspection: Option<Introspection>,
    http: reqwest::Client,
}

impl Verifier {
    /// A verifier for the server `id` at `resource`, trusting `issuer`.
    pub fn new(
        issuer: String,
        id: String,
        resource: String,
        keys: KeySource,
        introspection: Option<Introspection>,
        http: reqwest::Client,
    ) -> Self {
        Self {
            issuer,
            id,
            resource,
            keys,
            introspection,
            http,
        }
    }

    /// The token's claims if it is good for this server.
    pub async fn verify(&self, token: &str) -> Result<Claims, Rejection> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| Rejection::Invalid("malformed"))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(Rejection::Invalid("algorithm not accepted"));
        }
        if let Some(typ) = header.typ.as_deref()
            && !TYPES.iter().any(|t| t.eq_ignore_ascii_case(typ))
        {
            return Err(Rejection::Invalid("typ not accepted"));
        }
        let keys = self
            .keys
            .keys_for(header.kid.as_deref())
            .await
            .map_err(|e| match e {
                KeyError::UnknownKey => Rejection::Invalid("unknown key id"),
                KeyError::Unavailable => Rejection::Unavailable("authorization server unreachable"),
            })?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECS;
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        validation.validate_aud = false;
        validation.validate_nbf = true;
        let mut outcome = Err(Rejection::Invalid("no key verifies the signature"));
        for jwk in &keys {
            if jwk
                .common
                .key_algorithm
                .is_some_and(|a| format!("{a:?}") != format!("{:?}", header.alg))
            {
                continue;
            }
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            match jsonwebtoken::decode::<RawClaims>(token, &key, &validation) {
                Ok(data) => {
                    outcome = Ok(data.claims);
                    break;
                }
                Err(e) => match e.kind() {
                    ErrorKind::InvalidSignature
                    | ErrorKind::InvalidAlgorithm
                    | ErrorKind::InvalidKeyFormat => {}
                    // The signature held; the claims are what is wrong.
                    ErrorKind::ExpiredSignature => return Err(Rejection::Invalid("expired")),
                    ErrorKind::ImmatureSignature => {
                        return Err(Rejection::Invalid("not yet valid"));
                    }
                    ErrorKind::InvalidIssuer => return Err(Rejection::Invalid("issuer")),
                    ErrorKind::MissingRequiredClaim(_) => {
                        return Err(Rejection::Invalid("missing claim"));
                    }
                    _ => outcome = Err(Rejection::Invalid("undecodable")),
                },
            }
        }
        let raw = outcome?;
        if !audiences(&raw.aud).any(|a| a == self.id || a == self.resource) {
            return Err(Rejection::Invalid("audience"));
        }
        if self.introspection.is_some() {
            self.introspect(token).await?;
        }
        Ok(Claims {
            jkt: raw
                .cnf
                .get("jkt")
                .and_then(Value::as_str)
                .map(str::to_string),
            sub: raw.sub,
            aud: raw.aud,
            client_id: raw.client_id.or(raw.azp),
            scopes: scopes(&raw.scope)
                .chain(scopes(&raw.scp))
                .map(str::to_string)
                .collect(),
        })
    }

    /// Asks the AS (RFC 7662) whether the token is still active.
    async fn introspect(&self, token: &str) -> Result<(), Rejection> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            active: bool,
        }
        let Some(credential) = &self.introspection else {
            return Ok(());
        };
        let unavailable = Rejection::Unavailable("introspection failed");
        let metadata = self.keys.metadata().await.map_err(|_| unavailable)?;
        let Some(endpoint) = metadata.introspection_endpoint else {
            return Err(Rejection::Unavailable("no introspection endpoint"));
        };
        let response = self
            .http
            .post(endpoint)
            .basic_auth(&credential.client_id, Some(&credential.client_secret))
            .header("accept", "application/json")
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|_| unavailable)?;
        if !response.status().is_success() {
            return Err(unavailable);
        }
        let answer: Answer = response.json().await.map_err(|_| unavailable)?;
        if answer.active {
            Ok(())
        } else {
            Err(Rejection::Invalid("inactive"))
        }
    }
}

/// The audiences in an `aud` claim (a string or an array of strings).
fn audiences(aud: &Value) -> impl Iterator<Item = &str> {
    let items: &[Value] = match aud {
        Value::Array(items) => items,
        other => std::slice::from_ref(other),
    };
    items.iter().filter_map(Value::as_str)
}

/// The scopes in a `scope` (space-separated string) or `scp` (array) claim.
fn scopes(claim: &Value) -> impl Iterator<Item = &str> {
    let (text, list): (Option<&str>, &[Value]) = match claim {
        Value::String(s) => (Some(s), &[]),
        Value::Array(items) => (None, items),
        _ => (None, &[]),
    };
    text.into_iter()
        .flat_map(str::split_whitespace)
        .chain(list.iter().filter_map(Value::as_str))
}

#[cfg(test)]
mod tests {
    use super::{audiences, scopes};
    use serde_json::json;

    #[test]
    fn audiences_accept_a_string_or_an_array() {
        assert_eq!(audiences(&json!("a")).collect::<Vec<_>>(), ["a"]);
        assert_eq!(
            audiences(&json!(["a", 1, "b"])).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(audiences(&json!(null)).count(), 0);
    }

    #[test]
    fn scopes_accept_a_string_or_an_array() {
        assert_eq!(
            scopes(&json!("mcp:tools  mcp:write")).collect::<Vec<_>>(),
            ["mcp:tools", "mcp:write"]
        );
        assert_eq!(
            scopes(&json!(["mcp:tools"])).collect::<Vec<_>>(),
            ["mcp:tools"]
        );
    }
}
