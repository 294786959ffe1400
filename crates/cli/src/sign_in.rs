//! A sign-in run in this process: the machine, organization or browser
//! sign-in the options ask for, the page opener, and the loopback redirect
//! (or a pasted address, or a device code) it waits on.

use crate::cli::SignInOptions;
use crate::commands::Failure;
use crate::elsewhere::Way;
use crate::opener::{PrintUrl, SystemBrowser};
use passport_core::engine::{Engine, LoginReport, LoginRequest, LoginTarget, NoProgress, Opener};
use passport_core::headless::HeadlessOpener;
use passport_core::loopback::sign_in_via_loopback;
use passport_core::model::Grant;
use passport_core::registration::ClientChoice;
use passport_core::secret::ClientSecret;
use std::sync::Arc;
use std::time::Duration;

/// Runs a sign-in with a loopback redirect and the chosen opener: all the
/// grants, or the first failure (those that signed in are kept).
pub async fn sign_in_with(
    engine: &Arc<Engine>,
    target: LoginTarget,
    servers: Vec<String>,
    options: &SignInOptions,
    scope: Option<String>,
) -> Result<Vec<Grant>, Failure> {
    if crate::machine::wanted(options) {
        return Ok(vec![
            crate::machine::sign_in(engine, target, options, scope).await?,
        ]);
    }
    if crate::enterprise::wanted(options) {
        return crate::enterprise::sign_in(engine, target, options, scope).await;
    }
    let report = sign_in_report(engine, target, servers, options, scope).await?;
    Ok(report.into_result()?)
}

/// The page opener of a sign-in run in this process: the headless follower
/// (`--headless-authorize`), the printed address (`--no-browser`), or the
/// system browser.
pub(crate) fn sign_in_opener(
    engine: &Arc<Engine>,
    options: &SignInOptions,
    redirect_uri: &str,
) -> Result<Box<dyn Opener>, Failure> {
    Ok(if options.headless_authorize {
        let flows = engine.flows();
        let clock = engine.clock();
        let deliver = Arc::new(move |url: String| {
            if let Err(e) = flows.deliver(&url, clock.now()) {
                tracing::warn!(error = %e, "callback refused");
            }
        });
        Box::new(
            HeadlessOpener::new(redirect_uri, deliver)
                .map_err(|e| Failure::other("redirect_uri", e.to_string()))?,
        )
    } else if options.no_browser {
        Box::new(PrintUrl)
    } else {
        Box::new(SystemBrowser)
    })
}

/// Runs a sign-in with a loopback redirect and the chosen opener; the
/// report has each flow's outcome.
pub async fn sign_in_report(
    engine: &Arc<Engine>,
    target: LoginTarget,
    servers: Vec<String>,
    options: &SignInOptions,
    scope: Option<String>,
) -> Result<LoginReport, Failure> {
    let timeout = Duration::from_secs(options.timeout.max(1));
    let overrides = crate::quirks::overrides(options)?;
    let overrides = &overrides;
    let client = options
        .client_id
        .as_ref()
        .map(|id| ClientChoice::Preregistered {
            client_id: id.clone(),
            client_secret: options.client_secret.clone().map(ClientSecret::new),
            auth: None,
        });
    let way = crate::elsewhere::way(options);
    let asked = LoginRequest {
        target: target.clone(),
        servers: servers.clone(),
        client: client.clone(),
        redirect_uri: String::new(),
        scope: scope.clone(),
        timeout,
        account: options.account.clone(),
    };
    if let Some(grants) = crate::elsewhere::try_device(engine, way, &asked).await {
        return grants.map(LoginReport::signed_in);
    }
    let paste = matches!(way, Way::Paste | Way::DeviceOrPaste);
    let sign_in = |redirect_uri: String| async move {
        let opener: Box<dyn Opener> = if paste {
            Box::new(crate::elsewhere::PasteUrl)
        } else {
            sign_in_opener(engine, options, &redirect_uri)?
        };
        let request = LoginRequest {
            target,
            servers,
            client,
            redirect_uri,
            scope,
            timeout,
            account: options.account.clone(),
        };
        let login = engine.sign_in_with(&request, overrides, opener.as_ref(), &NoProgress);
        if paste {
            Ok(crate::elsewhere::with_pastes(engine.flows(), engine.clock(), login).await)
        } else {
            Ok(login.await)
        }
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
