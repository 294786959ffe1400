//! Provider quirks on the dashboard. A sign-in that failed because its
//! authorization server registers no clients (`client_id_needed`, GitHub
//! OAuth apps) or announces endpoints on hosts the user has not confirmed
//! (`endpoint_host_unconfirmed`, Google) leaves a prompt for that issuer.
//! Answering it signs in again: with the pre-registered client the user
//! typed (its secret goes to the keyring only), or with the hosts named by
//! the AS allowed for that exact issuer from now on. Dismissing it changes
//! nothing.

use super::{Event, Passport, lock};
use crate::error::UiError;
use crate::settings::Redirect;
use passport_core::discovery::DiscoveryError;
use passport_core::engine::{FlowOutcome, LoginReport, LoginTarget};
use passport_core::error::EngineError;
use passport_core::registration::{ClientChoice, RegistrationError};
use passport_core::secret::ClientSecret;
use passport_core::token::TokenError;
use serde::Serialize;
use std::sync::Arc;

/// The longest client id or secret accepted from the page.
const MAX_CLIENT_FIELD: usize = 512;

/// What a failed sign-in needs from the user before it can go on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuirkPrompt {
    /// `client_id_needed` or `endpoint_host_unconfirmed`.
    pub code: String,
    /// The authorization server.
    pub issuer: String,
    /// The endpoint hosts to confirm (`endpoint_host_unconfirmed`).
    pub hosts: Vec<String>,
    /// The redirect address to register with the OAuth app (`client_id_needed`).
    pub redirect_uri: Option<String>,
    /// The MCP server addresses to sign in to again; empty: the issuer.
    pub servers: Vec<String>,
    /// The account label of the sign-in that failed.
    pub account: Option<String>,
    /// The AS refused the client the user gave (`client_id_needed`): ask
    /// to check the id and secret.
    pub refused: bool,
}

impl QuirkPrompt {
    fn target(&self) -> LoginTarget {
        if self.servers.is_empty() {
            LoginTarget::Issuer(self.issuer.clone())
        } else {
            LoginTarget::Servers(self.servers.clone())
        }
    }
}

/// How a sign-in is made beyond its target: the account label, and the
/// pre-registered client when the user gave one.
#[derive(Debug, Clone, Default)]
pub(super) struct Attempt {
    pub(super) account: Option<String>,
    pub(super) client: Option<ClientChoice>,
}

/// The redirect address an OAuth app registered for the app must allow.
fn redirect_to_register(redirect: &Redirect) -> String {
    match redirect {
        Redirect::Scheme(uri) => uri.clone(),
        Redirect::Loopback => format!("http://127.0.0.1{}", passport_core::loopback::CALLBACK_PATH),
    }
}

/// The prompts a finished sign-in leaves, one per issuer and question.
pub(super) fn prompts(
    report: &LoginReport,
    target: &LoginTarget,
    attempt: &Attempt,
    redirect: &Redirect,
) -> Vec<QuirkPrompt> {
    let mut out: Vec<QuirkPrompt> = Vec::new();
    for flow in &report.flows {
        let FlowOutcome::Failed(e) = &flow.outcome else {
            continue;
        };
        let given = matches!(attempt.client, Some(ClientChoice::Preregistered { .. }));
        let (issuer, hosts, redirect_uri, refused) = match e {
            EngineError::Discovery(DiscoveryError::ForeignEndpoint { issuer, hosts, .. }) => {
                (issuer, hosts.clone(), None, false)
            }
            EngineError::Registration(RegistrationError::NoRegistration { issuer }) => (
                issuer,
                Vec::new(),
                Some(redirect_to_register(redirect)),
                false,
            ),
            // The client the user typed was refused (the engine has
            // dropped it): ask again rather than start over.
            EngineError::Token(TokenError::InvalidClient(_))
                if given && !flow.target.issuer.is_empty() =>
            {
                let to_register = Some(redirect_to_register(redirect));
                (&flow.target.issuer, Vec::new(), to_register, true)
            }
            _ => continue,
        };
        let servers: Vec<String> = match target {
            LoginTarget::Issuer(_) => Vec::new(),
            LoginTarget::Servers(_) => flow.target.servers.iter().map(|s| s.id.clone()).collect(),
        };
        let code = if refused {
            "client_id_needed".to_string()
        } else {
            e.code().to_string()
        };
        match out
            .iter_mut()
            .find(|p| p.issuer == *issuer && p.code == code)
        {
            Some(p) => {
                for s in servers {
                    if !p.servers.contains(&s) {
                        p.servers.push(s);
                    }
                }
                for h in hosts {
                    if !p.hosts.contains(&h) {
                        p.hosts.push(h);
                    }
                }
            }
            None => out.push(QuirkPrompt {
                code,
                issuer: issuer.clone(),
                hosts,
                redirect_uri,
                servers,
                account: attempt.account.clone(),
                refused,
            }),
        }
    }
    out
}

/// A client id or secret from the page: trimmed, not empty, no control
/// characters or spaces, not too long. The message never repeats the value.
fn check_client_field(value: &str, what: &str, code: &str) -> Result<String, UiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(UiError::new(
            code,
            format!(
                "Type the {what} of the OAuth app you registered, then choose Sign in with this client."
            ),
        ));
    }
    if value.len() > MAX_CLIENT_FIELD || value.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(UiError::new(
            code,
            format!(
                "That {what} has spaces, hidden characters or is too long. Copy it again from the OAuth app's page, then try again."
            ),
        ));
    }
    Ok(value.to_string())
}

/// The account label the user typed beside the address: empty for the
/// default (the token's account), else checked.
pub(super) fn check_account(raw: Option<&str>) -> Result<Option<String>, UiError> {
    match raw.map(str::trim).filter(|a| !a.is_empty()) {
        None => Ok(None),
        Some(label) => passport_core::account::check_label(label)
            .map(Some)
            .map_err(|e| {
                UiError::new(
                    "bad_account",
                    format!("{e}. Change the account label, or leave it empty for the default."),
                )
            }),
    }
}

impl Passport {
    fn prompt(&self, issuer: &str, code: &str) -> Result<QuirkPrompt, UiError> {
        lock(&self.activity)
            .prompts
            .iter()
            .find(|p| p.issuer == issuer && p.code == code)
            .cloned()
            .ok_or_else(|| {
                UiError::new(
                    "no_prompt",
                    format!("No sign-in to {issuer} is waiting for this answer. Start the sign-in again."),
                )
            })
    }

    /// Signs in again to the issuer that needs a pre-registered client,
    /// with this one. The secret goes to the keyring only.
    pub fn sign_in_with_client(
        self: &Arc<Self>,
        issuer: &str,
        client_id: &str,
        client_secret: Option<&str>,
    ) -> Result<(), UiError> {
        let started = self.retry_with_client(issuer, client_id, client_secret);
        self.refused(started)
    }

    fn retry_with_client(
        self: &Arc<Self>,
        issuer: &str,
        client_id: &str,
        client_secret: Option<&str>,
    ) -> Result<(), UiError> {
        let client_id = check_client_field(client_id, "client id", "bad_client_id")?;
        let client_secret = match client_secret.filter(|s| !s.trim().is_empty()) {
            Some(s) => Some(ClientSecret::new(check_client_field(
                s,
                "client secret",
                "bad_client_secret",
            )?)),
            None => None,
        };
        let prompt = self.prompt(issuer, "client_id_needed")?;
        let attempt = Attempt {
            account: prompt.account.clone(),
            client: Some(ClientChoice::Preregistered {
                client_id,
                client_secret,
                auth: None,
            }),
        };
        self.begin_with(prompt.target(), Vec::new(), attempt)
    }

    /// Allows the endpoint hosts the issuer's prompt names, for that issuer
    /// from now on, and signs in again.
    pub fn allow_endpoint_hosts(self: &Arc<Self>, issuer: &str) -> Result<(), UiError> {
        let started = self
            .prompt(issuer, "endpoint_host_unconfirmed")
            .and_then(|prompt| {
                self.engine.allow_endpoint_hosts(issuer, &prompt.hosts)?;
                let attempt = Attempt {
                    account: prompt.account.clone(),
                    client: None,
                };
                self.begin_with(prompt.target(), Vec::new(), attempt)
            });
        self.refused(started)
    }

    /// Drops the issuer's prompts; nothing else changes.
    pub fn dismiss_prompt(&self, issuer: &str) -> Result<(), UiError> {
        let dropped = {
            let mut activity = lock(&self.activity);
            let before = activity.prompts.len();
            activity.prompts.retain(|p| p.issuer != issuer);
            before != activity.prompts.len()
        };
        if !dropped {
            return self.refused(Err(UiError::new(
                "no_prompt",
                format!("Nothing about {issuer} is waiting for an answer."),
            )));
        }
        self.emit(Event::Changed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_fields_are_refused_without_repeating_them() {
        assert_eq!(
            check_client_field("  abc-123 ", "client id", "bad_client_id"),
            Ok("abc-123".into())
        );
        for bad in ["", "   ", "a\u{7}b", "a b", "x\ny", &"a".repeat(600)] {
            let Err(e) = check_client_field(bad, "client secret", "bad_client_secret") else {
                panic!("{bad:?} was accepted");
            };
            assert_eq!(e.code, "bad_client_secret");
            assert!(bad.trim().is_empty() || !e.message.contains(bad.trim()));
        }
        assert_eq!(check_account(Some("  ")), Ok(None));
        assert_eq!(check_account(Some("work")), Ok(Some("work".into())));
        assert_eq!(
            check_account(Some("a/b")).map_err(|e| e.code),
            Err("bad_account".into())
        );
    }
}
