//! `audit --format prometheus`: the report as Prometheus text exposition, the format
//! node_exporter's textfile collector reads, so a timer running `audit` on each host (or one
//! running it for the fleet) feeds the Prometheus that already scrapes those hosts. Pure: a
//! report in, text out; the CLI writes it atomically.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Report, Verdict};

/// The gauges, by name (the same names `serve --watch` would export live).
pub const CONTAINERS: &str = "rootfs_guard_containers";
pub const VIOLATIONS: &str = "rootfs_guard_violations";
pub const HOST_UP: &str = "rootfs_guard_host_up";
pub const VOLUME_VIOLATIONS: &str = "rootfs_guard_volume_violations";
pub const TIMESTAMP: &str = "rootfs_guard_audit_timestamp_seconds";

/// The report as text exposition: per host, containers by verdict (every verdict, 0 included,
/// so an alert on `violation > 0` sees it drop to 0), violations by rule, whether the host was
/// reached, volume violations; then when the audit ran (`timestamp`, unix seconds).
pub fn render(report: &Report, timestamp: f64) -> String {
    let mut out = String::new();
    let gauge = |out: &mut String, name: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    };
    gauge(
        &mut out,
        CONTAINERS,
        "Containers by host and verdict at the last audit (CIS 5.12: read-only root filesystem).",
    );
    for h in &report.hosts {
        for v in [Verdict::Compliant, Verdict::Exempt, Verdict::Violation] {
            let n = report
                .containers
                .iter()
                .filter(|r| r.host == h.host && r.verdict == v)
                .count();
            let _ = writeln!(
                out,
                "{CONTAINERS}{{host=\"{}\",verdict=\"{}\"}} {n}",
                escape(&h.host),
                v.as_str()
            );
        }
    }
    gauge(
        &mut out,
        VIOLATIONS,
        "Violating containers by host and rule at the last audit.",
    );
    let mut by_rule: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for r in &report.containers {
        if let Some(rule) = r.rule {
            *by_rule.entry((r.host.as_str(), rule)).or_default() += 1;
        }
    }
    for ((host, rule), n) in &by_rule {
        let _ = writeln!(
            out,
            "{VIOLATIONS}{{host=\"{}\",rule=\"{rule}\"}} {n}",
            escape(host)
        );
    }
    gauge(
        &mut out,
        VOLUME_VIOLATIONS,
        "Volumes whose options bind a protected root, by host, at the last audit.",
    );
    for h in &report.hosts {
        let n = report
            .volume_violations()
            .filter(|v| v.host == h.host)
            .count();
        let _ = writeln!(
            out,
            "{VOLUME_VIOLATIONS}{{host=\"{}\"}} {n}",
            escape(&h.host)
        );
    }
    gauge(
        &mut out,
        HOST_UP,
        "1 when the last audit reached the host's Docker daemon, 0 when it could not.",
    );
    for h in &report.hosts {
        let _ = writeln!(
            out,
            "{HOST_UP}{{host=\"{}\"}} {}",
            escape(&h.host),
            u8::from(h.reachable)
        );
    }
    gauge(
        &mut out,
        TIMESTAMP,
        "When the last audit ran, in unix seconds.",
    );
    let _ = writeln!(out, "{TIMESTAMP} {timestamp:.3}");
    out
}

/// A label value as the text format escapes it: backslash, double quote, newline.
fn escape(s: &str) -> String {
    s.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape("x\ny"), r"x\ny");
    }
}
