//! Where a written path gets its mount: the well-known locations ([`PLACEMENTS`]), the
//! directories Docker manages or that are shared, and the choice for one path.

use super::*;

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
pub struct Placement {
    pub root: &'static str,
    pub scope: Scope,
    pub kind: MountKind,
    /// `rule` in the output.
    pub name: &'static str,
    pub why: &'static str,
}

/// Well-known locations, in the order they are tried (homes, `~/.cache`, hints and declared
/// volumes are handled in code around this table).
pub const PLACEMENTS: &[Placement] = &[
    Placement {
        root: "/tmp",
        scope: Scope::Whole,
        kind: MountKind::Tmpfs,
        name: "scratch",
        why: "scratch space",
    },
    Placement {
        root: "/var/tmp",
        scope: Scope::Whole,
        kind: MountKind::Tmpfs,
        name: "scratch",
        why: "scratch space",
    },
    Placement {
        root: "/run",
        scope: Scope::Whole,
        kind: MountKind::Tmpfs,
        name: "scratch",
        why: "runtime state (pid files, sockets)",
    },
    Placement {
        root: "/var/run",
        scope: Scope::Whole,
        kind: MountKind::Tmpfs,
        name: "scratch",
        why: "runtime state (pid files, sockets)",
    },
    Placement {
        root: "/var/lock",
        scope: Scope::Whole,
        kind: MountKind::Tmpfs,
        name: "scratch",
        why: "lock files",
    },
    Placement {
        root: "/var/log",
        scope: Scope::Whole,
        kind: MountKind::Tmpfs,
        name: "scratch",
        why: "log files (lost at restart: log to stdout, or --volume /var/log to keep them)",
    },
    Placement {
        root: "/var/cache",
        scope: Scope::Child,
        kind: MountKind::Tmpfs,
        name: "cache",
        why: "cache",
    },
    Placement {
        root: "/var/lib",
        scope: Scope::Child,
        kind: MountKind::Volume,
        name: "data",
        why: "application state",
    },
    Placement {
        root: "/var/spool",
        scope: Scope::Child,
        kind: MountKind::Volume,
        name: "data",
        why: "queued data",
    },
    Placement {
        root: "/data",
        scope: Scope::Whole,
        kind: MountKind::Volume,
        name: "data",
        why: "data",
    },
    Placement {
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Choice {
    pub(super) point: String,
    pub(super) kind: MountKind,
    pub(super) rule: &'static str,
    pub(super) reason: String,
    /// Lower wins when two choices name the same mount point.
    pub(super) priority: u8,
}

pub(super) struct Layer<'a> {
    pub(super) kinds: BTreeMap<&'a str, ChangeKind>,
}

impl Layer<'_> {
    pub(super) fn added(&self, dir: &str) -> bool {
        self.kinds.get(dir) == Some(&ChangeKind::Added)
    }
}

pub(super) fn choose(
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
    for placement in PLACEMENTS {
        if !is_under(leaf, placement.root) {
            continue;
        }
        let (point, why) = match placement.scope {
            Scope::Whole => (placement.root.to_owned(), placement.why.to_owned()),
            Scope::Child if leaf == placement.root || layer.added(placement.root) => (
                placement.root.to_owned(),
                format!(
                    "{} (the container created {})",
                    placement.why, placement.root
                ),
            ),
            Scope::Child => {
                let rest = &leaf[placement.root.len() + 1..];
                let first = rest.split('/').next().unwrap_or(rest);
                let child = format!("{}/{first}", placement.root);
                if child == leaf {
                    // A file directly in the well-known directory.
                    (
                        placement.root.to_owned(),
                        format!("{} (a file directly in {})", placement.why, placement.root),
                    )
                } else {
                    (child, placement.why.to_owned())
                }
            }
        };
        return Ok(Choice {
            point,
            kind: placement.kind,
            rule: placement.name,
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
pub(super) fn existing_cover(path: &str, cfg: &ContainerConfig) -> Option<Covering> {
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
