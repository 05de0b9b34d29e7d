//! `rootfs-guard check`: decide one Docker API request offline, as `serve` would.

use super::*;

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
    /// Decide as at this instant (RFC 3339 date-time or date) instead of now: exceptions expire.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// File with the request body, `-` for stdin; no body when omitted.
    #[arg(value_name = "BODY_FILE|-")]
    pub body: Option<String>,
}

pub(super) fn run(args: CheckArgs) -> Result<ExitCode> {
    let policy = load_policy(args.policy.as_ref())?;
    let now = now_setting(args.now.as_deref())?;
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
    let decision = decide_at(&policy, &request, now);
    println!("{}", serde_json::to_string_pretty(&decision)?);
    Ok(if decision.allow {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
