//! Secret Service connections kept for the store's life (Linux).
//!
//! Opening a connection costs a D-Bus handshake and the negotiation of an
//! encrypted session (a Diffie-Hellman exchange with the daemon): most of
//! what a keyring call used to cost. So connections, once open, are kept and
//! reused by every later call.
//!
//! A call takes an idle connection, or opens one when none is idle (the
//! first call, or calls running at the same time), and gives it back when it
//! is done. So no lock is held while the daemon answers: calls from many
//! threads run side by side, and a call stuck on an unlock prompt keeps only
//! its own connection, while later calls open another. At most [`KEEP`]
//! connections stay idle.
//!
//! A kept connection breaks when the daemon restarts (its session is gone)
//! or the bus drops it; the call then gets a D-Bus error. The broken
//! connection is dropped, a new one opened, and the call made once more, so
//! no call is lost. An error on a connection just opened is the daemon's
//! answer and is returned as is. Every retried operation is idempotent: a
//! read, a write of the same secret, or a delete.

use dbus_secret_service::{EncryptionType, Error, SecretService};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// Idle connections kept at most.
pub const KEEP: usize = 8;

/// Why an operation on a connection failed.
#[derive(Debug)]
pub enum Failure<E> {
    /// The Secret Service (or the bus) answered with an error.
    Service(Error),
    /// The operation's own error.
    Other(E),
}

impl<E> From<Error> for Failure<E> {
    fn from(e: Error) -> Self {
        Failure::Service(e)
    }
}

/// Idle connections to the Secret Service of the session bus.
#[derive(Default)]
pub struct Connections {
    idle: Mutex<Vec<SecretService>>,
    opened: AtomicUsize,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("opened", &self.opened())
            .finish_non_exhaustive()
    }
}

impl Connections {
    /// How many connections were opened so far.
    pub fn opened(&self) -> usize {
        self.opened.load(Ordering::SeqCst)
    }

    /// Runs `op` on a kept connection, or a new one; once more on a new
    /// connection if the kept one turns out broken.
    pub fn with<T, E>(
        &self,
        op: impl Fn(&SecretService) -> Result<T, Failure<E>>,
    ) -> Result<T, Failure<E>> {
        let kept = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        if let Some(service) = kept {
            match op(&service) {
                Err(Failure::Service(Error::Dbus(_))) => drop(service),
                done => {
                    self.give_back(service);
                    return done;
                }
            }
        }
        let service = self.open()?;
        let done = op(&service);
        if !matches!(done, Err(Failure::Service(Error::Dbus(_)))) {
            self.give_back(service);
        }
        done
    }

    fn open<E>(&self) -> Result<SecretService, Failure<E>> {
        let service = SecretService::connect(EncryptionType::Dh)?;
        self.opened.fetch_add(1, Ordering::SeqCst);
        Ok(service)
    }

    fn give_back(&self, service: SecretService) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < KEEP {
            idle.push(service);
        }
    }
}
