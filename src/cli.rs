//! The `rootfs-guard` command line: flag definitions (clap) and the small shells that connect
//! them to the library. Nothing here decides anything; see [`crate::decision`].

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine as _;
use clap::{Args, Parser, Subcommand};

use crate::decision::decide;
use crate::logging::{self, LogFormat};
use crate::policy::{Policy, DEFAULT_POLICY_JSON};
use crate::server::{self, Limits, PolicyStore, State};
use crate::wire::AuthZRequest;

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
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Unix socket to listen on (dockerd finds plugin NAME at /run/docker/plugins/NAME.sock).
    /// Ignored when systemd passes a listening socket (LISTEN_FDS).
    #[arg(long, default_value = server::DEFAULT_SOCKET, value_name = "PATH")]
    pub socket: PathBuf,
    /// Policy file (JSON); without it the embedded default applies. SIGHUP reloads it.
    #[arg(long, env = "ROOTFS_GUARD_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "ROOTFS_GUARD_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Largest AuthZ request accepted, in bytes; larger requests are denied unread.
    #[arg(long, default_value_t = 8 << 20, value_name = "BYTES")]
    pub max_request_bytes: usize,
    /// Seconds allowed to receive one request.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub read_timeout: u64,
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
    };
    result.unwrap_or_else(|e| {
        eprintln!("rootfs-guard: {e:#}");
        ExitCode::from(2)
    })
}

fn serve(args: ServeArgs) -> Result<()> {
    logging::init(args.log_format);
    let store =
        PolicyStore::open(args.policy.clone()).context("cannot start without a valid policy")?;
    let policy = store.current();
    let limits = Limits {
        max_request_bytes: args.max_request_bytes,
        read_timeout: Duration::from_secs(args.read_timeout.max(1)),
        ..Limits::default()
    };
    let state = State::new(store, limits);
    // Before the runtime starts its threads: this edits the environment.
    let systemd = server::take_systemd_listener()
        .context("cannot use the socket passed by systemd (LISTEN_FDS)")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let (listener, owned_socket) = match systemd {
            Some(l) => (tokio::net::UnixListener::from_std(l)?, None),
            None => (
                server::bind_socket(&args.socket)
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
        server::run(listener, owned_socket, state).await?;
        Ok(())
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
        request_body,
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
