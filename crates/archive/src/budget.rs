//! A byte budget for the bounded channels between threads: a channel
//! bounded by count alone would hold 64 messages of 50 MB each. With the
//! budget, memory stays bounded by [`MAX_IN_FLIGHT`] plus the largest
//! single message (one message is always let through, however big).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// Bytes allowed in flight between two threads.
pub const MAX_IN_FLIGHT: u64 = 64 << 20;

#[derive(Debug, Default)]
pub struct Budget {
    used: Mutex<u64>,
    freed: Condvar,
    /// Set when the consumer is gone: nobody waits any more.
    closed: AtomicBool,
}

impl Budget {
    /// Waits until `n` bytes fit (or nothing is in flight), then takes them.
    pub fn take(&self, n: u64) {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        while *used > 0 && *used + n > MAX_IN_FLIGHT && !self.closed.load(Ordering::Relaxed) {
            used = self
                .freed
                .wait_timeout(used, Duration::from_millis(50))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *used += n;
    }

    /// Gives `n` bytes back.
    pub fn give(&self, n: u64) {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        *used = used.saturating_sub(n);
        self.freed.notify_all();
    }

    /// The consumer stopped: let every waiter through (its send then fails).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_big_item_passes_alone_and_waits_for_room() {
        let b = Budget::default();
        b.take(MAX_IN_FLIGHT * 2);
        std::thread::scope(|s| {
            let t = s.spawn(|| b.take(1));
            std::thread::sleep(Duration::from_millis(20));
            assert!(!t.is_finished());
            b.give(MAX_IN_FLIGHT * 2);
            t.join().unwrap();
        });
        b.close();
        b.take(MAX_IN_FLIGHT * 3);
    }
}
