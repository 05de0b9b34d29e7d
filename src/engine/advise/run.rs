//! The I/O half of `rootfs-guard advise`: fetch a container's inspect data, its image's config and
//! its writable layer's changes from the Engine API, or run a throwaway trial container of an
//! image to produce them; then hand over to the pure [`crate::engine::advise`].

use std::time::Duration;

use hyper::StatusCode;
use serde_json::{json, Value};

use crate::authz::policy::Policy;
use crate::engine::advise::{self, Advice, ContainerConfig, Hint, Options, Source, TRIAL_LABEL};
use crate::engine::client::{short_id, DockerClient, DockerError};

/// The default policy's allow label, set on trial containers (with [`TRIAL_LABEL`]).
pub const TRIAL_ALLOW_LABEL: (&str, &str) = ("rootfs-guard.allow-writable", "true");

/// What every advice of one run shares.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub hints: Vec<Hint>,
    /// Labels not carried into the proposed command (the policy's allow labels).
    pub drop_labels: Vec<(String, String)>,
}

impl Settings {
    /// Settings that leave `policy`'s allow labels out of proposed commands.
    pub fn new(policy: &Policy, hints: Vec<Hint>) -> Self {
        let mut drop_labels: Vec<(String, String)> = policy
            .allow_labels
            .iter()
            .map(|l| (l.key.clone(), l.value.clone()))
            .collect();
        drop_labels.push((TRIAL_ALLOW_LABEL.0.into(), TRIAL_ALLOW_LABEL.1.into()));
        Settings { hints, drop_labels }
    }

    fn options(&self, target: &str, source: Source) -> Options {
        let mut o = Options::new(target, source);
        o.hints = self.hints.clone();
        o.drop_labels = self.drop_labels.clone();
        o
    }
}

/// Why one target could not be advised on.
#[derive(Debug, thiserror::Error)]
pub enum AdviseError {
    #[error("no such container: {0}")]
    NoSuchContainer(String),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("{0}")]
    Other(String),
}

impl AdviseError {
    /// The daemon could not be reached: no point trying other targets.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, AdviseError::Docker(e) if e.is_unreachable())
    }
}

/// Inspects `id`'s image by the id the container runs (not its possibly retagged name).
async fn image_of(client: &DockerClient, inspect: &Value) -> Result<Option<Value>, DockerError> {
    let image = inspect["Image"]
        .as_str()
        .or_else(|| inspect["Config"]["Image"].as_str());
    match image {
        Some(image) if !image.is_empty() => client.image_inspect_raw(image).await,
        _ => Ok(None),
    }
}

fn advise_from(
    inspect: &Value,
    image: Option<&Value>,
    changes: &Value,
    options: &Options,
) -> Result<Advice, AdviseError> {
    let cfg = ContainerConfig::from_inspect(inspect, image).map_err(AdviseError::Other)?;
    let changes = advise::parse_changes(changes).map_err(AdviseError::Other)?;
    Ok(advise::advise(&cfg, &changes, options))
}

/// Advice for an existing container (name or id).
pub async fn advise_container(
    client: &DockerClient,
    target: &str,
    settings: &Settings,
) -> Result<Advice, AdviseError> {
    let inspect = client
        .inspect_raw(target)
        .await?
        .ok_or_else(|| AdviseError::NoSuchContainer(target.to_owned()))?;
    let id = inspect["Id"].as_str().unwrap_or(target).to_owned();
    let image = image_of(client, &inspect).await?;
    let changes = match client.changes(&id).await {
        Err(DockerError::Api { status, .. }) if status == StatusCode::NOT_FOUND => {
            return Err(AdviseError::NoSuchContainer(target.to_owned()))
        }
        other => other?,
    };
    advise_from(
        &inspect,
        image.as_ref(),
        &changes,
        &settings.options(target, Source::Container),
    )
}

/// A trial run of an image.
#[derive(Debug, Clone)]
pub struct Trial {
    pub image: String,
    /// The command; the image's when empty.
    pub cmd: Vec<String>,
    /// `KEY=VALUE` for the trial only (the advice names the keys, never the values).
    pub env: Vec<String>,
    /// How long it may run before it is stopped.
    pub seconds: u64,
}

/// The body of the trial container's create: writable, labelled so the policy lets it through,
/// not attached to anything, removed by us (not `AutoRemove`: its changes are read after it exits).
pub fn trial_create_body(t: &Trial) -> Value {
    let mut body = json!({
        "Image": t.image,
        "Labels": {TRIAL_ALLOW_LABEL.0: TRIAL_ALLOW_LABEL.1, TRIAL_LABEL: "true"},
        "AttachStdin": false,
        "AttachStdout": false,
        "AttachStderr": false,
        "Env": t.env,
        "HostConfig": {"ReadonlyRootfs": false, "AutoRemove": false},
    });
    if !t.cmd.is_empty() {
        body["Cmd"] = json!(t.cmd);
    }
    body
}

fn trial_refused(image: &str, e: DockerError) -> AdviseError {
    match &e {
        DockerError::Api {
            status, message, ..
        } if *status == StatusCode::NOT_FOUND && message.contains("image") => AdviseError::Other(
            format!("image {image} is not on this daemon: docker pull it first ({message})"),
        ),
        DockerError::Api {
            status, message, ..
        } if *status == StatusCode::FORBIDDEN || message.contains("authorization denied") => {
            AdviseError::Other(format!(
                "the trial container was refused: {message}\n\
                 advise --image creates a writable container labelled {}={} and {TRIAL_LABEL}=true; \
                 the daemon's authorization policy must allow one of these labels (see \
                 docs/audit-watch-advise.md#what-the-operator-must-permit)",
                TRIAL_ALLOW_LABEL.0, TRIAL_ALLOW_LABEL.1
            ))
        }
        _ => AdviseError::Docker(e),
    }
}

/// How a trial run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrialEnd {
    Exited(i64),
    Stopped,
}

/// Runs the trial container for at most `seconds` (or until it exits) and reads what it wrote.
async fn observe(
    client: &DockerClient,
    id: &str,
    seconds: u64,
) -> Result<(Value, Value, TrialEnd), AdviseError> {
    client.start(id).await?;
    let end = match tokio::time::timeout(Duration::from_secs(seconds), client.wait(id)).await {
        Ok(code) => TrialEnd::Exited(code?),
        Err(_) => {
            client.kill(id).await?;
            let _ = tokio::time::timeout(Duration::from_secs(10), client.wait(id)).await;
            TrialEnd::Stopped
        }
    };
    let inspect = client
        .inspect_raw(id)
        .await?
        .ok_or_else(|| AdviseError::Other(format!("trial container {} vanished", short_id(id))))?;
    let changes = client.changes(id).await?;
    Ok((inspect, changes, end))
}

/// Advice for an image from a throwaway trial container, which is removed whatever happens
/// (an error, SIGINT, SIGTERM).
pub async fn advise_image(
    client: &DockerClient,
    trial: &Trial,
    settings: &Settings,
) -> Result<Advice, AdviseError> {
    let name = format!(
        "rootfs-guard-trial-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    );
    let id = client
        .create_container(Some(&name), &trial_create_body(trial))
        .await
        .map_err(|e| trial_refused(&trial.image, e))?;
    let observed = {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())
            .map_err(|e| AdviseError::Other(format!("cannot handle SIGTERM: {e}")))?;
        tokio::select! {
            r = observe(client, &id, trial.seconds) => r,
            _ = tokio::signal::ctrl_c() => Err(AdviseError::Other("interrupted".into())),
            _ = term.recv() => Err(AdviseError::Other("terminated".into())),
        }
    };
    let removed = client.remove(&id).await;
    let (inspect, changes, end) = observed?;
    if let Err(e) = removed {
        return Err(AdviseError::Other(format!(
            "could not remove the trial container {name}: {e} (remove it with docker rm -f {name})"
        )));
    }
    let image = image_of(client, &inspect).await?;
    let mut advice = advise_from(
        &inspect,
        image.as_ref(),
        &changes,
        &settings.options(&trial.image, Source::Trial),
    )?;
    match end {
        TrialEnd::Exited(0) => advice.notes.insert(
            0,
            "the trial container ran to completion (exit status 0)".into(),
        ),
        TrialEnd::Exited(code) => advice.warnings.insert(
            0,
            format!(
                "the trial container failed (exit status {code}): it may not have written \
                 everything it writes in real use; check its command and environment (-e)"
            ),
        ),
        TrialEnd::Stopped => advice.notes.insert(
            0,
            format!(
                "the trial container was stopped after {} s: what it writes later (at shutdown, \
                 on its first request...) is not seen; raise --seconds or advise on a \
                 container that has run for real",
                trial.seconds
            ),
        ),
    }
    Ok(advice)
}

/// `audit --advise`: adds the advice to every `readonly-rootfs` violation of `report`. A
/// container removed since the audit is left without; any other failure is a report error.
pub async fn advise_violations(
    client: &DockerClient,
    report: &mut crate::engine::audit::Report,
    settings: &Settings,
) {
    for row in &mut report.containers {
        if row.rule != Some(crate::authz::rules::assess::READONLY_ROOTFS) {
            continue;
        }
        match advise_container(client, &row.id, settings).await {
            Ok(mut a) => {
                a.target = row.name.clone();
                row.advice = Some(a);
            }
            Err(AdviseError::NoSuchContainer(_)) => {}
            Err(e) => report
                .errors
                .push(format!("advise {}: {e}", short_id(&row.id))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trial_body_is_writable_labelled_and_keeps_the_image_command() {
        let t = Trial {
            image: "bb:latest".into(),
            cmd: vec![],
            env: vec!["K=v".into()],
            seconds: 10,
        };
        let b = trial_create_body(&t);
        assert_eq!(b["HostConfig"]["ReadonlyRootfs"], json!(false));
        assert_eq!(b["Labels"]["rootfs-guard.allow-writable"], "true");
        assert_eq!(b["Labels"]["rootfs-guard.trial"], "true");
        assert!(b.get("Cmd").is_none());
        assert_eq!(b["Env"], json!(["K=v"]));
        let b = trial_create_body(&Trial {
            cmd: vec!["sh".into(), "-c".into(), "x".into()],
            ..t
        });
        assert_eq!(b["Cmd"], json!(["sh", "-c", "x"]));
        // The default policy lets it through.
        let labels: std::collections::BTreeMap<String, String> =
            serde_json::from_value(b["Labels"].clone()).unwrap();
        assert!(Policy::default()
            .exempting_label(
                Some(&labels),
                "bb:latest",
                None,
                std::time::SystemTime::now()
            )
            .is_some());
    }

    #[test]
    fn settings_drop_the_policy_allow_labels() {
        let p = Policy::from_json(
            r#"{"allow_labels":[{"key":"team/writable","value":"yes"}]}"#,
            "p",
        )
        .unwrap();
        let s = Settings::new(&p, vec![]);
        assert_eq!(
            s.drop_labels,
            [
                ("team/writable".to_owned(), "yes".to_owned()),
                ("rootfs-guard.allow-writable".to_owned(), "true".to_owned())
            ]
        );
    }
}
