//! The connections that have not sent a request yet, and which of them
//! the broker lets go.
//!
//! Any local process can open sockets to the broker, so silent ones must
//! not crowd out well-behaved clients; but a burst of real clients (a
//! thousand token requests at once when a token expires, a client starting
//! dozens of MCP servers) also arrives as many connections whose requests
//! the broker has not read yet. So silent connections cost nothing while
//! there is room (each is closed after the header time); when every
//! connection is taken and none finishes for a while (the service's
//! stall time: in a burst of real clients connections finish all the
//! time), those silent for [`GRACE`] go, oldest first, to make room. A client that sends its request as it connects is never
//! pushed out; a client that opens hundreds of silent sockets loses them
//! after [`GRACE`] once they crowd the broker.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// How long a new connection may stay silent before it can be pushed out.
/// A client's request follows its connection within microseconds; the
/// rest is room for a busy machine.
pub const GRACE: Duration = Duration::from_millis(100);

/// One connection's standing in the line.
#[derive(Debug)]
pub struct Slot {
    accepted: Instant,
    /// It has sent a request.
    started: AtomicBool,
    /// The last read found nothing to read (see [`Reading`]).
    stalled: AtomicBool,
    /// Told when it is pushed out of the line.
    evict: Notify,
}

impl Slot {
    /// A connection accepted at `accepted`.
    pub fn new(accepted: Instant) -> Self {
        Self {
            accepted,
            started: AtomicBool::new(false),
            stalled: AtomicBool::new(false),
            evict: Notify::new(),
        }
    }

    /// Marks the connection as having sent a request: it leaves the line.
    pub fn start(&self) {
        self.started.store(true, Ordering::Relaxed);
    }

    /// Whether the last read of its socket found nothing: a request that
    /// stops halfway (headers a byte at a time) waits on the client, not on
    /// a broker too busy to read.
    pub fn is_stalled(&self) -> bool {
        self.stalled.load(Ordering::Relaxed)
    }

    /// Resolves when the connection was pushed out before it sent a request.
    pub async fn evicted(&self) {
        self.evict.notified().await;
        if self.started.load(Ordering::Relaxed) {
            std::future::pending::<()>().await;
        }
    }
}

/// A connection's socket as the HTTP server reads it, noting in its slot
/// whether the last read found nothing.
#[derive(Debug)]
pub struct Reading<T> {
    io: T,
    slot: Arc<Slot>,
}

impl<T> Reading<T> {
    /// Reads `io` for the connection in `slot`.
    pub fn new(io: T, slot: Arc<Slot>) -> Self {
        Self { io, slot }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Reading<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.io).poll_read(cx, buf);
        let stalled = match &read {
            Poll::Pending => true,
            Poll::Ready(Ok(())) if buf.filled().len() > before => false,
            Poll::Ready(_) => return read,
        };
        self.slot.stalled.store(stalled, Ordering::Relaxed);
        read
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Reading<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The connections that have not sent a request yet, oldest first.
#[derive(Debug, Default)]
pub struct Line(Mutex<VecDeque<Arc<Slot>>>);

impl Line {
    /// Puts `slot` in line.
    pub fn admit(&self, slot: Arc<Slot>) {
        let mut line = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // Keep the line to the connections still silent.
        if line.len() >= 64 {
            line.retain(waits);
        }
        line.push_back(slot);
    }

    /// Pushes out, oldest first, the connections silent for [`GRACE`] (the
    /// broker is full). Returns when the next may go, if any is left.
    pub fn sweep(&self, now: Instant) -> Option<Instant> {
        let mut line = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        line.retain(waits);
        while let Some(oldest) = line.front() {
            let due = oldest.accepted + GRACE;
            if due > now {
                return Some(due);
            }
            if let Some(oldest) = line.pop_front() {
                oldest.evict.notify_one();
            }
        }
        None
    }

    /// Connections in line (for tests).
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether the line is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A connection that has not started and whose task still runs is waiting.
fn waits(slot: &Arc<Slot>) -> bool {
    !slot.started.load(Ordering::Relaxed) && Arc::strong_count(slot) > 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt as _;

    /// `n` slots accepted at `at`, each held as its connection task would.
    fn admit(line: &Line, n: usize, at: Instant) -> Vec<Arc<Slot>> {
        (0..n)
            .map(|_| {
                let slot = Arc::new(Slot::new(at));
                line.admit(Arc::clone(&slot));
                slot
            })
            .collect()
    }

    fn kept(slots: &[Arc<Slot>]) -> usize {
        slots.iter().filter(|s| Arc::strong_count(s) > 1).count()
    }

    #[test]
    fn silent_connections_go_only_once_their_grace_has_run_out() {
        let line = Line::default();
        let t0 = Instant::now();
        let old = admit(&line, 300, t0);
        let young = admit(&line, 10, t0 + GRACE / 2);
        assert_eq!(line.sweep(t0 + GRACE / 2), Some(t0 + GRACE));
        assert_eq!(line.len(), 310, "none goes within its grace");
        assert_eq!(line.sweep(t0 + GRACE), Some(t0 + GRACE / 2 + GRACE));
        assert_eq!((kept(&old), kept(&young)), (0, 10), "the oldest went first");
        assert_eq!(line.sweep(t0 + 2 * GRACE), None);
        assert!(line.is_empty());
    }

    #[test]
    fn a_connection_that_sent_its_request_never_goes() {
        let line = Line::default();
        let t0 = Instant::now();
        let slots = admit(&line, 100, t0);
        for s in &slots[..40] {
            s.start();
        }
        assert_eq!(line.sweep(t0 + GRACE), None);
        assert_eq!(
            kept(&slots),
            0,
            "started ones left the line; silent ones went"
        );
        let pushed_out = |s: &Arc<Slot>| s.evicted().now_or_never().is_some();
        assert!(
            slots[..40].iter().all(|s| !pushed_out(s)),
            "the started ones stay"
        );
        assert!(
            slots[40..].iter().all(pushed_out),
            "the silent ones were told to go"
        );
    }

    #[test]
    fn a_closed_connection_leaves_the_line() {
        let line = Line::default();
        let t0 = Instant::now();
        drop(admit(&line, 70, t0));
        let _held = admit(&line, 1, t0);
        assert_eq!(line.len(), 1, "the line keeps only the silent ones");
        assert_eq!(line.sweep(t0), Some(t0 + GRACE));
    }
}
