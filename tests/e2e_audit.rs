//! End-to-end: `rootfs-guard audit` and `watch` against a real private dockerd whose plugin runs in
//! audit mode (so non-compliant containers get created, as on a host where enforcement is off).
//! A mix of compliant, exempt, writable and remountable containers must get exactly those verdicts
//! in both formats with exit status 1; a watcher started beforehand must report the violators as
//! they appear, keep doing so across a dockerd restart, and `serve --watch` must do the same
//! (seen in its log and metrics). Also: an unreachable daemon is exit 2 naming the socket.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{guard, PluginProcess, PrivateDockerd, ALLOW_LABEL_KEY, ALLOW_LABEL_VALUE};

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rootfs-guard"))
}

/// A background `rootfs-guard watch`, output in files; killed (by pid) when dropped.
struct Watcher {
    child: Child,
    out: PathBuf,
    err: PathBuf,
    _dir: tempfile::TempDir,
}

impl Watcher {
    fn start(host: &str, args: &[&str]) -> Watcher {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("stdout");
        let err = dir.path().join("stderr");
        let child = Command::new(binary())
            .args(["watch", "--host", host])
            .args(args)
            .env_remove("DOCKER_HOST")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        Watcher {
            child,
            out,
            err,
            _dir: dir,
        }
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    fn signal(&self, signal: i32) {
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// Asks it to re-read its policy file.
    fn hup(&self) {
        self.signal(libc::SIGHUP);
    }

    /// Stops it with SIGTERM; it must exit 0.
    fn stop(mut self) {
        self.signal(libc::SIGTERM);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "watch exited with {status}");
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `read` until it contains `needle` (30 s at most).
fn wait_for(what: &str, needle: &str, read: impl Fn() -> String) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = read();
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: never saw {needle:?} in:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `name → (verdict, rule)` from a JSON report's rows.
fn verdicts(report: &serde_json::Value) -> BTreeMap<String, (String, Option<String>)> {
    report["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                (
                    c["verdict"].as_str().unwrap().to_owned(),
                    c["rule"].as_str().map(str::to_owned),
                ),
            )
        })
        .collect()
}

fn expected(pairs: &[(&str, &str, Option<&str>)]) -> BTreeMap<String, (String, Option<String>)> {
    pairs
        .iter()
        .map(|(n, v, r)| (n.to_string(), (v.to_string(), r.map(str::to_owned))))
        .collect()
}

fn watched_names(jsonl: &str) -> Vec<(String, String)> {
    jsonl
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            assert_eq!(v["verdict"], "violation", "{l}");
            (
                v["name"].as_str().unwrap().to_owned(),
                v["event"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn audit_and_watch_against_a_real_dockerd() {
    if !support::e2e_enabled("audit_and_watch_against_a_real_dockerd") {
        return;
    }
    // Enforcement off: the plugin only reports (it also sees the watcher's own GETs).
    let plugin = PluginProcess::start(Some(r#"{"mode":"audit"}"#));
    let mut d = PrivateDockerd::start(&[&plugin.authz_arg()]);
    d.import_busybox("bb:latest");
    // The watchers reach dockerd through a symlink outside its dir: on a restart the harness
    // kills every process whose command line names that dir.
    let links = tempfile::tempdir().unwrap();
    let link = links.path().join("docker.sock");
    std::os::unix::fs::symlink(d.socket(), &link).unwrap();
    let host = format!("unix://{}", link.display());
    let allow = format!("{ALLOW_LABEL_KEY}={ALLOW_LABEL_VALUE}");

    let watch_policy = links.path().join("watch-policy.json");
    std::fs::write(&watch_policy, r#"{"mode":"enforce"}"#).unwrap();
    let watch_policy_arg = watch_policy.display().to_string();
    let watcher = Watcher::start(&host, &["--format", "json", "--policy", &watch_policy_arg]);
    wait_for("watch", "following container events", || watcher.stderr());
    // `serve --watch` (not dockerd's plugin: only its watcher matters here), with metrics.
    let metrics_sock = links.path().join("metrics.sock");
    let metrics_addr = format!("unix:{}", metrics_sock.display());
    let serving = PluginProcess::start_with(
        None,
        &["--watch", "--host", &host, "--metrics-addr", &metrics_addr],
    );
    wait_for("serve --watch", "following container events", || {
        serving.logs()
    });

    d.docker_ok(&[
        "create",
        "--name",
        "ro",
        "--read-only",
        "bb:latest",
        "sleep",
        "600",
    ]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "exempt",
        "-l",
        &allow,
        "bb:latest",
        "sleep",
        "600",
    ]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "writable",
        "bb:latest",
        "sleep",
        "600",
    ]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "remount",
        "--read-only",
        "--cap-add",
        "SYS_ADMIN",
        "bb:latest",
        "sleep",
        "600",
    ]);
    // --privileged containers cannot start on these machines; created is enough to be judged.
    d.docker_ok(&[
        "create",
        "--name",
        "privileged",
        "--read-only",
        "--privileged",
        "bb:latest",
        "sleep",
        "600",
    ]);

    let all = expected(&[
        ("exempt", "exempt", None),
        ("privileged", "violation", Some("remount")),
        ("remount", "violation", Some("remount")),
        ("ro", "compliant", None),
        ("writable", "violation", Some("readonly-rootfs")),
    ]);

    // JSON, all containers.
    let (code, out, err) = guard(&["audit", "--host", &host, "--format", "json"]);
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(verdicts(&report), all, "{out}");
    assert_eq!(report["schema_version"], 2);
    assert_eq!(report["host"], host);
    assert_eq!(
        report["summary"],
        serde_json::json!({"containers": 5, "compliant": 1, "exempt": 1, "violation": 3})
    );
    let row = |name: &str| {
        report["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(row("exempt")["exemption"], format!("label {allow}"));
    assert_eq!(row("privileged")["remount_risk"], "--privileged");
    assert!(row("remount")["remount_risk"]
        .as_str()
        .unwrap()
        .contains("SYS_ADMIN"));
    assert_eq!(row("ro")["state"], "created");
    assert_eq!(row("writable")["state"], "running");
    assert_eq!(row("writable")["image"], "bb:latest");
    assert_eq!(row("writable")["readonly_rootfs"], false);
    assert_eq!(row("writable")["id"].as_str().unwrap().len(), 64);

    // Table, all containers: one line per container plus header and summary, no colour.
    let (code, table, err) = guard(&["audit", "--host", &host]);
    assert_eq!(code, 1, "stdout: {table}\nstderr: {err}");
    assert!(!table.contains('\x1b'), "{table}");
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 7, "{table}");
    let from_table: BTreeMap<String, String> = lines[1..6]
        .iter()
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            (fields[1].to_owned(), fields.last().unwrap().to_string())
        })
        .collect();
    let want: BTreeMap<String, String> = all
        .iter()
        .map(|(n, (v, _))| (n.clone(), v.clone()))
        .collect();
    assert_eq!(from_table, want, "{table}");
    assert_eq!(
        lines[6],
        "5 containers: 1 compliant, 1 exempt, 3 violations"
    );

    // Only running containers: the exempt one alone would pass, violators fail.
    let (code, out, _) = guard(&["audit", "--host", &host, "--running", "--format", "json"]);
    assert_eq!(code, 1);
    let running: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        verdicts(&running),
        expected(&[
            ("exempt", "exempt", None),
            ("remount", "violation", Some("remount")),
            ("writable", "violation", Some("readonly-rootfs")),
        ])
    );
    // DOCKER_HOST is honoured; no violations means exit 0.
    d.docker_ok(&["rm", "-f", "writable", "remount", "privileged"]);
    let mut cmd = Command::new(binary());
    cmd.args(["audit", "--format", "json"])
        .env("DOCKER_HOST", &host);
    let out = support::run_with_timeout(cmd, None, support::DEFAULT_TIMEOUT);
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    // The watchers reported each violator once, on create, and nothing else.
    let seen = wait_for("watch", "\"privileged\"", || watcher.stdout());
    let mut names = watched_names(&seen);
    names.sort();
    assert_eq!(
        names,
        [
            ("privileged".to_owned(), "create".to_owned()),
            ("remount".to_owned(), "create".to_owned()),
            ("writable".to_owned(), "create".to_owned()),
        ],
        "{seen}"
    );
    let log = wait_for("serve --watch", "name=privileged", || serving.logs());
    assert!(log.contains("violating container"), "{log}");
    assert!(
        log.contains("name=writable") && log.contains("name=remount"),
        "{log}"
    );
    assert!(
        !log.contains("name=ro ") && !log.contains("name=exempt"),
        "{log}"
    );

    // dockerd restarts; both watchers reconnect and report a writable container created after.
    d.restart(&[&plugin.authz_arg()]);
    d.docker_ok(&["create", "--name", "after-restart", "bb:latest", "sh"]);
    let seen = wait_for("watch after restart", "after-restart", || watcher.stdout());
    assert!(
        watcher.stderr().contains("reconnecting"),
        "{}",
        watcher.stderr()
    );
    assert_eq!(watched_names(&seen).len(), 4, "{seen}");
    wait_for("serve --watch after restart", "name=after-restart", || {
        serving.logs()
    });
    let metrics = scrape(&metrics_sock, "/metrics");
    assert!(
        metrics.contains("rootfs_guard_watch_violations_total 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rootfs_guard_watch_connected 1"),
        "{metrics}"
    );
    let health: serde_json::Value =
        serde_json::from_str(&scrape(&metrics_sock, "/health")).unwrap();
    assert_eq!(health["watch"], "connected");

    // SIGHUP re-reads the watcher's policy file: a broken file is refused and the policy in
    // force kept; a good one judges the next events.
    std::fs::write(&watch_policy, r#"{"mode":"#).unwrap();
    watcher.hup();
    wait_for("watch: broken policy", "policy reload failed", || {
        watcher.stderr()
    });
    let legacy = ["--label", "team=legacy", "bb:latest", "sh"];
    d.docker_ok(&[&["create", "--name", "legacy-before"][..], &legacy].concat());
    wait_for("watch: policy kept", "legacy-before", || watcher.stdout());
    std::fs::write(
        &watch_policy,
        r#"{"allow_labels":[{"key":"team","value":"legacy"}]}"#,
    )
    .unwrap();
    watcher.hup();
    wait_for("watch: policy reloaded", "policy reloaded", || {
        watcher.stderr()
    });
    d.docker_ok(&[&["create", "--name", "legacy-after"][..], &legacy].concat());
    d.docker_ok(&["create", "--name", "after-reload", "bb:latest", "sh"]);
    // Events are judged in order: once the later create is reported, the labelled one was passed.
    let seen = wait_for("watch after reload", "after-reload", || watcher.stdout());
    assert!(!seen.contains("legacy-after"), "{seen}");
    d.docker_ok(&["rm", "-f", "legacy-before", "legacy-after", "after-reload"]);

    // A swarm task: created by dockerd itself (no API call, no AuthZ request), caught by the
    // watcher and named by service in the audit.
    let init = support::swarm_init_args();
    d.docker_ok(&init.iter().map(String::as_str).collect::<Vec<_>>());
    d.docker_ok(&[
        "service",
        "create",
        "--detach",
        "--no-resolve-image",
        "--name",
        "svc",
        "bb:latest",
        "sleep",
        "600",
    ]);
    let seen = wait_for("watch: swarm task", "\"swarm_service\":\"svc\"", || {
        watcher.stdout()
    });
    let task_line = seen.lines().find(|l| l.contains("\"svc\"")).unwrap();
    let task: serde_json::Value = serde_json::from_str(task_line).unwrap();
    assert_eq!(task["rule"], "readonly-rootfs", "{task_line}");
    assert!(
        task["swarm_task"].as_str().unwrap().starts_with("svc.1."),
        "{task_line}"
    );
    let (code, out, _) = guard(&["audit", "--host", &host, "--format", "json"]);
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let task_row = report["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["swarm_service"] == "svc")
        .unwrap_or_else(|| panic!("no swarm task in {out}"));
    assert_eq!(task_row["verdict"], "violation");
    watcher.stop();
    d.docker_ok(&["service", "rm", "svc"]);

    // --stop: a writable container is stopped when it starts.
    let stopper = Watcher::start(&host, &["--stop", "--stop-timeout", "1"]);
    wait_for("watch --stop", "following container events", || {
        stopper.stderr()
    });
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "stopped",
        "bb:latest",
        "sleep",
        "600",
    ]);
    let out = wait_for("watch --stop", " stopped", || stopper.stdout());
    assert!(out.contains("name=stopped"), "{out}");
    let state = d.inspect("stopped");
    assert_eq!(state["State"]["Running"], false, "{state}");
    stopper.stop();
    drop(serving);
    drop(d);
    drop(plugin);
}

/// `GET path` over a unix socket with plain HTTP/1.0; the response body.
fn scrape(socket: &Path, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: metrics\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or(raw)
}

#[test]
fn unreachable_daemon_is_exit_2_naming_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("docker.sock");
    let host = format!("unix://{}", sock.display());
    for format in ["table", "json"] {
        let (code, out, err) = guard(&["audit", "--host", &host, "--format", format]);
        assert_eq!(code, 2, "{out}{err}");
        assert!(out.is_empty(), "{out}");
        assert!(err.contains(&host), "{err}");
        assert!(err.contains("cannot reach the Docker daemon"), "{err}");
    }
    // tcp is a supported host now: a port nobody listens on is refused, naming the host.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let (code, _, err) = guard(&["audit", "--host", &tcp]);
    assert_eq!(code, 2);
    assert!(err.contains(&tcp) && err.contains("refused"), "{err}");
    let (code, _, err) = guard(&["audit", "--host", "npipe:////./pipe/docker_engine"]);
    assert_eq!(code, 2);
    assert!(err.contains("unsupported Docker host"), "{err}");
}
