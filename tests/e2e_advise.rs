//! End-to-end: `rootfs-guard advise` against a real private dockerd guarded by the enforcing
//! plugin. An image made here (static busybox + a script) writes /tmp/a, /run/app.pid,
//! /var/cache/app/b and /data/c and fails on the first write that fails. A writable (allow-labelled)
//! run of it is advised on; its proposal (tmpfs /tmp, /run, /var/cache; a volume for /data) is then
//! run exactly as printed, `--read-only` included, through the plugin: allowed, and it exits 0.
//! Without the mounts, read-only, it fails. `advise --image` on the same image (a trial container)
//! proposes the same mounts and leaves nothing behind; `audit --advise` attaches the proposal to
//! the violation; environment values never appear in any output.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use support::{Cases, PluginProcess, PrivateDockerd, ALLOW_LABEL_KEY, ALLOW_LABEL_VALUE, BUSYBOX};

const IMAGE: &str = "adv:latest";
const SECRET: &str = "s3cr3t-Value-never-printed";

/// What the image runs: every write must succeed, or the script exits non-zero.
const APP_SH: &str = "#!/bin/sh
set -e
echo a > /tmp/a
mkdir -p /run /var/cache/app /data
echo $$ > /run/app.pid
echo b > /var/cache/app/b
echo c > /data/c
cat /tmp/a /run/app.pid /var/cache/app/b /data/c > /dev/null
echo app-ok
";

/// The mounts the issue asks for, as `(type, path)`; `/var/cache/app` would do as well.
fn expected_mounts(found: &BTreeSet<(String, String)>) -> bool {
    let want = |cache: &str| -> BTreeSet<(String, String)> {
        [
            ("tmpfs", "/tmp"),
            ("tmpfs", "/run"),
            ("tmpfs", cache),
            ("volume", "/data"),
        ]
        .iter()
        .map(|(k, p)| (k.to_string(), p.to_string()))
        .collect()
    };
    *found == want("/var/cache") || *found == want("/var/cache/app")
}

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rootfs-guard"))
}

/// `rootfs-guard ARGS` against `d`: (exit code, stdout, stderr).
fn guard(d: &PrivateDockerd, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .env("DOCKER_HOST", d.host())
        .env_remove("ROOTFS_GUARD_POLICY");
    let out = support::run_with_timeout(cmd, None, support::DEFAULT_TIMEOUT);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `advise ARGS --format json`, which must exit 0; the parsed report.
fn advise_json(d: &PrivateDockerd, args: &[&str]) -> Value {
    let mut all = vec!["advise", "--format", "json"];
    all.extend_from_slice(args);
    let (code, out, err) = guard(d, &all);
    assert_eq!(
        code, 0,
        "advise {args:?}: exit {code}\nstdout: {out}\nstderr: {err}"
    );
    assert!(
        !out.contains(SECRET) && !err.contains(SECRET),
        "secret leaked: {out}{err}"
    );
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["schema"], "rootfs-guard/advise/v1");
    assert_eq!(v["errors"], serde_json::json!([]), "{v}");
    v
}

fn mounts_of(advice: &Value) -> BTreeSet<(String, String)> {
    advice["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["type"].as_str().unwrap().to_owned(),
                m["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn argv(advice: &Value) -> Vec<String> {
    advice["docker_run"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

/// Builds IMAGE: the static busybox, a few applets, an empty /tmp and /app.sh as the command.
fn build_image(d: &PrivateDockerd) {
    let root = tempfile::tempdir().unwrap();
    let bin = root.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(root.path().join("tmp")).unwrap();
    std::fs::copy(BUSYBOX, bin.join("busybox")).unwrap();
    for applet in ["sh", "mkdir", "echo", "cat", "true", "sleep", "ls", "touch"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    let app = root.path().join("app.sh");
    std::fs::write(&app, APP_SH).unwrap();
    std::fs::set_permissions(&app, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut tar = Command::new("tar");
    tar.arg("-C")
        .arg(root.path())
        .args(["--owner=0", "--group=0", "-c", "."]);
    let tarball = support::run_with_timeout(tar, None, support::DEFAULT_TIMEOUT);
    assert!(tarball.status.success());
    let out = d.docker_stdin(
        &["import", "--change", r#"CMD ["/app.sh"]"#, "-", IMAGE],
        &tarball.stdout,
    );
    assert!(
        out.status.success(),
        "docker import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn advise_against_enforcing_plugin() {
    if !support::e2e_enabled("advise_against_enforcing_plugin") {
        return;
    }
    let plugin = PluginProcess::start(None);
    let d = PrivateDockerd::start(&[&plugin.authz_arg()]);
    build_image(&d);
    let denied_by = format!("authorization denied by plugin {}", plugin.name());
    let allow = format!("{ALLOW_LABEL_KEY}={ALLOW_LABEL_VALUE}");
    let secret_env = format!("SECRET_TOKEN={SECRET}");
    let mut cases = Cases::new();

    cases.run(&d, "the image fails read-only without mounts", || {
        let (status, out, err) = d.docker_res(&["run", "--rm", "--read-only", IMAGE]);
        assert!(!status.success(), "ran read-only without mounts: {out}");
        assert!(err.contains("Read-only file system"), "{err}");
        // Writable it is denied by the plugin; allow-labelled it works.
        let err = d.docker_fails(&["run", "--rm", IMAGE]);
        assert!(err.contains(&denied_by), "{err}");
        let out = d.docker_ok(&["run", "--rm", "-l", &allow, IMAGE]);
        assert_eq!(out, "app-ok");
    });

    cases.run(
        &d,
        "advise CONTAINER proposes mounts that make it run read-only",
        || {
            d.docker_ok(&[
                "run",
                "--name",
                "adv-src",
                "-l",
                &allow,
                "-e",
                &secret_env,
                IMAGE,
            ]);
            let report = advise_json(&d, &["adv-src"]);
            let a = &report["advice"][0];
            assert_eq!(a["source"], "container");
            assert_eq!(a["complete"], true, "{a}");
            let mounts = mounts_of(a);
            assert!(expected_mounts(&mounts), "proposed: {mounts:?}\n{a}");
            // Each written path maps to the mount that covers it.
            for p in a["paths"].as_array().unwrap() {
                let path = p["path"].as_str().unwrap();
                let by = p["covered_by"]["path"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{p}"));
                assert!(path.starts_with(&format!("{by}/")), "{path} under {by}");
            }
            let written: BTreeSet<&str> = a["paths"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["path"].as_str().unwrap())
                .collect();
            assert_eq!(
                written,
                BTreeSet::from(["/tmp/a", "/run/app.pid", "/var/cache/app/b", "/data/c"])
            );
            let args = argv(a);
            assert_eq!(&args[..3], ["docker", "run", "--read-only"], "{args:?}");
            assert!(
                args.windows(2).any(|w| w == ["-e", "SECRET_TOKEN"]),
                "{args:?}"
            );
            assert!(
                !args.iter().any(|x| x.contains(ALLOW_LABEL_KEY)),
                "{args:?}"
            );
            // Exactly the proposed mounts, nothing else mounted.
            let mount_args: BTreeSet<String> = args
                .windows(2)
                .filter(|w| w[0] == "--tmpfs" || w[0] == "-v")
                .map(|w| w[1].clone())
                .collect();
            let proposed: BTreeSet<String> = a["mounts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["flag"][1].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(mount_args, proposed);
            assert!(a["compose"].as_str().unwrap().contains("read_only: true"));

            // The text form says the same and never the secret.
            let (code, text, _) = guard(&d, &["advise", "adv-src"]);
            assert_eq!(code, 0, "{text}");
            assert!(
                text.contains("--read-only") && text.contains("SECRET_TOKEN"),
                "{text}"
            );
            assert!(!text.contains(SECRET), "{text}");

            // Run the proposal as printed, through the enforcing plugin: allowed, and exits 0.
            d.docker_ok(&["rm", "adv-src"]);
            let out = d.docker_ok(&args[1..].iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!(out, "app-ok");
            let c = d.inspect("adv-src");
            assert_eq!(c["HostConfig"]["ReadonlyRootfs"], true);
            assert_eq!(c["Config"]["Labels"][ALLOW_LABEL_KEY], Value::Null);
            assert_eq!(c["State"]["ExitCode"], 0);
            // Re-advising the compliant container proposes nothing new.
            let again = advise_json(&d, &["adv-src"]);
            assert_eq!(
                again["advice"][0]["mounts"],
                serde_json::json!([]),
                "{again}"
            );
            assert_eq!(again["advice"][0]["read_only"], true);
            d.docker_ok(&["rm", "adv-src"]);
            d.docker_ok(&["volume", "rm", "adv-src-data"]);
        },
    );

    cases.run(&d, "advise --image proposes the same and cleans up", || {
        let before = d.container_ids();
        let report = advise_json(&d, &["--image", IMAGE, "--seconds", "20"]);
        let a = &report["advice"][0];
        assert_eq!(a["source"], "trial");
        let mounts = mounts_of(a);
        assert!(expected_mounts(&mounts), "proposed: {mounts:?}\n{a}");
        assert_eq!(d.container_ids(), before, "trial container left behind");
        let args = argv(a);
        assert!(
            !args.iter().any(|x| x.contains("rootfs-guard.")),
            "{args:?}"
        );
        assert!(!args.contains(&"--name".to_owned()), "{args:?}");
        // The proposal for the image runs read-only through the plugin too.
        let mut run: Vec<&str> = vec!["run", "--rm"];
        run.extend(args[2..].iter().map(String::as_str));
        assert_eq!(d.docker_ok(&run), "app-ok");
        d.docker_ok(&["volume", "rm", "adv-data"]);
    });

    cases.run(&d, "advise --image with a command, env and a hint", || {
        let report = advise_json(
            &d,
            &[
                "--image",
                IMAGE,
                "--seconds",
                "2",
                "--tmpfs",
                "/data",
                "-e",
                &secret_env,
                "--",
                "sh",
                "-c",
                "mkdir /data && echo x > /data/y && sleep 30",
            ],
        );
        let a = &report["advice"][0];
        assert_eq!(
            mounts_of(a),
            BTreeSet::from([("tmpfs".to_owned(), "/data".to_owned())])
        );
        let args = argv(a);
        assert!(
            args.windows(2).any(|w| w == ["-e", "SECRET_TOKEN"]),
            "{args:?}"
        );
        assert!(
            args.ends_with(&[
                "sh".into(),
                "-c".into(),
                "mkdir /data && echo x > /data/y && sleep 30".into()
            ]),
            "{args:?}"
        );
        // It was still running when --seconds ran out: the advice says so.
        let notes = a["notes"].to_string();
        assert!(notes.contains("was stopped after 2 s"), "{notes}");
        assert!(d.container_ids().is_empty());
    });

    cases.run(
        &d,
        "audit --advise attaches the proposal to the violation",
        || {
            d.docker_ok(&["run", "--name", "adv-audit", "-l", &allow, IMAGE]);
            // A policy without allow labels: the labelled container is a violation to the audit.
            let dir = tempfile::tempdir().unwrap();
            let strict = dir.path().join("strict.json");
            std::fs::write(&strict, r#"{"allow_labels": []}"#).unwrap();
            let strict = strict.to_str().unwrap();
            let (code, out, err) = guard(
                &d,
                &["audit", "--policy", strict, "--advise", "--format", "json"],
            );
            assert_eq!(code, 1, "{out}\n{err}");
            let v: Value = serde_json::from_str(&out).unwrap();
            let row = v["containers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == "adv-audit")
                .unwrap_or_else(|| panic!("{v}"));
            assert_eq!(row["verdict"], "violation");
            assert!(expected_mounts(&mounts_of(&row["advice"])), "{row}");
            // Without --advise there is no advice key; the table form prints the advice after it.
            let (_, out, _) = guard(&d, &["audit", "--policy", strict, "--format", "json"]);
            assert!(!out.contains("\"advice\""), "{out}");
            let (code, out, _) = guard(&d, &["audit", "--policy", strict, "--advise"]);
            assert_eq!(code, 1);
            assert!(
                out.contains("== container adv-audit") && out.contains("docker run"),
                "{out}"
            );
            d.docker_ok(&["rm", "adv-audit"]);
        },
    );

    cases.run(&d, "errors: unknown container, refused trial", || {
        let (code, out, err) = guard(&d, &["advise", "no-such-container"]);
        assert_eq!(code, 2, "{out}");
        assert!(
            err.contains("no such container: no-such-container"),
            "{err}"
        );
        let (code, _, err) = guard(&d, &["advise", "--image", "no-such-image:1"]);
        assert_eq!(code, 2);
        assert!(err.contains("docker pull it first"), "{err}");
    });

    let logs = plugin.logs();
    cases.finish(&d, &[("plugin log", logs)]);
}

/// A trial that the policy refuses says what the operator must permit.
#[test]
fn advise_image_refused_by_policy() {
    if !support::e2e_enabled("advise_image_refused_by_policy") {
        return;
    }
    let plugin = PluginProcess::start(Some(r#"{"allow_labels": []}"#));
    let d = PrivateDockerd::start(&[&plugin.authz_arg()]);
    build_image(&d);
    let mut cases = Cases::new();
    cases.run(&d, "refused trial names the labels to allow", || {
        let (code, _, err) = guard(&d, &["advise", "--image", IMAGE]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("the trial container was refused"), "{err}");
        assert!(err.contains("rootfs-guard.trial=true"), "{err}");
        assert!(d.container_ids().is_empty());
    });
    let logs = plugin.logs();
    cases.finish(&d, &[("plugin log", logs)]);
}
