//! Requests to the token and revocation endpoints, through `oauth2`.
//!
//! One place builds the `oauth2` client for a registered client at an AS,
//! so the typestate generics stay here. Errors are split the way callers
//! must act on them: the grant is dead ([`TokenError::InvalidGrant`]), the
//! client registration is stale ([`TokenError::InvalidClient`]), the AS said
//! something else, or the AS could not be reached (retry later).

use crate::http::{HttpClient, HttpError};
use crate::metadata::AsMetadata;
use crate::model::{ClientAuth, ClientRecord};
use crate::secret::{AccessToken, AuthCode, ClientSecret, RefreshToken};
use base64::Engine as _;
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthType, AuthorizationCode, ClientId, EndpointNotSet, EndpointSet, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, Scope, TokenResponse as _, TokenUrl,
};
use std::time::Duration;

mod exchange;
pub use exchange::TOKEN_EXCHANGE;

type OAuthClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// What a token endpoint returned.
#[derive(Debug)]
pub struct Tokens {
    /// The access token.
    pub access_token: AccessToken,
    /// A new refresh token (rotation), if one was sent.
    pub refresh_token: Option<RefreshToken>,
    /// Lifetime of the access token.
    pub expires_in: Option<Duration>,
    /// The granted scope, space-separated, if the AS said.
    pub scope: Option<String>,
    /// `token_type` was `DPoP`: the token is bound to this installation's key.
    pub dpop_bound: bool,
}

/// Why a token request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// `invalid_grant`: the code or refresh token is no longer valid.
    #[error("the authorization server no longer accepts this sign-in ({0}); sign in again")]
    InvalidGrant(String),
    /// `invalid_client`: the client registration is unknown or its secret wrong.
    #[error("the authorization server does not recognise this application's registration ({0})")]
    InvalidClient(String),
    /// `invalid_target` or `invalid_scope`: the AS refused the requested resource or scope.
    #[error("the authorization server refused the requested {what}: {description}")]
    Refused {
        /// `resource` or `scope`.
        what: &'static str,
        /// The AS's own words (untrusted text).
        description: String,
    },
    /// Any other OAuth error answer.
    #[error("the authorization server answered {error}: {description}")]
    Other {
        /// The OAuth error code.
        error: String,
        /// The AS's own words (untrusted text).
        description: String,
    },
    /// The AS could not be reached, timed out, redirected, or failed with 5xx.
    #[error(transparent)]
    Unreachable(#[from] HttpError),
    /// The answer was not a valid token response.
    #[error("the authorization server's answer could not be understood: {0}")]
    Malformed(String),
    /// The AS advertises no endpoint for this.
    #[error("the authorization server has no {0} endpoint")]
    NoEndpoint(&'static str),
}

impl TokenError {
    /// Whether retrying later may help: the AS was unreachable, failed with
    /// 5xx, or sent something that is not a token response (a proxy's HTML
    /// page, a cut-off body). Retrying a refresh token is safe either way:
    /// if the AS did rotate it, the retry is refused and the grant asks for
    /// a sign-in.
    pub fn is_transient(&self) -> bool {
        matches!(self, TokenError::Unreachable(_) | TokenError::Malformed(_))
    }
}

/// A registered client at one AS, ready to talk to its token endpoint.
pub struct TokenEndpoint<'a> {
    http: &'a HttpClient,
    client: OAuthClient,
    revocation: Option<url::Url>,
    client_id: String,
    auth: ClientAuth,
    secret: Option<ClientSecret>,
    dpop: Option<crate::dpop::Prover<'a>>,
}

impl<'a> TokenEndpoint<'a> {
    /// Sends a DPoP proof (RFC 9449) with every token request.
    pub fn with_dpop(mut self, prover: Option<crate::dpop::Prover<'a>>) -> Self {
        self.dpop = prover;
        self
    }

    /// Builds the client for `record` at the AS described by `metadata`.
    pub fn new(
        http: &'a HttpClient,
        metadata: &AsMetadata,
        record: &ClientRecord,
        secret: Option<&ClientSecret>,
    ) -> Result<Self, TokenError> {
        let token_url = TokenUrl::new(metadata.token_endpoint.clone())
            .map_err(|e| TokenError::Malformed(e.to_string()))?;
        let revocation = metadata
            .revocation_endpoint
            .as_ref()
            .and_then(|u| url::Url::parse(u).ok());
        let mut client = BasicClient::new(ClientId::new(record.client_id.clone()))
            .set_token_uri(token_url)
            .set_auth_type(match record.auth {
                ClientAuth::ClientSecretPost | ClientAuth::None => AuthType::RequestBody,
                ClientAuth::ClientSecretBasic => AuthType::BasicAuth,
            });
        if let (Some(secret), false) = (secret, record.auth == ClientAuth::None) {
            client =
                client.set_client_secret(oauth2::ClientSecret::new(secret.expose().to_string()));
        }
        Ok(Self {
            http,
            client,
            revocation,
            client_id: record.client_id.clone(),
            auth: record.auth.clone(),
            secret: secret.cloned(),
            dpop: None,
        })
    }

    /// Exchanges an authorization code (PKCE), naming `resources` (RFC 8707) when given.
    pub async fn exchange_code(
        &self,
        code: AuthCode,
        verifier: PkceCodeVerifier,
        redirect_uri: &str,
        resources: &[String],
    ) -> Result<Tokens, TokenError> {
        let redirect = RedirectUrl::new(redirect_uri.to_string())
            .map_err(|e| TokenError::Malformed(e.to_string()))?;
        let mut request = self
            .client
            .exchange_code(AuthorizationCode::new(code.expose().to_string()))
            .set_pkce_verifier(verifier)
            .set_redirect_uri(std::borrow::Cow::Owned(redirect));
        for resource in resources {
            request = request.add_extra_param("resource", resource.clone());
        }
        match self.dpop {
            Some(prover) => {
                let client = crate::dpop::ProvingClient {
                    http: self.http,
                    prover,
                };
                convert(request.request_async(&client).await)
            }
            None => convert(request.request_async(self.http).await),
        }
    }

    /// Refreshes; `scope` narrows the grant, `resource` narrows this access token.
    pub async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        scope: Option<&str>,
        resource: Option<&str>,
    ) -> Result<Tokens, TokenError> {
        let rt = oauth2::RefreshToken::new(refresh_token.expose().to_string());
        let mut request = self.client.exchange_refresh_token(&rt);
        if let Some(scope) = scope {
            request = request.add_scopes(
                scope
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(|s| Scope::new(s.to_string())),
            );
        }
        if let Some(resource) = resource {
            request = request.add_extra_param("resource", resource.to_string());
        }
        match self.dpop {
            Some(prover) => {
                let client = crate::dpop::ProvingClient {
                    http: self.http,
                    prover,
                };
                convert(request.request_async(&client).await)
            }
            None => convert(request.request_async(self.http).await),
        }
    }

    /// RFC 7009 revocation of a refresh token (ends the grant at the AS).
    pub async fn revoke_refresh(&self, token: &RefreshToken) -> Result<(), TokenError> {
        self.revoke(token.expose(), "refresh_token").await
    }

    /// RFC 7009 revocation of an access token.
    pub async fn revoke_access(&self, token: &AccessToken) -> Result<(), TokenError> {
        self.revoke(token.expose(), "access_token").await
    }

    /// Adds the client's authentication to a form sent by hand; returns
    /// the `Authorization` header when the secret goes there
    /// (client_secret_basic).
    fn authenticate(
        &self,
        form: &mut url::form_urlencoded::Serializer<'_, String>,
    ) -> Option<String> {
        match (&self.auth, &self.secret) {
            (ClientAuth::ClientSecretBasic, Some(secret)) => {
                let encode = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let pair = format!("{}:{}", encode(&self.client_id), encode(secret.expose()));
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ))
            }
            (ClientAuth::ClientSecretPost, Some(secret)) => {
                form.append_pair("client_id", &self.client_id)
                    .append_pair("client_secret", secret.expose());
                None
            }
            _ => {
                form.append_pair("client_id", &self.client_id);
                None
            }
        }
    }

    /// The token endpoint's address.
    fn token_url(&self) -> &str {
        self.client.token_uri().as_str()
    }

    /// Sent by hand rather than through `oauth2`, which refuses http
    /// revocation endpoints even on loopback.
    async fn revoke(&self, token: &str, hint: &str) -> Result<(), TokenError> {
        let url = self
            .revocation
            .as_ref()
            .ok_or(TokenError::NoEndpoint("revocation"))?;
        // The form serializer is not `Send`; it lives only in this block, so
        // the future stays `Send` (the desktop app awaits it on a thread pool).
        let (body, basic) = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("token", token)
                .append_pair("token_type_hint", hint);
            let basic = self.authenticate(&mut form);
            (form.finish(), basic)
        };
        let mut request = http::Request::post(url.as_str()).header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        );
        if let Some(value) = basic {
            request = request.header(http::header::AUTHORIZATION, value);
        }
        let request = request
            .body(body.into_bytes())
            .map_err(|e| TokenError::Malformed(e.to_string()))?;
        let response = self.http.send(request).await?;
        if response.status.is_server_error() {
            return Err(TokenError::Unreachable(HttpError::ServerError {
                url: url.to_string(),
                status: response.status.as_u16(),
            }));
        }
        if !response.status.is_success() {
            let body: serde_json::Value = response.json().unwrap_or_default();
            let error = untrusted(
                body.get("error")
                    .and_then(|v| v.as_str())
                    .unwrap_or("revocation_failed"),
            );
            let description = untrusted(
                body.get("error_description")
                    .and_then(|v| v.as_str())
                    .unwrap_or(""),
            );
            return Err(TokenError::Other { error, description });
        }
        Ok(())
    }
}

/// Text the AS chose (an error code, its description, or the part of its
/// answer a parser quotes, such as a JSON key), made safe to show on a
/// terminal (see [`crate::text`]): at most 300 characters.
fn untrusted(text: &str) -> String {
    crate::text::untrusted(text, 300)
}

fn convert(
    result: Result<
        oauth2::basic::BasicTokenResponse,
        RequestTokenError<HttpError, oauth2::basic::BasicErrorResponse>,
    >,
) -> Result<Tokens, TokenError> {
    let response = result.map_err(classify)?;
    Ok(Tokens {
        access_token: AccessToken::new(response.access_token().secret().clone()),
        refresh_token: response
            .refresh_token()
            .map(|t| RefreshToken::new(t.secret().clone())),
        expires_in: response.expires_in(),
        scope: response
            .scopes()
            .map(|s| s.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" ")),
        dpop_bound: matches!(response.token_type(), oauth2::basic::BasicTokenType::Extension(t) if t.eq_ignore_ascii_case("dpop")),
    })
}

/// Reads a token endpoint's answer to a request built outside `oauth2`
/// (the machine grants): a token response, or the OAuth error it names.
pub(crate) fn parse_answer(status: u16, body: &[u8]) -> Result<Tokens, TokenError> {
    if (200..300).contains(&status) {
        let response = serde_json::from_slice::<oauth2::basic::BasicTokenResponse>(body)
            .map_err(|e| TokenError::Malformed(untrusted(&e.to_string())))?;
        return convert(Ok(response));
    }
    match serde_json::from_slice::<oauth2::basic::BasicErrorResponse>(body) {
        Ok(error) => Err(from_error_body(&error)),
        Err(_) => Err(TokenError::Malformed(format!(
            "HTTP {status} without an OAuth error"
        ))),
    }
}

fn classify<T: oauth2::ErrorResponse + std::fmt::Debug + 'static>(
    e: RequestTokenError<HttpError, T>,
) -> TokenError {
    match e {
        RequestTokenError::Request(http) => TokenError::Unreachable(http),
        RequestTokenError::Parse(err, _) => TokenError::Malformed(untrusted(&err.to_string())),
        RequestTokenError::Other(text) => TokenError::Malformed(untrusted(&text)),
        RequestTokenError::ServerResponse(body) => from_error_body(&body),
    }
}

fn from_error_body<T: oauth2::ErrorResponse + std::fmt::Debug>(body: &T) -> TokenError {
    // ErrorResponse gives no typed access for every T; go through its JSON form.
    let json = serde_json::to_value(body).unwrap_or_default();
    let error = untrusted(
        json.get("error")
            .and_then(|v| v.as_str())
            .unwrap_or("unknown_error"),
    );
    let description = untrusted(
        json.get("error_description")
            .and_then(|v| v.as_str())
            .unwrap_or("no description"),
    );
    match error.as_str() {
        e if e == BasicErrorResponseType::InvalidGrant.as_ref() => {
            TokenError::InvalidGrant(description)
        }
        e if e == BasicErrorResponseType::InvalidClient.as_ref() => {
            TokenError::InvalidClient(description)
        }
        "invalid_target" => TokenError::Refused {
            what: "resource",
            description,
        },
        e if e == BasicErrorResponseType::InvalidScope.as_ref() => TokenError::Refused {
            what: "scope",
            description,
        },
        _ => TokenError::Other { error, description },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::Registration;

    /// Serves `(status, body)` as JSON on loopback and refreshes against it.
    async fn refresh_against(status: u16, body: &'static [u8]) -> Result<Tokens, TokenError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(move || async move {
            (
                http::StatusCode::from_u16(status).unwrap(),
                [(http::header::CONTENT_TYPE, "application/json")],
                body,
            )
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        let metadata = AsMetadata {
            issuer: issuer.clone(),
            authorization_endpoint: format!("{issuer}/authorize"),
            token_endpoint: format!("{issuer}/token"),
            registration_endpoint: None,
            revocation_endpoint: None,
            scopes_supported: None,
            code_challenge_methods_supported: Some(vec!["S256".into()]),
            authorization_response_iss_parameter_supported: true,
            client_id_metadata_document_supported: false,
            token_endpoint_auth_methods_supported: None,
            resource_indicators_supported: None,
            mcp_server_catalog_endpoint: None,
            dpop_signing_alg_values_supported: None,
            grant_types_supported: None,
            device_authorization_endpoint: None,
        };
        let record = ClientRecord {
            issuer,
            client_id: "c".into(),
            auth: ClientAuth::None,
            registration: Registration::Dynamic,
            redirect_uris: vec![],
        };
        let http = HttpClient::new().unwrap();
        let endpoint = TokenEndpoint::new(&http, &metadata, &record, None).unwrap();
        endpoint.refresh(&RefreshToken::new("rt"), None, None).await
    }

    /// Found by the `token_response` fuzz target: a JSON key the AS chose
    /// (here with an escape sequence) came back inside the error message.
    #[tokio::test]
    async fn control_characters_from_the_answer_never_reach_error_messages() {
        let malformed =
            refresh_against(200, b"{\"access_token\":\"at\",\"x\\u001b[31m\":\"\x01\"}")
                .await
                .unwrap_err();
        assert!(
            matches!(malformed, TokenError::Malformed(_)),
            "{malformed:?}"
        );
        let error_code = refresh_against(
            400,
            b"{\"error\":\"\\u001b[2Jodd\",\"error_description\":\"a\\nb\"}",
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&error_code, TokenError::Other { error, description } if error == "[2Jodd" && description == "ab"),
            "{error_code:?}"
        );
        for e in [malformed, error_code] {
            let shown = e.to_string();
            assert!(!shown.chars().any(char::is_control), "{shown:?}");
        }
    }
}
