//! `PluginProcess`: the real `rootfs-guard serve` binary as a legacy
//! (standalone) Docker plugin on `/run/docker/plugins/<unique>.sock`, with its
//! output captured to a file so tests can assert on and print its logs.

use super::dockerd::{signal, wait_child};
use super::{die_with_parent, read_log, tail_file, unique_suffix, wait_until};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Where dockerd looks for legacy plugin sockets (fixed, machine-global).
pub const PLUGIN_SOCKET_DIR: &str = "/run/docker/plugins";
/// How long the plugin may take to accept connections on its socket.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// A running `rootfs-guard serve`. The name is unique per test process and
/// call (`rg-e2e-<pid>-<n>`), because `/run/docker/plugins` is shared by
/// everything on the machine. Dropping it sends SIGTERM (SIGKILL after 5 s)
/// and removes the socket if the plugin left it behind.
///
/// Like `PrivateDockerd`, the process gets `PR_SET_PDEATHSIG` (SIGTERM) tied
/// to the creating thread: keep the handle on that thread.
pub struct PluginProcess {
    name: String,
    socket: PathBuf,
    dir: tempfile::TempDir,
    policy: Option<PathBuf>,
    args: Vec<String>,
    child: Option<Child>,
}

impl PluginProcess {
    /// The binary under test.
    pub fn binary() -> PathBuf {
        PathBuf::from(env!("CARGO_BIN_EXE_rootfs-guard"))
    }

    /// Starts `rootfs-guard serve --socket /run/docker/plugins/NAME.sock`, with
    /// `--policy FILE` if `policy_json` is given (written to a temp file), and
    /// waits until the socket accepts connections.
    pub fn start(policy_json: Option<&str>) -> Self {
        Self::start_with(policy_json, &[])
    }

    /// [`Self::start`] with extra `serve` arguments (e.g. `--log-format json`).
    pub fn start_with(policy_json: Option<&str>, extra_args: &[&str]) -> Self {
        let name = format!("rg-e2e-{}", unique_suffix());
        let socket = Path::new(PLUGIN_SOCKET_DIR).join(format!("{name}.sock"));
        let dir = tempfile::Builder::new()
            .prefix("rgp-")
            .tempdir_in("/tmp")
            .expect("create the plugin's temp dir");
        let policy = policy_json.map(|json| {
            let path = dir.path().join("policy.json");
            std::fs::write(&path, json).expect("write policy file");
            path
        });
        // A socket file can only be stale here (the name is unique to this
        // process); a leftover would make the readiness check meaningless.
        let _ = std::fs::remove_file(&socket);
        let mut p = PluginProcess {
            name,
            socket,
            dir,
            policy,
            args: extra_args.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        p.spawn();
        p
    }

    /// The plugin name to give dockerd.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `--authorization-plugin=NAME`.
    pub fn authz_arg(&self) -> String {
        format!("--authorization-plugin={}", self.name)
    }

    /// The plugin's unix socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The policy file passed with `--policy`, if any.
    pub fn policy_path(&self) -> Option<&Path> {
        self.policy.as_deref()
    }

    /// Replaces the policy file's content atomically (write + rename). Call
    /// [`Self::reload`] to make the plugin read it.
    pub fn write_policy(&self, json: &str) {
        let path = self
            .policy
            .as_ref()
            .expect("plugin was started without --policy");
        let tmp = path.with_extension("json.new");
        std::fs::write(&tmp, json).expect("write new policy");
        std::fs::rename(&tmp, path).expect("replace policy file");
    }

    /// Sends SIGHUP (policy reload).
    pub fn reload(&self) {
        self.signal(libc::SIGHUP);
    }

    /// Sends SIGHUP and waits (10 s at most) for the plugin to log the outcome: `Ok` once it
    /// logged "policy reloaded", `Err` with the log line if it kept the old policy.
    pub fn reload_and_wait(&self) -> Result<(), String> {
        let count = |needle: &str| self.logs().matches(needle).count();
        let (ok_before, failed_before) = (count("policy reloaded"), count("policy reload failed"));
        self.reload();
        let mut outcome = None;
        wait_until("the plugin to log its policy reload", READY_TIMEOUT, || {
            if count("policy reloaded") > ok_before {
                outcome = Some(Ok(()));
            } else if count("policy reload failed") > failed_before {
                let logs = self.logs();
                let line = logs.lines().rfind(|l| l.contains("policy reload failed"));
                outcome = Some(Err(line.unwrap_or_default().to_string()));
            }
            outcome.is_some()
        });
        outcome.expect("set when the wait ends")
    }

    /// Sends `sig` to the plugin process, if it runs.
    pub fn signal(&self, sig: libc::c_int) {
        if let Some(child) = &self.child {
            signal(child.id(), sig);
        }
    }

    /// The plugin's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// File holding the plugin's stdout and stderr.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("plugin.log")
    }

    /// Everything the plugin has written to stdout/stderr so far.
    pub fn logs(&self) -> String {
        read_log(&self.log_path())
    }

    /// The last `n` log lines.
    pub fn log_tail(&self, n: usize) -> String {
        tail_file(&self.log_path(), n)
    }

    /// SIGTERM, then waits up to `timeout` for the exit. Returns the exit
    /// status, or `None` if it had to be SIGKILLed (or was not running).
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        signal(child.id(), libc::SIGTERM);
        if let Some(status) = wait_child(&mut child, timeout) {
            return Some(status);
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// SIGKILL (a crash) and reap. The socket file stays behind, as after a real crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the plugin again (same name, socket, policy file and arguments) after
    /// [`Self::kill`] or [`Self::terminate`], and waits until it accepts connections. The log
    /// is appended to.
    pub fn restart(&mut self) {
        assert!(
            self.child.is_none(),
            "plugin {} is still running",
            self.name
        );
        self.spawn();
    }

    fn spawn(&mut self) {
        // Appended: a restarted plugin keeps the earlier lines.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open plugin log");
        let mut cmd = Command::new(Self::binary());
        cmd.arg("serve").arg("--socket").arg(&self.socket);
        if let Some(policy) = &self.policy {
            cmd.arg("--policy").arg(policy);
        }
        // Hermetic: no ROOTFS_GUARD_POLICY / _LOG_FORMAT from the caller's env.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ROOTFS_GUARD_") {
                cmd.env_remove(key);
            }
        }
        cmd.args(&self.args)
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log);
        die_with_parent(&mut cmd);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", Self::binary().display()));
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let child = self.child.as_mut().expect("spawned");
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                panic!(
                    "rootfs-guard serve exited with {status} before accepting connections on {}; \
                     output:\n{}",
                    self.socket.display(),
                    self.logs()
                );
            }
            if UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "rootfs-guard serve did not accept connections on {} within {READY_TIMEOUT:?}; \
                     output:\n{}",
                    self.socket.display(),
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PluginProcess {
    fn drop(&mut self) {
        if self.child.is_some() && self.terminate(Duration::from_secs(5)).is_none() {
            eprintln!("plugin {} did not exit on SIGTERM: killed", self.name);
        }
        // Only this run's uniquely named socket.
        let _ = std::fs::remove_file(&self.socket);
    }
}
