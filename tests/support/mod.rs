//! Shared end-to-end test harness: runs a real, private `dockerd` and a real
//! `rootfs-guard serve` process so tests can check what Docker users actually
//! see, not only what the plugin's unit tests assume.
//!
//! Every e2e test file pulls this in with `mod support;`. Not every file uses
//! every helper, hence the crate-wide `dead_code` allowance below.
//!
//! Environment knobs:
//! - `ROOTFS_GUARD_SKIP_E2E=1`: e2e tests print a line and return (for machines
//!   without root/dockerd). Without it, missing prerequisites are a test failure.
//! - `ROOTFS_GUARD_E2E_CASES=SUBSTR`: run only the cases whose name contains SUBSTR.
//! - `ROOTFS_GUARD_E2E_KEEP=1`: keep the daemon's temp dir (logs, data root) after
//!   the test for debugging; the daemon itself is still stopped.
//! - `ROOTFS_GUARD_E2E_PATH_PREFIX=DIR[:DIR]`: prepended to PATH when looking up
//!   and running `dockerd` (e.g. an unpacked newer dockerd + containerd, see
//!   `scripts/fetch-dockerd.sh`). Requires `ROOTFS_GUARD_E2E_DOCKERD_VERSION`.
//! - `ROOTFS_GUARD_E2E_BUILDX=FILE`: the docker-buildx binary for the BuildKit cases
//!   (`scripts/fetch-buildx.sh` prints it; `make test` sets it). Without it those cases say
//!   SKIPPED, unless the default cache `.cache/buildx-0.29/` has one.
//! - `ROOTFS_GUARD_E2E_DOCKER28=FILE`: the docker 28 CLI (default `/usr/local/bin/docker`); its
//!   cases say SKIPPED where there is none.
//! - `ROOTFS_GUARD_E2E_DOCKERD_VERSION=SERIES` (`20.10`, `26.1`, `26.1.5`): every
//!   daemon started must report a version in that series (`docker version`), or
//!   the test fails. `make test` sets it for each run of the version matrix.
#![allow(dead_code, unused_imports)]

mod activation;
mod clients;
mod dockerd;
mod http;
mod plugin;
mod version;

pub use activation::{plugin_call, socket_activated_command, ActivatedPlugin, ListenEnv};
pub use clients::{buildx_binary, compose_binary, say_skipped, DockerCli, BUILDX_ENV};
pub use dockerd::PrivateDockerd;
pub use http::{ApiBody, RawResponse};
pub use plugin::PluginProcess;
pub use version::{
    expected_series, kernel_at_least, BodyForwarding, DockerdVersion, EXPECTED_VERSION_ENV,
};

use std::io::{Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The label that lets a container keep a writable root filesystem under the
/// default policy.
pub const ALLOW_LABEL_KEY: &str = "rootfs-guard.allow-writable";
/// The value [`ALLOW_LABEL_KEY`] must have.
pub const ALLOW_LABEL_VALUE: &str = "true";

/// Default timeout for one `docker` CLI call or one API request. Generous: a
/// plugin that is unreachable makes dockerd retry for ~15 s per request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Returns `true` when e2e tests should run. Returns `false` (after printing a
/// line) only when `ROOTFS_GUARD_SKIP_E2E=1`. Otherwise panics with a clear
/// message if the machine cannot run them (not root, no dockerd, ...): a
/// silently skipped e2e suite would look green while testing nothing.
pub fn e2e_enabled(test: &str) -> bool {
    if std::env::var("ROOTFS_GUARD_SKIP_E2E").as_deref() == Ok("1") {
        // Written to the real stderr, past libtest's output capture, so the
        // skip is visible in a normal `cargo test` run.
        let _ = writeln!(
            std::io::stderr(),
            "{test}: e2e test SKIPPED because ROOTFS_GUARD_SKIP_E2E=1"
        );
        return false;
    }
    let mut missing = Vec::new();
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        missing.push("must run as root (dockerd needs it)".to_string());
    }
    if dockerd_binary().is_none() {
        missing.push("`dockerd` not found on PATH or at /usr/sbin/dockerd".to_string());
    }
    for tool in ["docker", "tar"] {
        if find_in_path(tool, &search_path()).is_none() {
            missing.push(format!("`{tool}` not found on PATH"));
        }
    }
    if !Path::new(BUSYBOX).exists() {
        missing.push(format!(
            "{BUSYBOX} missing (apt-get install busybox-static)"
        ));
    }
    // Another dockerd on PATH is only meaningful if the run checks it got that one.
    let prefix = std::env::var("ROOTFS_GUARD_E2E_PATH_PREFIX").unwrap_or_default();
    if !prefix.is_empty() && expected_series().is_none() {
        missing.push(format!(
            "ROOTFS_GUARD_E2E_PATH_PREFIX={prefix} is set without {EXPECTED_VERSION_ENV}: \
             say which dockerd version it must select (e.g. 26.1)"
        ));
    }
    if !missing.is_empty() {
        panic!(
            "{test}: cannot run the end-to-end tests on this machine:\n  - {}\n\
             Install docker.io and busybox-static and run as root, or set \
             ROOTFS_GUARD_SKIP_E2E=1 to skip them explicitly.",
            missing.join("\n  - ")
        );
    }
    true
}

/// Where the static busybox comes from (Debian's busybox-static).
pub const BUSYBOX: &str = "/bin/busybox";

/// PATH used to find and run dockerd: `ROOTFS_GUARD_E2E_PATH_PREFIX` first.
pub(crate) fn search_path() -> String {
    let base = std::env::var("PATH")
        .unwrap_or_else(|_| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    // dockerd lives in /usr/sbin, which is not always on a test runner's PATH.
    let base = if base.split(':').any(|p| p == "/usr/sbin") {
        base
    } else {
        format!("{base}:/usr/sbin:/sbin")
    };
    match std::env::var("ROOTFS_GUARD_E2E_PATH_PREFIX") {
        Ok(prefix) if !prefix.is_empty() => format!("{prefix}:{base}"),
        _ => base,
    }
}

pub(crate) fn find_in_path(name: &str, path: &str) -> Option<PathBuf> {
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

pub(crate) fn dockerd_binary() -> Option<PathBuf> {
    find_in_path("dockerd", &search_path())
}

/// `docker swarm init` arguments that keep the swarm on loopback and off the fixed port 2377,
/// so two private daemons (or another swarm on the machine) never collide.
pub fn swarm_init_args() -> Vec<String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("pick a free loopback port");
    [
        "swarm".to_string(),
        "init".to_string(),
        "--advertise-addr".to_string(),
        format!("127.0.0.1:{port}"),
        "--listen-addr".to_string(),
        format!("127.0.0.1:{port}"),
    ]
    .to_vec()
}

/// A process-unique, run-unique suffix: `<pid>-<counter>`.
pub fn unique_suffix() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// Runs `cmd` with `stdin` fed to it, killing it after `timeout`. Panics on a
/// timeout (with whatever output it had produced) or if it cannot be spawned.
pub fn run_with_timeout(cmd: Command, stdin: Option<&[u8]>, timeout: Duration) -> Output {
    try_run_with_timeout(cmd, stdin, timeout).unwrap_or_else(|e| panic!("{e}"))
}

/// [`run_with_timeout`] that reports problems as `Err` instead of panicking
/// (for `Drop` implementations).
pub fn try_run_with_timeout(
    mut cmd: Command,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output, String> {
    let desc = format!("{cmd:?}");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot spawn {desc}: {e}"))?;
    let writer = stdin.map(|data| {
        let mut pipe = child.stdin.take().expect("stdin piped");
        let data = data.to_vec();
        std::thread::spawn(move || {
            // A command that exits early closes its stdin: ignore EPIPE.
            let _ = pipe.write_all(&data);
        })
    });
    let mut out_pipe = child.stdout.take().expect("stdout piped");
    let mut err_pipe = child.stderr.take().expect("stderr piped");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out_pipe.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("waiting for {desc}: {e}"));
            }
        }
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    match status {
        Some(status) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        None => Err(format!(
            "{desc} did not finish within {timeout:?}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        )),
    }
}

/// A `rootfs-guard` command (the binary under test) with no `DOCKER_HOST` or `DOCKER_CONTEXT`
/// of the caller's: each test says where the daemon is.
pub fn guard_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(PluginProcess::binary());
    cmd.args(args)
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT");
    cmd
}

/// Runs a `rootfs-guard` command (within [`DEFAULT_TIMEOUT`]): (exit code, stdout, stderr).
pub fn run_guard(cmd: Command) -> (i32, String, String) {
    let out = run_with_timeout(cmd, None, DEFAULT_TIMEOUT);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `rootfs-guard ARGS`: (exit code, stdout, stderr).
pub fn guard(args: &[&str]) -> (i32, String, String) {
    run_guard(guard_command(args))
}

/// `rootfs-guard enable|disable --name NAME` aimed at private dockerd `d` and its daemon.json.
pub fn enable_command(verb: &str, name: &str, d: &PrivateDockerd, daemon_json: &Path) -> Command {
    let mut cmd = Command::new(PluginProcess::binary());
    cmd.arg(verb)
        .arg("--name")
        .arg(name)
        .arg("--daemon-json")
        .arg(daemon_json)
        .arg("--host")
        .arg(d.host())
        .arg("--pidfile")
        .arg(d.dir().join("docker.pid"));
    cmd
}

/// `(status, stdout, stderr)` of a finished command, as text.
pub fn split_output(out: Output) -> (ExitStatus, String, String) {
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// dockerd's error text from an API answer: `{"message": ...}` on API >= 1.24, plain text below.
pub fn error_message(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(text) => text.clone(),
        other => other["message"].as_str().unwrap_or_default().to_string(),
    }
}

/// The trimmed stdout of a finished `(status, stdout, stderr)`; panics naming `what` unless it
/// succeeded.
pub fn expect_success(what: &str, (status, out, err): (ExitStatus, String, String)) -> String {
    assert!(
        status.success(),
        "`{what}` failed ({status}):\nstdout: {out}\nstderr: {err}"
    );
    out.trim().to_string()
}

/// `tar -c` of `dir`'s content, owned by root (an image to import, a build context).
pub fn tar_of_dir(dir: &Path) -> Vec<u8> {
    let mut tar = Command::new("tar");
    tar.arg("-C")
        .arg(dir)
        .args(["--owner=0", "--group=0", "-c", "."]);
    let tarball = run_with_timeout(tar, None, DEFAULT_TIMEOUT);
    assert!(
        tarball.status.success(),
        "tar failed: {}",
        String::from_utf8_lossy(&tarball.stderr)
    );
    tarball.stdout
}

/// Polls `check` every 100 ms until it is true or `timeout` passes (then panics with `what`).
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A log file's whole text (empty if it cannot be read yet).
pub fn read_log(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Makes the spawned process get SIGTERM when the test thread that spawned it dies, so a
/// panicking or killed test never leaves a daemon behind.
pub fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs in the child between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
}

/// The last `n` lines of a file (empty if unreadable), for failure messages.
pub fn tail_file(path: &Path, n: usize) -> String {
    let text = std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|e| format!("<cannot read {}: {e}>", path.display()));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs named e2e cases against one shared daemon, so one dockerd start/stop
/// (seconds each) serves many checks. Each case runs under `catch_unwind`; all
/// cases run even if some fail, and after each case the project's
/// post-condition is checked: no container may have a writable root
/// filesystem without the allow label. [`Cases::finish`] panics listing every
/// failure. The daemon is passed per call so a case may restart it
/// ([`Cases::run_mut`]).
pub struct Cases {
    allow: (String, String),
    filter: Option<String>,
    failures: Vec<(String, String)>,
    ran: usize,
    started: Instant,
}

impl Default for Cases {
    fn default() -> Self {
        Self::new()
    }
}

impl Cases {
    /// Cases whose post-condition uses the default allow label.
    pub fn new() -> Self {
        Self::with_allow_label(ALLOW_LABEL_KEY, ALLOW_LABEL_VALUE)
    }

    /// Cases whose post-condition accepts writable containers labelled `key=value`.
    pub fn with_allow_label(key: &str, value: &str) -> Self {
        Cases {
            allow: (key.to_string(), value.to_string()),
            filter: std::env::var("ROOTFS_GUARD_E2E_CASES")
                .ok()
                .filter(|f| !f.is_empty()),
            failures: Vec::new(),
            ran: 0,
            started: Instant::now(),
        }
    }

    /// Runs one case, then checks the post-condition on `dockerd`.
    pub fn run(&mut self, dockerd: &PrivateDockerd, name: &str, case: impl FnOnce()) {
        if !self.selected(name) {
            return;
        }
        let t = self.begin(name);
        let result = catch_unwind(AssertUnwindSafe(case)).map_err(panic_message);
        self.end(dockerd, name, t, result);
    }

    /// [`Cases::run`] for a case that needs the daemon mutably (restarts).
    pub fn run_mut(
        &mut self,
        dockerd: &mut PrivateDockerd,
        name: &str,
        case: impl FnOnce(&mut PrivateDockerd),
    ) {
        if !self.selected(name) {
            return;
        }
        let t = self.begin(name);
        let result = catch_unwind(AssertUnwindSafe(|| case(&mut *dockerd))).map_err(panic_message);
        self.end(dockerd, name, t, result);
    }

    fn selected(&self, name: &str) -> bool {
        match &self.filter {
            Some(filter) => name.contains(filter.as_str()),
            None => true,
        }
    }

    fn begin(&mut self, name: &str) -> Instant {
        self.ran += 1;
        eprintln!("case {name} ...");
        Instant::now()
    }

    fn end(
        &mut self,
        dockerd: &PrivateDockerd,
        name: &str,
        t: Instant,
        result: Result<(), String>,
    ) {
        // Checked after failed cases too, so leftovers are charged to the
        // case that made them, not to the next one.
        let (key, value) = &self.allow;
        let violating = catch_unwind(AssertUnwindSafe(|| {
            dockerd.containers_violating(key, value)
        }))
        .map_err(panic_message);
        let post = match violating {
            Ok(v) if v.is_empty() => Ok(()),
            Ok(v) => {
                // Remove them so the failure is charged to this case only.
                let mut rm = dockerd.docker_command();
                rm.args(["rm", "-f", "-v"]).args(&v);
                let _ = try_run_with_timeout(rm, None, DEFAULT_TIMEOUT);
                Err(format!(
                    "post-condition failed: containers with a writable root filesystem \
                     and no {key}={value} label (now removed): {v:?}"
                ))
            }
            Err(e) => Err(format!("post-condition check failed: {e}")),
        };
        let result = match (result, post) {
            (Ok(()), post) => post,
            (Err(e), Ok(())) => Err(e),
            (Err(e), Err(p)) => Err(format!("{e}\n  and {p}")),
        };
        match result {
            Ok(()) => eprintln!("case {name} ... ok ({:.1?})", t.elapsed()),
            Err(msg) => {
                eprintln!("case {name} ... FAILED ({:.1?}): {msg}", t.elapsed());
                self.failures.push((name.to_string(), msg));
            }
        }
    }

    /// Panics if any case failed (appending `context`, e.g. plugin logs, and
    /// the dockerd log tail), or if the name filter matched no case at all.
    pub fn finish(self, dockerd: &PrivateDockerd, context: &[(&str, String)]) {
        eprintln!(
            "{} case(s) ran, {} failed, in {:.1?}",
            self.ran,
            self.failures.len(),
            self.started.elapsed()
        );
        if self.ran == 0 {
            panic!("no case matched ROOTFS_GUARD_E2E_CASES={:?}", self.filter);
        }
        if self.failures.is_empty() {
            return;
        }
        let mut msg = format!("{} e2e case(s) failed:\n", self.failures.len());
        for (name, why) in &self.failures {
            msg.push_str(&format!("- {name}: {why}\n"));
        }
        for (title, text) in context {
            msg.push_str(&format!("--- {title} ---\n{text}\n"));
        }
        msg.push_str(&format!(
            "--- dockerd log tail ({}) ---\n{}\n",
            dockerd.log_path().display(),
            dockerd.log_tail_filtered(30)
        ));
        panic!("{msg}");
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic>".to_string()
    }
}
