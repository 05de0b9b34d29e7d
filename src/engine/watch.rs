//! `rootfs-guard watch` (alone, or inside `serve --watch`): reports violating containers as they
//! appear, by following the Engine `/events` stream.
//!
//! The create-time rule cannot see everything: swarm tasks are created by the daemon itself (no API
//! call, so no AuthZ request), and containers created while the plugin was off or in audit mode
//! slip through. The watcher inspects each container on `create` and `start` and judges it with the
//! audit's [`crate::engine::audit::assess`], itself the create rule's function. `--stop` stops violators:
//! a blunt instrument (the container has already started; its workload is killed after dockerd's
//! grace period), for hosts where a writable container must not keep running.
//!
//! When dockerd goes away the watcher reconnects with exponential backoff (capped at 30 s) and asks
//! for the events it missed (`since`). It never touches the AuthZ path: inside `serve` it is a
//! separate task that only logs.

use std::collections::{HashSet, VecDeque};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tracing::{debug, info, warn};

use crate::authz::policy::Policy;
use crate::engine::audit::{assess, Row, Verdict};
use crate::engine::client::{short_id, DockerClient, Event};

/// Where violators are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// One log line each (inside `serve`).
    Log,
    /// One text line each on stdout.
    Text,
    /// One JSON object per line on stdout (the audit row plus `event`, `time_nano`, `stopped`).
    Json,
}

/// What the watcher does.
#[derive(Debug, Clone)]
pub struct Options {
    pub output: Output,
    /// Stop violating containers when they start.
    pub stop: bool,
    /// Grace period given to a stopped container, in seconds.
    pub stop_grace: u32,
}

/// The policy in force, asked for at every event (so `serve`'s SIGHUP reloads apply).
pub type PolicySource = Arc<dyn Fn() -> Arc<Policy> + Send + Sync>;

/// One reported violator (the JSON line of `watch --format json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `create` or `start`.
    pub event: String,
    /// Event time, unix nanoseconds (dockerd's `timeNano`).
    pub time_nano: i64,
    /// Whether the watcher stopped the container (`--stop`).
    pub stopped: bool,
    #[serde(flatten)]
    pub container: Row,
}

impl Report {
    /// One short text line.
    pub fn text_line(&self) -> String {
        let c = &self.container;
        let mut line = format!(
            "violation {} name={} image={} event={} rule={}",
            short_id(&c.id),
            printable(&c.name),
            printable(&c.image),
            self.event,
            c.rule.unwrap_or("-"),
        );
        if let Some(r) = &c.remount_risk {
            line.push_str(&format!(" remount_risk={:?}", r));
        }
        if let Some(s) = &c.swarm_service {
            line.push_str(&format!(" service={}", printable(s)));
        }
        if c.build_leftover {
            line.push_str(" build_leftover");
        }
        if self.stopped {
            line.push_str(" stopped");
        }
        line
    }
}

fn printable(s: &str) -> String {
    let clean: String = s
        .chars()
        .filter(|c| !c.is_control() && !c.is_whitespace())
        .take(200)
        .collect();
    if clean.is_empty() {
        "-".into()
    } else {
        clean
    }
}

/// The container an event is about, if the watcher should look at it.
pub fn container_of(ev: &Event) -> Option<&str> {
    (ev.kind == "container"
        && matches!(ev.action.as_str(), "create" | "start")
        && !ev.actor.id.is_empty())
    .then_some(ev.actor.id.as_str())
}

/// Exponential backoff between reconnection attempts.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    pub const INITIAL: Duration = Duration::from_millis(500);
    pub const MAX: Duration = Duration::from_secs(30);

    pub fn new() -> Self {
        Backoff {
            next: Self::INITIAL,
        }
    }

    /// The delay before the next attempt (doubling up to [`Self::MAX`]).
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        d
    }

    pub fn reset(&mut self) {
        self.next = Self::INITIAL;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

/// Containers already reported, so a container is reported once (on create, or on its first start
/// seen), not on every restart. Bounded: the oldest are forgotten.
#[derive(Debug, Default)]
struct Recent {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl Recent {
    const CAP: usize = 4096;

    /// Remembers `id`; false when it was already known.
    fn insert(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() >= Self::CAP {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        self.order.push_back(id.to_owned());
        self.set.insert(id.to_owned());
        true
    }
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// What the watch loop tells whoever runs it (`serve --watch` counts it in its metrics). A trait
/// here, implemented by the daemon, so the engine never names a daemon type.
pub trait WatchObserver: Send + Sync {
    /// The loop started.
    fn enabled(&self);
    /// The events stream was (re)connected or lost.
    fn connected(&self, connected: bool);
    /// A violator was reported; `stopped` when `--stop` stopped it.
    fn violation(&self, stopped: bool);
    /// A container event was handled (whatever its verdict): the audit gauges may have moved.
    fn container_event(&self) {}
}

/// Follows the events stream forever (until the task is dropped), reconnecting with backoff.
pub async fn run(
    client: DockerClient,
    policy: PolicySource,
    opts: Options,
    metrics: Option<Arc<dyn WatchObserver>>,
) {
    if let Some(m) = &metrics {
        m.enabled();
    }
    let mut backoff = Backoff::new();
    let mut recent = Recent::default();
    // Replay from here after a reconnection: the last event seen, or when we first connected.
    let mut since: Option<i64> = None;
    let mut announced_down = false;
    loop {
        let mut stream = match client.container_events(since).await {
            Ok(s) => s,
            Err(e) => {
                let delay = backoff.next_delay();
                if announced_down {
                    debug!(error = %e, retry_in = ?delay, "watch: still cannot reach dockerd");
                } else {
                    warn!(error = %e, retry_in = ?delay, "watch: cannot follow docker events; retrying");
                    announced_down = true;
                }
                tokio::time::sleep(delay).await;
                continue;
            }
        };
        backoff.reset();
        announced_down = false;
        since.get_or_insert_with(now_nanos);
        if let Some(m) = &metrics {
            m.connected(true);
        }
        info!(host = %client.host(), "watch: following container events");
        let ended = loop {
            match stream.next().await {
                Ok(Some(ev)) => {
                    if ev.time_nano > 0 {
                        since = Some(ev.time_nano);
                    }
                    if let Some(id) = container_of(&ev) {
                        let id = id.to_owned();
                        check(
                            &client,
                            &policy,
                            &opts,
                            metrics.as_ref(),
                            &mut recent,
                            &ev,
                            &id,
                        )
                        .await;
                        if let Some(m) = &metrics {
                            m.container_event();
                        }
                    }
                }
                Ok(None) => break "dockerd closed the events stream".to_owned(),
                Err(e) => break e.to_string(),
            }
        };
        if let Some(m) = &metrics {
            m.connected(false);
        }
        let delay = backoff.next_delay();
        warn!(reason = %ended, retry_in = ?delay, "watch: lost docker events; reconnecting");
        tokio::time::sleep(delay).await;
    }
}

/// Inspects and judges one container named by an event; reports (and stops) a violator.
async fn check(
    client: &DockerClient,
    policy: &PolicySource,
    opts: &Options,
    metrics: Option<&Arc<dyn WatchObserver>>,
    recent: &mut Recent,
    ev: &Event,
    id: &str,
) {
    let container = match client.inspect(id).await {
        Ok(Some(c)) => c,
        Ok(None) => return, // already removed
        Err(e) => {
            warn!(container = short_id(id), error = %e, "watch: cannot inspect");
            return;
        }
    };
    let row = assess(&policy(), &container);
    if row.verdict != Verdict::Violation {
        debug!(
            container = short_id(id),
            verdict = row.verdict.as_str(),
            "watch: checked"
        );
        return;
    }
    let first_time = recent.insert(id);
    let mut report = Report {
        event: ev.action.clone(),
        time_nano: ev.time_nano,
        stopped: false,
        container: row,
    };
    if opts.stop && ev.action == "start" {
        // Stopping waits out the grace period: do it aside so events keep flowing.
        let (client, output, grace) = (client.clone(), opts.output, opts.stop_grace);
        let metrics = metrics.cloned();
        let id = id.to_owned();
        tokio::spawn(async move {
            match client.stop(&id, grace).await {
                Ok(()) => report.stopped = true,
                Err(e) => {
                    warn!(container = short_id(&id), error = %e, "watch: cannot stop violator")
                }
            }
            if let Some(m) = &metrics {
                m.violation(report.stopped);
            }
            emit(output, &report);
        });
        return;
    }
    if !first_time {
        return;
    }
    if let Some(m) = metrics {
        m.violation(false);
    }
    emit(opts.output, &report);
}

fn emit(output: Output, r: &Report) {
    let line = match output {
        Output::Log => {
            let c = &r.container;
            warn!(
                container = short_id(&c.id),
                name = %printable(&c.name),
                image = %printable(&c.image),
                event = %r.event,
                rule = c.rule.unwrap_or("-"),
                remount_risk = c.remount_risk.as_deref(),
                service = c.swarm_service.as_deref().map(printable),
                build_leftover = c.build_leftover,
                stopped = r.stopped,
                "violating container"
            );
            return;
        }
        Output::Text => r.text_line(),
        Output::Json => serde_json::to_string(r).unwrap_or_default(),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::client::{ContainerInspect, EventActor, InspectConfig, InspectHostConfig};

    #[test]
    fn backoff_doubles_to_a_cap_and_resets() {
        let mut b = Backoff::new();
        let delays: Vec<u64> = (0..10).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(
            delays,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]
        );
        b.reset();
        assert_eq!(b.next_delay(), Backoff::INITIAL);
    }

    fn event(kind: &str, action: &str, id: &str) -> Event {
        Event {
            kind: kind.into(),
            action: action.into(),
            actor: EventActor {
                id: id.into(),
                attributes: None,
            },
            time_nano: 1,
        }
    }

    #[test]
    fn only_container_create_and_start() {
        assert_eq!(container_of(&event("container", "create", "a")), Some("a"));
        assert_eq!(container_of(&event("container", "start", "a")), Some("a"));
        assert_eq!(container_of(&event("container", "die", "a")), None);
        assert_eq!(container_of(&event("image", "create", "a")), None);
        assert_eq!(container_of(&event("container", "start", "")), None);
    }

    #[test]
    fn recent_is_bounded() {
        let mut r = Recent::default();
        assert!(r.insert("a"));
        assert!(!r.insert("a"));
        for i in 0..Recent::CAP {
            r.insert(&i.to_string());
        }
        assert_eq!(r.set.len(), Recent::CAP);
        assert!(r.insert("a"), "the oldest entry was forgotten");
    }

    fn writable() -> Report {
        let c = ContainerInspect {
            id: "0123456789abcdef".into(),
            name: "/web app".into(),
            config: Some(InspectConfig {
                image: "bb:latest".into(),
                ..Default::default()
            }),
            host_config: Some(InspectHostConfig {
                privileged: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        Report {
            event: "create".into(),
            time_nano: 42,
            stopped: false,
            container: assess(&Policy::default(), &c),
        }
    }

    #[test]
    fn report_lines() {
        let r = writable();
        assert_eq!(
            r.text_line(),
            "violation 0123456789ab name=webapp image=bb:latest event=create \
             rule=readonly-rootfs remount_risk=\"--privileged\""
        );
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["event"], "create");
        assert_eq!(v["time_nano"], 42);
        assert_eq!(v["stopped"], false);
        assert_eq!(v["verdict"], "violation");
        assert_eq!(v["id"], "0123456789abcdef");
        assert_eq!(v["rule"], "readonly-rootfs");
        assert_eq!(v["build_leftover"], false);

        // A classic builder's RUN container, as it starts (`docker start` of a leftover).
        let mut r = writable();
        r.event = "start".into();
        r.container.build_leftover = true;
        r.container.rule = Some("legacy-build");
        assert_eq!(
            r.text_line(),
            "violation 0123456789ab name=webapp image=bb:latest event=start \
             rule=legacy-build remount_risk=\"--privileged\" build_leftover"
        );
    }
}
