//! CPU time of this process's threads, by the part of the stack they run:
//! each part has its own tokio runtime whose threads carry its name, so a
//! thread's part is read from `/proc/self/task/<tid>/comm`, and its CPU time
//! (user + system, in nanoseconds) from the first field of
//! `/proc/self/task/<tid>/schedstat`.

use std::collections::HashMap;
use std::time::Duration;

/// The broker's runtime threads (its audit writer is `audit-writer`).
pub const BROKER: &str = "mcp-broker";
/// The demo's threads: the sample MCP server and the AS.
pub const SERVER: &str = "mcp-server";
/// The load generator's threads (and the main thread).
pub const LOAD: &str = "mcp-load";

/// What a thread works for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Broker,
    Server,
    Load,
    Other,
}

fn part_of(tid: u32, comm: &str) -> Part {
    if comm.starts_with(BROKER) || comm == "audit-writer" {
        Part::Broker
    } else if comm.starts_with(SERVER) {
        Part::Server
    } else if comm.starts_with(LOAD) || tid == std::process::id() {
        Part::Load
    } else {
        Part::Other
    }
}

/// Every thread's part, name and CPU time at one moment.
pub struct Snapshot(HashMap<u32, (Part, String, Duration)>);

/// CPU time spent by each part between two snapshots.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    pub broker: Duration,
    pub server: Duration,
    pub load: Duration,
    pub other: Duration,
}

impl std::ops::AddAssign for Cpu {
    fn add_assign(&mut self, o: Cpu) {
        self.broker += o.broker;
        self.server += o.server;
        self.load += o.load;
        self.other += o.other;
    }
}

/// Reads every thread of this process.
pub fn snapshot() -> Snapshot {
    let mut threads = HashMap::new();
    let tasks = std::fs::read_dir("/proc/self/task").expect("this bench reads /proc (Linux only)");
    for task in tasks.flatten() {
        let Some(tid) = task
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<u32>().ok())
        else {
            continue;
        };
        // A thread may end between the listing and the reads: skip it.
        let (Ok(comm), Ok(schedstat)) = (
            std::fs::read_to_string(task.path().join("comm")),
            std::fs::read_to_string(task.path().join("schedstat")),
        ) else {
            continue;
        };
        let Some(ns) = schedstat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        let comm = comm.trim().to_string();
        threads.insert(tid, (part_of(tid, &comm), comm, Duration::from_nanos(ns)));
    }
    Snapshot(threads)
}

impl Snapshot {
    /// The CPU time each part spent since `earlier` (threads started since count from zero).
    pub fn since(&self, earlier: &Snapshot) -> Cpu {
        let mut cpu = Cpu::default();
        for (tid, (part, _, now)) in &self.0 {
            let before = earlier.0.get(tid).map(|t| t.2).unwrap_or_default();
            let spent = now.saturating_sub(before);
            match part {
                Part::Broker => cpu.broker += spent,
                Part::Server => cpu.server += spent,
                Part::Load => cpu.load += spent,
                Part::Other => cpu.other += spent,
            }
        }
        cpu
    }

    /// The names of threads that belong to no part (their CPU is `other`).
    pub fn others(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .0
            .values()
            .filter(|t| t.0 == Part::Other)
            .map(|t| t.1.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}
