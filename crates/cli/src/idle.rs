//! When a broker started on demand may stop: no request for the idle
//! period (the audit records every token handed out and every proxied
//! request) and no stdio bridge open. A bridge holds a shared lock on
//! `bridges.lock` in the runtime directory for its whole life; the broker
//! stops only once it can take that lock alone, and keeps it until it has
//! stopped, so a bridge starting meanwhile waits and then starts a new one.

use passport_broker::audit::Audit;
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::Duration;

const BRIDGES: &str = "bridges.lock";

fn open_lock(runtime: &Path) -> std::io::Result<File> {
    std::fs::create_dir_all(runtime)?;
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(runtime.join(BRIDGES))
}

/// A stdio bridge's mark: while it is held, an idle broker keeps running.
#[derive(Debug)]
pub struct BridgeMark {
    _file: File,
}

/// Marks a bridge as open; waits while an idle broker is stopping.
pub async fn mark_bridge(runtime: &Path) -> std::io::Result<BridgeMark> {
    let file = open_lock(runtime)?;
    tokio::task::spawn_blocking(move || {
        file.lock_shared()?;
        Ok(BridgeMark { _file: file })
    })
    .await
    .map_err(std::io::Error::other)?
}

/// Returns once `idle` passed with no request and no bridge open; the
/// file returned holds the bridges' lock until the broker has stopped.
pub async fn idle_for(audit: &Audit, runtime: &Path, idle: Duration) -> Option<File> {
    let since = chrono::Utc::now();
    let step = (idle / 4).clamp(Duration::from_millis(200), Duration::from_secs(15));
    loop {
        tokio::time::sleep(step).await;
        let last = audit.recent().last().map_or(since, |e| e.at.max(since));
        let quiet = (chrono::Utc::now() - last).to_std().unwrap_or_default();
        if quiet < idle {
            continue;
        }
        let Ok(file) = open_lock(runtime) else {
            // Without the lock file nobody can be told apart: stay.
            continue;
        };
        if file.try_lock().is_ok() {
            return Some(file);
        }
    }
}
