//! Checks the e2e harness itself against a private dockerd WITHOUT the plugin:
//! that it starts, restarts and cleans up a daemon, builds the busybox image,
//! sends raw API requests, and that the post-condition check really detects a
//! writable container (so e2e tests relying on it can fail). It also records
//! the unprotected daemon's behaviour the plugin must block (≥ 1 MiB create
//! bodies, start-with-HostConfig), proving the smoke test's cases meaningful.
//! `make test` runs it against every dockerd version of the CI matrix; where
//! versions differ (trailing data, minimum API version, top-level HostConfig
//! fields) the cases state what each version does.

mod support;

use serde_json::json;
use support::{ApiBody, Cases, DockerdVersion, PrivateDockerd, ALLOW_LABEL_KEY, ALLOW_LABEL_VALUE};

/// A create body that is writable by default and padded to ≥ 1 MiB, which
/// dockerd 20.10 does not forward to authz plugins.
fn padded_create_body(image: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "Image": image,
        "Cmd": ["sh"],
        "Labels": {"pad": "x".repeat(1024 * 1024 + 16)},
        "HostConfig": {"ReadonlyRootfs": false}
    }))
    .unwrap()
}

#[test]
fn harness_against_unprotected_dockerd() {
    if !support::e2e_enabled("harness_against_unprotected_dockerd") {
        return;
    }
    let mut d = PrivateDockerd::start(&[]);
    d.import_busybox("bb:latest");
    let mut cases = Cases::new();

    cases.run(&d, "ping and version answer through hyper", || {
        let (status, body) = d.api("GET", "/_ping", &[], ());
        assert_eq!((status, body.as_slice()), (200, b"OK".as_slice()));
        let (status, v) = d.api_json("GET", "/v1.41/version", &[], ());
        assert_eq!(status, 200);
        assert!(v["ApiVersion"].is_string(), "{v}");
    });

    cases.run(&d, "busybox image runs and --read-only holds", || {
        let err = d.docker_fails(&["run", "--rm", "--read-only", "bb:latest", "touch", "/x"]);
        assert!(err.contains("Read-only file system"), "{err}");
        d.docker_ok(&[
            "run",
            "--rm",
            "--read-only",
            "--tmpfs",
            "/tmp",
            "bb:latest",
            "sh",
            "-c",
            "touch /tmp/x && id -u && ls /bin/sleep && echo hi | cat",
        ]);
        assert!(d.container_ids().is_empty());
    });

    cases.run(&d, "post-condition detects writable containers", || {
        let writable = d.docker_ok(&["create", "bb:latest", "sh"]);
        let labelled = d.docker_ok(&[
            "create",
            "-l",
            &format!("{ALLOW_LABEL_KEY}={ALLOW_LABEL_VALUE}"),
            "bb:latest",
            "sh",
        ]);
        let wrong_value = d.docker_ok(&[
            "create",
            "-l",
            &format!("{ALLOW_LABEL_KEY}=yes"),
            "bb:latest",
            "sh",
        ]);
        let read_only = d.docker_ok(&["create", "--read-only", "bb:latest", "sh"]);
        let mut found = d.containers_violating(ALLOW_LABEL_KEY, ALLOW_LABEL_VALUE);
        found.sort();
        let mut expected = vec![writable.clone(), wrong_value.clone()];
        expected.sort();
        assert_eq!(found, expected);
        assert!(d.is_read_only(&read_only));
        assert!(!d.is_read_only(&labelled));
        d.remove_all_containers();
        assert!(d.container_ids().is_empty());
    });

    cases.run(
        &d,
        "raw API create with JSON, chunked and raw bodies",
        || {
            let (status, v) = d.api_json(
            "POST",
            "/v1.41/containers/create?name=viajson",
            &[("Content-Type", "application/json")],
            json!({"Image": "bb:latest", "Cmd": ["sh"], "HostConfig": {"ReadonlyRootfs": true}}),
        );
            assert_eq!(status, 201, "{v}");
            assert!(d.is_read_only("viajson"));

            let body =
                br#"{"Image":"bb:latest","Cmd":["sh"],"HostConfig":{"ReadonlyRootfs":true}}"#;
            let (status, v) = d.api_json(
                "POST",
                "/v1.41/containers/create?name=viachunks",
                &[("Content-Type", "application/json")],
                ApiBody::Chunked(vec![body[..10].to_vec(), body[10..].to_vec()]),
            );
            assert_eq!(status, 201, "{v}");
            assert!(d.is_read_only("viachunks"));

            let mut req = format!(
                "POST /v1.41/containers/create?name=viaraw HTTP/1.1\r\nHost: docker\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
             Connection: close\r\n\r\n{:x}\r\n",
                body.len()
            )
            .into_bytes();
            req.extend_from_slice(body);
            req.extend_from_slice(b"\r\n0\r\n\r\n");
            let resp = d.raw_http(&req);
            assert_eq!(resp.status, Some(201), "{}", resp.raw_text());
            assert!(resp.body_json()["Id"].is_string(), "{}", resp.raw_text());
            assert!(d.is_read_only("viaraw"));

            let resp = d.raw_http(b"NOT HTTP AT ALL\r\n\r\n");
            assert_eq!(resp.status, Some(400), "{}", resp.raw_text());
            d.remove_all_containers();
        },
    );

    cases.run(
        &d,
        "unprotected daemon creates from a >= 1 MiB body",
        || {
            let (status, v) = d.api_json(
                "POST",
                "/v1.41/containers/create?name=big",
                &[("Content-Type", "application/json")],
                padded_create_body("bb:latest"),
            );
            assert_eq!(status, 201, "{v}");
            assert!(!d.is_read_only("big"));
            d.docker_ok(&["rm", "big"]);
        },
    );

    let version = d.version().clone();

    cases.run(
        &d,
        "unprotected daemon: start-with-HostConfig on API 1.23 (applied by 20.10, refused by 26+)",
        || {
            let id = d.docker_ok(&["create", "--read-only", "bb:latest", "true"]);
            let (status, body) = d.api(
                "POST",
                &format!("/v1.23/containers/{id}/start"),
                &[("Content-Type", "application/json")],
                r#"{"ReadonlyRootfs":false}"#,
            );
            let text = String::from_utf8_lossy(&body);
            if version.min_api_is_1_24() {
                assert_eq!(status, 400, "{version}: {text}");
                assert!(
                    text.contains("client version 1.23 is too old")
                        && text.contains("Minimum supported API version is 1.24"),
                    "{version}: {text}"
                );
                let c = d.inspect(&id);
                assert_eq!(c["HostConfig"]["ReadonlyRootfs"], json!(true));
                assert_eq!(c["State"]["StartedAt"], json!("0001-01-01T00:00:00Z"));
            } else {
                assert_eq!(status, 204, "{version}: {text}");
                assert!(
                    !d.is_read_only(&id),
                    "dockerd {version} no longer applies a start body: the smoke test's start \
                     case tests nothing"
                );
            }
            d.docker_ok(&["rm", "-f", &id]);
        },
    );

    cases.run(
        &d,
        "unprotected daemon: trailing data after the create body (used by 20.10, refused by 23+)",
        || {
            let (status, v) = d.api_json(
                "POST",
                "/v1.41/containers/create?name=trailing",
                &[("Content-Type", "application/json")],
                r#"{"Image":"bb:latest","Cmd":["true"],"HostConfig":{"ReadonlyRootfs":false}} {"HostConfig":{"ReadonlyRootfs":true}}"#,
            );
            if version.rejects_trailing_data() {
                assert_eq!(status, 400, "{version}: {v}");
                assert_eq!(v["message"], json!("unexpected content after JSON"), "{version}");
                assert!(d.container_ids().is_empty());
            } else {
                // Only the first value counts: writable, whatever follows.
                assert_eq!(status, 201, "{version}: {v}");
                assert!(!d.is_read_only("trailing"), "{version}");
                d.docker_ok(&["rm", "trailing"]);
            }
        },
    );

    cases.run(
        &d,
        "unprotected daemon: top-level ReadonlyRootfs is read-only before 27.0.1",
        || {
            let (status, v) = d.api_json(
                "POST",
                "/v1.41/containers/create?name=toplevel",
                &[("Content-Type", "application/json")],
                r#"{"Image":"bb:latest","Cmd":["true"],"ReadonlyRootfs":true}"#,
            );
            assert_eq!(status, 201, "{version}: {v}");
            // 20.10 and 26.1 read it as read-only; 27.0.1+ would create a writable container,
            // which is why the guard denies this body on every version.
            assert_eq!(
                d.is_read_only("toplevel"),
                version.honours_top_level_host_config(),
                "{version}"
            );
            d.docker_ok(&["rm", "toplevel"]);
        },
    );

    cases.run_mut(&mut d, "restart keeps data and changes the daemon", |d| {
        d.docker_ok(&["create", "--read-only", "--name", "keep", "bb:latest", "sh"]);
        let old_pid = d.pid();
        d.restart(&["--log-level=debug"]);
        assert_ne!(d.pid(), old_pid);
        assert_eq!(d.extra_args(), ["--log-level=debug"]);
        assert!(d.is_read_only("keep"));
        let images = d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
        assert!(images.lines().any(|l| l == "bb:latest"), "{images}");
        d.docker_ok(&["start", "keep"]);
        d.docker_ok(&["rm", "-f", "keep"]);
    });
    cases.finish(&d, &[]);
}

/// The version matrix must not be a no-op: a run that names a version gets that version (the
/// harness checks it at every daemon start; this makes the check visible and exercises it).
#[test]
fn dockerd_version_is_the_expected_one() {
    if !support::e2e_enabled("dockerd_version_is_the_expected_one") {
        return;
    }
    let d = PrivateDockerd::start(&[]);
    let (_, cli, _) = d.docker_res(&["version", "--format", "{{.Server.Version}}"]);
    assert_eq!(cli.trim(), d.version().raw);
    let (status, v) = d.api_json("GET", "/version", &[], ());
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["Version"], json!(d.version().raw), "{v}");
    if let Some(series) = support::expected_series() {
        assert!(
            d.version().in_series(&series),
            "{} vs {series}",
            d.version()
        );
    }
    // The binary under the PATH prefix is the one that runs.
    if let Ok(prefix) = std::env::var("ROOTFS_GUARD_E2E_PATH_PREFIX") {
        if !prefix.is_empty() {
            assert!(
                prefix
                    .split(':')
                    .any(|dir| !dir.is_empty() && d.binary().starts_with(dir)),
                "dockerd {} is not under ROOTFS_GUARD_E2E_PATH_PREFIX={prefix}",
                d.binary().display()
            );
        }
    }
}

#[test]
fn dockerd_version_parsing_and_facts() {
    let v = DockerdVersion::parse("26.1.5+dfsg1").unwrap();
    assert_eq!((v.major, v.minor, v.patch), (26, 1, 5));
    assert!(v.in_series("26.1") && v.in_series("26.1.5") && v.in_series("26"));
    assert!(!v.in_series("26.10") && !v.in_series("20.10") && !v.in_series("26.1.4"));
    assert!(!v.in_series("") && !v.in_series("26.1.5.0"));
    let v = DockerdVersion::parse("20.10.24+dfsg1").unwrap();
    assert!(v.in_series("20.10") && !v.in_series("20.1"));
    assert!(!v.rejects_trailing_data() && !v.min_api_is_1_24());
    assert!(v.honours_top_level_host_config());
    let v = DockerdVersion::parse("27.0.1").unwrap();
    assert!(!v.honours_top_level_host_config() && v.rejects_trailing_data());
    assert!(DockerdVersion::parse("27.0.0")
        .unwrap()
        .honours_top_level_host_config());
    assert_eq!(DockerdVersion::parse("28.2").unwrap().patch, 0);
    assert!(DockerdVersion::parse("dev").is_none());
    assert!(DockerdVersion::parse("").is_none());
}
