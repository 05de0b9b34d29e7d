//! What the request handlers share: the limits that bound each request, the policy in force (and
//! where to reload it from), the metrics, and the decision slots that cap concurrent decoding.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use tokio::sync::Semaphore;

use crate::authz::policy::{Policy, PolicyError};
use crate::daemon::metrics::Metrics;

/// Limits of the server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest AuthZ request accepted; larger ones are denied without being buffered.
    pub max_request_bytes: usize,
    /// Time allowed to receive a request's headers and its body.
    pub read_timeout: Duration,
    /// Decision slots: AuthZ requests whose bodies are read and decided at the same time. A
    /// request takes one slot per started [`DECISION_SLOT_BYTES`] of its declared length (all
    /// of them when it declares none), so large bodies are bounded in number too and memory stays
    /// within about `max_concurrent_decisions` × [`DECISION_SLOT_BYTES`] × the decoding overhead.
    pub max_concurrent_decisions: usize,
}

/// Request bytes one decision slot covers (see [`Limits::max_concurrent_decisions`]). A request
/// with a body of 1 MiB (about 1.4 MB as base64 in JSON) takes 6 slots; small ones take 1.
pub const DECISION_SLOT_BYTES: u64 = 256 << 10;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_bytes: 8 << 20,
            read_timeout: Duration::from_secs(10),
            max_concurrent_decisions: 32,
        }
    }
}

/// Reads and parses a policy file. Here, not in the decision core, because the core does no I/O;
/// errors name the file (and, for a bad policy, the line and field).
pub fn load_policy_file(path: &Path) -> Result<Policy, PolicyError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| PolicyError::Read {
        path: origin.clone(),
        error,
    })?;
    Policy::from_json(&text, &origin)
}

/// The policy in force, and where to reload it from.
pub struct PolicyStore {
    path: Option<PathBuf>,
    current: ArcSwap<Policy>,
}

impl PolicyStore {
    /// Loads `path` (or the embedded default when `None`).
    pub fn open(path: Option<PathBuf>) -> Result<Self, PolicyError> {
        let policy = match &path {
            Some(p) => load_policy_file(p)?,
            None => Policy::default(),
        };
        Ok(PolicyStore {
            path,
            current: ArcSwap::from_pointee(policy),
        })
    }

    pub fn fixed(policy: Policy) -> Self {
        PolicyStore {
            path: None,
            current: ArcSwap::from_pointee(policy),
        }
    }

    pub fn current(&self) -> Arc<Policy> {
        self.current.load_full()
    }

    /// The policy in force, without touching its reference count (which both worker threads
    /// would otherwise contend on for every request). Do not hold it across an `.await`.
    pub fn load(&self) -> arc_swap::Guard<Arc<Policy>> {
        self.current.load()
    }

    /// Re-reads the policy file; on error the policy in force is kept and the error returned.
    pub fn reload(&self) -> Result<Arc<Policy>, PolicyError> {
        let Some(path) = &self.path else {
            return Ok(self.current());
        };
        let policy = Arc::new(load_policy_file(path)?);
        self.current.store(policy.clone());
        Ok(policy)
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

/// Where the daemon's decisions take their instant from (exceptions expire while it runs).
pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Shared state of the request handlers.
pub struct State {
    pub policy: PolicyStore,
    /// The clock decisions read once each.
    pub clock: Arc<dyn Clock>,
    pub limits: Limits,
    /// Counts every decision; exported only when `serve --metrics-addr` is given.
    pub metrics: Arc<Metrics>,
    pub(super) decisions: Semaphore,
    /// Total decision slots (the semaphore's permits).
    pub(super) slots: usize,
}

impl State {
    pub fn new(policy: PolicyStore, limits: Limits) -> Arc<Self> {
        Self::with_metrics(policy, limits, Arc::new(Metrics::new()))
    }

    pub fn with_metrics(policy: PolicyStore, limits: Limits, metrics: Arc<Metrics>) -> Arc<Self> {
        let slots = limits.max_concurrent_decisions.clamp(1, u32::MAX as usize);
        metrics.policy_loaded(&policy.current());
        Arc::new(State {
            policy,
            clock: Arc::new(SystemClock),
            limits,
            metrics,
            decisions: Semaphore::new(slots),
            slots,
        })
    }
}
