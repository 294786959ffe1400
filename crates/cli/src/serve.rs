//! `mcp-passport serve` (the broker, headless; started by hand it stays,
//! started on demand with `--idle-exit` it stops when idle) and
//! `mcp-passport clients`.

use crate::cli::Cli;
use crate::commands::Failure;
use crate::context::Context;
use passport_broker::{BrokerConfig, BrokerError, audit::Audit, keys::Keys};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Runs the broker until Ctrl+C or SIGTERM, or, with `idle_exit`, until
/// that many seconds pass without a request and no stdio bridge is open.
/// A second broker for the same user refuses to start and says where the
/// first one is.
pub async fn serve(
    cli: &Cli,
    bind: IpAddr,
    port: u16,
    idle_exit: Option<u64>,
) -> Result<(), Failure> {
    let paths = crate::context::paths_for(cli)?;
    let ctx = Context::open_waiting(cli, Some(Duration::ZERO)).map_err(|_| {
        let running = crate::broker_client::read_endpoint(&paths.endpoint_file())
            .map_or_else(String::new, |e| format!(" on 127.0.0.1:{}", e.port));
        Failure::other("already_running", format!("a broker is already running for this user{running}; stop it before starting another"))
    })?;
    let mut config = BrokerConfig {
        bind: SocketAddr::new(bind, port),
        endpoint_file: paths.endpoint_file(),
        keys_file: paths.keys_file(),
        audit_file: paths.audit_file(),
        refresh_every: Duration::from_secs(30),
    };
    // Sign-ins the CLI asks for through the admin API open the system browser.
    let opener = std::sync::Arc::new(crate::opener::SystemBrowser);
    let started =
        match passport_broker::start(config.clone(), ctx.engine.clone(), opener.clone()).await {
            // Started on demand, the broker takes any free port when the usual
            // one is taken: its callers find it through the endpoint file.
            Err(BrokerError::Bind { .. }) if idle_exit.is_some() && port != 0 => {
                config.bind.set_port(0);
                passport_broker::start(config, ctx.engine.clone(), opener).await
            }
            other => other,
        };
    let broker = started.map_err(|e| Failure::other("broker", e.to_string()))?;
    eprintln!(
        "MCP Passport broker on http://{} (Ctrl+C to stop)",
        broker.addr
    );
    let _bridges = match idle_exit {
        None => {
            stopped().await;
            None
        }
        Some(secs) => {
            let idle = Duration::from_secs(secs.max(1));
            tokio::select! {
                () = stopped() => None,
                bridges = crate::idle::idle_for(&broker.state.audit, &paths.runtime, idle) => {
                    eprintln!("No request for {} s: the broker stops (it starts again when needed).", idle.as_secs());
                    bridges
                }
            }
        }
    };
    broker.shutdown().await;
    Ok(())
}

async fn stopped() {
    #[cfg(unix)]
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        return;
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Lists client keys (never the keys themselves) and recent use.
pub fn clients(cli: &Cli) -> Result<(), Failure> {
    let paths = crate::context::paths_for(cli)?;
    let keys = Keys::open(paths.keys_file())
        .map_err(|e| Failure::other("keys", e.to_string()))?
        .list();
    let recent = Audit::open(paths.audit_file()).recent();
    if cli.json {
        let keys: Vec<serde_json::Value> = keys
            .iter()
            .map(|k| serde_json::json!({"id": k.id, "client": k.client, "servers": k.servers, "created_at": k.created_at, "revoked": k.revoked}))
            .collect();
        println!("{}", serde_json::json!({"clients": keys, "recent": recent}));
        return Ok(());
    }
    let live: Vec<_> = keys.iter().filter(|k| !k.revoked).collect();
    if live.is_empty() {
        println!("No client is connected.");
    }
    for k in live {
        let servers = k
            .servers
            .as_ref()
            .map_or_else(|| "all servers".to_string(), |s| s.join(", "));
        let last = recent.iter().rev().find(|a| a.client == k.client);
        let used = last.map_or_else(
            || "never used".to_string(),
            |a| {
                format!(
                    "last used {} for {} ({})",
                    a.at.format("%Y-%m-%d %H:%M"),
                    a.server,
                    a.outcome
                )
            },
        );
        println!("{:<20} key {}  {servers}  {used}", k.client, k.id);
    }
    Ok(())
}
