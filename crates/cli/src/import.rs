//! `mcp-passport import` and `disconnect --restore`: the command line over
//! `passport_connect::import`. It lists the remote MCP servers the clients
//! already use, asks once, signs in to all of them in one go (one flow per
//! authorization server, as `login` with their URLs), then points each
//! client's entry for a server that signed in at the broker.

use crate::cli::{Cli, Command, SignInOptions};
use crate::commands::Failure;
use crate::connect::{ClientKind, broker_port, keys};
use crate::context::Context;
use passport_broker::admin_api::LoginResult;
use passport_connect::import::{self, Found, Repoint, Repointed};
use passport_core::engine::{LoginTarget, ServerState};
use serde_json::json;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

/// `--config CLIENT=PATH`.
pub fn parse_config(s: &str) -> Result<(ClientKind, PathBuf), String> {
    let names = || {
        ClientKind::ALL
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some((name, path)) = s.split_once('=') else {
        return Err(format!("expected CLIENT=PATH (CLIENT one of {})", names()));
    };
    let kind = ClientKind::from_name(name.trim())
        .ok_or_else(|| format!("unknown client \"{name}\" (one of {})", names()))?;
    if path.is_empty() {
        return Err("the PATH after = is empty".into());
    }
    if !import::reads(kind) {
        return Err(format!(
            "import reads JSON config files only, and {}'s is not; run `mcp-passport connect {}` after the import",
            kind.display(),
            kind.name()
        ));
    }
    Ok((kind, PathBuf::from(path)))
}

/// Runs `mcp-passport import`.
pub async fn run(cli: &Cli) -> Result<(), Failure> {
    let Command::Import {
        dry_run,
        yes,
        configs,
        sign_in,
    } = &cli.command
    else {
        return Err(Failure::other("internal", "not an import command"));
    };
    let found = import::scan(&import::config_files(configs));
    if !cli.json {
        print_found(&found);
    }
    if found.servers.is_empty() || *dry_run {
        if cli.json {
            println!("{}", json!({"dry_run": dry_run, "found": found}));
        } else if !found.servers.is_empty() {
            println!(
                "Dry run: would sign in to these {} server(s), once per authorization server, \
                 then replace each entry above with a passport-* entry through the broker \
                 (the file backed up first). Nothing was changed.",
                found.servers.len()
            );
        }
        return Ok(());
    }
    confirm(*yes)?;
    // A server already granted needs no sign-in.
    let before = Context::open(cli, false)?.engine.grants();
    let to_sign_in: Vec<String> = found
        .urls()
        .into_iter()
        .filter(|url| import::address_of(url, &before, &before).is_none())
        .collect();
    let result = if to_sign_in.is_empty() {
        LoginResult::default()
    } else {
        sign_in_all(cli, to_sign_in, sign_in).await?
    };
    let grants = Context::open(cli, false)?.engine.grants();
    let plan = import::plan(&found, &grants, &grants);
    let paths = crate::context::paths_for(cli)?;
    let keys = keys(&paths)?;
    let exe = std::env::current_exe()
        .map_err(|e| Failure::other("no_exe", format!("cannot find this program's path: {e}")))?;
    let exe = exe.to_string_lossy().into_owned();
    let port = broker_port(&paths);
    let mut done: Vec<Repointed> = Vec::new();
    let mut failed: Vec<(ClientKind, PathBuf, String)> = Vec::new();
    for (kind, config, entries) in plan {
        let request = Repoint {
            kind,
            config: &config,
            entries,
            port,
            exe: &exe,
        };
        match import::repoint(&request, &keys) {
            Ok(change) => done.push(change),
            Err(e) => failed.push((kind, config, e.message)),
        }
    }
    report(cli.json, &found, &result, &done, &failed);
    outcome(&result, &failed)
}

fn print_found(found: &Found) {
    if found.servers.is_empty() {
        println!(
            "No remote MCP servers found in your MCP clients' config files. Nothing was changed."
        );
    } else {
        println!(
            "Found {} remote MCP server(s) in your MCP clients:",
            found.servers.len()
        );
    }
    for server in &found.servers {
        println!("  {}", server.url);
        for u in &server.uses {
            println!(
                "    {} \"{}\" in {}",
                u.display,
                u.entry,
                u.config.display()
            );
        }
    }
    if !found.skipped.is_empty() {
        println!("Left as they are:");
        for s in &found.skipped {
            println!(
                "  {} \"{}\" in {}: {}",
                s.at.display,
                s.at.entry,
                s.at.config.display(),
                s.reason
            );
        }
    }
    if !found.unreadable.is_empty() {
        println!("Not read (left as they are):");
        for u in &found.unreadable {
            println!("  {}: {}", u.client.display(), u.message);
        }
    }
}

/// Asks once, at a terminal; refuses without one unless `--yes`.
fn confirm(yes: bool) -> Result<(), Failure> {
    if yes {
        return Ok(());
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(Failure::other(
            "confirmation_needed",
            "import signs in and rewrites the entries listed above; run it again with --yes \
             to go ahead, or with --dry-run to look only. Nothing was changed",
        ));
    }
    eprint!("Sign in to these servers and point these entries at MCP Passport? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    if matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(Failure::other("not_confirmed", "Nothing was changed"))
    }
}

/// One sign-in for every server found: through the running broker, else here.
async fn sign_in_all(
    cli: &Cli,
    urls: Vec<String>,
    sign_in: &SignInOptions,
) -> Result<LoginResult, Failure> {
    let target = LoginTarget::Servers(urls);
    match crate::remote::login(cli, &target, &[], sign_in).await {
        Some(through_broker) => through_broker,
        None => {
            let ctx = Context::open(cli, true)?;
            let report =
                crate::commands::sign_in_report(&ctx.engine, target, Vec::new(), sign_in, None)
                    .await?;
            Ok(LoginResult::from(&report))
        }
    }
}

fn report(
    json: bool,
    found: &Found,
    result: &LoginResult,
    done: &[Repointed],
    failed: &[(ClientKind, PathBuf, String)],
) {
    if json {
        let failed: Vec<_> = failed
            .iter()
            .map(|(k, p, m)| json!({"client": k, "config": p, "message": m}))
            .collect();
        println!(
            "{}",
            json!({"dry_run": false, "found": found, "signed_in": result.servers,
                   "repointed": done, "failed": failed})
        );
        return;
    }
    // Prints each server's sign-in line; the failure is decided in `outcome`.
    let _ = crate::login_report::finish(false, result);
    for change in done {
        println!(
            "{} now reaches {} server(s) through MCP Passport ({}):",
            change.display,
            change.servers.len(),
            change.config.display()
        );
        for (mine, ours) in &change.replaced {
            println!("  \"{mine}\" -> \"{ours}\"");
        }
    }
    for (kind, path, message) in failed {
        println!(
            "{} ({}) was not changed: {message}",
            kind.display(),
            path.display()
        );
    }
    if !done.is_empty() {
        println!(
            "Restart these clients to load the new entries. To undo: mcp-passport disconnect <client> --restore"
        );
    }
}

fn outcome(result: &LoginResult, failed: &[(ClientKind, PathBuf, String)]) -> Result<(), Failure> {
    let signed_in = result
        .servers
        .iter()
        .filter(|s| s.state == ServerState::SignedIn)
        .count();
    let first = result
        .servers
        .iter()
        .find(|s| s.state != ServerState::SignedIn);
    match first {
        Some(first) if signed_in == 0 => Err(Failure::Remote {
            code: first
                .code
                .clone()
                .unwrap_or_else(|| "sign_in_failed".into()),
            message: format!(
                "no server signed in, so no entry was changed: {}",
                first.message.clone().unwrap_or_default()
            ),
        }),
        Some(_) => Err(Failure::Remote {
            code: crate::login_report::PARTIAL.into(),
            message: "some servers did not sign in; their entries were left as they are: run \
                      `mcp-passport import` again to retry them"
                .into(),
        }),
        None if !failed.is_empty() => Err(Failure::Remote {
            code: crate::login_report::PARTIAL.into(),
            message: "some config files could not be changed (see above); the others were".into(),
        }),
        None => Ok(()),
    }
}

/// Runs `mcp-passport disconnect <client> --restore`.
pub fn restore(
    cli: &Cli,
    kind: ClientKind,
    config: Option<&Path>,
    dry_run: bool,
) -> Result<(), Failure> {
    let restored = if dry_run {
        import::preview_restore(kind, config)?.0
    } else {
        let paths = crate::context::paths_for(cli)?;
        import::restore(kind, config, &keys(&paths)?)?
    };
    let (display, path) = (restored.display, restored.config.display());
    if cli.json {
        println!(
            "{}",
            json!({"client": kind, "config": restored.config, "restored": restored.entries,
                   "revoked_keys": restored.revoked_keys, "dry_run": dry_run})
        );
    } else if dry_run {
        println!(
            "Dry run: would put {path} back as it was before the import ({} given back) and revoke {display}'s key. Nothing was changed.",
            restored.entries.join(", ")
        );
    } else {
        println!(
            "Put {path} back as it was before the import ({} given back), revoked {} key(s). Restart {display} to apply.",
            restored.entries.join(", "),
            restored.revoked_keys
        );
    }
    Ok(())
}
