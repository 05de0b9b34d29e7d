//! End-to-end: many daemons in one `audit`. Two private dockerds (one reached by its socket, one
//! through a docker context the real CLI wrote) and a third entry nobody listens on, given by
//! `--host` and `--hosts FILE`: every container row carries its host, the hosts table and
//! `hosts[]` count each daemon, and a daemon stopped between two audits becomes a row with the
//! reason while the others are still reported (exit 1 from their verdicts; 2 with `--strict`).

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::PrivateDockerd;

fn guard(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rootfs-guard"));
    cmd.args(args)
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = support::run_with_timeout(cmd, None, support::DEFAULT_TIMEOUT);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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
