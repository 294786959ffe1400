//! What the broker handed to whom: every token handed out and every proxied
//! request, by client, server, time and outcome. Never the token.
//!
//! Recording sits on every request, so it is kept to a push under a short
//! lock: the record shares the caller's key record and names its kind and
//! outcome without formatting anything. A background writer wakes once per
//! burst, waits a moment for the burst to end, and appends every pending
//! record to the file (JSON lines, mode 0600) in one write.

use crate::keys::ClientKey;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// One audit record, as stored and listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Which client (its key's client name).
    pub client: String,
    /// Which server.
    pub server: String,
    /// `token`, `proxy` or `admin`.
    pub kind: String,
    /// `ok`, or the error code.
    pub outcome: String,
}

/// What the client did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Asked for a token.
    Token,
    /// Sent a request through the proxy.
    Proxy,
    /// Used the admin API (the CLI only).
    Admin,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Token => "token",
            Kind::Proxy => "proxy",
            Kind::Admin => "admin",
        }
    }
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Served.
    Ok,
    /// Refused or failed with this stable code.
    Code(&'static str),
    /// The upstream server answered with this status.
    Status(http::StatusCode),
}

impl Outcome {
    fn as_str(&self) -> &str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Code(code) => code,
            Outcome::Status(status) => status.as_str(),
        }
    }
}

/// One record as kept in memory: nothing formatted, the key record shared.
#[derive(Debug, Clone)]
struct Record {
    at: DateTime<Utc>,
    client: Arc<ClientKey>,
    server: Arc<str>,
    kind: Kind,
    outcome: Outcome,
}

impl Record {
    fn entry(&self) -> AuditEntry {
        AuditEntry {
            at: self.at,
            client: self.client.client.clone(),
            server: self.server.to_string(),
            kind: self.kind.as_str().to_string(),
            outcome: self.outcome.as_str().to_string(),
        }
    }
}

/// A record as written: borrowed, so writing allocates nothing per line.
#[derive(Serialize)]
struct Line<'a> {
    at: &'a DateTime<Utc>,
    client: &'a str,
    server: &'a str,
    kind: &'a str,
    outcome: &'a str,
}

#[derive(Debug, Default)]
struct Shared {
    /// Records loaded from the file at start, oldest first.
    older: VecDeque<AuditEntry>,
    /// Records made since, oldest first.
    recent: VecDeque<Record>,
    /// Records not yet on disk.
    pending: Vec<Record>,
    /// Whether the writer sleeps until told.
    writer_idle: bool,
    /// Whether the log is closing: the writer drains and stops.
    closed: bool,
}

/// The audit log: the latest records in memory, all of them appended to a
/// file by a background writer, so no request waits on the disk.
#[derive(Debug)]
pub struct Audit {
    shared: Arc<(Mutex<Shared>, Condvar)>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

const KEEP: usize = 1000;
/// How long the writer lets a burst gather before writing it.
const GATHER: Duration = Duration::from_millis(10);

fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Audit {
    /// An audit log appending to `path` (JSON lines); loads its tail.
    pub fn open(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let mut older: VecDeque<AuditEntry> = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        while older.len() > KEEP {
            older.pop_front();
        }
        let shared = Arc::new((
            Mutex::new(Shared {
                older,
                ..Shared::default()
            }),
            Condvar::new(),
        ));
        let for_writer = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || append_lines(&path, &for_writer))
            .map_err(|e| tracing::warn!(error = %e, "could not start the audit writer"))
            .ok();
        Self {
            shared,
            writer: Mutex::new(writer),
        }
    }

    /// Records one event: one push under a short lock, nothing formatted;
    /// the writer moves it to the recent records once it is on disk.
    pub fn note(&self, client: &Arc<ClientKey>, server: &str, kind: Kind, outcome: Outcome) {
        let record = Record {
            at: Utc::now(),
            client: Arc::clone(client),
            server: Arc::from(server),
            kind,
            outcome,
        };
        let (state, wake) = &*self.shared;
        let mut shared = lock(state);
        shared.pending.push(record);
        if shared.writer_idle {
            shared.writer_idle = false;
            wake.notify_one();
        }
    }

    /// The latest records (at most 1,000), oldest first.
    pub fn recent(&self) -> Vec<AuditEntry> {
        let shared = lock(&self.shared.0);
        let all: Vec<AuditEntry> = shared
            .older
            .iter()
            .cloned()
            .chain(shared.recent.iter().map(Record::entry))
            .chain(shared.pending.iter().map(Record::entry))
            .collect();
        let skip = all.len().saturating_sub(KEEP);
        all.into_iter().skip(skip).collect()
    }

    /// Writes every pending record and stops the writer (the broker is
    /// stopping); records made afterwards stay in memory only.
    pub fn close(&self) {
        {
            let (state, wake) = &*self.shared;
            lock(state).closed = true;
            wake.notify_one();
        }
        let handle = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

impl Drop for Audit {
    fn drop(&mut self) {
        let (state, wake) = &*self.shared;
        lock(state).closed = true;
        wake.notify_one();
    }
}

/// The writer: sleeps until a burst starts, lets it gather, then appends
/// it to `path` in one write and flush; stops once the log is closed.
fn append_lines(path: &Path, shared: &(Mutex<Shared>, Condvar)) {
    let (state, wake) = shared;
    let mut file: Option<std::io::BufWriter<std::fs::File>> = None;
    loop {
        let closed = {
            let mut guard = lock(state);
            while guard.pending.is_empty() && !guard.closed {
                guard.writer_idle = true;
                guard = wake.wait(guard).unwrap_or_else(PoisonError::into_inner);
            }
            guard.closed
        };
        if !closed {
            std::thread::sleep(GATHER);
        }
        // The batch stays in `pending` (so `recent()` shows it) until it is
        // on disk; only this thread removes from the front of `pending`.
        let batch = lock(state).pending.clone();
        if !batch.is_empty() {
            write_batch(path, &mut file, &batch);
            let mut guard = lock(state);
            let written: Vec<Record> = guard.pending.drain(..batch.len()).collect();
            keep_recent(&mut guard, written);
        }
        if closed {
            return;
        }
    }
}

/// Moves written records to the recent ones, keeping the latest 1,000.
fn keep_recent(shared: &mut Shared, batch: Vec<Record>) {
    shared.recent.extend(batch);
    while shared.recent.len() + shared.older.len() > KEEP {
        if shared.older.pop_front().is_none() {
            shared.recent.pop_front();
        }
    }
}

fn write_batch(
    path: &Path,
    file: &mut Option<std::io::BufWriter<std::fs::File>>,
    batch: &[Record],
) {
    if file.is_none() {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(f) => *file = Some(std::io::BufWriter::with_capacity(64 * 1024, f)),
            Err(e) => {
                tracing::warn!(error = %e, "could not open the audit log");
                return;
            }
        }
    }
    let Some(out) = file.as_mut() else { return };
    let written = batch
        .iter()
        .try_for_each(|r| write_line(out, r))
        .and_then(|()| out.flush());
    if let Err(e) = written {
        tracing::warn!(error = %e, "could not append to the audit log; reopening it");
        *file = None;
    }
}

fn write_line(out: &mut impl std::io::Write, r: &Record) -> std::io::Result<()> {
    let line = Line {
        at: &r.at,
        client: &r.client.client,
        server: &r.server,
        kind: r.kind.as_str(),
        outcome: r.outcome.as_str(),
    };
    serde_json::to_writer(&mut *out, &line).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}
