//! `rootfs-guard validate`: check a policy file and print it as it will be applied.

use super::*;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Policy file to check; with --print-default, not needed.
    #[arg(value_name = "FILE", required_unless_present = "print_default")]
    pub file: Option<PathBuf>,
    /// Print the embedded default policy and exit.
    #[arg(long)]
    pub print_default: bool,
    /// Warn about exceptions that expire within this many days.
    #[arg(long, value_name = "N", default_value_t = 14)]
    pub warn_days: u32,
    /// Treat expired exceptions as an error (exit 2) instead of a warning.
    #[arg(long)]
    pub strict: bool,
    /// Judge expiry as at this instant (RFC 3339 date-time or date) instead of now.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

pub(super) fn run(args: ValidateArgs) -> Result<ExitCode> {
    if args.print_default {
        print!("{DEFAULT_POLICY_JSON}");
        return Ok(ExitCode::SUCCESS);
    }
    let Some(file) = args.file else {
        anyhow::bail!("a policy file is required");
    };
    let now = now_setting(args.now.as_deref())?;
    let policy = daemon::load_policy_file(&file)?;
    let warn_within = std::time::Duration::from_secs(u64::from(args.warn_days) * 86_400);
    let mut expired = 0;
    for e in &policy.allow_labels {
        let Some(expires) = e.expires else { continue };
        let owner = e
            .owner
            .as_deref()
            .map(|o| format!(", owner {o}"))
            .unwrap_or_default();
        if e.is_expired(now) {
            expired += 1;
            eprintln!(
                "{}: exception `{}` expired on {}{owner}: it exempts nothing; renew or remove it",
                if args.strict { "error" } else { "warning" },
                e.id(),
                expires.display()
            );
        } else if expires.instant() <= now + warn_within {
            let left = expires
                .instant()
                .duration_since(now)
                .unwrap_or_default()
                .as_secs()
                .div_ceil(86_400);
            eprintln!(
                "warning: exception `{}` expires on {} (in {left} day{}){owner}",
                e.id(),
                expires.display(),
                if left == 1 { "" } else { "s" }
            );
        }
    }
    if args.strict && expired > 0 {
        eprintln!(
            "{}: {expired} expired exception(s) (--strict)",
            file.display()
        );
        return Ok(ExitCode::from(2));
    }
    eprintln!(
        "{}: valid (fingerprint {})",
        file.display(),
        policy.fingerprint()
    );
    println!("{}", serde_json::to_string_pretty(&policy)?);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::DEFAULT_POLICY_JSON;

    /// docs/policy.md shows the default policy as `validate --print-default` prints it: a
    /// changed default must change the page too.
    #[test]
    fn the_default_policy_is_documented_verbatim() {
        let page = include_str!("../../docs/policy.md");
        let block = format!("```json\n{DEFAULT_POLICY_JSON}```");
        assert!(
            page.contains(&block),
            "docs/policy.md does not show the default policy verbatim:\n{DEFAULT_POLICY_JSON}"
        );
    }
}
