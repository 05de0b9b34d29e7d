//! daemon.json as `enable` edits it: read it strictly (a file that is not a JSON object is
//! refused untouched), change only `authorization-plugins`, write it back atomically with its mode
//! and owner, a backup beside it, and restore that backup when anything after the edit fails.

use super::*;

/// How daemon.json was found on disk, to write it back the same way.
#[derive(Debug, Clone, Copy)]
pub(super) struct Owner {
    pub(super) mode: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
}

impl Owner {
    /// A file enable creates: 0644 (as dockerd's packages ship it), owned by the caller.
    fn new_file() -> Owner {
        // SAFETY: geteuid/getegid have no preconditions and cannot fail.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        Owner {
            mode: 0o644,
            uid,
            gid,
        }
    }
}

/// daemon.json as found: its bytes and owner (`None`: the file does not exist) and its object.
pub(super) struct Config {
    pub(super) original: Option<(Vec<u8>, Owner)>,
    pub(super) object: Map<String, Value>,
}

pub(super) fn read_config(path: &Path) -> Result<Config, EnableError> {
    let (bytes, owner) = match std::fs::read(path) {
        Ok(b) => {
            let meta = std::fs::metadata(path).map_err(io("cannot stat", path))?;
            let owner = Owner {
                mode: meta.permissions().mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
            };
            (b, owner)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Config {
                original: None,
                object: Map::new(),
            })
        }
        Err(e) => return Err(io("cannot read", path)(e)),
    };
    let object = if bytes.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                return Err(EnableError::BadConfig {
                    path: path.to_owned(),
                    reason: "not a JSON object".into(),
                })
            }
            Err(e) => {
                return Err(EnableError::InvalidJson {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })
            }
        }
    };
    if let Some(v) = object.get(KEY) {
        let ok = v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
        if !ok {
            return Err(EnableError::BadConfig {
                path: path.to_owned(),
                reason: format!("\"{KEY}\" is not a list of names: {v}"),
            });
        }
    }
    Ok(Config {
        original: Some((bytes, owner)),
        object,
    })
}

pub(super) fn plugins_of(object: &Map<String, Value>) -> Vec<String> {
    object
        .get(KEY)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// The backup `enable`/`disable` keep beside daemon.json.
pub fn backup_path(daemon_json: &Path) -> PathBuf {
    sibling(daemon_json, ".rootfs-guard-backup")
}

/// Writes `bytes` to `path` atomically (temporary file in the same directory, fsync, rename)
/// with `owner`'s mode and ownership.
pub(super) fn write_atomic(path: &Path, bytes: &[u8], owner: Owner) -> Result<(), EnableError> {
    let mode = owner.mode;
    let tmp = sibling(path, ".rootfs-guard-tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io("cannot create", &tmp))?;
    let written = f
        .write_all(bytes)
        .and_then(|()| set_owner(&f, owner))
        .and_then(|()| f.set_permissions(std::fs::Permissions::from_mode(mode)))
        .and_then(|()| f.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("cannot write", &tmp)(e));
    }
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io("cannot replace", path)(e)
    })?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Gives `f` the owner daemon.json had; a no-op when it is ours already (an unprivileged caller
/// cannot chown, and need not when nothing changes).
pub(super) fn set_owner(f: &std::fs::File, owner: Owner) -> std::io::Result<()> {
    let meta = f.metadata()?;
    if meta.uid() == owner.uid && meta.gid() == owner.gid {
        return Ok(());
    }
    std::os::unix::fs::fchown(f, Some(owner.uid), Some(owner.gid))
}

/// Writes the backup, then the new daemon.json.
pub(super) fn apply(
    target: &Target,
    config: &Config,
    object: Map<String, Value>,
    steps: &mut Steps,
) -> Result<(), EnableError> {
    let path = &target.daemon_json;
    let owner = match &config.original {
        Some((bytes, owner)) => {
            let backup = backup_path(path);
            write_atomic(&backup, bytes, *owner)?;
            steps.push(format!(
                "backed up {} to {}",
                path.display(),
                backup.display()
            ));
            *owner
        }
        None => Owner::new_file(),
    };
    let mode = owner.mode;
    let mut text = serde_json::to_string_pretty(&Value::Object(object.clone()))
        .expect("a JSON object serializes");
    text.push('\n');
    write_atomic(path, text.as_bytes(), owner)?;
    let what = match object.get(KEY) {
        Some(list) => format!("\"{KEY}\": {list}"),
        None => format!("\"{KEY}\" removed"),
    };
    steps.push(format!(
        "wrote {} (mode {mode:04o}): {what}",
        path.display()
    ));
    Ok(())
}

/// Puts daemon.json back as it was (removes it if there was none).
pub(super) fn restore(target: &Target, config: &Config) -> Result<String, EnableError> {
    let path = &target.daemon_json;
    match &config.original {
        Some((bytes, owner)) => {
            write_atomic(path, bytes, *owner)?;
            Ok(format!(
                "restored {} from {}",
                path.display(),
                backup_path(path).display()
            ))
        }
        None => {
            std::fs::remove_file(path).map_err(io("cannot remove", path))?;
            Ok(format!(
                "removed {} (it did not exist before)",
                path.display()
            ))
        }
    }
}
