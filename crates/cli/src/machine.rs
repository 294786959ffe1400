//! `login --client-credentials` and `login --assertion-file`: machine
//! grants for agents that run with no person (client credentials with a
//! client secret or `private_key_jwt`, and the workload identity JWT bearer
//! grant). `check` takes the same flags. The engine's side is
//! `passport_core::engine::MachineLogin`.

use crate::cli::{Cli, SignInOptions};
use crate::commands::Failure;
use crate::context::Context;
use passport_core::engine::{Engine, LoginTarget, MachineCredential, MachineLogin};
use passport_core::model::Grant;
use passport_core::secret::ClientSecret;
use std::path::Path;
use std::sync::Arc;

/// Whether the options ask for a machine grant instead of a person's sign-in.
pub fn wanted(options: &SignInOptions) -> bool {
    options.client_credentials || options.assertion_file.is_some()
}

fn absolute(path: &Path) -> Result<std::path::PathBuf, Failure> {
    std::path::absolute(path)
        .map_err(|e| Failure::other("bad_path", format!("cannot use {}: {e}", path.display())))
}

/// The client secret: MCP_PASSPORT_CLIENT_SECRET, else typed at a terminal (no echo).
fn secret_of(options: &SignInOptions) -> Result<String, Failure> {
    if let Some(secret) = &options.client_secret {
        return Ok(secret.clone());
    }
    if crate::quirks::interactive() {
        eprint!("Client secret (not shown): ");
        if let Some(secret) = crate::quirks::read_secret().filter(|s| !s.is_empty()) {
            return Ok(secret);
        }
    }
    Err(Failure::other(
        "client_secret_needed",
        "--client-credentials needs the client secret: set MCP_PASSPORT_CLIENT_SECRET, type it at a terminal, or give --private-key-file",
    ))
}

/// Gets a machine grant for `target` with the credential the options name.
pub async fn sign_in(
    engine: &Arc<Engine>,
    target: LoginTarget,
    options: &SignInOptions,
    scope: Option<String>,
) -> Result<Grant, Failure> {
    let credential = match (&options.assertion_file, &options.private_key_file) {
        (Some(file), _) => MachineCredential::JwtBearer {
            assertion_file: absolute(file)?,
        },
        (None, Some(key)) => MachineCredential::PrivateKeyJwt {
            key_file: absolute(key)?,
        },
        (None, None) => MachineCredential::ClientSecret,
    };
    let secret = match credential {
        MachineCredential::ClientSecret => Some(ClientSecret::new(secret_of(options)?)),
        _ => None,
    };
    let login = MachineLogin {
        target,
        client_id: options.client_id.clone(),
        credential,
        secret,
        scope,
        account: options.account.clone(),
    };
    Ok(engine.login_machine(&login).await?)
}

/// `login` with machine credentials: runs here (stop a running `serve`
/// first; it picks the grant up when it starts).
pub async fn login(cli: &Cli, targets: &[String], options: &SignInOptions) -> Result<(), Failure> {
    let ctx = Context::open(cli, true)?;
    let grant = sign_in(
        &ctx.engine,
        LoginTarget::from_addresses(targets),
        options,
        None,
    )
    .await?;
    let servers: Vec<&str> = grant.servers.iter().map(|s| s.id.as_str()).collect();
    if cli.json {
        let out = serde_json::json!({
            "grant": grant.id,
            "issuer": grant.issuer,
            "account": grant.account_label(),
            "machine": true,
            "servers": servers,
        });
        println!("{out}");
    } else {
        println!(
            "Machine grant at {} for {} (renewed with the same credentials before expiry)",
            grant.issuer,
            servers.join(", ")
        );
    }
    Ok(())
}

/// What `status` adds to a grant's line: how a machine grant signs in, and
/// whether its tokens are bound to this computer (DPoP).
pub(crate) fn grant_labels(engine: &Engine, grant: &Grant) -> Vec<&'static str> {
    let mut labels = Vec::new();
    if let Some(machine) = engine.machine_grant(&grant.id) {
        labels.push(match machine.credential {
            MachineCredential::ClientSecret => "machine: client secret",
            MachineCredential::PrivateKeyJwt { .. } => "machine: private_key_jwt",
            MachineCredential::JwtBearer { .. } => "machine: workload identity",
        });
    }
    if grant.dpop_bound {
        labels.push("DPoP: bound to this computer");
    }
    labels
}
