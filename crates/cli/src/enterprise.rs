//! `login --idp <issuer> <servers...>`: sign in with your organization
//! (Enterprise-Managed Authorization). One sign-in at the organization's
//! identity provider (the browser through the loopback redirect, or the ID
//! token in `--id-token-file`), then every server's token with no browser.
//! `check` takes the same flags. Like machine grants, `login --idp` runs
//! through a running broker (`serve` or the app) when one runs, which then
//! keeps and renews the grant; else here. The engine's side is
//! `passport_core::engine::EnterpriseLogin`.

use crate::broker_client::{self, AdminAnswer};
use crate::cli::{Cli, SignInOptions};
use crate::commands::Failure;
use crate::context::Context;
use crate::opener::PrintUrl;
use passport_broker::admin_api::{
    EnterpriseBody, LoginBody, LoginLine, LoginResult, OpenWith, Target,
};
use passport_core::engine::{Engine, EnterpriseLogin, EnterpriseReport, LoginTarget, ServerState};
use passport_core::loopback::sign_in_via_loopback;
use passport_core::model::Grant;
use passport_core::secret::ClientSecret;
use std::sync::Arc;
use std::time::Duration;

/// Whether the options ask for a sign-in with the organization.
pub fn wanted(options: &SignInOptions) -> bool {
    options.idp.is_some()
}

/// Runs the sign-in: the IdP once, then each server.
pub async fn run(
    engine: &Arc<Engine>,
    target: LoginTarget,
    options: &SignInOptions,
    scope: Option<String>,
) -> Result<EnterpriseReport, Failure> {
    let servers = match target {
        LoginTarget::Servers(urls) => urls,
        LoginTarget::Issuer(one) => vec![one],
    };
    let Some(idp) = options.idp.clone() else {
        return Err(Failure::other("idp_needed", "--idp <issuer> is required"));
    };
    let id_token_file =
        match &options.id_token_file {
            Some(f) => Some(std::path::absolute(f).map_err(|e| {
                Failure::other("bad_path", format!("cannot use {}: {e}", f.display()))
            })?),
            None => None,
        };
    let timeout = Duration::from_secs(options.timeout.max(1));
    let login = EnterpriseLogin {
        idp,
        idp_client_id: options.idp_client_id.clone(),
        id_token_file,
        servers,
        client_id: options.client_id.clone(),
        secret: options.client_secret.clone().map(ClientSecret::new),
        scope,
        redirect_uri: String::new(),
        timeout,
        account: options.account.clone(),
    };
    if login.id_token_file.is_some() {
        return Ok(engine.login_enterprise(&login, &PrintUrl).await?);
    }
    let sign_in = |redirect_uri: String| async move {
        let opener = crate::commands::sign_in_opener(engine, options, &redirect_uri)?;
        let login = EnterpriseLogin {
            redirect_uri,
            ..login
        };
        Ok::<EnterpriseReport, Failure>(engine.login_enterprise(&login, opener.as_ref()).await?)
    };
    sign_in_via_loopback(engine.flows(), engine.clock(), timeout, sign_in)
        .await
        .map_err(|e| {
            Failure::other(
                "loopback",
                format!("cannot listen on 127.0.0.1 for the sign-in redirect: {e}"),
            )
        })?
}

/// For `check` and the other sign-ins that want grants: the grant, or the
/// first server's failure when none got a token.
pub async fn sign_in(
    engine: &Arc<Engine>,
    target: LoginTarget,
    options: &SignInOptions,
    scope: Option<String>,
) -> Result<Vec<Grant>, Failure> {
    let report = run(engine, target, options, scope).await?;
    for (server, e) in &report.failed {
        eprintln!("{server}: {e}");
    }
    match (report.grant, report.failed.into_iter().next()) {
        (Some(grant), _) => Ok(vec![grant]),
        (None, Some((_, e))) => Err(e.into()),
        (None, None) => Err(Failure::other("not_granted", "no server was signed in")),
    }
}

/// What a sign-in with the organization ended with, here or in the broker:
/// the grant, and each failed server with its code and message.
struct Outcome {
    grant: Option<Grant>,
    failed: Vec<(String, String, String)>,
    first_error: Option<Failure>,
}

impl From<EnterpriseReport> for Outcome {
    fn from(report: EnterpriseReport) -> Self {
        let failed = report
            .failed
            .iter()
            .map(|(server, e)| (server.clone(), e.code().to_string(), e.to_string()))
            .collect();
        Self {
            grant: report.grant,
            failed,
            first_error: report.failed.into_iter().next().map(|(_, e)| e.into()),
        }
    }
}

impl From<LoginResult> for Outcome {
    fn from(result: LoginResult) -> Self {
        let failed: Vec<(String, String, String)> = result
            .servers
            .into_iter()
            .filter(|s| s.state != ServerState::SignedIn)
            .map(|s| {
                let code = s.code.unwrap_or_else(|| "not_granted".to_string());
                (s.server, code, s.message.unwrap_or_default())
            })
            .collect();
        let first_error = failed.first().map(|(_, code, message)| Failure::Remote {
            code: code.clone(),
            message: message.clone(),
        });
        Self {
            grant: result.grants.into_iter().next(),
            failed,
            first_error,
        }
    }
}

/// Signs in through the running broker's admin API, which then keeps and
/// renews the grant; `None` when no broker runs.
async fn through_broker(
    cli: &Cli,
    targets: &[String],
    options: &SignInOptions,
) -> Option<Result<LoginResult, Failure>> {
    let paths = match crate::context::paths_for(cli) {
        Ok(p) => p,
        Err(e) => return Some(Err(e)),
    };
    let idp = options.idp.clone()?;
    let id_token_file = match options.id_token_file.as_deref().map(std::path::absolute) {
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => {
            return Some(Err(Failure::other(
                "bad_path",
                format!("cannot use the ID token file: {e}"),
            )));
        }
        None => None,
    };
    let open = if id_token_file.is_some() || options.no_browser {
        OpenWith::Print
    } else if options.headless_authorize {
        OpenWith::Headless
    } else {
        OpenWith::Browser
    };
    let body = LoginBody {
        target: Target::Servers(targets.to_vec()),
        servers: Vec::new(),
        client_id: options.client_id.clone(),
        client_secret: options.client_secret.clone(),
        timeout_secs: options.timeout,
        open,
        quirks: Default::default(),
        account: options.account.clone(),
        machine: None,
        enterprise: Some(EnterpriseBody {
            idp,
            idp_client_id: options.idp_client_id.clone(),
            id_token_file,
        }),
    };
    let shown = |line: &LoginLine| match (line, open) {
        (LoginLine::Open(url), OpenWith::Print) => {
            eprintln!("Open this URL in your browser to sign in with your organization:\n  {url}")
        }
        (LoginLine::Open(url), OpenWith::Browser) => eprintln!(
            "Opening your browser to sign in with your organization (through the running broker). If it does not open, visit:\n  {url}"
        ),
        _ => {}
    };
    match broker_client::admin_login(&paths.endpoint_file(), &body, shown).await {
        AdminAnswer::NoBroker => None,
        AdminAnswer::Done(result) => Some(Ok(result)),
        AdminAnswer::Error { code, message } => Some(Err(Failure::Remote { code, message })),
    }
}

/// `login --idp`: through the running broker when one runs (it keeps and
/// renews the grant), else here; prints each server's outcome and fails
/// when any server failed.
pub async fn login(cli: &Cli, targets: &[String], options: &SignInOptions) -> Result<(), Failure> {
    let report: Outcome = match through_broker(cli, targets, options).await {
        Some(answer) => answer?.into(),
        None => {
            let ctx = Context::open(cli, true)?;
            let target = LoginTarget::Servers(targets.to_vec());
            run(&ctx.engine, target, options, None).await?.into()
        }
    };
    let now = chrono::Utc::now();
    if cli.json {
        let servers: Vec<serde_json::Value> = report
            .grant
            .iter()
            .flat_map(|g| g.servers.iter())
            .map(|s| serde_json::json!({"server": s.id, "signed_in": true, "expires_at": s.expires_at}))
            .chain(report.failed.iter().map(|(server, code, message)| {
                serde_json::json!({"server": server, "signed_in": false, "code": code, "error": message})
            }))
            .collect();
        let out = serde_json::json!({
            "grant": report.grant.as_ref().map(|g| g.id.clone()),
            "idp": report.grant.as_ref().map(|g| g.issuer.clone()).or(options.idp.clone()),
            "account": report.grant.as_ref().map(|g| g.account_label().to_string()),
            "servers": servers,
        });
        println!("{out}");
    } else {
        if let Some(grant) = &report.grant {
            println!(
                "Signed in with your organization at {} as {}:",
                grant.issuer,
                grant.account_label()
            );
            for s in &grant.servers {
                let left = s.expires_at.map_or(0, |t| (t - now).num_seconds().max(0));
                println!(
                    "  {}  token expires in {}m{:02}s (renewed through your organization)",
                    s.id,
                    left / 60,
                    left % 60
                );
            }
        }
        for (server, _, message) in &report.failed {
            println!("  {server}  FAILED: {message}");
        }
    }
    crate::connect_all::follow(cli);
    match report.first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
