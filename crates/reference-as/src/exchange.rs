//! `POST /token` with the RFC 8693 token exchange grant (`--token-exchange`).
//!
//! A client holding a Multi-Server grant presents the grant's access token
//! (the subject) with one `resource` and gets a token for that server alone,
//! with no refresh token. Unlike a refresh with `resource`, nothing is
//! rotated, so a client can ask for every server's token at once.
//!
//! Checked: the subject is an access token this AS signed (signature, `iss`,
//! not expired), issued to the client asking; neither it nor its grant is
//! revoked; a DPoP-bound grant's exchange carries a proof from the same key;
//! exactly one `resource`, naming a server in the subject's `aud` and still
//! in the grant. The new token's `aud` is that one server, its scope the
//! subject's, and it never outlives the subject.

use crate::crypto::{now, random_token};
use crate::db::{self, ClientRow};
use crate::error::OAuthError;
use crate::issue::resources_to_servers;
use crate::scope::{self, Scope};
use crate::state::AsState;
use crate::token::{one, required, resources};
use serde_json::{Value, json};

/// The grant type (RFC 8693 section 2.1).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The only token type taken and issued: an access token.
pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

/// What the subject token's claims say, once its signature held.
struct Subject {
    jti: String,
    aud: Vec<String>,
    plain_scope: Vec<String>,
    exp: i64,
}

fn subject(state: &AsState, client: &ClientRow, token: &str) -> Result<Subject, OAuthError> {
    let refused = || {
        OAuthError::invalid_grant(
            "the subject token is not an access token of this authorization server",
        )
    };
    let claims = state.signer.verify(token).ok_or_else(refused)?;
    if claims.get("iss").and_then(Value::as_str) != Some(state.config.issuer.as_str()) {
        return Err(refused());
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(refused)?;
    if exp <= now() {
        return Err(OAuthError::invalid_grant(
            "the subject token has expired; refresh the grant and exchange the new access token",
        ));
    }
    if claims.get("client_id").and_then(Value::as_str) != Some(client.client_id.as_str()) {
        return Err(OAuthError::invalid_grant(
            "the subject token was issued to another client",
        ));
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .ok_or_else(refused)?;
    let aud = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => return Err(refused()),
    };
    let plain_scope = Scope::parse(claims.get("scope").and_then(Value::as_str).unwrap_or("")).plain;
    Ok(Subject {
        jti: jti.to_string(),
        aud,
        plain_scope,
        exp,
    })
}

/// Answers one token exchange request.
pub fn token(
    state: &AsState,
    client: &ClientRow,
    form: &[(String, String)],
    jkt: Option<&str>,
) -> Result<Value, OAuthError> {
    let token = required(form, "subject_token")?;
    if required(form, "subject_token_type")? != ACCESS_TOKEN {
        return Err(OAuthError::invalid_request(format!(
            "subject_token_type must be {ACCESS_TOKEN}"
        )));
    }
    if one(form, "requested_token_type")?.is_some_and(|t| t != ACCESS_TOKEN) {
        return Err(OAuthError::invalid_request(format!(
            "requested_token_type may only be {ACCESS_TOKEN}"
        )));
    }
    if one(form, "actor_token")?.is_some() {
        return Err(OAuthError::invalid_request(
            "actor_token is not supported (no delegation)",
        ));
    }
    let &[resource] = resources(form).as_slice() else {
        return Err(OAuthError::invalid_target(
            "name exactly one resource: the server the token is for",
        ));
    };
    let subject = subject(state, client, token)?;
    let (grant, server) = state.store.tx(|c| {
        let grant = live_grant(c, &subject)?;
        crate::dpop::check_binding(db::dpop_binding(c, &grant.id)?, jkt)?;
        match resources_to_servers(state, &[resource], &grant.servers)? {
            Some(ids) if ids.len() == 1 && subject.aud.contains(&ids[0]) => {
                let server = ids[0].clone();
                Ok((grant, server))
            }
            _ => Err(OAuthError::invalid_target(
                "the resource is not one of the servers the subject token is for",
            )),
        }
    })?;
    // Signed outside the database lock (exchanges of one grant run side by
    // side); recorded only if the grant is still live then.
    let issued = now();
    let exp = (issued + state.config.access_ttl).min(subject.exp);
    let jti = random_token();
    let scope_text = scope::format(&subject.plain_scope, std::slice::from_ref(&server));
    let mut claims = json!({
        "iss": state.config.issuer, "sub": grant.user, "client_id": grant.client_id,
        "aud": server, "scope": scope_text, "iat": issued, "exp": exp, "jti": jti,
    });
    if let Some(jkt) = jkt {
        claims["cnf"] = json!({"jkt": jkt});
    }
    let access_token = state.signer.sign(&claims);
    state.store.tx(|c| {
        live_grant(c, &subject)?;
        db::record_access(c, &jti, &grant.id, exp)?;
        Ok::<_, OAuthError>(())
    })?;
    crate::secrets_log::record("access_token", &access_token);
    Ok(json!({
        "access_token": access_token,
        "issued_token_type": ACCESS_TOKEN,
        "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
        "expires_in": exp - issued,
        "scope": scope_text,
    }))
}

/// The subject's grant, unless it or the subject was revoked.
fn live_grant(c: &rusqlite::Connection, subject: &Subject) -> Result<db::GrantRow, OAuthError> {
    let gone = || OAuthError::invalid_grant("the grant was revoked; sign in again");
    let (grant_id, revoked) = db::get_access(c, &subject.jti)?.ok_or_else(gone)?;
    if revoked {
        return Err(OAuthError::invalid_grant("the subject token was revoked"));
    }
    let grant = db::get_grant(c, &grant_id)?.ok_or_else(gone)?;
    if grant.revoked {
        return Err(gone());
    }
    Ok(grant)
}
