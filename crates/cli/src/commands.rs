//! The subcommands: each a small function over the engine.

use crate::cli::{Cli, Command, SignInOptions};
use crate::context::Context;
use crate::elsewhere::Way;
use crate::opener::{PrintUrl, SystemBrowser};
use passport_broker::admin_api::{LoginResult, RevokeState};
use passport_core::engine::{
    Engine, FlowOutcome, LoginReport, LoginRequest, LoginTarget, NoProgress, Opener, RevokeOutcome,
};
use passport_core::error::EngineError;
use passport_core::headless::HeadlessOpener;
use passport_core::loopback::sign_in_via_loopback;
use passport_core::model::{Grant, GrantStatus, Mode, TokenKind};
use passport_core::registration::ClientChoice;
use passport_core::secret::ClientSecret;
use std::sync::Arc;
use std::time::Duration;

/// Why a command failed.
pub enum Failure {
    /// An engine error (its code decides the exit code).
    Engine(EngineError),
    /// An error the broker answered with.
    Remote {
        /// Its code.
        code: String,
        /// Its message.
        message: String,
    },
    /// Anything else.
    Other {
        /// Stable code.
        code: &'static str,
        /// What to tell the user.
        message: String,
    },
}

impl Failure {
    /// A non-engine failure.
    pub fn other(code: &'static str, message: impl Into<String>) -> Self {
        Failure::Other {
            code,
            message: message.into(),
        }
    }
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        Failure::Engine(e)
    }
}

/// Runs the parsed command.
pub async fn dispatch(cli: Cli) -> Result<(), Failure> {
    let json = cli.json;
    match &cli.command {
        Command::Login {
            targets, sign_in, ..
        } if crate::machine::wanted(sign_in) => {
            crate::machine::login(&cli, targets, sign_in).await?;
        }
        Command::Login {
            targets, sign_in, ..
        } if crate::enterprise::wanted(sign_in) => {
            crate::enterprise::login(&cli, targets, sign_in).await?;
        }
        Command::Login {
            targets,
            servers,
            sign_in,
        } => {
            let target = LoginTarget::from_addresses(targets);
            let mut sign_in = sign_in.clone();
            // At a terminal, a question answered (hosts, client id) is one more try.
            let result = loop {
                let (result, failure) =
                    match crate::remote::login(&cli, &target, servers, &sign_in).await {
                        Some(through_broker) => {
                            let result = through_broker?;
                            let failure = crate::login_report::first_failure(&result);
                            (result, failure)
                        }
                        None => {
                            let ctx = Context::open(&cli, true)?;
                            let report = sign_in_report(
                                &ctx.engine,
                                target.clone(),
                                servers.clone(),
                                &sign_in,
                                None,
                            )
                            .await?;
                            let result = LoginResult::from(&report);
                            let failure = report.flows.into_iter().find_map(|f| match f.outcome {
                                FlowOutcome::Failed(e) => Some(Failure::Engine(e)),
                                FlowOutcome::SignedIn(_) => None,
                            });
                            (result, failure)
                        }
                    };
                match failure.as_ref().and_then(crate::quirks::ask) {
                    Some(retry) => crate::quirks::apply(retry, &mut sign_in),
                    None => break result,
                }
            };
            let finished = crate::login_report::finish(json, &result);
            crate::connect_all::follow(&cli);
            finished?;
        }
        Command::AddServers {
            issuer,
            servers,
            sign_in,
        } => {
            // The current servers stay checked: read them without the lock
            // (a running broker holds it and keeps the state file current).
            let current = Context::open(&cli, false)?.engine.grants();
            let mut hint: Vec<String> = current
                .iter()
                .filter(|g| &g.issuer == issuer)
                .filter(|g| {
                    // Only the named account's servers stay checked.
                    sign_in
                        .account
                        .as_deref()
                        .is_none_or(|a| g.account_label() == a)
                })
                .flat_map(|g| g.servers.iter().map(|s| s.id.clone()))
                .collect();
            hint.extend(
                servers
                    .iter()
                    .filter(|s| !hint.contains(s))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            let target = LoginTarget::Issuer(issuer.clone());
            let result = match crate::remote::login(&cli, &target, &hint, sign_in).await {
                Some(through_broker) => through_broker?,
                None => {
                    let ctx = Context::open(&cli, true)?;
                    LoginResult::from(
                        &sign_in_report(&ctx.engine, target, hint, sign_in, None).await?,
                    )
                }
            };
            let finished = crate::login_report::finish(json, &result);
            crate::connect_all::follow(&cli);
            finished?;
        }
        Command::Status => {
            let ctx = Context::open(&cli, false)?;
            let grants = ctx.engine.grants();
            let labels = |g: &Grant| crate::machine::grant_labels(&ctx.engine, g);
            print_grants(json, &grants, &grants, ctx.engine.clock().now(), &labels);
        }
        Command::Token { server } => {
            let (token, expires_at, id) = token_for(&cli, server).await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_at": expires_at, "server": id})
                );
            } else {
                println!("{token}");
            }
        }
        Command::Headers { server } => {
            let (token, _, _) = token_for(&cli, server).await?;
            println!(
                "{}",
                serde_json::json!({"Authorization": format!("Bearer {token}")})
            );
        }
        Command::Serve {
            port,
            bind,
            idle_exit,
        } => crate::serve::serve(&cli, *bind, *port, *idle_exit).await?,
        Command::Clients => crate::serve::clients(&cli)?,
        Command::Connect { .. } => crate::connect::connect(&cli)?,
        Command::Disconnect { .. } => crate::connect::disconnect(&cli)?,
        Command::Import { .. } => crate::import::run(&cli).await?,
        Command::Stdio { server } => crate::stdio::bridge(&cli, server).await?,
        Command::Revoke { server } => {
            let (state, reason) = match crate::remote::revoke(&cli, server).await {
                Some(through_broker) => through_broker?,
                None => {
                    let ctx = Context::open(&cli, true)?;
                    match ctx.engine.revoke_server(server).await? {
                        RevokeOutcome::Narrowed => (RevokeState::Narrowed, None),
                        RevokeOutcome::SignedOut => (RevokeState::SignedOut, None),
                        RevokeOutcome::BlockedLocally { reason } => {
                            (RevokeState::BlockedLocally, Some(reason))
                        }
                    }
                }
            };
            let message = match (state, reason) {
                (RevokeState::Narrowed, _) => {
                    format!("{server} was removed from your grant; its tokens were revoked.")
                }
                (RevokeState::SignedOut, _) => format!(
                    "{server} was your last server there; you are signed out of that authorization server."
                ),
                (RevokeState::BlockedLocally, reason) => format!(
                    "{server} is blocked on this machine: {}.",
                    reason.unwrap_or_default()
                ),
            };
            if json {
                println!(
                    "{}",
                    serde_json::json!({"server": server, "outcome": state, "message": message})
                );
            } else {
                println!("{message}");
            }
            crate::connect_all::follow(&cli);
        }
        Command::Logout { issuer, account } => {
            let count =
                match crate::remote::logout(&cli, issuer.as_deref(), account.as_deref()).await {
                    Some(through_broker) => through_broker?,
                    None if account.is_some() => {
                        let ctx = Context::open(&cli, true)?;
                        let label = account.as_deref().unwrap_or_default();
                        ctx.engine
                            .sign_out_account(issuer.as_deref(), label)
                            .await? as u64
                    }
                    None => {
                        let ctx = Context::open(&cli, true)?;
                        let issuers: Vec<String> = match issuer {
                            Some(i) => vec![i.clone()],
                            None => {
                                let mut all: Vec<String> =
                                    ctx.engine.grants().into_iter().map(|g| g.issuer).collect();
                                all.sort();
                                all.dedup();
                                all
                            }
                        };
                        let mut count = 0;
                        for issuer in &issuers {
                            count += ctx.engine.sign_out(issuer).await?;
                        }
                        count as u64
                    }
                };
            if json {
                println!("{}", serde_json::json!({"signed_out": count}));
            } else {
                println!("Signed out of {count} grant(s).");
            }
            crate::connect_all::follow(&cli);
        }
        Command::Check {
            url,
            call,
            args,
            read,
            prompt,
            sign_in,
            ephemeral,
        } => {
            let ctx = if *ephemeral {
                Context::ephemeral(&cli)?
            } else {
                Context::open(&cli, true)?
            };
            let asks = crate::check::Asks {
                call: call.as_deref(),
                args: args.as_deref(),
                read: read.as_deref(),
                prompt: prompt.as_deref(),
            };
            crate::check::check(&ctx.engine, url, &asks, sign_in, json).await?;
        }
    }
    Ok(())
}

/// The token for `server`, from the broker: the running one, else one
/// started in the background (see `autostart`), so there is never a
/// second refresher. With `MCP_PASSPORT_NO_AUTOSTART` set and no broker
/// running, it is refreshed here under the lock.
async fn token_for(cli: &Cli, server: &str) -> Result<(String, String, String), Failure> {
    use crate::broker_client::Asked;
    let paths = crate::context::paths_for(cli)?;
    let mut started = false;
    loop {
        match crate::broker_client::ask_token(&paths.endpoint_file(), server).await {
            Asked::Token(t) => return Ok((t.access_token, t.expires_at, t.server)),
            Asked::Error { code, message } => return Err(Failure::Remote { code, message }),
            Asked::NoBroker if crate::autostart::disabled() => break,
            Asked::NoBroker if started => {
                return Err(Failure::other(
                    "broker_unreachable",
                    "the broker stopped right after it started; run `mcp-passport serve` to see why",
                ));
            }
            Asked::NoBroker => {
                crate::autostart::ensure_broker(cli).await?;
                started = true;
            }
        }
    }
    let ctx = Context::open(cli, true)?;
    let t = ctx.engine.token(server).await?;
    Ok((
        t.access_token.expose().to_string(),
        t.expires_at.to_rfc3339(),
        t.server,
    ))
}

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

fn print_grants(
    json: bool,
    grants: &[Grant],
    all: &[Grant],
    now: chrono::DateTime<chrono::Utc>,
    labels: &dyn Fn(&Grant) -> Vec<&'static str>,
) {
    if json {
        println!("{}", serde_json::json!({"grants": grants}));
        return;
    }
    if grants.is_empty() {
        println!("Not signed in anywhere. Run: mcp-passport login <issuer-or-mcp-server-url>");
        return;
    }
    for g in grants {
        let mode = match g.mode {
            Mode::MultiServer => "multi-server",
            Mode::MultiResource => "multi-resource",
            Mode::PerServer => "per-server",
            Mode::Enterprise => "enterprise (organization sign-in)",
        };
        let status = match &g.status {
            GrantStatus::Active => "active".to_string(),
            GrantStatus::SignInNeeded { reason } => format!("SIGN-IN NEEDED: {reason}"),
            GrantStatus::Unreachable { reason, .. } => format!("unreachable: {reason}"),
        };
        let labels = labels(g);
        let labels = if labels.is_empty() {
            String::new()
        } else {
            format!("  ({})", labels.join(", "))
        };
        println!(
            "{}  account {}  {mode}  {status}{labels}",
            g.issuer,
            g.account_label()
        );
        for s in g.servers.iter() {
            let kind = match s.token_kind {
                TokenKind::Own => "own token",
                TokenKind::Shared => "shared token",
                TokenKind::Unknown => "token not requested yet",
            };
            let expiry = s.expires_at.map_or_else(String::new, |t| {
                let left = (t - now).num_seconds();
                if left > 0 {
                    format!(", expires in {}m{:02}s", left / 60, left % 60)
                } else {
                    ", expired".into()
                }
            });
            let blocked = if g.is_blocked(&s.id) {
                " [revoked here]"
            } else {
                ""
            };
            println!(
                "  {:<14} {:<22} {}{expiry}{blocked}",
                passport_core::account::address(all, g, &s.id),
                s.resource.as_deref().unwrap_or("-"),
                kind
            );
            if let Some(line) = crate::step_up::status_line(g, s) {
                println!("{line}");
            }
        }
    }
}
