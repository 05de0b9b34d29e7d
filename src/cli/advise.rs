//! `rootfs-guard advise`: from what a container wrote to the mounts that let it run read-only.

use super::*;

/// Output of `advise`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AdviseFormat {
    /// Written paths, mounts, the docker run command and a compose snippet, for people.
    #[default]
    Text,
    /// One JSON document for tools (schema `rootfs-guard/advise/v1`, in docs/audit-watch-advise.md).
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

pub(super) fn run(args: AdviseArgs) -> Result<ExitCode> {
    let policy = load_policy(policy_setting(args.policy).as_ref())?;
    let mut hints = Vec::new();
    for (paths, kind) in [
        (&args.tmpfs, engine::advise::MountKind::Tmpfs),
        (&args.volume, engine::advise::MountKind::Volume),
    ] {
        for p in paths {
            hints.push(engine::advise::Hint::new(p, kind).map_err(anyhow::Error::msg)?);
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
    let settings = engine::advise::run::Settings::new(&policy, hints);
    let client = args.docker.client()?;
    let (advice, errors) = runtime()?.block_on(async {
        let mut advice = Vec::new();
        let mut errors = Vec::new();
        if let Some(image) = &args.image {
            let trial = engine::advise::run::Trial {
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
            match engine::advise::run::advise_image(&client, &trial, &settings).await {
                Ok(a) => advice.push(a),
                Err(e) => errors.push(engine::advise::TargetError {
                    target: image.clone(),
                    error: e.to_string(),
                }),
            }
        }
        for target in &args.containers {
            match engine::advise::run::advise_container(&client, target, &settings).await {
                Ok(a) => advice.push(a),
                Err(e) => {
                    let unreachable = e.is_unreachable();
                    errors.push(engine::advise::TargetError {
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
            let report = engine::advise::Report {
                schema: engine::advise::SCHEMA,
                advice: &advice,
                errors: &errors,
            };
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        AdviseFormat::Text => {
            let text: Vec<String> = advice.iter().map(engine::advise::render_text).collect();
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
