//! `PrivateDockerd`: a real dockerd with its own socket, data root and exec
//! root in a short temp dir under /tmp, so e2e tests never touch a system
//! daemon or each other, and leave no process, mount or file behind.

use super::http::{self, ApiBody, RawResponse};
use super::version::{expected_series, DockerdVersion, EXPECTED_VERSION_ENV};
use super::{
    die_with_parent, dockerd_binary, expect_success, read_log, run_with_timeout, search_path,
    split_output, tail_file, tar_of_dir, try_run_with_timeout, unique_suffix, BUSYBOX,
    DEFAULT_TIMEOUT,
};
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// How long dockerd may take to answer `/_ping` after it is spawned.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long dockerd may take to exit after SIGTERM before it gets SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// Applets linked into the busybox test image.
const APPLETS: &[&str] = &[
    "sh", "sleep", "touch", "mount", "true", "echo", "cat", "ls", "mkdir", "id",
];

/// A private dockerd. Dropping it removes all its containers, stops it (SIGTERM,
/// then SIGKILL after 20 s), kills any process still tied to its temp dir,
/// unmounts whatever is left under that dir and deletes it.
///
/// dockerd is spawned with `PR_SET_PDEATHSIG`, so it gets SIGTERM if the
/// *thread* that started (or last restarted) it exits: keep the handle on the
/// test thread that created it (e.g. one `#[test]` running many
/// [`Cases`](super::Cases)), not in a static shared across test threads. In
/// exchange a killed test binary does not leak a daemon.
pub struct PrivateDockerd {
    dir: PathBuf,
    child: Option<Child>,
    args: Vec<String>,
    namespace: String,
    /// The dockerd executable, resolved once: restarts run the same one.
    binary: Option<PathBuf>,
    /// What the daemon reported at start (checked against the expected series).
    version: Option<DockerdVersion>,
}

impl PrivateDockerd {
    /// Starts a fresh daemon with `extra_args` (e.g. `--authorization-plugin=NAME`)
    /// and waits until `/_ping` answers.
    pub fn start(extra_args: &[&str]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("rgd-")
            .tempdir_in("/tmp")
            .expect("create the private dockerd's temp dir under /tmp")
            .keep();
        let namespace = format!("rgd-{}", unique_suffix());
        let mut d = PrivateDockerd {
            dir,
            child: None,
            args: Vec::new(),
            namespace,
            binary: None,
            version: None,
        };
        let sock = d.socket();
        // sun_path is 108 bytes including the terminating NUL.
        assert!(
            sock.as_os_str().len() < 108,
            "socket path too long: {}",
            sock.display()
        );
        // If this panics, `d` is dropped and cleans up what was started.
        d.spawn(extra_args);
        d.check_version();
        d
    }

    /// The version the daemon reported when it started.
    pub fn version(&self) -> &DockerdVersion {
        self.version.as_ref().expect("version checked at start")
    }

    /// The dockerd executable this daemon runs.
    pub fn binary(&self) -> &Path {
        self.binary.as_deref().expect("resolved at start")
    }

    /// Asks the running daemon its version the way a user would (`docker version`), and fails
    /// the test unless it is in the series `ROOTFS_GUARD_E2E_DOCKERD_VERSION` names: with the
    /// version matrix, a PATH that silently selects the wrong dockerd must not pass.
    fn check_version(&mut self) {
        let raw = self.docker_ok(&["version", "--format", "{{.Server.Version}}"]);
        let version = DockerdVersion::parse(&raw).unwrap_or_else(|| {
            panic!(
                "{} reports server version {raw:?}, which is not MAJOR.MINOR[.PATCH]",
                self.binary().display()
            )
        });
        if let Some(series) = expected_series() {
            assert!(
                version.in_series(&series),
                "{EXPECTED_VERSION_ENV}={series}, but the daemon started from {} reports \
                 version {version}: the PATH (ROOTFS_GUARD_E2E_PATH_PREFIX={:?}) selected the \
                 wrong dockerd",
                self.binary().display(),
                std::env::var("ROOTFS_GUARD_E2E_PATH_PREFIX").unwrap_or_default()
            );
        }
        // Past libtest's capture: the matrix run shows which daemon each test used.
        let _ = writeln!(
            std::io::stderr(),
            "e2e: dockerd {version} ({}) for {}",
            self.binary().display(),
            std::thread::current().name().unwrap_or("?")
        );
        self.version = Some(version);
    }

    /// Stops the daemon (keeping its containers, images and plugins) and starts
    /// it again on the same data root with `extra_args` replacing the previous
    /// extra arguments. Needed e.g. to enable a managed plugin and then restart
    /// with `--authorization-plugin=NAME:TAG`.
    pub fn restart(&mut self, extra_args: &[&str]) {
        let status = self.stop();
        if let Some(status) = status {
            if !status.success() {
                eprintln!("dockerd exited with {status} when stopped for a restart");
            }
        }
        kill_processes_tied_to(&self.dir);
        self.spawn(extra_args);
    }

    /// Stops the daemon now (SIGTERM, SIGKILL after 20 s) and returns its exit
    /// status, or `None` if it was not running. The temp dir stays until drop.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        signal(child.id(), libc::SIGTERM);
        if let Some(status) = wait_child(&mut child, STOP_TIMEOUT) {
            return Some(status);
        }
        eprintln!(
            "dockerd (pid {}) did not exit within {STOP_TIMEOUT:?} of SIGTERM: killing it",
            child.id()
        );
        let _ = child.kill();
        child.wait().ok()
    }

    /// The temp dir holding socket, data root, exec root, pidfile and log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// dockerd's API socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }

    /// `unix:///tmp/rgd-XXXXXX/docker.sock`, for `-H` / `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// dockerd's data root.
    pub fn data_root(&self) -> PathBuf {
        self.dir.join("root")
    }

    /// dockerd's stdout+stderr, across restarts.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("dockerd.log")
    }

    /// The whole dockerd log.
    pub fn log(&self) -> String {
        read_log(&self.log_path())
    }

    /// The last `n` lines of the dockerd log.
    pub fn log_tail(&self, n: usize) -> String {
        tail_file(&self.log_path(), n)
    }

    /// The last `n` lines of the dockerd log, without containerd's gRPC chatter.
    pub fn log_tail_filtered(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().filter(|l| !l.contains("module=grpc")).collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// dockerd's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The containerd namespace of this daemon's containers; managed plugins run in
    /// `<namespace>-plugins` (a stock dockerd uses `moby` and `plugins.moby`).
    pub fn containerd_namespace(&self) -> &str {
        &self.namespace
    }

    /// The containerd socket this daemon uses: its own (under the exec root) unless a system
    /// containerd was running at `/run/containerd/containerd.sock`, which dockerd then prefers.
    pub fn containerd_socket(&self) -> PathBuf {
        let own = self.dir.join("exec/containerd/containerd.sock");
        if own.exists() {
            own
        } else {
            PathBuf::from("/run/containerd/containerd.sock")
        }
    }

    /// The extra arguments the daemon currently runs with.
    pub fn extra_args(&self) -> &[String] {
        &self.args
    }

    /// A `docker` CLI command aimed at this daemon only (own `-H`, own
    /// `DOCKER_CONFIG`, no inherited context or TLS settings).
    pub fn docker_command(&self) -> Command {
        aimed_docker_command(
            Path::new("docker"),
            &self.host(),
            &self.dir.join("cli-config"),
        )
    }

    /// Runs `docker ARGS` (60 s timeout) and returns its output.
    pub fn docker(&self, args: &[&str]) -> Output {
        let mut cmd = self.docker_command();
        cmd.args(args);
        run_with_timeout(cmd, None, DEFAULT_TIMEOUT)
    }

    /// Runs `docker ARGS` with `stdin` piped in.
    pub fn docker_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut cmd = self.docker_command();
        cmd.args(args);
        run_with_timeout(cmd, Some(stdin), DEFAULT_TIMEOUT)
    }

    /// Runs `docker ARGS` and returns `(status, stdout, stderr)`.
    pub fn docker_res(&self, args: &[&str]) -> (ExitStatus, String, String) {
        split_output(self.docker(args))
    }

    /// Runs `docker ARGS`, panics (with its stderr) unless it succeeds, and
    /// returns its stdout with surrounding whitespace trimmed.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        expect_success(&format!("docker {}", args.join(" ")), self.docker_res(args))
    }

    /// Runs `docker ARGS`, panics unless it FAILS, and returns its stderr.
    pub fn docker_fails(&self, args: &[&str]) -> String {
        let (status, out, err) = self.docker_res(args);
        assert!(
            !status.success(),
            "`docker {}` succeeded but should have failed:\nstdout: {out}\nstderr: {err}",
            args.join(" ")
        );
        err
    }

    /// `docker inspect ID` as JSON (the single object, not the array).
    pub fn inspect(&self, id: &str) -> serde_json::Value {
        let out = self.docker_ok(&["inspect", "--type", "container", id]);
        let mut v: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("inspect {id}: {e}: {out}"));
        v.get_mut(0)
            .map(serde_json::Value::take)
            .unwrap_or_else(|| panic!("inspect {id}: empty answer {out}"))
    }

    /// Whether container `id` has `HostConfig.ReadonlyRootfs == true`.
    pub fn is_read_only(&self, id: &str) -> bool {
        self.inspect(id)["HostConfig"]["ReadonlyRootfs"] == serde_json::Value::Bool(true)
    }

    /// Raw HTTP request to the daemon through hyper + hyperlocal (60 s timeout).
    /// `path` is the request target, e.g. `/v1.41/containers/create?name=x`; it
    /// must be a valid URI path (use [`Self::raw_http`] for anything else).
    /// Headers are sent as given: a `Content-Length` header you set replaces
    /// hyper's (it must then match the body), `ApiBody::Chunked` sends
    /// `Transfer-Encoding: chunked`. Returns `(status, body)`.
    pub fn api(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<ApiBody>,
    ) -> (u16, Vec<u8>) {
        http::api_request(
            &self.socket(),
            method,
            path,
            headers,
            body.into(),
            DEFAULT_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// [`Self::api`] with the response body parsed as JSON (`Null` if empty,
    /// a JSON string holding the text if it is not JSON).
    pub fn api_json(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<ApiBody>,
    ) -> (u16, serde_json::Value) {
        let (status, bytes) = self.api(method, path, headers, body);
        (status, http::body_to_json(&bytes))
    }

    /// Writes `request` verbatim to a new connection on the daemon's socket and
    /// reads one response (30 s timeout). For malformed HTTP, mismatched
    /// `Content-Length`, hand-made chunked bodies, odd request targets.
    /// Include `Connection: close` unless the response has a length.
    pub fn raw_http(&self, request: &[u8]) -> RawResponse {
        self.raw_http_with(request, Duration::from_secs(30), false)
    }

    /// [`Self::raw_http`] with a timeout and optionally half-closing the
    /// connection's write side after sending.
    pub fn raw_http_with(
        &self,
        request: &[u8],
        timeout: Duration,
        shutdown_write: bool,
    ) -> RawResponse {
        http::raw_exchange(&self.socket(), request, timeout, shutdown_write)
            .unwrap_or_else(|e| panic!("raw HTTP exchange: {e}"))
    }

    /// Builds a minimal image `tag` from the static busybox: `/bin/busybox`,
    /// applet symlinks (sh, sleep, touch, mount, true, echo, cat, ls, mkdir,
    /// id), an empty `/tmp`, and `CMD ["sh"]`. No registry needed.
    pub fn import_busybox(&self, tag: &str) {
        let img = self.dir.join(format!("img-{}", unique_suffix()));
        let bin = img.join("bin");
        std::fs::create_dir_all(&bin).expect("create image dir");
        std::fs::create_dir_all(img.join("tmp")).expect("create image /tmp");
        std::fs::copy(BUSYBOX, bin.join("busybox")).expect("copy busybox");
        for applet in APPLETS {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).expect("symlink applet");
        }
        let out = self.docker_stdin(
            &["import", "--change", r#"CMD ["sh"]"#, "-", tag],
            &tar_of_dir(&img),
        );
        assert!(
            out.status.success(),
            "docker import {tag} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::remove_dir_all(&img);
    }

    /// IDs of all containers (`docker ps -aq`).
    pub fn container_ids(&self) -> Vec<String> {
        self.docker_ok(&["ps", "-aq", "--no-trunc"])
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    }

    /// The project's post-condition check: IDs of containers whose
    /// `HostConfig.ReadonlyRootfs` is not `true` and which lack the label
    /// `allow_key=allow_value`. Containers that vanish between `ps` and
    /// `inspect` (e.g. `--rm`) are ignored.
    pub fn containers_violating(&self, allow_key: &str, allow_value: &str) -> Vec<String> {
        let ids = self.container_ids();
        if ids.is_empty() {
            return Vec::new();
        }
        let mut args = vec!["inspect", "--type", "container"];
        args.extend(ids.iter().map(String::as_str));
        let (status, out, err) = self.docker_res(&args);
        // A container removed since `ps` makes inspect exit 1 but still print
        // the others; anything else is a real failure.
        if !status.success()
            && !err
                .lines()
                .all(|l| l.trim().is_empty() || l.contains("No such"))
        {
            panic!("docker inspect failed ({status}): {err}");
        }
        let list: Vec<serde_json::Value> =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("inspect output: {e}: {out}"));
        list.iter()
            .filter(|c| {
                let read_only = c["HostConfig"]["ReadonlyRootfs"] == serde_json::Value::Bool(true);
                let allowed = c["Config"]["Labels"][allow_key].as_str() == Some(allow_value);
                !read_only && !allowed
            })
            .map(|c| c["Id"].as_str().unwrap_or("<no Id>").to_string())
            .collect()
    }

    /// Force-removes every container (and its anonymous volumes).
    pub fn remove_all_containers(&self) {
        let ids = self.container_ids();
        if ids.is_empty() {
            return;
        }
        let mut args = vec!["rm", "-f", "-v"];
        args.extend(ids.iter().map(String::as_str));
        self.docker_ok(&args);
    }

    /// `docker swarm init` on a free loopback port ([`super::swarm_init_args`]). Leave it with
    /// [`Self::swarm_leave`]; dropping the daemon leaves it too.
    pub fn swarm_init(&self) {
        let init = super::swarm_init_args();
        self.docker_ok(&init.iter().map(String::as_str).collect::<Vec<_>>());
    }

    /// Removes every service and leaves the swarm (`--force`), if the daemon is in one.
    pub fn swarm_leave(&self) {
        if let Err(e) = self.try_leave_swarm() {
            panic!("leaving the swarm: {e}");
        }
    }

    /// Creates `dir` under the daemon's temp dir with `files` (relative path, content) in it,
    /// e.g. a build context or a compose project. Returns its path.
    pub fn write_dir(&self, dir: &str, files: &[(&str, &str)]) -> PathBuf {
        let root = self.dir.join(dir);
        for (name, content) in files {
            let path = root.join(name);
            std::fs::create_dir_all(path.parent().expect("a file in a dir")).expect("mkdir");
            std::fs::write(&path, content).expect("write file");
        }
        std::fs::create_dir_all(&root).expect("mkdir");
        root
    }

    fn spawn(&mut self, extra_args: &[&str]) {
        assert!(self.child.is_none(), "dockerd already running");
        self.args = extra_args.iter().map(|s| s.to_string()).collect();
        let found = dockerd_binary().expect("dockerd binary (checked by e2e_enabled)");
        let dockerd = self.binary.get_or_insert(found).clone();
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open dockerd log");
        let _ = writeln!(
            log,
            "=== rootfs-guard e2e: starting {} with extra args {:?} ===",
            dockerd.display(),
            self.args
        );
        let mut cmd = Command::new(&dockerd);
        cmd.arg(format!("--host={}", self.host()))
            .arg(format!("--data-root={}", self.data_root().display()))
            .arg(format!("--exec-root={}", self.dir.join("exec").display()))
            .arg(format!(
                "--pidfile={}",
                self.dir.join("docker.pid").display()
            ))
            .args(["--iptables=false", "--ip-forward=false", "--bridge=none"])
            // Own containerd namespaces: isolation even if a system containerd
            // at the default socket is shared with other daemons.
            .arg(format!("--containerd-namespace={}", self.namespace))
            .arg(format!(
                "--containerd-plugins-namespace={}-plugins",
                self.namespace
            ))
            .args(&self.args)
            .env("PATH", search_path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log);
        die_with_parent(&mut cmd);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", dockerd.display()));
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        let deadline = started + READY_TIMEOUT;
        let mut last = String::from("socket not created yet");
        loop {
            let child = self.child.as_mut().expect("spawned");
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                panic!(
                    "dockerd exited with {status} before answering /_ping (args {:?}); log tail:\n{}",
                    self.args,
                    self.log_tail_filtered(40)
                );
            }
            if self.socket().exists() {
                match http::raw_exchange(
                    &self.socket(),
                    b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n",
                    Duration::from_secs(5),
                    false,
                ) {
                    Ok(resp) if resp.status.is_some() => return,
                    Ok(resp) => last = format!("no HTTP answer to /_ping: {:?}", resp.raw_text()),
                    Err(e) => last = e,
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "dockerd did not answer /_ping within {READY_TIMEOUT:?} (last: {last}); \
                     args {:?}; log tail:\n{}",
                    self.args,
                    self.log_tail_filtered(40)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PrivateDockerd {
    fn drop(&mut self) {
        // Nothing here may panic: this also runs while a failed test unwinds.
        let running = matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)));
        if running {
            // Swarm first (its services would reschedule task containers), then containers,
            // then the networks they used.
            if let Err(e) = self.try_leave_swarm() {
                eprintln!("cleanup: leaving the swarm failed: {e}");
            }
            if let Err(e) = self.try_remove_all_containers() {
                eprintln!("cleanup: removing containers failed: {e}");
            }
            if let Err(e) = self.try_docker(&["network", "prune", "-f"]) {
                eprintln!("cleanup: removing networks failed: {e}");
            }
        }
        self.stop();
        kill_processes_tied_to(&self.dir);
        unmount_under(&self.dir);
        if std::env::var("ROOTFS_GUARD_E2E_KEEP").as_deref() == Ok("1") {
            eprintln!("ROOTFS_GUARD_E2E_KEEP=1: kept {}", self.dir.display());
        } else if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("cleanup: cannot remove {}: {e}", self.dir.display());
        }
    }
}

impl PrivateDockerd {
    /// `docker ARGS` (30 s timeout) as `Ok(stdout)` or `Err(why)`, for cleanup paths that must
    /// not panic.
    fn try_docker(&self, args: &[&str]) -> Result<String, String> {
        let mut cmd = self.docker_command();
        cmd.args(args);
        let out = try_run_with_timeout(cmd, None, Duration::from_secs(30))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "docker {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Removes every service and leaves the swarm, if the daemon is in one.
    fn try_leave_swarm(&self) -> Result<(), String> {
        let state = self.try_docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"])?;
        if state.trim() == "inactive" {
            return Ok(());
        }
        // Through the API: `docker service ls` hides services of a non-container runtime.
        let timeout = Duration::from_secs(30);
        let call = |method: &str, path: &str| {
            http::api_request(&self.socket(), method, path, &[], ApiBody::Empty, timeout)
        };
        let (_, services) = call("GET", "/v1.41/services")?;
        let services = http::body_to_json(&services);
        for s in services.as_array().into_iter().flatten() {
            if let Some(id) = s["ID"].as_str() {
                call("DELETE", &format!("/v1.41/services/{id}"))?;
            }
        }
        self.try_docker(&["swarm", "leave", "--force"]).map(drop)
    }

    fn try_remove_all_containers(&self) -> Result<(), String> {
        let timeout = Duration::from_secs(30);
        let mut ps = self.docker_command();
        ps.args(["ps", "-aq", "--no-trunc"]);
        let out = try_run_with_timeout(ps, None, timeout)?;
        if !out.status.success() {
            return Err(format!(
                "docker ps: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let ids: Vec<&str> = text.split_whitespace().collect();
        if ids.is_empty() {
            return Ok(());
        }
        let mut rm = self.docker_command();
        rm.args(["rm", "-f", "-v"]).args(&ids);
        let out = try_run_with_timeout(rm, None, timeout)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "docker rm: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

/// `BINARY -H HOST` with the config dir `config` and none of the caller's context, TLS or
/// API-version settings: a docker CLI that talks to one private daemon only.
pub(crate) fn aimed_docker_command(binary: &Path, host: &str, config: &Path) -> Command {
    let mut cmd = Command::new(binary);
    cmd.arg("-H")
        .arg(host)
        .env("DOCKER_CONFIG", config)
        .env("DOCKER_CLI_HINTS", "false")
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .env_remove("DOCKER_API_VERSION");
    cmd
}

pub(crate) fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: plain kill(2) on a pid we spawned and have not reaped yet.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// Polls `child` until it exits or `timeout` passes.
pub(crate) fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() >= deadline => return None,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => return None,
        }
    }
}

/// SIGKILLs processes that belong to this daemon's temp dir only: a command
/// line mentioning it (containerd, shims) or a root directory inside it
/// (container and managed-plugin processes). After a clean stop there are none.
fn kill_processes_tied_to(dir: &Path) {
    let needle = format!("{}/", dir.display());
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        let root_inside = std::fs::read_link(entry.path().join("root"))
            .map(|r| r.starts_with(dir))
            .unwrap_or(false);
        if cmdline.contains(&needle) || root_inside {
            eprintln!("cleanup: killing leftover pid {pid}: {cmdline}");
            signal(pid, libc::SIGKILL);
        }
    }
}

/// Lazily unmounts every mount point at or below `dir`, deepest first.
fn unmount_under(dir: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    points.dedup();
    for p in points {
        let Ok(c) = std::ffi::CString::new(p.to_string_lossy().as_bytes()) else {
            continue;
        };
        // SAFETY: valid NUL-terminated path; MNT_DETACH cannot hang.
        let rc = unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        if rc != 0 {
            eprintln!(
                "cleanup: umount {}: {}",
                p.display(),
                std::io::Error::last_os_error()
            );
        }
    }
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c));
        if b[i] == b'\\' && octal {
            let v = u32::from(b[i + 1] - b'0') * 64
                + u32::from(b[i + 2] - b'0') * 8
                + u32::from(b[i + 3] - b'0');
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
