//! The audit's progress line on stderr ("inspected N/M containers"), shown only on a terminal and
//! only once an audit takes a moment.

use std::io::Write;
use std::time::{Duration, Instant};

/// "inspected N/M" on stderr, only on a terminal and only once the audit has taken a moment.
pub(super) struct Progress {
    enabled: bool,
    total: usize,
    done: usize,
    start: Instant,
    last: Option<Instant>,
}

impl Progress {
    const QUIET_FOR: Duration = Duration::from_millis(500);
    const EVERY: Duration = Duration::from_millis(100);

    pub(super) fn new(enabled: bool, total: usize) -> Self {
        Progress {
            enabled,
            total,
            done: 0,
            start: Instant::now(),
            last: None,
        }
    }

    pub(super) fn tick(&mut self) {
        self.done += 1;
        if !self.enabled || self.start.elapsed() < Self::QUIET_FOR {
            return;
        }
        let now = Instant::now();
        if self.last.is_some_and(|t| now - t < Self::EVERY) && self.done < self.total {
            return;
        }
        self.last = Some(now);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\rinspected {}/{} containers", self.done, self.total);
        let _ = err.flush();
    }

    pub(super) fn finish(&self) {
        if self.last.is_some() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}
