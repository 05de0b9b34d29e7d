//! `rootfs-guard audit`: the CIS 5.12 audit of containers that already exist.
//!
//! Enforcement at create time cannot see containers created before the guard ran, while it was
//! off, or by swarm on another manager's orders. The audit reads every container from the Engine
//! API and judges it with [`assess_container`], the function the create rule uses, so audit and
//! enforcement never disagree. It names the containers the classic builder left ([`leftover`]) and
//! the volumes that bind a protected root ([`volumes`]). Everything but [`run`] is pure: inspect
//! output in, rows and text out.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::Semaphore;

use crate::authz::model::{HostPathMount, HostPathVia, Labels};
use crate::authz::policy::Policy;
use crate::authz::rules::assess::{
    assess_container, remount_risk, Assessment, ContainerFacts, ROOT_BIND,
};
use crate::engine::client::{short_id, ContainerInspect, DockerClient, DockerError, Endpoint};

pub mod exceptions;
pub mod fleet;
pub mod html;
pub mod leftover;
pub mod live;
mod progress;
pub mod prometheus;
pub mod volumes;

use progress::Progress;

use exceptions::{exception_rows, ExceptionRef, ExceptionRow};

pub use leftover::{is_build_leftover, LEGACY_BUILD};
pub use volumes::{assess_volume, VolumeRow};

/// Version of the JSON report's schema; bumped only on incompatible changes (new keys, such as
/// `build_leftover` and `volumes`, are not). 2: many hosts in one report (`hosts[]`, each row's
/// `host`), where an unreachable host is a row rather than a failed audit.
pub const SCHEMA_VERSION: u32 = 2;

/// Exceptions expiring this soon are reported as `expiring`.
pub const EXPIRING_WITHIN: Duration = Duration::from_secs(14 * 86_400);
/// Swarm's labels on task containers.
pub const SWARM_SERVICE_LABEL: &str = "com.docker.swarm.service.name";
pub const SWARM_TASK_LABEL: &str = "com.docker.swarm.task.name";
/// Inspects in flight at once.
pub const DEFAULT_CONCURRENCY: usize = 16;
/// At most this many over an ssh endpoint (one `ssh` process each).
pub const SSH_CONCURRENCY: usize = 4;

/// A container's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Compliant,
    Exempt,
    Violation,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Compliant => "compliant",
            Verdict::Exempt => "exempt",
            Verdict::Violation => "violation",
        }
    }
}

/// One container in the report (the JSON schema's `containers[]`: every key always present).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The daemon the container runs on, as the CLI writes it (`unix:///var/run/docker.sock`).
    pub host: String,
    /// Full container id.
    pub id: String,
    /// Name without dockerd's leading `/`.
    pub name: String,
    /// Image as the creator named it (`Config.Image`).
    pub image: String,
    /// created, running, paused, restarting, removing, exited, dead.
    pub state: String,
    pub readonly_rootfs: bool,
    /// The allowlist entry that exempts the container (only when the verdict is `exempt`).
    pub exemption: Option<String>,
    /// That entry: its id, owner and expiry (only when the verdict is `exempt`).
    pub exception: Option<ExceptionRef>,
    /// What lets the container remount `/` read-write (`--privileged`, `--cap-add SYS_ADMIN`).
    pub remount_risk: Option<String>,
    pub swarm_service: Option<String>,
    pub swarm_task: Option<String>,
    /// The container has the shape the classic builder leaves (a build step's container).
    pub build_leftover: bool,
    pub verdict: Verdict,
    /// The rule broken (`root-bind`, `legacy-build`, `readonly-rootfs`, `remount`) when the
    /// verdict is `violation`.
    pub rule: Option<&'static str>,
    /// What to do about it, as a create would be told.
    pub message: Option<String>,
    /// With `audit --advise`, for a `readonly-rootfs` violation: how to run it read-only (the
    /// `advise` JSON schema's advice object). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<crate::engine::advise::Advice>,
}

/// The host paths an inspected container has bind-mounted. Volumes are left out: their mount
/// point is always below dockerd's data root (`volumes/NAME/_data`); a volume whose options
/// bind a host path is found by listing the volumes.
pub fn bind_host_paths(c: &ContainerInspect) -> Vec<HostPathMount> {
    c.mounts
        .iter()
        .flatten()
        .filter(|m| m.mount_type == "bind")
        .map(|m| HostPathMount {
            source: m.source.clone(),
            writable: m.rw,
            via: HostPathVia::Bind,
        })
        .collect()
}

/// The facts the rules judge, read from an inspected container at `now`. The creator is unknown.
pub fn facts<'a>(
    c: &'a ContainerInspect,
    host_paths: &'a [HostPathMount],
    now: SystemTime,
) -> ContainerFacts<'a> {
    let hc = c.host_config.as_ref();
    let config = c.config.as_ref();
    ContainerFacts {
        readonly_rootfs: hc.is_some_and(|h| h.readonly_rootfs),
        privileged: hc.is_some_and(|h| h.privileged),
        cap_add: hc.and_then(|h| h.cap_add.as_deref()).unwrap_or(&[]),
        labels: config
            .and_then(|c| c.labels.as_ref())
            .map(|l| l as &dyn Labels),
        image: config.map_or("", |c| c.image.as_str()),
        user: None,
        host_paths,
        now,
    }
}

/// Judges one inspected container now.
pub fn assess(policy: &Policy, c: &ContainerInspect) -> Row {
    assess_at(policy, c, SystemTime::now())
}

/// Judges one inspected container at `now` (one instant for a whole audit). A classic-builder
/// leftover is a `legacy-build` violation (while that rule is on) whatever its labels: they are
/// the Dockerfile's, not a creator's choice.
pub fn assess_at(policy: &Policy, c: &ContainerInspect, now: SystemTime) -> Row {
    let host_paths = bind_host_paths(c);
    let f = facts(c, &host_paths, now);
    let label = |key: &str| f.labels.and_then(|l| l.label(key)).map(str::to_owned);
    let name = c.name.strip_prefix('/').unwrap_or(&c.name).to_owned();
    let build_leftover = is_build_leftover(c);
    let mut assessment = assess_container(policy, &f);
    if build_leftover && policy.rules.legacy_build {
        let root_bind =
            matches!(&assessment, Assessment::Violation { rule, .. } if *rule == ROOT_BIND);
        if !root_bind {
            assessment = Assessment::Violation {
                rule: LEGACY_BUILD,
                message: leftover::leftover_message(&name),
            };
        }
    }
    let mut exception = None;
    let (verdict, exemption, rule, message) = match assessment {
        Assessment::Compliant => (Verdict::Compliant, None, None, None),
        Assessment::Exempt(e) => {
            exception = policy.exception(&e.exception_id).map(ExceptionRef::of);
            (Verdict::Exempt, Some(e.description), None, None)
        }
        Assessment::Violation { rule, message } => {
            (Verdict::Violation, None, Some(rule), Some(message))
        }
    };
    Row {
        host: String::new(),
        id: c.id.clone(),
        name,
        image: f.image.to_owned(),
        state: c
            .state
            .as_ref()
            .map(|s| s.status.clone())
            .unwrap_or_default(),
        readonly_rootfs: f.readonly_rootfs,
        exemption,
        exception,
        remount_risk: remount_risk(&f),
        swarm_service: label(SWARM_SERVICE_LABEL),
        swarm_task: label(SWARM_TASK_LABEL),
        build_leftover,
        verdict,
        rule,
        message,
        advice: None,
    }
}

/// The whole audit (the JSON report).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    /// The daemon audited (`unix:///var/run/docker.sock`); with many, the first of `hosts`.
    pub host: String,
    /// Every daemon audited, in the order given, with its own counts; one that could not be
    /// reached is here with the reason, and has no rows.
    pub hosts: Vec<fleet::HostStatus>,
    /// When the audit was made (RFC 3339, UTC).
    pub generated_at: String,
    pub policy: PolicySummary,
    pub summary: Summary,
    /// Sorted by name.
    pub containers: Vec<Row>,
    /// Every volume, sorted by name; a `violation` binds a protected root.
    pub volumes: Vec<VolumeRow>,
    /// Every exception of the policy, with how many of these containers it exempts now.
    pub exceptions: Vec<ExceptionRow>,
    /// Containers that could not be inspected, or the volumes not listed (the audit is
    /// incomplete: exit status 2).
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicySummary {
    pub fingerprint: String,
    pub mode: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub containers: usize,
    pub compliant: usize,
    pub exempt: usize,
    pub violation: usize,
}

impl Report {
    /// A report from judged rows and volumes (sorted here) and the errors met.
    pub fn new(
        host: String,
        policy: &Policy,
        mut rows: Vec<Row>,
        mut volumes: Vec<VolumeRow>,
        errors: Vec<String>,
    ) -> Report {
        rows.sort_by(|a, b| (&a.host, &a.name, &a.id).cmp(&(&b.host, &b.name, &b.id)));
        volumes.sort_by(|a, b| (&a.host, &a.name).cmp(&(&b.host, &b.name)));
        let mut summary = Summary {
            containers: rows.len(),
            ..Summary::default()
        };
        for r in &rows {
            match r.verdict {
                Verdict::Compliant => summary.compliant += 1,
                Verdict::Exempt => summary.exempt += 1,
                Verdict::Violation => summary.violation += 1,
            }
        }
        Report {
            schema_version: SCHEMA_VERSION,
            hosts: vec![fleet::HostStatus::reached(&host, None, &rows, &errors)],
            generated_at: fleet::rfc3339(SystemTime::now()),
            host,
            policy: PolicySummary {
                fingerprint: policy.fingerprint(),
                mode: policy.mode.to_string(),
            },
            summary,
            exceptions: exception_rows(policy, &rows, SystemTime::now(), EXPIRING_WITHIN),
            containers: rows,
            volumes,
            errors,
        }
    }

    /// The volumes that break a rule.
    pub fn volume_violations(&self) -> impl Iterator<Item = &VolumeRow> {
        self.volumes
            .iter()
            .filter(|v| v.verdict == Verdict::Violation)
    }

    /// 0 all compliant or exempt, 1 violations (containers or volumes), 2 incomplete (some
    /// container not inspected, the volumes not listed).
    pub fn exit_code(&self) -> u8 {
        self.exit_code_strict(false)
    }

    /// [`Self::exit_code`], where a host that could not be reached (a row of `hosts`) makes it 2
    /// only when `strict`; otherwise the verdicts of the hosts reached decide.
    pub fn exit_code_strict(&self, strict: bool) -> u8 {
        let down = self.hosts.iter().any(|h| !h.reachable);
        if !self.errors.is_empty() || (strict && down) {
            2
        } else if self.summary.violation > 0 || self.volume_violations().next().is_some() {
            1
        } else {
            0
        }
    }

    /// The report as pretty JSON (schema in docs/audit-watch-advise.md, versioned by `schema_version`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }

    /// The report as an aligned table followed by a summary line; `colour` adds ANSI colours to
    /// the verdicts (only for a terminal). Volumes that break a rule follow in a table of their
    /// own (nothing is printed for volumes when none does).
    pub fn to_table(&self, colour: bool) -> String {
        const HEADERS: [&str; 11] = [
            "HOST",
            "ID",
            "NAME",
            "IMAGE",
            "STATE",
            "READONLY",
            "EXEMPTION",
            "REMOUNT-RISK",
            "SERVICE",
            "BUILD-LEFTOVER",
            "VERDICT",
        ];
        let dash = |v: &Option<String>| v.as_deref().map_or("-".to_owned(), cell);
        let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
        let rows: Vec<(Vec<String>, Verdict)> = self
            .containers
            .iter()
            .map(|r| {
                let fields = vec![
                    cell(&r.host),
                    short_id(&r.id).to_owned(),
                    cell(&r.name),
                    cell(&r.image),
                    cell(&r.state),
                    yes_no(r.readonly_rootfs),
                    match &r.exception {
                        Some(x) => cell(&x.cell()),
                        None => dash(&r.exemption),
                    },
                    dash(&r.remount_risk),
                    dash(&r.swarm_service),
                    yes_no(r.build_leftover),
                    r.verdict.as_str().to_owned(),
                ];
                (fields, r.verdict)
            })
            .collect();
        // The HOST column only when there is more than one host.
        let many = self.hosts.len() > 1;
        let skip = usize::from(!many);
        let rows: Vec<(Vec<String>, Verdict)> = rows
            .into_iter()
            .map(|(f, v)| (f[skip..].to_vec(), v))
            .collect();
        let mut out = String::new();
        if many {
            out.push_str(&fleet::hosts_table(&self.hosts));
            out.push('\n');
        }
        aligned(
            &mut out,
            &HEADERS[skip..],
            &rows,
            HEADERS.len() - 1 - skip,
            colour,
        );
        let s = &self.summary;
        out.push_str(&format!(
            "{} container{}: {} compliant, {} exempt, {} violation{}\n",
            s.containers,
            plural(s.containers),
            s.compliant,
            s.exempt,
            s.violation,
            plural(s.violation),
        ));
        let bad: Vec<(Vec<String>, Verdict)> = self
            .volume_violations()
            .map(|v| {
                let message = v.message.as_deref().unwrap_or_default();
                let fields = [
                    cell(&v.host),
                    cell(&v.name),
                    cell(&v.driver),
                    v.verdict.as_str().to_owned(),
                    message.chars().filter(|c| !c.is_control()).collect(),
                ];
                (fields[skip..].to_vec(), v.verdict)
            })
            .collect();
        if !bad.is_empty() {
            out.push('\n');
            aligned(
                &mut out,
                &["HOST", "VOLUME", "DRIVER", "VERDICT", "MESSAGE"][skip..],
                &bad,
                3 - skip,
                colour,
            );
            out.push_str(&format!(
                "{} volume{}: {} violation{}\n",
                self.volumes.len(),
                plural(self.volumes.len()),
                bad.len(),
                plural(bad.len()),
            ));
        }
        out
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Appends a header and rows in aligned columns (two spaces apart, the last column unpadded),
/// with the verdict in column `verdict_col` coloured when `colour`.
fn aligned(
    out: &mut String,
    headers: &[&str],
    rows: &[(Vec<String>, Verdict)],
    verdict_col: usize,
    colour: bool,
) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for (fields, _) in rows {
        for (w, c) in widths.iter_mut().zip(fields) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut line = |fields: &[String], verdict: Option<Verdict>| {
        for (i, (field, width)) in fields.iter().zip(&widths).enumerate() {
            let last = i == fields.len() - 1;
            let (pre, post) = match (colour, verdict) {
                (true, Some(v)) if i == verdict_col => (ansi(v), "\x1b[0m"),
                _ => ("", ""),
            };
            out.push_str(pre);
            out.push_str(field);
            out.push_str(post);
            if !last {
                let pad = width - field.chars().count() + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    };
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    line(&header, None);
    for (fields, verdict) in rows {
        line(fields, Some(*verdict));
    }
}

fn ansi(v: Verdict) -> &'static str {
    match v {
        Verdict::Compliant => "\x1b[32m",
        Verdict::Exempt => "\x1b[33m",
        Verdict::Violation => "\x1b[1;31m",
    }
}

/// A table cell: control characters dropped (names and labels come from users), long text cut.
fn cell(s: &str) -> String {
    const MAX: usize = 48;
    let clean: String = s.chars().filter(|c| !c.is_control()).collect();
    if clean.chars().count() <= MAX {
        return clean;
    }
    let mut cut: String = clean.chars().take(MAX - 1).collect();
    cut.push('…');
    cut
}

/// Options of one audit run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only running containers (`GET /containers/json` without `all`).
    pub running_only: bool,
    pub concurrency: usize,
    /// Show progress on stderr when the audit takes a while (set when stderr is a terminal).
    pub progress: bool,
    /// The instant every container is judged at (exceptions expire).
    pub now: SystemTime,
}

/// Lists and inspects the containers (at most `concurrency` inspects at once) and judges them,
/// then lists and judges the volumes (all of them, `running_only` or not). Fails only when the
/// containers cannot be listed; a container that cannot be inspected, or volumes that cannot be
/// listed, are errors in the report; a container removed meanwhile is left out.
pub async fn run(
    client: &DockerClient,
    policy: &Policy,
    opts: &Options,
) -> Result<Report, DockerError> {
    let list = client.list_containers(!opts.running_only).await?;
    let total = list.len();
    // Over ssh every request in flight is its own `ssh` session: stay under sshd's MaxStartups
    // (10 unauthenticated connections by default) with room for the operator's own.
    let concurrency = match client.endpoint() {
        Endpoint::Ssh { .. } => opts.concurrency.min(SSH_CONCURRENCY),
        _ => opts.concurrency,
    };
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for summary in list {
        let client = client.clone();
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let result = client.inspect(&summary.id).await;
            (summary.id, result)
        });
    }
    let mut progress = Progress::new(opts.progress, total);
    let mut rows = Vec::with_capacity(total);
    let mut errors = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((_, Ok(Some(c)))) => rows.push(assess_at(policy, &c, opts.now)),
            Ok((_, Ok(None))) => {} // removed between the list and the inspect
            Ok((id, Err(e))) => {
                errors.insert(id, e.to_string());
            }
            Err(e) => {
                errors.insert(String::new(), format!("inspect task failed: {e}"));
            }
        }
        progress.tick();
    }
    progress.finish();
    let mut errors: Vec<String> = errors.into_values().collect();
    let volumes = match client.list_volumes().await {
        Ok(list) => list.iter().map(|v| assess_volume(policy, v)).collect(),
        Err(e) => {
            errors.push(e.to_string());
            Vec::new()
        }
    };
    let host = client.host();
    let mut volumes: Vec<VolumeRow> = volumes;
    for r in &mut rows {
        r.host.clone_from(&host);
    }
    for v in &mut volumes {
        v.host.clone_from(&host);
    }
    let mut report = Report::new(host, policy, rows, volumes, errors);
    report.exceptions = exception_rows(policy, &report.containers, opts.now, EXPIRING_WITHIN);
    Ok(report)
}

#[cfg(test)]
mod tests;
