//! `tools/call` straight to the sample server, through a bare forwarder
//! and through the broker's proxy, `sessions` MCP sessions at a time, the
//! sides taking turns. Sessions are opened and warmed (one call each)
//! before a turn is measured and closed after, so a turn's figures are its
//! calls only: their latencies, and the CPU time and allocations of each
//! part of the stack meanwhile.

use crate::allocs::{self, Allocs};
use crate::forwarder::Connections;
use crate::load::{ROUNDS, Run, WINDOW, summarize};
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
    /// Connections the hop accepted and opened to the server, where it
    /// counts them (the bare forwarder).
    pub connections: (u64, u64),
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
        self.connections.0 += turn.connections.0;
        self.connections.1 += turn.connections.1;
    }
}

fn call() -> CallToolRequestParams {
    CallToolRequestParams::new("list_issues")
}

async fn connect(url: &str, auth: &str) -> RunningService<rmcp::RoleClient, ClientConfig> {
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_string())
        .auth_header(auth.to_string());
    ClientConfig::default()
        .serve(StreamableHttpClientTransport::from_config(config))
        .await
        .unwrap()
}

/// What one side calls: a URL, the `Authorization` credential it takes,
/// and the hop's connection counts where it keeps them.
pub struct Target<'a> {
    pub url: &'a str,
    pub auth: &'a str,
    pub connections: Option<&'a Connections>,
}

/// One turn: `sessions` sessions calling `target` for `window`.
async fn turn(target: &Target<'_>, sessions: usize, window: Duration) -> Side {
    let (url, auth) = (target.url, target.auth);
    let connections = || target.connections.map(Connections::now).unwrap_or_default();
    let mut clients = Vec::new();
    for _ in 0..sessions {
        let client = connect(url, auth).await;
        client.call_tool(call()).await.unwrap();
        clients.push(client);
    }
    let (cpu, counted, opened) = (threads::snapshot(), allocs::now(), connections());
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
        connections: {
            let now = connections();
            (now.0 - opened.0, now.1 - opened.1)
        },
    };
    for client in clients {
        let _ = client.cancel().await;
    }
    side
}

/// Each side in turns: a round gives every side one turn, in order.
pub async fn alternate(sides: &[Target<'_>], sessions: usize) -> Vec<Side> {
    let mut all: Vec<Side> = sides.iter().map(|_| Side::default()).collect();
    for _ in 0..ROUNDS {
        for (side, target) in all.iter_mut().zip(sides) {
            side.add(turn(target, sessions, WINDOW / ROUNDS).await);
        }
    }
    all
}
