//! `rootfs-guard audit`: judge existing containers through the Engine API.

use super::*;

/// Output of `audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AuditFormat {
    /// Aligned table for people (colour on a terminal), then a summary line.
    #[default]
    Table,
    /// One JSON document for tools (schema in docs/audit-watch-advise.md).
    Json,
    /// Prometheus text exposition for node_exporter's textfile collector (docs/metrics-and-logs.md).
    Prometheus,
    /// One self-contained HTML page for an auditor (no script, no network).
    Html,
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
    #[arg(long, default_value_t = engine::audit::DEFAULT_CONCURRENCY, value_name = "N")]
    pub concurrency: usize,
    /// List the policy's exceptions (id, owner, ticket, expiry, status) with how many
    /// containers each exempts now, after the containers.
    #[arg(long)]
    pub exceptions: bool,
    /// Judge exceptions as at this instant (RFC 3339 date-time or date) instead of now.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Write the report to FILE (atomically: a temp file in the same directory, then renamed)
    /// instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// More daemons to audit in the same report: one endpoint (unix://, tcp://, ssh://) or
    /// context name per line (`#` comments and blank lines skipped), after any --host.
    #[arg(long, value_name = "FILE")]
    pub hosts: Option<PathBuf>,
    /// Hosts audited at once (with several).
    #[arg(long, default_value_t = engine::audit::fleet::DEFAULT_HOST_CONCURRENCY, value_name = "N")]
    pub host_concurrency: usize,
    /// With several hosts, one that cannot be reached makes the exit status 2 (default: it is
    /// reported, and the verdicts of the others decide 0 or 1).
    #[arg(long)]
    pub strict: bool,
    /// Add to every readonly-rootfs violation how to run it read-only (see `advise`): an
    /// `advice` object per violating container in JSON, the advice after the table otherwise.
    #[arg(long)]
    pub advise: bool,
}

pub(super) fn run(args: AuditArgs) -> Result<ExitCode> {
    let policy = load_policy(policy_setting(args.policy).as_ref())?;
    let mut entries = args.docker.host.clone();
    if let Some(file) = &args.hosts {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read --hosts {}", file.display()))?;
        entries.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
        if entries.is_empty() {
            anyhow::bail!("--hosts {}: no host in it", file.display());
        }
    }
    let opts = engine::audit::Options {
        running_only: args.running,
        concurrency: args.concurrency.max(1),
        progress: std::io::stderr().is_terminal(),
        now: now_setting(args.now.as_deref())?,
    };
    let fleet = entries.len() > 1 || args.hosts.is_some();
    if fleet && args.advise {
        anyhow::bail!("--advise takes one host (it runs trial containers there)");
    }
    let report = runtime()?.block_on(async {
        if fleet {
            let targets = entries
                .iter()
                .map(|e| fleet_target(e, &args.docker))
                .collect();
            return Ok(engine::audit::fleet::run_fleet(
                targets,
                &policy,
                &opts,
                args.host_concurrency,
            )
            .await);
        }
        let client = args.docker.client()?;
        let mut report = engine::audit::run(&client, &policy, &opts).await?;
        if args.advise {
            let settings = engine::advise::run::Settings::new(&policy, Vec::new());
            engine::advise::run::advise_violations(&client, &mut report, &settings).await;
        }
        Ok::<_, anyhow::Error>(report)
    })?;
    for e in &report.errors {
        eprintln!("rootfs-guard: {e}");
    }
    let text = match args.format {
        AuditFormat::Json => report.to_json() + "\n",
        AuditFormat::Prometheus => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64();
            engine::audit::prometheus::render(&report, now)
        }
        AuditFormat::Html => engine::audit::html::render(&report),
        AuditFormat::Table => {
            let out = std::io::stdout();
            let colour = out.is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let mut text = report.to_table(colour);
            for advice in report.containers.iter().filter_map(|r| r.advice.as_ref()) {
                text.push('\n');
                text.push_str(&engine::advise::render_text(advice));
            }
            if args.exceptions {
                text.push('\n');
                text.push_str(&engine::audit::exceptions::exceptions_table(
                    &report.exceptions,
                ));
            }
            text
        }
    };
    match &args.output {
        Some(path) => write_atomic(path, text.as_bytes())
            .with_context(|| format!("cannot write --output {}", path.display()))?,
        None => print!("{text}"),
    }
    for h in report.hosts.iter().filter(|h| !h.reachable) {
        eprintln!(
            "rootfs-guard: {}: {}",
            h.host,
            h.error.as_deref().unwrap_or("unreachable")
        );
    }
    Ok(ExitCode::from(report.exit_code_strict(args.strict)))
}

/// One entry of the fleet (endpoint or context name), resolved with the shared TLS flags.
fn fleet_target(entry: &str, docker: &DockerArgs) -> engine::audit::fleet::FleetTarget {
    let resolved = engine::client::resolve_entry(entry, &docker.flags(None), &env_setting)
        .and_then(|t| Ok((t.context.clone(), DockerClient::from_endpoint(t.endpoint)?)));
    match resolved {
        Ok((context, client)) => engine::audit::fleet::FleetTarget {
            entry: entry.to_owned(),
            context,
            client: Ok(client),
        },
        Err(e) => engine::audit::fleet::FleetTarget {
            entry: entry.to_owned(),
            context: None,
            client: Err(e.to_string()),
        },
    }
}

/// Writes `bytes` to `path` so a reader (node_exporter's textfile collector, a web server) sees
/// the old file or the new one, never half of one: a temp file beside it, synced, then renamed.
fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt as _;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o644))?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
