//! The floor any HTTP hop costs: a bare hyper reverse proxy between the
//! same client and the same sample server, with no key check, no token and
//! no audit. The client sends the server's own token through it.
//!
//! It is built as the broker's proxy is: an HTTP/1.1 server with the same
//! header read timer, the request body read whole, the response body passed
//! on frame by frame, and the same pooled keep-alive upstream client (plain
//! `HttpConnector` without Nagle, 10 s connect timeout, 90 s idle). It runs
//! on the broker's runtime, idle during the forwarder's turns, so its CPU
//! time is read from the same threads.

use http::{HeaderValue, Request, Response, Uri, header};
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::time::Duration;

/// Starts a forwarder to `server` (an `http` URL) on `on`; its URL,
/// standing for the server's.
pub async fn start(server: &str, on: &tokio::runtime::Handle) -> String {
    let target: Uri = server.parse().unwrap();
    let host = HeaderValue::from_str(target.authority().unwrap().as_str()).unwrap();
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(10)));
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(connector);
    let (url_tx, url_rx) = tokio::sync::oneshot::channel();
    on.spawn(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let local = listener.local_addr().unwrap();
        let _ = url_tx.send(format!("http://{local}{}", target.path()));
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(5));
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let _ = tcp.set_nodelay(true);
            let (client, target, host) = (client.clone(), target.clone(), host.clone());
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                forward(client.clone(), target.clone(), host.clone(), request)
            });
            let connection = http.serve_connection(TokioIo::new(tcp), service);
            tokio::spawn(connection);
        }
    });
    url_rx.await.unwrap()
}

/// One request: its headers as they came (less `Host`, set to the
/// server's), its body whole, the answer passed on as it arrives.
async fn forward(
    client: Client<HttpConnector, Full<Bytes>>,
    target: Uri,
    host: HeaderValue,
    request: Request<Incoming>,
) -> Result<Response<Incoming>, hyper_util::client::legacy::Error> {
    let (mut parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    parts.uri = target;
    parts.headers.insert(header::HOST, host);
    client
        .request(Request::from_parts(parts, Full::new(body)))
        .await
}
