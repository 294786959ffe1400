//! Provider quirks on the command line: `--authorize-param`, `--no-resource`
//! and `--allow-endpoint-host` turned into the engine's overrides, and the
//! questions `login` asks once per issuer at a terminal (endpoint hosts to
//! allow, a pre-registered client id and secret) before trying again.

use crate::cli::SignInOptions;
use crate::commands::Failure;
use passport_core::discovery::DiscoveryError;
use passport_core::error::EngineError;
use passport_core::providers::{self, QuirkOverrides};
use passport_core::registration::RegistrationError;
use std::io::{BufRead, IsTerminal, Write};

/// The overrides the options give, checked.
pub fn overrides(options: &SignInOptions) -> Result<QuirkOverrides, Failure> {
    let bad = |e: providers::QuirkError| Failure::other("invalid_option", e.to_string());
    let mut out = QuirkOverrides {
        no_resource: options.no_resource,
        ..QuirkOverrides::default()
    };
    for raw in &options.authorize_params {
        let (k, v) = providers::parse_param(raw).map_err(bad)?;
        out.authorize_params.insert(k, v);
    }
    for raw in &options.allow_endpoint_hosts {
        out.endpoint_hosts
            .push(providers::parse_host(raw).map_err(bad)?);
    }
    Ok(out)
}

/// What to change in the options before trying once more, if the user
/// answered a question the failure raised.
pub enum Retry {
    /// Allow these endpoint hosts.
    Hosts(Vec<String>),
    /// Use this pre-registered client.
    Client {
        /// Its id.
        id: String,
        /// Its secret, if it has one.
        secret: Option<String>,
    },
}

pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn read_line() -> Option<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    Some(line.trim().to_string())
}

/// Reads a line with the terminal's echo off (the secret never shows).
pub fn read_secret() -> Option<String> {
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status()
            .is_ok_and(|s| s.success())
    };
    let hidden = stty("-echo");
    let line = read_line();
    if hidden {
        stty("echo");
        eprintln!();
    }
    line
}

/// At a terminal, asks what would let a failed sign-in go on: allowing
/// the endpoint hosts named (once, for that issuer), or a client id for an
/// AS that registers none. `None` when there is nothing to ask, no
/// terminal, or the user declined.
pub fn ask(failure: &Failure) -> Option<Retry> {
    if !interactive() {
        return None;
    }
    let mut err = std::io::stderr();
    match failure {
        Failure::Engine(EngineError::Discovery(DiscoveryError::ForeignEndpoint {
            issuer,
            hosts,
            ..
        })) => {
            let _ = write!(
                err,
                "{issuer} has its endpoints on {} as well as on its own host.\nAllow {} for {issuer}, now and later? Only say yes if you trust it. [y/N] ",
                hosts.join(", "),
                if hosts.len() == 1 { "it" } else { "them" },
            );
            let yes = read_line()
                .is_some_and(|a| a.eq_ignore_ascii_case("y") || a.eq_ignore_ascii_case("yes"));
            yes.then(|| Retry::Hosts(hosts.clone()))
        }
        Failure::Engine(EngineError::Registration(RegistrationError::NoRegistration {
            issuer,
        })) => ask_client(&mut err, issuer),
        // Through a running broker: the same question, the issuer from its message.
        Failure::Remote { code, message } if code == "client_id_needed" => {
            let issuer = message
                .split_whitespace()
                .next()
                .unwrap_or("The authorization server");
            ask_client(&mut err, issuer)
        }
        _ => None,
    }
}

fn ask_client(err: &mut std::io::Stderr, issuer: &str) -> Option<Retry> {
    let _ = write!(
        err,
        "{issuer} cannot register MCP Passport by itself. Register an OAuth app there with a loopback redirect address (http://127.0.0.1), then enter its client id (empty to stop): "
    );
    let id = read_line().filter(|id| !id.is_empty())?;
    let _ = write!(
        err,
        "Its client secret (kept in the keyring; empty if none): "
    );
    let secret = read_secret().filter(|s| !s.is_empty());
    Some(Retry::Client { id, secret })
}

/// Applies an answer to the options for the next try.
pub fn apply(retry: Retry, options: &mut SignInOptions) {
    match retry {
        Retry::Hosts(hosts) => options.allow_endpoint_hosts.extend(hosts),
        Retry::Client { id, secret } => {
            options.client_id = Some(id);
            options.client_secret = secret;
        }
    }
}
