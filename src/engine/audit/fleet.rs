//! Many daemons, one report: `audit --host A --host B` / `--hosts FILE` audits every host at
//! once (a bounded number at a time), tags each row with its host, and merges the results into
//! one [`Report`]. A host that cannot be reached, or stops answering mid-way, is a row of
//! `hosts` with the reason instead of a failed audit: the fleet's other hosts are still reported.

use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;
use tokio::sync::Semaphore;

use super::{exception_rows, run, Options, Report, Row, Summary, Verdict, EXPIRING_WITHIN};
use crate::authz::policy::Policy;
use crate::engine::client::DockerClient;

/// Hosts audited at once by default.
pub const DEFAULT_HOST_CONCURRENCY: usize = 8;

/// One daemon of the report (the JSON schema's `hosts[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostStatus {
    /// The endpoint as the CLI writes it, or the entry as given when it could not be resolved.
    pub host: String,
    /// The docker context that named it, if one did.
    pub context: Option<String>,
    /// `false`: the daemon could not be reached (or stopped answering); `error` says why.
    pub reachable: bool,
    pub error: Option<String>,
    /// This host's containers, by verdict.
    pub summary: Summary,
}

impl HostStatus {
    /// A host audited: its counts from `rows` (those of this host) and its first error.
    pub fn reached(host: &str, context: Option<String>, rows: &[Row], errors: &[String]) -> Self {
        HostStatus {
            host: host.to_owned(),
            context,
            reachable: true,
            error: errors.first().cloned(),
            summary: summary(rows.iter().filter(|r| r.host == host || r.host.is_empty())),
        }
    }

    /// A host not reached (or that stopped answering), with the rows it gave.
    pub fn down(host: &str, context: Option<String>, reason: String, rows: &[Row]) -> Self {
        HostStatus {
            reachable: false,
            error: Some(reason),
            ..Self::reached(host, context, rows, &[])
        }
    }
}

fn summary<'a>(rows: impl Iterator<Item = &'a Row>) -> Summary {
    let mut s = Summary::default();
    for r in rows {
        s.containers += 1;
        match r.verdict {
            Verdict::Compliant => s.compliant += 1,
            Verdict::Exempt => s.exempt += 1,
            Verdict::Violation => s.violation += 1,
        }
    }
    s
}

/// One entry of the fleet: what the operator wrote, the context it named, and the client (or
/// why there is none: an unknown context, an unreadable TLS file).
pub struct FleetTarget {
    pub entry: String,
    pub context: Option<String>,
    pub client: Result<DockerClient, String>,
}

/// Audits every target, `host_concurrency` at a time, each with `opts` (its own inspect
/// concurrency), and merges them in the order given.
pub async fn run_fleet(
    targets: Vec<FleetTarget>,
    policy: &Policy,
    opts: &Options,
    host_concurrency: usize,
) -> Report {
    let policy = Arc::new(policy.clone());
    let permits = Arc::new(Semaphore::new(host_concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let count = targets.len();
    for (i, t) in targets.into_iter().enumerate() {
        let (policy, permits, opts) = (policy.clone(), permits.clone(), opts.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (i, audit_one(t, &policy, &opts).await)
        });
    }
    let mut done: Vec<Option<(HostStatus, Option<Report>)>> = vec![None; count];
    while let Some(joined) = tasks.join_next().await {
        if let Ok((i, r)) = joined {
            done[i] = Some(r);
        }
    }
    let (mut hosts, mut rows, mut volumes, mut errors) = (vec![], vec![], vec![], vec![]);
    for (status, report) in done.into_iter().flatten() {
        if let Some(r) = report {
            rows.extend(r.containers);
            volumes.extend(r.volumes);
            if status.reachable {
                errors.extend(r.errors);
            }
        }
        hosts.push(status);
    }
    let first = hosts.first().map(|h| h.host.clone()).unwrap_or_default();
    let mut report = Report::new(first, &policy, rows, volumes, errors);
    report.exceptions = exception_rows(&policy, &report.containers, opts.now, EXPIRING_WITHIN);
    report.hosts = hosts;
    report
}

/// One host: its report, or the row that says why there is none. A host whose inspections
/// failed and that no longer answers a ping stopped mid-way: it is down, with the rows it gave.
async fn audit_one(
    t: FleetTarget,
    policy: &Policy,
    opts: &Options,
) -> (HostStatus, Option<Report>) {
    let client = match t.client {
        Ok(c) => c,
        Err(reason) => return (HostStatus::down(&t.entry, t.context, reason, &[]), None),
    };
    let host = client.host();
    match run(&client, policy, opts).await {
        Err(e) => (HostStatus::down(&host, t.context, e.to_string(), &[]), None),
        Ok(report) => {
            if !report.errors.is_empty() {
                if let Err(e) = client.ping().await {
                    let reason = format!("stopped answering during the audit: {e}");
                    let status = HostStatus::down(&host, t.context, reason, &report.containers);
                    return (status, Some(report));
                }
            }
            let status = HostStatus::reached(&host, t.context, &report.containers, &report.errors);
            (status, Some(report))
        }
    }
}

/// The table of hosts printed before the containers when there are several.
pub fn hosts_table(hosts: &[HostStatus]) -> String {
    let mut rows: Vec<[String; 6]> = vec![[
        "HOST".into(),
        "STATUS".into(),
        "CONTAINERS".into(),
        "VIOLATION".into(),
        "EXEMPT".into(),
        "ERROR".into(),
    ]];
    for h in hosts {
        let label = match &h.context {
            Some(c) => format!("{} ({c})", h.host),
            None => h.host.clone(),
        };
        rows.push([
            label,
            if h.reachable { "ok" } else { "unreachable" }.into(),
            h.summary.containers.to_string(),
            h.summary.violation.to_string(),
            h.summary.exempt.to_string(),
            h.error
                .as_deref()
                .unwrap_or("-")
                .chars()
                .filter(|c| !c.is_control())
                .collect(),
        ]);
    }
    let mut widths = [0usize; 6];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            out.push_str(c);
            if i < 5 {
                out.extend(std::iter::repeat_n(' ', widths[i] - c.chars().count() + 2));
            }
        }
        out.push('\n');
    }
    let down = hosts.iter().filter(|h| !h.reachable).count();
    out.push_str(&format!(
        "{} hosts: {} reached, {down} unreachable\n",
        hosts.len(),
        hosts.len() - down
    ));
    out
}

/// An instant as RFC 3339 in UTC, to the second.
pub fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
