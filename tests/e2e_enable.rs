//! End-to-end test of `rootfs-guard enable` / `disable` against a private dockerd started with
//! `--config-file DIR/daemon.json` and its own `--pidfile`: the cases issue 15 names (plugin up:
//! enabled and enforcing, then disabled; plugin down: refused and dockerd still alive; a
//! daemon.json that is not JSON: refused, file byte-identical), plus the rollback (a plugin that
//! answers but does not deny, in audit mode: the probe is not denied, the backup is restored) and
//! the refusal when dockerd already has `--authorization-plugin` on its command line. And what
//! `enable` protects against: the by-hand reload naming a dead plugin, which stops dockerd.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rootfs_guard::authz::policy::DEFAULT_POLICY_JSON;
use support::{run_with_timeout, split_output, Cases, PluginProcess, PrivateDockerd};

/// `rootfs-guard enable|disable --name NAME` aimed at `d`; returns (success, stdout, stderr).
fn guard(verb: &str, name: &str, d: &PrivateDockerd, daemon_json: &Path) -> (bool, String, String) {
    let cmd = support::enable_command(verb, name, d, daemon_json);
    let t = Instant::now();
    let (status, out, err) = split_output(run_with_timeout(cmd, None, Duration::from_secs(60)));
    eprintln!(
        "rootfs-guard {verb} --name {name}: {status} after {:.1?}\n{out}{err}",
        t.elapsed()
    );
    (status.success(), out, err)
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn backup(p: &Path) -> PathBuf {
    PathBuf::from(format!("{}.rootfs-guard-backup", p.display()))
}

/// dockerd's pid is still the same live process some seconds after a refusal (a reload with a
/// dead plugin would make it exit after ~15 s; a refusal must never send one).
fn assert_alive(d: &PrivateDockerd, pid: u32, for_how_long: Duration) {
    let deadline = Instant::now() + for_how_long;
    while Instant::now() < deadline {
        // SAFETY: signal 0 on the dockerd this test started.
        assert_eq!(unsafe { libc::kill(pid as i32, 0) }, 0, "dockerd exited");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(d.pid(), Some(pid));
    d.docker_ok(&["version", "--format", "{{.Server.Version}}"]);
}

#[test]
fn enable_and_disable() {
    if !support::e2e_enabled("enable_and_disable") {
        return;
    }
    let work = tempfile::Builder::new()
        .prefix("rge-")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let daemon_json = work.path().join("daemon.json");
    // Other keys that must survive; both are real dockerd options (it rejects unknown ones).
    let original =
        "{\n  \"labels\": [\"rootfs-guard-e2e=1\"],\n  \"max-concurrent-downloads\": 2\n}\n";
    std::fs::write(&daemon_json, original).unwrap();
    std::fs::set_permissions(&daemon_json, std::fs::Permissions::from_mode(0o640)).unwrap();
    let config_flag = format!("--config-file={}", daemon_json.display());
    let mut d = PrivateDockerd::start(&[&config_flag]);
    d.import_busybox("bb:latest");
    let pid = d.pid().expect("dockerd runs");
    let mut plugin = PluginProcess::start(None);
    let name = plugin.name().to_string();
    let denied_by = format!("authorization denied by plugin {name}");

    let mut cases = Cases::new();
    cases.run(
        &d,
        "plugin up: enable edits daemon.json, reloads, enforces",
        || {
            let (ok, out, err) = guard("enable", &name, &d, &daemon_json);
            assert!(ok, "enable failed: {out}{err}");
            assert!(
                out.contains("denied by") && out.contains("enforcing"),
                "{out}"
            );
            let now: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&daemon_json).unwrap()).unwrap();
            assert_eq!(
                now,
                serde_json::json!({
                    "labels": ["rootfs-guard-e2e=1"],
                    "max-concurrent-downloads": 2,
                    "authorization-plugins": [name.clone()],
                })
            );
            assert_eq!(mode(&daemon_json), 0o640, "mode not kept");
            assert_eq!(
                std::fs::read_to_string(backup(&daemon_json)).unwrap(),
                original
            );
            let err = d.docker_fails(&["create", "bb:latest", "true"]);
            assert!(err.contains(&denied_by), "not enforcing: {err}");
            let id = d.docker_ok(&["create", "--read-only", "bb:latest", "true"]);
            d.docker_ok(&["rm", &id]);
            assert!(
                d.container_ids().is_empty(),
                "the probe created something: {:?}",
                d.container_ids()
            );
            // Again: already listed, nothing edited, still proven.
            let before = std::fs::read(&daemon_json).unwrap();
            let (ok, out, _) = guard("enable", &name, &d, &daemon_json);
            assert!(ok && out.contains("not edited"), "{out}");
            assert_eq!(std::fs::read(&daemon_json).unwrap(), before);
        },
    );

    cases.run(&d, "disable takes it out and reloads", || {
        let (ok, out, err) = guard("disable", &name, &d, &daemon_json);
        assert!(ok, "disable failed: {out}{err}");
        let now: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&daemon_json).unwrap()).unwrap();
        assert_eq!(
            now,
            serde_json::json!({"labels": ["rootfs-guard-e2e=1"], "max-concurrent-downloads": 2})
        );
        assert_eq!(mode(&daemon_json), 0o640);
        let id = d.docker_ok(&["create", "bb:latest", "true"]);
        d.docker_ok(&["rm", &id]);
        let (ok, out, _) = guard("disable", &name, &d, &daemon_json);
        assert!(ok && out.contains("nothing to do"), "{out}");
    });

    cases.run(
        &d,
        "plugin down: refused, file untouched, dockerd alive",
        || {
            plugin.terminate(Duration::from_secs(10));
            let before = std::fs::read(&daemon_json).unwrap();
            let (ok, _, err) = guard("enable", &name, &d, &daemon_json);
            assert!(!ok, "enable with the plugin down succeeded");
            assert!(
                err.contains("is not ready") && err.contains("nothing changed"),
                "{err}"
            );
            assert_eq!(std::fs::read(&daemon_json).unwrap(), before, "file changed");
            // Past dockerd's ~15 s of retries: had a reload been sent, it would have exited by now.
            assert_alive(&d, pid, Duration::from_secs(17));
            // A stale socket file (the process killed hard) is refused the same way.
            plugin.restart();
            plugin.kill();
            let (ok, _, err) = guard("enable", &name, &d, &daemon_json);
            assert!(!ok && err.contains("is not ready"), "{err}");
            assert_eq!(std::fs::read(&daemon_json).unwrap(), before, "file changed");
            plugin.restart();
        },
    );

    cases.run(
        &d,
        "daemon.json that is not JSON: refused, byte-identical",
        || {
            let broken = b"{\n  \"labels\": [\"rootfs-guard-e2e=1\"],\n";
            std::fs::write(&daemon_json, broken).unwrap();
            let (ok, _, err) = guard("enable", &name, &d, &daemon_json);
            assert!(!ok, "enable accepted invalid JSON");
            assert!(
                err.contains("not valid JSON") && err.contains("left untouched"),
                "{err}"
            );
            assert_eq!(std::fs::read(&daemon_json).unwrap(), broken);
            assert_eq!(mode(&daemon_json), 0o640);
            std::fs::write(&daemon_json, original).unwrap();
            assert_alive(&d, pid, Duration::from_secs(1));
        },
    );

    cases.run(&d, "plugin answers but does not deny: rolled back", || {
        let audit = PluginProcess::start(Some(
            &DEFAULT_POLICY_JSON.replace("\"mode\": \"enforce\"", "\"mode\": \"audit\""),
        ));
        assert!(std::fs::read_to_string(audit.policy_path().unwrap())
            .unwrap()
            .contains("\"audit\""));
        let before = std::fs::read(&daemon_json).unwrap();
        let (ok, _, err) = guard("enable", audit.name(), &d, &daemon_json);
        assert!(!ok, "enable succeeded with a plugin that allows the probe");
        assert!(err.contains("restored") && err.contains("again"), "{err}");
        assert_eq!(std::fs::read(&daemon_json).unwrap(), before, "not restored");
        assert_eq!(mode(&daemon_json), 0o640);
        let id = d.docker_ok(&["create", "bb:latest", "true"]);
        d.docker_ok(&["rm", &id]);
        assert_alive(&d, pid, Duration::from_secs(1));
    });

    cases.run_mut(
        &mut d,
        "--authorization-plugin on the command line: refused",
        |d| {
            d.restart(&[&config_flag, &plugin.authz_arg()]);
            let before = std::fs::read(&daemon_json).unwrap();
            let (ok, _, err) = guard("enable", &name, d, &daemon_json);
            assert!(!ok && err.contains("on its command line"), "{err}");
            assert_eq!(std::fs::read(&daemon_json).unwrap(), before);
            d.restart(&[&config_flag]);
            // Another daemon.json than the one dockerd reads: refused too, nothing written.
            let other = work.path().join("other.json");
            let (ok, _, err) = guard("enable", &name, d, &other);
            assert!(!ok && err.contains("reads"), "{err}");
            assert!(!other.exists());
        },
    );

    // Why `enable` checks first: the by-hand way (daemon.json naming a plugin that does not
    // answer, then SIGHUP) takes dockerd down. Measured here for docs/install-and-recover.md.
    cases.run_mut(
        &mut d,
        "by hand: a reload naming a dead plugin stops dockerd",
        |d| {
            let pid = d.pid().expect("dockerd runs");
            std::fs::write(
                &daemon_json,
                "{\n  \"authorization-plugins\": [\"rg-e2e-no-such-plugin\"]\n}\n",
            )
            .unwrap();
            let t = Instant::now();
            // SAFETY: SIGHUP to the dockerd this test started.
            unsafe { libc::kill(pid as i32, libc::SIGHUP) };
            let mut exited_after = None;
            while t.elapsed() < Duration::from_secs(40) {
                // An exited dockerd is a zombie until the harness reaps it.
                let status =
                    std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                let gone = status.is_empty() || status.split_whitespace().nth(2) == Some("Z");
                if gone {
                    exited_after = Some(t.elapsed());
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let line = d
                .log()
                .lines()
                .rev()
                .find(|l| l.contains("rg-e2e-no-such-plugin"))
                .unwrap_or_default()
                .to_string();
            eprintln!(
                "reload naming a dead plugin: dockerd exited after {exited_after:?}; log: {line}"
            );
            assert!(
                exited_after.is_some(),
                "dockerd survived the reload: {line}"
            );
            assert!(line.contains("level=fatal"), "{line}");
            // Its containerd can outlive it (seen on 20.10: the next dockerd then waits for it
            // and gives up); stop it before starting dockerd again.
            let containerd_pid =
                std::fs::read_to_string(d.dir().join("exec/containerd/containerd.pid"))
                    .ok()
                    .and_then(|p| p.trim().parse::<i32>().ok());
            if let Some(cpid) = containerd_pid {
                // SAFETY: SIGTERM to the containerd the test's dockerd started (its pidfile).
                unsafe { libc::kill(cpid, libc::SIGTERM) };
                let deadline = Instant::now() + Duration::from_secs(20);
                while Path::new(&format!("/proc/{cpid}")).exists() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            std::fs::write(&daemon_json, original).unwrap();
            d.restart(&[&config_flag]);
        },
    );

    cases.finish(&d, &[("plugin log", plugin.log_tail(20))]);
}
