//! Unit tests of enable/disable: daemon.json edits, backups, plugin-name matching.
use super::*;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn names_resolve_like_dockerd() {
    assert!(managed_name_matches(
        "rootfs-guard:0.1.0",
        "rootfs-guard:0.1.0"
    ));
    assert!(managed_name_matches("rootfs-guard:latest", "rootfs-guard"));
    assert!(managed_name_matches(
        "127.0.0.1:5000/rootfs-guard:latest",
        "127.0.0.1:5000/rootfs-guard"
    ));
    assert!(!managed_name_matches("rootfs-guard:0.1.0", "rootfs-guard"));
    assert!(!managed_name_matches("other:latest", "rootfs-guard"));
}

#[test]
fn command_line() {
    let d = Dockerd {
        pid: 1,
        args: vec![
            "dockerd".into(),
            "--config-file".into(),
            "/srv/d.json".into(),
            "-H".into(),
            "unix:///x".into(),
        ],
    };
    assert_eq!(d.authz_flag(), None);
    assert_eq!(d.config_file(), PathBuf::from("/srv/d.json"));
    let d = Dockerd {
        pid: 1,
        args: vec!["dockerd".into(), "--authorization-plugin=rg".into()],
    };
    assert_eq!(d.authz_flag(), Some("--authorization-plugin=rg"));
    assert_eq!(d.config_file(), PathBuf::from(DEFAULT_DAEMON_JSON));
}

#[test]
fn config_files() {
    let dir = tmp();
    let p = dir.path().join("daemon.json");
    assert!(read_config(&p).unwrap().original.is_none());
    std::fs::write(&p, "{ \"debug\": true, ").unwrap();
    assert!(matches!(
        read_config(&p),
        Err(EnableError::InvalidJson { .. })
    ));
    std::fs::write(&p, "[]").unwrap();
    assert!(matches!(
        read_config(&p),
        Err(EnableError::BadConfig { .. })
    ));
    std::fs::write(&p, r#"{"authorization-plugins": "rg"}"#).unwrap();
    assert!(matches!(
        read_config(&p),
        Err(EnableError::BadConfig { .. })
    ));
    std::fs::write(&p, r#"{"authorization-plugins": ["a"], "debug": true}"#).unwrap();
    let c = read_config(&p).unwrap();
    assert_eq!(plugins_of(&c.object), vec!["a".to_string()]);
}

#[test]
fn apply_and_restore_keep_bytes_and_mode() {
    let dir = tmp();
    let p = dir.path().join("daemon.json");
    let original = b"{\n  \"debug\": true,\n  \"labels\": [\"a=b\"]\n}\n";
    std::fs::write(&p, original).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
    let target = Target {
        name: "rg".into(),
        daemon_json: p.clone(),
        pidfile: dir.path().join("pid"),
        socket_dir: dir.path().into(),
    };
    let config = read_config(&p).unwrap();
    let mut object = config.object.clone();
    object.insert(KEY.into(), json!(["rg"]));
    let mut steps = Steps::new();
    apply(&target, &config, object, &mut steps).unwrap();
    let now: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    assert_eq!(
        now,
        json!({"debug": true, "labels": ["a=b"], "authorization-plugins": ["rg"]})
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&p), 0o640);
    assert_eq!(std::fs::read(backup_path(&p)).unwrap(), original);
    assert_eq!(mode(&backup_path(&p)), 0o640);
    restore(&target, &config).unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), original);
    assert_eq!(mode(&p), 0o640);
    assert!(!sibling(&p, ".rootfs-guard-tmp").exists());

    // Another owner (only root can make one): kept on the new file and the backup.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::chown(&p, Some(4242), Some(4243)).unwrap();
        let config = read_config(&p).unwrap();
        apply(&target, &config, config.object.clone(), &mut steps).unwrap();
        for f in [&p, &backup_path(&p)] {
            let meta = std::fs::metadata(f).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (4242, 4243), "{}", f.display());
        }
        restore(&target, &config).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().uid(), 4242);
    }

    // No daemon.json before: restoring removes the one enable wrote.
    let q = dir.path().join("new.json");
    let target = Target {
        daemon_json: q.clone(),
        ..target
    };
    let config = read_config(&q).unwrap();
    apply(&target, &config, Map::new(), &mut steps).unwrap();
    assert!(q.exists());
    restore(&target, &config).unwrap();
    assert!(!q.exists());
}
