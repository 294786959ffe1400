//! Part 2: `tools/call` straight to the sample server, through a bare
//! hyper forwarder (`forwarder`: the floor any HTTP hop costs) and through
//! the broker's proxy, in turns, with 1 session and with 8. For each hop:
//! its CPU time per 1,000 calls beside the sample server's for the same
//! calls, its added p50, its allocations per call, and the TCP connections
//! each call opened (`tcp`): the client's own, plus the hop's to the server.

use crate::forwarder;
use crate::load::{ROUNDS, WINDOW};
use crate::mcp::{self, Client, Side};
use crate::stack::Stack;
use crate::table::Table;
use crate::{ADDED_P50_MS, CPU_SHARE, ms};

/// One hop's figures against the straight calls of the same run.
struct Hop {
    /// Its CPU time per 1,000 calls, in ms.
    cpu: f64,
    /// The sample server's in the same turns.
    server: f64,
    /// Added p50 over the straight calls, in ms.
    added: f64,
    /// Calls per second over straight.
    ratio: f64,
}

impl Hop {
    fn of(side: &Side, straight: &Side) -> Hop {
        let (run, base) = (side.run(), straight.run());
        Hop {
            cpu: side.per_thousand(side.cpu.broker),
            server: side.per_thousand(side.cpu.server),
            added: ms(run.p50) - ms(base.p50),
            ratio: run.per_second / base.per_second,
        }
    }

    fn share(&self) -> f64 {
        self.cpu / self.server
    }
}

pub async fn run(stack: &Stack, table: &mut Table) {
    let token = stack
        .engine
        .token("github-mcp")
        .await
        .unwrap()
        .access_token
        .expose()
        .to_string();
    let server_url = stack.demo().info().servers[0].resource.clone();
    let proxy_url = format!("{}/v1/mcp/github-mcp", stack.base);
    let bare = forwarder::start(&server_url, stack.broker_runtime()).await;
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let sides = [
        (server_url.as_str(), token.as_str()),
        (bare.as_str(), token.as_str()),
        (proxy_url.as_str(), stack.key.as_str()),
    ];
    for (client, sessions) in [
        (Client::Default, 1),
        (Client::Default, 8),
        (Client::Pooled, 1),
    ] {
        let [straight, forwarded, proxied]: [Side; 3] = mcp::alternate(&sides, client, sessions)
            .await
            .try_into()
            .unwrap_or_else(|_| unreachable!("one side per target"));
        let how = match client {
            Client::Default => "rmcp's client: a connection per call",
            Client::Pooled => "a client that keeps its connections",
        };
        println!(
            "tools/call straight, through a bare forwarder and through the proxy ({sessions} session(s), {how}, {}s each in {} turns):",
            WINDOW.as_secs(),
            ROUNDS
        );
        for (name, side) in [
            ("straight", &straight),
            ("bare", &forwarded),
            ("proxied", &proxied),
        ] {
            let run = side.run();
            println!(
                "  {name:<8} {:>6} calls {:>7.0} calls/s  p50 {:>6.3} ms  CPU per 1,000 calls: hop {:>6.1} ms, server {:>6.1} ms, load {:>6.1} ms, other {:>4.1} ms",
                side.calls(),
                run.per_second,
                ms(run.p50),
                side.per_thousand(side.cpu.broker),
                side.per_thousand(side.cpu.server),
                side.per_thousand(side.cpu.load),
                side.per_thousand(side.cpu.other),
            );
        }
        let per_call = |n: u64, side: &Side| n as f64 / side.calls().max(1) as f64;
        // Each hop adds the connections it opens to the server to the client's own.
        let opened = |side: &Side| per_call(side.opened, side);
        println!(
            "  TCP connections opened per call: straight {:.2}; through the bare forwarder {:.2}, through the broker {:.2} (the client's to the hop, plus the hop's to the server)",
            opened(&straight),
            opened(&forwarded),
            opened(&proxied),
        );
        println!(
            "  hop allocations per call: broker {:.1} ({:.0} B), bare forwarder {:.1} ({:.0} B); while calls went straight: {:.2} per call",
            per_call(proxied.allocs.count, &proxied),
            per_call(proxied.allocs.bytes, &proxied),
            per_call(forwarded.allocs.count, &forwarded),
            per_call(forwarded.allocs.bytes, &forwarded),
            per_call(straight.allocs.count, &straight),
        );
        let (broker, bare_hop) = (Hop::of(&proxied, &straight), Hop::of(&forwarded, &straight));
        if client == Client::Pooled {
            table.show(
                "the same with a client that keeps its connections (one session): hop CPU share of the server's, added p50",
                format!(
                    "broker {:.2}, {:.3} ms; bare forwarder {:.2}, {:.3} ms; {:.2} connections opened per call through the broker",
                    broker.share(),
                    broker.added,
                    bare_hop.share(),
                    bare_hop.added,
                    opened(&proxied),
                ),
                "for comparison: the goals are read with rmcp's client above",
            );
            continue;
        }
        let floor = if bare_hop.share() > CPU_SHARE {
            format!(
                "; the bare hop alone takes {:.1}x the goal",
                bare_hop.share() / CPU_SHARE
            )
        } else {
            String::new()
        };
        table.check(
            &format!(
                "hop CPU per 1,000 `tools/call`, as a share of the sample server's for the same calls, {sessions} session(s)"
            ),
            format!(
                "broker {:.2} ({:.1} vs {:.1} ms), bare forwarder {:.2} ({:.1} vs {:.1} ms){floor}",
                broker.share(),
                broker.cpu,
                broker.server,
                bare_hop.share(),
                bare_hop.cpu,
                bare_hop.server,
            ),
            &format!("broker <= {CPU_SHARE:.2}"),
            broker.share() <= CPU_SHARE,
        );
        if sessions == 1 {
            let floor = if bare_hop.added >= ADDED_P50_MS {
                "; the bare hop alone misses it"
            } else {
                ""
            };
            table.check(
                "`tools/call` added p50, 1 session (the hop's own latency)",
                format!(
                    "broker {:.3} ms, bare forwarder {:.3} ms{floor}",
                    broker.added, bare_hop.added
                ),
                &format!("broker < {ADDED_P50_MS} ms"),
                broker.added < ADDED_P50_MS,
            );
            table.show(
                "hop allocations per `tools/call`",
                format!(
                    "broker {:.1} ({:.0} B), bare forwarder {:.1} ({:.0} B)",
                    per_call(proxied.allocs.count, &proxied),
                    per_call(proxied.allocs.bytes, &proxied),
                    per_call(forwarded.allocs.count, &forwarded),
                    per_call(forwarded.allocs.bytes, &forwarded),
                ),
                "fewer is better",
            );
            table.show(
                "`tools/call` throughput over straight, 1 session",
                format!(
                    "broker {:.2}, bare forwarder {:.2}",
                    broker.ratio, bare_hop.ratio
                ),
                "",
            );
        } else {
            table.show(
                &format!("`tools/call` throughput over straight, {sessions} sessions, in turns"),
                format!(
                    "broker {:.2} (added p50 {:.3} ms), bare forwarder {:.2} (added p50 {:.3} ms)",
                    broker.ratio, broker.added, bare_hop.ratio, bare_hop.added
                ),
                &format!("ratio >= 0.9, added p50 < 0.3 ms: bounded by this machine's {cores} cores, shared by load generator, server and hop"),
            );
        }
    }
}
