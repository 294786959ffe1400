//! The dashboard's buttons on an account or a server: revoke one server,
//! sign out, refresh now. Each returns one sentence for the user, or an
//! error that says what to do next.
//!
//! An action says it has started (which clears the last outcome from the
//! banner) and reports its own outcome when it has finished, so the banner
//! never pairs the state after one action with the words of another. A
//! server being revoked shows as "revoking" until the authorization server
//! has narrowed the grant and revoked its tokens: the engine marks it blocked
//! at the start (so this computer stops serving it at once), and the
//! dashboard must not read that mark as "gone" while the AS still accepts
//! its tokens.

use super::{Event, Passport, lock};
use crate::error::UiError;
use passport_core::engine::RevokeOutcome;

impl Passport {
    /// Revokes one server (narrowing the grant at the AS where it can).
    pub async fn revoke_server(&self, server: &str) -> Result<String, UiError> {
        self.begin_action(
            format!("Revoking {server}: asking the authorization server to remove it and revoke its tokens…"),
            Some(server),
        );
        let outcome = self.engine.revoke_server(server).await;
        self.follow_grants();
        let result = outcome.map_err(UiError::from).map(|outcome| match outcome {
            RevokeOutcome::Narrowed => format!(
                "{server} was removed from your sign-in and its tokens were revoked. Add it again with Add servers."
            ),
            RevokeOutcome::SignedOut => format!(
                "{server} was your last server there, so you are signed out of that account."
            ),
            RevokeOutcome::BlockedLocally { reason } => format!(
                "{server} is blocked on this computer, but the authorization server still lists it ({reason}). Remove it there too to revoke it fully."
            ),
        });
        self.end(result, Some(server))
    }

    /// Signs out of one authorization server: revokes and forgets its grants.
    pub async fn sign_out(&self, issuer: &str, account: Option<&str>) -> Result<String, UiError> {
        self.begin_action(
            format!("Signing out of {issuer} and revoking its tokens…"),
            None,
        );
        let signed_out = match account {
            Some(label) => self.engine.sign_out_account(Some(issuer), label).await,
            None => self.engine.sign_out(issuer).await,
        };
        self.follow_grants();
        let result = match signed_out {
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
            return self.report(Err(UiError::new(
                "not_signed_in",
                format!("You are not signed in to {issuer}. Sign in first."),
            )));
        }
        lock(&self.refreshing).extend(grants.iter().map(|g| g.id.clone()));
        self.begin_action(format!("Refreshing the tokens from {issuer}…"), None);
        let mut first_error = None;
        let mut refreshed = 0;
        for grant in &grants {
            for server in grant.active_servers() {
                let address = passport_core::account::qualified(grant, &server.id);
                match self.engine.refresh_now(&address).await {
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

    /// Shows that an action started: clears the last outcome, and marks
    /// `revoking` (a server id) as being revoked.
    fn begin_action(&self, working: String, revoking: Option<&str>) {
        {
            let mut activity = lock(&self.activity);
            activity.working = Some(working);
            activity.message = None;
            activity.error = None;
            if let Some(server) = revoking {
                activity.revoking.push(server.to_string());
            }
        }
        self.emit(Event::Changed);
    }

    /// Shows an action's outcome in the dashboard's banner, and returns it.
    pub(super) fn report(&self, result: Result<String, UiError>) -> Result<String, UiError> {
        self.end(result, None)
    }

    /// Ends an action: its outcome, and (in the same step, so the page never
    /// sees one without the other) the end of `revoked`'s revocation.
    fn end(
        &self,
        result: Result<String, UiError>,
        revoked: Option<&str>,
    ) -> Result<String, UiError> {
        {
            let mut activity = lock(&self.activity);
            activity.working = None;
            if let Some(server) = revoked
                && let Some(at) = activity.revoking.iter().position(|s| s == server)
            {
                activity.revoking.remove(at);
            }
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
