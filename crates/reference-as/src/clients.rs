//! Clients: pre-registered ones, Client ID Metadata Documents, and open
//! dynamic registration (RFC 7591); redirect URI rules; client
//! authentication at the token, revocation and introspection endpoints.

use crate::crypto::{constant_time_eq, digest, now, random_token};
use crate::db::{self, ClientRow};
use crate::error::OAuthError;
use crate::state::AsState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// Whether a host is a loopback literal or `localhost`.
pub fn is_loopback_host(host: Option<&str>) -> bool {
    matches!(host, Some("127.0.0.1" | "[::1]" | "localhost"))
}

/// Whether a redirect URI may be registered: https, http on loopback, or a
/// private-use scheme in reverse-DNS form (RFC 8252 section 7.1). No fragments.
pub fn redirect_uri_allowed(uri: &str) -> bool {
    let Ok(u) = url::Url::parse(uri) else {
        return false;
    };
    if u.fragment().is_some() || !u.username().is_empty() || u.password().is_some() {
        return false;
    }
    match u.scheme() {
        "https" => u.host_str().is_some(),
        "http" => is_loopback_host(u.host_str()),
        scheme => scheme.contains('.') && !matches!(scheme, "javascript" | "data" | "file"),
    }
}

/// Whether `given` matches one registered URI: exactly, or for
/// `http://127.0.0.1` / `http://[::1]` with any port (RFC 8252 section 7.3).
pub fn redirect_uri_matches(registered: &[String], given: &str) -> bool {
    if registered.iter().any(|r| r == given) {
        return true;
    }
    let Ok(g) = url::Url::parse(given) else {
        return false;
    };
    if g.scheme() != "http" || !matches!(g.host_str(), Some("127.0.0.1" | "[::1]")) {
        return false;
    }
    registered
        .iter()
        .filter_map(|r| url::Url::parse(r).ok())
        .any(|mut r| {
            let mut g = g.clone();
            r.set_port(None).is_ok()
                && g.set_port(None).is_ok()
                && r.scheme() == "http"
                && r.host_str() == g.host_str()
                && r.path() == g.path()
                && r.query() == g.query()
        })
}

/// The client for `client_id`: stored, or fetched as a metadata document
/// when `client_id` is an https URL (http on loopback when allowed).
pub async fn resolve(state: &AsState, client_id: &str) -> Result<Option<ClientRow>, String> {
    if client_id.starts_with("https://") || client_id.starts_with("http://") {
        return fetch_metadata_document(state, client_id).await.map(Some);
    }
    state
        .store
        .tx(|c| db::get_client(c, client_id))
        .map_err(|e| e.to_string())
}

async fn fetch_metadata_document(state: &AsState, client_id: &str) -> Result<ClientRow, String> {
    let url =
        url::Url::parse(client_id).map_err(|_| "the client id is not a valid URL".to_string())?;
    let loopback_ok = state.config.allow_loopback_cimd
        && url.scheme() == "http"
        && is_loopback_host(url.host_str());
    if url.scheme() != "https" && !loopback_ok {
        return Err("a client metadata document must be served over https".into());
    }
    let response = state
        .http
        .get(url.clone())
        .send()
        .await
        .map_err(|_| "the client metadata document could not be fetched".to_string())?;
    if !response.status().is_success() {
        return Err(format!(
            "the client metadata document answered {}",
            response.status()
        ));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|_| "the client metadata document could not be read".to_string())?;
    if bytes.len() > 64 * 1024 {
        return Err("the client metadata document is larger than 64 KiB".into());
    }
    let doc: Value = serde_json::from_slice(&bytes)
        .map_err(|_| "the client metadata document is not JSON".to_string())?;
    if doc.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return Err("the client metadata document's client_id is not its own URL".into());
    }
    if doc
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
        .is_some_and(|m| m != "none")
    {
        return Err(
            "only public clients (token_endpoint_auth_method none) may use a metadata document"
                .into(),
        );
    }
    let redirect_uris: Vec<String> = doc
        .get("redirect_uris")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    if redirect_uris.is_empty() || !redirect_uris.iter().all(|u| redirect_uri_allowed(u)) {
        return Err(
            "the client metadata document's redirect_uris are missing or not allowed".into(),
        );
    }
    let name = doc
        .get("client_name")
        .and_then(Value::as_str)
        .unwrap_or(client_id)
        .to_string();
    let row = ClientRow {
        client_id: client_id.to_string(),
        secret_hash: None,
        redirect_uris,
        name,
        kind: "metadata-document".into(),
    };
    state
        .store
        .tx(|c| db::put_client(c, &row, now()))
        .map_err(|e| e.to_string())?;
    Ok(row)
}

/// RFC 7591 registration request (the fields this AS uses).
#[derive(Debug, Deserialize)]
pub struct Registration {
    redirect_uris: Option<Vec<String>>,
    client_name: Option<String>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
}

/// `POST /register`: open dynamic client registration.
pub async fn register(
    State(state): State<Arc<AsState>>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), OAuthError> {
    let reg: Registration = serde_json::from_slice(&body).map_err(|e| {
        OAuthError::invalid_client_metadata(
            "invalid_client_metadata",
            format!("body is not a registration request: {e}"),
        )
    })?;
    let uris = reg.redirect_uris.unwrap_or_default();
    if uris.is_empty() || !uris.iter().all(|u| redirect_uri_allowed(u)) {
        return Err(OAuthError::invalid_client_metadata(
            "invalid_redirect_uri",
            "redirect_uris must be https, http on 127.0.0.1/[::1]/localhost, or a reverse-DNS private-use scheme",
        ));
    }
    let method = reg
        .token_endpoint_auth_method
        .unwrap_or_else(|| "client_secret_basic".into());
    if !matches!(
        method.as_str(),
        "none" | "client_secret_basic" | "client_secret_post"
    ) {
        return Err(OAuthError::invalid_client_metadata(
            "invalid_client_metadata",
            "unsupported token_endpoint_auth_method",
        ));
    }
    let grant_types = reg
        .grant_types
        .unwrap_or_else(|| vec!["authorization_code".into()]);
    if grant_types.iter().any(|g| {
        !matches!(
            g.as_str(),
            "authorization_code"
                | "refresh_token"
                | crate::device::GRANT_TYPE
                | crate::exchange::GRANT_TYPE
        )
    }) {
        return Err(OAuthError::invalid_client_metadata(
            "invalid_client_metadata",
            "grant_types may only hold authorization_code, refresh_token, the device code grant and token exchange",
        ));
    }
    if reg
        .response_types
        .as_ref()
        .is_some_and(|r| r.iter().any(|t| t != "code"))
    {
        return Err(OAuthError::invalid_client_metadata(
            "invalid_client_metadata",
            "response_types may only hold code",
        ));
    }
    let client_id = random_token();
    let secret = (method != "none").then(random_token);
    if let Some(secret) = &secret {
        crate::secrets_log::record("client_secret", secret);
    }
    let name = reg
        .client_name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "An unnamed application".into());
    let row = ClientRow {
        client_id: client_id.clone(),
        secret_hash: secret.as_deref().map(digest),
        redirect_uris: uris.clone(),
        name: name.clone(),
        kind: "dynamic".into(),
    };
    let issued_at = now();
    state.store.tx(|c| db::put_client(c, &row, issued_at))?;
    let mut out = json!({
        "client_id": client_id, "client_id_issued_at": issued_at, "client_name": name,
        "redirect_uris": uris, "grant_types": grant_types, "response_types": ["code"],
        "token_endpoint_auth_method": method,
    });
    if let Some(secret) = secret {
        out["client_secret"] = json!(secret);
        out["client_secret_expires_at"] = json!(0);
    }
    Ok((StatusCode::CREATED, Json(out)))
}

/// Authenticates the client of a token, revocation or introspection request
/// from HTTP Basic or form fields; a public client needs only its id.
pub async fn authenticate(
    state: &AsState,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<ClientRow, OAuthError> {
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (id, secret) = match basic_credentials(headers) {
        Some((id, secret)) => (id, Some(secret)),
        None => match field("client_id") {
            Some(id) => (id, field("client_secret")),
            None => {
                return Err(OAuthError::invalid_client(
                    "client authentication is missing",
                ));
            }
        },
    };
    let client = resolve(state, &id)
        .await
        .ok()
        .flatten()
        .ok_or_else(|| OAuthError::invalid_client("unknown client"))?;
    match (&client.secret_hash, secret) {
        (None, _) => Ok(client),
        (Some(hash), Some(secret)) if constant_time_eq(hash, &digest(&secret)) => Ok(client),
        _ => Err(OAuthError::invalid_client("client authentication failed")),
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirect_matches_any_port_but_same_path() {
        let reg = vec!["http://127.0.0.1/callback".to_string()];
        assert!(redirect_uri_matches(
            &reg,
            "http://127.0.0.1:53111/callback"
        ));
        assert!(!redirect_uri_matches(&reg, "http://127.0.0.1:53111/other"));
        assert!(!redirect_uri_matches(
            &reg,
            "http://localhost:53111/callback"
        ));
    }

    #[test]
    fn non_loopback_redirects_match_exactly() {
        let reg = vec!["https://app.example/cb".to_string()];
        assert!(redirect_uri_matches(&reg, "https://app.example/cb"));
        assert!(!redirect_uri_matches(&reg, "https://app.example:8443/cb"));
        assert!(!redirect_uri_matches(&reg, "https://app.example/cb/"));
    }

    #[test]
    fn registrable_redirects() {
        assert!(redirect_uri_allowed(
            "io.github.mcppassport:/oauth/callback"
        ));
        assert!(redirect_uri_allowed("http://127.0.0.1/callback"));
        assert!(!redirect_uri_allowed("http://app.example/cb"));
        assert!(!redirect_uri_allowed("myapp:/cb"));
        assert!(!redirect_uri_allowed("javascript:alert(1)"));
        assert!(!redirect_uri_allowed("https://app.example/cb#frag"));
    }
}
