//! `login --idp <issuer> <servers...>`: sign in with your organization
//! (Enterprise-Managed Authorization). One sign-in at the organization's
//! identity provider (the browser through the loopback redirect, or the ID
//! token in `--id-token-file`), then every server's token with no browser.
//! `check` takes the same flags. Like machine grants it runs here, not
//! through a running broker (stop `serve` first; it picks the grant up when
//! it starts). The engine's side is `passport_core::engine::EnterpriseLogin`.

use crate::cli::{Cli, SignInOptions};
use crate::commands::Failure;
use crate::context::Context;
use crate::opener::{PrintUrl, SystemBrowser};
use passport_core::engine::{Engine, EnterpriseLogin, EnterpriseReport, LoginTarget, Opener};
use passport_core::headless::HeadlessOpener;
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
        let opener: Box<dyn Opener> = if options.headless_authorize {
            let flows = engine.flows();
            let clock = engine.clock();
            let deliver = Arc::new(move |url: String| {
                if let Err(e) = flows.deliver(&url, clock.now()) {
                    tracing::warn!(error = %e, "callback refused");
                }
            });
            Box::new(
                HeadlessOpener::new(&redirect_uri, deliver)
                    .map_err(|e| Failure::other("redirect_uri", e.to_string()))?,
            )
        } else if options.no_browser {
            Box::new(PrintUrl)
        } else {
            Box::new(SystemBrowser)
        };
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

/// `login --idp`: prints each server's outcome; fails when any server failed.
pub async fn login(cli: &Cli, targets: &[String], options: &SignInOptions) -> Result<(), Failure> {
    let ctx = Context::open(cli, true)?;
    let target = LoginTarget::Servers(targets.to_vec());
    let report = run(&ctx.engine, target, options, None).await?;
    let now = ctx.engine.clock().now();
    if cli.json {
        let servers: Vec<serde_json::Value> = report
            .grant
            .iter()
            .flat_map(|g| g.servers.iter())
            .map(|s| serde_json::json!({"server": s.id, "signed_in": true, "expires_at": s.expires_at}))
            .chain(report.failed.iter().map(|(server, e)| {
                serde_json::json!({"server": server, "signed_in": false, "code": e.code(), "error": e.to_string()})
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
        for (server, e) in &report.failed {
            println!("  {server}  FAILED: {e}");
        }
    }
    crate::connect_all::follow(cli);
    match report.failed.into_iter().next() {
        Some((_, e)) => Err(e.into()),
        None => Ok(()),
    }
}
