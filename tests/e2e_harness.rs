//! Checks the e2e harness itself against a private dockerd WITHOUT the plugin:
//! that it starts, restarts and cleans up a daemon, builds the busybox image,
//! sends raw API requests, and that the post-condition check really detects a
//! writable container (so e2e tests relying on it can fail). It also records
//! the unprotected daemon's behaviour the plugin must block (≥ 1 MiB create
//! bodies, start-with-HostConfig), proving the smoke test's cases meaningful.

mod support;

use serde_json::json;
use support::{ApiBody, Cases, PrivateDockerd, ALLOW_LABEL_KEY, ALLOW_LABEL_VALUE};

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

    cases.run(
        &d,
        "unprotected daemon applies start-with-HostConfig on API 1.23",
        || {
            let id = d.docker_ok(&["create", "--read-only", "bb:latest", "true"]);
            let (status, body) = d.api(
                "POST",
                &format!("/v1.23/containers/{id}/start"),
                &[("Content-Type", "application/json")],
                r#"{"ReadonlyRootfs":false}"#,
            );
            assert_eq!(status, 204, "{}", String::from_utf8_lossy(&body));
            assert!(
                !d.is_read_only(&id),
                "dockerd no longer applies a start body: the smoke test's start case tests nothing"
            );
            d.docker_ok(&["rm", "-f", &id]);
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
