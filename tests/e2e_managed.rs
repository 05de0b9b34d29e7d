//! End-to-end test of the managed-plugin install form, following docs/install-and-recover.md step by step
//! against a real private dockerd: `make plugin` (static binary, `docker plugin create`),
//! `docker plugin enable` with nothing prepared on the host (embedded default policy, enforcing
//! after dockerd restarts with it), a set-but-missing or invalid policy file failing enable,
//! `make plugin-enable PLUGIN_POLICY=FILE` (validated, `docker plugin set`, enable),
//! dockerd restarted with `--authorization-plugin=NAME:VERSION`, the core cases, the
//! self-protection rule refusing `docker plugin disable`, policy reload with SIGHUP sent from the
//! host, what happens when the plugin process dies, and the documented recovery (dockerd started
//! without the plugin, then the plugin disabled and removed) so that cleanup works.
//!
//! The static release build is the slow part; cargo caches it in target/<host triple>/, so only
//! the first run pays for it. Timings are printed (`--nocapture`).

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rootfs_guard::authz::policy::DEFAULT_POLICY_JSON;
use serde_json::json;
use support::{
    error_message, run_with_timeout, split_output, unique_suffix, wait_until, Cases,
    PrivateDockerd, ALLOW_LABEL_KEY, ALLOW_LABEL_VALUE,
};

/// A cold static release build on a busy 2-core machine takes minutes.
const BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// `make ARGS` in the repository, aimed at `d` the way an operator aims the docker CLI.
fn make(d: &PrivateDockerd, args: &[&str], timeout: Duration) -> (bool, String, String) {
    let mut cmd = Command::new("make");
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("--no-print-directory")
        .args(args)
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.dir().join("cli-config"))
        .env("DOCKER_CLI_HINTS", "false")
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .env_remove("DOCKER_API_VERSION");
    let (status, out, err) = split_output(run_with_timeout(cmd, None, timeout));
    (status.success(), out, err)
}

fn make_ok(d: &PrivateDockerd, args: &[&str], timeout: Duration) -> String {
    let (ok, out, err) = make(d, args, timeout);
    assert!(ok, "make {args:?} failed:\nstdout: {out}\nstderr: {err}");
    out
}

/// `ctr` against the containerd that runs `d`'s managed plugins, as docs/install-and-recover.md uses it
/// (there: `ctr --namespace plugins.moby ...` on a stock dockerd).
fn ctr(d: &PrivateDockerd, args: &[&str]) -> String {
    let mut cmd = Command::new("ctr");
    cmd.arg("--address")
        .arg(d.containerd_socket())
        .arg("--namespace")
        .arg(format!("{}-plugins", d.containerd_namespace()))
        .args(args);
    let (status, out, err) = split_output(run_with_timeout(cmd, None, Duration::from_secs(30)));
    assert!(status.success(), "ctr {args:?} failed: {err}");
    out
}

/// The pid of the plugin's process (`ctr task ls`), if it runs.
fn plugin_pid(d: &PrivateDockerd, id: &str) -> Option<u32> {
    ctr(d, &["task", "ls"])
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cols| cols.first() == Some(&id) && cols.get(2) == Some(&"RUNNING"))
        .and_then(|cols| cols.get(1)?.parse().ok())
}

/// Replaces the policy file atomically, as an editor or config management would.
fn write_policy(dir: &Path, json: &str) {
    let tmp = dir.join("policy.json.new");
    std::fs::write(&tmp, json).expect("write policy");
    std::fs::rename(&tmp, dir.join("policy.json")).expect("replace policy");
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}

/// Removes this run's managed-plugin state under /run/docker/plugins if dockerd left any (only
/// after a failure; the documented removal cleans it up).
struct PluginRunDir(Option<PathBuf>);

impl Drop for PluginRunDir {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take().filter(|d| d.exists()) {
            eprintln!("cleanup: removing leftover {}", dir.display());
            if let Ok(c) = std::ffi::CString::new(dir.to_string_lossy().as_bytes()) {
                // SAFETY: valid NUL-terminated path; MNT_DETACH cannot hang.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

#[test]
fn managed_plugin() {
    if !support::e2e_enabled("managed_plugin") {
        return;
    }
    let started = Instant::now();
    let work = tempfile::Builder::new()
        .prefix("rgm-")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let policy_dir = work.path().join("policy");
    let name = format!("rg-e2e-managed-{}", unique_suffix());
    let plugin = format!("{name}:{}", env!("CARGO_PKG_VERSION"));
    let name_arg = format!("PLUGIN_NAME={name}");
    let mut run_dir = PluginRunDir(None);
    let mut d = PrivateDockerd::start(&[]);
    d.import_busybox("bb:latest");

    // docs/install-and-recover.md, "Install as a managed plugin": make plugin, make plugin-enable.
    let t = Instant::now();
    let build_dir = format!("PLUGIN_BUILD_DIR={}", work.path().join("build").display());
    make_ok(&d, &["plugin", &name_arg, &build_dir], BUILD_TIMEOUT);
    eprintln!(
        "make plugin (static build + docker plugin create): {:.1?}",
        t.elapsed()
    );
    let id = d.docker_ok(&["plugin", "inspect", "-f", "{{.Id}}", &plugin]);
    run_dir.0 = Some(Path::new("/run/docker/plugins").join(&id));
    let rootfs_bin = d
        .data_root()
        .join(format!("plugins/{id}/rootfs/rootfs-guard"));
    let mut ldd = Command::new("ldd");
    ldd.arg(&rootfs_bin);
    let (_, out, err) = split_output(run_with_timeout(ldd, None, Duration::from_secs(30)));
    assert!(
        out.contains("statically linked") || err.contains("not a dynamic executable"),
        "plugin binary is not static: {out}{err}"
    );

    let denied_by = format!("authorization denied by plugin {plugin}");
    let flag = format!("--authorization-plugin={plugin}");
    std::fs::create_dir_all(&policy_dir).expect("create the operator's policy dir");

    let mut cases = Cases::new();
    cases.run_mut(
        &mut d,
        "nothing prepared: docker plugin enable, dockerd restarted with it enforces the default policy",
        |d| {
            // README quick start: docker plugin enable, then dockerd --authorization-plugin=NAME:TAG.
            let t = Instant::now();
            d.docker_ok(&["plugin", "enable", &plugin]);
            eprintln!("docker plugin enable with nothing prepared: {:.1?}", t.elapsed());
            wait_until(
                "the plugin's start line (embedded default policy) in dockerd's log",
                Duration::from_secs(10),
                || {
                    d.log()
                        .lines()
                        .any(|l| l.contains("listening") && l.contains("(embedded default)"))
                },
            );
            let t = Instant::now();
            d.restart(&[&flag]);
            eprintln!("dockerd restart with the unprepared plugin: {:.1?}", t.elapsed());
            let err = d.docker_fails(&["create", "bb:latest", "sh"]);
            assert!(err.contains(&denied_by), "stderr: {err}");
            let created = d.docker_ok(&["create", "--read-only", "bb:latest", "true"]);
            d.docker_ok(&["rm", &created]);
            // Out of dockerd first (docs: Uninstall), then the plugin can be disabled.
            d.restart(&[]);
            d.docker_ok(&["plugin", "disable", &plugin]);
        },
    );

    // docs/install-and-recover.md, "What the operator can set": a policy file is opt-in; one that
    // is set but missing or invalid stops the plugin at start, and enable fails.
    for (case, file, content, why) in [
        (
            "a set but missing policy file fails enable; dockerd's log names it",
            "missing.json",
            None,
            "No such file or directory",
        ),
        (
            "an invalid policy file fails enable; dockerd's log names it",
            "broken.json",
            Some("{ not json"),
            "line 1, column 3",
        ),
    ] {
        cases.run(&d, case, || {
            if let Some(content) = content {
                std::fs::write(policy_dir.join(file), content).unwrap();
            }
            let in_plugin = format!("/etc/docker/{file}");
            d.docker_ok(&[
                "plugin",
                "set",
                &plugin,
                &format!("etc-docker.source={}", policy_dir.display()),
                &format!("ROOTFS_GUARD_POLICY={in_plugin}"),
            ]);
            // dockerd 20.10 right after a failed enable can refuse the next one at once with
            // "failed to start shim: ... getwd: no such file or directory" or "error creating
            // containerd container: id already in use" (its cleanup of the last attempt is still
            // running); docs/install-and-recover.md says to wait and run it again.
            let mut err = String::new();
            let mut t = Instant::now();
            for attempt in 1..=5 {
                t = Instant::now();
                err = d.docker_fails(&["plugin", "enable", &plugin]);
                if !err.contains("getwd") && !err.contains("id already in use") {
                    break;
                }
                eprintln!(
                    "enable attempt {attempt} after a failed one: {}",
                    err.trim()
                );
                std::thread::sleep(Duration::from_secs(2));
            }
            eprintln!(
                "enable with {in_plugin} ({case}): failed after {:.1?}: {}",
                t.elapsed(),
                err.trim()
            );
            assert!(
                err.contains("no such file or directory") && err.contains("rootfs-guard.sock"),
                "enable failed for another reason: {err}"
            );
            assert!(!err.contains("error mounting"), "a runc mount error: {err}");
            let line = d
                .log()
                .lines()
                .find(|l| {
                    l.contains("cannot start without a valid policy") && l.contains(&in_plugin)
                })
                .map(str::to_owned);
            let line = line.unwrap_or_else(|| {
                panic!(
                    "no start failure naming {in_plugin} in dockerd's log:\n{}",
                    d.log_tail_filtered(30)
                )
            });
            eprintln!("dockerd's log: {line}");
            assert!(line.contains(why), "{line}");
            let enabled = d.docker_ok(&["plugin", "inspect", "-f", "{{.Enabled}}", &plugin]);
            assert_eq!(enabled, "false");
            // dockerd's cleanup of the failed attempt ends: its containerd container goes.
            let t = Instant::now();
            wait_until(
                "dockerd to remove the failed plugin's containerd container",
                Duration::from_secs(30),
                || !ctr(&d, &["containers", "ls", "-q"]).contains(&id),
            );
            eprintln!("failed enable cleaned up after {:.1?} more", t.elapsed());
        });
    }

    cases.run(&d, "only the declared settings can be set", || {
        for (setting, why) in [
            (
                "etc-docker.destination=/elsewhere",
                r#""etc-docker.destination" is not settable"#,
            ),
            (
                "etc-docker.options=rw",
                r#""etc-docker.options" is not settable"#,
            ),
            (
                "RUST_LOG=trace",
                r#"setting "RUST_LOG" not found in the plugin configuration"#,
            ),
        ] {
            let err = d.docker_fails(&["plugin", "set", &plugin, setting]);
            assert!(err.contains(why), "docker plugin set {setting}: {err}");
        }
        // docs/install-and-recover.md: the log format is an operator setting.
        d.docker_ok(&["plugin", "set", &plugin, "ROOTFS_GUARD_LOG_FORMAT=json"]);
    });

    // docs/install-and-recover.md, "Use a policy file": write it, make plugin-enable PLUGIN_POLICY=FILE.
    std::fs::write(policy_dir.join("policy.json"), DEFAULT_POLICY_JSON).unwrap();
    let t = Instant::now();
    let policy_arg = format!("PLUGIN_POLICY={}", policy_dir.join("policy.json").display());
    make_ok(
        &d,
        &["plugin-enable", &name_arg, &policy_arg],
        BUILD_TIMEOUT,
    );
    eprintln!("make plugin-enable PLUGIN_POLICY=...: {:.1?}", t.elapsed());
    let info: serde_json::Value =
        serde_json::from_str(&d.docker_ok(&["plugin", "inspect", &plugin])).unwrap();
    assert_eq!(info[0]["Enabled"], json!(true));
    // Where the set source shows: dockerd 20.10 updates Config.Mounts (what it mounts), while
    // Settings.Mounts keeps the manifest's default once dockerd has restarted since the plugin
    // was created (seen here; docs/install-and-recover.md, "What the operator can set").
    assert_eq!(
        info[0]["Config"]["Mounts"][0]["Source"],
        json!(policy_dir.display().to_string()),
        "plugin inspect: {}",
        info[0]
    );
    assert_eq!(
        info[0]["Config"]["Interface"]["Types"],
        json!(["docker.authz/1.0"])
    );
    assert_eq!(info[0]["Config"]["Network"]["Type"], json!("none"));
    assert_eq!(info[0]["Config"]["Linux"]["Capabilities"], json!([]));
    let env = &info[0]["Settings"]["Env"];
    assert!(
        env.as_array()
            .is_some_and(|e| e.contains(&json!("ROOTFS_GUARD_LOG_FORMAT=json"))
                && e.contains(&json!("ROOTFS_GUARD_POLICY=/etc/docker/policy.json"))),
        "plugin env: {env}"
    );
    // The plugin's lines are in dockerd's log, in the format that was set.
    wait_until(
        "the plugin's JSON start line in dockerd's log",
        Duration::from_secs(10),
        || d.log().contains(r#"\"message\":\"listening\""#),
    );

    // docs/install-and-recover.md, "Enable in dockerd".
    let t = Instant::now();
    d.restart(&[&flag]);
    eprintln!(
        "dockerd restart with the managed plugin: {:.1?}",
        t.elapsed()
    );

    let allow_label = format!("{ALLOW_LABEL_KEY}={ALLOW_LABEL_VALUE}");

    cases.run(&d, "create without --read-only is denied", || {
        let err = d.docker_fails(&["create", "bb:latest", "sh"]);
        assert!(err.contains(&denied_by), "stderr: {err}");
        assert!(
            err.contains("--read-only"),
            "message should tell the fix: {err}"
        );
        let err = d.docker_fails(&["run", "--rm", "bb:latest", "true"]);
        assert!(err.contains(&denied_by), "stderr: {err}");
    });

    cases.run(&d, "--read-only is allowed and really read-only", || {
        let err = d.docker_fails(&["run", "--rm", "--read-only", "bb:latest", "touch", "/x"]);
        assert!(err.contains("Read-only file system"), "stderr: {err}");
        d.docker_ok(&[
            "run",
            "--rm",
            "--read-only",
            "--tmpfs",
            "/tmp",
            "bb:latest",
            "touch",
            "/tmp/x",
        ]);
    });

    cases.run(&d, "allow label permits a writable container", || {
        let id = d.docker_ok(&["create", "-l", &allow_label, "bb:latest", "touch", "/x"]);
        assert!(!d.is_read_only(&id));
        d.docker_ok(&["start", "-a", &id]);
        d.docker_ok(&["rm", &id]);
    });

    cases.run(&d, "ps, images, inspect keep working", || {
        let id = d.docker_ok(&[
            "create",
            "--read-only",
            "--name",
            "everyday",
            "bb:latest",
            "true",
        ]);
        let ps = d.docker_ok(&["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}"]);
        assert!(ps.contains(&format!("{id} everyday")), "docker ps -a: {ps}");
        let images = d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
        assert!(images.lines().any(|l| l == "bb:latest"), "{images}");
        assert_eq!(d.inspect("everyday")["Id"], json!(id));
        d.docker_ok(&["rm", "everyday"]);
    });

    cases.run(
        &d,
        "self-protection: the plugin cannot be disabled through the API",
        || {
            for args in [
                vec!["plugin", "disable", plugin.as_str()],
                vec!["plugin", "disable", "-f", plugin.as_str()],
                vec!["plugin", "rm", "-f", plugin.as_str()],
                vec![
                    "plugin",
                    "set",
                    plugin.as_str(),
                    "ROOTFS_GUARD_LOG_FORMAT=json",
                ],
            ] {
                let err = d.docker_fails(&args);
                assert!(
                    err.contains(&denied_by) && err.contains("self-protection"),
                    "docker {args:?}: {err}"
                );
            }
            let enabled = d.docker_ok(&["plugin", "inspect", "-f", "{{.Enabled}}", &plugin]);
            assert_eq!(enabled, "true");
            let err = d.docker_fails(&["create", "bb:latest", "sh"]);
            assert!(err.contains(&denied_by), "guard switched off: {err}");
        },
    );

    cases.run(
        &d,
        "SIGHUP from the host reloads the policy; a bad one is refused",
        || {
            let pid = plugin_pid(&d, &id).expect("plugin task running");
            // A policy without the allow label: a labelled writable create is denied after reload.
            let no_label = DEFAULT_POLICY_JSON.replace(
                r#"{ "key": "rootfs-guard.allow-writable", "value": "true" }"#,
                "",
            );
            assert_ne!(no_label, DEFAULT_POLICY_JSON);
            let reloads = d.log().matches("policy reloaded").count();
            write_policy(&policy_dir, &no_label);
            // docs/install-and-recover.md: ctr ... task kill --signal SIGHUP <plugin id>
            ctr(&d, &["task", "kill", "--signal", "SIGHUP", &id]);
            wait_until(
                "the reload line in dockerd's log",
                Duration::from_secs(10),
                || d.log().matches("policy reloaded").count() > reloads,
            );
            let err = d.docker_fails(&["create", "-l", &allow_label, "bb:latest", "sh"]);
            assert!(err.contains(&denied_by), "new policy not applied: {err}");

            let failures = d.log().matches("policy reload failed").count();
            write_policy(
                &policy_dir,
                &DEFAULT_POLICY_JSON.replace("\"enforce\"", "\"audit\","),
            );
            // The same with plain kill(2) on the pid `ctr task ls` shows.
            // SAFETY: kill(2) on the plugin process this test's dockerd started.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGHUP) };
            wait_until(
                "the reload failure in dockerd's log",
                Duration::from_secs(10),
                || d.log().matches("policy reload failed").count() > failures,
            );
            let err = d.docker_fails(&["create", "-l", &allow_label, "bb:latest", "sh"]);
            assert!(
                err.contains(&denied_by),
                "bad policy replaced the old one: {err}"
            );
            assert_eq!(plugin_pid(&d, &id), Some(pid), "the plugin restarted");

            let reloads = d.log().matches("policy reloaded").count();
            write_policy(&policy_dir, DEFAULT_POLICY_JSON);
            ctr(&d, &["task", "kill", "--signal", "SIGHUP", &id]);
            wait_until(
                "the reload line in dockerd's log",
                Duration::from_secs(10),
                || d.log().matches("policy reloaded").count() > reloads,
            );
            let id = d.docker_ok(&["create", "-l", &allow_label, "bb:latest", "sh"]);
            d.docker_ok(&["rm", &id]);
        },
    );

    cases.run(&d, "plugin process killed: dockerd restarts it", || {
        let pid = plugin_pid(&d, &id).expect("plugin task running");
        // SAFETY: kill(2) on the plugin process this test's dockerd started.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        // A writable create and a read at once. dockerd retries the connection; its retry
        // resends the AuthZ request without a body (the body reader was drained by the first
        // attempt), which the plugin denies as malformed: fail closed, even for reads.
        let t = Instant::now();
        let (create, read) = std::thread::scope(|s| {
            let create = s.spawn(|| {
                d.api_json(
                    "POST",
                    "/v1.41/containers/create?name=after-kill",
                    &[("Content-Type", "application/json")],
                    json!({"Image": "bb:latest", "Cmd": ["sh"]}),
                )
            });
            let read = s.spawn(|| d.api_json("GET", "/v1.41/containers/json", &[], ()));
            (create.join(), read.join())
        });
        let took = t.elapsed();
        let (status, body) = create.expect("create thread");
        eprintln!(
            "managed plugin SIGKILLed: writable create -> HTTP {status} after {took:.2?}: {}",
            error_message(&body)
        );
        assert_eq!(status, 403, "{body}");
        assert!(error_message(&body).contains(&denied_by), "{body}");
        let (status, body) = read.expect("read thread");
        eprintln!(
            "managed plugin SIGKILLed: GET containers/json -> HTTP {status}: {}",
            error_message(&body)
        );
        assert!(
            status == 200
                || (status == 403 && error_message(&body).contains("malformed AuthZ request")),
            "{status} {body}"
        );
        wait_until("a new plugin process", Duration::from_secs(20), || {
            plugin_pid(&d, &id).is_some_and(|p| p != pid)
        });
        eprintln!(
            "managed plugin SIGKILLed: new process after {:.2?}",
            t.elapsed()
        );
    });

    cases.run_mut(
        &mut d,
        "plugin that cannot start: calls fail closed; recovery",
        |d| {
            // A broken policy, then a crash: dockerd's restart of the plugin fails.
            let start_failures = d
                .log()
                .matches("cannot start without a valid policy")
                .count();
            write_policy(&policy_dir, "{ not json");
            let pid = plugin_pid(d, &id).expect("plugin task running");
            // SAFETY: kill(2) on the plugin process this test's dockerd started.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            wait_until(
                "the failed plugin start in dockerd's log",
                Duration::from_secs(30),
                || {
                    d.log()
                        .matches("cannot start without a valid policy")
                        .count()
                        > start_failures
                },
            );
            let t = Instant::now();
            let (status, body) = d.api_json("GET", "/v1.41/containers/json", &[], ());
            let msg = error_message(&body);
            let took = t.elapsed();
            eprintln!("managed plugin cannot start: GET containers/json -> HTTP {status} after {took:.1?}: {msg}");
            assert_eq!(status, 500, "{body}");
            assert!(
                msg.contains(&format!("plugin {plugin} failed with error")),
                "{msg}"
            );

            // docs/install-and-recover.md, "Recover a locked-out dockerd": start dockerd without the plugin, then
            // disable and remove it (or fix the policy and enable it again).
            let t = Instant::now();
            d.stop();
            eprintln!("recovery: dockerd stopped in {:.1?}", t.elapsed());

            // Restarting dockerd with the plugin does not help: it cannot start at all.
            let t = Instant::now();
            let start = catch_unwind(AssertUnwindSafe(|| d.restart(&[&flag])));
            let took = t.elapsed();
            let why = start.err().map(panic_text).unwrap_or_default();
            let line = why.lines().find(|l| l.contains("authorization plugin")).unwrap_or(&why);
            eprintln!("dockerd with a plugin that cannot start: exits after {took:.1?}: {line}");
            assert!(
                why.contains("exited") && why.contains(&format!("plugin {plugin} found but disabled")),
                "dockerd started, or failed for another reason: {why}"
            );

            let t = Instant::now();
            d.restart(&[]);
            eprintln!("recovery: dockerd started without the plugin in {:.1?}", t.elapsed());
            d.docker_ok(&["ps"]);
            let created = d.docker_ok(&["create", "bb:latest", "true"]);
            d.docker_ok(&["rm", &created]);
            let state = d.data_root().join(format!("plugins/{id}/config.json"));
            let state: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&state).expect("plugin state file")).unwrap();
            // The plugin stays installed and enabled: that state is in the data root.
            assert_eq!(state["plugin"]["Enabled"], json!(true), "{state}");

            // Or: fix the policy and restart dockerd with the plugin again.
            write_policy(&policy_dir, DEFAULT_POLICY_JSON);
            let t = Instant::now();
            d.restart(&[&flag]);
            eprintln!("recovery: fixed policy, dockerd with the plugin up in {:.1?}", t.elapsed());
            let err = d.docker_fails(&["create", "bb:latest", "sh"]);
            assert!(err.contains(&denied_by), "guard not back: {err}");

            // Uninstall: out of dockerd first, then disable and remove.
            d.restart(&[]);
            make_ok(d, &["plugin-remove", &name_arg], Duration::from_secs(60));
            let list = d.docker_ok(&["plugin", "ls", "--format", "{{.Name}}"]);
            assert!(!list.contains(&name), "plugin not removed: {list}");
        },
    );

    cases.finish(&d, &[]);
    drop(d);
    if let Some(dir) = &run_dir.0 {
        assert!(!dir.exists(), "dockerd left {} behind", dir.display());
    }
    eprintln!("managed plugin e2e: {:.1?} in all", started.elapsed());
}
