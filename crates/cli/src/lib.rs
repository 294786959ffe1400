//! The `mcp-passport` command line over the engine in `passport-core`.
//!
//! Every command builds the same engine (state file, OS keyring, HTTP
//! client, system clock), does one thing, and prints either plain text or,
//! with `--json`, one JSON document. Exit codes are stable for scripts: see
//! [`exit_code`].

mod autostart;
mod broker_client;
mod check;
mod cli;
mod commands;
mod connect;
mod connect_all;
mod connect_modes;
mod context;
mod dpop_forward;
mod elsewhere;
mod enterprise;
mod grant_list;
mod idle;
mod import;
mod login_report;
mod machine;
mod mcp_client;
mod opener;
mod quirks;
mod remote;
mod serve;
mod sign_in;
mod stdio;
mod step_up;

use clap::Parser as _;
use passport_core::error::EngineError;
use std::process::ExitCode;

/// Exit code for an engine error: 3 sign-in needed, 4 unreachable,
/// 5 keyring unavailable, 6 not granted, 7 some servers signed in and
/// others not, 1 anything else.
pub fn exit_code(e: &EngineError) -> u8 {
    exit_code_for(e.code())
}

/// Exit code for an error code (also the broker's).
pub fn exit_code_for(code: &str) -> u8 {
    match code {
        "sign_in_needed" => 3,
        "unreachable" => 4,
        "keyring_unavailable" => 5,
        "not_granted" => 6,
        login_report::PARTIAL => 7,
        _ => 1,
    }
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MCP_PASSPORT_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let json = cli.json;
    match runtime.block_on(commands::dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(commands::Failure::Engine(e)) => {
            report(json, e.code(), &with_hint(e.code(), e.to_string()));
            ExitCode::from(exit_code(&e))
        }
        Err(commands::Failure::Other { code, message }) => {
            report(json, code, &message);
            ExitCode::FAILURE
        }
        Err(commands::Failure::Remote { code, message }) => {
            report(json, &code, &with_hint(&code, message));
            ExitCode::from(exit_code_for(&code))
        }
    }
}

/// The engine's message, plus the command-line way to act on it where the
/// remedy is a flag or a command (the engine's words are the app's too, so
/// they name none).
pub(crate) fn with_hint(code: &str, message: String) -> String {
    let hint = match code {
        "endpoint_host_unconfirmed" => {
            "on the command line, pass --allow-endpoint-host <host> for each host named"
        }
        "registration_failed" | "client_id_needed" => {
            "on the command line, pass --client-id (and --client-secret if the authorization server issued one)"
        }
        "not_granted" => {
            "run `mcp-passport login <the server's URL>`, or `mcp-passport add-servers <issuer>`"
        }
        "device_flow_not_offered" => {
            "sign in with --paste instead: open the printed URL anywhere and paste back the address the browser lands on"
        }
        _ => return message,
    };
    format!("{message} ({hint})")
}

fn report(json: bool, code: &str, message: &str) {
    if json {
        eprintln!(
            "{}",
            serde_json::json!({"error": {"code": code, "message": message}})
        );
    } else {
        eprintln!("error: {message}");
    }
}
