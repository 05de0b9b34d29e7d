//! Unit tests of the metrics: counting by result, rule and exception, the exposition text, addresses.

use super::*;
use crate::authz::wire::AuthZRequest;
use crate::decide;

fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find(|l| l.starts_with(prefix))
}

#[test]
fn exceptions_by_id_and_their_expiry() {
    let m = Metrics::new();
    let p = Policy::from_json(
        r#"{"allow_labels":[{"id":"legacy-billing","key":"w","value":"1","expires":"2026-11-30"},{"id":"forever","key":"f","value":"1"}]}"#,
        "p",
    )
    .unwrap();
    m.policy_loaded(&p);
    let create = |labels: &str| AuthZRequest {
        request_method: "POST".into(),
        request_uri: "/containers/create".into(),
        request_body: Some(
            base64_simd::STANDARD
                .encode_to_string(format!(r#"{{"Image":"bb","Labels":{labels}}}"#))
                .into(),
        ),
        ..Default::default()
    };
    let before = crate::authz::exceptions::parse_instant("2026-11-29").unwrap();
    let d = crate::authz::decision::decide_at(&p, &create(r#"{"w":"1"}"#), before);
    assert_eq!(d.exception.as_deref(), Some("legacy-billing"));
    m.decision(&d, Duration::from_micros(30));
    m.decision(&d, Duration::from_micros(30));
    let text = m.encode();
    assert_eq!(
        line(&text, "rootfs_guard_exemptions_total{"),
        Some("rootfs_guard_exemptions_total{id=\"legacy-billing\"} 2")
    );
    // 2026-12-01T00:00:00Z: the end of the day the policy names.
    assert_eq!(
        line(&text, "rootfs_guard_exception_expiry_timestamp_seconds{"),
        Some("rootfs_guard_exception_expiry_timestamp_seconds{id=\"legacy-billing\"} 1796083200.0")
    );
    assert!(!text.contains("id=\"forever\""));
    // A reload replaces the expiry series.
    m.policy_loaded(&Policy::default());
    assert!(!m
        .encode()
        .contains("rootfs_guard_exception_expiry_timestamp_seconds{"));
}

#[test]
fn counts_decisions_by_result_and_rule() {
    let m = Metrics::new();
    let p = Policy::default();
    m.policy_loaded(&p);
    let get = AuthZRequest {
        request_method: "GET".into(),
        request_uri: "/v1.41/containers/json".into(),
        ..Default::default()
    };
    let allow = decide(&p, &get);
    m.decision(&allow, Duration::from_micros(30));
    m.decision(&allow, Duration::from_micros(30));
    let deny = Decision::unreadable(&p, UNREADABLE_RULE, "bad".into(), None);
    m.decision(&deny, Duration::from_millis(2));
    m.request("AuthZReq");
    let text = m.encode();
    assert_eq!(
        line(&text, "rootfs_guard_decisions_total{result=\"allow\""),
        Some("rootfs_guard_decisions_total{result=\"allow\",rule=\"\"} 2")
    );
    assert_eq!(
        line(&text, "rootfs_guard_decisions_total{result=\"deny\""),
        Some("rootfs_guard_decisions_total{result=\"deny\",rule=\"authz-request\"} 1")
    );
    assert_eq!(
        line(&text, "rootfs_guard_request_errors_total"),
        Some("rootfs_guard_request_errors_total{kind=\"unreadable-request\"} 1")
    );
    assert_eq!(
        line(&text, "rootfs_guard_decision_duration_seconds_count"),
        Some("rootfs_guard_decision_duration_seconds_count 3")
    );
    assert_eq!(
        line(
            &text,
            "rootfs_guard_decision_duration_seconds_bucket{le=\"5e-05\"}"
        ),
        Some("rootfs_guard_decision_duration_seconds_bucket{le=\"5e-05\"} 2")
    );
    assert!(text.contains(&format!(
        "rootfs_guard_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    )));
    assert!(text.contains(&format!(
        "rootfs_guard_policy_info{{fingerprint=\"{}\",mode=\"enforce\"}} 1",
        p.fingerprint()
    )));
    assert!(text.contains("# TYPE rootfs_guard_decisions_total counter"));
}

#[test]
fn reloads_replace_the_policy_info() {
    let m = Metrics::new();
    m.policy_loaded(&Policy::default());
    let audit = Policy {
        mode: crate::authz::policy::Mode::Audit,
        ..Policy::default()
    };
    m.policy_reloaded(None);
    assert!(m
        .encode()
        .contains("rootfs_guard_policy_last_reload_successful 0"));
    m.policy_reloaded(Some(&audit));
    let text = m.encode();
    assert!(text.contains("rootfs_guard_policy_reloads_total{result=\"failure\"} 1"));
    assert!(text.contains("rootfs_guard_policy_reloads_total{result=\"success\"} 1"));
    assert!(text.contains("rootfs_guard_policy_last_reload_successful 1"));
    assert_eq!(text.matches("rootfs_guard_policy_info{").count(), 1);
    assert!(text.contains("mode=\"audit\"} 1"));
    assert_eq!(m.health()["policy"]["mode"], "audit");
    assert_eq!(m.health()["watch"], "off");
    m.watch_enabled();
    assert_eq!(m.health()["watch"], "disconnected");
    m.watch_connected(true);
    assert_eq!(m.health()["watch"], "connected");
}

#[test]
fn addresses() {
    assert_eq!(
        "127.0.0.1:9323".parse::<MetricsAddr>().unwrap(),
        MetricsAddr::Tcp("127.0.0.1:9323".parse().unwrap())
    );
    assert_eq!(
        "[::1]:9323".parse::<MetricsAddr>().unwrap().to_string(),
        "[::1]:9323"
    );
    assert_eq!(
        "unix:/run/m.sock".parse::<MetricsAddr>().unwrap(),
        MetricsAddr::Unix("/run/m.sock".into())
    );
    assert_eq!(
        "unix:///run/m.sock".parse::<MetricsAddr>().unwrap(),
        MetricsAddr::Unix("/run/m.sock".into())
    );
    assert!("unix:m.sock".parse::<MetricsAddr>().is_err());
    assert!("localhost".parse::<MetricsAddr>().is_err());
}
