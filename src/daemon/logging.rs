//! Log setup and the one log line per decision.
//!
//! Logs go to stderr (captured by systemd or, for a managed plugin, by dockerd). Lines are short:
//! no request bodies, no environment, nothing from `/auth`, and long fields are cut so a line never
//! approaches the 64 KiB that breaks dockerd's plugin log reader.

use std::str::FromStr;

use tracing::{debug, info, warn};
use tracing_subscriber::EnvFilter;

use crate::authz::decision::{Decision, Verdict};

/// Output format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("unknown log format {other:?} (text or json)")),
        }
    }
}

/// Installs the global subscriber. `RUST_LOG` overrides the default level (`info`).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.compact().try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Cuts a user-controlled field so one log line stays short.
fn short(s: &str) -> &str {
    const MAX: usize = 200;
    if s.len() <= MAX {
        return s;
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Logs a decision: denials and audit-denials as warnings, other decisions on guarded endpoints
/// (creates, starts, ...) at info, everything else at debug.
pub fn log_decision(d: &Decision) {
    // `None` fields are left out of the line.
    let rule = d.rule;
    let reason = d.message.as_deref().map(short);
    let exemption = d.exemption.as_deref();
    let exception = d.exception.as_deref().map(short);
    let image = d.image.as_deref().filter(|s| !s.is_empty()).map(short);
    let name = d.container_name.as_deref().map(short);
    let path = short(&d.path);
    let user = Some(short(&d.user)).filter(|s| !s.is_empty());
    let method = short(&d.method);
    macro_rules! line {
        ($level:ident, $msg:literal) => {
            $level!(
                decision = d.verdict.as_str(),
                rule,
                reason,
                exemption,
                exception,
                method,
                path,
                user,
                image,
                name,
                $msg
            )
        };
    }
    match d.verdict {
        Verdict::Deny => line!(warn, "denied"),
        Verdict::AuditDeny => line!(warn, "would deny (audit mode)"),
        Verdict::Allow if d.guarded => line!(info, "allowed"),
        Verdict::Allow => line!(debug, "allowed"),
    }
}
