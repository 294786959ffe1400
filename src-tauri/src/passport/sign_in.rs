//! Signing in from the dashboard: the browser goes to the AS and comes
//! back through the app's private-use scheme (a deep link), or through a
//! loopback listener when the AS will not register the scheme. The sign-in
//! runs in the background; the dashboard shows a row per server
//! (`sign_in_rows`: waiting for the browser, signed in, failed and why) and
//! then what happened.

use super::quirks::{self, Attempt, QuirkPrompt};
use super::sign_in_rows::{self, RowState, Rows, SignInRow};
use super::{Event, Passport, lock};
use crate::error::UiError;
use crate::settings::Redirect;
use passport_core::engine::{FlowOutcome, LoginReport, LoginRequest, LoginTarget};
use passport_core::error::EngineError;
use passport_core::loopback::sign_in_via_loopback;
use passport_core::model::Mode;
use passport_core::registration::RegistrationError;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// How long a sign-in waits for the browser.
const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);

/// A sign-in in progress, the action under way, and the outcome of the
/// last action. An action that starts clears the last outcome, so the
/// banner only ever shows the outcome of the action that just ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Activity {
    /// What the sign-in in progress is for. While it is set, nothing else
    /// that starts a sign-in is offered.
    pub signing_in: Option<String>,
    /// The action under way (revoking, refreshing, signing out), in one sentence.
    pub working: Option<String>,
    /// The servers whose revocation is under way: not gone until the
    /// authorization server has narrowed the grant and revoked their tokens.
    pub revoking: Vec<String>,
    /// The last success, in one sentence.
    pub message: Option<String>,
    /// The last failure.
    pub error: Option<UiError>,
    /// One row per server of the sign-in under way, or of the last one.
    pub sign_in_rows: Vec<SignInRow>,
    /// What the last sign-in needs from the user to go on, per issuer.
    pub prompts: Vec<QuirkPrompt>,
}

/// What the user typed: an issuer, or MCP server URLs.
pub fn parse_target(raw: &str) -> Result<LoginTarget, UiError> {
    let parts: Vec<&str> = raw
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        return Err(UiError::new(
            "no_target",
            "Type the address of your authorization server or of an MCP server, then choose Sign in.",
        ));
    }
    for part in &parts {
        passport_core::url_policy::check_user_url(part).map_err(|e| {
            UiError::new(
                "url_refused",
                format!("{e}. Use an https:// address (http:// only for this computer)."),
            )
        })?;
    }
    let addresses: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
    Ok(LoginTarget::from_addresses(&addresses))
}

fn describe(target: &LoginTarget) -> String {
    match target {
        LoginTarget::Issuer(issuer) => issuer.clone(),
        LoginTarget::Servers(urls) => urls.join(", "),
    }
}

impl Passport {
    /// Starts a sign-in to what the user typed. Returns at once; progress
    /// and the outcome arrive as [`Event::Changed`].
    pub fn sign_in(self: &Arc<Self>, target: &str) -> Result<(), UiError> {
        self.sign_in_as(target, None)
    }

    /// Starts a sign-in like [`Passport::sign_in`] under the account label
    /// the user chose (`None` or empty: the default rule).
    pub fn sign_in_as(
        self: &Arc<Self>,
        target: &str,
        account: Option<&str>,
    ) -> Result<(), UiError> {
        let started = quirks::check_account(account).and_then(|account| {
            let target = parse_target(target)?;
            let attempt = Attempt {
                account,
                client: None,
            };
            self.begin_with(target, Vec::new(), attempt)
        });
        self.refused(started)
    }

    /// Re-opens the AS's server picker with the current servers checked.
    pub fn add_servers(self: &Arc<Self>, issuer: &str) -> Result<(), UiError> {
        let started = self.reopen_picker(issuer);
        self.refused(started)
    }

    /// Shows why a sign-in did not start; returns the same result.
    pub(super) fn refused(&self, started: Result<(), UiError>) -> Result<(), UiError> {
        if let Err(e) = &started {
            let mut activity = lock(&self.activity);
            activity.message = None;
            activity.error = Some(e.clone());
            drop(activity);
            self.emit(Event::Changed);
        }
        started
    }

    fn reopen_picker(self: &Arc<Self>, issuer: &str) -> Result<(), UiError> {
        let grant = self
            .engine
            .grants()
            .into_iter()
            .find(|g| g.issuer == issuer)
            .ok_or_else(|| {
                UiError::new(
                    "not_signed_in",
                    format!("You are not signed in to {issuer}. Sign in first."),
                )
            })?;
        if grant.mode != Mode::MultiServer {
            return Err(UiError::new(
                "no_picker",
                format!(
                    "{issuer} has no server picker. To add a server, sign in with that server's address."
                ),
            ));
        }
        let current = grant.active_servers().map(|s| s.id.clone()).collect();
        self.begin(LoginTarget::Issuer(issuer.to_string()), current)
    }

    /// Stops waiting for the browser.
    pub fn cancel_sign_in(&self) -> Result<(), UiError> {
        let task = lock(&self.signing).take();
        let waiting = lock(&self.activity).signing_in.take().is_some();
        let Some(task) = task.filter(|_| waiting) else {
            return self.refused(Err(UiError::new(
                "no_sign_in",
                "No sign-in is waiting for your browser; there is nothing to cancel.",
            )));
        };
        task.abort();
        {
            let mut activity = lock(&self.activity);
            for row in activity
                .sign_in_rows
                .iter_mut()
                .filter(|r| r.state == RowState::Waiting)
            {
                row.state = RowState::Failed;
                row.reason = Some("cancelled".into());
            }
            activity.message = Some(
                "Sign-in cancelled. Nothing was changed; you can start it again when you are ready."
                    .into(),
            );
            activity.error = None;
        }
        self.emit(Event::Changed);
        Ok(())
    }

    pub(super) fn begin(
        self: &Arc<Self>,
        target: LoginTarget,
        servers: Vec<String>,
    ) -> Result<(), UiError> {
        self.begin_with(target, servers, Attempt::default())
    }

    pub(super) fn begin_with(
        self: &Arc<Self>,
        target: LoginTarget,
        servers: Vec<String>,
        attempt: Attempt,
    ) -> Result<(), UiError> {
        let mut signing = lock(&self.signing);
        if signing.as_ref().is_some_and(|t| !t.is_finished()) {
            return Err(UiError::new(
                "busy",
                "A sign-in is already waiting for your browser. Finish it there, or cancel it first.",
            ));
        }
        {
            let mut activity = lock(&self.activity);
            activity.signing_in = Some(describe(&target));
            activity.message = None;
            activity.error = None;
            activity.sign_in_rows.clear();
            activity.prompts.clear();
        }
        let me = Arc::clone(self);
        *signing = Some(tokio::spawn(async move {
            let result = me.run(&target, servers, &attempt).await;
            me.finish(result, &target, &attempt);
        }));
        drop(signing);
        self.emit(Event::Changed);
        Ok(())
    }

    async fn run(
        &self,
        target: &LoginTarget,
        servers: Vec<String>,
        attempt: &Attempt,
    ) -> Result<LoginReport, UiError> {
        let report = match &self.settings.redirect {
            Redirect::Scheme(uri) => {
                let mut report = self.login(target, &servers, attempt, uri.clone()).await;
                // Only a refused redirect URI falls back: any other
                // registration failure would fail the same way on loopback.
                let (refused, kept): (Vec<_>, Vec<_>) = report.flows.drain(..).partition(|f| {
                    matches!(
                        &f.outcome,
                        FlowOutcome::Failed(EngineError::Registration(
                            RegistrationError::RedirectUriRefused { .. }
                        ))
                    )
                });
                report.flows = kept;
                if !refused.is_empty() {
                    tracing::info!("the AS refused the app's scheme; using a loopback redirect");
                    let retry = match target {
                        LoginTarget::Issuer(_) => target.clone(),
                        LoginTarget::Servers(_) => LoginTarget::Servers(
                            refused
                                .iter()
                                .flat_map(|f| f.target.servers.iter().map(|s| s.id.clone()))
                                .collect(),
                        ),
                    };
                    let again = self.login_loopback(&retry, &servers, attempt).await?;
                    report.flows.extend(again.flows);
                }
                report
            }
            Redirect::Loopback => self.login_loopback(target, &servers, attempt).await?,
        };
        // Fetch each server's token now, so the dashboard shows expiries at once.
        for grant in report.grants() {
            for server in &grant.servers {
                let address = passport_core::account::qualified(&grant, &server.id);
                if let Err(e) = self.engine.token(&address).await {
                    tracing::warn!(server = %address, error = %e, "no token right after sign-in");
                }
            }
        }
        Ok(report)
    }

    async fn login(
        &self,
        target: &LoginTarget,
        servers: &[String],
        attempt: &Attempt,
        redirect_uri: String,
    ) -> LoginReport {
        let request = LoginRequest {
            target: target.clone(),
            servers: servers.to_vec(),
            client: attempt.client.clone(),
            redirect_uri,
            scope: None,
            timeout: SIGN_IN_TIMEOUT,
            account: attempt.account.clone(),
        };
        self.engine
            .sign_in(&request, self.opener.as_ref(), &Rows(self))
            .await
    }

    async fn login_loopback(
        &self,
        target: &LoginTarget,
        servers: &[String],
        attempt: &Attempt,
    ) -> Result<LoginReport, UiError> {
        sign_in_via_loopback(
            self.engine.flows(),
            self.engine.clock(),
            SIGN_IN_TIMEOUT,
            |redirect_uri| self.login(target, servers, attempt, redirect_uri),
        )
        .await
        .map_err(|e| {
            UiError::new("loopback", format!("Cannot listen on 127.0.0.1 for the browser's return ({e}). Check that no firewall blocks this computer's own address."))
        })
    }

    fn finish(
        &self,
        result: Result<LoginReport, UiError>,
        target: &LoginTarget,
        attempt: &Attempt,
    ) {
        let signed_in = result
            .as_ref()
            .is_ok_and(|report| !report.grants().is_empty());
        if signed_in {
            self.follow_grants();
        }
        let prompts = result.as_ref().map_or_else(
            |_| Vec::new(),
            |report| quirks::prompts(report, target, attempt, &self.settings.redirect),
        );
        {
            let mut activity = lock(&self.activity);
            activity.signing_in = None;
            activity.prompts = prompts;
            match result.and_then(|report| sign_in_rows::summary(&report)) {
                Ok(message) => activity.message = Some(message),
                Err(e) => activity.error = Some(e),
            }
        }
        self.emit(Event::Changed);
        if signed_in {
            self.emit(Event::SignedIn);
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_issuers_or_server_urls() {
        assert!(
            matches!(parse_target(" http://127.0.0.1:9400 "), Ok(LoginTarget::Issuer(i)) if i == "http://127.0.0.1:9400")
        );
        assert!(
            matches!(parse_target("https://mcp.example.com/mcp"), Ok(LoginTarget::Servers(s)) if s.len() == 1)
        );
        assert!(
            matches!(parse_target("https://a.example/x, https://b.example/y"), Ok(LoginTarget::Servers(s)) if s.len() == 2)
        );
        assert_eq!(
            parse_target("  ").map(|_| ()).map_err(|e| e.code),
            Err("no_target".into())
        );
        assert_eq!(
            parse_target("http://example.com")
                .map(|_| ())
                .map_err(|e| e.code),
            Err("url_refused".into())
        );
        assert_eq!(
            parse_target("file:///etc/passwd")
                .map(|_| ())
                .map_err(|e| e.code),
            Err("url_refused".into())
        );
    }
}
