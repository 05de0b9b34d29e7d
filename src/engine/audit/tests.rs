//! Table tests of the audit: verdicts from inspect data, the report's JSON and table, exit codes.

use super::*;
use crate::engine::client::{
    InspectConfig, InspectHostConfig, InspectLogConfig, InspectState, VolumeSummary,
};

fn container(
    id: &str,
    name: &str,
    readonly: bool,
    privileged: bool,
    caps: &[&str],
    labels: &[(&str, &str)],
) -> ContainerInspect {
    ContainerInspect {
        id: id.to_owned(),
        name: format!("/{name}"),
        state: Some(InspectState {
            status: "running".into(),
        }),
        config: Some(InspectConfig {
            image: "bb:latest".into(),
            labels: (!labels.is_empty()).then(|| {
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }),
            cmd: None,
        }),
        host_config: Some(InspectHostConfig {
            readonly_rootfs: readonly,
            privileged,
            cap_add: (!caps.is_empty()).then(|| caps.iter().map(|c| c.to_string()).collect()),
            log_config: None,
        }),
        mounts: None,
    }
}

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn mix() -> Vec<ContainerInspect> {
    vec![
        container(ID, "ro", true, false, &[], &[]),
        container(
            ID,
            "exempt",
            false,
            false,
            &[],
            &[("rootfs-guard.allow-writable", "true")],
        ),
        container(ID, "writable", false, false, &[], &[]),
        container(ID, "remount", true, false, &["SYS_ADMIN"], &[]),
        container(
            ID,
            "task",
            false,
            true,
            &[],
            &[
                (SWARM_SERVICE_LABEL, "svc"),
                (SWARM_TASK_LABEL, "svc.1.abc"),
            ],
        ),
    ]
}

#[test]
fn verdicts_match_the_create_rule() {
    let p = Policy::default();
    let rows: Vec<Row> = mix().iter().map(|c| assess(&p, c)).collect();
    let got: Vec<(&str, Verdict, Option<&str>)> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.verdict, r.rule))
        .collect();
    assert_eq!(
        got,
        vec![
            ("ro", Verdict::Compliant, None),
            ("exempt", Verdict::Exempt, None),
            ("writable", Verdict::Violation, Some("readonly-rootfs")),
            ("remount", Verdict::Violation, Some("remount")),
            ("task", Verdict::Violation, Some("readonly-rootfs")),
        ]
    );
    assert_eq!(
        rows[1].exemption.as_deref(),
        Some("label rootfs-guard.allow-writable=true")
    );
    assert_eq!(rows[3].remount_risk.as_deref(), Some("--cap-add SYS_ADMIN"));
    assert_eq!(rows[4].remount_risk.as_deref(), Some("--privileged"));
    assert_eq!(rows[4].swarm_service.as_deref(), Some("svc"));
    assert_eq!(rows[4].swarm_task.as_deref(), Some("svc.1.abc"));
    assert_eq!(rows[0].image, "bb:latest");
    assert!(rows[2].message.as_deref().unwrap().contains("--read-only"));
}

#[test]
fn users_scoped_exemption_is_flagged_unverifiable() {
    let p = Policy::from_json(
        r#"{"allow_labels":[{"key":"w","value":"1","users":["ci"]}]}"#,
        "p",
    )
    .unwrap();
    let row = assess(&p, &container(ID, "x", false, false, &[], &[("w", "1")]));
    assert_eq!(row.verdict, Verdict::Exempt);
    assert!(row.exemption.unwrap().contains("creator not verifiable"));
}

#[test]
fn missing_sections_are_a_writable_container() {
    let p = Policy::default();
    let c = ContainerInspect {
        id: ID.into(),
        ..Default::default()
    };
    let row = assess(&p, &c);
    assert_eq!(row.verdict, Verdict::Violation);
    assert_eq!(row.state, "");
    assert_eq!(row.name, "");
}

fn report() -> Report {
    let p = Policy::default();
    let rows = mix().iter().map(|c| assess(&p, c)).collect();
    Report::new("unix:///d.sock".into(), &p, rows, vec![], vec![])
}

#[test]
fn exit_codes() {
    let p = Policy::default();
    assert_eq!(report().exit_code(), 1);
    let ok = Report::new(
        "h".into(),
        &p,
        vec![assess(&p, &mix()[0]), assess(&p, &mix()[1])],
        vec![],
        vec![],
    );
    assert_eq!(ok.exit_code(), 0);
    let empty = Report::new("h".into(), &p, vec![], vec![], vec![]);
    assert_eq!(empty.exit_code(), 0);
    let partial = Report::new(
        "h".into(),
        &p,
        vec![],
        vec![],
        vec!["inspect x: boom".into()],
    );
    assert_eq!(partial.exit_code(), 2);
    // A volume that binds a protected root is a violation on its own.
    let volumes = vec![assess_volume(&p, &bind_volume("dr", "/var/lib/docker"))];
    let bad_volume = Report::new("h".into(), &p, vec![], volumes, vec![]);
    assert_eq!(bad_volume.exit_code(), 1);
    let volumes = vec![assess_volume(&p, &bind_volume("srv", "/srv"))];
    assert_eq!(
        Report::new("h".into(), &p, vec![], volumes, vec![]).exit_code(),
        0
    );
}

#[test]
fn table_is_aligned_and_sorted() {
    let table = report().to_table(false);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 7, "{table}");
    assert!(lines[0].starts_with("ID "), "{table}");
    assert!(lines[0].contains(" BUILD-LEFTOVER  VERDICT"), "{table}");
    let verdict_col = lines[0].find("VERDICT").unwrap();
    for l in &lines[1..6] {
        assert!(l.starts_with("0123456789ab  "), "{l}");
        let v = &l[verdict_col..];
        assert!(["compliant", "exempt", "violation"].contains(&v), "{l}");
    }
    let names: Vec<&str> = lines[1..6]
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(names, ["exempt", "remount", "ro", "task", "writable"]);
    assert_eq!(
        lines[6],
        "5 containers: 1 compliant, 1 exempt, 3 violations"
    );
    assert!(!table.contains('\x1b'));
    let coloured = report().to_table(true);
    assert!(coloured.contains("\x1b[1;31mviolation\x1b[0m"));
}

#[test]
fn cells_are_cleaned_and_cut() {
    assert_eq!(cell("a\u{1b}[31mb\nc"), "a[31mbc");
    let long = "x".repeat(100);
    assert_eq!(cell(&long).chars().count(), 48);
    assert!(cell(&long).ends_with('…'));
}

#[test]
fn json_schema_is_stable() {
    let v: serde_json::Value = serde_json::from_str(&report().to_json()).unwrap();
    assert_eq!(v["schema_version"], 2);
    assert_eq!(v["host"], "unix:///d.sock");
    assert_eq!(v["policy"]["mode"], "enforce");
    assert_eq!(v["policy"]["fingerprint"], Policy::default().fingerprint());
    assert_eq!(
        v["summary"],
        serde_json::json!({"containers":5,"compliant":1,"exempt":1,"violation":3})
    );
    assert_eq!(v["errors"], serde_json::json!([]));
    // Schema 2: every report lists its hosts, each with its own counts.
    assert_eq!(
        v["hosts"],
        serde_json::json!([{"host":"unix:///d.sock","context":null,"reachable":true,"error":null,
            "summary":{"containers":5,"compliant":1,"exempt":1,"violation":3}}])
    );
    assert!(v["generated_at"].as_str().unwrap().ends_with('Z'));
    let remount = &v["containers"][1];
    let keys: Vec<&String> = remount.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "build_leftover",
            "exception",
            "exemption",
            "host",
            "id",
            "image",
            "message",
            "name",
            "readonly_rootfs",
            "remount_risk",
            "rule",
            "state",
            "swarm_service",
            "swarm_task",
            "verdict"
        ]
    );
    assert_eq!(remount["id"], ID);
    assert_eq!(remount["name"], "remount");
    assert_eq!(remount["verdict"], "violation");
    assert_eq!(remount["rule"], "remount");
    assert_eq!(remount["remount_risk"], "--cap-add SYS_ADMIN");
    assert_eq!(remount["exemption"], serde_json::Value::Null);
    assert_eq!(remount["readonly_rootfs"], true);
    assert_eq!(remount["build_leftover"], false);
    assert_eq!(v["volumes"], serde_json::json!([]));
}

fn bind_volume(name: &str, device: &str) -> VolumeSummary {
    VolumeSummary {
        name: name.into(),
        driver: "local".into(),
        options: Some(
            [("type", "none"), ("o", "bind"), ("device", device)]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
    }
}

/// A RUN step's container as `docker build --rm=false` leaves it.
fn leftover(labels: &[(&str, &str)]) -> ContainerInspect {
    let mut c = container(ID, "elated_hopper", false, false, &[], labels);
    let config = c.config.as_mut().unwrap();
    config.image = "sha256:9e301a362a270bcb6900ebd1aad1b3a9553a9d055830bdf4cab5c2184187a2d1".into();
    config.cmd = Some(vec!["/bin/sh".into(), "-c".into(), "apk add curl".into()]);
    c.host_config.as_mut().unwrap().log_config = Some(InspectLogConfig {
        driver: "none".into(),
    });
    c
}

#[test]
fn build_leftovers_are_legacy_build_violations_whatever_their_labels() {
    let p = Policy::default();
    let allow = [("rootfs-guard.allow-writable", "true")];
    for c in [leftover(&[]), leftover(&allow)] {
        let row = assess(&p, &c);
        assert!(row.build_leftover);
        assert_eq!(row.verdict, Verdict::Violation);
        assert_eq!(row.rule, Some(LEGACY_BUILD));
        assert_eq!(row.exemption, None);
        let msg = row.message.unwrap();
        assert!(
            msg.contains(
                "left by the classic builder (a RUN step's container): remove it with \
                 docker rm elated_hopper"
            ),
            "{msg}"
        );
    }
    // With the rule off, still named, judged like any other container.
    let mut off = Policy::default();
    off.rules.legacy_build = false;
    let row = assess(&off, &leftover(&[]));
    assert!(row.build_leftover);
    assert_eq!(row.rule, Some("readonly-rootfs"));
    assert_eq!(assess(&off, &leftover(&allow)).verdict, Verdict::Exempt);
    // A user's writable container is not one.
    assert!(!assess(&p, &mix()[2]).build_leftover);
}

#[test]
fn leftovers_and_volumes_in_table_and_json() {
    let p = Policy::default();
    let rows = vec![assess(&p, &leftover(&[])), assess(&p, &mix()[0])];
    let volumes = vec![
        assess_volume(&p, &bind_volume("srv", "/srv")),
        assess_volume(&p, &bind_volume("dr", "/var/lib/docker")),
    ];
    let report = Report::new("h".into(), &p, rows, volumes, vec![]);
    assert_eq!(report.exit_code(), 1);
    let table = report.to_table(false);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 8, "{table}");
    let column = |l: &str, i: usize| l.split_whitespace().nth(i).unwrap().to_owned();
    assert_eq!(column(lines[0], 8), "BUILD-LEFTOVER");
    assert_eq!(column(lines[1], 1), "elated_hopper");
    assert_eq!(column(lines[1], 8), "yes");
    assert_eq!(column(lines[2], 8), "no");
    assert_eq!(lines[3], "2 containers: 1 compliant, 0 exempt, 1 violation");
    assert_eq!(lines[4], "");
    assert!(
        lines[5].starts_with("VOLUME  DRIVER  VERDICT    MESSAGE"),
        "{table}"
    );
    assert!(
        lines[6]
            .starts_with("dr      local   violation  volume options bind-mount /var/lib/docker"),
        "{table}"
    );
    assert!(
        lines[6].ends_with("docker volume rm dr) once no container uses it"),
        "{table}"
    );
    assert_eq!(lines[7], "2 volumes: 1 violation");
    assert!(report
        .to_table(true)
        .contains("\x1b[1;31mviolation\x1b[0m  volume options"));

    let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(v["containers"][0]["build_leftover"], true);
    assert_eq!(v["containers"][0]["rule"], "legacy-build");
    assert_eq!(v["volumes"][0]["name"], "dr");
    assert_eq!(v["volumes"][0]["driver"], "local");
    assert_eq!(v["volumes"][0]["verdict"], "violation");
    assert_eq!(v["volumes"][0]["rule"], "root-bind");
    assert!(v["volumes"][0]["message"]
        .as_str()
        .unwrap()
        .contains("reaches /var/lib/docker"));
    assert_eq!(
        v["volumes"][1],
        serde_json::json!({"host":"","name":"srv","driver":"local","verdict":"compliant","rule":null,"message":null})
    );
    // The summary stays the containers' (its keys are stable).
    assert_eq!(
        v["summary"],
        serde_json::json!({"containers":2,"compliant":1,"exempt":0,"violation":1})
    );
}

#[test]
fn many_hosts_add_a_host_column_and_a_hosts_table() {
    use super::fleet::HostStatus;
    let mut r = report();
    for row in &mut r.containers {
        row.host = "unix:///d.sock".into();
    }
    let one = r.to_table(false);
    assert!(!one.contains("HOST"), "{one}");
    r.hosts.push(HostStatus {
        host: "tcp://10.0.0.9:2376".into(),
        context: Some("edge".into()),
        reachable: false,
        error: Some("cannot reach the Docker daemon: refused".into()),
        summary: Summary::default(),
    });
    let many = r.to_table(false);
    assert!(many.starts_with("HOST "), "{many}");
    assert!(
        many.contains("tcp://10.0.0.9:2376 (edge)  unreachable"),
        "{many}"
    );
    assert!(many.contains("2 hosts: 1 reached, 1 unreachable"), "{many}");
    assert!(many.contains("\nHOST            ID "), "{many}");
    // Unreachable: exit 2 only when strict; the verdicts decide otherwise.
    assert_eq!(r.exit_code(), 1);
    assert_eq!(r.exit_code_strict(true), 2);
}

#[test]
fn exempt_rows_name_their_exception_and_flip_when_it_expires() {
    use crate::authz::exceptions::parse_instant;
    use exceptions::{exception_rows, exceptions_table, ExceptionStatus};
    let p = Policy::from_json(
        r#"{"allow_labels":[{"id":"legacy-billing","key":"w","value":"1","owner":"team-billing","ticket":"CHG-1","reason":"writes /cache","expires":"2026-11-30"},{"key":"forever","value":"1"}]}"#,
        "p",
    )
    .unwrap();
    let c = container(ID, "billing", false, false, &[], &[("w", "1")]);
    let before = parse_instant("2026-11-20").unwrap();
    let row = assess_at(&p, &c, before);
    assert_eq!(row.verdict, Verdict::Exempt);
    let x = row.exception.clone().unwrap();
    assert_eq!(
        (x.id.as_str(), x.owner.as_deref(), x.expires.as_deref()),
        ("legacy-billing", Some("team-billing"), Some("2026-11-30"))
    );
    let rows = vec![row];
    let listed = exception_rows(&p, &rows, before, EXPIRING_WITHIN);
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].containers, 1);
    assert_eq!(listed[0].status, ExceptionStatus::Expiring, "10 days left");
    assert_eq!(listed[1].status, ExceptionStatus::Active);
    let table = exceptions_table(&listed);
    assert!(table.contains("legacy-billing"), "{table}");
    assert!(
        table.contains("2 exceptions: 0 expired, 1 containers exempt"),
        "{table}"
    );
    // The same container after the expiry: a violation saying so, in the audit as at create.
    let after = parse_instant("2026-12-01T00:00:00Z").unwrap();
    let row = assess_at(&p, &c, after);
    assert_eq!(row.verdict, Verdict::Violation);
    assert!(row.exception.is_none());
    let msg = row.message.unwrap();
    assert!(
        msg.starts_with(
            "exception `legacy-billing` expired on 2026-11-30; ask team-billing or renew it"
        ),
        "{msg}"
    );
    let listed = exception_rows(&p, &[], after, EXPIRING_WITHIN);
    assert_eq!(listed[0].status, ExceptionStatus::Expired);
}

#[test]
fn prometheus_text_parses_and_counts_per_host_verdict_and_rule() {
    let mut r = report();
    for row in &mut r.containers {
        row.host = "unix:///d.sock".into();
    }
    r.hosts[0].host = "unix:///d.sock".into();
    r.hosts.push(super::fleet::HostStatus {
        host: "tcp://10.0.0.9:2376".into(),
        context: None,
        reachable: false,
        error: Some("refused".into()),
        summary: Summary::default(),
    });
    let text = super::prometheus::render(&r, 1_764_650_000.5);
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let value = |metric: &str, labels: &[(&str, &str)]| -> f64 {
        let s = scrape
            .samples
            .iter()
            .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .unwrap_or_else(|| panic!("{metric} {labels:?} not in:\n{text}"));
        match s.value {
            prometheus_parse::Value::Gauge(v) => v,
            ref other => panic!("{metric} is not a gauge: {other:?}"),
        }
    };
    let host = [("host", "unix:///d.sock")];
    let with = |k: &'static str, v: &'static str| [host[0], (k, v)];
    assert_eq!(
        value("rootfs_guard_containers", &with("verdict", "compliant")),
        1.0
    );
    assert_eq!(
        value("rootfs_guard_containers", &with("verdict", "exempt")),
        1.0
    );
    assert_eq!(
        value("rootfs_guard_containers", &with("verdict", "violation")),
        3.0
    );
    assert_eq!(
        value("rootfs_guard_violations", &with("rule", "remount")),
        1.0
    );
    assert_eq!(
        value("rootfs_guard_violations", &with("rule", "readonly-rootfs")),
        2.0
    );
    assert_eq!(value("rootfs_guard_host_up", &host), 1.0);
    // An unreachable host: down, every verdict at 0 (an alert sees the drop).
    assert_eq!(
        value("rootfs_guard_host_up", &[("host", "tcp://10.0.0.9:2376")]),
        0.0
    );
    assert_eq!(
        value(
            "rootfs_guard_containers",
            &[("host", "tcp://10.0.0.9:2376"), ("verdict", "violation")]
        ),
        0.0
    );
    assert_eq!(
        value("rootfs_guard_audit_timestamp_seconds", &[]),
        1_764_650_000.5
    );
    assert!(text.contains("# TYPE rootfs_guard_containers gauge"));
}
