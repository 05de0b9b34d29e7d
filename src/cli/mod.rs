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

use crate::engine::advise;

use crate::authz::decision::decide;
use crate::authz::policy::{Policy, DEFAULT_POLICY_JSON};
use crate::authz::wire::AuthZRequest;
use crate::daemon::logging::{self, LogFormat};
use crate::daemon::metrics::{self, MetricsAddr};
use crate::daemon::{self, Limits, PolicyStore, State};
use crate::engine::audit;
use crate::engine::client::{DockerClient, DEFAULT_DOCKER_HOST};
use crate::engine::watch;

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
    /// time. Exit status: 0 no violations, 1 violations, 2 error (daemon unreachable, a container
    /// that could not be inspected, a bad policy).
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
}

/// The Docker daemon to talk to.
#[derive(Debug, Args)]
pub struct DockerArgs {
    /// Docker daemon socket; only unix sockets are supported.
    /// Default: $DOCKER_HOST when set and not empty, else unix:///var/run/docker.sock.
    #[arg(long = "host", short = 'H', value_name = "unix:///PATH")]
    pub host: Option<String>,
}

impl DockerArgs {
    fn client(&self) -> Result<DockerClient> {
        let host = self
            .host
            .clone()
            .or_else(|| env_setting("DOCKER_HOST"))
            .unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_owned());
        Ok(DockerClient::new(&host)?)
    }
}

/// Output of `audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AuditFormat {
    /// Aligned table for people (colour on a terminal), then a summary line.
    #[default]
    Table,
    /// One JSON document for tools (schema in the README).
    Json,
}

/// Output of `watch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum WatchFormat {
    /// One text line per violating container.
    #[default]
    Text,
    /// One JSON object per line (the audit's container fields plus event, time_nano, stopped).
    Json,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub docker: DockerArgs,
    /// Policy file (JSON), as given to `serve`. Default: $ROOTFS_GUARD_POLICY when set and not
    /// empty, else the embedded default.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Only running containers (default: all, whatever their state).
    #[arg(long)]
    pub running: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
    pub format: AuditFormat,
    /// Containers inspected at once.
    #[arg(long, default_value_t = audit::DEFAULT_CONCURRENCY, value_name = "N")]
    pub concurrency: usize,
    /// Add to every readonly-rootfs violation how to run it read-only (see `advise`): an
    /// `advice` object per violating container in JSON, the advice after the table otherwise.
    #[arg(long)]
    pub advise: bool,
}

/// Output of `advise`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AdviseFormat {
    /// Written paths, mounts, the docker run command and a compose snippet, for people.
    #[default]
    Text,
    /// One JSON document for tools (schema `rootfs-guard/advise/v1`, in the README).
    Json,
}

#[derive(Debug, Args)]
pub struct AdviseArgs {
    #[command(flatten)]
    pub docker: DockerArgs,
    /// Containers (names or ids) to advise on.
    #[arg(
        value_name = "CONTAINER",
        required_unless_present = "image",
        conflicts_with = "image"
    )]
    pub containers: Vec<String>,
    /// Advise on an image instead, from a throwaway trial container (removed afterwards).
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// With --image: the trial's command (after `--`); the image's own when omitted.
    #[arg(last = true, value_name = "CMD", requires = "image")]
    pub cmd: Vec<String>,
    /// With --image: seconds the trial may run before it is stopped (it may exit sooner).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub seconds: u64,
    /// With --image: an environment variable of the trial. The advice names it (-e KEY), never
    /// its value.
    #[arg(
        long = "env",
        short = 'e',
        value_name = "KEY=VALUE",
        requires = "image"
    )]
    pub env: Vec<String>,
    /// Mount PATH, and everything written below it, as a tmpfs (overrides the heuristics).
    #[arg(long = "tmpfs", value_name = "PATH")]
    pub tmpfs: Vec<String>,
    /// Mount PATH, and everything written below it, as a named volume (overrides the heuristics).
    #[arg(long = "volume", value_name = "PATH")]
    pub volume: Vec<String>,
    /// Policy file: its allow labels are left out of the proposed command (a read-only
    /// container does not need them). Default: $ROOTFS_GUARD_POLICY, else the embedded default.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AdviseFormat::Text)]
    pub format: AdviseFormat,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub docker: DockerArgs,
    /// Policy file (JSON), as given to `serve`; SIGHUP re-reads it. Default: $ROOTFS_GUARD_POLICY
    /// when set and not empty, else the embedded default.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Stop violating containers when they start. A blunt instrument: the workload has already
    /// started and is killed after the grace period; prefer enforcement at create time.
    #[arg(long)]
    pub stop: bool,
    /// Seconds a stopped container gets to exit before it is killed.
    #[arg(long, default_value_t = 10, value_name = "SECONDS", requires = "stop")]
    pub stop_timeout: u32,
    /// Output format of the violator lines on stdout.
    #[arg(long, value_enum, default_value_t = WatchFormat::Text)]
    pub format: WatchFormat,
    /// Format of the log lines on stderr (connection state, errors). Default:
    /// $ROOTFS_GUARD_LOG_FORMAT when set and not empty, else text.
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Unix socket to listen on (dockerd finds plugin NAME at /run/docker/plugins/NAME.sock).
    /// Ignored when systemd passes a listening socket (LISTEN_FDS).
    #[arg(long, default_value = daemon::DEFAULT_SOCKET, value_name = "PATH")]
    pub socket: PathBuf,
    /// Policy file (JSON); without it the embedded default applies. SIGHUP reloads it.
    /// Default: $ROOTFS_GUARD_POLICY when set and not empty.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Log line format. Default: $ROOTFS_GUARD_LOG_FORMAT when set and not empty, else text.
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Largest AuthZ request accepted, in bytes; larger requests are denied unread.
    #[arg(long, default_value_t = 8 << 20, value_name = "BYTES")]
    pub max_request_bytes: usize,
    /// Seconds allowed to receive one request.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub read_timeout: u64,
    /// Serve Prometheus metrics (/metrics) and /health here: IP:PORT (keep it on loopback,
    /// 127.0.0.1:9323) or unix:/path/to/metrics.sock. Never the plugin socket.
    /// Default: $ROOTFS_GUARD_METRICS_ADDR when set and not empty, else no metrics.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<MetricsAddr>,
    /// Also follow Docker events and log violating containers (see `rootfs-guard watch`);
    /// dockerd being down never affects the plugin.
    #[arg(long)]
    pub watch: bool,
    #[command(flatten)]
    pub docker: DockerArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Policy file; the embedded default when omitted.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// HTTP method of the request.
    #[arg(long, default_value = "POST")]
    pub method: String,
    /// Request URI as a client sends it (percent-encoded, optional version prefix and query).
    #[arg(long, default_value = "/containers/create")]
    pub uri: String,
    /// File with the request body, `-` for stdin; no body when omitted.
    #[arg(value_name = "BODY_FILE|-")]
    pub body: Option<String>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Policy file to check; with --print-default, not needed.
    #[arg(value_name = "FILE", required_unless_present = "print_default")]
    pub file: Option<PathBuf>,
    /// Print the embedded default policy and exit.
    #[arg(long)]
    pub print_default: bool,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args).map(|()| ExitCode::SUCCESS),
        Command::Check(args) => check(args),
        Command::Validate(args) => validate(args),
        Command::Audit(args) => run_audit(args),
        Command::Watch(args) => run_watch(args),
        Command::Advise(args) => run_advise(args),
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

fn serve(mut args: ServeArgs) -> Result<()> {
    if args.policy.is_none() {
        args.policy = env_setting("ROOTFS_GUARD_POLICY").map(PathBuf::from);
    }
    if args.metrics_addr.is_none() {
        args.metrics_addr = env_setting("ROOTFS_GUARD_METRICS_ADDR")
            .map(|v| v.parse::<MetricsAddr>())
            .transpose()
            .map_err(anyhow::Error::msg)?;
    }
    logging::init(log_format(args.log_format)?);
    let store =
        PolicyStore::open(args.policy.clone()).context("cannot start without a valid policy")?;
    let policy = store.current();
    let limits = Limits {
        max_request_bytes: args.max_request_bytes,
        read_timeout: Duration::from_secs(args.read_timeout.max(1)),
        ..Limits::default()
    };
    if let Some(MetricsAddr::Unix(path)) = &args.metrics_addr {
        if path == &args.socket {
            anyhow::bail!("--metrics-addr must not be the plugin socket");
        }
    }
    let watcher_client = if args.watch {
        Some(args.docker.client()?)
    } else {
        None
    };
    let state = State::new(store, limits);
    // Before the runtime starts its threads: this edits the environment.
    let systemd = daemon::take_systemd_listener()
        .context("cannot use the socket passed by systemd (LISTEN_FDS)")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let (listener, owned_socket) = match systemd {
            Some(l) => (tokio::net::UnixListener::from_std(l)?, None),
            None => (
                daemon::bind_socket(&args.socket)
                    .with_context(|| format!("cannot listen on {}", args.socket.display()))?,
                Some(args.socket.clone()),
            ),
        };
        tracing::info!(
            socket = %owned_socket.as_deref().map_or("(systemd)".into(), |p| p.display().to_string()),
            policy = %args.policy.as_deref().map_or("(embedded default)".into(), |p| p.display().to_string()),
            mode = %policy.mode,
            fingerprint = %policy.fingerprint(),
            version = env!("CARGO_PKG_VERSION"),
            "listening"
        );
        let mut tasks = Vec::new();
        if let Some(addr) = &args.metrics_addr {
            let listener = addr
                .bind()
                .await
                .with_context(|| format!("cannot serve metrics on {addr}"))?;
            tracing::info!(addr = %addr, "serving /metrics and /health");
            tasks.push(tokio::spawn(metrics::serve(listener, state.metrics.clone())));
        }
        if let Some(client) = watcher_client {
            let store_state = state.clone();
            let policy: watch::PolicySource = Arc::new(move || store_state.policy.current());
            let opts = watch::Options {
                output: watch::Output::Log,
                stop: false,
                stop_grace: 10,
            };
            let observer: Arc<dyn watch::WatchObserver> = state.metrics.clone();
            let metrics = Some(observer);
            tasks.push(tokio::spawn(watch::run(client, policy, opts, metrics)));
        }
        let result = daemon::run(listener, owned_socket, state).await;
        for task in tasks {
            task.abort();
        }
        if let Some(MetricsAddr::Unix(path)) = &args.metrics_addr {
            let _ = std::fs::remove_file(path);
        }
        result?;
        Ok(())
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn run_audit(args: AuditArgs) -> Result<ExitCode> {
    let policy = load_policy(policy_setting(args.policy).as_ref())?;
    let client = args.docker.client()?;
    let opts = audit::Options {
        running_only: args.running,
        concurrency: args.concurrency.max(1),
        progress: std::io::stderr().is_terminal(),
    };
    let report = runtime()?.block_on(async {
        let mut report = audit::run(&client, &policy, &opts).await?;
        if args.advise {
            let settings = advise::run::Settings::new(&policy, Vec::new());
            advise::run::advise_violations(&client, &mut report, &settings).await;
        }
        Ok::<_, anyhow::Error>(report)
    })?;
    for e in &report.errors {
        eprintln!("rootfs-guard: {e}");
    }
    let text = match args.format {
        AuditFormat::Json => report.to_json() + "\n",
        AuditFormat::Table => {
            let out = std::io::stdout();
            let colour = out.is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let mut text = report.to_table(colour);
            for advice in report.containers.iter().filter_map(|r| r.advice.as_ref()) {
                text.push('\n');
                text.push_str(&advise::render_text(advice));
            }
            text
        }
    };
    print!("{text}");
    Ok(ExitCode::from(report.exit_code()))
}

fn run_advise(args: AdviseArgs) -> Result<ExitCode> {
    let policy = load_policy(policy_setting(args.policy).as_ref())?;
    let mut hints = Vec::new();
    for (paths, kind) in [
        (&args.tmpfs, advise::MountKind::Tmpfs),
        (&args.volume, advise::MountKind::Volume),
    ] {
        for p in paths {
            hints.push(advise::Hint::new(p, kind).map_err(anyhow::Error::msg)?);
        }
    }
    if let Some(dup) = hints
        .iter()
        .find(|h| hints.iter().any(|o| o.path == h.path && o.kind != h.kind))
    {
        anyhow::bail!("{} is given as both --tmpfs and --volume", dup.path);
    }
    if args.image.is_none() && !args.env.is_empty() {
        anyhow::bail!("--env sets the environment of an --image trial; it needs --image");
    }
    for e in &args.env {
        if !e.contains('=') || e.starts_with('=') {
            anyhow::bail!("--env {e:?}: KEY=VALUE expected");
        }
    }
    let settings = advise::run::Settings::new(&policy, hints);
    let client = args.docker.client()?;
    let (advice, errors) = runtime()?.block_on(async {
        let mut advice = Vec::new();
        let mut errors = Vec::new();
        if let Some(image) = &args.image {
            let trial = advise::run::Trial {
                image: image.clone(),
                cmd: args.cmd.clone(),
                env: args.env.clone(),
                seconds: args.seconds,
            };
            if std::io::stderr().is_terminal() {
                eprintln!(
                    "running a trial container of {image} for up to {}s ...",
                    args.seconds
                );
            }
            match advise::run::advise_image(&client, &trial, &settings).await {
                Ok(a) => advice.push(a),
                Err(e) => errors.push(advise::TargetError {
                    target: image.clone(),
                    error: e.to_string(),
                }),
            }
        }
        for target in &args.containers {
            match advise::run::advise_container(&client, target, &settings).await {
                Ok(a) => advice.push(a),
                Err(e) => {
                    let unreachable = e.is_unreachable();
                    errors.push(advise::TargetError {
                        target: target.clone(),
                        error: e.to_string(),
                    });
                    if unreachable {
                        break;
                    }
                }
            }
        }
        (advice, errors)
    });
    for e in &errors {
        eprintln!("rootfs-guard: {}: {}", e.target, e.error);
    }
    match args.format {
        AdviseFormat::Json => {
            let report = advise::Report {
                schema: advise::SCHEMA,
                advice: &advice,
                errors: &errors,
            };
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        AdviseFormat::Text => {
            let text: Vec<String> = advice.iter().map(advise::render_text).collect();
            print!("{}", text.join("\n"));
        }
    }
    Ok(ExitCode::from(if !errors.is_empty() {
        2
    } else if advice.iter().any(|a| !a.complete) {
        1
    } else {
        0
    }))
}

fn run_watch(args: WatchArgs) -> Result<ExitCode> {
    logging::init(log_format(args.log_format)?);
    // Like `serve`: SIGHUP re-reads the policy file; a bad file keeps the policy in force.
    let store = Arc::new(
        PolicyStore::open(policy_setting(args.policy))
            .context("cannot start without a valid policy")?,
    );
    let policy = store.current();
    let client = args.docker.client()?;
    let opts = watch::Options {
        output: match args.format {
            WatchFormat::Text => watch::Output::Text,
            WatchFormat::Json => watch::Output::Json,
        },
        stop: args.stop,
        stop_grace: args.stop_timeout,
    };
    tracing::info!(
        host = %client.host(),
        fingerprint = %policy.fingerprint(),
        stop = args.stop,
        "watching container events"
    );
    let source: watch::PolicySource = {
        let store = store.clone();
        Arc::new(move || store.current())
    };
    runtime()?.block_on(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut hup = signal(SignalKind::hangup())?;
        let reloads = async {
            while hup.recv().await.is_some() {
                daemon::reload_logged(&store);
            }
        };
        tokio::select! {
            () = watch::run(client, source, opts, None) => {}
            () = reloads => {}
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn load_policy(path: Option<&PathBuf>) -> Result<Policy> {
    Ok(match path {
        Some(p) => Policy::load(p)?,
        None => Policy::default(),
    })
}

fn check(args: CheckArgs) -> Result<ExitCode> {
    let policy = load_policy(args.policy.as_ref())?;
    let body = match args.body.as_deref() {
        None => None,
        Some("-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("cannot read the body from stdin")?;
            Some(buf)
        }
        Some(path) => Some(std::fs::read(path).with_context(|| format!("cannot read {path}"))?),
    };
    // Built as dockerd would build it for a JSON body sent with a Content-Length.
    let mut headers = std::collections::HashMap::new();
    let request_body = body.map(|b| {
        headers.insert("Content-Type".to_owned(), "application/json".to_owned());
        headers.insert("Content-Length".to_owned(), b.len().to_string());
        base64::engine::general_purpose::STANDARD.encode(b)
    });
    if request_body.is_none() && args.method == "POST" {
        headers.insert("Content-Length".to_owned(), "0".to_owned());
    }
    let request = AuthZRequest {
        request_method: args.method,
        request_uri: args.uri,
        request_body: request_body.map(Into::into),
        request_headers: Some(headers),
        ..AuthZRequest::default()
    };
    let decision = decide(&policy, &request);
    println!("{}", serde_json::to_string_pretty(&decision)?);
    Ok(if decision.allow {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn validate(args: ValidateArgs) -> Result<ExitCode> {
    if args.print_default {
        print!("{DEFAULT_POLICY_JSON}");
        return Ok(ExitCode::SUCCESS);
    }
    let Some(file) = args.file else {
        anyhow::bail!("a policy file is required");
    };
    let policy = Policy::load(&file)?;
    eprintln!(
        "{}: valid (fingerprint {})",
        file.display(),
        policy.fingerprint()
    );
    println!("{}", serde_json::to_string_pretty(&policy)?);
    Ok(ExitCode::SUCCESS)
}
