//! How `status` shows a server's step-up: the scope it asked for and the
//! command that approves it (a sign-in at its issuer asks for the union of
//! scopes and keeps the grant's other servers).

use passport_core::model::{Grant, GrantedServer, Mode};
use passport_core::step_up::StepUpState;

/// The line under `server` when it needs more access; `None` otherwise.
pub fn status_line(grant: &Grant, server: &GrantedServer) -> Option<String> {
    let up = server.step_up.as_ref().filter(|u| u.open())?;
    let scope = passport_core::text::untrusted(&up.missing_text(), 200);
    Some(match up.state {
        StepUpState::Refused => format!(
            "    needs more access: {scope} — the authorization server did not grant it; ask its administrator, then run: mcp-passport login {}",
            target(grant, server)
        ),
        _ => format!(
            "    NEEDS MORE ACCESS: {scope} — run: mcp-passport login {}",
            target(grant, server)
        ),
    })
}

/// What to sign in to: the issuer of a Multi-Server grant, else the server.
fn target(grant: &Grant, server: &GrantedServer) -> String {
    match (grant.mode, server.resource.as_deref()) {
        (Mode::MultiServer, _) | (_, None) => grant.issuer.clone(),
        (_, Some(url)) => url.to_string(),
    }
}
