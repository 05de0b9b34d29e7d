//! Rendering: shell quoting, the command line and compose service, the JSON schema and the
//! text, and that environment values never reach the output.

use super::*;

#[test]
fn sh_quoting() {
    for (arg, quoted) in [
        ("plain-arg_1.0:/x,y=z@%+", "plain-arg_1.0:/x,y=z@%+"),
        ("", "''"),
        ("a b", "'a b'"),
        ("it's", r"'it'\''s'"),
        ("$HOME", "'$HOME'"),
        ("a;rm -rf /", "'a;rm -rf /'"),
    ] {
        assert_eq!(sh_quote(arg), quoted);
    }
}

#[test]
fn command_line_and_compose_rendering() {
    let (container, image) = full_inspect();
    let c = ContainerConfig::from_inspect(&container, Some(&image)).unwrap();
    let mut o = Options::new("web", Source::Container);
    o.drop_labels = vec![("rootfs-guard.allow-writable".into(), "true".into())];
    let a = advise(
        &c,
        &ch(&[
            ("/tmp", C),
            ("/tmp/x", A),
            ("/var", C),
            ("/var/lib", C),
            ("/var/lib/app", A),
            ("/var/lib/app/db", A),
        ]),
        &o,
    );
    assert_eq!(
        a.docker_run,
        [
            "docker",
            "run",
            "-d",
            "-i",
            "-t",
            "--read-only",
            "--name",
            "web",
            "-u",
            "1000:1000",
            "-w",
            "/srv/app",
            "--entrypoint",
            "/bin/sh",
            "--restart",
            "on-failure:3",
            "--network",
            "appnet",
            "-p",
            "8443:443",
            "-p",
            "[::1]:8443:443",
            "-p",
            "53/udp",
            "-p",
            "127.0.0.1:8080:80",
            "--expose",
            "9000/tcp",
            "-e",
            "DB_PASSWORD",
            "-e",
            "API_TOKEN",
            "-e",
            "EMPTY",
            "-e",
            "NOEQUALS",
            "-l",
            "team=web",
            "-v",
            "webdata:/data",
            "-v",
            "/etc/site:/etc/nginx/conf.d:ro",
            "-v",
            "/host/logs:/logs",
            "--tmpfs",
            "/run:size=1m",
            "-v",
            "/scratch",
            "--tmpfs",
            "/t2",
            "--tmpfs",
            "/tmp",
            "-v",
            "web-var-lib-app:/var/lib/app",
            "nginx:1.25",
            "-e",
            "-c",
            "echo it's $HOME",
        ]
    );
    assert!(a
        .docker_run_line
        .ends_with(r"nginx:1.25 -e -c 'echo it'\''s $HOME'"));
    let multi = run_command_multiline(&a.docker_run);
    assert!(
        multi.starts_with("docker run \\\n    -d \\\n    -i"),
        "{multi}"
    );
    assert!(multi.contains("\\\n    --name web \\\n"), "{multi}");
    assert!(
        multi.ends_with("\\\n    nginx:1.25 -e -c 'echo it'\\''s $HOME'"),
        "{multi}"
    );
    let expected_compose = r#"services:
  web:
    image: "nginx:1.25"
    read_only: true
    entrypoint: ["/bin/sh","-e"]
    command: ["-c","echo it's $$HOME"]
    user: "1000:1000"
    working_dir: "/srv/app"
    restart: "on-failure:3"
    network_mode: "appnet"
    stdin_open: true
    tty: true
    environment:
      - "DB_PASSWORD"
      - "API_TOKEN"
      - "EMPTY"
      - "NOEQUALS"
    ports:
      - "8443:443"
      - "[::1]:8443:443"
      - "53/udp"
      - "127.0.0.1:8080:80"
    expose:
      - "9000/tcp"
    labels:
      "team": "web"
    tmpfs:
      - "/run:size=1m"
      - "/t2"
      - "/tmp"
    volumes:
      - "webdata:/data"
      - "/etc/site:/etc/nginx/conf.d:ro"
      - "/host/logs:/logs"
      - "/scratch"
      - "web-var-lib-app:/var/lib/app"
volumes:
  "webdata":
    name: "webdata"
    external: true
  "web-var-lib-app":
    name: "web-var-lib-app"
"#;
    assert_eq!(a.compose, expected_compose);
}

#[test]
fn environment_values_never_reach_the_output() {
    let (container, image) = full_inspect();
    let secrets = ["hunter2-secret", "tok-XYZZY"];
    for img in [Some(&image), None] {
        let c = ContainerConfig::from_inspect(&container, img).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"), "kept in the config");
        for source in [Source::Container, Source::Trial] {
            let a = advise(
                &c,
                &ch(&[("/tmp", C), ("/tmp/x", A), ("/app", C), ("/app/y", A)]),
                &Options::new("web", source),
            );
            let outputs = [
                serde_json::to_string(&a).unwrap(),
                render_text(&a),
                a.compose.clone(),
                a.docker_run_line.clone(),
            ];
            for out in outputs {
                for s in secrets {
                    assert!(!out.contains(s), "{s} leaked into {out}");
                }
                assert!(out.contains("DB_PASSWORD"), "the name is shown: {out}");
            }
        }
    }
}

#[test]
fn trial_advice_is_for_the_image() {
    let container = json!({
        "Id": "7e57",
        "Name": "/rootfs-guard-trial-1",
        "State": {"StartedAt": "2024-01-01T00:00:00Z"},
        "Config": {
            "Image": "bb:latest", "Cmd": ["/app.sh"], "Env": ["MODE=x"],
            "Labels": {"rootfs-guard.allow-writable": "true", "rootfs-guard.trial": "true"},
            "AttachStdout": false, "AttachStderr": false
        },
        "HostConfig": {"ReadonlyRootfs": false, "RestartPolicy": {"Name": "no"}, "NetworkMode": "default"}
    });
    let image = json!({"Config": {"Cmd": ["/app.sh"]}});
    let c = ContainerConfig::from_inspect(&container, Some(&image)).unwrap();
    let mut o = Options::new("bb:latest", Source::Trial);
    o.drop_labels = vec![("rootfs-guard.allow-writable".into(), "true".into())];
    let a = advise(&c, &ch(E2E_CHANGES), &o);
    assert_eq!(
        a.docker_run_line,
        "docker run --read-only -e MODE -v bb-data:/data --tmpfs /run --tmpfs /tmp \
         --tmpfs /var/cache bb:latest"
    );
    assert!(a.compose.starts_with("services:\n  bb:\n"), "{}", a.compose);
    assert!(!a.compose.contains("rootfs-guard."), "{}", a.compose);
    // As a container (advise on the trial itself) the name and -d are kept, the trial label too.
    let a = advise(&c, &ch(E2E_CHANGES), &Options::new("x", Source::Container));
    assert!(a
        .docker_run_line
        .starts_with("docker run -d --read-only --name rootfs-guard-trial-1"));
    assert!(a.docker_run_line.contains("-l rootfs-guard.trial=true"));
}

#[test]
fn json_schema_shape() {
    let a = run(&cfg("web"), E2E_CHANGES);
    let errors = [TargetError {
        target: "nope".into(),
        error: "no such container".into(),
    }];
    let v = serde_json::to_value(Report {
        schema: SCHEMA,
        advice: std::slice::from_ref(&a),
        errors: &errors,
    })
    .unwrap();
    assert_eq!(v["schema"], "rootfs-guard/advise/v1");
    let adv = &v["advice"][0];
    for key in [
        "target",
        "source",
        "container",
        "image",
        "read_only",
        "complete",
        "mounts",
        "existing_mounts",
        "paths",
        "warnings",
        "notes",
        "docker_run",
        "docker_run_line",
        "compose",
    ] {
        assert!(adv.get(key).is_some(), "missing {key}: {adv}");
    }
    assert_eq!(adv["source"], "container");
    assert_eq!(
        adv["mounts"][0],
        json!({"type": "volume", "path": "/data", "name": "web-data",
               "flag": ["-v", "web-data:/data"], "rule": "data", "reason": "data",
               "new_dir": true, "hidden_image_paths": [], "covers": ["/data/c"]})
    );
    assert_eq!(
        adv["paths"][0],
        json!({"path": "/data/c", "change": "added",
               "covered_by": {"path": "/data", "type": "volume", "proposed": true}})
    );
    assert_eq!(v["errors"][0]["target"], "nope");
}

#[test]
fn text_rendering() {
    let mut c = cfg("web");
    c.env_keys = vec!["TOKEN".into()];
    let mut changes = E2E_CHANGES.to_vec();
    changes.extend([
        ("/bin", C),
        ("/bin/rm", D),
        ("/app", C),
        ("/app/config.json", C),
    ]);
    changes.push(("/app/state.db", A));
    let text = render_text(&run(&c, &changes));
    for line in [
        "== container web (bb:latest)\n",
        "\n  A /tmp/a            --tmpfs /tmp\n",
        "\n  A /data/c           -v web-data:/data\n",
        "\n  D /bin/rm           NOT COVERABLE: deleted in /bin, a system directory",
        "\n  --tmpfs /var/cache               cache (the container created /var/cache)\n",
        "\nwarning: the volume at /app covers image files the container changed or deleted \
         (/app/config.json)",
        "\n  docker run \\\n    --read-only \\\n    --name web \\\n    -e TOKEN \\\n",
        "\n    --tmpfs /var/cache \\\n    bb:latest\n",
        "\nOr with compose:\n\n  services:\n    web:\n      image: \"bb:latest\"\n",
        "\nnote: environment values are not shown",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
}
