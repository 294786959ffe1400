//! The admin API: what changes grants while a broker runs. The broker is
//! the one refresher, so `login`, `add-servers`, `revoke` and `logout`
//! must run inside it rather than wait for its lock; the CLI asks here.
//!
//! The documents are the types of [`crate::admin_api`], shared with the CLI.
//!
//! Only the CLI's own key (the one in the endpoint file, minted at start)
//! reaches these routes: the connection service answers 403 to every other
//! key before routing. Results are JSON; errors are `{error: {code,
//! message}}` with the engine's stable code, so the CLI keeps its exit codes.
//!
//! - `POST /v1/admin/login`: a sign-in, answered as JSON lines: `{"open":
//!   URL}` for each sign-in page (so the CLI can show it), then `{"grants":
//!   [...]}` or `{"error": ...}`. The page is opened by the host's
//!   [`Opener`] (the system browser for `serve`, the app's own for the
//!   desktop app), only printed, or followed headless, as asked.
//!   With `open: device` the code goes out as a `{"device": ...}` line; with
//!   `open: paste` the CLI posts the address the person pasted to
//!   `POST /v1/admin/callback` (`admin_elsewhere`).
//!   With `machine` set it gets a machine grant instead (`admin_machine`):
//!   no page, the same last line. With `enterprise` set it signs in with
//!   the organization (`admin_enterprise`): the IdP's page, then every
//!   server's token with no browser.
//! - `POST /v1/admin/revoke/{server}`: `{"server", "outcome", "reason"?}`.
//! - `POST /v1/admin/logout` with `{"issuer"?}`: `{"signed_out": N}`.

use crate::admin_api::{ErrorDetail, LoggedOut, LoginLine, LoginResult, RevokeState, Revoked};
pub use crate::admin_api::{LoginBody, LogoutBody, OpenWith, Target};
use crate::audit::{Kind, Outcome};
use crate::keys::ClientKey;
use crate::{BrokerState, error_response};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use passport_core::engine::{
    FlowOutcome, LoginReport, LoginRequest, LoginTarget, NoProgress, Opener, RevokeOutcome,
};
use passport_core::headless::HeadlessOpener;
use passport_core::loopback::sign_in_via_loopback;
use passport_core::registration::ClientChoice;
use passport_core::secret::ClientSecret;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// The host's way of opening a sign-in page (the system browser for
/// `mcp-passport serve`; the desktop app brings its own).
#[derive(Clone)]
pub struct HostOpener(pub Arc<dyn Opener>);

impl std::fmt::Debug for HostOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostOpener")
    }
}

/// Sends each sign-in page to the CLI, then opens it as asked.
pub(crate) struct StreamOpener {
    pub(crate) lines: UnboundedSender<Bytes>,
    pub(crate) open: OpenWith,
    pub(crate) host: Arc<dyn Opener>,
    pub(crate) headless: Option<HeadlessOpener>,
}

impl Opener for StreamOpener {
    fn open(&self, url: &url::Url) -> Result<(), String> {
        let _ = self
            .lines
            .send(line(&LoginLine::Open(url.as_str().to_string())));
        match (self.open, &self.headless) {
            (OpenWith::Print | OpenWith::Paste | OpenWith::DeviceOrPaste, _) => Ok(()),
            (OpenWith::Headless, Some(headless)) => headless.open(url),
            _ => self.host.open(url),
        }
    }
}

pub(crate) fn line(value: &LoginLine) -> Bytes {
    let mut out = serde_json::to_vec(value).unwrap_or_default();
    out.push(b'\n');
    Bytes::from(out)
}

pub(crate) fn error_line(code: &str, message: &str) -> Bytes {
    line(&LoginLine::Error(ErrorDetail {
        code: code.to_string(),
        message: message.to_string(),
    }))
}

/// Runs an engine call as its own task, so it finishes (and is audited)
/// even if the CLI goes away mid-way; `None` if the task panicked.
async fn run_engine<T: Send + 'static>(
    call: impl std::future::Future<Output = T> + Send + 'static,
) -> Option<T> {
    tokio::spawn(call)
        .await
        .map_err(|e| tracing::warn!(error = %e, "an admin call did not finish"))
        .ok()
}

/// `POST /v1/admin/login`.
pub async fn login(
    State(state): State<Arc<BrokerState>>,
    Extension(key): Extension<Arc<ClientKey>>,
    Json(body): Json<LoginBody>,
) -> Response {
    let (lines, received) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    tokio::spawn(async move {
        // The sign-in ends early when the CLI goes away (the body is dropped).
        let gone = lines.clone();
        tokio::select! {
            () = run_login(state, key, body, lines) => {}
            () = gone.closed() => tracing::debug!("the sign-in was abandoned by its caller"),
        }
    });
    let stream = futures_util::stream::unfold(received, |mut received| async move {
        let next = received.recv().await?;
        Some((Ok::<_, std::convert::Infallible>(next), received))
    });
    (
        [(http::header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn run_login(
    state: Arc<BrokerState>,
    key: Arc<ClientKey>,
    body: LoginBody,
    lines: UnboundedSender<Bytes>,
) {
    if let Some(credential) = body.machine.clone() {
        return crate::admin_machine::run(state, key, body, credential, lines).await;
    }
    if let Some(enterprise) = body.enterprise.clone() {
        return crate::admin_enterprise::run(state, key, body, enterprise, lines).await;
    }
    let engine = &state.engine;
    let timeout = Duration::from_secs(body.timeout_secs.max(1));
    let audited = match &body.target {
        Target::Issuer(issuer) => issuer.clone(),
        Target::Servers(urls) => urls.join(" "),
    };
    let target = match body.target {
        Target::Issuer(issuer) => LoginTarget::Issuer(issuer),
        Target::Servers(urls) => LoginTarget::Servers(urls),
    };
    let client = body.client_id.map(|id| ClientChoice::Preregistered {
        client_id: id,
        client_secret: body.client_secret.map(ClientSecret::new),
        auth: None,
    });
    let (open, servers, host) = (body.open, body.servers, Arc::clone(&state.opener.0));
    let quirks = &body.quirks;
    let account = body.account;
    let asked = LoginRequest {
        target: target.clone(),
        servers: servers.clone(),
        client: client.clone(),
        redirect_uri: String::new(),
        scope: None,
        timeout,
        account: account.clone(),
    };
    let device = crate::admin_elsewhere::try_device(engine, open, &asked, &lines)
        .await
        .map(|result| result.map(LoginReport::signed_in));
    let opener_lines = lines.clone();
    let sign_in = |redirect_uri: String| async move {
        let headless = if open == OpenWith::Headless {
            let (flows, clock) = (engine.flows(), engine.clock());
            let deliver = Arc::new(move |url: String| {
                if let Err(e) = flows.deliver(&url, clock.now()) {
                    tracing::warn!(error = %e, "callback refused");
                }
            });
            let headless = HeadlessOpener::new(&redirect_uri, deliver)
                .map_err(|e| ("redirect_uri", e.to_string()))?;
            Some(headless)
        } else {
            None
        };
        let request = LoginRequest {
            target,
            servers,
            client,
            redirect_uri,
            scope: None,
            timeout,
            account,
        };
        let opener = StreamOpener {
            lines: opener_lines,
            open,
            host,
            headless,
        };
        Ok(engine
            .sign_in_with(&request, quirks, &opener, &NoProgress)
            .await)
    };
    let result = match device {
        Some(result) => result,
        None => sign_in_via_loopback(engine.flows(), engine.clock(), timeout, sign_in)
            .await
            .unwrap_or_else(|e| {
                Err((
                    "loopback",
                    format!("cannot listen on 127.0.0.1 for the sign-in redirect: {e}"),
                ))
            }),
    };
    let (outcome, last) = match result {
        Ok(report) => {
            let outcome = match report.flows.iter().find_map(|f| match &f.outcome {
                FlowOutcome::Failed(e) => Some(e.code()),
                FlowOutcome::SignedIn(_) => None,
            }) {
                Some(code) => Outcome::Code(code),
                None => Outcome::Ok,
            };
            (
                outcome,
                line(&LoginLine::Report(LoginResult::from(&report))),
            )
        }
        Err((code, message)) => (Outcome::Code(code), error_line(code, &message)),
    };
    state.audit.note(&key, &audited, Kind::Admin, outcome);
    let _ = lines.send(last);
}

/// `POST /v1/admin/revoke/{server}`.
pub async fn revoke(
    State(state): State<Arc<BrokerState>>,
    Extension(key): Extension<Arc<ClientKey>>,
    Path(server): Path<String>,
) -> Response {
    let (task_state, target) = (Arc::clone(&state), server.clone());
    let revoked = run_engine(async move {
        let result = task_state.engine.revoke_server(&target).await;
        let outcome = result
            .as_ref()
            .map_or_else(|e| Outcome::Code(e.code()), |_| Outcome::Ok);
        task_state.audit.note(&key, &target, Kind::Admin, outcome);
        result
    });
    let Some(result) = revoked.await else {
        return http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let (outcome, reason) = match result {
        Ok(RevokeOutcome::Narrowed) => (RevokeState::Narrowed, None),
        Ok(RevokeOutcome::SignedOut) => (RevokeState::SignedOut, None),
        Ok(RevokeOutcome::BlockedLocally { reason }) => (RevokeState::BlockedLocally, Some(reason)),
        Err(e) => return error_response(&e),
    };
    Json(Revoked {
        server,
        outcome,
        reason,
    })
    .into_response()
}

/// `POST /v1/admin/logout`: signs out of one issuer, or of every one.
pub async fn logout(
    State(state): State<Arc<BrokerState>>,
    Extension(key): Extension<Arc<ClientKey>>,
    body: Option<Json<LogoutBody>>,
) -> Response {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    if let Some(label) = body.account {
        let (task_state, issuer) = (Arc::clone(&state), body.issuer);
        let signed_out = run_engine(async move {
            let result = task_state
                .engine
                .sign_out_account(issuer.as_deref(), &label)
                .await;
            let outcome = result
                .as_ref()
                .map_or_else(|e| Outcome::Code(e.code()), |_| Outcome::Ok);
            task_state.audit.note(&key, "logout", Kind::Admin, outcome);
            result
        });
        return match signed_out.await {
            Some(Ok(count)) => Json(LoggedOut {
                signed_out: u64::try_from(count).unwrap_or(u64::MAX),
            })
            .into_response(),
            Some(Err(e)) => error_response(&e),
            None => http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        };
    }
    let issuers: Vec<String> = match body.issuer {
        Some(issuer) => vec![issuer],
        None => {
            let mut all: Vec<String> = state
                .engine
                .grants()
                .into_iter()
                .map(|g| g.issuer)
                .collect();
            all.sort();
            all.dedup();
            all
        }
    };
    let task_state = Arc::clone(&state);
    let signed_out = run_engine(async move {
        let mut count = 0;
        for issuer in &issuers {
            match task_state.engine.sign_out(issuer).await {
                Ok(n) => count += n,
                Err(e) => {
                    let outcome = Outcome::Code(e.code());
                    task_state.audit.note(&key, issuer, Kind::Admin, outcome);
                    return Err(e);
                }
            }
        }
        task_state
            .audit
            .note(&key, "logout", Kind::Admin, Outcome::Ok);
        Ok(count)
    });
    match signed_out.await {
        Some(Ok(count)) => Json(LoggedOut {
            signed_out: u64::try_from(count).unwrap_or(u64::MAX),
        })
        .into_response(),
        Some(Err(e)) => error_response(&e),
        None => http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
