//! The app's controller: one engine, the broker it hosts, the demo stack
//! when asked (in a build with the `demo` feature), and what the dashboard shows. It knows nothing of Tauri: the
//! shell gives it an [`Opener`] and an event sink, and every Tauri command is
//! one call here, so all of this is tested without a window.

mod actions;
mod client_state;
mod clients;
mod import;
mod organization;
mod quirks;
mod services;
mod sign_in;
mod sign_in_rows;
mod step_up;
mod watch;

use crate::error::UiError;
use crate::settings::Settings;
use crate::view::{self, AccountView};
use chrono::{DateTime, Utc};
use passport_broker::{BrokerState, RunningBroker};
use passport_core::clock::SystemClock;
use passport_core::engine::{Engine, EngineConfig, Opener};
use passport_core::http::HttpClient;
use passport_core::lock::RefresherLock;
use passport_core::store::TokenStore;
use serde::Serialize;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub use client_state::AllPreview;
pub use clients::ClientSetup;
pub use organization::OrganizationSignIn;
pub use quirks::QuirkPrompt;
pub use services::BrokerView;
pub use sign_in::Activity;
pub use sign_in_rows::{RowState, SignInRow};

/// What the controller tells the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Something the dashboard or tray shows changed.
    Changed,
    /// A sign-in finished: bring the dashboard forward.
    SignedIn,
    /// Tell the user (a desktop notification).
    Notify {
        /// Title.
        title: String,
        /// One sentence.
        body: String,
    },
}

/// Where events go.
pub type Events = Arc<dyn Fn(Event) + Send + Sync>;

/// One client's use of one server, from the broker's audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientUse {
    /// The client (its key's name).
    pub client: String,
    /// The server.
    pub server: String,
    /// Last use.
    pub last_used: DateTime<Utc>,
    /// Uses in the recent audit.
    pub uses: usize,
    /// `ok` or the last error code.
    pub outcome: String,
}

/// Everything the dashboard shows at once.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    /// The accounts and their servers.
    pub accounts: Vec<AccountView>,
    /// A sign-in in progress, and the last result.
    pub activity: Activity,
    /// The local endpoint.
    pub broker: BrokerView,
    /// Which client used which server.
    pub clients: Vec<ClientUse>,
    /// Clients with a key (connected), by name.
    pub connected: Vec<String>,
    /// The MCP clients MCP Passport can set up, and whether each is.
    pub setups: Vec<ClientSetup>,
    /// The demo's issuer, when the demo runs.
    pub demo_issuer: Option<String>,
    /// Whether the app starts at login.
    pub autostart: bool,
    /// The app's clock, so countdowns agree with it.
    pub now: DateTime<Utc>,
}

/// The controller.
pub struct Passport {
    engine: Arc<Engine>,
    settings: Settings,
    opener: Arc<dyn Opener>,
    events: Events,
    activity: Mutex<Activity>,
    refreshing: Mutex<HashSet<String>>,
    signing: Mutex<Option<tokio::task::JoinHandle<()>>>,
    broker: tokio::sync::Mutex<Option<RunningBroker>>,
    broker_state: Mutex<Option<Arc<BrokerState>>>,
    broker_view: Mutex<BrokerView>,
    #[cfg(feature = "demo")]
    demo: tokio::sync::Mutex<Option<reference_as::demo::Demo>>,
    demo_issuer: Mutex<Option<String>>,
    lock: Mutex<Option<RefresherLock>>,
    seen: Mutex<watch::Seen>,
}

impl std::fmt::Debug for Passport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passport")
            .field("home", &self.settings.paths.home)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Passport {
    /// Builds the controller: loads the state file; secrets go to `store`.
    pub fn open(
        settings: Settings,
        store: Arc<dyn TokenStore>,
        opener: Arc<dyn Opener>,
        events: Events,
    ) -> Result<Arc<Self>, UiError> {
        let http = HttpClient::new().map_err(|e| UiError::new("http_client", e.to_string()))?;
        let config = EngineConfig::new(settings.paths.state_file());
        let engine = Engine::new(config, http, Arc::new(SystemClock), store)?;
        Ok(Arc::new(Self {
            engine: Arc::new(engine),
            settings,
            opener,
            events,
            activity: Mutex::new(Activity::default()),
            refreshing: Mutex::new(HashSet::new()),
            signing: Mutex::new(None),
            broker: tokio::sync::Mutex::new(None),
            broker_state: Mutex::new(None),
            broker_view: Mutex::new(BrokerView::default()),
            #[cfg(feature = "demo")]
            demo: tokio::sync::Mutex::new(None),
            demo_issuer: Mutex::new(None),
            lock: Mutex::new(None),
            seen: Mutex::new(watch::Seen::default()),
        }))
    }

    /// The engine (for the shell's deep-link path and for tests).
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The settings of this run.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn emit(&self, event: Event) {
        (self.events)(event);
    }

    /// Everything the dashboard shows. `autostart` comes from the shell.
    pub fn overview(&self, autostart: bool) -> Overview {
        let now = self.engine.clock().now();
        // The activity before the grants: a revocation that has ended was
        // finished in the grants first, so the page never sees a server
        // neither revoking nor gone while its revocation is still under way.
        let activity = lock(&self.activity).clone();
        let accounts = self.accounts_at(now, &activity);
        let (clients, connected) = self.client_uses();
        let overview = Overview {
            accounts,
            activity,
            broker: lock(&self.broker_view).clone(),
            clients,
            connected,
            setups: self.client_setups(),
            demo_issuer: lock(&self.demo_issuer).clone(),
            autostart,
            now,
        };
        // What `scripts/footprint.sh` times the dashboard's first data by.
        tracing::debug!(step = "overview made", "dashboard");
        overview
    }

    /// The accounts and their servers alone (what the tray shows): none of
    /// the overview's reading of MCP clients' files and the broker's audit.
    pub fn accounts(&self) -> Vec<AccountView> {
        let activity = lock(&self.activity).clone();
        self.accounts_at(self.engine.clock().now(), &activity)
    }

    fn accounts_at(&self, now: DateTime<Utc>, activity: &Activity) -> Vec<AccountView> {
        let refreshing = lock(&self.refreshing).clone();
        view::accounts(
            &self.engine.grants(),
            now,
            &view::Busy {
                refreshing: &refreshing,
                revoking: &activity.revoking,
            },
        )
    }

    /// Hands a deep link (or any callback URL) to the pending sign-in.
    /// Anything that matches no pending sign-in is dropped and changes nothing.
    pub fn deliver_callback(&self, url: &str) {
        if let Err(e) = self.engine.deliver_callback(url) {
            tracing::warn!(error = %e, "a sign-in callback was dropped");
        }
    }

    /// Finds the callback among a launch's arguments (the OS starts the
    /// app with the deep link as an argument) and delivers it. Two callback
    /// URLs, or a malformed one, are refused whole.
    pub fn deliver_from_args(&self, args: &[String]) {
        let prefix = format!("{}:", crate::settings::SCHEME);
        match passport_core::callback::callback_from_args(args, crate::settings::SCHEME) {
            Ok(Some(_)) => {
                if let Some(arg) = args.iter().find(|a| {
                    a.get(..prefix.len())
                        .is_some_and(|h| h.eq_ignore_ascii_case(&prefix))
                }) {
                    self.deliver_callback(arg);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "a launch with a malformed callback was ignored"),
        }
    }

    fn client_uses(&self) -> (Vec<ClientUse>, Vec<String>) {
        let Some(state) = lock(&self.broker_state).clone() else {
            return (Vec::new(), Vec::new());
        };
        let mut uses: Vec<ClientUse> = Vec::new();
        for entry in state.audit.recent() {
            match uses
                .iter_mut()
                .find(|u| u.client == entry.client && u.server == entry.server)
            {
                Some(u) => {
                    u.uses += 1;
                    u.last_used = entry.at;
                    u.outcome = entry.outcome;
                }
                None => uses.push(ClientUse {
                    client: entry.client,
                    server: entry.server,
                    last_used: entry.at,
                    uses: 1,
                    outcome: entry.outcome,
                }),
            }
        }
        uses.sort_by_key(|u| std::cmp::Reverse(u.last_used));
        let mut connected: Vec<String> = state
            .keys
            .list()
            .into_iter()
            .filter(|k| !k.revoked && k.client != passport_broker::CLI_CLIENT)
            .map(|k| k.client)
            .collect();
        connected.sort();
        connected.dedup();
        (uses, connected)
    }
}
