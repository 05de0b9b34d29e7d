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
}

pub(super) fn run(args: ValidateArgs) -> Result<ExitCode> {
    if args.print_default {
        print!("{DEFAULT_POLICY_JSON}");
        return Ok(ExitCode::SUCCESS);
    }
    let Some(file) = args.file else {
        anyhow::bail!("a policy file is required");
    };
    let policy = daemon::load_policy_file(&file)?;
    eprintln!(
        "{}: valid (fingerprint {})",
        file.display(),
        policy.fingerprint()
    );
    println!("{}", serde_json::to_string_pretty(&policy)?);
    Ok(ExitCode::SUCCESS)
}
