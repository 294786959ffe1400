//! Counts of the requests the AS answers, by kind, so tests can check how
//! many round trips a client needed (sign-in and refresh at scale).

use crate::state::AsState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Requests the AS answered since it started.
#[derive(Debug, Default)]
pub struct RequestCounters {
    /// Every request, whatever its path.
    pub total: AtomicU64,
    /// `POST /register` (dynamic client registrations).
    pub registrations: AtomicU64,
    /// `GET /authorize` (a browser arriving to sign in).
    pub authorizations: AtomicU64,
}

impl RequestCounters {
    /// `(total, registrations, authorizations)`.
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.total.load(Ordering::Relaxed),
            self.registrations.load(Ordering::Relaxed),
            self.authorizations.load(Ordering::Relaxed),
        )
    }
}

/// Middleware: counts the request, then answers it.
pub async fn count(State(state): State<Arc<AsState>>, request: Request, next: Next) -> Response {
    let counters = &state.requests;
    counters.total.fetch_add(1, Ordering::Relaxed);
    match request.uri().path() {
        "/register" => counters.registrations.fetch_add(1, Ordering::Relaxed),
        "/authorize" => counters.authorizations.fetch_add(1, Ordering::Relaxed),
        _ => 0,
    };
    next.run(request).await
}
