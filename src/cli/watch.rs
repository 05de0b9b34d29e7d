//! `rootfs-guard watch`: follow Docker events and report violators as they appear.

use super::*;

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

pub(super) fn run(args: WatchArgs) -> Result<ExitCode> {
    logging::init(log_format(args.log_format)?);
    // Like `serve`: SIGHUP re-reads the policy file; a bad file keeps the policy in force.
    let store = Arc::new(
        PolicyStore::open(policy_setting(args.policy))
            .context("cannot start without a valid policy")?,
    );
    let policy = store.current();
    let client = args.docker.client()?;
    let opts = engine::watch::Options {
        output: match args.format {
            WatchFormat::Text => engine::watch::Output::Text,
            WatchFormat::Json => engine::watch::Output::Json,
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
    let source: engine::watch::PolicySource = {
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
            () = engine::watch::run(client, source, opts, None) => {}
            () = reloads => {}
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        Ok(ExitCode::SUCCESS)
    })
}
