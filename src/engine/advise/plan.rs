//! From written paths to the proposal: [`advise`], the one entry point of the pure core.

use super::*;

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

pub(super) fn list_some(items: &[String], max: usize) -> String {
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
