//! The subcommands: each a small function over the engine.

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::grant_list::print_grants;
use passport_broker::admin_api::{LoginResult, RevokeState};
use passport_core::engine::{FlowOutcome, LoginTarget, RevokeOutcome};
use passport_core::error::EngineError;
use passport_core::model::Grant;

pub(crate) use crate::sign_in::sign_in_opener;
pub use crate::sign_in::{sign_in_report, sign_in_with};

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
