//! `rootfs-guard advise`: how to run a container read-only. Pure: inspect data and the
//! container's filesystem changes in, a proposal out — no I/O, so every heuristic is table-tested.
//!
//! # From changes to mounts
//!
//! dockerd's `GET /containers/{id}/changes` lists every path of the container's writable layer:
//! added (`A`), modified (`C`) and deleted (`D`), parent directories included. Under `--read-only`
//! each of those writes fails unless a mount covers it. The *written paths* are the entries with
//! nothing listed below them (the directories above them are covered with them). For each:
//!
//! 1. Already covered — under one of the container's mounts, or a file Docker manages itself
//!    (`/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`, `/proc`, `/sys`, `/dev`): nothing to do.
//! 2. Otherwise a mount point and a kind are chosen by the first of these that applies
//!    ([`RULES`], documented in the README):
//!    - a hint from the command line (`--tmpfs PATH` / `--volume PATH`): that kind, at PATH, for
//!      everything at or below PATH (the deepest hint wins);
//!    - a `VOLUME` the image declares: a named volume there;
//!    - a well-known location: scratch (`/tmp`, `/var/tmp`, `/run`, `/var/run`, `/var/lock`,
//!      `/var/log`, `/var/cache/*`, `~/.cache`) → tmpfs; data (`/var/lib/*`, `/var/spool/*`,
//!      `/data`, `/srv`, home directories) → named volume. For the `/var/cache/*`-style entries the
//!      mount goes on the parent (`/var/cache`) when the container created it (it hides nothing and
//!      covers siblings too), else on the application's own directory (`/var/cache/app`);
//!    - anything else: the shallowest directory the container *added* (mounting a new directory
//!      hides nothing from the image), else the written path's parent directory, as a named volume
//!      (a tmpfs when that directory is called `tmp`, `temp`, `cache`, `.cache` or `run`). Shared
//!      system directories (`/etc`, `/usr`, `/var`, ...) that exist in the image are never proposed
//!      by this fallback: such a path is reported as not coverable, with what to do instead.
//! 3. Mounts nested in a proposed mount of the same kind are merged into it (fewest mounts).
//!
//! Where a mount would hide image content (it goes on a directory that exists in the image, and
//! the container changed or deleted image files below it), the proposal says so. A written path
//! with nothing below it is taken to be a file (the changes API does not say), so it is covered
//! by a mount on a directory above it, never on itself — except a well-known directory itself
//! (`/tmp`, `/data`, ...), which is mounted as such.
//!
//! # What is rendered
//!
//! The complete `docker run --read-only ...` command (image, command, and the settings the inspect
//! data shows: name, user, working directory, entrypoint, restart policy, network, ports,
//! environment *names*, labels, existing mounts) with the proposed mounts, the equivalent compose
//! service, and each written path with the mount that covers it. Environment values are never
//! read into this module: the command says `-e KEY` (the value then comes from the caller's
//! environment) because values may hold secrets.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

/// `schema` of the JSON `advise --format json` prints; bumped on incompatible changes.
pub const SCHEMA: &str = "rootfs-guard/advise/v1";
/// Label set on the throwaway container of `advise --image` (besides the allow label).
pub const TRIAL_LABEL: &str = "rootfs-guard.trial";

// ------------------------------------------------------------------------------------------------
// Input
// ------------------------------------------------------------------------------------------------

/// What happened to a path in the container's writable layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// `Kind: 0`: the path exists in the image and was changed (for a directory: its entries).
    Modified,
    /// `Kind: 1`: the path is new.
    Added,
    /// `Kind: 2`: the path exists in the image and was deleted.
    Deleted,
}

impl ChangeKind {
    /// The API's numeric kind.
    pub fn from_api(kind: i64) -> Option<Self> {
        match kind {
            0 => Some(ChangeKind::Modified),
            1 => Some(ChangeKind::Added),
            2 => Some(ChangeKind::Deleted),
            _ => None,
        }
    }

    /// `docker diff`'s letter.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Modified => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        }
    }
}

/// One entry of `GET /containers/{id}/changes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
}

impl Change {
    pub fn new(path: &str, kind: ChangeKind) -> Self {
        Change {
            path: path.to_owned(),
            kind,
        }
    }
}

/// Reads the body of `GET /containers/{id}/changes` (`null` when there are none).
pub fn parse_changes(v: &Value) -> Result<Vec<Change>, String> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => return Err(format!("changes: expected a list, got {other}")),
    };
    items
        .iter()
        .map(|item| {
            let path = item["Path"]
                .as_str()
                .ok_or_else(|| format!("changes: entry without a Path: {item}"))?;
            let kind = item["Kind"]
                .as_i64()
                .and_then(ChangeKind::from_api)
                .ok_or_else(|| format!("changes: entry with an unknown Kind: {item}"))?;
            Ok(Change::new(&clean_path(path), kind))
        })
        .collect()
}

/// The kind of mount proposed for written paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// `--tmpfs PATH`: memory-backed, empty at every start.
    Tmpfs,
    /// `-v NAME:PATH`: a named volume, kept across restarts and re-creation.
    Volume,
}

impl MountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Tmpfs => "tmpfs",
            MountKind::Volume => "volume",
        }
    }
}

/// A user's hint: everything written at or below `path` goes on a mount of `kind` at `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub path: String,
    pub kind: MountKind,
}

impl Hint {
    /// A hint for `path` (must be absolute and not `/`).
    pub fn new(path: &str, kind: MountKind) -> Result<Self, String> {
        let path = clean_path(path);
        if !path.starts_with('/') || path == "/" {
            return Err(format!(
                "--{} {path:?}: an absolute path other than / is needed",
                kind.as_str()
            ));
        }
        Ok(Hint { path, kind })
    }
}

/// A mount the container already has (from inspect's `Mounts` and `HostConfig.Tmpfs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExistingMount {
    /// `bind`, `volume`, `tmpfs` (or another type dockerd reports).
    #[serde(rename = "type")]
    pub kind: String,
    /// The host path of a bind, the name of a volume; absent for tmpfs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub destination: String,
    pub read_only: bool,
    /// A volume Docker named itself (64 hex digits), e.g. for an image's `VOLUME`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub anonymous: bool,
    /// The `-v` mode of a bind (`ro`, `z`, `ro,Z`...), the options of a `--tmpfs`.
    #[serde(skip)]
    pub options: String,
}

/// The container settings the proposal and the command line are made from. Holds environment
/// variable *names* only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerConfig {
    pub id: Option<String>,
    /// Without dockerd's leading `/`.
    pub name: Option<String>,
    /// As the creator named it (`Config.Image`).
    pub image: String,
    /// `Some` when it differs from the image's (an empty list: cleared with `--entrypoint ""`).
    pub entrypoint: Option<Vec<String>>,
    /// `Some` when it differs from the image's, or the entrypoint was overridden.
    pub cmd: Option<Vec<String>>,
    /// `Some` when it differs from the image's.
    pub user: Option<String>,
    /// The user the process runs as (container's, else image's); `""` is root.
    pub effective_user: String,
    pub working_dir: Option<String>,
    /// Names of the variables set on the container beyond the image's own `Env`.
    pub env_keys: Vec<String>,
    /// `-p` values (`127.0.0.1:8080:80`, `90/udp`).
    pub ports: Vec<String>,
    /// `--expose` values not implied by the image or by `-p`.
    pub expose: Vec<String>,
    pub publish_all: bool,
    /// Labels beyond the image's.
    pub labels: BTreeMap<String, String>,
    pub mounts: Vec<ExistingMount>,
    /// The image's declared `VOLUME`s.
    pub image_volumes: Vec<String>,
    /// `--restart` value, when not `no`.
    pub restart: Option<String>,
    /// `--network` value, when not the default.
    pub network: Option<String>,
    pub detach: bool,
    pub interactive: bool,
    pub tty: bool,
    pub auto_remove: bool,
    pub read_only: bool,
    /// Whether the container has ever been started (else it cannot have written anything).
    pub started: bool,
}

fn strings(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Array(items) => Some(
            items
                .iter()
                .map(|i| i.as_str().unwrap_or_default().to_owned())
                .collect(),
        ),
        // Very old API versions stored a single string.
        Value::String(s) => Some(vec![s.clone()]),
        _ => None,
    }
}

fn str_field(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn object_keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn is_anonymous_volume_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

impl ContainerConfig {
    /// Reads `GET /containers/{id}/json` and, when known, `GET /images/{image}/json` (to tell the
    /// container's own settings from the image's defaults). Environment values are dropped here.
    pub fn from_inspect(container: &Value, image: Option<&Value>) -> Result<Self, String> {
        let config = &container["Config"];
        let host = &container["HostConfig"];
        let image_ref = config["Image"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or("inspect data without Config.Image")?
            .to_owned();
        let null = Value::Null;
        let icfg = image.map_or(&null, |i| &i["Config"]);
        let known = image.is_some();

        let ep = strings(&config["Entrypoint"]).unwrap_or_default();
        let image_ep = strings(&icfg["Entrypoint"]).unwrap_or_default();
        let entrypoint = if known {
            (ep != image_ep).then_some(ep)
        } else {
            (!ep.is_empty()).then_some(ep)
        };
        let cmd_now = strings(&config["Cmd"]).unwrap_or_default();
        let image_cmd = strings(&icfg["Cmd"]).unwrap_or_default();
        let cmd = if entrypoint.is_some() || !known || cmd_now != image_cmd {
            (!cmd_now.is_empty() || known).then_some(cmd_now)
        } else {
            None
        };
        let cmd = cmd.filter(|c| !c.is_empty() || entrypoint.is_none());

        let differs = |field: &str| -> Option<String> {
            let mine = str_field(&config[field]);
            let theirs = str_field(&icfg[field]);
            (!mine.is_empty() && mine != theirs).then_some(mine)
        };
        let effective_user = str_field(&config["User"]);

        // Environment: names only, and only of what the image does not set itself (its PATH...).
        let image_env: BTreeSet<&str> = icfg["Env"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut env_keys: Vec<String> = Vec::new();
        for entry in config["Env"].as_array().into_iter().flatten() {
            let Some(entry) = entry.as_str() else {
                continue;
            };
            if image_env.contains(entry) {
                continue;
            }
            let key = entry.split_once('=').map_or(entry, |(k, _)| k);
            if !key.is_empty() && !env_keys.iter().any(|k| k == key) {
                env_keys.push(key.to_owned());
            }
        }

        let mut ports = Vec::new();
        let mut published: BTreeSet<String> = BTreeSet::new();
        if let Some(bindings) = host["PortBindings"].as_object() {
            for (port, list) in bindings {
                published.insert(port.clone());
                let container_port = port.strip_suffix("/tcp").unwrap_or(port);
                let list = list.as_array().cloned().unwrap_or_default();
                if list.is_empty() {
                    ports.push(container_port.to_owned());
                }
                for b in list {
                    let ip = str_field(&b["HostIp"]);
                    let hp = str_field(&b["HostPort"]);
                    let ip = if ip.contains(':') {
                        format!("[{ip}]")
                    } else {
                        ip
                    };
                    ports.push(match (ip.is_empty(), hp.is_empty()) {
                        (true, true) => container_port.to_owned(),
                        (true, false) => format!("{hp}:{container_port}"),
                        (false, _) => format!("{ip}:{hp}:{container_port}"),
                    });
                }
            }
        }
        let image_exposed: BTreeSet<String> =
            object_keys(&icfg["ExposedPorts"]).into_iter().collect();
        let expose = object_keys(&config["ExposedPorts"])
            .into_iter()
            .filter(|p| !published.contains(p) && !image_exposed.contains(p))
            .collect();

        let image_labels = icfg["Labels"].as_object();
        let labels = config["Labels"]
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, v)| image_labels.and_then(|il| il.get(*k)) != Some(*v))
                    .map(|(k, v)| (k.clone(), str_field(v)))
                    .collect()
            })
            .unwrap_or_default();

        let mut mounts: Vec<ExistingMount> = Vec::new();
        for m in container["Mounts"].as_array().into_iter().flatten() {
            let kind = str_field(&m["Type"]);
            let destination = clean_path(&str_field(&m["Destination"]));
            if destination.is_empty() {
                continue;
            }
            let name = str_field(&m["Name"]);
            let source = match kind.as_str() {
                "volume" => Some(name.clone()),
                "bind" => Some(str_field(&m["Source"])),
                _ => None,
            }
            .filter(|s| !s.is_empty());
            mounts.push(ExistingMount {
                anonymous: kind == "volume" && is_anonymous_volume_name(&name),
                kind: kind.clone(),
                source,
                destination,
                read_only: m["RW"] == Value::Bool(false),
                options: if kind == "bind" {
                    str_field(&m["Mode"])
                } else {
                    String::new()
                },
            });
        }
        if let Some(tmpfs) = host["Tmpfs"].as_object() {
            for (dest, opts) in tmpfs {
                let destination = clean_path(dest);
                if mounts.iter().any(|m| m.destination == destination) {
                    continue;
                }
                mounts.push(ExistingMount {
                    kind: "tmpfs".into(),
                    source: None,
                    destination,
                    read_only: false,
                    anonymous: false,
                    options: str_field(opts),
                });
            }
        }
        mounts.sort_by(|a, b| a.destination.cmp(&b.destination));

        let image_volumes = {
            let declared = if known {
                &icfg["Volumes"]
            } else {
                &config["Volumes"]
            };
            let mut v: Vec<String> = object_keys(declared)
                .iter()
                .map(|p| clean_path(p))
                .collect();
            v.sort();
            v
        };

        let restart = {
            let name = str_field(&host["RestartPolicy"]["Name"]);
            let max = host["RestartPolicy"]["MaximumRetryCount"]
                .as_i64()
                .unwrap_or(0);
            match name.as_str() {
                "" | "no" => None,
                "on-failure" if max > 0 => Some(format!("on-failure:{max}")),
                _ => Some(name),
            }
        };
        let network = Some(str_field(&host["NetworkMode"]))
            .filter(|n| !matches!(n.as_str(), "" | "default" | "bridge"));
        let attached = config["AttachStdout"] == Value::Bool(true)
            || config["AttachStderr"] == Value::Bool(true);
        let started_at = str_field(&container["State"]["StartedAt"]);

        Ok(ContainerConfig {
            id: container["Id"].as_str().map(str::to_owned),
            name: container["Name"]
                .as_str()
                .map(|n| n.trim_start_matches('/').to_owned())
                .filter(|n| !n.is_empty()),
            image: image_ref,
            entrypoint,
            cmd,
            user: differs("User"),
            effective_user,
            working_dir: differs("WorkingDir"),
            env_keys,
            ports,
            expose,
            publish_all: host["PublishAllPorts"] == Value::Bool(true),
            labels,
            mounts,
            image_volumes,
            restart,
            network,
            detach: !attached,
            interactive: config["OpenStdin"] == Value::Bool(true),
            tty: config["Tty"] == Value::Bool(true),
            auto_remove: host["AutoRemove"] == Value::Bool(true),
            read_only: host["ReadonlyRootfs"] == Value::Bool(true),
            started: !started_at.is_empty() && !started_at.starts_with("0001-01-01"),
        })
    }
}

/// Where the inspect data came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// An existing container (`advise CONTAINER`).
    Container,
    /// A throwaway trial container of an image (`advise --image`): the command is rendered for the
    /// image, without the trial's name, labels and detach settings.
    Trial,
}

/// How to advise.
#[derive(Debug, Clone)]
pub struct Options {
    pub hints: Vec<Hint>,
    /// Labels (`key`, `value`) not carried into the command: allow labels (a read-only container
    /// does not need them) and the trial label.
    pub drop_labels: Vec<(String, String)>,
    pub source: Source,
    /// What the user asked about (container name or id, or image), for reports.
    pub target: String,
}

impl Options {
    pub fn new(target: &str, source: Source) -> Self {
        Options {
            hints: Vec::new(),
            drop_labels: Vec::new(),
            source,
            target: target.to_owned(),
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Output
// ------------------------------------------------------------------------------------------------

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

// ------------------------------------------------------------------------------------------------
// Heuristics
// ------------------------------------------------------------------------------------------------

/// How a well-known location is mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The directory itself (`/tmp`).
    Whole,
    /// The directory when the container created it, else its child the path is in
    /// (`/var/cache` or `/var/cache/app`).
    Child,
}

/// A well-known location.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub root: &'static str,
    pub scope: Scope,
    pub kind: MountKind,
    /// `rule` in the output.
    pub name: &'static str,
    pub why: &'static str,
}

/// Well-known locations, in the order they are tried (homes, `~/.cache`, hints and declared
/// volumes are handled in code around this table).
pub const RULES: &[Rule] = &[
    Rule {
        root: "/tmp",
        scope: Scope::Whole,
        kind: MountKind::Tmpfs,
        name: "scratch",
        why: "scratch space",
    },
    Rule {
        root: "/var/tmp",
        scope: Scope::Whole,
        kind: MountKind::Tmpfs,
        name: "scratch",
        why: "scratch space",
    },
    Rule {
        root: "/run",
        scope: Scope::Whole,
        kind: MountKind::Tmpfs,
        name: "scratch",
        why: "runtime state (pid files, sockets)",
    },
    Rule {
        root: "/var/run",
        scope: Scope::Whole,
        kind: MountKind::Tmpfs,
        name: "scratch",
        why: "runtime state (pid files, sockets)",
    },
    Rule {
        root: "/var/lock",
        scope: Scope::Whole,
        kind: MountKind::Tmpfs,
        name: "scratch",
        why: "lock files",
    },
    Rule {
        root: "/var/log",
        scope: Scope::Whole,
        kind: MountKind::Tmpfs,
        name: "scratch",
        why: "log files (lost at restart: log to stdout, or --volume /var/log to keep them)",
    },
    Rule {
        root: "/var/cache",
        scope: Scope::Child,
        kind: MountKind::Tmpfs,
        name: "cache",
        why: "cache",
    },
    Rule {
        root: "/var/lib",
        scope: Scope::Child,
        kind: MountKind::Volume,
        name: "data",
        why: "application state",
    },
    Rule {
        root: "/var/spool",
        scope: Scope::Child,
        kind: MountKind::Volume,
        name: "data",
        why: "queued data",
    },
    Rule {
        root: "/data",
        scope: Scope::Whole,
        kind: MountKind::Volume,
        name: "data",
        why: "data",
    },
    Rule {
        root: "/srv",
        scope: Scope::Whole,
        kind: MountKind::Volume,
        name: "data",
        why: "served data",
    },
];

/// Paths Docker mounts into every container itself: writes there never reach the root filesystem.
pub const DOCKER_MANAGED: &[&str] = &[
    "/proc",
    "/sys",
    "/dev",
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/.dockerenv",
];

/// Directories the fallback never mounts whole when they exist in the image: hiding them breaks
/// the image.
pub const SHARED_DIRS: &[&str] = &[
    "/bin",
    "/boot",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/opt",
    "/root",
    "/sbin",
    "/usr",
    "/usr/bin",
    "/usr/lib",
    "/usr/local",
    "/usr/local/bin",
    "/usr/local/lib",
    "/usr/sbin",
    "/usr/share",
    "/var",
    "/var/cache",
    "/var/lib",
    "/var/spool",
];

/// Directory names the fallback mounts as tmpfs rather than a volume.
pub const SCRATCH_NAMES: &[&str] = &["tmp", "temp", ".tmp", "cache", ".cache", "run"];

/// `path` is `dir` or below it.
pub fn is_under(path: &str, dir: &str) -> bool {
    dir == "/"
        || path == dir
        || (path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/')
}

fn is_strictly_under(path: &str, dir: &str) -> bool {
    path != dir && is_under(path, dir)
}

/// The parent directory: `/a/b` → `/a`, `/a` → `/`, `/` → `None`.
fn parent(path: &str) -> Option<&str> {
    match path.rfind('/') {
        Some(0) if path.len() > 1 => Some("/"),
        Some(0) | None => None,
        Some(i) => Some(&path[..i]),
    }
}

/// Proper ancestors of `path` other than `/`, shallowest first.
fn ancestors(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut p = path;
    while let Some(up) = parent(p) {
        if up == "/" {
            break;
        }
        out.push(up);
        p = up;
    }
    out.reverse();
    out
}

/// `/a//b/./c/` → `/a/b/c` (no `..` resolution: dockerd sends clean paths); relative stays relative.
pub fn clean_path(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let root = if path.starts_with('/') { "/" } else { "" };
    format!("{root}{}", parts.join("/"))
}

/// A home directory `path` is in: `/root`, or `/home/USER`.
fn home_of(path: &str) -> Option<String> {
    if is_under(path, "/root") {
        return Some("/root".into());
    }
    let rest = path.strip_prefix("/home/")?;
    let user = rest.split('/').next().filter(|u| !u.is_empty())?;
    Some(format!("/home/{user}"))
}

fn is_root_user(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or_default();
    name.is_empty() || name == "root" || name == "0"
}

/// Why a written path gets the mount it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Choice {
    point: String,
    kind: MountKind,
    rule: &'static str,
    reason: String,
    /// Lower wins when two choices name the same mount point.
    priority: u8,
}

struct Layer<'a> {
    kinds: BTreeMap<&'a str, ChangeKind>,
}

impl Layer<'_> {
    fn added(&self, dir: &str) -> bool {
        self.kinds.get(dir) == Some(&ChangeKind::Added)
    }
}

fn choose(
    leaf: &str,
    change: ChangeKind,
    layer: &Layer<'_>,
    cfg: &ContainerConfig,
    hints: &[Hint],
) -> Result<Choice, String> {
    if let Some(h) = hints
        .iter()
        .filter(|h| is_under(leaf, &h.path))
        .max_by_key(|h| h.path.len())
    {
        return Ok(Choice {
            point: h.path.clone(),
            kind: h.kind,
            rule: "hint",
            reason: format!("your --{} {} hint", h.kind.as_str(), h.path),
            priority: 0,
        });
    }
    if let Some(v) = cfg
        .image_volumes
        .iter()
        .filter(|v| is_under(leaf, v))
        .max_by_key(|v| v.len())
    {
        return Ok(Choice {
            point: v.clone(),
            kind: MountKind::Volume,
            rule: "image-volume",
            reason: "the image declares it a VOLUME".into(),
            priority: 1,
        });
    }
    if let Some(home) = home_of(leaf) {
        let cache = format!("{home}/.cache");
        if is_under(leaf, &cache) {
            return Ok(Choice {
                point: cache,
                kind: MountKind::Tmpfs,
                rule: "home-cache",
                reason: "cache in a home directory".into(),
                priority: 2,
            });
        }
    }
    for rule in RULES {
        if !is_under(leaf, rule.root) {
            continue;
        }
        let (point, why) = match rule.scope {
            Scope::Whole => (rule.root.to_owned(), rule.why.to_owned()),
            Scope::Child if leaf == rule.root || layer.added(rule.root) => (
                rule.root.to_owned(),
                format!("{} (the container created {})", rule.why, rule.root),
            ),
            Scope::Child => {
                let rest = &leaf[rule.root.len() + 1..];
                let first = rest.split('/').next().unwrap_or(rest);
                let child = format!("{}/{first}", rule.root);
                if child == leaf {
                    // A file directly in the well-known directory.
                    (
                        rule.root.to_owned(),
                        format!("{} (a file directly in {})", rule.why, rule.root),
                    )
                } else {
                    (child, rule.why.to_owned())
                }
            }
        };
        return Ok(Choice {
            point,
            kind: rule.kind,
            rule: rule.name,
            reason: why,
            priority: 2,
        });
    }
    if let Some(home) = home_of(leaf) {
        return Ok(Choice {
            point: home,
            kind: MountKind::Volume,
            rule: "home",
            reason: "a home directory".into(),
            priority: 2,
        });
    }
    // Fallback: the shallowest added directory, else the parent.
    let ups = ancestors(leaf);
    let shared = |d: &str| SHARED_DIRS.contains(&d);
    let point = ups
        .iter()
        .find(|d| layer.added(d) && !shared(d))
        .map(|d| ((*d).to_owned(), true))
        .or_else(|| {
            ups.last()
                .filter(|d| !shared(d) || layer.added(d))
                .map(|d| ((*d).to_owned(), layer.added(d)))
        });
    let Some((point, new)) = point else {
        let where_ = match parent(leaf) {
            Some("/") | None => "directly in /".to_owned(),
            Some(dir) => format!("in {dir}, a system directory of the image"),
        };
        let verb = match change {
            ChangeKind::Added => "written",
            ChangeKind::Modified => "changed",
            ChangeKind::Deleted => "deleted",
        };
        let instead = if change == ChangeKind::Deleted {
            "Change the application not to delete it".to_owned()
        } else {
            format!(
                "Change the application to write elsewhere, or bind-mount the single file \
                 (-v ./FILE:{leaf})"
            )
        };
        return Err(format!(
            "{verb} {where_}: no mount can cover it without hiding the image's files. \
             {instead}, or force a mount with --tmpfs DIR / --volume DIR"
        ));
    };
    let last = point.rsplit('/').next().unwrap_or_default();
    let kind = if SCRATCH_NAMES.contains(&last.to_ascii_lowercase().as_str()) {
        MountKind::Tmpfs
    } else {
        MountKind::Volume
    };
    let reason = match (new, kind) {
        (true, MountKind::Tmpfs) => "a directory the container created, named like scratch space",
        (true, MountKind::Volume) => {
            "the shallowest directory the container created (kept as a volume: use --tmpfs if it \
             is scratch)"
        }
        (false, MountKind::Tmpfs) => "the directory it is written in, named like scratch space",
        (false, MountKind::Volume) => {
            "the directory it is written in (kept as a volume: use --tmpfs if it is scratch)"
        }
    };
    Ok(Choice {
        point,
        kind,
        rule: "fallback",
        reason: reason.into(),
        priority: 3,
    })
}

/// The mount of the container that covers `path`, if any (the deepest one).
fn existing_cover(path: &str, cfg: &ContainerConfig) -> Option<Covering> {
    if let Some(m) = cfg
        .mounts
        .iter()
        .filter(|m| is_under(path, &m.destination))
        .max_by_key(|m| m.destination.len())
    {
        return Some(Covering {
            path: m.destination.clone(),
            kind: m.kind.clone(),
            proposed: false,
        });
    }
    DOCKER_MANAGED
        .iter()
        .find(|d| is_under(path, d))
        .map(|d| Covering {
            path: (*d).to_owned(),
            kind: "docker".into(),
            proposed: false,
        })
}

/// A Docker volume name for `path` of `base`: `[A-Za-z0-9][A-Za-z0-9_.-]+`.
pub fn volume_name(base: &str, path: &str) -> String {
    let raw = format!("{base}-{}", path.trim_start_matches('/').replace('/', "-"));
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
            c
        } else {
            '-'
        };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    let out = out
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .trim_end_matches('-')
        .to_owned();
    if out.len() < 2 {
        format!("vol-{out}")
    } else {
        out
    }
}

/// A short name for an image reference: `registry:5000/team/app:1.2@sha256:...` → `app`.
pub fn image_short_name(image: &str) -> String {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
    let name = last.split(':').next().unwrap_or(last);
    if name.is_empty() {
        "app".into()
    } else {
        name.to_owned()
    }
}

/// Proposes mounts for `changes` of the container `cfg`, and renders the result.
pub fn advise(cfg: &ContainerConfig, changes: &[Change], opts: &Options) -> Advice {
    let changes: Vec<Change> = changes
        .iter()
        .map(|c| Change::new(&clean_path(&c.path), c.kind))
        .filter(|c| c.path.starts_with('/') && c.path != "/")
        .collect();
    let layer = Layer {
        kinds: changes.iter().map(|c| (c.path.as_str(), c.kind)).collect(),
    };
    // Written paths: nothing listed below them (linear in the number of entries times depth:
    // a package install writes tens of thousands).
    let with_entries_below: BTreeSet<&str> =
        layer.kinds.keys().flat_map(|p| ancestors(p)).collect();
    let leaves: Vec<(&str, ChangeKind)> = layer
        .kinds
        .iter()
        .filter(|(p, _)| !with_entries_below.contains(*p))
        .map(|(p, k)| (*p, *k))
        .collect();

    let mut warnings = Vec::new();
    let mut notes = Vec::new();
    let mut paths: Vec<PathCover> = Vec::new();
    let mut choices: Vec<(&str, Choice)> = Vec::new();
    for &(leaf, kind) in &leaves {
        if let Some(cover) = existing_cover(leaf, cfg) {
            paths.push(PathCover {
                path: leaf.to_owned(),
                change: kind,
                covered_by: Some(cover),
                problem: None,
            });
            continue;
        }
        match choose(leaf, kind, &layer, cfg, &opts.hints) {
            Ok(choice) => choices.push((leaf, choice)),
            Err(problem) => paths.push(PathCover {
                path: leaf.to_owned(),
                change: kind,
                covered_by: None,
                problem: Some(problem),
            }),
        }
    }

    // One proposal per mount point (the highest-priority choice decides its kind).
    let mut points: BTreeMap<String, Choice> = BTreeMap::new();
    for (_, c) in &choices {
        match points.get(&c.point) {
            Some(prev) if prev.priority <= c.priority => {}
            _ => {
                points.insert(c.point.clone(), c.clone());
            }
        }
    }
    // Fewest mounts: one nested in a proposal of the same kind goes, unless the user asked for it.
    let snapshot = points.clone();
    points.retain(|p, c| {
        c.rule == "hint"
            || !snapshot
                .iter()
                .any(|(q, d)| is_strictly_under(p, q) && d.kind == c.kind)
    });

    let base = match opts.source {
        Source::Container => cfg
            .name
            .clone()
            .unwrap_or_else(|| image_short_name(&cfg.image)),
        Source::Trial => image_short_name(&cfg.image),
    };
    let mut taken: BTreeSet<String> = cfg
        .mounts
        .iter()
        .filter_map(|m| m.source.clone().filter(|_| m.kind == "volume"))
        .collect();
    let mut mounts: Vec<ProposedMount> = Vec::new();
    for (point, c) in &points {
        let name = (c.kind == MountKind::Volume).then(|| {
            let want = volume_name(&base, point);
            let mut name = want.clone();
            let mut n = 2;
            while taken.contains(&name) {
                name = format!("{want}-{n}");
                n += 1;
            }
            taken.insert(name.clone());
            name
        });
        let flag = match &name {
            Some(name) => vec!["-v".to_owned(), format!("{name}:{point}")],
            None => vec!["--tmpfs".to_owned(), point.clone()],
        };
        let hidden_image_paths: Vec<String> = changes
            .iter()
            .filter(|ch| ch.kind != ChangeKind::Added && is_strictly_under(&ch.path, point))
            .map(|ch| ch.path.clone())
            .collect();
        mounts.push(ProposedMount {
            kind: c.kind,
            path: point.clone(),
            name,
            flag,
            rule: c.rule,
            reason: c.reason.clone(),
            new_dir: layer.added(point),
            hidden_image_paths,
            covers: Vec::new(),
        });
    }
    for (leaf, _) in &choices {
        let kind = layer.kinds[leaf];
        let cover = mounts
            .iter_mut()
            .filter(|m| is_under(leaf, &m.path))
            .max_by_key(|m| m.path.len())
            .expect("every choice's mount point, or an ancestor of it, is proposed");
        cover.covers.push((*leaf).to_owned());
        paths.push(PathCover {
            path: (*leaf).to_owned(),
            change: kind,
            covered_by: Some(Covering {
                path: cover.path.clone(),
                kind: cover.kind.as_str().into(),
                proposed: true,
            }),
            problem: None,
        });
    }
    paths.sort_by(|a, b| a.path.cmp(&b.path));

    for m in &mounts {
        if !m.hidden_image_paths.is_empty() {
            let list = list_some(&m.hidden_image_paths, 5);
            warnings.push(match m.kind {
                MountKind::Tmpfs => format!(
                    "--tmpfs {} hides the image's files there, and the container changed or \
                     deleted some of them ({list}): the tmpfs starts empty without them",
                    m.path
                ),
                MountKind::Volume => format!(
                    "the volume at {} covers image files the container changed or deleted \
                     ({list}): a new volume starts as a copy of the image's {}, but later image \
                     updates will not reach it",
                    m.path, m.path
                ),
            });
        } else if !m.new_dir && m.rule == "fallback" {
            notes.push(format!(
                "{} exists in the image: {}",
                m.path,
                match m.kind {
                    MountKind::Tmpfs => "the tmpfs hides whatever the image has there",
                    MountKind::Volume =>
                        "a new volume starts as a copy of it, later image updates do not reach it",
                }
            ));
        }
        if m.kind == MountKind::Volume && m.new_dir && !is_root_user(&cfg.effective_user) {
            warnings.push(format!(
                "the volume at {} will be owned by root, but the container runs as user {}: \
                 create {} in the image owned by that user (Docker copies its ownership into a \
                 new volume), or chown the volume",
                m.path, cfg.effective_user, m.path
            ));
        }
    }
    let unresolved = paths.iter().filter(|p| p.covered_by.is_none()).count();
    if unresolved > 0 {
        warnings.push(format!(
            "{unresolved} written path(s) cannot be covered by a mount (see paths): with \
             --read-only the container fails where it writes them"
        ));
    }
    if cfg.read_only {
        notes.push("the container already has a read-only root filesystem".into());
    } else if !cfg.started && opts.source == Source::Container {
        notes.push(
            "the container has never run, so it has written nothing yet: start it (or use \
             advise --image) to see where it writes"
                .into(),
        );
    }
    if opts.source == Source::Container && mounts.iter().any(|m| m.kind == MountKind::Volume) {
        notes.push(
            "the proposed volumes start empty (or as a copy of the image's directory): data this \
             container wrote to its writable layer is not moved; copy it with docker cp if you \
             need it"
                .into(),
        );
    }
    if mounts.iter().any(|m| m.kind == MountKind::Tmpfs) {
        notes.push(
            "--tmpfs mounts are noexec,nosuid,nodev and empty at every start; use --tmpfs \
             PATH:exec if the application runs programs from one"
                .into(),
        );
    }
    if !cfg.env_keys.is_empty() {
        notes.push(
            "environment values are not shown (they may be secrets): -e KEY takes the value from \
             your shell's environment"
                .into(),
        );
    }
    if opts.source == Source::Container {
        notes.push(
            "settings the command does not reproduce: resource limits, capabilities, security \
             options, devices, DNS, hostname, log driver, extra networks"
                .into(),
        );
    }

    let dropped = |k: &str, v: &str| {
        opts.drop_labels.iter().any(|(dk, dv)| dk == k && dv == v)
            || k.starts_with("com.docker.compose.")
            || (opts.source == Source::Trial && k == TRIAL_LABEL)
    };
    let labels: BTreeMap<String, String> = cfg
        .labels
        .iter()
        .filter(|(k, v)| !dropped(k, v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let render = Render {
        cfg,
        labels: &labels,
        mounts: &mounts,
        source: opts.source,
        service: compose_service_name(match opts.source {
            Source::Container => cfg.name.as_deref().unwrap_or(&base),
            Source::Trial => &base,
        }),
    };
    let groups = render.run_groups();
    let docker_run: Vec<String> = groups.iter().flatten().cloned().collect();
    let docker_run_line = docker_run
        .iter()
        .map(|a| sh_quote(a))
        .collect::<Vec<_>>()
        .join(" ");
    let compose = render.compose();

    Advice {
        target: opts.target.clone(),
        source: opts.source,
        container: ContainerRef {
            id: cfg.id.clone(),
            name: cfg.name.clone(),
        },
        image: cfg.image.clone(),
        read_only: cfg.read_only,
        complete: unresolved == 0,
        mounts,
        existing_mounts: cfg.mounts.clone(),
        paths,
        warnings,
        notes,
        docker_run,
        docker_run_line,
        compose,
    }
}

fn list_some(items: &[String], max: usize) -> String {
    let mut s = items
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        let _ = write!(s, " and {} more", items.len() - max);
    }
    s
}

// ------------------------------------------------------------------------------------------------
// Rendering
// ------------------------------------------------------------------------------------------------

/// Quotes `arg` for a POSIX shell (unchanged when it needs no quoting).
pub fn sh_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// A compose scalar that reads back as exactly `s`: a JSON string is a YAML double-quoted one, and
/// `$` is doubled because compose interpolates `$VAR` in every value.
fn yaml_str(s: &str) -> String {
    serde_json::to_string(&s.replace('$', "$$")).expect("a string serializes")
}

fn yaml_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|i| i.replace('$', "$$")).collect();
    serde_json::to_string(&items).expect("strings serialize")
}

fn compose_service_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    if s.is_empty() {
        "app".into()
    } else {
        s.to_owned()
    }
}

struct Render<'a> {
    cfg: &'a ContainerConfig,
    labels: &'a BTreeMap<String, String>,
    mounts: &'a [ProposedMount],
    source: Source,
    service: String,
}

impl Render<'_> {
    /// Existing mounts as `docker run` arguments (image-declared anonymous volumes are implied).
    fn existing_flags(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for m in &self.cfg.mounts {
            let dest = &m.destination;
            let ro = if m.read_only { ":ro" } else { "" };
            let flag = match (m.kind.as_str(), &m.source) {
                ("tmpfs", _) if m.options.is_empty() => vec!["--tmpfs".into(), dest.clone()],
                ("tmpfs", _) => vec!["--tmpfs".into(), format!("{dest}:{}", m.options)],
                ("volume", _) if m.anonymous && self.cfg.image_volumes.contains(dest) => continue,
                ("volume", _) if m.anonymous => vec!["-v".into(), format!("{dest}{ro}")],
                ("volume", Some(name)) => vec!["-v".into(), format!("{name}:{dest}{ro}")],
                ("bind", Some(src)) if !m.options.is_empty() => {
                    vec!["-v".into(), format!("{src}:{dest}:{}", m.options)]
                }
                ("bind", Some(src)) => vec!["-v".into(), format!("{src}:{dest}{ro}")],
                _ => continue,
            };
            out.push(flag);
        }
        out
    }

    /// The `docker run` command, one group of arguments per flag.
    fn run_groups(&self) -> Vec<Vec<String>> {
        let c = self.cfg;
        let one = |s: &str| vec![s.to_owned()];
        let two = |f: &str, v: &str| vec![f.to_owned(), v.to_owned()];
        let mut g: Vec<Vec<String>> = vec![two("docker", "run")];
        if self.source == Source::Container {
            if c.detach {
                g.push(one("-d"));
            }
            if c.interactive {
                g.push(one("-i"));
            }
            if c.tty {
                g.push(one("-t"));
            }
            if c.auto_remove {
                g.push(one("--rm"));
            }
        }
        g.push(one("--read-only"));
        if self.source == Source::Container {
            if let Some(name) = &c.name {
                g.push(two("--name", name));
            }
        }
        if let Some(u) = &c.user {
            g.push(two("-u", u));
        }
        if let Some(w) = &c.working_dir {
            g.push(two("-w", w));
        }
        if let Some(ep) = &c.entrypoint {
            g.push(two("--entrypoint", ep.first().map_or("", String::as_str)));
        }
        if self.source == Source::Container {
            if let Some(r) = &c.restart {
                g.push(two("--restart", r));
            }
            if let Some(n) = &c.network {
                g.push(two("--network", n));
            }
        }
        for p in &c.ports {
            g.push(two("-p", p));
        }
        if c.publish_all {
            g.push(one("-P"));
        }
        for p in &c.expose {
            g.push(two("--expose", p));
        }
        for k in &c.env_keys {
            g.push(two("-e", k));
        }
        for (k, v) in self.labels {
            g.push(two("-l", &format!("{k}={v}")));
        }
        g.extend(self.existing_flags());
        for m in self.mounts {
            g.push(m.flag.clone());
        }
        let mut tail = vec![c.image.clone()];
        if let Some(ep) = &c.entrypoint {
            tail.extend(ep.iter().skip(1).cloned());
        }
        tail.extend(c.cmd.iter().flatten().cloned());
        g.push(tail);
        g
    }

    fn compose(&self) -> String {
        let c = self.cfg;
        let mut y = String::from("services:\n");
        let _ = writeln!(y, "  {}:", self.service);
        let _ = writeln!(y, "    image: {}", yaml_str(&c.image));
        y.push_str("    read_only: true\n");
        if let Some(ep) = &c.entrypoint {
            let _ = writeln!(y, "    entrypoint: {}", yaml_list(ep));
        }
        if let Some(cmd) = c.cmd.as_ref().filter(|c| !c.is_empty()) {
            let _ = writeln!(y, "    command: {}", yaml_list(cmd));
        }
        if let Some(u) = &c.user {
            let _ = writeln!(y, "    user: {}", yaml_str(u));
        }
        if let Some(w) = &c.working_dir {
            let _ = writeln!(y, "    working_dir: {}", yaml_str(w));
        }
        if self.source == Source::Container {
            if let Some(r) = &c.restart {
                let _ = writeln!(y, "    restart: {}", yaml_str(r));
            }
            if let Some(n) = &c.network {
                let _ = writeln!(y, "    network_mode: {}", yaml_str(n));
            }
            if c.interactive {
                y.push_str("    stdin_open: true\n");
            }
            if c.tty {
                y.push_str("    tty: true\n");
            }
        }
        let list = |y: &mut String, key: &str, items: &[String]| {
            if items.is_empty() {
                return;
            }
            let _ = writeln!(y, "    {key}:");
            for i in items {
                let _ = writeln!(y, "      - {}", yaml_str(i));
            }
        };
        list(&mut y, "environment", &c.env_keys);
        list(&mut y, "ports", &c.ports);
        list(&mut y, "expose", &c.expose);
        if !self.labels.is_empty() {
            y.push_str("    labels:\n");
            for (k, v) in self.labels {
                let _ = writeln!(y, "      {}: {}", yaml_str(k), yaml_str(v));
            }
        }
        let mut tmpfs = Vec::new();
        let mut volumes = Vec::new();
        let mut top: Vec<(String, bool)> = Vec::new();
        for f in self.existing_flags() {
            match f[0].as_str() {
                "--tmpfs" => tmpfs.push(f[1].clone()),
                _ => volumes.push(f[1].clone()),
            }
        }
        for m in &c.mounts {
            if let ("volume", Some(name), false) = (m.kind.as_str(), &m.source, m.anonymous) {
                top.push((name.clone(), true));
            }
        }
        for m in self.mounts {
            match &m.name {
                Some(name) => {
                    volumes.push(format!("{name}:{}", m.path));
                    top.push((name.clone(), false));
                }
                None => tmpfs.push(m.path.clone()),
            }
        }
        list(&mut y, "tmpfs", &tmpfs);
        list(&mut y, "volumes", &volumes);
        if !top.is_empty() {
            y.push_str("volumes:\n");
            for (name, external) in top {
                let _ = writeln!(y, "  {}:", yaml_str(&name));
                let _ = writeln!(y, "    name: {}", yaml_str(&name));
                if external {
                    y.push_str("    external: true\n");
                }
            }
        }
        y
    }
}

/// The `docker run` command on several lines, one flag per line.
pub fn run_command_multiline(argv: &[String]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < argv.len() {
        let takes_value = argv[i].starts_with('-')
            && argv[i].len() > 1
            && matches!(
                argv[i].as_str(),
                "--name"
                    | "-u"
                    | "-w"
                    | "--entrypoint"
                    | "--restart"
                    | "--network"
                    | "-p"
                    | "--expose"
                    | "-e"
                    | "-l"
                    | "-v"
                    | "--tmpfs"
            );
        let end = if i < 2 {
            2
        } else if takes_value {
            i + 2
        } else if argv[i].starts_with('-') {
            i + 1
        } else {
            argv.len()
        }
        .min(argv.len());
        if i > 0 {
            out.push_str(" \\\n    ");
        }
        out.push_str(
            &argv[i..end]
                .iter()
                .map(|a| sh_quote(a))
                .collect::<Vec<_>>()
                .join(" "),
        );
        i = end;
    }
    out
}

/// Written paths listed in the text form before it cuts the list short.
pub const TEXT_MAX_PATHS: usize = 50;

/// The human-readable form of one advice.
pub fn render_text(a: &Advice) -> String {
    let mut s = String::new();
    let who = match (a.source, &a.container.name) {
        (Source::Trial, _) => format!("image {} (trial run)", a.image),
        (Source::Container, Some(name)) => format!("container {name} ({})", a.image),
        (Source::Container, None) => format!("container {} ({})", a.target, a.image),
    };
    let _ = writeln!(s, "== {who}");
    if a.paths.is_empty() {
        s.push_str("No writes to the root filesystem: --read-only needs no extra mount.\n");
    } else {
        s.push_str("\nWritten paths and what covers them:\n");
        let shown = if a.paths.len() > TEXT_MAX_PATHS {
            TEXT_MAX_PATHS - 10
        } else {
            a.paths.len()
        };
        // Paths that cannot be covered first: they are what needs reading.
        let mut ordered: Vec<&PathCover> =
            a.paths.iter().filter(|p| p.covered_by.is_none()).collect();
        ordered.extend(a.paths.iter().filter(|p| p.covered_by.is_some()));
        let width = ordered[..shown]
            .iter()
            .map(|p| p.path.len())
            .max()
            .unwrap_or(0);
        for p in &ordered[..shown] {
            let what = match &p.covered_by {
                Some(c) if c.proposed => a
                    .mounts
                    .iter()
                    .find(|m| m.path == c.path)
                    .map(|m| m.flag.join(" "))
                    .unwrap_or_else(|| c.path.clone()),
                Some(c) => format!("already covered: {} {}", c.kind, c.path),
                None => format!("NOT COVERABLE: {}", p.problem.as_deref().unwrap_or("")),
            };
            let _ = writeln!(s, "  {} {:width$}  {what}", p.change.letter(), p.path);
        }
        if shown < a.paths.len() {
            let _ = writeln!(
                s,
                "  ... and {} more (--format json lists every one)",
                a.paths.len() - shown
            );
        }
    }
    if !a.mounts.is_empty() {
        s.push_str("\nProposed mounts:\n");
        for m in &a.mounts {
            let _ = writeln!(s, "  {:32} {}", m.flag.join(" "), m.reason);
        }
    }
    for w in &a.warnings {
        let _ = writeln!(s, "\nwarning: {w}");
    }
    s.push_str("\nRun it read-only:\n\n");
    let _ = writeln!(s, "  {}", run_command_multiline(&a.docker_run));
    s.push_str("\nOr with compose:\n\n");
    for line in a.compose.lines() {
        let _ = writeln!(s, "  {line}");
    }
    if !a.notes.is_empty() {
        s.push('\n');
        for n in &a.notes {
            let _ = writeln!(s, "note: {n}");
        }
    }
    s
}

pub mod run;

#[cfg(test)]
mod tests;
