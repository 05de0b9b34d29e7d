//! End-to-end: governed exceptions against a real private dockerd. An exception that expires
//! while `serve` runs stops exempting at that instant without a reload: the same writable create
//! is allowed before and denied after, with the expiry message; `audit` of the container it
//! exempted flips from exempt to violation; `validate` warns about it before and reports it
//! expired after.

mod support;

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{guard, PluginProcess, PrivateDockerd};

/// An RFC 3339 UTC date-time `secs` from now, whole seconds.
fn rfc3339_in(secs: u64) -> (String, SystemTime) {
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + secs;
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{at}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .expect("date");
    (
        String::from_utf8(out.stdout).unwrap().trim().to_owned(),
        UNIX_EPOCH + Duration::from_secs(at),
    )
}

fn wait_until(t: SystemTime) {
    while let Ok(left) = t.duration_since(SystemTime::now()) {
        std::thread::sleep(left + Duration::from_millis(50));
    }
}

#[test]
fn an_exception_expiring_while_serve_runs_stops_exempting() {
    if !support::e2e_enabled("an_exception_expiring_while_serve_runs_stops_exempting") {
        return;
    }
    // Long enough for dockerd to start and the "before" steps to run on a loaded machine.
    let (expires, expiry) = rfc3339_in(40);
    let policy = format!(
        r#"{{"allow_labels":[{{"id":"legacy-billing","key":"billing.writable","value":"yes","owner":"team-billing","reason":"writes /var/cache/app","ticket":"CHG-1234","expires":"{expires}"}}]}}"#
    );
    let plugin = PluginProcess::start(Some(&policy));
    let d = PrivateDockerd::start(&[&plugin.authz_arg()]);
    d.import_busybox("bb:latest");
    let host = d.host();
    let policy_file = plugin.policy_path().unwrap().display().to_string();

    // Before: validate warns that it expires soon; the writable create is exempt.
    let (code, _, err) = guard(&["validate", &policy_file]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: exception `legacy-billing` expires on")
            && err.contains("owner team-billing"),
        "{err}"
    );
    let labelled = [
        "create",
        "--label",
        "billing.writable=yes",
        "bb:latest",
        "sleep",
        "600",
    ];
    let before = d.docker_ok(&[
        "create",
        "--name",
        "billing",
        "--label",
        "billing.writable=yes",
        "bb:latest",
        "sleep",
        "600",
    ]);
    assert!(!before.is_empty());
    assert!(
        SystemTime::now() < expiry,
        "the steps before expiry took too long to prove anything"
    );
    // `audit --format json`: (exit code, report).
    let audit = || {
        let (code, out, err) = guard(&[
            "audit",
            "--host",
            &host,
            "--policy",
            &policy_file,
            "--format",
            "json",
        ]);
        let report: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
        (code, report)
    };
    let (code, report) = audit();
    assert_eq!(code, 0, "{report}");
    let row = &report["containers"][0];
    assert_eq!(row["verdict"], "exempt", "{row}");
    assert_eq!(row["exception"]["id"], "legacy-billing", "{row}");
    assert_eq!(row["exception"]["owner"], "team-billing", "{row}");
    assert_eq!(row["exception"]["expires"], expires.as_str(), "{row}");
    assert_eq!(report["exceptions"][0]["containers"], 1, "{report}");
    assert!(
        plugin.logs().lines().any(|l| l.contains("allowed")
            && l.contains("exception=")
            && l.contains("legacy-billing")),
        "the allowed create logs the exception id:\n{}",
        plugin.logs()
    );

    // After, with no reload: the same create is denied, saying why.
    wait_until(expiry);
    let err = d.docker_fails(&labelled);
    assert!(
        err.contains(&format!("authorization denied by plugin {}", plugin.name()))
            && err.contains(&format!(
                "readonly-rootfs: exception `legacy-billing` expired on {expires}; ask team-billing or renew it in the policy"
            )),
        "{err}"
    );
    // The container it exempted is now a violation in the audit, with the same message.
    let (code, report) = audit();
    assert_eq!(code, 1, "{report}");
    let row = &report["containers"][0];
    assert_eq!(row["name"], "billing");
    assert_eq!(row["verdict"], "violation", "{row}");
    assert!(
        row["message"]
            .as_str()
            .unwrap()
            .starts_with("exception `legacy-billing` expired on"),
        "{row}"
    );
    assert_eq!(report["exceptions"][0]["status"], "expired", "{report}");
    // validate: a warning, or an error with --strict.
    let (code, _, err) = guard(&["validate", &policy_file]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: exception `legacy-billing` expired on"),
        "{err}"
    );
    let (code, _, err) = guard(&["validate", "--strict", &policy_file]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("error: exception `legacy-billing` expired on"),
        "{err}"
    );

    d.remove_all_containers();
}
