//! The plugin daemon: the Docker plugin protocol over HTTP/1.1 on a unix socket.
//!
//! dockerd calls `/Plugin.Activate` once, then `/AuthZPlugin.AuthZReq` before and
//! `/AuthZPlugin.AuthZRes` after every API call. Every Docker API call on the host waits on this
//! server, so it must never hang or crash: request size and read time are bounded, malformed input
//! becomes a deny with a reason, and concurrent body decoding is capped so memory stays bounded.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::UnixListener;
use tokio::sync::{Semaphore, SemaphorePermit};
use tracing::{error, info, warn};

use crate::decision::{decide, Decision};
use crate::logging::log_decision;
use crate::metrics::Metrics;
use crate::policy::{Policy, PolicyError};
use crate::wire::{ActivateResponse, AuthZRequest, AuthZResponse, PLUGIN_CONTENT_TYPE};

/// Default socket path: where dockerd looks for a plugin named `rootfs-guard`.
pub const DEFAULT_SOCKET: &str = "/run/docker/plugins/rootfs-guard.sock";

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

/// The policy in force, and where to reload it from.
pub struct PolicyStore {
    path: Option<PathBuf>,
    current: ArcSwap<Policy>,
}

impl PolicyStore {
    /// Loads `path` (or the embedded default when `None`).
    pub fn open(path: Option<PathBuf>) -> Result<Self, PolicyError> {
        let policy = match &path {
            Some(p) => Policy::load(p)?,
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
        let policy = Arc::new(Policy::load(path)?);
        self.current.store(policy.clone());
        Ok(policy)
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

/// Shared state of the request handlers.
pub struct State {
    pub policy: PolicyStore,
    pub limits: Limits,
    /// Counts every decision; exported only when `serve --metrics-addr` is given.
    pub metrics: Arc<Metrics>,
    decisions: Semaphore,
    /// Total decision slots (the semaphore's permits).
    slots: usize,
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
            limits,
            metrics,
            decisions: Semaphore::new(slots),
            slots,
        })
    }
}

/// Binds the plugin socket: creates the parent directory, replaces a stale socket file (but
/// refuses to steal one another process is serving), and restricts it to mode 0660.
pub fn bind_socket(path: &Path) -> io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "{} is already being served by another process",
                        path.display()
                    ),
                ));
            }
            std::fs::remove_file(path)?;
        }
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    // Created with the process umask (no group/other write with the usual 022), then narrowed.
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}

/// The listening socket systemd passed (socket activation: `LISTEN_PID`/`LISTEN_FDS`, fd 3).
pub fn systemd_listener() -> io::Result<Option<UnixListener>> {
    take_systemd_listener()?
        .map(UnixListener::from_std)
        .transpose()
}

/// Takes the listening socket systemd passed, as a std listener: `None` unless `LISTEN_PID` is this
/// process and `LISTEN_FDS` is set. Exactly one socket is expected, and it must be a listening
/// unix stream socket; anything else is an error (a second socket would never be served, and
/// dockerd would wait on it forever). Clears `LISTEN_*` from the environment, so call it before
/// any other thread is started (before the async runtime).
pub fn take_systemd_listener() -> io::Result<Option<std::os::unix::net::UnixListener>> {
    use std::os::fd::FromRawFd;
    let pid_matches = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|p| p == std::process::id());
    let fds = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    if !pid_matches || fds == 0 {
        return Ok(None);
    }
    std::env::remove_var("LISTEN_PID");
    std::env::remove_var("LISTEN_FDS");
    std::env::remove_var("LISTEN_FDNAMES");
    const SD_LISTEN_FDS_START: i32 = 3;
    if fds != 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("systemd passed {fds} sockets (LISTEN_FDS); the socket unit must have exactly one ListenStream"),
        ));
    }
    check_listening_unix_stream(SD_LISTEN_FDS_START)?;
    // SAFETY: fd 3 was checked to be an open listening socket, and systemd's protocol hands it to
    // this process to own.
    let std_listener =
        unsafe { std::os::unix::net::UnixListener::from_raw_fd(SD_LISTEN_FDS_START) };
    std_listener.set_nonblocking(true)?;
    // SAFETY: FD_CLOEXEC on our own fd.
    unsafe { libc::fcntl(SD_LISTEN_FDS_START, libc::F_SETFD, libc::FD_CLOEXEC) };
    Ok(Some(std_listener))
}

/// Fails unless `fd` is a listening `AF_UNIX` `SOCK_STREAM` socket.
fn check_listening_unix_stream(fd: i32) -> io::Result<()> {
    let not_usable = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("systemd-passed fd {fd} is {what}, not a listening unix stream socket (ListenStream=/path)"),
        )
    };
    let int_opt = |opt: libc::c_int| -> io::Result<libc::c_int> {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `value`.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if rc == 0 {
            Ok(value)
        } else {
            Err(io::Error::last_os_error())
        }
    };
    match int_opt(libc::SO_DOMAIN) {
        Ok(libc::AF_UNIX) => {}
        Ok(_) => return Err(not_usable("a non-unix socket")),
        Err(e) if e.raw_os_error() == Some(libc::ENOTSOCK) => {
            return Err(not_usable("not a socket"))
        }
        Err(e) if e.raw_os_error() == Some(libc::EBADF) => return Err(not_usable("not open")),
        Err(e) => return Err(e),
    }
    if int_opt(libc::SO_TYPE)? != libc::SOCK_STREAM {
        return Err(not_usable("a non-stream unix socket"));
    }
    if int_opt(libc::SO_ACCEPTCONN)? == 0 {
        return Err(not_usable("a unix socket that is not listening"));
    }
    Ok(())
}

/// Serves connections until `shutdown` resolves, then stops accepting and waits (bounded) for
/// in-flight requests to finish.
pub async fn serve(listener: UnixListener, state: Arc<State>, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(state.limits.read_timeout)
        .keep_alive(true)
        // Per-connection read buffer (hyper's default grows to ~400 KB and stays): connections
        // waiting for a decision slot then hold little memory. Plugin request heads are tiny.
        .max_buf_size(64 << 10);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let state = state.clone();
                let service = hyper::service::service_fn(move |req| handle(req, state.clone()));
                let conn = http.serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        if !e.is_incomplete_message() {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        warn!("in-flight requests did not finish within 10 s; exiting anyway");
    }
}

fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    plugin_response(status, Bytes::from(body))
}

/// A response in the plugin protocol's content type.
fn plugin_response(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, PLUGIN_CONTENT_TYPE)
        .body(Full::new(body))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// The answer to an AuthZ call; the common plain allow is a constant.
fn authz_answer(answer: &AuthZResponse) -> Response<Full<Bytes>> {
    if answer.allow && answer.msg.is_empty() && answer.err.is_empty() {
        return plugin_response(StatusCode::OK, Bytes::from_static(br#"{"Allow":true}"#));
    }
    json_response(StatusCode::OK, answer)
}

#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "Err")]
    err: &'a str,
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() != Method::POST {
        state.metrics.request_error("method-not-allowed");
        return Ok(json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &ErrorBody {
                err: "plugin endpoints take POST",
            },
        ));
    }
    let response = match req.uri().path() {
        "/Plugin.Activate" => {
            state.metrics.request("Plugin.Activate");
            json_response(StatusCode::OK, &ActivateResponse::default())
        }
        "/AuthZPlugin.AuthZReq" => {
            state.metrics.request("AuthZPlugin.AuthZReq");
            let started = std::time::Instant::now();
            let decision = authz_request(req, &state).await;
            state.metrics.decision(&decision, started.elapsed());
            log_decision(&decision);
            authz_answer(&decision.response())
        }
        "/AuthZPlugin.AuthZRes" => {
            state.metrics.request("AuthZPlugin.AuthZRes");
            // Nothing to decide after the fact (denying here cannot undo the call); the body,
            // which may be large, is discarded as it streams in.
            discard_body(req.into_body(), state.limits.read_timeout).await;
            authz_answer(&AuthZResponse {
                allow: true,
                msg: String::new(),
                err: String::new(),
            })
        }
        _ => {
            state.metrics.request_error("unknown-endpoint");
            json_response(
                StatusCode::NOT_FOUND,
                &ErrorBody {
                    err: "unknown plugin endpoint",
                },
            )
        }
    };
    Ok(response)
}

async fn discard_body(mut body: Incoming, timeout: Duration) {
    let drain = async {
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                break;
            }
        }
    };
    let _ = within(timeout, drain).await;
}

/// Reads (bounded) and decides one AuthZ request. Never fails: problems become denials.
async fn authz_request(req: Request<Incoming>, state: &State) -> Decision {
    // The policy is taken after the last await: its guard is cheap but must not be held across one.
    // The decision slot is held until the decision is made.
    let (bytes, _slot) = match read_authz_request(req, state).await {
        Ok(read) => read,
        Err(why) => {
            return Decision::unreadable(&state.policy.load(), "authz-request", why, None);
        }
    };
    let policy = state.policy.load();
    match AuthZRequest::from_json(&bytes) {
        Ok(authz) => decide(&policy, &authz),
        Err(e) => Decision::unreadable(
            &policy,
            "authz-request",
            format!("malformed AuthZ request: {e}"),
            None,
        ),
    }
}

/// The AuthZ request's bytes, read within the size and time limits, and the decision slots it
/// holds; or why it could not be read.
async fn read_authz_request(
    req: Request<Incoming>,
    state: &State,
) -> Result<(Bytes, SemaphorePermit<'_>), String> {
    let limit = state.limits.max_request_bytes;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(format!("AuthZ request exceeds the {limit}-byte limit"));
    }
    // Decoding one request holds a few times its size (the raw bytes, the base64 string, the
    // decoded body and what is decoded from it): weigh the request by its declared length.
    let weight = decision_slots(declared, limit, state.slots);
    let Ok(permit) = state.decisions.acquire_many(weight).await else {
        return Err("server is shutting down".into());
    };
    let read = Limited::new(req.into_body(), limit).collect();
    match within(state.limits.read_timeout, read).await {
        None => Err("timed out reading the AuthZ request".into()),
        Some(Err(e)) => Err(
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                format!("AuthZ request exceeds the {limit}-byte limit")
            } else {
                "could not read the AuthZ request".to_owned()
            },
        ),
        Some(Ok(collected)) => Ok((collected.to_bytes(), permit)),
    }
}

/// Runs `fut` for at most `timeout` (`None` when it ran out). It is polled once before a timer
/// is armed: a small request's body arrives with its head, so hyper already holds it and most
/// requests finish without touching the timer wheel the worker threads share.
async fn within<F: Future>(timeout: Duration, fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let first = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(out) => Some(out),
        Poll::Pending => tokio::time::timeout(timeout, fut).await.ok(),
    }
}

/// Decision slots a request takes: one per started [`DECISION_SLOT_BYTES`] of its declared length
/// (of the size limit when it declares none), at least one, at most all `slots`.
fn decision_slots(declared: Option<u64>, limit: usize, slots: usize) -> u32 {
    declared
        .unwrap_or(limit as u64)
        .div_ceil(DECISION_SLOT_BYTES)
        .clamp(1, slots.max(1) as u64) as u32
}

/// Re-reads the policy file (on SIGHUP) and logs the outcome: the new policy, or the error and
/// that the policy in force is kept.
pub fn reload_logged(store: &PolicyStore) -> Option<Arc<Policy>> {
    match store.reload() {
        Ok(p) => {
            info!(mode = %p.mode, fingerprint = %p.fingerprint(), "policy reloaded");
            Some(p)
        }
        Err(e) => {
            error!(error = %e, "policy reload failed; keeping the policy in force");
            None
        }
    }
}

/// Runs the daemon until SIGTERM/SIGINT; SIGHUP reloads the policy file (a bad file is logged and
/// the old policy stays). Removes the socket on exit unless systemd owns it.
pub async fn run(
    listener: UnixListener,
    socket_to_remove: Option<PathBuf>,
    state: Arc<State>,
) -> io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;

    let reload_state = state.clone();
    let reloader = tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let reloaded = reload_logged(&reload_state.policy);
            reload_state.metrics.policy_reloaded(reloaded.as_deref());
        }
    });
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => info!("SIGTERM: shutting down"),
            _ = int.recv() => info!("SIGINT: shutting down"),
        }
    };
    serve(listener, state, shutdown).await;
    reloader.abort();
    if let Some(path) = socket_to_remove {
        let _ = std::fs::remove_file(path);
    }
    info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_constant_allow_answer_is_what_serde_would_write() {
        use http_body_util::BodyExt;
        let allow = AuthZResponse {
            allow: true,
            msg: String::new(),
            err: String::new(),
        };
        for answer in [
            allow.clone(),
            AuthZResponse {
                allow: false,
                msg: "readonly-rootfs: no".into(),
                err: String::new(),
            },
        ] {
            let response = authz_answer(&answer);
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()[CONTENT_TYPE], PLUGIN_CONTENT_TYPE);
            let body = block_on(response.into_body().collect())
                .expect("a full body")
                .to_bytes();
            assert_eq!(body, serde_json::to_vec(&answer).unwrap());
        }
    }

    /// Polls a future that is ready at once (a `Full` body) to completion.
    fn block_on<F: Future>(fut: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(fut)
    }

    #[test]
    fn large_requests_take_more_decision_slots() {
        let limit = Limits::default().max_request_bytes;
        // A 3 KB create and a bodiless GET: one slot each, 32 of them at once.
        assert_eq!(decision_slots(Some(3_000), limit, 32), 1);
        assert_eq!(decision_slots(Some(0), limit, 32), 1);
        // A 1 MiB body is ~1.4 MB as base64 in the AuthZ JSON: 6 slots, 5 at once.
        assert_eq!(decision_slots(Some(1_400_000), limit, 32), 6);
        // Undeclared length (chunked): as large as allowed, capped at every slot.
        assert_eq!(decision_slots(None, limit, 32), 32);
        assert_eq!(decision_slots(None, 64 << 10, 32), 1);
        assert_eq!(decision_slots(Some(1 << 30), limit, 0), 1);
    }
}
