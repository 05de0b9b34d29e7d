//! What advise proposes: the `advise --format json` types (the schema is [`SCHEMA`]).

use super::*;

/// The proposal for one container. Its JSON form is the `advise --format json` schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Advice {
    /// What was asked about (container name/id, or the image of `--image`).
    pub target: String,
    pub source: Source,
    /// The container (for `--image`: the trial container, already removed).
    pub container: ContainerRef,
    pub image: String,
    /// Whether the container already runs with a read-only root filesystem.
    pub read_only: bool,
    /// Every written path is covered (by a proposed or an existing mount).
    pub complete: bool,
    /// The proposed mounts, shallowest first.
    pub mounts: Vec<ProposedMount>,
    /// The mounts the container already has (kept in the command).
    pub existing_mounts: Vec<ExistingMount>,
    /// Each written path and what covers it.
    pub paths: Vec<PathCover>,
    /// Things that will break or be lost as proposed; read them.
    pub warnings: Vec<String>,
    /// Things worth knowing (what the command does not reproduce, ...).
    pub notes: Vec<String>,
    /// The `docker run` command as an argument vector (`docker`, `run`, `--read-only`, ...).
    pub docker_run: Vec<String>,
    /// The same command as one shell-quoted line.
    pub docker_run_line: String,
    /// The equivalent compose file (YAML).
    pub compose: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerRef {
    pub id: Option<String>,
    pub name: Option<String>,
}

/// One proposed mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProposedMount {
    #[serde(rename = "type")]
    pub kind: MountKind,
    pub path: String,
    /// The volume name (volumes only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The `docker run` arguments for it, e.g. `["--tmpfs", "/tmp"]`.
    pub flag: Vec<String>,
    /// Which heuristic chose it: `hint`, `image-volume`, `scratch`, `cache`, `data`, `home`,
    /// `home-cache` or `fallback`.
    pub rule: &'static str,
    pub reason: String,
    /// Whether the container created this directory (then the mount hides nothing of the image).
    pub new_dir: bool,
    /// Image paths below the mount the container changed or deleted: the mount hides them.
    pub hidden_image_paths: Vec<String>,
    /// Written paths it covers.
    pub covers: Vec<String>,
}

/// One written path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathCover {
    pub path: String,
    pub change: ChangeKind,
    /// The mount that covers it; absent when none can.
    pub covered_by: Option<Covering>,
    /// Why it cannot be covered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Covering {
    /// The mount point.
    pub path: String,
    /// `tmpfs` or `volume` for proposals; for existing mounts dockerd's type (`bind`, `volume`,
    /// `tmpfs`), or `docker` for the files Docker mounts itself.
    #[serde(rename = "type")]
    pub kind: String,
    /// Proposed here (else the container already has it).
    pub proposed: bool,
}

/// What `advise --format json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Report<'a> {
    pub schema: &'static str,
    pub advice: &'a [Advice],
    pub errors: &'a [TargetError],
}

/// A target that could not be advised on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetError {
    pub target: String,
    pub error: String,
}
