//! What the broker handed to whom: every token handed out and every proxied
//! request, by client, server, time and outcome. Never the token.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender};

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Which client (its key's client name).
    pub client: String,
    /// Which server.
    pub server: String,
    /// `token` or `proxy`.
    pub kind: String,
    /// `ok`, or the error code.
    pub outcome: String,
}

/// The audit log: the latest records in memory, all of them appended to a
/// file by a background writer, so no request waits on the disk.
#[derive(Debug)]
pub struct Audit {
    recent: Mutex<VecDeque<AuditEntry>>,
    writer: Sender<AuditEntry>,
}

const KEEP: usize = 1000;

impl Audit {
    /// An audit log appending to `path` (JSON lines); loads its tail.
    pub fn open(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let mut recent: VecDeque<AuditEntry> = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        while recent.len() > KEEP {
            recent.pop_front();
        }
        let (writer, lines) = std::sync::mpsc::channel::<AuditEntry>();
        std::thread::spawn(move || append_lines(&path, &lines));
        Self {
            recent: Mutex::new(recent),
            writer,
        }
    }

    /// Records one event.
    pub fn record(&self, entry: AuditEntry) {
        let _ = self.writer.send(entry.clone());
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        recent.push_back(entry);
        if recent.len() > KEEP {
            recent.pop_front();
        }
    }

    /// The latest records, oldest first.
    pub fn recent(&self) -> Vec<AuditEntry> {
        self.recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

/// Appends each record received to `path` as a JSON line (mode 0600): the
/// file stays open, each burst is serialised, written and flushed together
/// here, off the request path; ends when the audit log is dropped.
fn append_lines(path: &Path, lines: &Receiver<AuditEntry>) {
    let mut file: Option<std::io::BufWriter<std::fs::File>> = None;
    while let Ok(first) = lines.recv() {
        if file.is_none() {
            let mut options = std::fs::OpenOptions::new();
            options.create(true).append(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(path) {
                Ok(f) => file = Some(std::io::BufWriter::new(f)),
                Err(e) => {
                    tracing::warn!(error = %e, "could not open the audit log");
                    continue;
                }
            }
        }
        let Some(out) = file.as_mut() else { continue };
        let mut written = write_entry(out, &first);
        while let Ok(more) = lines.try_recv() {
            written = written.and_then(|()| write_entry(out, &more));
        }
        if let Err(e) = written.and_then(|()| out.flush()) {
            tracing::warn!(error = %e, "could not append to the audit log; reopening it");
            file = None;
        }
    }
}

fn write_entry(out: &mut impl std::io::Write, entry: &AuditEntry) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, entry).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}
