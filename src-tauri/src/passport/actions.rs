//! The dashboard's buttons on an account or a server: revoke one server,
//! sign out, refresh now. Each returns one sentence for the user, or an
//! error that says what to do next.

use super::{Event, Passport, lock};
use crate::error::UiError;
use passport_core::engine::RevokeOutcome;

impl Passport {
    /// Revokes one server (narrowing the grant at the AS where it can).
    pub async fn revoke_server(&self, server: &str) -> Result<String, UiError> {
        let outcome = self.engine.revoke_server(server).await;
        self.report(outcome.map_err(UiError::from).map(|outcome| match outcome {
            RevokeOutcome::Narrowed => format!(
                "{server} was removed from your sign-in and its tokens were revoked. Add it again with Add servers."
            ),
            RevokeOutcome::SignedOut => format!(
                "{server} was your last server there, so you are signed out of that account."
            ),
            RevokeOutcome::BlockedLocally { reason } => format!(
                "{server} is blocked on this computer, but the authorization server still lists it ({reason}). Remove it there too to revoke it fully."
            ),
        }))
    }

    /// Signs out of one authorization server: revokes and forgets its grants.
    pub async fn sign_out(&self, issuer: &str) -> Result<String, UiError> {
        let result = match self.engine.sign_out(issuer).await {
            Ok(0) => Err(UiError::new(
                "not_signed_in",
                format!("You are not signed in to {issuer}; nothing was changed."),
            )),
            Ok(_) => Ok(format!("Signed out of {issuer}; its tokens were revoked.")),
            Err(e) => Err(e.into()),
        };
        self.report(result)
    }

    /// Refreshes every server of one account now.
    pub async fn refresh_now(&self, issuer: &str) -> Result<String, UiError> {
        let grants: Vec<_> = self
            .engine
            .grants()
            .into_iter()
            .filter(|g| g.issuer == issuer)
            .collect();
        if grants.is_empty() {
            return Err(UiError::new(
                "not_signed_in",
                format!("You are not signed in to {issuer}. Sign in first."),
            ));
        }
        lock(&self.refreshing).extend(grants.iter().map(|g| g.id.clone()));
        self.emit(Event::Changed);
        let mut first_error = None;
        let mut refreshed = 0;
        for grant in &grants {
            for server in grant
                .servers
                .iter()
                .filter(|s| !grant.blocked.contains(&s.id))
            {
                self.engine.invalidate(&server.id);
                match self.engine.token(&server.id).await {
                    Ok(_) => refreshed += 1,
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        {
            let mut refreshing = lock(&self.refreshing);
            for grant in &grants {
                refreshing.remove(&grant.id);
            }
        }
        self.notice_changes();
        self.report(match first_error {
            Some(e) => Err(e.into()),
            None => Ok(format!("Refreshed {refreshed} token(s) from {issuer}.")),
        })
    }

    /// Shows an action's outcome in the dashboard's banner, and returns it.
    pub(super) fn report(&self, result: Result<String, UiError>) -> Result<String, UiError> {
        {
            let mut activity = lock(&self.activity);
            match &result {
                Ok(message) => {
                    activity.message = Some(message.clone());
                    activity.error = None;
                }
                Err(e) => {
                    activity.message = None;
                    activity.error = Some(e.clone());
                }
            }
        }
        self.emit(Event::Changed);
        result
    }
}
