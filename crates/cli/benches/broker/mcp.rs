//! `tools/call` straight to the sample server, through a bare forwarder
//! and through the broker's proxy, `sessions` MCP sessions at a time, the
//! sides taking turns. Sessions are opened and warmed (one call each)
//! before a turn is measured and closed after, so a turn's figures are its
//! calls only: their latencies, and the CPU time and allocations of each
//! part of the stack meanwhile.

use crate::allocs::{self, Allocs};
use crate::load::{ROUNDS, Run, WINDOW, summarize};
use crate::tcp;
use crate::threads::{self, Cpu};
use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use std::time::{Duration, Instant};

/// One side's calls over all its turns.
#[derive(Default)]
pub struct Side {
    pub latencies: Vec<Duration>,
    pub elapsed: Duration,
    pub cpu: Cpu,
    pub allocs: Allocs,
    /// TCP connections opened in this network namespace while measured.
    pub opened: u64,
}

impl Side {
    pub fn calls(&self) -> usize {
        self.latencies.len()
    }

    pub fn run(&self) -> Run {
        summarize(self.latencies.clone(), self.elapsed)
    }

    /// `cpu` per 1,000 calls, in ms.
    pub fn per_thousand(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() * 1000.0 * 1000.0 / self.calls().max(1) as f64
    }

    fn add(&mut self, turn: Side) {
        self.latencies.extend(turn.latencies);
        self.elapsed += turn.elapsed;
        self.cpu += turn.cpu;
        self.allocs += turn.allocs;
        self.opened += turn.opened;
    }
}

fn call() -> CallToolRequestParams {
    CallToolRequestParams::new("list_issues")
}

/// How the client treats its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// rmcp's default: its pool is off, so every call opens a connection.
    Default,
    /// A client that keeps its connections open between calls.
    Pooled,
}

async fn connect(
    url: &str,
    auth: &str,
    client: Client,
) -> RunningService<rmcp::RoleClient, ClientConfig> {
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_string())
        .auth_header(auth.to_string());
    let transport = match client {
        Client::Default => StreamableHttpClientTransport::from_config(config),
        Client::Pooled => {
            StreamableHttpClientTransport::with_client(reqwest::Client::new(), config)
        }
    };
    ClientConfig::default().serve(transport).await.unwrap()
}

/// One turn: `sessions` sessions calling `url` with `auth` for `window`.
async fn turn(url: &str, auth: &str, client: Client, sessions: usize, window: Duration) -> Side {
    let mut clients = Vec::new();
    for _ in 0..sessions {
        let client = connect(url, auth, client).await;
        client.call_tool(call()).await.unwrap();
        clients.push(client);
    }
    let (cpu, counted, opened) = (threads::snapshot(), allocs::now(), tcp::opened());
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for client in &clients {
        let peer = client.peer().clone();
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            while started.elapsed() < window {
                let t = Instant::now();
                peer.call_tool(call()).await.unwrap();
                latencies.push(t.elapsed());
            }
            latencies
        });
    }
    let latencies = tasks.join_all().await.into_iter().flatten().collect();
    let elapsed = started.elapsed();
    let side = Side {
        latencies,
        elapsed,
        cpu: threads::snapshot().since(&cpu),
        allocs: allocs::now() - counted,
        opened: tcp::opened() - opened,
    };
    for client in clients {
        let _ = client.cancel().await;
    }
    side
}

/// Each side, named by its URL and the `Authorization` credential it
/// takes, in turns: a round gives every side one turn, in order.
pub async fn alternate(sides: &[(&str, &str)], client: Client, sessions: usize) -> Vec<Side> {
    let mut all: Vec<Side> = sides.iter().map(|_| Side::default()).collect();
    for _ in 0..ROUNDS {
        for (side, (url, auth)) in all.iter_mut().zip(sides) {
            side.add(turn(url, auth, client, sessions, WINDOW / ROUNDS).await);
        }
    }
    all
}
