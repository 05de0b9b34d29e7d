//! End-to-end: many daemons in one `audit`, and the fleet's outputs. Two private dockerds (one
//! reached by its socket, one through a docker context the real CLI wrote) and a third entry
//! nobody listens on, given by `--host` and `--hosts FILE`: every container row carries its host,
//! the hosts table and `hosts[]` count each daemon, and a daemon stopped between two audits, or
//! killed during one, becomes a row with the reason while the others are still reported (exit 1
//! from their verdicts; 2 with `--strict`). Then the outputs a fleet reads: the Prometheus
//! textfile (parsed, and checked by Debian's promtool with the shipped alert rules), the HTML
//! report (rendered by headless Debian chromium to a PNG, its DOM read back for the counts), and
//! the same gauges live on `serve --watch`'s `/metrics`.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::PrivateDockerd;

fn guard(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = support::guard_command(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    support::run_guard(cmd)
}

/// `(host, name, verdict)` of every row, in report order.
fn rows(v: &serde_json::Value) -> Vec<(String, String, String)> {
    v["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["host"].as_str().unwrap().to_owned(),
                c["name"].as_str().unwrap().to_owned(),
                c["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn many_hosts_one_report_and_a_host_that_stops() {
    if !support::e2e_enabled("many_hosts_one_report_and_a_host_that_stops") {
        return;
    }
    let a = PrivateDockerd::start(&[]);
    let mut b = PrivateDockerd::start(&[]);
    for (d, tag) in [(&a, "a"), (&b, "b")] {
        d.import_busybox("bb:latest");
        d.docker_ok(&[
            "create",
            "--name",
            &format!("{tag}-ro"),
            "--read-only",
            "bb:latest",
            "true",
        ]);
        d.docker_ok(&[
            "create",
            "--name",
            &format!("{tag}-rw"),
            "bb:latest",
            "true",
        ]);
    }
    a.docker_ok(&["create", "--name", "a-rw2", "bb:latest", "true"]);

    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("docker-config");
    let out = Command::new("docker")
        .arg("--config")
        .arg(&config)
        .args([
            "context",
            "create",
            "fleet-b",
            "--docker",
            &format!("host={}", b.host()),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config_s = config.display().to_string();
    let env = [("DOCKER_CONFIG", config_s.as_str())];
    let nobody = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("tcp://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    let hosts_file: PathBuf = tmp.path().join("hosts");
    std::fs::write(&hosts_file, format!("# the fleet\nfleet-b\n\n{nobody}\n")).unwrap();
    let hosts_s = hosts_file.display().to_string();

    let (code, out, err) = guard(
        &[
            "audit",
            "--host",
            &a.host(),
            "--hosts",
            &hosts_s,
            "--format",
            "json",
        ],
        &env,
    );
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema_version"], 2);
    let expect = |h: &str, n: &str, verdict: &str| (h.to_owned(), n.to_owned(), verdict.to_owned());
    let mut want = vec![
        expect(&a.host(), "a-ro", "compliant"),
        expect(&a.host(), "a-rw", "violation"),
        expect(&a.host(), "a-rw2", "violation"),
        expect(&b.host(), "b-ro", "compliant"),
        expect(&b.host(), "b-rw", "violation"),
    ];
    want.sort();
    assert_eq!(rows(&v), want);
    let hosts = v["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 3);
    assert_eq!(hosts[0]["host"], a.host().as_str());
    assert_eq!(hosts[0]["summary"]["violation"], 2);
    assert_eq!(hosts[1]["host"], b.host().as_str());
    assert_eq!(hosts[1]["context"], "fleet-b");
    assert_eq!(hosts[1]["summary"]["containers"], 2);
    assert_eq!(hosts[2]["host"], nobody.as_str());
    assert_eq!(hosts[2]["reachable"], false);
    assert!(
        hosts[2]["error"].as_str().unwrap().contains("refused"),
        "{out}"
    );
    assert_eq!(v["summary"]["containers"], 5);
    assert!(err.contains(&nobody), "{err}");

    // The table: the hosts first, then a HOST column.
    let (code, table, _) = guard(&["audit", "--host", &a.host(), "--hosts", &hosts_s], &env);
    assert_eq!(code, 1);
    assert!(
        table.contains(&format!("{} (fleet-b)", b.host())),
        "{table}"
    );
    assert!(
        table.contains("3 hosts: 2 reached, 1 unreachable"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&a.host()) && l.contains("a-rw2")),
        "{table}"
    );

    // b stops: its row says so, a is still reported; --strict makes it exit 2.
    b.stop();
    let args = [
        "audit",
        "--host",
        &a.host(),
        "--host",
        "fleet-b",
        "--format",
        "json",
    ];
    let (code, out, err) = guard(&args, &env);
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["hosts"][1]["reachable"], false, "{out}");
    assert!(v["hosts"][1]["error"].as_str().unwrap().contains(&b.host()));
    assert_eq!(rows(&v).len(), 3, "{out}");
    let mut strict = args.to_vec();
    strict.push("--strict");
    let (code, _, err) = guard(&strict, &env);
    assert_eq!(code, 2, "{err}");
    // Nothing reachable and no violation: the verdicts (none) decide, 0.
    a.remove_all_containers();
    let (code, _, err) = guard(&args, &env);
    assert_eq!(code, 0, "{err}");
}

/// A program on PATH, or `None` (the test then says it skipped that check).
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}

#[test]
fn prometheus_textfile_and_html_report_from_a_real_dockerd() {
    if !support::e2e_enabled("prometheus_textfile_and_html_report_from_a_real_dockerd") {
        return;
    }
    let d = PrivateDockerd::start(&[]);
    d.import_busybox("bb:latest");
    d.docker_ok(&["create", "--name", "ro", "--read-only", "bb:latest", "true"]);
    d.docker_ok(&["create", "--name", "rw", "bb:latest", "true"]);
    d.docker_ok(&["create", "--name", "rw2", "bb:latest", "true"]);
    let allow = format!(
        "{}={}",
        support::ALLOW_LABEL_KEY,
        support::ALLOW_LABEL_VALUE
    );
    d.docker_ok(&[
        "create",
        "--name",
        "legacy",
        "-l",
        &allow,
        "bb:latest",
        "true",
    ]);
    let tmp = tempfile::tempdir().unwrap();

    // Prometheus textfile: written atomically to --output, parsed back.
    let prom = tmp.path().join("rootfs_guard.prom");
    let prom_s = prom.display().to_string();
    let (code, out, err) = guard(
        &[
            "audit",
            "--host",
            &d.host(),
            "--format",
            "prometheus",
            "--output",
            &prom_s,
        ],
        &[],
    );
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "--output: nothing on stdout: {out}");
    let text = std::fs::read_to_string(&prom).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temp file left behind");
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let host = d.host();
    let gauge = |metric: &str, k: &str, v: &str| -> f64 {
        let s = scrape
            .samples
            .iter()
            .find(|s| {
                s.metric == metric
                    && s.labels.get("host") == Some(host.as_str())
                    && (k.is_empty() || s.labels.get(k) == Some(v))
            })
            .unwrap_or_else(|| panic!("{metric} {k}={v} not in:\n{text}"));
        match s.value {
            prometheus_parse::Value::Gauge(g) => g,
            ref other => panic!("{metric}: {other:?}"),
        }
    };
    assert_eq!(
        gauge("rootfs_guard_containers", "verdict", "violation"),
        2.0
    );
    assert_eq!(
        gauge("rootfs_guard_containers", "verdict", "compliant"),
        1.0
    );
    assert_eq!(gauge("rootfs_guard_containers", "verdict", "exempt"), 1.0);
    assert_eq!(
        gauge("rootfs_guard_violations", "rule", "readonly-rootfs"),
        2.0
    );
    assert_eq!(gauge("rootfs_guard_host_up", "", ""), 1.0);
    let ts = scrape
        .samples
        .iter()
        .find(|s| s.metric == "rootfs_guard_audit_timestamp_seconds")
        .expect("timestamp");
    let prometheus_parse::Value::Gauge(ts) = ts.value else {
        panic!("timestamp is not a gauge")
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - ts).abs() < 120.0, "timestamp {ts} vs now {now}");
    // Prometheus's own checker, and the shipped alert rules, when Debian's prometheus is here.
    match on_path("promtool") {
        Some(promtool) => {
            let out = Command::new(&promtool)
                .args(["check", "metrics"])
                .stdin(std::fs::File::open(&prom).unwrap())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "promtool check metrics: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let rules = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/docs/examples/rootfs-guard.rules.yml"
            );
            let out = Command::new(&promtool)
                .args(["check", "rules", rules])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        None => eprintln!("promtool not on PATH: promtool checks SKIPPED (prometheus-parse only)"),
    }
    let dashboard: serde_json::Value = serde_json::from_str(include_str!(
        "../docs/examples/rootfs-guard-grafana-dashboard.json"
    ))
    .unwrap();
    assert!(dashboard["panels"]
        .to_string()
        .contains("rootfs_guard_containers"));

    // HTML: rendered by a real headless Chromium to a PNG, and its DOM read back for the counts.
    let html = tmp.path().join("report.html");
    let html_s = html.display().to_string();
    let (code, _, err) = guard(
        &[
            "audit",
            "--host",
            &d.host(),
            "--format",
            "html",
            "--output",
            &html_s,
        ],
        &[],
    );
    assert_eq!(code, 1, "{err}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains("<script"), "the page needs no script");
    assert!(
        !page.contains("src=") && !page.contains("<link") && !page.contains("url("),
        "the page fetches nothing"
    );
    let Some(chromium) = on_path("chromium") else {
        panic!("chromium not on PATH (scripts/install-test-deps.sh installs Debian's chromium)");
    };
    let chrome = |extra: &[&str]| {
        let profile = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(&chromium);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{html_s}"));
        let out = support::run_with_timeout(cmd, None, support::DEFAULT_TIMEOUT);
        assert!(
            out.status.success(),
            "chromium {extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let png = tmp.path().join("report.png");
    chrome(&[
        &format!("--screenshot={}", png.display()),
        "--window-size=1200,900",
    ]);
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    assert!(
        bytes.len() > 5_000,
        "screenshot suspiciously small: {} bytes",
        bytes.len()
    );
    if let Ok(keep) = std::env::var("ROOTFS_GUARD_KEEP_REPORT_PNG") {
        std::fs::copy(&png, keep).unwrap();
    }
    let dom = chrome(&["--dump-dom"]);
    assert!(
        dom.contains("4 containers: <span class=\"compliant\">1 compliant</span>, <span class=\"exempt\">1 exempt</span>, <span class=\"violation\">2 violation</span>"),
        "{dom}"
    );
    assert_eq!(dom.matches("class=\"violation-row\"").count(), 2, "{dom}");
    assert_eq!(dom.matches("class=\"exempt-row\"").count(), 1, "{dom}");
    assert!(dom.contains("<svg id=\"chart\""), "{dom}");
    assert!(
        dom.contains("--read-only"),
        "the remedy is on the page: {dom}"
    );
    assert!(dom.contains(&allow), "the exemption's entry: {dom}");
}

fn scrape(socket: &std::path::Path) -> String {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(s, "GET /metrics HTTP/1.0\r\nHost: metrics\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or(raw)
}

/// Polls `/metrics` until it has `line` (30 s at most).
fn wait_for_line(socket: &std::path::Path, line: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if socket.exists() {
            let text = scrape(socket);
            if text.lines().any(|l| l == line) {
                return text;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "never saw {line:?} in /metrics:\n{text}"
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn serve_watch_exports_the_audit_gauges_live() {
    if !support::e2e_enabled("serve_watch_exports_the_audit_gauges_live") {
        return;
    }
    let d = PrivateDockerd::start(&[]);
    d.import_busybox("bb:latest");
    d.docker_ok(&["create", "--name", "ro", "--read-only", "bb:latest", "true"]);
    d.docker_ok(&["create", "--name", "rw", "bb:latest", "true"]);
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("metrics.sock");
    let addr = format!("unix:{}", sock.display());
    // Not dockerd's plugin: only its watcher and metrics matter here. The timer is long, so
    // what moves the gauges below is the connection and the events.
    let serving = support::PluginProcess::start_with(
        None,
        &[
            "--watch",
            "--host",
            &d.host(),
            "--metrics-addr",
            &addr,
            "--sweep-interval",
            "3600",
        ],
    );
    let host = d.host();
    let line = |verdict: &str, n: u32| {
        format!("rootfs_guard_containers{{host=\"{host}\",verdict=\"{verdict}\"}} {n}")
    };
    let text = wait_for_line(&sock, &line("violation", 1));
    assert!(text.lines().any(|l| l == line("compliant", 1)), "{text}");
    assert!(
        text.contains(&format!("rootfs_guard_host_up{{host=\"{host}\"}} 1")),
        "{text}"
    );
    // A new writable container: the create event brings a sweep.
    d.docker_ok(&["create", "--name", "rw2", "bb:latest", "true"]);
    let text = wait_for_line(&sock, &line("violation", 2));
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    assert!(scrape
        .samples
        .iter()
        .any(|s| s.metric == "rootfs_guard_audit_timestamp_seconds"));
    drop(serving);
}

#[test]
fn a_daemon_stopped_during_the_audit_is_a_row_and_the_others_are_reported() {
    if !support::e2e_enabled(
        "a_daemon_stopped_during_the_audit_is_a_row_and_the_others_are_reported",
    ) {
        return;
    }
    let a = PrivateDockerd::start(&[]);
    let mut b = PrivateDockerd::start(&[]);
    a.import_busybox("bb:latest");
    a.docker_ok(&["create", "--name", "a-rw", "bb:latest", "true"]);
    b.import_busybox("bb:latest");
    // Enough containers on b that, inspected one at a time, its audit outlasts the kill below.
    let n = 600;
    std::thread::scope(|s| {
        for t in 0..4 {
            let b = &b;
            s.spawn(move || {
                for i in (t..n).step_by(4) {
                    let (status, out) = b.api(
                        "POST",
                        &format!("/containers/create?name=b{i}"),
                        &[("Content-Type", "application/json")],
                        serde_json::json!({"Image": "bb:latest", "Cmd": ["true"]}),
                    );
                    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&out));
                }
            });
        }
    });
    let (ha, hb) = (a.host(), b.host());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rootfs-guard"));
    cmd.args([
        "audit",
        "--host",
        &ha,
        "--host",
        &hb,
        "--concurrency",
        "1",
        "--format",
        "json",
    ])
    .env_remove("DOCKER_HOST")
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    // SIGKILL, as a crash or an OOM kill: a SIGTERMed dockerd keeps serving the connections it
    // has (the audit's pooled one) until they are done.
    // SAFETY: signalling our own child by pid.
    unsafe { libc::kill(b.pid().expect("running") as i32, libc::SIGKILL) };
    b.stop();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["hosts"][0]["reachable"], true, "{stdout}");
    assert_eq!(v["hosts"][0]["summary"]["violation"], 1);
    assert_eq!(
        v["hosts"][1]["reachable"], false,
        "b finished before it was stopped? {}",
        v["hosts"]
    );
    let reason = v["hosts"][1]["error"].as_str().unwrap();
    assert!(reason.contains(&hb), "{reason}");
    assert!(stderr.contains(&hb), "{stderr}");
    // What b gave before it stopped is kept, never more than it has.
    assert!(v["hosts"][1]["summary"]["containers"].as_u64().unwrap() < n as u64);
    eprintln!(
        "b stopped mid-audit: {} rows kept; {reason}",
        v["hosts"][1]["summary"]["containers"]
    );
}
