//! What advise reads: the container's filesystem changes, its inspect data as a
//! [`ContainerConfig`], the operator's hints and options.

use super::*;

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

pub(super) fn strings(v: &Value) -> Option<Vec<String>> {
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

pub(super) fn str_field(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

pub(super) fn object_keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

pub(super) fn is_anonymous_volume_name(name: &str) -> bool {
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
