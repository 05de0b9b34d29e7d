//! `ActivatedPlugin`: `rootfs-guard serve` started the way systemd starts a socket-activated
//! service, without systemd. The test binds and listens on the socket and keeps it (as
//! `rootfs-guard.socket` does); each spawn gets it as fd 3 with `LISTEN_FDS=1` and
//! `LISTEN_PID=<its own pid>`. The pid is only known in the child, so the child is started
//! through `sh -c 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"'`: `exec` keeps the shell's
//! pid, which is what `$$` expands to. (Setting the variable in a `pre_exec` hook would not work:
//! `setenv` is not async-signal-safe, and `Command` passes its own prepared environment to exec.)

use super::dockerd::{signal, wait_child};
use super::http::{raw_exchange, RawResponse};
use super::plugin::PLUGIN_SOCKET_DIR;
use super::{read_log, tail_file, unique_suffix};
use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a spawned daemon may take to answer `/Plugin.Activate`.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// The listening socket (held by the test, like systemd) and the current daemon process, if any.
/// Dropping it kills the daemon and removes the socket file.
pub struct ActivatedPlugin {
    name: String,
    socket: PathBuf,
    listener: UnixListener,
    dir: tempfile::TempDir,
    policy: Option<PathBuf>,
    child: Option<Child>,
}

/// How the environment of one spawn deviates from what systemd would pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListenEnv {
    /// `LISTEN_FDS=1`, `LISTEN_PID` = the daemon's pid (what systemd does).
    #[default]
    Systemd,
    /// `LISTEN_FDS=1` but `LISTEN_PID=1`: meant for another process, must be ignored.
    OtherPid,
    /// `LISTEN_FDS=2`, right pid: more sockets than the daemon can serve.
    TwoFds,
}

impl ActivatedPlugin {
    /// Binds `/run/docker/plugins/<unique>.sock` (where dockerd looks for plugins), mode 0660.
    pub fn in_plugin_dir(policy_json: Option<&str>) -> Self {
        let name = format!("rg-sa-{}", unique_suffix());
        let socket = Path::new(PLUGIN_SOCKET_DIR).join(format!("{name}.sock"));
        std::fs::create_dir_all(PLUGIN_SOCKET_DIR).expect("create the plugin socket dir");
        Self::bind(name, socket, temp_dir(), policy_json)
    }

    /// Binds a socket in a private temp dir (for tests without dockerd).
    pub fn in_temp_dir(policy_json: Option<&str>) -> Self {
        let name = format!("rg-sa-{}", unique_suffix());
        let dir = temp_dir();
        let socket = dir.path().join(format!("{name}.sock"));
        Self::bind(name, socket, dir, policy_json)
    }

    fn bind(
        name: String,
        socket: PathBuf,
        dir: tempfile::TempDir,
        policy_json: Option<&str>,
    ) -> Self {
        // Unique name: a leftover file can only be stale.
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket)
            .unwrap_or_else(|e| panic!("bind {}: {e}", socket.display()));
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o660))
            .expect("chmod the socket");
        let policy = policy_json.map(|json| {
            let path = dir.path().join("policy.json");
            std::fs::write(&path, json).expect("write policy file");
            path
        });
        ActivatedPlugin {
            name,
            socket,
            listener,
            dir,
            policy,
            child: None,
        }
    }

    /// The plugin name for dockerd (socket file name without `.sock`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The policy file passed with `--policy`, if any.
    pub fn policy_path(&self) -> Option<&Path> {
        self.policy.as_deref()
    }

    /// A path the daemon is told to bind with `--socket`; with a usable passed socket it must
    /// never be created.
    pub fn decoy_socket(&self) -> PathBuf {
        self.dir.path().join("decoy.sock")
    }

    /// Log of every spawn (appended).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("plugin.log")
    }

    /// Everything logged so far.
    pub fn logs(&self) -> String {
        read_log(&self.log_path())
    }

    /// The last `n` log lines.
    pub fn log_tail(&self, n: usize) -> String {
        tail_file(&self.log_path(), n)
    }

    /// The daemon's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the daemon with the socket as systemd would pass it and waits until it answers.
    pub fn spawn(&mut self) {
        self.spawn_with(ListenEnv::Systemd);
        self.wait_ready();
    }

    /// Starts the daemon with the given `LISTEN_*` variant and returns at once.
    pub fn spawn_with(&mut self, env: ListenEnv) {
        assert!(self.child.is_none(), "daemon already running");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open plugin log");
        let binary = super::PluginProcess::binary();
        let (listen_fds, listen_pid) = match env {
            ListenEnv::Systemd => (1, "$$"),
            ListenEnv::OtherPid => (1, "1"),
            ListenEnv::TwoFds => (2, "$$"),
        };
        let mut args = vec![
            "serve".into(),
            "--socket".into(),
            self.decoy_socket().into_os_string(),
        ];
        if let Some(policy) = &self.policy {
            args.push("--policy".into());
            args.push(policy.clone().into_os_string());
        }
        let mut cmd = socket_activated_command(
            &binary,
            &args,
            self.listener.as_raw_fd(),
            listen_fds,
            listen_pid,
        );
        cmd.stdout(log.try_clone().expect("clone log handle"))
            .stderr(log);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        self.child = Some(child);
    }

    /// Waits until the daemon answers `/Plugin.Activate` on the socket. Connecting alone proves
    /// nothing: the test's listener accepts into its backlog with or without a daemon.
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                panic!(
                    "socket-activated rootfs-guard exited with {status} before answering; log:\n{}",
                    self.logs()
                );
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "socket-activated rootfs-guard did not answer within {READY_TIMEOUT:?}; log:\n{}",
                    self.logs()
                );
            }
            let resp = self.activate(left.min(Duration::from_secs(2)));
            if resp.status == Some(200) {
                return;
            }
        }
    }

    /// `POST /Plugin.Activate` over the socket, as dockerd sends it.
    pub fn activate(&self, timeout: Duration) -> RawResponse {
        plugin_call(&self.socket, "/Plugin.Activate", "", timeout)
    }

    /// Waits up to `timeout` for the daemon to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let status = wait_child(child, timeout)?;
        self.child = None;
        Some(status)
    }

    /// SIGTERM and wait (5 s, then SIGKILL). `None` if it had to be killed or was not running.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        signal(child.id(), libc::SIGTERM);
        if let Some(status) = wait_child(&mut child, Duration::from_secs(5)) {
            return Some(status);
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// SIGKILL (a crash) and reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `sig` to the daemon, if it runs.
    pub fn signal(&self, sig: libc::c_int) {
        if let Some(child) = &self.child {
            signal(child.id(), sig);
        }
    }
}

impl Drop for ActivatedPlugin {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// `binary ARGS` started as systemd starts a socket-activated service: `fd` becomes fd 3,
/// `LISTEN_FDS=listen_fds`, `LISTEN_PID=listen_pid` evaluated by `sh` (`$$`: the daemon's own pid,
/// since `exec` keeps it). `ROOTFS_GUARD_*` and inherited `LISTEN_*` variables are removed; stdin
/// is /dev/null. The child gets SIGTERM if the spawning thread exits.
pub fn socket_activated_command(
    binary: &Path,
    args: &[std::ffi::OsString],
    fd: std::os::fd::RawFd,
    listen_fds: u32,
    listen_pid: &str,
) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!(
            r#"LISTEN_PID={listen_pid}; export LISTEN_PID; exec "$0" "$@""#
        ))
        .arg(binary)
        .args(args);
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("ROOTFS_GUARD_") || k.starts_with("LISTEN_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("LISTEN_FDS", listen_fds.to_string())
        .env("LISTEN_FDNAMES", "rootfs-guard.socket")
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null());
    // SAFETY: dup2, fcntl and prctl are async-signal-safe; nothing else runs between fork and
    // exec.
    unsafe {
        cmd.pre_exec(move || {
            const SD_LISTEN_FDS_START: libc::c_int = 3;
            if fd != SD_LISTEN_FDS_START && libc::dup2(fd, SD_LISTEN_FDS_START) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // dup2 gives the copy no FD_CLOEXEC, but when fd already was 3 it did nothing: clear
            // the flag explicitly so fd 3 survives both execs (sh, then the daemon).
            if libc::fcntl(SD_LISTEN_FDS_START, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    cmd
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("rgsa-")
        .tempdir_in("/tmp")
        .expect("create a temp dir")
}

/// One plugin-protocol call (`POST path` with `body`, `Connection: close`) on `socket`.
pub fn plugin_call(socket: &Path, path: &str, body: &str, timeout: Duration) -> RawResponse {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: \r\nAccept: application/vnd.docker.plugins.v1.2+json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    raw_exchange(socket, request.as_bytes(), timeout, false)
        .unwrap_or_else(|e| panic!("plugin call {path} on {}: {e}", socket.display()))
}
