//! What `login` and `add-servers` print: one line per server (signed in,
//! or failed and why), or with `--json` the same as
//! `{"servers": [...], "grants": [...]}`; and the failure that sets the
//! exit code when not every server signed in.

use crate::commands::Failure;
use passport_broker::admin_api::LoginResult;
use passport_core::engine::{ServerResult, ServerState};

/// The error code (and exit code 7) of a sign-in that kept some servers
/// and lost others.
pub const PARTIAL: &str = "partly_signed_in";

/// Prints each server's outcome; `Err` when any failed: the first failure's
/// own code when none signed in, [`PARTIAL`] when some did.
pub fn finish(json: bool, result: &LoginResult) -> Result<(), Failure> {
    if json {
        println!(
            "{}",
            serde_json::json!({"servers": result.servers, "grants": result.grants})
        );
    } else {
        for server in &result.servers {
            println!("{}", line(server));
        }
    }
    failure(&result.servers).map_or(Ok(()), Err)
}

fn line(server: &ServerResult) -> String {
    let who = if server.name == server.server || server.name.is_empty() {
        server.server.clone()
    } else {
        format!("{} ({})", server.name, server.server)
    };
    match server.state {
        ServerState::SignedIn => format!("{who}: signed in"),
        ServerState::Failed | ServerState::TimedOut => format!(
            "{who}: failed: {}",
            crate::with_hint(
                server.code.as_deref().unwrap_or_default(),
                server.message.clone().unwrap_or_default()
            )
        ),
    }
}

fn failure(servers: &[ServerResult]) -> Option<Failure> {
    let failed: Vec<&ServerResult> = servers
        .iter()
        .filter(|s| s.state != ServerState::SignedIn)
        .collect();
    let first = failed.first()?;
    let signed_in = servers.len() - failed.len();
    Some(if signed_in == 0 {
        Failure::Remote {
            code: first
                .code
                .clone()
                .unwrap_or_else(|| "sign_in_failed".into()),
            message: first.message.clone().unwrap_or_default(),
        }
    } else {
        Failure::Remote {
            code: PARTIAL.into(),
            message: format!(
                "signed in to {signed_in} of {} servers; the others were not changed: run `mcp-passport login` with their addresses again",
                servers.len()
            ),
        }
    })
}

/// The first server that did not sign in, as a failure a question at the
/// terminal may answer (a sign-in run by a running broker).
pub fn first_failure(result: &LoginResult) -> Option<Failure> {
    let failed = result
        .servers
        .iter()
        .find(|s| s.state != ServerState::SignedIn)?;
    Some(Failure::Remote {
        code: failed
            .code
            .clone()
            .unwrap_or_else(|| "sign_in_failed".into()),
        message: failed.message.clone().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(server: &str, state: ServerState) -> ServerResult {
        ServerResult {
            server: server.into(),
            name: server.into(),
            issuer: "https://as.example".into(),
            state,
            code: (state != ServerState::SignedIn).then(|| "timed_out".into()),
            message: (state != ServerState::SignedIn).then(|| "no answer".into()),
        }
    }

    #[test]
    fn the_failure_is_partial_only_when_something_signed_in() {
        let ok = result("a", ServerState::SignedIn);
        let late = result("b", ServerState::TimedOut);
        assert!(failure(std::slice::from_ref(&ok)).is_none());
        assert!(matches!(
            failure(&[ok.clone(), late.clone()]),
            Some(Failure::Remote { code, .. }) if code == PARTIAL
        ));
        assert!(matches!(
            failure(std::slice::from_ref(&late)),
            Some(Failure::Remote { code, .. }) if code == "timed_out"
        ));
        assert_eq!(line(&ok), "a: signed in");
        assert_eq!(line(&late), "b: failed: no answer");
        assert_eq!(crate::exit_code_for(PARTIAL), 7);
    }
}
