//! Metrics and health of a running guard: Prometheus text format on `/metrics`, a JSON `/health`,
//! served on their own listener (`serve --metrics-addr`, loopback TCP or a unix socket), never on
//! the plugin socket that dockerd calls.
//!
//! Built on `prometheus-client` (the Prometheus project's Rust client): a registry owned by this
//! struct rather than a process-global one, so tests run servers side by side and count exactly.
//! Labels are bounded sets (results, rule names, endpoints); messages never become labels.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tracing::warn;

use crate::authz::decision::Decision;
use crate::authz::policy::Policy;
use crate::engine::watch::WatchObserver;

/// The rule of a decision on an AuthZ request that could not be read (counted as a request error).
const UNREADABLE_RULE: &str = "authz-request";

/// Upper bounds of the decision latency buckets, in seconds (50 µs to 1 s).
const LATENCY_BUCKETS: [f64; 13] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    /// allow, deny, audit-deny.
    result: &'static str,
    /// The rule that denied or would deny; empty for an allow.
    rule: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

/// An exception of the policy, by its id (bounded by the policy's entries).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ExceptionLabels {
    id: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PolicyLabels {
    fingerprint: String,
    mode: String,
}

/// Every metric of the process, and what `/health` reports.
pub struct Metrics {
    registry: Registry,
    requests: Family<EndpointLabels, Counter>,
    decisions: Family<DecisionLabels, Counter>,
    request_errors: Family<ErrorLabels, Counter>,
    decision_seconds: Histogram,
    reloads: Family<ResultLabels, Counter>,
    last_reload_ok: Gauge,
    policy_info: Family<PolicyLabels, Gauge>,
    exemptions: Family<ExceptionLabels, Counter>,
    exception_expiry: Family<ExceptionLabels, Gauge<f64, AtomicU64>>,
    watch_connected: Gauge,
    watch_violations: Counter,
    watch_stopped: Counter,
    watch_enabled: AtomicBool,
    policy: Mutex<(String, String)>,
    /// The audit's gauges of `serve --watch` (last sweep's text).
    pub audit: Arc<super::audit_gauges::AuditGauges>,
    /// The per-request series, resolved once: a `Family` lookup hashes the labels under a lock
    /// both worker threads share, on every AuthZ request.
    hot: HotCounters,
}

/// Handles on the series every AuthZ request touches (clones share the family's counter).
struct HotCounters {
    authz_req: Counter,
    authz_res: Counter,
    allowed: Counter,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("rootfs_guard");
        let requests = Family::<EndpointLabels, Counter>::default();
        registry.register(
            "requests",
            "Plugin protocol requests received, by endpoint",
            requests.clone(),
        );
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "decisions",
            "AuthZ decisions by result (allow, deny, audit-deny) and the rule that denied",
            decisions.clone(),
        );
        let request_errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "request_errors",
            "Plugin requests that could not be served: unreadable AuthZ requests, unknown endpoints, wrong methods",
            request_errors.clone(),
        );
        let decision_seconds = Histogram::new(LATENCY_BUCKETS);
        registry.register(
            "decision_duration_seconds",
            "Time to read and decide one AuthZ request",
            decision_seconds.clone(),
        );
        let reloads = Family::<ResultLabels, Counter>::default();
        registry.register(
            "policy_reloads",
            "Policy reloads (SIGHUP) by result (success, failure)",
            reloads.clone(),
        );
        let last_reload_ok = Gauge::default();
        last_reload_ok.set(1);
        registry.register(
            "policy_last_reload_successful",
            "Whether the last policy reload succeeded (1) or the previous policy was kept (0)",
            last_reload_ok.clone(),
        );
        let exemptions = Family::<ExceptionLabels, Counter>::default();
        registry.register(
            "exemptions",
            "Requests that broke a rule and were allowed by an exception, by the exception's id",
            exemptions.clone(),
        );
        let exception_expiry = Family::<ExceptionLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "exception_expiry_timestamp_seconds",
            "When each exception of the policy in force stops exempting (unix time); exceptions without an expiry are absent",
            exception_expiry.clone(),
        );
        let policy_info = Family::<PolicyLabels, Gauge>::default();
        registry.register(
            "policy_info",
            "The policy in force: its fingerprint and mode (value always 1)",
            policy_info.clone(),
        );
        registry.register(
            "build",
            "Build of the running guard",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        let watch_connected = Gauge::default();
        registry.register(
            "watch_connected",
            "Whether the watcher is connected to the Docker events stream",
            watch_connected.clone(),
        );
        let watch_violations = Counter::default();
        registry.register(
            "watch_violations",
            "Violating containers reported by the watcher",
            watch_violations.clone(),
        );
        let watch_stopped = Counter::default();
        registry.register(
            "watch_stopped",
            "Violating containers stopped by the watcher (--stop)",
            watch_stopped.clone(),
        );
        let hot = HotCounters {
            // `_owned`: a borrowed handle would hold the family's read lock while the next
            // series is created under its write lock.
            authz_req: requests.get_or_create_owned(&EndpointLabels {
                endpoint: "AuthZPlugin.AuthZReq",
            }),
            authz_res: requests.get_or_create_owned(&EndpointLabels {
                endpoint: "AuthZPlugin.AuthZRes",
            }),
            allowed: decisions.get_or_create_owned(&DecisionLabels {
                result: "allow",
                rule: "",
            }),
        };
        Metrics {
            hot,
            audit: Arc::default(),
            registry,
            requests,
            decisions,
            request_errors,
            decision_seconds,
            reloads,
            last_reload_ok,
            policy_info,
            exemptions,
            exception_expiry,
            watch_connected,
            watch_violations,
            watch_stopped,
            watch_enabled: AtomicBool::new(false),
            policy: Mutex::new((String::new(), String::new())),
        }
    }

    /// A plugin protocol request arrived at `endpoint` (a fixed name, never the raw path).
    pub fn request(&self, endpoint: &'static str) {
        match endpoint {
            "AuthZPlugin.AuthZReq" => self.hot.authz_req.inc(),
            "AuthZPlugin.AuthZRes" => self.hot.authz_res.inc(),
            _ => self
                .requests
                .get_or_create(&EndpointLabels { endpoint })
                .inc(),
        };
    }

    /// One AuthZ decision and how long it took.
    pub fn decision(&self, d: &Decision, took: Duration) {
        if d.verdict == crate::authz::decision::Verdict::Allow {
            self.hot.allowed.inc();
        } else {
            let labels = DecisionLabels {
                result: d.verdict.as_str(),
                rule: d.rule.unwrap_or(""),
            };
            self.decisions.get_or_create(&labels).inc();
        }
        if let Some(id) = &d.exception {
            self.exemptions
                .get_or_create(&ExceptionLabels { id: id.clone() })
                .inc();
        }
        self.decision_seconds.observe(took.as_secs_f64());
        if d.rule == Some(UNREADABLE_RULE) {
            self.request_error("unreadable-request");
        }
    }

    /// A request that could not be served (`kind`: a fixed name).
    pub fn request_error(&self, kind: &'static str) {
        self.request_errors
            .get_or_create(&ErrorLabels { kind })
            .inc();
    }

    /// The policy now in force (at start and after a successful reload).
    pub fn policy_loaded(&self, policy: &Policy) {
        let labels = PolicyLabels {
            fingerprint: policy.fingerprint(),
            mode: policy.mode.to_string(),
        };
        self.policy_info.clear();
        self.policy_info.get_or_create(&labels).set(1);
        self.exception_expiry.clear();
        for e in &policy.allow_labels {
            if let Some(expires) = e.expires {
                self.exception_expiry
                    .get_or_create(&ExceptionLabels { id: e.id() })
                    .set(expires.unix_seconds());
            }
        }
        if let Ok(mut p) = self.policy.lock() {
            *p = (labels.fingerprint, labels.mode);
        }
    }

    /// A reload attempt: `Some(policy)` on success, `None` when the old policy was kept.
    pub fn policy_reloaded(&self, result: Option<&Policy>) {
        let label = if result.is_some() {
            "success"
        } else {
            "failure"
        };
        self.reloads
            .get_or_create(&ResultLabels { result: label })
            .inc();
        self.last_reload_ok.set(i64::from(result.is_some()));
        if let Some(p) = result {
            self.policy_loaded(p);
        }
    }

    pub fn watch_enabled(&self) {
        self.watch_enabled.store(true, Ordering::Relaxed);
    }

    pub fn watch_connected(&self, connected: bool) {
        self.watch_connected.set(i64::from(connected));
    }

    pub fn watch_violation(&self, stopped: bool) {
        self.watch_violations.inc();
        if stopped {
            self.watch_stopped.inc();
        }
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            warn!(error = %e, "cannot encode metrics");
        }
        out.push_str(&self.audit.text());
        out
    }

    /// The `/health` document.
    pub fn health(&self) -> serde_json::Value {
        let (fingerprint, mode) = self.policy.lock().map(|p| p.clone()).unwrap_or_default();
        let watch = if !self.watch_enabled.load(Ordering::Relaxed) {
            "off"
        } else if self.watch_connected.get() == 1 {
            "connected"
        } else {
            "disconnected"
        };
        serde_json::json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "policy": { "fingerprint": fingerprint, "mode": mode },
            "watch": watch,
        })
    }
}

/// Where `/metrics` and `/health` are served: `127.0.0.1:9323` or `unix:/path/to/metrics.sock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsAddr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl FromStr for MetricsAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = s.strip_prefix("unix:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if !path.starts_with('/') {
                return Err(format!("{s:?}: a unix socket needs an absolute path (unix:/run/rootfs-guard/metrics.sock)"));
            }
            return Ok(MetricsAddr::Unix(PathBuf::from(path)));
        }
        s.parse::<SocketAddr>().map(MetricsAddr::Tcp).map_err(|_| {
            format!("{s:?}: expected IP:PORT (127.0.0.1:9323) or unix:/path/to/metrics.sock")
        })
    }
}

impl fmt::Display for MetricsAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricsAddr::Tcp(a) => write!(f, "{a}"),
            MetricsAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// A bound metrics listener.
pub enum MetricsListener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl MetricsAddr {
    /// Binds the address (a unix socket the way the plugin socket is bound: mode 0660, a live
    /// socket of another process is never taken over). A non-loopback TCP address is allowed but
    /// warned about: the metrics carry no secrets, but nothing authenticates the scraper.
    pub async fn bind(&self) -> io::Result<MetricsListener> {
        match self {
            MetricsAddr::Tcp(addr) => {
                if !addr.ip().is_loopback() {
                    warn!(addr = %addr, "metrics listen on a non-loopback address");
                }
                TcpListener::bind(addr).await.map(MetricsListener::Tcp)
            }
            MetricsAddr::Unix(path) => {
                crate::daemon::socket::bind_socket(path).map(MetricsListener::Unix)
            }
        }
    }
}

impl MetricsListener {
    /// The TCP address actually bound (for `127.0.0.1:0`).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            MetricsListener::Tcp(l) => l.local_addr().ok(),
            MetricsListener::Unix(_) => None,
        }
    }
}

/// Serves `/metrics` and `/health` until the task is dropped or aborted.
pub async fn serve(listener: MetricsListener, metrics: Arc<Metrics>) {
    loop {
        let accepted = match &listener {
            MetricsListener::Tcp(l) => l.accept().await.map(|(s, _)| Conn::Tcp(s)),
            MetricsListener::Unix(l) => l.accept().await.map(|(s, _)| Conn::Unix(s)),
        };
        match accepted {
            Ok(Conn::Tcp(s)) => spawn_conn(s, metrics.clone()),
            Ok(Conn::Unix(s)) => spawn_conn(s, metrics.clone()),
            Err(e) => {
                warn!(error = %e, "metrics accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

enum Conn {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

fn spawn_conn<S>(stream: S, metrics: Arc<Metrics>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let metrics = metrics.clone();
        async move { Ok::<_, std::convert::Infallible>(respond(&req, &metrics)) }
    });
    tokio::spawn(async move {
        let _ = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(10))
            .serve_connection(TokioIo::new(stream), service)
            .await;
    });
}

fn respond(req: &Request<Incoming>, metrics: &Metrics) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, ct: &str, body: String| {
        Response::builder()
            .status(status)
            .header(CONTENT_TYPE, ct)
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".into(),
        );
    }
    match req.uri().path() {
        "/metrics" => reply(
            StatusCode::OK,
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            metrics.encode(),
        ),
        "/health" | "/healthz" => reply(
            StatusCode::OK,
            "application/json",
            format!("{}\n", metrics.health()),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: /metrics and /health are served here\n".into(),
        ),
    }
}

/// The watch loop's seam (`serve --watch`): its events become the `watch_*` series.
impl WatchObserver for Metrics {
    fn enabled(&self) {
        self.watch_enabled();
    }
    fn connected(&self, connected: bool) {
        self.watch_connected(connected);
        if connected {
            self.audit.poke();
        }
    }
    fn violation(&self, stopped: bool) {
        self.watch_violation(stopped);
    }
    fn container_event(&self) {
        self.audit.poke();
    }
}

#[cfg(test)]
mod tests;
