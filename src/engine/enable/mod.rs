//! `rootfs-guard enable` / `disable`: switch enforcement on and off through daemon.json and a
//! SIGHUP, in a way that cannot take dockerd down.
//!
//! Why this exists: with `"authorization-plugins": [NAME]` in daemon.json and the plugin not
//! answering, a reload (SIGHUP, `systemctl reload docker`) makes dockerd retry ~15 s and then exit 1
//! (measured on 20.10) — every container stops on a host without live-restore. So `enable` first
//! proves the plugin answers the way dockerd will ask (a standalone plugin's `Plugin.Activate`
//! says `authz`; a managed plugin is listed enabled with `docker.authz/1.0`), refuses a dockerd that
//! already has `--authorization-plugin` on its command line (dockerd refuses to start with both),
//! edits daemon.json atomically with a backup beside it, signals dockerd, and then proves the
//! change took: dockerd still answers `/_ping`, and a writable create of an image that cannot exist
//! comes back 403 from the plugin (without enforcement dockerd answers 404 "No such image", so the
//! probe never creates anything). Any failure after the edit restores the backup and reloads again.
//! `disable` is the reverse.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hyper::StatusCode;
use serde_json::{json, Map, Value};

use super::client::{DockerClient, DockerError};

/// Where dockerd looks for standalone plugin sockets.
pub const PLUGIN_SOCKET_DIR: &str = "/run/docker/plugins";
/// dockerd's own defaults, which are the commands' defaults.
pub const DEFAULT_DAEMON_JSON: &str = "/etc/docker/daemon.json";
pub const DEFAULT_PIDFILE: &str = "/var/run/docker.pid";
/// The daemon.json key dockerd reloads on SIGHUP.
const KEY: &str = "authorization-plugins";
/// How long the reload may take to show in the probe's answer (seen: within 100 ms).
const VERIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// What `enable` / `disable` act on.
#[derive(Debug, Clone)]
pub struct Target {
    /// The plugin name as dockerd is to know it (`rootfs-guard`, or `NAME:TAG` for a managed one).
    pub name: String,
    pub daemon_json: PathBuf,
    pub pidfile: PathBuf,
    /// Directory of standalone plugin sockets (dockerd's is fixed; tests keep the default).
    pub socket_dir: PathBuf,
}

/// Why `enable` or `disable` refused or failed. Every variant says what state things were left in.
#[derive(Debug, thiserror::Error)]
pub enum EnableError {
    #[error("cannot find dockerd's pid: {path}: {reason}")]
    Pidfile { path: PathBuf, reason: String },
    #[error("dockerd (pid {pid}) has {arg} on its command line: enforcement is already configured there, and dockerd refuses to start with both the flag and \"authorization-plugins\" in daemon.json; daemon.json left untouched")]
    FlagOnCommandLine { pid: i32, arg: String },
    #[error("dockerd (pid {pid}) reads {reads}, not {given}: pass --daemon-json {reads}; nothing changed")]
    OtherConfigFile {
        pid: i32,
        reads: PathBuf,
        given: PathBuf,
    },
    #[error("plugin {name} is not ready, so a reload would make dockerd exit after ~15 s of retries; nothing changed: {reason}")]
    PluginNotReady { name: String, reason: String },
    #[error("{path} is not valid JSON ({reason}); left untouched")]
    InvalidJson { path: PathBuf, reason: String },
    #[error("{path}: {reason}; left untouched")]
    BadConfig { path: PathBuf, reason: String },
    #[error("{what} {path}: {error}")]
    Io {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot signal dockerd (pid {pid}): {error}")]
    Signal { pid: i32, error: std::io::Error },
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("{problem}; {rollback}")]
    NotTaken { problem: String, rollback: String },
}

/// The result: what was done, line by line, for the operator.
pub type Steps = Vec<String>;

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> EnableError + 'a {
    move |error| EnableError::Io {
        what,
        path: path.to_owned(),
        error,
    }
}

/// The running dockerd: its pid and command line.
#[derive(Debug)]
pub struct Dockerd {
    pub pid: i32,
    pub args: Vec<String>,
}

impl Dockerd {
    /// Reads the pidfile and `/proc/PID/cmdline`.
    pub fn from_pidfile(pidfile: &Path) -> Result<Self, EnableError> {
        let bad = |reason: String| EnableError::Pidfile {
            path: pidfile.to_owned(),
            reason,
        };
        let text = std::fs::read_to_string(pidfile).map_err(|e| bad(e.to_string()))?;
        let pid: i32 = text
            .trim()
            .parse()
            .map_err(|_| bad(format!("{:?} is not a pid", text.trim())))?;
        let raw = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map_err(|e| bad(format!("pid {pid} is not running ({e})")))?;
        let args = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        Ok(Dockerd { pid, args })
    }

    /// `--authorization-plugin` (either spelling), if given on the command line.
    pub fn authz_flag(&self) -> Option<&str> {
        self.args
            .iter()
            .skip(1)
            .map(String::as_str)
            .find(|a| *a == "--authorization-plugin" || a.starts_with("--authorization-plugin="))
    }

    /// The daemon.json this dockerd reads: `--config-file`, else dockerd's default.
    pub fn config_file(&self) -> PathBuf {
        let mut it = self.args.iter().skip(1);
        while let Some(a) = it.next() {
            if let Some(v) = a.strip_prefix("--config-file=") {
                return PathBuf::from(v);
            }
            if a == "--config-file" {
                if let Some(v) = it.next() {
                    return PathBuf::from(v);
                }
            }
        }
        PathBuf::from(DEFAULT_DAEMON_JSON)
    }

    fn hup(&self) -> Result<(), EnableError> {
        // SAFETY: kill(2) with a pid read from dockerd's pidfile and checked in /proc.
        if unsafe { libc::kill(self.pid, libc::SIGHUP) } != 0 {
            return Err(EnableError::Signal {
                pid: self.pid,
                error: std::io::Error::last_os_error(),
            });
        }
        Ok(())
    }

    fn alive(&self) -> bool {
        // SAFETY: signal 0 only checks that the process exists.
        unsafe { libc::kill(self.pid, 0) == 0 }
    }
}

/// Checks the preconditions both commands share: dockerd runs, has no `--authorization-plugin`,
/// and reads the daemon.json we are about to edit.
fn check_dockerd(target: &Target, steps: &mut Steps) -> Result<Dockerd, EnableError> {
    let dockerd = Dockerd::from_pidfile(&target.pidfile)?;
    if let Some(arg) = dockerd.authz_flag() {
        return Err(EnableError::FlagOnCommandLine {
            pid: dockerd.pid,
            arg: arg.to_owned(),
        });
    }
    let reads = dockerd.config_file();
    if !same_file(&reads, &target.daemon_json) {
        return Err(EnableError::OtherConfigFile {
            pid: dockerd.pid,
            reads,
            given: target.daemon_json.clone(),
        });
    }
    steps.push(format!(
        "dockerd pid {} (from {}) reads {} and has no --authorization-plugin on its command line",
        dockerd.pid,
        target.pidfile.display(),
        target.daemon_json.display()
    ));
    Ok(dockerd)
}

fn same_file(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| {
        std::fs::canonicalize(p).unwrap_or_else(|_| {
            // A daemon.json that does not exist yet: compare through its directory.
            match (p.parent(), p.file_name()) {
                (Some(dir), Some(name)) => std::fs::canonicalize(dir)
                    .map(|d| d.join(name))
                    .unwrap_or_else(|_| p.to_owned()),
                _ => p.to_owned(),
            }
        })
    };
    canon(a) == canon(b)
}

/// Whether a managed plugin listed as `listed` is the one dockerd resolves `name` to (a name
/// without a tag means `:latest`).
pub fn managed_name_matches(listed: &str, name: &str) -> bool {
    if listed == name {
        return true;
    }
    let last = name.rsplit('/').next().unwrap_or(name);
    !last.contains(':') && !name.contains('@') && listed == format!("{name}:latest")
}

/// Proves the plugin is ready to be called by dockerd: enabled managed plugin of the authz type,
/// or a standalone socket that answers `Plugin.Activate` with `authz`.
pub async fn check_plugin(
    client: &DockerClient,
    target: &Target,
    steps: &mut Steps,
) -> Result<(), EnableError> {
    let not_ready = |reason: String| EnableError::PluginNotReady {
        name: target.name.clone(),
        reason,
    };
    let managed = client.list_plugins().await?;
    if let Some(p) = managed
        .iter()
        .find(|p| managed_name_matches(&p.name, &target.name))
    {
        let types = p.config.interface.types.clone().unwrap_or_default();
        if !types.iter().any(|t| t == "docker.authz/1.0") {
            return Err(not_ready(format!(
                "managed plugin {} implements {types:?}, not docker.authz/1.0",
                p.name
            )));
        }
        if !p.enabled {
            return Err(not_ready(format!(
                "managed plugin {} is disabled (docker plugin enable {} first)",
                p.name, p.name
            )));
        }
        steps.push(format!(
            "managed plugin {} is enabled and implements docker.authz/1.0",
            p.name
        ));
        return Ok(());
    }
    if target.name.contains('/') || target.name.contains(':') {
        return Err(not_ready(format!(
            "dockerd lists no managed plugin {} (docker plugin ls)",
            target.name
        )));
    }
    let candidates = [
        target.socket_dir.join(format!("{}.sock", target.name)),
        target
            .socket_dir
            .join(&target.name)
            .join(format!("{}.sock", target.name)),
    ];
    let mut reasons = Vec::new();
    for socket in candidates {
        if !socket.exists() {
            reasons.push(format!("no socket {}", socket.display()));
            continue;
        }
        match DockerClient::with_socket(socket.clone())
            .plugin_activate()
            .await
        {
            Ok(implements) if implements.iter().any(|i| i == "authz") => {
                steps.push(format!(
                    "plugin {} answers Plugin.Activate with {implements:?} on {}",
                    target.name,
                    socket.display()
                ));
                return Ok(());
            }
            Ok(implements) => reasons.push(format!(
                "{} implements {implements:?}, not authz",
                socket.display()
            )),
            Err(e) => reasons.push(e.to_string()),
        }
    }
    Err(not_ready(format!(
        "no managed plugin of that name, and no standalone plugin answers: {}",
        reasons.join("; ")
    )))
}

mod daemon_json;

use daemon_json::*;

/// What the probe saw.
#[derive(Debug, PartialEq, Eq)]
pub enum Probe {
    /// 403 naming the plugin: it enforces.
    DeniedBy,
    /// Anything else: the status and message.
    Other(String),
}

/// A writable create of an image that cannot exist (`.invalid` is a reserved domain): with the
/// plugin in the chain it is denied (403) before dockerd looks for the image; without, dockerd
/// answers 404 "No such image". Nothing is created either way.
pub async fn probe(client: &DockerClient, name: &str) -> Result<Probe, DockerError> {
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let body = json!({
        "Image": format!("rootfs-guard-probe.invalid/no-such-image:{nonce}"),
        "Cmd": ["true"],
        "HostConfig": {"ReadonlyRootfs": false},
    });
    match client.create_container(None, &body).await {
        Ok(id) => {
            // Impossible unless someone made that image; never leave it behind.
            let _ = client.remove(&id).await;
            Ok(Probe::Other(format!(
                "the probe container was created ({id}); removed it"
            )))
        }
        Err(DockerError::Api {
            status, message, ..
        }) => {
            if status == StatusCode::FORBIDDEN
                && message.contains(&format!("authorization denied by plugin {name}"))
            {
                Ok(Probe::DeniedBy)
            } else {
                Ok(Probe::Other(format!("HTTP {}: {message}", status.as_u16())))
            }
        }
        Err(e) if e.is_unreachable() => Err(e),
        Err(e) => Ok(Probe::Other(e.to_string())),
    }
}

/// Waits until dockerd answers `/_ping` and the probe is (`want_denied`) or is not denied by the
/// plugin. `Err` carries what was last seen.
async fn verify(
    client: &DockerClient,
    dockerd: &Dockerd,
    name: &str,
    want_denied: bool,
) -> Result<String, String> {
    let started = Instant::now();
    let mut last;
    loop {
        if !dockerd.alive() {
            return Err(format!("dockerd (pid {}) exited", dockerd.pid));
        }
        match client.ping().await {
            Err(e) => last = format!("dockerd does not answer /_ping: {e}"),
            Ok(()) => match probe(client, name).await {
                Ok(Probe::DeniedBy) if want_denied => {
                    return Ok(format!(
                        "dockerd answers /_ping; a writable create probe was denied by {name} (HTTP 403) after {:.1} s: enforcing",
                        started.elapsed().as_secs_f64()
                    ))
                }
                Ok(Probe::Other(what)) if !want_denied => {
                    return Ok(format!(
                        "dockerd answers /_ping; the writable create probe is no longer seen by {name} ({what}) after {:.1} s",
                        started.elapsed().as_secs_f64()
                    ))
                }
                Ok(Probe::DeniedBy) => last = format!("the probe is still denied by {name}"),
                Ok(Probe::Other(what)) => last = format!("the probe was not denied by {name}: {what}"),
                Err(e) => last = format!("probe: {e}"),
            },
        }
        if started.elapsed() >= VERIFY_TIMEOUT {
            return Err(format!("after {VERIFY_TIMEOUT:?}: {last}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Signals dockerd and verifies; on failure restores daemon.json and signals again (when
/// `may_reload_restored` allows: reloading a config that names a dead plugin is the very thing
/// that kills dockerd).
async fn reload_and_verify(
    client: &DockerClient,
    dockerd: &Dockerd,
    target: &Target,
    config: &Config,
    want_denied: bool,
    steps: &mut Steps,
) -> Result<(), EnableError> {
    dockerd.hup()?;
    steps.push(format!("sent SIGHUP to dockerd (pid {})", dockerd.pid));
    let problem = match verify(client, dockerd, &target.name, want_denied).await {
        Ok(line) => {
            steps.push(line);
            return Ok(());
        }
        Err(problem) => problem,
    };
    let mut rollback = Vec::new();
    match restore(target, config) {
        Ok(line) => rollback.push(line),
        Err(e) => {
            return Err(EnableError::NotTaken {
                problem,
                rollback: format!("and restoring failed: {e}"),
            })
        }
    }
    let reload_back = if want_denied {
        true
    } else {
        // disable: the restored file names the plugin again; only reload it if the plugin answers.
        check_plugin(client, target, &mut Vec::new()).await.is_ok()
    };
    if reload_back && dockerd.alive() {
        match dockerd.hup() {
            Ok(()) => rollback.push(format!(
                "sent SIGHUP to dockerd (pid {}) again",
                dockerd.pid
            )),
            Err(e) => rollback.push(e.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        match client.ping().await {
            Ok(()) => rollback.push("dockerd answers /_ping".into()),
            Err(e) => rollback.push(format!("dockerd does not answer: {e}")),
        }
    } else if !reload_back {
        rollback.push(format!(
            "not reloaded: plugin {} does not answer, and reloading a daemon.json that names it would make dockerd exit",
            target.name
        ));
    }
    Err(EnableError::NotTaken {
        problem,
        rollback: rollback.join("; "),
    })
}

/// `rootfs-guard enable`: see the module documentation. Returns the steps taken.
pub async fn enable(client: &DockerClient, target: &Target) -> Result<Steps, EnableError> {
    let mut steps = Steps::new();
    let dockerd = check_dockerd(target, &mut steps)?;
    client.ping().await?;
    let config = read_config(&target.daemon_json)?;
    check_plugin(client, target, &mut steps).await?;
    let mut plugins = plugins_of(&config.object);
    if plugins.iter().any(|p| p == &target.name) {
        steps.push(format!(
            "{} already lists {} in \"{KEY}\": not edited",
            target.daemon_json.display(),
            target.name
        ));
        match verify(client, &dockerd, &target.name, true).await {
            Ok(line) => {
                steps.push(line);
                return Ok(steps);
            }
            Err(problem) => {
                return Err(EnableError::NotTaken {
                    problem: format!("listed but not enforcing ({problem})"),
                    rollback:
                        "nothing was changed; reload dockerd (SIGHUP) once the plugin answers"
                            .into(),
                })
            }
        }
    }
    plugins.push(target.name.clone());
    let mut object = config.object.clone();
    object.insert(KEY.into(), json!(plugins));
    apply(target, &config, object, &mut steps)?;
    reload_and_verify(client, &dockerd, target, &config, true, &mut steps).await?;
    Ok(steps)
}

/// `rootfs-guard disable`: takes the plugin out of daemon.json, reloads dockerd, and proves the
/// probe no longer reaches the plugin. Works with the plugin dead (reloading a config that no
/// longer names it does not call it).
pub async fn disable(client: &DockerClient, target: &Target) -> Result<Steps, EnableError> {
    let mut steps = Steps::new();
    let dockerd = check_dockerd(target, &mut steps)?;
    let config = read_config(&target.daemon_json)?;
    let plugins = plugins_of(&config.object);
    if !plugins.iter().any(|p| p == &target.name) {
        steps.push(format!(
            "{} does not list {} in \"{KEY}\": nothing to do",
            target.daemon_json.display(),
            target.name
        ));
        return Ok(steps);
    }
    let rest: Vec<String> = plugins.into_iter().filter(|p| p != &target.name).collect();
    let mut object = config.object.clone();
    if rest.is_empty() {
        object.remove(KEY);
    } else {
        object.insert(KEY.into(), json!(rest));
    }
    apply(target, &config, object, &mut steps)?;
    reload_and_verify(client, &dockerd, target, &config, false, &mut steps).await?;
    Ok(steps)
}

#[cfg(test)]
mod tests;
