//! `POST /v1/admin/login` with `machine` set: a machine grant (client
//! credentials with a client secret or `private_key_jwt`, or the workload
//! identity JWT bearer grant) got inside the running broker, which then
//! keeps and renews it (by asking again) as it does every grant. No page is
//! opened; the answer's last line is the same report (or error) as a
//! person's sign-in.

use crate::BrokerState;
use crate::admin::{error_line, line};
use crate::admin_api::{LoginBody, LoginLine, LoginResult, Target};
use crate::audit::{Kind, Outcome};
use crate::keys::ClientKey;
use axum::body::Bytes;
use passport_core::engine::{LoginReport, LoginTarget, MachineCredential, MachineLogin};
use passport_core::secret::ClientSecret;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

/// Gets the machine grant `body` asks for and sends the last line.
pub(crate) async fn run(
    state: Arc<BrokerState>,
    key: Arc<ClientKey>,
    body: LoginBody,
    credential: MachineCredential,
    lines: UnboundedSender<Bytes>,
) {
    let (audited, target) = match body.target {
        Target::Issuer(issuer) => (issuer.clone(), LoginTarget::Issuer(issuer)),
        Target::Servers(urls) => (urls.join(" "), LoginTarget::Servers(urls)),
    };
    let login = MachineLogin {
        target,
        client_id: body.client_id,
        credential,
        secret: body.client_secret.map(ClientSecret::new),
        scope: None,
        account: body.account,
    };
    let (outcome, last) = match state.engine.login_machine(&login).await {
        Ok(grant) => (
            Outcome::Ok,
            line(&LoginLine::Report(LoginResult::from(
                &LoginReport::signed_in(vec![grant]),
            ))),
        ),
        Err(e) => (
            Outcome::Code(e.code()),
            error_line(e.code(), &e.to_string()),
        ),
    };
    state.audit.note(&key, &audited, Kind::Admin, outcome);
    let _ = lines.send(last);
}
