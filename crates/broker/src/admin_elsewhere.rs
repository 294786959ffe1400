//! The admin API's sign-ins for a person whose browser is on another
//! machine (the CLI runs in an SSH session): the device code goes to the
//! CLI as a login line for it to show, and the address the person pastes
//! into the CLI comes back here (`POST /v1/admin/callback`) to the sign-in
//! waiting in this broker, through the same checks as any callback.

use crate::BrokerState;
use crate::admin_api::{
    DeviceShown, ErrorBody, ErrorDetail, LoginLine, OpenWith, PasteAccepted, Pasted,
};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use passport_core::device::{DeviceCode, DeviceError};
use passport_core::engine::{DevicePrompt, Engine, LoginRequest};
use passport_core::error::EngineError;
use passport_core::model::Grant;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

/// The redirect URI registered for device sign-ins (never visited).
const DEVICE_REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// Sends each device code to the CLI as a login line.
struct StreamPrompt<'a> {
    lines: &'a UnboundedSender<Bytes>,
}

impl DevicePrompt for StreamPrompt<'_> {
    fn show(&self, issuer: &str, code: &DeviceCode) {
        let shown = DeviceShown {
            issuer: issuer.to_string(),
            verification_uri: code.verification_uri.to_string(),
            verification_uri_complete: code
                .verification_uri_complete
                .as_ref()
                .map(|u| u.to_string()),
            user_code: code.user_code.clone(),
            expires_in: code.expires_in.as_secs(),
        };
        let _ = self
            .lines
            .send(super::admin::line(&LoginLine::Device(shown)));
    }
}

/// Runs the device flow when `open` asks for it: `Some` with its outcome,
/// `None` when the sign-in goes on through the loopback redirect (not
/// asked for, or not offered by the server when paste-back may follow).
pub(crate) async fn try_device(
    engine: &Engine,
    open: OpenWith,
    asked: &LoginRequest,
    lines: &UnboundedSender<Bytes>,
) -> Option<Result<Vec<Grant>, (&'static str, String)>> {
    if !matches!(open, OpenWith::Device | OpenWith::DeviceOrPaste) {
        return None;
    }
    let request = LoginRequest {
        redirect_uri: DEVICE_REDIRECT_URI.into(),
        ..asked.clone()
    };
    match engine.login_device(&request, &StreamPrompt { lines }).await {
        Err(EngineError::Device(DeviceError::NotOffered { .. }))
            if open == OpenWith::DeviceOrPaste =>
        {
            None
        }
        other => Some(other.map_err(|e| (e.code(), e.to_string()))),
    }
}

/// `POST /v1/admin/callback`: a pasted address for a waiting sign-in.
pub async fn callback(State(state): State<Arc<BrokerState>>, Json(body): Json<Pasted>) -> Response {
    let engine = &state.engine;
    match passport_core::paste::deliver_pasted(&engine.flows(), &body.url, engine.clock().now()) {
        Ok(()) => Json(PasteAccepted { accepted: true }).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(ErrorBody {
                error: ErrorDetail {
                    code: "paste_refused".into(),
                    message: e.to_string(),
                },
            }),
        )
            .into_response(),
    }
}
