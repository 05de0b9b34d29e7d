//! The `rootfs-guard` command line: flag definitions (clap) and the small shells that connect
//! them to the library. Nothing here decides anything; see [`crate::authz::decision`].

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine as _;
use clap::{Args, Parser, Subcommand};

use crate::authz::decision::decide_at;
use crate::authz::exceptions::parse_instant;
use crate::authz::policy::{Policy, DEFAULT_POLICY_JSON};
use crate::authz::wire::AuthZRequest;
use crate::daemon::logging::{self, LogFormat};
use crate::daemon::metrics::{self, MetricsAddr};
use crate::daemon::{self, Limits, PolicyStore, State};
use crate::engine;
use crate::engine::client::{resolve, DockerClient, HostFlags};

mod advise;
mod audit;
mod check;
mod enable;
mod serve;
mod validate;
mod watch;

pub use advise::{AdviseArgs, AdviseFormat};
pub use audit::{AuditArgs, AuditFormat};
pub use check::CheckArgs;
pub use enable::EnableArgs;
pub use serve::ServeArgs;
pub use validate::ValidateArgs;
pub use watch::{WatchArgs, WatchFormat};

#[derive(Debug, Parser)]
#[command(
    name = "rootfs-guard",
    version,
    about = "Docker authorization plugin: every container gets a read-only root filesystem (CIS Docker 5.12)",
    long_about = "Docker authorization plugin: every container gets a read-only root filesystem (CIS Docker 5.12).\n\n\
Run `rootfs-guard serve`, then start dockerd with `--authorization-plugin=rootfs-guard`. From then on a \
container create whose effective HostConfig.ReadonlyRootfs is not true is denied, unless it carries an \
allowlist label (default: rootfs-guard.allow-writable=true)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the AuthZ plugin protocol on a unix socket (what dockerd calls).
    Serve(ServeArgs),
    /// Decide one Docker API request offline and print the decision as JSON.
    ///
    /// Exit status: 0 allowed, 1 denied, 2 usage or input error. Example:
    /// `rootfs-guard check body.json` decides a `POST /containers/create` with that body.
    Check(CheckArgs),
    /// Check a policy file and print it as it will be applied (exit 0 valid, 2 invalid).
    Validate(ValidateArgs),
    /// Audit existing containers against the policy (CIS 5.12), through the Docker Engine API.
    ///
    /// Every container (or only running ones) is judged by the rules `serve` enforces at create
    /// time, on one daemon or several in one report (--host A --host B, --hosts FILE). Exit
    /// status: 0 no violations, 1 violations, 2 error (daemon unreachable — with several hosts
    /// only with --strict —, a container that could not be inspected, a bad policy).
    Audit(AuditArgs),
    /// Follow Docker events and report every container that violates the policy when it is
    /// created or started (swarm tasks, containers created while the plugin was off).
    ///
    /// Reconnects with backoff when dockerd restarts. Stops on SIGINT/SIGTERM.
    Watch(WatchArgs),
    /// Tell how to run a container read-only: the paths it writes, the --tmpfs / -v mounts that
    /// cover them, the complete `docker run --read-only ...` command and a compose snippet.
    ///
    /// `advise CONTAINER...` reads each container's writable layer (what it has written so far);
    /// `advise --image IMAGE [-- CMD...]` runs a throwaway writable trial container of IMAGE for
    /// --seconds (labelled rootfs-guard.allow-writable=true and rootfs-guard.trial=true: the
    /// daemon's policy must let it through), reads what it wrote and removes it. Exit status: 0
    /// every written path is covered, 1 some path cannot be covered by a mount, 2 error.
    Advise(AdviseArgs),
    /// Switch enforcement on: add the plugin to daemon.json's "authorization-plugins" and reload
    /// dockerd (SIGHUP), without ever letting the reload take dockerd down.
    ///
    /// Refuses (changing nothing) unless the plugin answers as dockerd will call it and dockerd has
    /// no --authorization-plugin on its command line; edits daemon.json atomically with a backup
    /// beside it (NAME.rootfs-guard-backup); then proves dockerd answers and a writable create probe
    /// of an image that cannot exist is denied by the plugin. On any failure after the edit the
    /// backup is restored and dockerd reloaded again. Exit status: 0 enforcing, 1 refused or rolled
    /// back, 2 usage error.
    Enable(EnableArgs),
    /// Switch enforcement off: remove the plugin from daemon.json's "authorization-plugins",
    /// reload dockerd, and prove the probe no longer reaches the plugin. Works with the plugin down.
    Disable(EnableArgs),
}

/// The Docker daemon to talk to, with the docker CLI's own flags and environment.
#[derive(Debug, Args)]
pub struct DockerArgs {
    /// Daemon to connect to: unix:///PATH, tcp://HOST:PORT, ssh://USER@HOST:PORT (user and port optional).
    /// Default: the docker CLI's choice: --context, else $DOCKER_HOST, else $DOCKER_CONTEXT, else
    /// the current context of ~/.docker/config.json, else unix:///var/run/docker.sock.
    #[arg(long = "host", short = 'H', value_name = "HOST")]
    pub host: Vec<String>,
    /// Docker context to use (as `docker --context`; `docker context ls` lists them).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Use TLS without verifying the daemon's certificate (implied by --tlsverify).
    #[arg(long)]
    pub tls: bool,
    /// Use TLS and verify the daemon's certificate and name (default: $DOCKER_TLS_VERIFY set).
    #[arg(long)]
    pub tlsverify: bool,
    /// CA the daemon's certificate must chain to (default: $DOCKER_CERT_PATH/ca.pem).
    #[arg(long, value_name = "FILE")]
    pub tlscacert: Option<PathBuf>,
    /// Client certificate (default: $DOCKER_CERT_PATH/cert.pem).
    #[arg(long, value_name = "FILE")]
    pub tlscert: Option<PathBuf>,
    /// Client key (default: $DOCKER_CERT_PATH/key.pem).
    #[arg(long, value_name = "FILE")]
    pub tlskey: Option<PathBuf>,
}

impl DockerArgs {
    /// The flags as the client's settings read them, without `--host`.
    pub(crate) fn flags(&self, host: Option<String>) -> HostFlags {
        HostFlags {
            host,
            context: self.context.clone(),
            tls: self.tls,
            tlsverify: self.tlsverify,
            tlscacert: self.tlscacert.clone(),
            tlscert: self.tlscert.clone(),
            tlskey: self.tlskey.clone(),
        }
    }

    /// The one daemon of a single-host command.
    fn client(&self) -> Result<DockerClient> {
        if self.host.len() > 1 {
            anyhow::bail!(
                "--host given {} times: only audit takes several",
                self.host.len()
            );
        }
        let target = resolve(&self.flags(self.host.first().cloned()), &env_setting)?;
        Ok(DockerClient::from_endpoint(target.endpoint)?)
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args).map(|()| ExitCode::SUCCESS),
        Command::Check(args) => check::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Watch(args) => watch::run(args),
        Command::Advise(args) => advise::run(args),
        Command::Enable(args) => enable::run(args, true),
        Command::Disable(args) => enable::run(args, false),
    };
    result.unwrap_or_else(|e| {
        eprintln!("rootfs-guard: {e:#}");
        ExitCode::from(2)
    })
}

/// An environment variable, where unset and empty mean the same (a managed plugin's settable
/// env has a value even when the operator set nothing).
fn env_setting(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `--log-format`, else $ROOTFS_GUARD_LOG_FORMAT, else text.
fn log_format(flag: Option<LogFormat>) -> Result<LogFormat> {
    Ok(match (flag, env_setting("ROOTFS_GUARD_LOG_FORMAT")) {
        (Some(f), _) => f,
        (None, Some(v)) => v.parse().map_err(anyhow::Error::msg)?,
        (None, None) => LogFormat::Text,
    })
}

/// `--policy`, else $ROOTFS_GUARD_POLICY (as `serve` reads it), else the embedded default.
fn policy_setting(flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| env_setting("ROOTFS_GUARD_POLICY").map(PathBuf::from))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn load_policy(path: Option<&PathBuf>) -> Result<Policy> {
    Ok(match path {
        Some(p) => daemon::load_policy_file(p)?,
        None => Policy::default(),
    })
}

/// `--now`: the instant offline commands judge exceptions at (default: the system clock).
fn now_setting(flag: Option<&str>) -> Result<std::time::SystemTime> {
    match flag {
        Some(s) => parse_instant(s).map_err(|e| anyhow::anyhow!("--now: {e}")),
        None => Ok(std::time::SystemTime::now()),
    }
}
