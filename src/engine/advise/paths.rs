//! Path arithmetic on container paths, as dockerd cleans them.

/// `path` is `dir` or below it.
pub fn is_under(path: &str, dir: &str) -> bool {
    dir == "/"
        || path == dir
        || (path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/')
}

pub(super) fn is_strictly_under(path: &str, dir: &str) -> bool {
    path != dir && is_under(path, dir)
}

/// The parent directory: `/a/b` → `/a`, `/a` → `/`, `/` → `None`.
pub(super) fn parent(path: &str) -> Option<&str> {
    match path.rfind('/') {
        Some(0) if path.len() > 1 => Some("/"),
        Some(0) | None => None,
        Some(i) => Some(&path[..i]),
    }
}

/// Proper ancestors of `path` other than `/`, shallowest first.
pub(super) fn ancestors(path: &str) -> Vec<&str> {
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
pub(super) fn home_of(path: &str) -> Option<String> {
    if is_under(path, "/root") {
        return Some("/root".into());
    }
    let rest = path.strip_prefix("/home/")?;
    let user = rest.split('/').next().filter(|u| !u.is_empty())?;
    Some(format!("/home/{user}"))
}

pub(super) fn is_root_user(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or_default();
    name.is_empty() || name == "root" || name == "0"
}
