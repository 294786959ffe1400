//! Allocations made on the broker's threads, counted by the global
//! allocator: a thread-local flag says whether the current thread's
//! allocations count. It starts set, so threads the broker starts itself
//! (its audit writer) count too; the runtimes of the server and of the load
//! generator, and the main thread, clear it when they start.
//!
//! The counting allocator wraps the system allocator with a small header per
//! allocation and turns a `realloc` into allocate, copy, free (counted as
//! one allocation): every part of the stack pays this alike.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use tracking_allocator::{AllocationGroupId, AllocationRegistry, AllocationTracker, Allocator};

#[global_allocator]
static GLOBAL: Allocator<std::alloc::System> = Allocator::system();

static COUNT: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNTED: Cell<bool> = const { Cell::new(true) };
}

struct Counter;

impl AllocationTracker for Counter {
    fn allocated(&self, _addr: usize, size: usize, _wrapped: usize, _group: AllocationGroupId) {
        if COUNTED.try_with(Cell::get).unwrap_or(false) {
            COUNT.fetch_add(1, Ordering::Relaxed);
            BYTES.fetch_add(size as u64, Ordering::Relaxed);
        }
    }

    fn deallocated(
        &self,
        _addr: usize,
        _size: usize,
        _wrapped: usize,
        _source: AllocationGroupId,
        _current: AllocationGroupId,
    ) {
    }
}

/// Starts counting.
pub fn install() {
    AllocationRegistry::set_global_tracker(Counter)
        .expect("the allocation counter is installed once");
    AllocationRegistry::enable_tracking();
}

/// Whether the current thread's allocations count.
pub fn count_this_thread(counted: bool) {
    COUNTED.with(|c| c.set(counted));
}

/// Allocations counted so far (or between two readings).
#[derive(Debug, Clone, Copy, Default)]
pub struct Allocs {
    pub count: u64,
    pub bytes: u64,
}

/// The counts now.
pub fn now() -> Allocs {
    Allocs {
        count: COUNT.load(Ordering::Relaxed),
        bytes: BYTES.load(Ordering::Relaxed),
    }
}

impl std::ops::Sub for Allocs {
    type Output = Allocs;
    fn sub(self, earlier: Allocs) -> Allocs {
        Allocs {
            count: self.count - earlier.count,
            bytes: self.bytes - earlier.bytes,
        }
    }
}

impl std::ops::AddAssign for Allocs {
    fn add_assign(&mut self, o: Allocs) {
        self.count += o.count;
        self.bytes += o.bytes;
    }
}
