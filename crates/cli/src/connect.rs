//! `mcp-passport connect <client>` and `disconnect <client>`: the command
//! line over `passport-connect`, which does the editing; this file gathers
//! the granted servers and the broker's port and prints what changed.

use crate::cli::{Cli, Command};
use crate::commands::Failure;
use crate::context::{Context, Paths};
use passport_broker::keys::Keys;
pub use passport_connect::ClientKind;
use passport_connect::{Change, ConnectError, Request};
use serde_json::{Value, json};
use std::path::Path;

impl From<ConnectError> for Failure {
    fn from(e: ConnectError) -> Self {
        Failure::other(e.code, e.message)
    }
}

/// The broker's port from its endpoint file, else the default.
pub(crate) fn broker_port(paths: &Paths) -> u16 {
    crate::broker_client::read_endpoint(&paths.endpoint_file())
        .map_or(passport_connect::DEFAULT_PORT, |e| e.port)
}

/// What was written into which client's file.
pub(crate) fn records(paths: &Paths) -> passport_connect::record::Records {
    passport_connect::record::Records::in_home(&paths.home)
}

pub(crate) fn keys(paths: &Paths) -> Result<Keys, Failure> {
    Keys::open(paths.keys_file()).map_err(|e| Failure::other("keys", e.to_string()))
}

pub(crate) fn print_before(change: &Change) {
    println!("Before:");
    if change.before.is_empty() {
        println!("  (no passport-* entries)");
    }
    for (k, v) in &change.before {
        println!("  {}: {v}", Value::from(k.as_str()));
    }
}

/// Runs `mcp-passport connect` from the parsed command line.
pub fn connect(cli: &Cli) -> Result<(), Failure> {
    let Command::Connect {
        client,
        servers,
        dry_run,
        config,
        helper,
        print,
        ..
    } = &cli.command
    else {
        return Err(Failure::other("internal", "not a connect command"));
    };
    let Some(client) = client else {
        return crate::connect_all::connect_all(cli);
    };
    let paths = crate::context::paths_for(cli)?;
    let ctx = Context::open(cli, false)?;
    // A second account's copy of a server is `<id>@<label>`.
    let granted = passport_core::account::addresses(&ctx.engine.grants());
    let exe = std::env::current_exe()
        .map_err(|e| Failure::other("no_exe", format!("cannot find this program's path: {e}")))?;
    let exe = exe.to_string_lossy().into_owned();
    let request = Request {
        kind: *client,
        config: config.as_deref(),
        granted: &granted,
        wanted: servers,
        port: broker_port(&paths),
        exe: &exe,
    };
    if *print {
        return crate::connect_modes::print(cli.json, &request, &keys(&paths)?);
    }
    if *helper {
        let urls = crate::connect_modes::server_urls(&ctx.engine.grants());
        let command = crate::connect_modes::helper_command(cli, &exe)?;
        let helper = passport_connect::helper::Helper {
            urls: &urls,
            command: &command,
        };
        let change = if *dry_run {
            passport_connect::helper::preview(&request, &helper)?
        } else {
            passport_connect::helper::connect(&request, &helper, &keys(&paths)?)?
        };
        report_connect(cli.json, &change, *dry_run);
        return Ok(());
    }
    let change = if *dry_run {
        passport_connect::preview_connect(&request)?
    } else {
        passport_connect::follow::connect_recorded(&request, &keys(&paths)?, &records(&paths))?
    };
    report_connect(cli.json, &change, *dry_run);
    Ok(())
}

fn report_connect(json: bool, change: &Change, dry_run: bool) {
    let (display, path, servers) = (change.display, &change.config, &change.servers);
    if json {
        println!(
            "{}",
            json!({"client": change.client, "config": path, "servers": servers, "dry_run": dry_run})
        );
    } else if dry_run {
        println!(
            "Dry run: would connect {display} to {} server(s): {}. Nothing was changed.",
            servers.len(),
            servers.join(", ")
        );
        println!("Config: {}", path.display());
        print_before(change);
        println!("After:");
        for (name, fields) in &change.after {
            println!("  {}: {fields}", Value::from(name.as_str()));
        }
    } else {
        println!(
            "Connected {display} to {} server(s): {}. Restart {display} to load them. Config: {}",
            servers.len(),
            servers.join(", "),
            path.display()
        );
    }
}

/// Runs `mcp-passport disconnect` from the parsed command line.
pub fn disconnect(cli: &Cli) -> Result<(), Failure> {
    let Command::Disconnect {
        client,
        dry_run,
        config,
        restore,
    } = &cli.command
    else {
        return Err(Failure::other("internal", "not a disconnect command"));
    };
    if *restore {
        return crate::import::restore(cli, *client, config.as_deref(), *dry_run);
    }
    let config: Option<&Path> = config.as_deref();
    let change = if *dry_run {
        passport_connect::preview_disconnect(*client, config)?.0
    } else {
        let paths = crate::context::paths_for(cli)?;
        passport_connect::follow::disconnect_recorded(
            *client,
            config,
            &keys(&paths)?,
            &records(&paths),
        )?
    };
    let (display, path, removed) = (change.display, &change.config, &change.servers);
    if cli.json {
        let mut out = json!({"client": change.client, "config": path, "servers": removed, "dry_run": dry_run});
        if !dry_run {
            out["revoked_keys"] = json!(change.revoked_keys);
        }
        println!("{out}");
    } else if *dry_run {
        println!("Dry run: would disconnect {display} and revoke its key. Nothing was changed.");
        println!("Config: {}", path.display());
        print_before(&change);
        println!("After:\n  (no passport-* entries)");
    } else {
        println!(
            "Disconnected {display}: removed {} server(s){}{}, revoked {} key(s). Restart {display} to apply. Config: {}",
            removed.len(),
            if removed.is_empty() { "" } else { ": " },
            removed.join(", "),
            change.revoked_keys,
            path.display()
        );
    }
    Ok(())
}
