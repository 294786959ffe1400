//! `POST /v1/admin/login` with `enterprise` set: a sign-in with the
//! organization (Enterprise-Managed Authorization) inside the running
//! broker, which then keeps and renews the grant (by new ID-JAGs) as it does
//! every grant. The IdP's sign-in page is sent to the CLI as an `open` line
//! and opened as asked (the host's [`Opener`], printed, or followed
//! headless), like any admin sign-in; with an ID token file no page opens.
//! The answer's last line is the same report (or error) as a person's
//! sign-in: one line per server, each failing alone.
//!
//! [`Opener`]: passport_core::engine::Opener

use crate::BrokerState;
use crate::admin::{StreamOpener, error_line, line};
use crate::admin_api::{EnterpriseBody, LoginBody, LoginLine, LoginResult, OpenWith, Target};
use crate::audit::{Kind, Outcome};
use crate::keys::ClientKey;
use axum::body::Bytes;
use passport_core::engine::{EnterpriseLogin, EnterpriseReport, ServerResult, ServerState};
use passport_core::headless::HeadlessOpener;
use passport_core::loopback::sign_in_via_loopback;
use passport_core::secret::ClientSecret;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// Signs in with the organization as `body` asks and sends the last line.
pub(crate) async fn run(
    state: Arc<BrokerState>,
    key: Arc<ClientKey>,
    body: LoginBody,
    enterprise: EnterpriseBody,
    lines: UnboundedSender<Bytes>,
) {
    let servers = match body.target {
        Target::Servers(urls) => urls,
        Target::Issuer(one) => vec![one],
    };
    let audited = format!("{} {}", enterprise.idp, servers.join(" "));
    let timeout = Duration::from_secs(body.timeout_secs.max(1));
    let login = EnterpriseLogin {
        idp: enterprise.idp,
        idp_client_id: enterprise.idp_client_id,
        id_token_file: enterprise.id_token_file,
        servers,
        client_id: body.client_id,
        secret: body.client_secret.map(ClientSecret::new),
        scope: None,
        redirect_uri: String::new(),
        timeout,
        account: body.account,
    };
    let result = sign_in(&state, login, body.open, &lines, timeout).await;
    let (outcome, last) = match result {
        Ok(report) => {
            let outcome = report
                .failed
                .first()
                .map_or(Outcome::Ok, |(_, e)| Outcome::Code(e.code()));
            (outcome, line(&LoginLine::Report(result_of(&report))))
        }
        Err((code, message)) => (Outcome::Code(code), error_line(code, &message)),
    };
    state.audit.note(&key, &audited, Kind::Admin, outcome);
    let _ = lines.send(last);
}

async fn sign_in(
    state: &BrokerState,
    login: EnterpriseLogin,
    open: OpenWith,
    lines: &UnboundedSender<Bytes>,
    timeout: Duration,
) -> Result<EnterpriseReport, (&'static str, String)> {
    let engine = &state.engine;
    let host = Arc::clone(&state.opener.0);
    if login.id_token_file.is_some() {
        let opener = StreamOpener {
            lines: lines.clone(),
            open: OpenWith::Print,
            host,
            headless: None,
        };
        return engine
            .login_enterprise(&login, &opener)
            .await
            .map_err(|e| (e.code(), e.to_string()));
    }
    let opener_lines = lines.clone();
    let sign_in = |redirect_uri: String| async move {
        let headless = if open == OpenWith::Headless {
            let (flows, clock) = (engine.flows(), engine.clock());
            let deliver = Arc::new(move |url: String| {
                if let Err(e) = flows.deliver(&url, clock.now()) {
                    tracing::warn!(error = %e, "callback refused");
                }
            });
            Some(
                HeadlessOpener::new(&redirect_uri, deliver)
                    .map_err(|e| ("redirect_uri", e.to_string()))?,
            )
        } else {
            None
        };
        let opener = StreamOpener {
            lines: opener_lines,
            open,
            host,
            headless,
        };
        let login = EnterpriseLogin {
            redirect_uri,
            ..login
        };
        engine
            .login_enterprise(&login, &opener)
            .await
            .map_err(|e| (e.code(), e.to_string()))
    };
    sign_in_via_loopback(engine.flows(), engine.clock(), timeout, sign_in)
        .await
        .unwrap_or_else(|e| {
            Err((
                "loopback",
                format!("cannot listen on 127.0.0.1 for the sign-in redirect: {e}"),
            ))
        })
}

/// The report as the login route answers it: the grant's servers signed
/// in, each failed server with its code and message.
fn result_of(report: &EnterpriseReport) -> LoginResult {
    let issuer = report
        .grant
        .as_ref()
        .map(|g| g.issuer.clone())
        .unwrap_or_default();
    let signed_in = report.grant.iter().flat_map(|g| {
        g.servers.iter().map(|s| ServerResult {
            server: s.id.clone(),
            name: s.name.clone(),
            issuer: g.issuer.clone(),
            state: ServerState::SignedIn,
            code: None,
            message: None,
        })
    });
    let failed = report.failed.iter().map(|(server, e)| ServerResult {
        server: server.clone(),
        name: server.clone(),
        issuer: issuer.clone(),
        state: ServerState::Failed,
        code: Some(e.code().to_string()),
        message: Some(e.to_string()),
    });
    LoginResult {
        servers: signed_in.chain(failed).collect(),
        grants: report.grant.iter().cloned().collect(),
    }
}
