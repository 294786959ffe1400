//! HTTP load for the token route and its baseline, a bare hyper server:
//! keep-alive clients sending GETs for a while, the two taking turns.

use std::time::{Duration, Instant};

pub const CONNECTIONS: usize = 64;
pub const WINDOW: Duration = Duration::from_secs(3);
/// Turns each side gets (of `WINDOW / ROUNDS` each).
pub const ROUNDS: u32 = 3;

/// Throughput and latency of one side.
pub struct Run {
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
}

pub fn summarize(mut latencies: Vec<Duration>, elapsed: Duration) -> Run {
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    Run {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.5),
        p99: at(0.99),
    }
}

/// Latencies of `connections` keep-alive clients each sending GETs for `window`.
async fn load(
    url: &str,
    key: &str,
    connections: usize,
    window: Duration,
) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (url, key) = (url.to_string(), key.to_string());
        tasks.spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap();
            let mut latencies = Vec::new();
            while started.elapsed() < window {
                let t = Instant::now();
                let body = client
                    .get(&url)
                    .bearer_auth(&key)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                assert!(!body.is_empty());
                latencies.push(t.elapsed());
            }
            latencies
        });
    }
    let all: Vec<Duration> = tasks.join_all().await.into_iter().flatten().collect();
    (all, started.elapsed())
}

/// The baseline and the measured URL in alternating rounds; their runs.
pub async fn alternate(baseline: &str, measured: &str, key: &str) -> (Run, Run) {
    let (mut a, mut b) = ((Vec::new(), Duration::ZERO), (Vec::new(), Duration::ZERO));
    for _ in 0..ROUNDS {
        let (l, t) = load(baseline, key, CONNECTIONS, WINDOW / ROUNDS).await;
        a.0.extend(l);
        a.1 += t;
        let (l, t) = load(measured, key, CONNECTIONS, WINDOW / ROUNDS).await;
        b.0.extend(l);
        b.1 += t;
    }
    (summarize(a.0, a.1), summarize(b.0, b.1))
}

/// A bare hyper server answering `body` to every request, run by `on` (the
/// broker's runtime, idle during the baseline's turns, so both get the same
/// threads); its URL.
pub async fn bare_hyper(body: hyper::body::Bytes, on: &tokio::runtime::Handle) -> String {
    use hyper::server::conn::http1;
    use hyper_util::rt::TokioIo;
    let (url_tx, url_rx) = tokio::sync::oneshot::channel();
    on.spawn(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _ = url_tx.send(format!("http://{}/", listener.local_addr().unwrap()));
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let body = body.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    let body = body.clone();
                    async move {
                        let mut response = hyper::Response::new(http_body_util::Full::new(body));
                        response.headers_mut().insert(
                            "content-type",
                            hyper::header::HeaderValue::from_static("application/json"),
                        );
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    url_rx.await.unwrap()
}
