//! "Sign in with your organization" (Enterprise-Managed Authorization): one
//! sign-in at the organization's identity provider in the browser (back
//! through the app's scheme, or a loopback listener), then every server's
//! token with no browser. Each server gets a row (signed in, or failed and
//! what to do); the grant is then listed like any other, every server with
//! its own expiry.

use super::sign_in::parse_target;
use super::sign_in_rows::{RowState, SignInRow};
use super::{Event, Passport, lock};
use crate::error::UiError;
use crate::settings::Redirect;
use passport_core::engine::{EnterpriseLogin, EnterpriseReport, LoginTarget};
use passport_core::loopback::sign_in_via_loopback;
use passport_core::secret::ClientSecret;
use std::sync::Arc;
use std::time::Duration;

/// How long the sign-in waits for the browser.
const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);

/// What the page sends.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct OrganizationSignIn {
    /// The identity provider's address (its issuer).
    pub idp: String,
    /// The MCP server addresses, separated by spaces, commas or lines.
    pub servers: String,
    /// The application's client id at the servers' authorization servers
    /// (empty: the one the identity provider names).
    #[serde(default)]
    pub client_id: Option<String>,
    /// Its secret there, if the administrator gave one.
    #[serde(default)]
    pub client_secret: Option<String>,
}

fn checked(form: &OrganizationSignIn) -> Result<(String, Vec<String>), UiError> {
    let idp = form.idp.trim().to_string();
    if idp.is_empty() {
        return Err(UiError::new(
            "no_idp",
            "Type your organization's sign-in address (its identity provider), then choose Sign in with your organization.",
        ));
    }
    passport_core::url_policy::check_user_url(&idp).map_err(|e| {
        UiError::new(
            "url_refused",
            format!("{e}. Use the https:// address of your organization's identity provider."),
        )
    })?;
    let servers = match parse_target(&form.servers) {
        Ok(LoginTarget::Servers(urls)) => urls,
        Ok(LoginTarget::Issuer(one)) => vec![one],
        Err(_) => {
            return Err(UiError::new(
                "no_target",
                "Type the address of at least one MCP server to use through your organization.",
            ));
        }
    };
    Ok((idp, servers))
}

impl Passport {
    /// Starts a sign-in with the organization. Returns at once; progress
    /// and the outcome arrive as [`Event::Changed`].
    pub fn sign_in_organization(
        self: &Arc<Self>,
        form: &OrganizationSignIn,
    ) -> Result<(), UiError> {
        let started =
            checked(form).and_then(|(idp, servers)| self.begin_organization(form, idp, servers));
        self.refused(started)
    }

    fn begin_organization(
        self: &Arc<Self>,
        form: &OrganizationSignIn,
        idp: String,
        servers: Vec<String>,
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
            activity.signing_in = Some(format!("your organization ({idp})"));
            activity.message = None;
            activity.error = None;
            activity.prompts.clear();
            activity.sign_in_rows = servers
                .iter()
                .map(|s| SignInRow {
                    server: s.clone(),
                    name: s.clone(),
                    state: RowState::Waiting,
                    reason: None,
                })
                .collect();
        }
        let login = EnterpriseLogin {
            idp,
            idp_client_id: passport_core::id_jag::DEFAULT_IDP_CLIENT_ID.into(),
            id_token_file: None,
            servers,
            client_id: form.client_id.clone().filter(|c| !c.trim().is_empty()),
            secret: form
                .client_secret
                .clone()
                .filter(|s| !s.is_empty())
                .map(ClientSecret::new),
            scope: None,
            redirect_uri: String::new(),
            timeout: SIGN_IN_TIMEOUT,
            account: None,
        };
        let me = Arc::clone(self);
        *signing = Some(tokio::spawn(async move {
            let result = me.run_organization(login).await;
            me.finish_organization(result);
        }));
        drop(signing);
        self.emit(Event::Changed);
        Ok(())
    }

    async fn run_organization(&self, login: EnterpriseLogin) -> Result<EnterpriseReport, UiError> {
        match &self.settings.redirect {
            Redirect::Scheme(uri) => {
                let login = EnterpriseLogin {
                    redirect_uri: uri.clone(),
                    ..login
                };
                Ok(self.engine.login_enterprise(&login, self.opener.as_ref()).await?)
            }
            Redirect::Loopback => sign_in_via_loopback(
                self.engine.flows(),
                self.engine.clock(),
                SIGN_IN_TIMEOUT,
                |redirect_uri| async move {
                    let login = EnterpriseLogin {
                        redirect_uri,
                        ..login
                    };
                    self.engine.login_enterprise(&login, self.opener.as_ref()).await
                },
            )
            .await
            .map_err(|e| {
                UiError::new("loopback", format!("Cannot listen on 127.0.0.1 for the browser's return ({e}). Check that no firewall blocks this computer's own address."))
            })?
            .map_err(UiError::from),
        }
    }

    fn finish_organization(&self, result: Result<EnterpriseReport, UiError>) {
        let signed_in = result.as_ref().is_ok_and(|r| r.grant.is_some());
        if signed_in {
            self.follow_grants();
        }
        {
            let mut activity = lock(&self.activity);
            activity.signing_in = None;
            match result {
                Ok(report) => {
                    let mut rows = Vec::new();
                    if let Some(grant) = &report.grant {
                        rows.extend(grant.servers.iter().map(|s| SignInRow {
                            server: s.id.clone(),
                            name: s.name.clone(),
                            state: RowState::SignedIn,
                            reason: None,
                        }));
                    }
                    rows.extend(report.failed.iter().map(|(server, e)| SignInRow {
                        server: server.clone(),
                        name: server.clone(),
                        state: RowState::Failed,
                        reason: Some(UiError::from(e).message),
                    }));
                    activity.sign_in_rows = rows;
                    let ok = report.grant.as_ref().map_or(0, |g| g.servers.len());
                    if report.failed.is_empty() {
                        activity.message = Some(format!(
                            "Signed in with your organization: {ok} server(s) ready, each renewed through your organization."
                        ));
                    } else {
                        activity.error = Some(UiError::new(
                            "partly_signed_in",
                            format!(
                                "{ok} server(s) signed in through your organization; {} could not be (see each server's row for what to do).",
                                report.failed.len()
                            ),
                        ));
                    }
                }
                Err(e) => {
                    for row in activity.sign_in_rows.iter_mut() {
                        row.state = RowState::Failed;
                        row.reason =
                            Some("the sign-in with your organization did not finish".into());
                    }
                    activity.error = Some(e);
                }
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
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_form_needs_an_idp_address_and_a_server() {
        let form = |idp: &str, servers: &str| OrganizationSignIn {
            idp: idp.into(),
            servers: servers.into(),
            ..OrganizationSignIn::default()
        };
        let code = |f: &OrganizationSignIn| checked(f).map(|_| ()).map_err(|e| e.code);
        assert_eq!(
            code(&form(" ", "https://a.example/mcp")),
            Err("no_idp".into())
        );
        assert_eq!(
            code(&form("http://idp.example", "https://a.example/mcp")),
            Err("url_refused".into())
        );
        assert_eq!(
            code(&form("https://idp.example", "")),
            Err("no_target".into())
        );
        let (idp, servers) = checked(&form(
            "https://idp.example ",
            "https://a.example/mcp, https://b.example/x",
        ))
        .unwrap();
        assert_eq!(idp, "https://idp.example");
        assert_eq!(servers.len(), 2);
    }
}
