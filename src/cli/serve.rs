//! `rootfs-guard serve`: read the settings, assemble the daemon (policy store, limits, the
//! systemd or bound socket, metrics and watch loops) and run it until a signal ends it.

use super::*;

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
    /// With --watch and --metrics-addr: re-audit every container for the audit's gauges
    /// (`rootfs_guard_containers{host,verdict}`, ...) this often, besides on each reconnection
    /// and shortly after container events.
    #[arg(long, value_name = "SECONDS", default_value_t = engine::audit::live::DEFAULT_SWEEP_INTERVAL.as_secs())]
    pub sweep_interval: u64,
    #[command(flatten)]
    pub docker: DockerArgs,
}

pub(super) fn run(mut args: ServeArgs) -> Result<()> {
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
            let policy: engine::watch::PolicySource = Arc::new(move || store_state.policy.current());
            let opts = engine::watch::Options {
                output: engine::watch::Output::Log,
                stop: false,
                stop_grace: 10,
            };
            let observer: Arc<dyn engine::watch::WatchObserver> = state.metrics.clone();
            let metrics = Some(observer);
            if args.metrics_addr.is_some() {
                // The audit's gauges on /metrics, kept current by sweeps.
                let gauges = state.metrics.audit.clone();
                let sink: Arc<dyn engine::audit::live::AuditSink> = gauges.clone();
                tasks.push(tokio::spawn(engine::audit::live::keep_current(
                    client.clone(),
                    policy.clone(),
                    Duration::from_secs(args.sweep_interval.max(1)),
                    gauges.nudge(),
                    sink,
                )));
            }
            tasks.push(tokio::spawn(engine::watch::run(client, policy, opts, metrics)));
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
