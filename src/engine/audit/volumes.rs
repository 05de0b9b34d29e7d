//! Volumes that are bind mounts in disguise: a `local`-driver volume created with options that
//! mount a host path (`type=none`, `o=bind`, `device=PATH`, overlay directories). A container
//! that mounts one names only the volume, so the create rule judges a volume's options when it is
//! created; the audit judges the ones that already exist, with the same functions
//! ([`local_volume_host_paths`], [`root_bind_violation`]).

use serde::Serialize;

use crate::authz::model::mount::local_volume_host_paths;
use crate::authz::policy::Policy;
use crate::authz::rules::assess::{root_bind_violation, ROOT_BIND};
use crate::engine::client::VolumeSummary;

use super::Verdict;

/// One volume in the report (the JSON schema's `volumes[]`: every key always present).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeRow {
    /// The daemon the volume is on.
    pub host: String,
    pub name: String,
    pub driver: String,
    /// `compliant` or `violation` (no allowlist entry exempts a volume).
    pub verdict: Verdict,
    /// `root-bind` when the verdict is `violation`.
    pub rule: Option<&'static str>,
    /// What to do about it.
    pub message: Option<String>,
}

/// Judges one listed volume.
pub fn assess_volume(policy: &Policy, v: &VolumeSummary) -> VolumeRow {
    let mut paths = Vec::new();
    if let Some(opts) = v.options.as_ref() {
        local_volume_host_paths(&v.driver, &|k| opts.get(k).map(String::as_str), &mut paths);
    }
    let violation = policy
        .rules
        .root_bind
        .then(|| root_bind_violation(policy, &paths))
        .flatten();
    let (verdict, rule, message) = match violation {
        Some(why) => (
            Verdict::Violation,
            Some(ROOT_BIND),
            Some(format!(
                "{why}; remove the volume (docker volume rm {}) once no container uses it",
                v.name
            )),
        ),
        None => (Verdict::Compliant, None, None),
    };
    VolumeRow {
        host: String::new(),
        name: v.name.clone(),
        driver: v.driver.clone(),
        verdict,
        rule,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume(driver: &str, opts: Option<&[(&str, &str)]>) -> VolumeSummary {
        VolumeSummary {
            name: "v".into(),
            driver: driver.into(),
            options: opts.map(|o| {
                o.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }),
        }
    }

    #[test]
    fn volumes_judged_as_at_create() {
        let bind = |device: &'static str| [("type", "none"), ("o", "rbind"), ("device", device)];
        let p = Policy::default();
        for (what, v, want) in [
            ("plain volume", volume("local", None), false),
            ("empty options", volume("local", Some(&[])), false),
            (
                "bind of the data root",
                volume("local", Some(&bind("/var/lib/docker"))),
                true,
            ),
            (
                "bind of an ancestor",
                volume("local", Some(&bind("/var//lib/"))),
                true,
            ),
            (
                "bind below containerd's root",
                volume("local", Some(&bind("/var/lib/containerd/x"))),
                true,
            ),
            (
                "bind elsewhere",
                volume("local", Some(&bind("/srv/data"))),
                false,
            ),
            (
                "overlay upperdir in the data root",
                volume(
                    "local",
                    Some(&[
                        ("type", "overlay"),
                        ("device", "overlay"),
                        ("o", "lowerdir=/srv,upperdir=/var/lib/docker/x,workdir=/w"),
                    ]),
                ),
                true,
            ),
            (
                "nfs",
                volume(
                    "local",
                    Some(&[("type", "nfs"), ("o", "addr=10.0.0.1"), ("device", ":/e")]),
                ),
                false,
            ),
            (
                "another driver's options are its own",
                volume("rexray", Some(&bind("/var/lib/docker"))),
                false,
            ),
        ] {
            let row = assess_volume(&p, &v);
            assert_eq!(row.verdict == Verdict::Violation, want, "{what}");
            assert_eq!(row.rule.is_some(), want, "{what}");
            if want {
                let msg = row.message.unwrap();
                assert!(msg.contains("docker volume rm v"), "{what}: {msg}");
            }
        }
        let mut off = Policy::default();
        off.rules.root_bind = false;
        let row = assess_volume(&off, &volume("local", Some(&bind("/var/lib/docker"))));
        assert_eq!(row.verdict, Verdict::Compliant);
        let narrow = Policy {
            protected_roots: vec!["/srv/data".into()],
            ..Policy::default()
        };
        let row = assess_volume(&narrow, &volume("local", Some(&bind("/srv/data/x"))));
        assert_eq!(row.verdict, Verdict::Violation);
    }

    #[test]
    fn volume_list_json_as_dockerd_writes_it() {
        use crate::engine::client::VolumeList;
        let list: VolumeList = serde_json::from_str(
            r#"{"Volumes":[
                {"CreatedAt":"2026-12-01T10:00:00Z","Driver":"local","Labels":null,
                 "Mountpoint":"/var/lib/docker/volumes/dr/_data","Name":"dr",
                 "Options":{"device":"/var/lib/docker","o":"rbind","type":"none"},"Scope":"local"},
                {"Driver":"local","Labels":{},"Mountpoint":"/var/lib/docker/volumes/data/_data",
                 "Name":"data","Options":null,"Scope":"local"}
              ],"Warnings":null}"#,
        )
        .unwrap();
        let rows: Vec<(String, Verdict)> = list
            .volumes
            .unwrap()
            .iter()
            .map(|v| assess_volume(&Policy::default(), v))
            .map(|r| (r.name, r.verdict))
            .collect();
        assert_eq!(
            rows,
            [
                ("dr".to_owned(), Verdict::Violation),
                ("data".to_owned(), Verdict::Compliant)
            ]
        );
        let none: VolumeList = serde_json::from_str(r#"{"Volumes":null,"Warnings":[]}"#).unwrap();
        assert_eq!(none.volumes, None);
    }
}
