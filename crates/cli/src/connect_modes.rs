//! `connect --print` and `connect claude-code --helper`: what they need
//! from the command line (each server's own URL, the helper's command) and
//! how they report; the entries themselves come from `passport-connect`.

use crate::cli::Cli;
use crate::commands::Failure;
use passport_broker::keys::Keys;
use passport_connect::Request;
use passport_core::model::Grant;
use serde_json::json;

/// Each handed-out server's own URL, by address (`<id>`, `<id>@<label>`).
pub fn server_urls(grants: &[Grant]) -> Vec<(String, String)> {
    grants
        .iter()
        .flat_map(|grant| {
            grant.active_servers().filter_map(move |server| {
                let url = server.resource.clone()?;
                Some((
                    passport_core::account::address(grants, grant, &server.id),
                    url,
                ))
            })
        })
        .collect()
}

/// This program with the options that find the same state and keyring,
/// which the client's environment may not carry.
pub fn helper_command(cli: &Cli, exe: &str) -> Result<Vec<String>, Failure> {
    let mut command = vec![exe.to_string()];
    if let Some(home) = &cli.home {
        let home = std::path::absolute(home).map_err(|e| {
            Failure::other(
                "no_home",
                format!(
                    "cannot resolve {}: {e}; pass --home as an absolute path",
                    home.display()
                ),
            )
        })?;
        command.push("--home".into());
        command.push(home.to_string_lossy().into_owned());
    }
    // The default of `--keyring-service`.
    if cli.keyring_service != "io.github.mcppassport" {
        command.push("--keyring-service".into());
        command.push(cli.keyring_service.clone());
    }
    Ok(command)
}

/// Mints the client's key and prints the entries to paste.
pub fn print(json: bool, request: &Request, keys: &Keys) -> Result<(), Failure> {
    let printed = passport_connect::print::print(request, keys)?;
    if json {
        println!(
            "{}",
            json!({"client": printed.client, "servers": printed.servers, "paste": printed.text,
                   "revoked_keys": printed.revoked_keys})
        );
        return Ok(());
    }
    eprintln!(
        "Paste this into {}'s MCP settings ({} server(s): {}). The key in it is shown once{}:",
        printed.display,
        printed.servers.len(),
        printed.servers.join(", "),
        if printed.revoked_keys > 0 {
            "; it replaces this client's earlier key, so entries written before stop working"
        } else {
            ""
        }
    );
    print!("{}", printed.text);
    Ok(())
}
