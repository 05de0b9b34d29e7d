//! The audit's gauges on `/metrics` while `serve --watch` runs (`rootfs_guard_containers{host,
//! verdict}` and the rest of `audit --format prometheus`): the text of the engine's last sweep,
//! kept here and appended to the registry's exposition, and the nudge that asks the engine to
//! sweep again when the watch loop reconnects or sees a container event.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::engine::audit::live::AuditSink;

/// The last sweep's exposition (empty until the first, or without `--watch`).
#[derive(Debug, Default)]
pub struct AuditGauges {
    text: Mutex<String>,
    nudge: Arc<Notify>,
}

impl AuditGauges {
    /// The last sweep's lines, to append to `/metrics`.
    pub fn text(&self) -> String {
        self.text.lock().expect("not poisoned").clone()
    }

    /// What the sweeper waits on between timer sweeps.
    pub fn nudge(&self) -> Arc<Notify> {
        self.nudge.clone()
    }

    /// Ask for a sweep soon.
    pub fn poke(&self) {
        self.nudge.notify_one();
    }
}

impl AuditSink for AuditGauges {
    fn audited(&self, exposition: String) {
        *self.text.lock().expect("not poisoned") = exposition;
    }
}
