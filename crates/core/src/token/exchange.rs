//! RFC 8693 token exchange at the token endpoint: the grant's access token
//! (the subject) for a token for one server, with no refresh token. Sent by
//! hand (`oauth2` has no such grant), with the client's own authentication
//! and, for a DPoP grant, a proof.

use super::{TokenEndpoint, TokenError, Tokens, parse_answer};
use crate::secret::AccessToken;

/// The grant type (RFC 8693 section 2.1), as ASes list it in
/// `grant_types_supported`.
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

impl TokenEndpoint<'_> {
    /// Exchanges `subject` (an access token of this AS for the grant) for
    /// an access token for `resource` alone.
    pub async fn exchange(
        &self,
        subject: &AccessToken,
        resource: &str,
    ) -> Result<Tokens, TokenError> {
        let url = self.token_url();
        // The form serializer is not `Send`; it lives only in this block.
        let (body, basic) = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", TOKEN_EXCHANGE)
                .append_pair("subject_token", subject.expose())
                .append_pair("subject_token_type", ACCESS_TOKEN_TYPE)
                .append_pair("requested_token_type", ACCESS_TOKEN_TYPE)
                .append_pair("resource", resource);
            let basic = self.authenticate(&mut form);
            (form.finish(), basic)
        };
        let mut request = http::Request::post(url)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json");
        if let Some(value) = basic {
            request = request.header(http::header::AUTHORIZATION, value);
        }
        let request = request
            .body(body.into_bytes())
            .map_err(|e| TokenError::Malformed(e.to_string()))?;
        let response = match self.dpop {
            Some(prover) => {
                let client = crate::dpop::ProvingClient {
                    http: self.http,
                    prover,
                };
                oauth2::AsyncHttpClient::call(&client, request).await?
            }
            None => self.http.oauth_call(request).await?,
        };
        parse_answer(response.status().as_u16(), response.body())
    }
}
