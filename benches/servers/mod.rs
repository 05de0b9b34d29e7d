//! The server processes the wire, soak, startup and end-to-end benchmarks measure: rootfs-guard's
//! release binary and the no-op baseline plugin (this bench binary re-executed), each as its own
//! process so its RSS and CPU are its own. Shared by `benches/wire.rs` and `benches/e2e.rs`.
#![allow(dead_code)]

use std::convert::Infallible;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, Response};

/// Set on a re-exec of a bench binary to make it the no-op baseline server on that socket.
pub const NOOP_SOCKET_ENV: &str = "ROOTFS_GUARD_BENCH_NOOP_SOCKET";

/// If this process was started as the no-op baseline server, serves until SIGTERM and exits.
/// Call first thing in a bench binary's `main`.
pub fn run_noop_server_if_asked() {
    let Some(socket) = std::env::var_os(NOOP_SOCKET_ENV) else {
        return;
    };
    let socket = PathBuf::from(socket);
    let work = std::env::var(NOOP_WORK_ENV)
        .ok()
        .map_or(NoopWork::Nothing, |w| {
            NoopWork::parse(&w).unwrap_or_else(|| panic!("unknown {NOOP_WORK_ENV} {w:?}"))
        });
    if work == NoopWork::LogLine {
        // rootfs-guard's own log setup (stderr, like the guard's, goes where the bench sends it).
        rootfs_guard::daemon::logging::init(rootfs_guard::daemon::logging::LogFormat::Text);
    }
    let _ = NOOP_WORK.set(work);
    // The same runtime rootfs-guard's `serve` builds.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(noop_server(&socket));
    let _ = std::fs::remove_file(&socket);
    std::process::exit(0);
}

/// The baseline: the same stack as rootfs-guard's server (tokio, hyper 1 http1 with the same
/// builder settings, a unix socket, the body read in full with the same size limit) answering
/// `{"Allow":true}` without decoding anything.
async fn noop_server(socket: &Path) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tokio::signal::unix::{signal, SignalKind};

    let _ = std::fs::remove_file(socket);
    let listener = tokio::net::UnixListener::bind(socket).expect("bind the no-op socket");
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .keep_alive(true);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let service = hyper::service::service_fn(noop_handle);
                let conn = http.serve_connection(TokioIo::new(stream), service);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = term.recv() => break,
        }
    }
}

async fn noop_handle(
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path();
    let answer: &'static [u8] = match path {
        "/Plugin.Activate" => br#"{"Implements":["authz"]}"#,
        _ => br#"{"Allow":true}"#,
    };
    let work = match (path, NOOP_WORK.get()) {
        ("/AuthZPlugin.AuthZReq", Some(&work)) => work,
        _ => NoopWork::Nothing,
    };
    // Read the whole body as rootfs-guard does (bounded), but decode nothing; unless told to do
    // some fixed work, not even join its chunks.
    let body = Limited::new(req.into_body(), 8 << 20).collect().await;
    if let (Ok(body), false) = (body, work == NoopWork::Nothing) {
        work.run(&body.to_bytes());
    }
    Ok(Response::builder()
        .header("Content-Type", "application/vnd.docker.plugins.v1+json")
        .body(Full::new(Bytes::from_static(answer)))
        .expect("response"))
}

/// Set on a re-exec of the no-op baseline to give it fixed work per AuthZ call ([`NoopWork`]).
pub const NOOP_WORK_ENV: &str = "ROOTFS_GUARD_BENCH_NOOP_WORK";

static NOOP_WORK: OnceLock<NoopWork> = OnceLock::new();

/// Work the no-op baseline can be told to do per AuthZ call before it answers, to measure what a
/// given amount of work costs over the wire (the wire bench's "budget" stage): how much a server
/// may spend per request and still keep a throughput ratio, and what each part of rootfs-guard's
/// work (the decision, the log line) costs by itself on the same stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoopWork {
    Nothing,
    /// Busy-waits this many nanoseconds (pure CPU, no memory traffic).
    SpinNs(u32),
    /// Finds `RequestBody`, base64-decodes it and checks it is UTF-8: the least a decision on
    /// the body has to do.
    ReadBody,
    /// `ReadBody` plus checking the body's JSON syntax with serde_json, keeping nothing
    /// (`IgnoredAny`): the least a decision that understands the body must do.
    SerdeSyntax,
    /// `ReadBody` plus a bare `serde_json::Value` parse of the body (the decision core's
    /// reference in the `decide` bench).
    SerdeValue,
    /// rootfs-guard's `AuthZRequest::from_json` + `decide()` with the default policy, no log line.
    Decide,
    /// rootfs-guard's decision log line for the request (decided once, on the first call),
    /// through rootfs-guard's own log setup; no decoding per call.
    LogLine,
}

impl NoopWork {
    /// The budget stage's series, in the order it runs them.
    pub const SERIES: [NoopWork; 8] = [
        NoopWork::SpinNs(500),
        NoopWork::SpinNs(1000),
        NoopWork::SpinNs(2000),
        NoopWork::ReadBody,
        NoopWork::SerdeSyntax,
        NoopWork::SerdeValue,
        NoopWork::Decide,
        NoopWork::LogLine,
    ];

    /// The form `ROOTFS_GUARD_BENCH_NOOP_WORK` takes (also the label in results).
    pub fn name(self) -> String {
        match self {
            NoopWork::Nothing => "nothing".into(),
            NoopWork::SpinNs(ns) => format!("spin-{ns}ns"),
            NoopWork::ReadBody => "read-body".into(),
            NoopWork::SerdeSyntax => "serde-syntax".into(),
            NoopWork::SerdeValue => "serde-value".into(),
            NoopWork::Decide => "decide".into(),
            NoopWork::LogLine => "log-line".into(),
        }
    }

    /// What the no-op does per call, for the summary table.
    pub fn describe(self) -> String {
        match self {
            NoopWork::Nothing => "nothing more".into(),
            NoopWork::SpinNs(ns) => format!("a {:.1} µs busy-wait", f64::from(ns) / 1e3),
            NoopWork::ReadBody => "find, base64-decode and UTF-8-check the body".into(),
            NoopWork::SerdeSyntax => {
                "that + a serde_json syntax check of the body (IgnoredAny)".into()
            }
            NoopWork::SerdeValue => "that + a bare serde_json::Value parse of the body".into(),
            NoopWork::Decide => "rootfs-guard's AuthZ parse + decide(), no log line".into(),
            NoopWork::LogLine => "rootfs-guard's decision log line, no decoding".into(),
        }
    }

    pub fn parse(s: &str) -> Option<NoopWork> {
        match s {
            "nothing" => Some(NoopWork::Nothing),
            "read-body" => Some(NoopWork::ReadBody),
            "serde-syntax" => Some(NoopWork::SerdeSyntax),
            "serde-value" => Some(NoopWork::SerdeValue),
            "decide" => Some(NoopWork::Decide),
            "log-line" => Some(NoopWork::LogLine),
            _ => s
                .strip_prefix("spin-")
                .and_then(|n| n.strip_suffix("ns"))
                .and_then(|n| n.parse().ok())
                .map(NoopWork::SpinNs),
        }
    }

    fn run(self, authz: &Bytes) {
        use std::hint::black_box;
        match self {
            NoopWork::Nothing => {}
            NoopWork::SpinNs(ns) => {
                let until = Instant::now() + Duration::from_nanos(ns.into());
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
            }
            NoopWork::ReadBody => {
                black_box(read_body(authz));
            }
            NoopWork::SerdeSyntax => {
                if let Some(body) = read_body(authz) {
                    black_box(serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok());
                }
            }
            NoopWork::SerdeValue => {
                if let Some(body) = read_body(authz) {
                    black_box(serde_json::from_slice::<serde_json::Value>(&body).ok());
                }
            }
            NoopWork::Decide => {
                if let Ok(req) = rootfs_guard::AuthZRequest::from_json(authz) {
                    black_box(rootfs_guard::decide(default_policy(), &req));
                }
            }
            NoopWork::LogLine => {
                static DECISION: OnceLock<Option<rootfs_guard::Decision>> = OnceLock::new();
                let decision = DECISION.get_or_init(|| {
                    rootfs_guard::AuthZRequest::from_json(authz)
                        .ok()
                        .map(|req| rootfs_guard::decide(default_policy(), &req))
                });
                if let Some(d) = decision {
                    rootfs_guard::daemon::logging::log_decision(d);
                }
            }
        }
    }
}

fn default_policy() -> &'static rootfs_guard::Policy {
    static POLICY: OnceLock<rootfs_guard::Policy> = OnceLock::new();
    POLICY.get_or_init(rootfs_guard::Policy::default)
}

/// The decoded `RequestBody` of an AuthZ request, found without parsing the envelope.
fn read_body(authz: &[u8]) -> Option<Vec<u8>> {
    const KEY: &[u8] = b"\"RequestBody\":\"";
    let at = memchr::memmem::find(authz, KEY)? + KEY.len();
    let len = memchr::memchr(b'"', &authz[at..])?;
    let body = base64_simd::STANDARD
        .decode_to_vec(&authz[at..at + len])
        .ok()?;
    std::str::from_utf8(&body).ok()?;
    Some(body)
}

/// The rootfs-guard binary under test: the release build cargo made for this bench, or
/// `ROOTFS_GUARD_BENCH_BIN` (to compare two builds, e.g. before/after a change, with the same
/// harness).
pub fn guard_binary() -> PathBuf {
    std::env::var_os("ROOTFS_GUARD_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_rootfs-guard")))
}

/// Which server a [`ServerProcess`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// `rootfs-guard serve` (the release binary cargo built for this bench).
    Guard,
    /// The no-op baseline (this bench binary, re-executed).
    Noop,
}

impl ServerKind {
    pub fn label(self) -> &'static str {
        match self {
            ServerKind::Guard => "rootfs-guard",
            ServerKind::Noop => "no-op",
        }
    }
}

/// A server under test, as its own process (so its RSS is its own), on its own socket. Dropping
/// it sends SIGTERM (SIGKILL after 5 s) and removes the socket.
pub struct ServerProcess {
    pub kind: ServerKind,
    pub socket: PathBuf,
    child: Option<Child>,
    /// Time from spawn to the socket accepting a connection.
    pub ready_after: Duration,
}

impl ServerProcess {
    /// Starts `kind` on `socket` with its stderr (the decision log) going to `log` (or nowhere)
    /// and waits (up to 15 s) until the socket accepts connections.
    pub fn start(kind: ServerKind, socket: &Path, log: Option<&Path>) -> ServerProcess {
        Self::start_with(kind, NoopWork::Nothing, socket, log)
    }

    /// [`ServerProcess::start`], with a no-op baseline told to do `work` per AuthZ call.
    pub fn start_with(
        kind: ServerKind,
        work: NoopWork,
        socket: &Path,
        log: Option<&Path>,
    ) -> ServerProcess {
        let _ = std::fs::remove_file(socket);
        let mut cmd = match kind {
            ServerKind::Guard => {
                let mut c = Command::new(guard_binary());
                c.arg("serve").arg("--socket").arg(socket);
                c
            }
            ServerKind::Noop => {
                let mut c = Command::new(std::env::current_exe().expect("current exe"));
                c.env(NOOP_SOCKET_ENV, socket);
                c
            }
        };
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ROOTFS_GUARD_") && key != NOOP_SOCKET_ENV {
                // Hermetic: no policy or log format from the caller's environment.
                cmd.env_remove(key);
            }
        }
        if kind == ServerKind::Noop && work != NoopWork::Nothing {
            cmd.env(NOOP_WORK_ENV, work.name());
        }
        let stderr = match log {
            Some(path) => Stdio::from(std::fs::File::create(path).expect("server log file")),
            None => Stdio::null(),
        };
        cmd.env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let started = Instant::now();
        let mut child = cmd.spawn().expect("spawn server under test");
        let deadline = started + Duration::from_secs(15);
        loop {
            if std::os::unix::net::UnixStream::connect(socket).is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{} exited with {status} before serving", kind.label());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{} did not accept connections within 15 s", kind.label());
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        ServerProcess {
            kind,
            socket: socket.to_owned(),
            ready_after: started.elapsed(),
            child: Some(child),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// `(VmRSS, VmHWM)` in KiB.
    pub fn rss_kib(&self) -> (u64, u64) {
        super::common::rss_kib(self.pid()).expect("read /proc/PID/status")
    }

    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// SIGTERM, wait up to 5 s, then SIGKILL.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: kill(2) on our own, not yet reaped child.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
            }
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
