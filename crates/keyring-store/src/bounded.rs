//! A time limit on keyring calls.
//!
//! On Linux a locked collection makes the Secret Service wait for an unlock
//! prompt; with no one to answer it (a headless broker, a desktop without a
//! prompter) the call never returns, and whatever waits on it (a token
//! request, the broker's refresh) hangs with it. So each call runs on its own
//! thread and the caller waits at most [`LIMIT`]; past that the keyring
//! counts as locked, which the engine reports as such.
//!
//! A call that overran may never return. At most [`MAX_OVERDUE`] such
//! threads are left waiting; beyond that, calls fail at once, except one
//! probe every [`PROBE_EVERY`], so the store notices by itself when the
//! keyring is unlocked again, without piling up threads.

use passport_core::store::StoreError;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long one keyring call may take.
pub const LIMIT: Duration = Duration::from_secs(5);
/// Overrun calls left waiting before calls fail at once.
pub const MAX_OVERDUE: usize = 4;
/// How often a call is tried anyway once that many are waiting.
pub const PROBE_EVERY: Duration = Duration::from_secs(15);

/// Runs `wait` (a keyring call and the wait for its answer, up to
/// [`LIMIT`]) without holding up an async worker: on a multi-threaded Tokio
/// runtime the worker first hands its other tasks to another thread, so the
/// broker's other requests go on while this one waits. Without a runtime,
/// or on a single-threaded one (which serves nobody else), it simply runs.
pub fn off_workers<T>(wait: impl FnOnce() -> T) -> T {
    passport_core::atomic_file::blocking(wait)
}

/// Runs keyring calls under the time limit.
#[derive(Debug, Default, Clone)]
pub struct Bounded {
    overdue: Arc<AtomicUsize>,
    last_probe: Arc<Mutex<Option<Instant>>>,
}

impl Bounded {
    /// Runs `call` on its own thread; waits at most `limit`.
    pub fn run<T: Send + 'static>(
        &self,
        limit: Duration,
        call: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        if self.overdue.load(Ordering::SeqCst) >= MAX_OVERDUE {
            let mut last = self
                .last_probe
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < PROBE_EVERY) {
                return Err(StoreError::Locked);
            }
            *last = Some(Instant::now());
        }
        let (answer, wait) = std::sync::mpsc::channel();
        let overran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (overdue, late) = (Arc::clone(&self.overdue), Arc::clone(&overran));
        let spawned = std::thread::Builder::new()
            .name("keyring-call".into())
            .spawn(move || {
                let result = call();
                if late.load(Ordering::SeqCst) {
                    overdue.fetch_sub(1, Ordering::SeqCst);
                }
                let _ = answer.send(result);
            });
        if let Err(e) = spawned {
            return Err(StoreError::Unavailable(format!(
                "cannot start a keyring call: {e}"
            )));
        }
        match wait.recv_timeout(limit) {
            Ok(result) => result,
            Err(_) => {
                if !overran.swap(true, Ordering::SeqCst) {
                    self.overdue.fetch_add(1, Ordering::SeqCst);
                }
                // The thread may have answered just now.
                wait.try_recv().unwrap_or(Err(StoreError::Locked))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_that_hangs_counts_as_locked_and_later_calls_fail_fast_until_a_probe() {
        let bounded = Bounded::default();
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let hold = Arc::new(Mutex::new(hold));
        for _ in 0..MAX_OVERDUE {
            let hold = Arc::clone(&hold);
            let result = bounded.run(Duration::from_millis(20), move || {
                let _ = hold.lock().map(|h| h.recv());
                Ok(1)
            });
            assert!(matches!(result, Err(StoreError::Locked)), "{result:?}");
        }
        // The next call probes (runs), the one after fails without running.
        assert_eq!(
            bounded.run(Duration::from_millis(200), || Ok(2)).ok(),
            Some(2)
        );
        let ran = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&ran);
        let fast = bounded.run(Duration::from_millis(200), move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(3)
        });
        assert!(matches!(fast, Err(StoreError::Locked)));
        assert_eq!(
            ran.load(Ordering::SeqCst),
            0,
            "failed without calling the keyring"
        );
        // Once the hung calls return, calls run normally again.
        for _ in 0..MAX_OVERDUE {
            let _ = release.send(());
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while bounded.overdue.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            bounded.run(Duration::from_millis(200), || Ok(4)).ok(),
            Some(4)
        );
    }

    #[test]
    fn errors_and_answers_pass_through() {
        let bounded = Bounded::default();
        assert_eq!(bounded.run(LIMIT, || Ok("x")).ok(), Some("x"));
        let failed: Result<(), _> = bounded.run(LIMIT, || Err(StoreError::Failed("no".into())));
        assert!(matches!(failed, Err(StoreError::Failed(m)) if m == "no"));
    }
}
