//! Rendering a proposal: the `docker run --read-only` command line, the compose service, the text.

use super::*;

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
pub(super) fn yaml_str(s: &str) -> String {
    serde_json::to_string(&s.replace('$', "$$")).expect("a string serializes")
}

pub(super) fn yaml_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|i| i.replace('$', "$$")).collect();
    serde_json::to_string(&items).expect("strings serialize")
}

pub(super) fn compose_service_name(name: &str) -> String {
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

pub(super) struct Render<'a> {
    pub(super) cfg: &'a ContainerConfig,
    pub(super) labels: &'a BTreeMap<String, String>,
    pub(super) mounts: &'a [ProposedMount],
    pub(super) source: Source,
    pub(super) service: String,
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
    pub(super) fn run_groups(&self) -> Vec<Vec<String>> {
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

    pub(super) fn compose(&self) -> String {
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
