//! The app's start, ordered so local MCP clients are answered first.
//!
//! A person never waits on the broker, but MCP clients started at login do:
//! so the controller is opened and the broker started on the async runtime
//! before the window system (GTK, the Tauri builder, the tray) is set up,
//! and the two proceed side by side. What the controller says before the
//! shell exists ([`Relay`]) waits and is handed over, in order, when the
//! shell attaches. Only the one app that owns the session
//! ([`crate::single_instance`]) gets this far.
//!
//! Each step is logged at `debug` (`start`, with `step` and the milliseconds
//! since `main` began), which is what `scripts/footprint.sh` breaks the start
//! down by.

use crate::passport::{Event, Events, Passport};
use crate::settings::Settings;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Instant;

static BEGAN: OnceLock<Instant> = OnceLock::new();

/// Notes when the app's own code began (the first line of `main`).
pub fn begin() {
    BEGAN.get_or_init(Instant::now);
}

/// Logs one step of the start, at `debug`.
pub fn mark(step: &'static str) {
    let ms = BEGAN
        .get()
        .map_or(0.0, |t| t.elapsed().as_secs_f64() * 1000.0);
    tracing::debug!(step, ms = format_args!("{ms:.1}"), "start");
}

enum Held<T> {
    /// Nobody takes them yet: what was sent, in order.
    Waiting(Vec<T>),
    Attached(Arc<dyn Fn(T) + Send + Sync>),
}

/// Hands what is sent to a receiver that attaches later; what is sent before
/// it attaches is kept and given to it, in order, when it does.
pub struct Relay<T>(Arc<Mutex<Held<T>>>);

impl<T> Clone for Relay<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Default for Relay<T> {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(Held::Waiting(Vec::new()))))
    }
}

impl<T> Relay<T> {
    /// Gives `item` to the receiver, or keeps it for the receiver to come.
    pub fn send(&self, item: T) {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut *held {
            Held::Waiting(waiting) => waiting.push(item),
            Held::Attached(receiver) => {
                let receiver = Arc::clone(receiver);
                drop(held);
                receiver(item);
            }
        }
    }

    /// Gives the kept items to `receiver`, in order, then every later one.
    pub fn attach(&self, receiver: impl Fn(T) + Send + Sync + 'static) {
        let receiver: Arc<dyn Fn(T) + Send + Sync> = Arc::new(receiver);
        loop {
            let waiting = {
                let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
                match &mut *held {
                    Held::Waiting(waiting) if waiting.is_empty() => {
                        *held = Held::Attached(Arc::clone(&receiver));
                        return;
                    }
                    Held::Waiting(waiting) => std::mem::take(waiting),
                    Held::Attached(_) => return,
                }
            };
            // Outside the lock: what is sent meanwhile waits for the next round.
            for item in waiting {
                receiver(item);
            }
        }
    }
}

impl Relay<Event> {
    /// The controller's event sink, through this relay.
    pub fn events(&self) -> Events {
        let relay = self.clone();
        Arc::new(move |event| relay.send(event))
    }
}

/// The controller, opened before the shell, with its broker starting.
pub struct Early {
    /// The controller.
    pub passport: Arc<Passport>,
    /// Its events, until the shell attaches.
    pub events: Relay<Event>,
    started: Mutex<Option<tauri::async_runtime::JoinHandle<()>>>,
}

impl Early {
    /// Opens the controller on the user's keyring and starts its broker
    /// (and the demo, with `--demo`) on the async runtime.
    pub fn open(settings: Settings) -> Result<Self, String> {
        let events = Relay::default();
        let store = Arc::new(passport_keyring::KeyringStore::new(
            &settings.keyring_service,
        ));
        let passport = Passport::open(
            settings,
            store,
            Arc::new(passport_core::browser::SystemBrowser),
            events.events(),
        )
        .map_err(|e| e.message)?;
        mark("controller opened");
        let starting = Arc::clone(&passport);
        let started = tauri::async_runtime::spawn(async move {
            starting.start().await;
            mark("broker started");
        });
        Ok(Self {
            passport,
            events,
            started: Mutex::new(Some(started)),
        })
    }

    /// Waits until the broker's start has ended (it listens, or has said why not).
    pub fn wait_started(&self) {
        let started = self
            .started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(started) = started
            && let Err(e) = tauri::async_runtime::block_on(started)
        {
            tracing::warn!(error = %e, "the broker's start did not finish");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_sent_before_the_receiver_waits_and_arrives_in_order() {
        let relay: Relay<&'static str> = Relay::default();
        relay.send("one");
        relay.send("two");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        relay.attach(move |item| {
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(item)
        });
        relay.send("three");
        let seen = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
        assert_eq!(seen, ["one", "two", "three"]);
    }

    #[test]
    fn events_raised_before_the_shell_reach_it() {
        let relay: Relay<Event> = Relay::default();
        let events = relay.events();
        events(Event::Notify {
            title: "Sign-in needed".into(),
            body: "sign in".into(),
        });
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        relay.attach(move |event| {
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(event)
        });
        events(Event::Changed);
        let seen = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
        assert_eq!(seen.len(), 2);
        assert!(matches!(seen[0], Event::Notify { .. }));
        assert_eq!(seen[1], Event::Changed);
    }
}
