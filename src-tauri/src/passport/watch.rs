//! Noticing change without being told: the broker refreshes in the
//! background and an AS can revoke a grant at any time, so the controller
//! looks at the grants (and the broker's latest audit record) every two seconds, tells the shell when anything the
//! user sees changed, and raises a notification when a grant needs a
//! sign-in, a refresh keeps failing or a server needs more access (once
//! per episode, not every tick).

use super::{Event, Passport, lock};
use passport_core::model::GrantStatus;
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Failed refreshes in a row before the user is told.
const FAILURES_BEFORE_NOTICE: u32 = 3;

/// What the watcher saw last.
#[derive(Debug, Default)]
pub struct Seen {
    /// A digest of the grants as last seen.
    fingerprint: String,
    /// Per grant, the problem the user was last told about.
    told: HashMap<String, &'static str>,
}

impl Passport {
    pub(super) fn watch(self: &Arc<Self>) {
        let me: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(2));
            loop {
                tick.tick().await;
                let Some(me) = me.upgrade() else { return };
                me.notice_changes();
            }
        });
    }

    /// Compares the grants with what was seen last; emits what changed.
    pub fn notice_changes(&self) {
        let grants = self.engine.grants();
        // The latest audit record too, so "recent use" updates as clients work.
        let last_use = lock(&self.broker_state).as_ref().and_then(|b| {
            b.audit
                .recent()
                .last()
                .map(|e| (e.at, e.client.clone(), e.server.clone()))
        });
        let fingerprint = format!(
            "{}{last_use:?}",
            serde_json::to_string(&grants).unwrap_or_default()
        );
        let mut notices = Vec::new();
        let changed = {
            let mut seen = lock(&self.seen);
            for grant in &grants {
                let problem = match &grant.status {
                    GrantStatus::SignInNeeded { .. } => Some("sign-in"),
                    GrantStatus::Unreachable { attempts, .. }
                        if *attempts >= FAILURES_BEFORE_NOTICE =>
                    {
                        Some("unreachable")
                    }
                    _ => None,
                };
                match problem {
                    Some(p) if seen.told.get(&grant.id) != Some(&p) => {
                        seen.told.insert(grant.id.clone(), p);
                        notices.push(match p {
                            "sign-in" => (
                                "Sign-in needed".to_string(),
                                format!("{} no longer accepts your sign-in. Open MCP Passport and sign in again.", grant.issuer),
                            ),
                            _ => (
                                "Cannot reach your authorization server".to_string(),
                                format!("Refreshing tokens from {} keeps failing. Unexpired tokens still work.", grant.issuer),
                            ),
                        });
                    }
                    Some(_) => {}
                    None => {
                        seen.told.remove(&grant.id);
                    }
                }
            }
            notices.extend(super::step_up::notices(&grants, &mut seen.told));
            let changed = seen.fingerprint != fingerprint;
            seen.fingerprint = fingerprint;
            changed
        };
        if changed {
            self.emit(Event::Changed);
        }
        for (title, body) in notices {
            self.emit(Event::Notify { title, body });
        }
    }
}
