//! The Docker clients users build and deploy with, as e2e tests run them against a private
//! dockerd: a given `docker` CLI binary with its own `DOCKER_CONFIG` (so a CLI plugin such as
//! buildx is installed for that client only, never into the system), and docker-compose 1.x.
//!
//! Which clients a machine has (see `shared/docs/testing-with-dockerd.md`):
//! - Debian's docker.io ships the 20.10 CLI at `/usr/bin/docker`, with BuildKit built in
//!   (`DOCKER_BUILDKIT=1`); it is always there (scripts/install-test-deps.sh installs docker.io).
//! - A newer docker 28 CLI may be at `/usr/local/bin/docker` (`ROOTFS_GUARD_E2E_DOCKER28`),
//!   shadowing it on PATH. Without the buildx plugin it falls back to the legacy builder; with
//!   Debian sid's docker-buildx (scripts/fetch-buildx.sh, `ROOTFS_GUARD_E2E_BUILDX`) it builds
//!   with BuildKit.
//! - docker-compose 1.29 (Debian's `docker-compose`, from scripts/install-test-deps.sh).

use super::dockerd::PrivateDockerd;
use super::{find_in_path, run_with_timeout, split_output, DEFAULT_TIMEOUT};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

/// Env: the docker-buildx binary to install as a CLI plugin (scripts/fetch-buildx.sh prints it).
pub const BUILDX_ENV: &str = "ROOTFS_GUARD_E2E_BUILDX";
/// Where Debian's docker.io puts its CLI.
pub const DEBIAN_CLI: &str = "/usr/bin/docker";
/// Where a newer docker CLI sits on these machines (28.2 here and on CI).
pub const NEWER_CLI: &str = "/usr/local/bin/docker";
/// Env: another path for the docker 28 CLI (e.g. a missing one, to see its cases say SKIPPED).
pub const NEWER_CLI_ENV: &str = "ROOTFS_GUARD_E2E_DOCKER28";

/// Prints `SKIPPED` past libtest's output capture, so a case that could not run on this machine
/// is visible in a plain `cargo test` / `make test` run instead of passing silently.
pub fn say_skipped(what: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED: {what}: {why}");
}

/// One docker CLI binary with a private `DOCKER_CONFIG` dir and extra environment.
#[derive(Debug, Clone)]
pub struct DockerCli {
    binary: PathBuf,
    config: PathBuf,
    env: Vec<(String, String)>,
    /// `docker --version` of the binary (e.g. `Docker version 20.10.24+dfsg1, build 297e128`).
    pub version: String,
}

impl DockerCli {
    /// `binary` with the config dir `config` (created). Panics if the binary does not run.
    pub fn new(binary: &Path, config: &Path) -> Self {
        std::fs::create_dir_all(config).expect("create the CLI's DOCKER_CONFIG dir");
        let mut cmd = Command::new(binary);
        cmd.arg("--version");
        let (status, out, err) = split_output(run_with_timeout(cmd, None, DEFAULT_TIMEOUT));
        assert!(status.success(), "{} --version: {err}", binary.display());
        DockerCli {
            binary: binary.to_path_buf(),
            config: config.to_path_buf(),
            env: Vec::new(),
            version: out.trim().to_string(),
        }
    }

    /// Debian's 20.10 CLI at `/usr/bin/docker`. Panics (a missing test dependency) unless it
    /// is there and reports 20.10.
    pub fn debian_20_10(config: &Path) -> Self {
        assert!(
            Path::new(DEBIAN_CLI).is_file(),
            "{DEBIAN_CLI} missing: install docker.io (scripts/install-test-deps.sh)"
        );
        let cli = DockerCli::new(Path::new(DEBIAN_CLI), config);
        assert!(
            cli.version.starts_with("Docker version 20.10."),
            "{DEBIAN_CLI} is not Debian's 20.10 CLI: {}",
            cli.version
        );
        cli
    }

    /// The docker 28 CLI at `/usr/local/bin/docker`, or why there is none (the caller says
    /// SKIPPED with it).
    pub fn docker_28(config: &Path) -> Result<Self, String> {
        let path = std::env::var(NEWER_CLI_ENV)
            .ok()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| NEWER_CLI.to_string());
        if !Path::new(&path).is_file() {
            return Err(format!("no docker 28 CLI at {path} on this machine"));
        }
        let cli = DockerCli::new(Path::new(&path), config);
        if cli.version.starts_with("Docker version 28.") {
            Ok(cli)
        } else {
            Err(format!("{path} is not a docker 28 CLI: {}", cli.version))
        }
    }

    /// The same CLI with `key=value` in its environment.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The value this CLI's extra environment gives `key`, if any.
    pub fn env_value(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Installs `buildx` as this CLI's `docker-buildx` plugin (a symlink in its config dir's
    /// `cli-plugins/`) and checks the CLI sees it.
    pub fn with_buildx(self, buildx: &Path) -> Self {
        let plugins = self.config.join("cli-plugins");
        std::fs::create_dir_all(&plugins).expect("create cli-plugins/");
        let link = plugins.join("docker-buildx");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(buildx, &link).expect("link docker-buildx");
        self
    }

    /// Whether `docker buildx version` works for this CLI (the plugin is installed for it,
    /// privately or system-wide).
    pub fn has_buildx(&self, d: &PrivateDockerd) -> bool {
        d.cli_res(self, &["buildx", "version"]).0.success()
    }

    /// The binary.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// A command running this CLI against `host` only: its own config dir and environment, no
    /// inherited context, TLS or API-version settings.
    pub fn command(&self, host: &str) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("-H")
            .arg(host)
            .env("DOCKER_CONFIG", &self.config)
            .env("DOCKER_CLI_HINTS", "false")
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env_remove("DOCKER_API_VERSION")
            .env_remove("DOCKER_BUILDKIT");
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }
}

/// The docker-buildx binary to test with: `ROOTFS_GUARD_E2E_BUILDX`, else the default cache of
/// scripts/fetch-buildx.sh if it has one; `Err` says what to run.
pub fn buildx_binary() -> Result<PathBuf, String> {
    let path = match std::env::var(BUILDX_ENV) {
        Ok(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".cache/buildx-0.29/root/usr/libexec/docker/cli-plugins/docker-buildx"),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "no docker-buildx at {} ({BUILDX_ENV}): run scripts/fetch-buildx.sh (make test does)",
            path.display()
        ))
    }
}

/// docker-compose 1.x on PATH; panics (a missing test dependency) unless it is there.
pub fn compose_binary() -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    find_in_path("docker-compose", &path).unwrap_or_else(|| {
        panic!("docker-compose not on PATH: apt-get install docker-compose (scripts/install-test-deps.sh)")
    })
}

impl PrivateDockerd {
    /// Runs `cli ARGS` against this daemon and returns `(status, stdout, stderr)`. A build may
    /// take a while: 120 s timeout.
    pub fn cli_res(&self, cli: &DockerCli, args: &[&str]) -> (ExitStatus, String, String) {
        let mut cmd = cli.command(&self.host());
        cmd.args(args);
        split_output(run_with_timeout(
            cmd,
            None,
            std::time::Duration::from_secs(120),
        ))
    }

    /// [`Self::cli_res`] that panics unless the command succeeds; returns trimmed stdout.
    pub fn cli_ok(&self, cli: &DockerCli, args: &[&str]) -> String {
        let (status, out, err) = self.cli_res(cli, args);
        assert!(
            status.success(),
            "`{} {}` ({}) failed ({status}):\nstdout: {out}\nstderr: {err}",
            cli.binary.display(),
            args.join(" "),
            cli.version
        );
        out.trim().to_string()
    }

    /// [`Self::cli_res`] that panics unless the command FAILS; returns stdout + stderr (the
    /// legacy builder prints the daemon's error on stdout with some CLIs).
    pub fn cli_fails(&self, cli: &DockerCli, args: &[&str]) -> String {
        let (status, out, err) = self.cli_res(cli, args);
        assert!(
            !status.success(),
            "`{} {}` ({}) succeeded but should have failed:\nstdout: {out}\nstderr: {err}",
            cli.binary.display(),
            args.join(" "),
            cli.version
        );
        format!("{out}{err}")
    }

    /// `docker-compose ARGS` for the project in `dir` against this daemon (`DOCKER_HOST`), with
    /// `env` added; `(status, stdout, stderr)`. 120 s timeout.
    pub fn compose_res(
        &self,
        dir: &Path,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> (ExitStatus, String, String) {
        let mut cmd = Command::new(compose_binary());
        cmd.current_dir(dir)
            .args(args)
            .env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self.dir().join("cli-config"))
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env_remove("DOCKER_BUILDKIT")
            .env_remove("COMPOSE_DOCKER_CLI_BUILD")
            .envs(env.iter().copied());
        split_output(run_with_timeout(
            cmd,
            None,
            std::time::Duration::from_secs(120),
        ))
    }

    /// [`Self::compose_res`] that panics unless it succeeds; returns trimmed stdout.
    pub fn compose_ok(&self, dir: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
        let (status, out, err) = self.compose_res(dir, env, args);
        assert!(
            status.success(),
            "`docker-compose {}` failed ({status}):\nstdout: {out}\nstderr: {err}",
            args.join(" ")
        );
        out.trim().to_string()
    }
}
