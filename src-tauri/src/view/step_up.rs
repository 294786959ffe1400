//! How a server's step-up shows: a server whose grant works but which asked
//! for more access (403 `insufficient_scope`) is "needs more access" with
//! the scope it asked for, or "scope refused" once its authorization server
//! did not grant it. Other states (revoking, sign-in needed) come first.

use passport_core::model::GrantedServer;
use passport_core::step_up::StepUpState;

/// The status to show for `server` whose status is otherwise `status`,
/// and the scope it still needs.
pub fn status(status: &'static str, server: &GrantedServer) -> (&'static str, Option<String>) {
    let Some(up) = server.step_up.as_ref().filter(|u| u.open()) else {
        return (status, None);
    };
    let scope = passport_core::text::untrusted(&up.missing_text(), 200);
    match (status, up.state) {
        ("active" | "expired" | "refreshing", StepUpState::Refused) => {
            ("scope-refused", Some(scope))
        }
        ("active" | "expired" | "refreshing", _) => ("needs-more-access", Some(scope)),
        _ => (status, Some(scope)),
    }
}
