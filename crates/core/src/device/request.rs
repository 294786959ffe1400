//! One form POSTed by a device client, with its authentication at the AS
//! (HTTP Basic, in the body, or its id alone); a 5xx is a transient failure.

use super::{DeviceClient, DeviceError};
use crate::http::HttpError;
use crate::model::ClientAuth;
use crate::token::TokenError;
use crate::url_policy::{self, UrlError};
use base64::Engine as _;
use url::Url;

impl DeviceClient<'_> {
    /// POSTs a form with this client's authentication.
    pub(super) async fn post(
        &self,
        url: &Url,
        pairs: &[(&str, &str)],
    ) -> Result<crate::http::Response, DeviceError> {
        // The form serializer is not `Send`; it lives only in this block.
        let (body, basic) = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in pairs {
                form.append_pair(k, v);
            }
            let id = &self.record.client_id;
            let mut basic = None;
            match (&self.record.auth, self.secret) {
                (ClientAuth::ClientSecretBasic, Some(secret)) => {
                    let enc = |s: &str| {
                        url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                    };
                    let pair = format!("{}:{}", enc(id), enc(secret.expose()));
                    basic = Some(format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(pair)
                    ));
                }
                (ClientAuth::ClientSecretPost, Some(secret)) => {
                    form.append_pair("client_id", id)
                        .append_pair("client_secret", secret.expose());
                }
                _ => {
                    form.append_pair("client_id", id);
                }
            }
            (form.finish(), basic)
        };
        let mut request = http::Request::post(url.as_str())
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
            .map_err(|_| UrlError::Malformed(url_policy::redact(url)))?;
        let response = self.http.send(request).await.map_err(TokenError::from)?;
        if response.status.is_server_error() {
            return Err(TokenError::Unreachable(HttpError::ServerError {
                url: url_policy::redact(url),
                status: response.status.as_u16(),
            })
            .into());
        }
        Ok(response)
    }
}
