//! `login --client-credentials` and `login --assertion-file`: machine
//! grants for agents that run with no person (client credentials with a
//! client secret or `private_key_jwt`, and the workload identity JWT bearer
//! grant). `check` takes the same flags. The engine's side is
//! `passport_core::engine::MachineLogin`; while a broker runs, `login`
//! asks it (`admin_machine`), as every sign-in does.

use crate::broker_client::{self, AdminAnswer};
use crate::cli::{Cli, SignInOptions};
use crate::commands::Failure;
use crate::context::Context;
use passport_broker::admin_api::{LoginBody, OpenWith, Target};
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
    if let Some(secret) = options.client_secret.as_ref().filter(|s| !s.is_empty()) {
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

/// The credential the options name, and the client secret it needs.
fn credential_of(
    options: &SignInOptions,
) -> Result<(MachineCredential, Option<ClientSecret>), Failure> {
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
    Ok((credential, secret))
}

/// Gets a machine grant for `target` with the credential the options name.
pub async fn sign_in(
    engine: &Arc<Engine>,
    target: LoginTarget,
    options: &SignInOptions,
    scope: Option<String>,
) -> Result<Grant, Failure> {
    let (credential, secret) = credential_of(options)?;
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

/// Gets the machine grant through the running broker's admin API, which
/// then keeps and renews it; `None` when no broker runs.
async fn through_broker(
    cli: &Cli,
    targets: &[String],
    options: &SignInOptions,
    credential: &MachineCredential,
    secret: Option<&ClientSecret>,
) -> Option<Result<Vec<Grant>, Failure>> {
    let paths = match crate::context::paths_for(cli) {
        Ok(p) => p,
        Err(e) => return Some(Err(e)),
    };
    let body = LoginBody {
        target: match LoginTarget::from_addresses(targets) {
            LoginTarget::Issuer(issuer) => Target::Issuer(issuer),
            LoginTarget::Servers(urls) => Target::Servers(urls),
        },
        servers: Vec::new(),
        client_id: options.client_id.clone(),
        client_secret: secret.map(|s| s.expose().to_string()),
        timeout_secs: options.timeout,
        open: OpenWith::Print,
        quirks: Default::default(),
        account: options.account.clone(),
        machine: Some(credential.clone()),
        enterprise: None,
    };
    match broker_client::admin_login(&paths.endpoint_file(), &body, |_| {}).await {
        AdminAnswer::NoBroker => None,
        AdminAnswer::Done(result) => Some(Ok(result.grants)),
        AdminAnswer::Error { code, message } => Some(Err(Failure::Remote { code, message })),
    }
}

/// `login` with machine credentials: through the running broker when one
/// runs (it keeps and renews the grant), else here.
pub async fn login(cli: &Cli, targets: &[String], options: &SignInOptions) -> Result<(), Failure> {
    let (credential, secret) = credential_of(options)?;
    let grant = match through_broker(cli, targets, options, &credential, secret.as_ref()).await {
        Some(answer) => answer?.into_iter().next().ok_or_else(|| {
            Failure::other("broker_error", "the broker kept no grant; see its log")
        })?,
        None => {
            let ctx = Context::open(cli, true)?;
            let login = MachineLogin {
                target: LoginTarget::from_addresses(targets),
                client_id: options.client_id.clone(),
                credential,
                secret,
                scope: None,
                account: options.account.clone(),
            };
            ctx.engine.login_machine(&login).await?
        }
    };
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
            "Machine grant at {} for {} (no refresh token needed: renewed by asking again with the same credentials before expiry)",
            grant.issuer,
            servers.join(", ")
        );
    }
    crate::connect_all::follow(cli);
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
        labels.push("renewed by asking again before expiry");
    }
    if grant.dpop_bound {
        labels.push("DPoP: bound to this computer");
    }
    labels
}
