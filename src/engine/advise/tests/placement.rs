//! Grouping written paths into mounts: coverage by existing mounts, tmpfs vs volume, hiding,
//! hints, naming, and that large change lists stay fast.

use super::*;

#[test]
fn e2e_scenario_groups_into_four_mounts() {
    let a = run(&cfg("web"), E2E_CHANGES);
    assert_eq!(
        mounts(&a),
        [
            ("volume", "/data"),
            ("tmpfs", "/run"),
            ("tmpfs", "/tmp"),
            ("tmpfs", "/var/cache"),
        ]
    );
    assert!(a.complete);
    // Only the leaves are written paths; each maps to its mount.
    let written: Vec<&str> = a.paths.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        written,
        ["/data/c", "/run/app.pid", "/tmp/a", "/var/cache/app/b"]
    );
    assert_eq!(cover(&a, "/tmp/a"), Some(("tmpfs", "/tmp", true)));
    assert_eq!(
        cover(&a, "/var/cache/app/b"),
        Some(("tmpfs", "/var/cache", true))
    );
    assert_eq!(cover(&a, "/data/c"), Some(("volume", "/data", true)));
    let data = &a.mounts[0];
    assert_eq!(data.name.as_deref(), Some("web-data"));
    assert_eq!(data.flag, ["-v", "web-data:/data"]);
    assert_eq!(data.covers, ["/data/c"]);
    assert!(data.new_dir);
    assert_eq!(a.mounts[2].flag, ["--tmpfs", "/tmp"]);
    assert!(!a.mounts[2].new_dir, "/tmp is in the image");
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
    assert_eq!(
        a.docker_run_line,
        "docker run --read-only --name web -v web-data:/data --tmpfs /run --tmpfs /tmp \
         --tmpfs /var/cache bb:latest"
    );
}

#[test]
fn deleting_an_image_file_in_a_system_dir_cannot_be_covered() {
    let mut changes = E2E_CHANGES.to_vec();
    changes.extend([("/bin", C), ("/bin/rm", D)]);
    let a = run(&cfg("web"), &changes);
    assert_eq!(mounts(&a).len(), 4, "no mount proposed for /bin");
    assert_eq!(cover(&a, "/bin/rm"), None);
    let p = a.paths.iter().find(|p| p.path == "/bin/rm").unwrap();
    assert_eq!(p.change, D);
    assert!(p.problem.as_ref().unwrap().contains("/bin"), "{p:?}");
    assert!(!a.complete);
    assert!(a.warnings.iter().any(|w| w.contains("1 written path(s)")));
}

#[test]
fn existing_mounts_cover_and_are_not_reproposed() {
    let mut c = cfg("web");
    c.mounts = vec![
        ExistingMount {
            kind: "volume".into(),
            source: Some("webdata".into()),
            destination: "/data".into(),
            read_only: false,
            anonymous: false,
            options: String::new(),
        },
        ExistingMount {
            kind: "tmpfs".into(),
            source: None,
            destination: "/run".into(),
            read_only: false,
            anonymous: false,
            options: "size=1m".into(),
        },
    ];
    // What dockerd reports for a read-only container with these mounts: the mount points only.
    let a = run(&c, &[("/run", A), ("/data", A)]);
    assert!(a.mounts.is_empty(), "{:?}", a.mounts);
    assert_eq!(cover(&a, "/run"), Some(("tmpfs", "/run", false)));
    assert_eq!(cover(&a, "/data"), Some(("volume", "/data", false)));
    // Writes below an existing mount are covered too; others still get proposals.
    let a = run(
        &c,
        &[("/data", A), ("/data/x/y", A), ("/tmp", C), ("/tmp/z", A)],
    );
    assert_eq!(mounts(&a), [("tmpfs", "/tmp")]);
    assert_eq!(cover(&a, "/data/x/y"), Some(("volume", "/data", false)));
    // Files Docker mounts itself.
    let a = run(
        &c,
        &[("/etc", C), ("/etc/hosts", C), ("/dev", C), ("/dev/x", A)],
    );
    assert!(a.mounts.is_empty());
    assert_eq!(
        cover(&a, "/etc/hosts"),
        Some(("docker", "/etc/hosts", false))
    );
    assert_eq!(cover(&a, "/dev/x"), Some(("docker", "/dev", false)));
    // Both kept in the command line; a volume name already taken is not reused.
    let a = run(&c, &[("/var", A), ("/var/lib", A), ("/var/lib/x", A)]);
    assert!(a
        .docker_run_line
        .contains("-v webdata:/data --tmpfs /run:size=1m -v web-var-lib:/var/lib bb:latest"));
}

#[test]
fn well_known_locations() {
    // (changes, expected (type, mount point) for the last path)
    type Case<'a> = (&'a [(&'a str, ChangeKind)], (&'a str, &'a str));
    let table: &[Case<'_>] = &[
        (&[("/tmp", C)], ("tmpfs", "/tmp")),
        (
            &[("/var", C), ("/var/tmp", C), ("/var/tmp/x", A)],
            ("tmpfs", "/var/tmp"),
        ),
        (
            &[("/var", C), ("/var/run", C), ("/var/run/x.sock", A)],
            ("tmpfs", "/var/run"),
        ),
        (
            &[("/var", C), ("/var/lock", C), ("/var/lock/x", A)],
            ("tmpfs", "/var/lock"),
        ),
        (
            &[
                ("/var", C),
                ("/var/log", C),
                ("/var/log/nginx", C),
                ("/var/log/nginx/e.log", A),
            ],
            ("tmpfs", "/var/log"),
        ),
        // /var/cache existing: the application's own directory.
        (
            &[
                ("/var", C),
                ("/var/cache", C),
                ("/var/cache/apt", C),
                ("/var/cache/apt/x.bin", A),
            ],
            ("tmpfs", "/var/cache/apt"),
        ),
        // /var/cache new: the whole of it (hides nothing).
        (
            &[
                ("/var", A),
                ("/var/cache", A),
                ("/var/cache/app", A),
                ("/var/cache/app/b", A),
            ],
            ("tmpfs", "/var/cache"),
        ),
        // a file directly in an existing /var/cache: /var/cache.
        (
            &[("/var", C), ("/var/cache", C), ("/var/cache/x.db", A)],
            ("tmpfs", "/var/cache"),
        ),
        (
            &[
                ("/var", C),
                ("/var/lib", C),
                ("/var/lib/postgresql", C),
                ("/var/lib/postgresql/16", A),
                ("/var/lib/postgresql/16/x", A),
            ],
            ("volume", "/var/lib/postgresql"),
        ),
        (
            &[
                ("/var", C),
                ("/var/spool", C),
                ("/var/spool/mail", A),
                ("/var/spool/mail/x", A),
            ],
            ("volume", "/var/spool/mail"),
        ),
        (
            &[("/srv", C), ("/srv/site", A), ("/srv/site/x", A)],
            ("volume", "/srv"),
        ),
        (&[("/data", A), ("/data/a/b/c", A)], ("volume", "/data")),
        (
            &[
                ("/root", C),
                ("/root/.cache", A),
                ("/root/.cache/pip", A),
                ("/root/.cache/pip/w", A),
            ],
            ("tmpfs", "/root/.cache"),
        ),
        (
            &[
                ("/home", C),
                ("/home/app", C),
                ("/home/app/.cache", A),
                ("/home/app/.cache/x", A),
            ],
            ("tmpfs", "/home/app/.cache"),
        ),
        (
            &[("/root", C), ("/root/.bash_history", A)],
            ("volume", "/root"),
        ),
        (
            &[
                ("/home", C),
                ("/home/app", C),
                ("/home/app/.config", A),
                ("/home/app/.config/x", A),
            ],
            ("volume", "/home/app"),
        ),
        // Fallback: the shallowest added directory...
        (
            &[
                ("/app", C),
                ("/app/uploads", A),
                ("/app/uploads/2024", A),
                ("/app/uploads/2024/x", A),
            ],
            ("volume", "/app/uploads"),
        ),
        // ... never a shared system directory, even when new ...
        (
            &[("/opt", A), ("/opt/app", A), ("/opt/app/state", A)],
            ("volume", "/opt/app"),
        ),
        // ... tmpfs when named like scratch ...
        (
            &[("/app", C), ("/app/tmp", A), ("/app/tmp/x", A)],
            ("tmpfs", "/app/tmp"),
        ),
        (
            &[("/app", C), ("/app/cache", C), ("/app/cache/x", A)],
            ("tmpfs", "/app/cache"),
        ),
        // ... else the parent of the written file.
        (&[("/app", C), ("/app/state.db", A)], ("volume", "/app")),
        (&[("/etc", A), ("/etc/app.conf", A)], ("volume", "/etc")),
    ];
    for (changes, (kind, point)) in table {
        let a = run(&cfg("web"), changes);
        let leaf = changes.last().unwrap().0;
        assert_eq!(
            cover(&a, leaf).map(|(k, p, _)| (k, p)),
            Some((*kind, *point)),
            "{changes:?}: {:#?}",
            a.mounts
        );
        assert_eq!(a.mounts.len(), 1, "{changes:?}: {:#?}", a.mounts);
    }
}

#[test]
fn not_coverable() {
    for changes in [
        &[("/app.log", A)][..],
        &[("/etc", C), ("/etc/motd", C)],
        &[("/etc", C), ("/etc/app", C), ("/etc/app/x.conf", C)][..1],
        &[("/usr", C), ("/usr/lib", C), ("/usr/lib/x.so", A)],
        &[("/var", C), ("/var/x", A)],
    ] {
        let a = run(&cfg("web"), changes);
        let leaf = a.paths.last().expect("a written path");
        if leaf.path == "/etc" {
            // `C /etc` alone: a directory in / that cannot be mounted over.
            assert!(leaf.covered_by.is_none());
            continue;
        }
        assert!(leaf.covered_by.is_none(), "{changes:?}: {leaf:?}");
        assert!(leaf.problem.as_ref().unwrap().contains("--volume DIR"));
        assert!(a.mounts.is_empty());
        assert!(!a.complete);
    }
}

#[test]
fn image_content_hidden_by_a_mount_is_reported() {
    // A modified image file under a fallback mount on an existing directory.
    let a = run(
        &cfg("web"),
        &[("/app", C), ("/app/config.json", C), ("/app/state.db", A)],
    );
    assert_eq!(mounts(&a), [("volume", "/app")]);
    assert_eq!(a.mounts[0].hidden_image_paths, ["/app/config.json"]);
    assert!(!a.mounts[0].new_dir);
    assert!(
        a.warnings
            .iter()
            .any(|w| w.contains("/app/config.json") && w.contains("later image updates")),
        "{:?}",
        a.warnings
    );
    // A tmpfs over an image directory whose files were changed: starts empty.
    let a = run(
        &cfg("web"),
        &[("/run", C), ("/run/nginx", C), ("/run/nginx/nginx.pid", C)],
    );
    assert_eq!(
        a.mounts[0].hidden_image_paths,
        ["/run/nginx", "/run/nginx/nginx.pid"]
    );
    assert!(a.warnings.iter().any(|w| w.contains("starts empty")));
    // Nothing hidden under a directory the container created.
    let a = run(&cfg("web"), E2E_CHANGES);
    assert!(a.mounts.iter().all(|m| m.hidden_image_paths.is_empty()));
    // An existing directory chosen by the fallback, no evidence of content: a note.
    let a = run(&cfg("web"), &[("/app", C), ("/app/state.db", A)]);
    assert!(a.warnings.is_empty());
    assert!(a
        .notes
        .iter()
        .any(|n| n.starts_with("/app exists in the image")));
}

#[test]
fn fewest_mounts_merge_nested_same_kind() {
    // /x/y/z would get /x/y (added), /x/w gets /x (its parent): /x/y merges into /x.
    let a = run(
        &cfg("web"),
        &[("/x", C), ("/x/y", A), ("/x/y/z", A), ("/x/w", A)],
    );
    assert_eq!(mounts(&a), [("volume", "/x")]);
    assert_eq!(a.mounts[0].covers, ["/x/w", "/x/y/z"]);
    assert_eq!(cover(&a, "/x/y/z"), Some(("volume", "/x", true)));
    // Different kinds stay nested: tmpfs /x/tmp inside volume /x.
    let a = run(
        &cfg("web"),
        &[("/x", C), ("/x/tmp", A), ("/x/tmp/z", A), ("/x/w", A)],
    );
    assert_eq!(mounts(&a), [("volume", "/x"), ("tmpfs", "/x/tmp")]);
    assert_eq!(cover(&a, "/x/tmp/z"), Some(("tmpfs", "/x/tmp", true)));
    // Siblings under one added well-known parent share it; under an existing one they do not
    // (that would hide the parent's image content).
    let a = run(
        &cfg("web"),
        &[
            ("/var", C),
            ("/var/cache", C),
            ("/var/cache/a", A),
            ("/var/cache/a/1", A),
            ("/var/cache/b", A),
            ("/var/cache/b/2", A),
        ],
    );
    assert_eq!(
        mounts(&a),
        [("tmpfs", "/var/cache/a"), ("tmpfs", "/var/cache/b")]
    );
}

#[test]
fn hints_force_kind_and_place() {
    let hints = [
        Hint::new("/var/lib/app", MountKind::Tmpfs).unwrap(),
        Hint::new("/tmp/keep/", MountKind::Volume).unwrap(),
    ];
    let a = run_hints(
        &cfg("web"),
        &[
            ("/var", C),
            ("/var/lib", C),
            ("/var/lib/app", A),
            ("/var/lib/app/db", A),
            ("/tmp", C),
            ("/tmp/keep", A),
            ("/tmp/keep/x", A),
            ("/tmp/y", A),
        ],
        &hints,
    );
    assert_eq!(
        mounts(&a),
        [
            ("tmpfs", "/tmp"),
            ("volume", "/tmp/keep"),
            ("tmpfs", "/var/lib/app")
        ]
    );
    assert_eq!(a.mounts[1].rule, "hint");
    assert_eq!(a.mounts[1].name.as_deref(), Some("web-tmp-keep"));
    assert_eq!(
        cover(&a, "/tmp/keep/x"),
        Some(("volume", "/tmp/keep", true))
    );
    // A hint makes an otherwise uncoverable path coverable, and is kept even when nested in
    // a proposal of the same kind.
    let a = run_hints(
        &cfg("web"),
        &[("/etc", C), ("/etc/app", C), ("/etc/app/x.conf", C)],
        &[Hint::new("/etc/app", MountKind::Volume).unwrap()],
    );
    assert_eq!(mounts(&a), [("volume", "/etc/app")]);
    assert!(a.complete);
    assert_eq!(a.mounts[0].hidden_image_paths, ["/etc/app/x.conf"]);
    let a = run_hints(
        &cfg("web"),
        &[
            ("/data", A),
            ("/data/db", A),
            ("/data/db/x", A),
            ("/data/y", A),
        ],
        &[Hint::new("/data/db", MountKind::Volume).unwrap()],
    );
    assert_eq!(mounts(&a), [("volume", "/data"), ("volume", "/data/db")]);
    assert!(Hint::new("/", MountKind::Tmpfs).is_err());
    assert!(Hint::new("relative", MountKind::Tmpfs).is_err());
}

#[test]
fn declared_volume_and_non_root_owner() {
    let mut c = cfg("db");
    c.image_volumes = vec!["/var/lib/mysql".into()];
    c.effective_user = "mysql".into();
    // Declared but not mounted (e.g. --mount over it was removed): proposed as a volume there.
    let a = run(
        &c,
        &[
            ("/var", A),
            ("/var/lib", A),
            ("/var/lib/mysql", A),
            ("/var/lib/mysql/ibdata", A),
        ],
    );
    assert_eq!(mounts(&a), [("volume", "/var/lib/mysql")]);
    assert_eq!(a.mounts[0].rule, "image-volume");
    assert!(
        a.warnings
            .iter()
            .any(|w| w.contains("owned by root") && w.contains("mysql")),
        "{:?}",
        a.warnings
    );
    // Root (in any spelling) gets no ownership warning; nor does a directory from the image.
    for user in ["", "root", "0", "0:0", "root:wheel"] {
        c.effective_user = user.into();
        let a = run(
            &c,
            &[
                ("/var", A),
                ("/var/lib", A),
                ("/var/lib/mysql", A),
                ("/var/lib/mysql/x", A),
            ],
        );
        assert!(a.warnings.is_empty(), "{user}: {:?}", a.warnings);
    }
    c.effective_user = "1000".into();
    let a = run(
        &c,
        &[
            ("/var", C),
            ("/var/lib", C),
            ("/var/lib/mysql", C),
            ("/var/lib/mysql/x", A),
        ],
    );
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
}

#[test]
fn volume_names() {
    assert_eq!(volume_name("web", "/data"), "web-data");
    assert_eq!(
        volume_name("web", "/var/lib/postgresql"),
        "web-var-lib-postgresql"
    );
    assert_eq!(volume_name("my app", "/srv/x y"), "my-app-srv-x-y");
    assert_eq!(volume_name("_x", "/home/ü"), "x-home");
    assert_eq!(volume_name("", "/a"), "vol-a");
    assert_eq!(
        image_short_name("registry.example.com:5000/team/app:1.2"),
        "app"
    );
    assert_eq!(image_short_name("app@sha256:abc"), "app");
    assert_eq!(image_short_name("bb:latest"), "bb");
    // Trial advice names volumes after the image.
    let a = advise(
        &cfg("nostalgic_turing"),
        &ch(&[("/data", A), ("/data/c", A)]),
        &Options::new("bb:latest", Source::Trial),
    );
    assert_eq!(a.mounts[0].name.as_deref(), Some("bb-data"));
}

#[test]
fn nothing_written() {
    let mut c = cfg("web");
    let a = run(&c, &[]);
    assert!(a.mounts.is_empty() && a.paths.is_empty() && a.complete);
    assert_eq!(
        a.docker_run_line,
        "docker run --read-only --name web bb:latest"
    );
    assert!(render_text(&a).contains("No writes to the root filesystem"));
    c.started = false;
    let a = run(&c, &[]);
    assert!(a.notes.iter().any(|n| n.contains("never run")));
    c.read_only = true;
    let a = run(&c, &[("/run", A)]);
    assert!(a
        .notes
        .iter()
        .any(|n| n.contains("already has a read-only")));
}

#[test]
fn path_helpers() {
    assert!(is_under("/a/b", "/a") && is_under("/a", "/a") && is_under("/a", "/"));
    assert!(!is_under("/ab", "/a") && !is_under("/a", "/a/b"));
    assert_eq!(parent("/a/b"), Some("/a"));
    assert_eq!(parent("/a"), Some("/"));
    assert_eq!(parent("/"), None);
    assert_eq!(ancestors("/a/b/c"), ["/a", "/a/b"]);
    assert_eq!(clean_path("//a/./b//"), "/a/b");
    assert_eq!(clean_path("/"), "/");
    assert_eq!(home_of("/home/u/x").as_deref(), Some("/home/u"));
    assert_eq!(home_of("/root").as_deref(), Some("/root"));
    assert_eq!(home_of("/home"), None);
}

#[test]
fn many_changes_stay_fast_and_the_text_is_cut_short() {
    // What a package install at run time leaves: tens of thousands of entries.
    let mut changes: Vec<(String, ChangeKind)> = vec![
        ("/app".into(), C),
        ("/app/data".into(), A),
        ("/usr".into(), C),
        ("/usr/lib".into(), C),
    ];
    for i in 0..20_000 {
        changes.push((format!("/app/data/{i}"), A));
        changes.push((format!("/usr/lib/f{i}.so"), A));
    }
    let changes: Vec<Change> = changes.iter().map(|(p, k)| Change::new(p, *k)).collect();
    let start = std::time::Instant::now();
    let a = advise(&cfg("web"), &changes, &Options::new("t", Source::Container));
    assert!(
        start.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(mounts(&a), [("volume", "/app/data")]);
    assert_eq!(a.paths.len(), 40_000);
    assert_eq!(a.mounts[0].covers.len(), 20_000);
    let text = render_text(&a);
    assert!(
        text.contains("... and 39960 more (--format json lists every one)"),
        "{text}"
    );
    // The uncoverable ones are listed first.
    assert!(text.contains("  A /usr/lib/f0.so"), "{text}");
    assert!(text.lines().count() < 120);
}

#[test]
fn leaves_with_names_sorting_between_a_directory_and_its_entries() {
    // "/srv b" sorts between "/srv" and "/srv/c" (space < '/'): "/srv" is still not a leaf.
    let a = run(&cfg("web"), &[("/srv", C), ("/srv b", A), ("/srv/c", A)]);
    let written: Vec<&str> = a.paths.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(written, ["/srv b", "/srv/c"]);
    assert_eq!(cover(&a, "/srv/c"), Some(("volume", "/srv", true)));
    assert_eq!(cover(&a, "/srv b"), None, "a file directly in /");
}
