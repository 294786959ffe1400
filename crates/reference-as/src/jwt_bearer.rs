//! The JWT bearer grant (RFC 7523) with an ID-JAG from a trusted identity
//! provider: Enterprise-Managed Authorization, the AS side.
//!
//! The client authenticates as itself (a confidential client by
//! `client_secret_basic` or `_post`; a public pre-registered client by its
//! id alone, where the operator registered one without a secret) and
//! presents the assertion. Every check of the extension and of RFC 7521
//! section 5.2 runs before anything is written: `typ`, a trusted `iss`, the
//! ES256 signature by that IdP's published keys, `aud` this issuer (with or
//! without a trailing slash), `exp` and `iat` (a lifetime of an hour at
//! most), `sub`, `client_id` the
//! authenticated client, `resource` one catalog server (and the request's
//! `resource`, if any, the same). The `jti` is then spent in the same
//! transaction that records the grant, so an assertion is used once.
//!
//! The answer is an access token for that one server (`aud` its id, as in
//! every other token of this AS, DPoP-bound when the request had a proof)
//! and no refresh token: the client asks the IdP for a new ID-JAG instead.
//! Each token is recorded under a grant of its own, so revocation,
//! introspection and the account page treat it like any other.

use crate::crypto::{now, random_token};
use crate::db::{self, ClientRow, GrantRow};
use crate::error::OAuthError;
use crate::idp_keys;
use crate::issue::{Audience, access_token_response};
use crate::scope::{DEFAULT, SUPPORTED, Scope};
use crate::state::AsState;
use crate::token::{Params, one, required, resources};
use serde_json::Value;

/// The grant type (RFC 7523 section 2.1).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The `typ` header of an ID-JAG.
pub const ID_JAG_TYP: &str = "oauth-id-jag+jwt";
/// Clock skew tolerated on `exp` and `iat`, seconds.
const LEEWAY: i64 = 30;
/// The longest assertion lifetime (`exp - iat`) accepted, seconds: the
/// extension asks for short-lived ID-JAGs, and their `jti`s are kept until `exp`.
const MAX_LIFETIME: i64 = 3600;

fn bad(description: &str) -> OAuthError {
    OAuthError::invalid_grant(description)
}

/// Answers a JWT bearer grant request from `client` (already authenticated).
pub async fn token(
    state: &AsState,
    client: &ClientRow,
    form: &Params,
    jkt: Option<&str>,
) -> Result<Value, OAuthError> {
    if state.config.trusted_idps.is_empty() {
        return Err(OAuthError::unsupported_grant_type(
            "this authorization server trusts no identity provider, so it takes no JWT bearer grants",
        ));
    }
    let assertion = required(form, "assertion")?;
    crate::secrets_log::record("id_jag", assertion);
    let jwt = idp_keys::parse(assertion).ok_or_else(|| bad("the assertion is not a signed JWT"))?;
    let typ = jwt.header.get("typ").and_then(Value::as_str).unwrap_or("");
    if !typ.eq_ignore_ascii_case(ID_JAG_TYP) {
        return Err(bad(
            "the assertion is not an ID-JAG: its typ header must be oauth-id-jag+jwt",
        ));
    }
    let claims = &jwt.claims;
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let iss = text("iss").ok_or_else(|| bad("the assertion names no issuer (iss)"))?;
    if !state.config.trusted_idps.iter().any(|t| t.issuer == iss) {
        return Err(bad(
            "the assertion's issuer is not an identity provider this authorization server trusts",
        ));
    }
    idp_keys::verify(state, iss, &jwt).await?;
    if !audiences(claims.get("aud")).any(|aud| names_issuer(aud, &state.config.issuer)) {
        return Err(bad(
            "the assertion is for another authorization server: its aud is not this issuer",
        ));
    }
    let now = now();
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("the assertion has no expiry (exp)"))?;
    if exp + LEEWAY <= now {
        return Err(bad(
            "the assertion has expired; ask the identity provider for a new one",
        ));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("the assertion has no issue time (iat)"))?;
    if iat > now + LEEWAY {
        return Err(bad("the assertion's issue time (iat) is in the future"));
    }
    if exp - iat > MAX_LIFETIME {
        return Err(bad(
            "the assertion lives longer than an hour (exp - iat); ID-JAGs must be short-lived",
        ));
    }
    let sub = text("sub").ok_or_else(|| bad("the assertion names no subject (sub)"))?;
    if text("client_id") != Some(client.client_id.as_str()) {
        return Err(bad(
            "the assertion was issued for another client: its client_id is not the client that authenticated",
        ));
    }
    let resource = text("resource").ok_or_else(|| {
        OAuthError::invalid_target("the assertion names no MCP server (resource)")
    })?;
    let Some(server) = state.config.server_by_resource(resource) else {
        return Err(OAuthError::invalid_target(
            "the assertion's resource is not a server of this authorization server",
        ));
    };
    if resources(form).iter().any(|r| *r != resource) {
        return Err(OAuthError::invalid_target(
            "the resource parameter differs from the assertion's resource",
        ));
    }
    let jti = text("jti").ok_or_else(|| bad("the assertion has no jti"))?;
    let scope = granted_scope(text("scope"), one(form, "scope")?)?;
    let grant = GrantRow {
        id: random_token(),
        user: sub.to_string(),
        client_id: client.client_id.clone(),
        servers: vec![server.id.clone()],
        scope: scope.clone(),
        global: false,
        created: now,
        revoked: false,
    };
    let audience = Audience {
        servers: grant.servers.clone(),
        narrowed: true,
        scope,
        jkt: jkt.map(str::to_string),
    };
    state.store.tx(|c| {
        if !db::use_assertion_jti(c, iss, jti, exp + LEEWAY, now)? {
            return Err(bad(
                "the assertion was already used (its jti was seen before); ask the identity provider for a new one",
            ));
        }
        db::insert_grant(c, &grant)?;
        if let Some(jkt) = jkt {
            db::bind_dpop(c, &grant.id, jkt)?;
        }
        access_token_response(state, c, &grant, &audience)
    })
}

/// The audiences of an `aud` claim (a string or an array of strings).
fn audiences(aud: Option<&Value>) -> impl Iterator<Item = &str> {
    let items: &[Value] = match aud {
        Some(Value::Array(items)) => items,
        Some(one) => std::slice::from_ref(one),
        None => &[],
    };
    items.iter().filter_map(Value::as_str)
}

/// Whether `aud` is `issuer`, with or without a trailing slash.
fn names_issuer(aud: &str, issuer: &str) -> bool {
    aud.trim_end_matches('/') == issuer.trim_end_matches('/')
}

/// The plain scopes of the token: the assertion's (this AS's defaults when
/// it names none), narrowed to the request's `scope` when one is sent,
/// keeping only scopes this AS grants for one server.
fn granted_scope(
    assertion: Option<&str>,
    requested: Option<&str>,
) -> Result<Vec<String>, OAuthError> {
    let mut plain = match assertion {
        Some(scope) => Scope::parse(scope).plain,
        None => DEFAULT.iter().map(|s| s.to_string()).collect(),
    };
    if let Some(requested) = requested.map(Scope::parse) {
        plain.retain(|s| requested.has(s));
        if plain.is_empty() {
            return Err(OAuthError::invalid_scope(
                "the requested scope is not within the assertion's scope",
            ));
        }
    }
    plain.retain(|s| SUPPORTED.contains(&s.as_str()) && s != "mcp:global" && s != "offline_access");
    if plain.is_empty() {
        return Err(OAuthError::invalid_scope(
            "none of the assertion's scopes is one this authorization server grants",
        ));
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn scope_is_the_assertions_narrowed_to_the_request() {
        assert_eq!(granted_scope(None, None).unwrap(), DEFAULT);
        assert_eq!(
            granted_scope(Some("mcp:tools mcp:write other"), Some("mcp:tools")).unwrap(),
            ["mcp:tools"]
        );
        assert_eq!(
            granted_scope(Some("mcp:tools other"), None).unwrap(),
            ["mcp:tools"]
        );
        assert_eq!(
            granted_scope(Some("mcp:tools"), Some("mcp:write"))
                .unwrap_err()
                .code(),
            "invalid_scope"
        );
        assert_eq!(
            granted_scope(Some("other"), None).unwrap_err().code(),
            "invalid_scope"
        );
    }

    #[test]
    fn aud_names_this_issuer_with_or_without_a_slash() {
        let aud = serde_json::json!(["x", "http://127.0.0.1:9400/"]);
        assert!(audiences(Some(&aud)).any(|a| names_issuer(a, "http://127.0.0.1:9400")));
        assert!(!names_issuer(
            "http://127.0.0.1:9401",
            "http://127.0.0.1:9400"
        ));
        assert_eq!(audiences(None).count(), 0);
    }
}
