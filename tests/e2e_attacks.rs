//! End-to-end attack cases against a real private dockerd guarded by the standalone plugin: every
//! path in `shared/docs/dockerd-decoding.md` to a writable (or re-writable) root filesystem, sent
//! the way an attacker would send it — raw API bodies that read differently to a naive parser,
//! encoded paths, remount capabilities, privileged exec, swarm services, swarm join, and switching
//! the guard off. After every case no writable unlabelled container may exist (the harness checks)
//! and the guard must still deny a plain writable create.

mod support;

use serde_json::json;
use support::ApiBody;
use support::{Cases, PluginProcess, PrivateDockerd};

/// A raw create through the API; returns the HTTP status and dockerd's message.
fn raw_create(d: &PrivateDockerd, path: &str, body: impl Into<ApiBody>) -> (u16, String) {
    let (status, v) = d.api_json("POST", path, &[("Content-Type", "application/json")], body);
    let msg = match &v {
        serde_json::Value::String(s) => s.clone(),
        other => other["message"].as_str().unwrap_or_default().to_owned(),
    };
    (status, msg)
}

#[test]
fn attacks_on_standalone_plugin() {
    if !support::e2e_enabled("attacks_on_standalone_plugin") {
        return;
    }
    let plugin = PluginProcess::start(None);
    let d = PrivateDockerd::start(&[&plugin.authz_arg()]);
    d.import_busybox("bb:latest");
    let denied_by = format!("authorization denied by plugin {}", plugin.name());
    let guard_still_enforces = |d: &PrivateDockerd| {
        let err = d.docker_fails(&["create", "bb:latest", "true"]);
        assert!(err.contains(&denied_by), "guard no longer enforcing: {err}");
    };
    let mut cases = Cases::new();

    // Bodies that look read-only to a naive JSON reader but are writable in dockerd, or that
    // lose the allow label on the way in. Each must be refused with our message.
    let bypass_bodies: Vec<(&str, String)> = vec![
        (
            "lower-case duplicate key shadows true",
            r#"{"Image":"bb:latest","HostConfig":{"ReadonlyRootfs":true},"hostconfig":{"readonlyrootfs":false}}"#.into(),
        ),
        (
            "long-s folded key shadows true",
            "{\"Image\":\"bb:latest\",\"HostConfig\":{\"ReadonlyRootfs\":true,\"ReadonlyRootf\u{017F}\":false}}".into(),
        ),
        (
            "later HostConfig null erases read-only",
            r#"{"Image":"bb:latest","HostConfig":{"ReadonlyRootfs":true},"HostConfig":null}"#.into(),
        ),
        (
            "top-level ReadonlyRootfs only (ignored by dockerd 27+)",
            r#"{"Image":"bb:latest","ReadonlyRootfs":true}"#.into(),
        ),
        (
            "allow label erased by a later null",
            r#"{"Image":"bb:latest","Labels":{"rootfs-guard.allow-writable":"true"},"labels":null}"#.into(),
        ),
        (
            "trailing data after the first value",
            r#"{"Image":"bb:latest","HostConfig":{"ReadonlyRootfs":false}} {"HostConfig":{"ReadonlyRootfs":true}}"#.into(),
        ),
        (
            "string where a bool goes",
            r#"{"Image":"bb:latest","HostConfig":{"ReadonlyRootfs":"true"}}"#.into(),
        ),
    ];
    for (name, body) in &bypass_bodies {
        cases.run(&d, &format!("bypass body: {name}"), || {
            let (status, msg) = raw_create(&d, "/v1.41/containers/create", body.as_str());
            // Refused by the guard itself, not by dockerd's own validation.
            assert_eq!(status, 403, "{body}: {msg}");
            assert!(msg.contains(&denied_by), "{msg}");
            assert!(
                d.container_ids().is_empty(),
                "a container was created from {body}"
            );
        });
    }

    // dockerd 23+ refuses trailing data itself ("unexpected content after JSON", 400) while 20.10
    // creates a writable container from the first value (see e2e_harness). Authorization runs
    // before the handler decodes the body: on every version the guard is the one that answers.
    cases.run(&d, "trailing data: the guard answers before dockerd's parser", || {
        let body = r#"{"Image":"bb:latest","HostConfig":{"ReadonlyRootfs":false}} {"HostConfig":{"ReadonlyRootfs":true}}"#;
        let (status, msg) = raw_create(&d, "/v1.41/containers/create", body);
        assert_eq!(status, 403, "{}: {msg}", d.version());
        let guard = format!("{denied_by}: readonly-rootfs: cannot verify the create request");
        assert!(msg.starts_with(&guard), "{}: {msg}", d.version());
        assert!(!msg.contains("unexpected content after JSON"), "{msg}");
        assert!(d.container_ids().is_empty());
    });

    // Read-only on 20.10 and 26.1 (see e2e_harness), writable on 27.0.1+: denied everywhere,
    // with the fix in the message.
    cases.run(
        &d,
        "top-level ReadonlyRootfs is denied with a pointer to HostConfig",
        || {
            let (status, msg) = raw_create(
                &d,
                "/v1.41/containers/create",
                r#"{"Image":"bb:latest","Cmd":["true"],"ReadonlyRootfs":true}"#,
            );
            assert_eq!(status, 403, "{msg}");
            assert!(
                msg.starts_with(&format!("{denied_by}: readonly-rootfs: ")),
                "{msg}"
            );
            assert!(
                msg.contains("dockerd 27+")
                    && msg.contains(r#"{"HostConfig":{"ReadonlyRootfs":true}}"#),
                "the message must tell the user to put it under HostConfig: {msg}"
            );
            // The same setting under HostConfig is allowed.
            let (status, msg) = raw_create(
                &d,
                "/v1.41/containers/create?name=underhc",
                r#"{"Image":"bb:latest","Cmd":["true"],"HostConfig":{"ReadonlyRootfs":true}}"#,
            );
            assert_eq!(status, 201, "{msg}");
            assert!(d.is_read_only("underhc"));
            d.docker_ok(&["rm", "underhc"]);
        },
    );

    cases.run(&d, "encoded and absolute paths are still creates", || {
        let writable = json!({"Image": "bb:latest", "Cmd": ["true"]});
        for path in [
            "/v1.41/containers%2Fcreate",
            "/v1.41/%63ontainers/create",
            "/containers/create?x=/auth",
            "/v1.41/containers/create?name=a&name=b",
        ] {
            let (status, msg) = raw_create(&d, path, &writable);
            assert_eq!(status, 403, "{path}: {msg}");
            assert!(msg.contains(&denied_by), "{path}: {msg}");
        }
        // Absolute-form request target, sent raw.
        let body = writable.to_string();
        let req = format!(
            "POST http://docker/v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let resp = d.raw_http(req.as_bytes());
        assert!(resp.raw_text().contains(" 403 "), "{}", resp.raw_text());
        assert!(d.container_ids().is_empty());
    });

    cases.run(
        &d,
        "chunked writable create is denied, chunked read-only allowed",
        || {
            let chunks = |v: serde_json::Value| {
                let bytes = v.to_string().into_bytes();
                let mid = bytes.len() / 2;
                ApiBody::Chunked(vec![bytes[..mid].to_vec(), bytes[mid..].to_vec()])
            };
            let (status, msg) = raw_create(
                &d,
                "/v1.41/containers/create",
                chunks(json!({"Image": "bb:latest"})),
            );
            assert_eq!(status, 403, "{msg}");
            let (status, msg) = raw_create(
                &d,
                "/v1.41/containers/create?name=chunkro",
                chunks(json!({"Image": "bb:latest", "HostConfig": {"ReadonlyRootfs": true}})),
            );
            assert_eq!(status, 201, "{msg}");
            d.docker_ok(&["rm", "chunkro"]);
        },
    );

    cases.run(&d, "read-only but remountable creates are denied", || {
        let err = d.docker_fails(&["create", "--read-only", "--cap-add", "SYS_ADMIN", "bb:latest", "true"]);
        assert!(err.contains(&denied_by) && err.contains("remount"), "{err}");
        let err = d.docker_fails(&["create", "--read-only", "--cap-add", "ALL", "bb:latest", "true"]);
        assert!(err.contains(&denied_by), "{err}");
        let err = d.docker_fails(&["create", "--read-only", "--privileged", "bb:latest", "true"]);
        assert!(err.contains(&denied_by), "{err}");
        for body in [
            r#"{"Image":"bb:latest","HostConfig":{"ReadonlyRootfs":true,"CapAdd":"cap_sys_admin"}}"#,
            "{\"Image\":\"bb:latest\",\"HostConfig\":{\"ReadonlyRootfs\":true,\"CapAdd\":[\"\u{017F}ys_admin\"]}}",
        ] {
            let (status, msg) = raw_create(&d, "/v1.41/containers/create", body);
            assert_eq!(status, 403, "{body}: {msg}");
        }
        // A harmless capability is fine.
        let id = d.docker_ok(&["create", "--read-only", "--cap-add", "NET_ADMIN", "bb:latest", "true"]);
        d.docker_ok(&["rm", &id]);
        assert!(d.container_ids().is_empty());
    });

    cases.run(&d, "privileged exec is denied, plain exec works", || {
        d.docker_ok(&[
            "run",
            "-d",
            "--name",
            "ro-running",
            "--read-only",
            "bb:latest",
            "sleep",
            "300",
        ]);
        let err = d.docker_fails(&[
            "exec",
            "--privileged",
            "ro-running",
            "mount",
            "-o",
            "remount,rw",
            "/",
        ]);
        assert!(
            err.contains(&denied_by) && err.contains("exec-privileged"),
            "{err}"
        );
        assert_eq!(d.docker_ok(&["exec", "ro-running", "echo", "ok"]), "ok");
        let err = d.docker_fails(&["exec", "ro-running", "touch", "/x"]);
        assert!(err.contains("Read-only file system"), "{err}");
        d.docker_ok(&["rm", "-f", "ro-running"]);
    });

    cases.run(&d, "plugin management is denied to non-admins", || {
        let err = d.docker_fails(&["plugin", "disable", plugin.name()]);
        assert!(
            err.contains(&denied_by) && err.contains("self-protection"),
            "{err}"
        );
        for (method, path) in [
            ("POST", format!("/v1.41/plugins/{}/disable", plugin.name())),
            ("POST", "/v1.41/plugins%2Fanything%2Fdisable".to_owned()),
            (
                "DELETE",
                format!("/v1.41/plugins/{}:latest?force=1", plugin.name()),
            ),
            (
                "POST",
                "/v1.41/plugins/pull?remote=example.invalid/evil:latest".to_owned(),
            ),
        ] {
            let (status, v) = d.api_json(method, &path, &[("Content-Length", "0")], ());
            assert_eq!(status, 403, "{method} {path}: {v}");
        }
        guard_still_enforces(&d);
    });

    cases.run(&d, "swarm join is denied", || {
        let (status, v) = d.api_json(
            "POST",
            "/v1.41/swarm/join",
            &[("Content-Type", "application/json")],
            json!({"ListenAddr": "127.0.0.1:2377", "RemoteAddrs": ["127.0.0.1:1"], "JoinToken": "x"}),
        );
        assert_eq!(status, 403, "{v}");
        assert!(v.to_string().contains("swarm-join"), "{v}");
    });

    cases.run(&d, "swarm services are judged on their spec", || {
        let init = support::swarm_init_args();
        d.docker_ok(&init.iter().map(String::as_str).collect::<Vec<_>>());
        let err = d.docker_fails(&[
            "service",
            "create",
            "--name",
            "rw",
            "bb:latest",
            "sleep",
            "300",
        ]);
        assert!(err.contains(&denied_by), "{err}");
        let err = d.docker_fails(&[
            "service",
            "create",
            "--name",
            "capped",
            "--read-only",
            "--cap-add",
            "CAP_SYS_ADMIN",
            "bb:latest",
            "sleep",
            "300",
        ]);
        assert!(err.contains(&denied_by) && err.contains("remount"), "{err}");
        d.docker_ok(&[
            "service",
            "create",
            "--detach",
            "--name",
            "ro",
            "--read-only",
            "bb:latest",
            "sleep",
            "300",
        ]);
        let err = d.docker_fails(&["service", "update", "--detach", "--read-only=false", "ro"]);
        assert!(err.contains(&denied_by), "{err}");
        let err = d.docker_fails(&["service", "rollback", "--detach", "ro"]);
        assert!(
            err.contains(&denied_by) && err.contains("rollback"),
            "{err}"
        );
        // The allowed service's task container is read-only.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let task = loop {
            let ids = d.container_ids();
            if let Some(id) = ids.first() {
                break id.clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "service task never started"
            );
            std::thread::sleep(std::time::Duration::from_millis(250));
        };
        assert!(d.is_read_only(&task), "swarm task {task} is writable");
        d.docker_ok(&["service", "rm", "ro"]);
        d.docker_ok(&["swarm", "leave", "--force"]);
        d.remove_all_containers();
    });

    cases.run(&d, "the guard is still enforcing at the end", || {
        guard_still_enforces(&d);
    });

    let logs = plugin.logs();
    cases.finish(&d, &[("plugin log", logs)]);
}
