//! `login`, `add-servers`, `revoke` and `logout` while a broker runs. The
//! broker holds the refresher lock and the grants, so these commands ask
//! it (its admin API, with the CLI's key from the endpoint file) instead of
//! waiting for the lock; with no broker running they return `None` and the
//! command runs here. Errors keep the engine's codes, so exit codes are
//! the same either way.

use crate::broker_client::{self, AdminAnswer};
use crate::cli::{Cli, SignInOptions};
use crate::commands::Failure;
use crate::elsewhere::Way;
use passport_broker::admin_api::{
    LoginBody, LoginLine, LoginResult, LogoutBody, OpenWith, RevokeState, Target,
};
use passport_core::engine::LoginTarget;

fn answer<T>(answer: AdminAnswer<T>) -> Option<Result<T, Failure>> {
    match answer {
        AdminAnswer::NoBroker => None,
        AdminAnswer::Done(value) => Some(Ok(value)),
        AdminAnswer::Error { code, message } => Some(Err(Failure::Remote { code, message })),
    }
}

/// Signs in through the running broker; `None` when none runs.
pub async fn login(
    cli: &Cli,
    target: &LoginTarget,
    servers: &[String],
    options: &SignInOptions,
) -> Option<Result<LoginResult, Failure>> {
    let paths = match crate::context::paths_for(cli) {
        Ok(p) => p,
        Err(e) => return Some(Err(e)),
    };
    let open = match crate::elsewhere::way(options) {
        Way::Device => OpenWith::Device,
        Way::Paste => OpenWith::Paste,
        Way::DeviceOrPaste => OpenWith::DeviceOrPaste,
        Way::Here if options.headless_authorize => OpenWith::Headless,
        Way::Here if options.no_browser => OpenWith::Print,
        Way::Here => OpenWith::Browser,
    };
    let body = LoginBody {
        target: match target {
            LoginTarget::Issuer(issuer) => Target::Issuer(issuer.clone()),
            LoginTarget::Servers(urls) => Target::Servers(urls.clone()),
        },
        servers: servers.to_vec(),
        client_id: options.client_id.clone(),
        client_secret: options.client_secret.clone(),
        timeout_secs: options.timeout,
        open,
        quirks: match crate::quirks::overrides(options) {
            Ok(q) => q,
            Err(e) => return Some(Err(e)),
        },
        account: options.account.clone(),
        machine: None,
        enterprise: None,
    };
    let endpoint_file = paths.endpoint_file();
    let login = broker_client::admin_login(&endpoint_file, &body, |shown| match (shown, open) {
        (LoginLine::Device(code), _) => eprintln!("{}", crate::elsewhere::device_shown_text(code)),
        (LoginLine::Open(url), OpenWith::Print) => {
            eprintln!("Open this URL in your browser to sign in:\n  {url}")
        }
        (LoginLine::Open(url), OpenWith::Browser) => eprintln!(
            "Opening your browser to sign in (through the running broker). If it does not open, visit:\n  {url}"
        ),
        (LoginLine::Open(url), OpenWith::Paste | OpenWith::DeviceOrPaste) => {
            eprintln!("{}", crate::elsewhere::paste_text(url))
        }
        _ => {}
    });
    let asked = if matches!(open, OpenWith::Paste | OpenWith::DeviceOrPaste) {
        crate::elsewhere::with_broker_pastes(&endpoint_file, login).await
    } else {
        login.await
    };
    answer(asked)
}

/// What revoking one server did: `(outcome, reason)`.
pub type Revoked = (RevokeState, Option<String>);

/// Revokes `server` through the running broker; `None` when none runs.
pub async fn revoke(cli: &Cli, server: &str) -> Option<Result<Revoked, Failure>> {
    let paths = match crate::context::paths_for(cli) {
        Ok(p) => p,
        Err(e) => return Some(Err(e)),
    };
    let asked = broker_client::admin_revoke(&paths.endpoint_file(), server).await;
    Some(answer(asked)?.map(|r| (r.outcome, r.reason)))
}

/// Signs out through the running broker; `None` when none runs.
pub async fn logout(
    cli: &Cli,
    issuer: Option<&str>,
    account: Option<&str>,
) -> Option<Result<u64, Failure>> {
    let paths = match crate::context::paths_for(cli) {
        Ok(p) => p,
        Err(e) => return Some(Err(e)),
    };
    let body = LogoutBody {
        issuer: issuer.map(str::to_string),
        account: account.map(str::to_string),
    };
    let asked = broker_client::admin_logout(&paths.endpoint_file(), &body).await;
    Some(answer(asked)?.map(|done| done.signed_out))
}
