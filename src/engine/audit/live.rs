//! The audit's gauges kept current while `serve --watch` runs: the same sweep as `audit` (and the
//! same text as `audit --format prometheus`) redone on a timer, on each reconnection of the watch
//! loop and shortly after container events, handed to whoever serves `/metrics` through
//! [`AuditSink`] (the daemon implements it; the engine never names a daemon type).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;
use tracing::{debug, warn};

use super::fleet::HostStatus;
use super::{prometheus, run, Options, Report};
use crate::engine::client::DockerClient;
use crate::engine::watch::PolicySource;

/// Default time between two sweeps when nothing happens.
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(300);
/// After a nudge (an event, a reconnection), wait this long for more before sweeping: a burst
/// of creates is one sweep.
const SETTLE: Duration = Duration::from_secs(1);

/// Receives the text exposition of each sweep.
pub trait AuditSink: Send + Sync {
    fn audited(&self, exposition: String);
}

/// Sweeps forever (until the task is dropped): now, then every `every`, and `SETTLE` after
/// each `nudge`. An unreachable daemon is a sweep too: `rootfs_guard_host_up` 0, counts 0.
pub async fn keep_current(
    client: DockerClient,
    policy: PolicySource,
    every: Duration,
    nudge: Arc<Notify>,
    sink: Arc<dyn AuditSink>,
) {
    loop {
        let policy = policy();
        let opts = Options {
            running_only: false,
            concurrency: super::DEFAULT_CONCURRENCY,
            progress: false,
            now: SystemTime::now(),
        };
        let report = match run(&client, &policy, &opts).await {
            Ok(r) => r,
            Err(e) => {
                debug!(error = %e, "audit gauges: daemon not reached");
                let host = client.host();
                let mut r = Report::new(host.clone(), &policy, vec![], vec![], vec![]);
                r.hosts = vec![HostStatus::down(&host, None, e.to_string(), &[])];
                r
            }
        };
        if !report.errors.is_empty() {
            warn!(
                errors = report.errors.len(),
                "audit gauges: sweep incomplete"
            );
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        sink.audited(prometheus::render(&report, now));
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = nudge.notified() => tokio::time::sleep(SETTLE).await,
        }
    }
}
