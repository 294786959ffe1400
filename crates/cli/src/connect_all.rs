//! `mcp-passport connect --all`: every installed client found on this
//! machine, after one preview listing every file; and, after `login`,
//! `add-servers`, `revoke` and `logout`, the connected clients' entries
//! brought to the granted servers (`passport_connect::follow`).

use crate::cli::{Cli, Command};
use crate::commands::Failure;
use crate::connect::{broker_port, keys, print_before, records};
use crate::context::Context;
use passport_connect::follow::{Follow, Outcome, connect_recorded, describe};
use passport_connect::{Change, ClientKind, Request};
use serde_json::json;
use std::io::{BufRead as _, IsTerminal as _, Write as _};

fn exe() -> Result<String, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::other("no_exe", format!("cannot find this program's path: {e}")))?;
    Ok(exe.to_string_lossy().into_owned())
}

fn ask(question: &str) -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::other(
            "confirmation_needed",
            "not connecting without a confirmation: run it at a terminal to answer, pass --yes to connect, or --dry-run to see the preview only. Nothing was changed",
        ));
    }
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::other("stdin", format!("cannot read the answer: {e}")))?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
}

/// Runs `mcp-passport connect --all`.
pub fn connect_all(cli: &Cli) -> Result<(), Failure> {
    let Command::Connect {
        servers,
        dry_run,
        yes,
        ..
    } = &cli.command
    else {
        return Err(Failure::other("internal", "not a connect command"));
    };
    let paths = crate::context::paths_for(cli)?;
    let ctx = Context::open(cli, false)?;
    let granted = passport_core::account::addresses(&ctx.engine.grants());
    let exe = exe()?;
    let port = broker_port(&paths);
    let found = passport_connect::detect::detect_here();
    if found.is_empty() {
        let known: Vec<&str> = ClientKind::ALL.iter().map(|k| k.name()).collect();
        return Err(Failure::other(
            "no_clients_found",
            format!(
                "found no installed MCP client (looked for their config folders and programs on PATH). Connect one by name: mcp-passport connect <{}> [--config PATH]",
                known.join("|")
            ),
        ));
    }
    let request = |kind: ClientKind| Request {
        kind,
        config: None,
        granted: &granted,
        wanted: servers,
        port,
        exe: &exe,
    };
    // One preview of every file; a client that cannot be connected says why.
    let previews: Vec<(ClientKind, Result<Change, passport_connect::ConnectError>)> = found
        .iter()
        .map(|d| {
            (
                d.client,
                passport_connect::preview_connect(&request(d.client)),
            )
        })
        .collect();
    let ready: Vec<&Change> = previews
        .iter()
        .filter_map(|(_, p)| p.as_ref().ok())
        .collect();
    if !cli.json || *dry_run {
        print_preview(cli.json, &previews);
    }
    if *dry_run {
        if !cli.json {
            println!("Dry run: nothing was changed.");
        }
        return Ok(());
    }
    if ready.is_empty() {
        return Err(Failure::other(
            "nothing_to_connect",
            "none of the clients found can be connected (see above); nothing was changed",
        ));
    }
    if !*yes
        && !ask(&format!(
            "Connect these {} client(s), each with a new key?",
            ready.len()
        ))?
    {
        println!("Nothing was changed.");
        return Ok(());
    }
    let (keys, records) = (keys(&paths)?, records(&paths));
    let mut results = Vec::new();
    let mut failed = previews.len() - ready.len();
    for change in ready {
        let outcome = connect_recorded(&request(change.client), &keys, &records);
        failed += usize::from(outcome.is_err());
        if !cli.json {
            match &outcome {
                Ok(c) => println!(
                    "Connected {} to {} server(s) ({}). Restart it to load them.",
                    c.display,
                    c.servers.len(),
                    c.config.display()
                ),
                Err(e) => println!("{}: not connected: {}", change.display, e.message),
            }
        }
        results.push(match outcome {
            Ok(c) => json!({"client": c.client, "config": c.config, "servers": c.servers, "connected": true}),
            Err(e) => json!({"client": change.client, "config": change.config, "connected": false, "error": e}),
        });
    }
    if cli.json {
        println!("{}", json!({"connected": results}));
    }
    if failed > 0 {
        return Err(Failure::other(
            "connect_incomplete",
            format!("{failed} client(s) were not connected; see above for each one and what to do"),
        ));
    }
    Ok(())
}

fn print_preview(
    json: bool,
    previews: &[(ClientKind, Result<Change, passport_connect::ConnectError>)],
) {
    if json {
        let list: Vec<_> = previews
            .iter()
            .map(|(kind, p)| match p {
                Ok(c) => json!({"client": kind, "config": c.config, "servers": c.servers}),
                Err(e) => json!({"client": kind, "error": e}),
            })
            .collect();
        println!("{}", json!({"dry_run": true, "clients": list}));
        return;
    }
    println!("Found {} installed MCP client(s):", previews.len());
    for (kind, preview) in previews {
        match preview {
            Ok(c) => {
                println!(
                    "\n{}: {} ({} server(s): {})",
                    c.display,
                    c.config.display(),
                    c.servers.len(),
                    c.servers.join(", ")
                );
                print_before(c);
                println!("After:");
                for (name, fields) in &c.after {
                    println!("  {}: {fields}", serde_json::Value::from(name.as_str()));
                }
            }
            Err(e) => println!("\n{}: cannot be connected: {}", kind.display(), e.message),
        }
    }
    println!();
}

/// After servers were added or revoked: every connected client's entries
/// follow the granted servers. Prints one line per client changed or left
/// alone (to standard error with `--json`, whose output stays one document).
pub fn follow(cli: &Cli) {
    let result = (|| -> Result<Vec<passport_connect::follow::Followed>, Failure> {
        let paths = crate::context::paths_for(cli)?;
        let records = records(&paths);
        if records.list().map_or(true, |r| r.is_empty()) {
            return Ok(Vec::new());
        }
        let granted =
            passport_core::account::addresses(&Context::open(cli, false)?.engine.grants());
        let (exe, keys) = (exe()?, keys(&paths)?);
        let follow = Follow {
            granted: &granted,
            port: broker_port(&paths),
            exe: &exe,
            keys: &keys,
            records: &records,
        };
        Ok(passport_connect::follow::follow(&follow)?)
    })();
    match result {
        Ok(followed) => {
            for f in &followed {
                if cli.json {
                    if f.outcome != Outcome::Unchanged {
                        eprintln!("{}", json!({"followed": f}));
                    }
                } else if let Some(line) = describe(f, true) {
                    println!("{line}");
                }
            }
        }
        Err(Failure::Other { message, .. } | Failure::Remote { message, .. }) => {
            eprintln!("warning: connected clients' entries were not updated: {message}");
        }
        Err(Failure::Engine(e)) => {
            eprintln!("warning: connected clients' entries were not updated: {e}");
        }
    }
}
