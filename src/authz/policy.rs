//! The operator's policy: what is enforced and who is exempt.
//!
//! A policy is a small JSON file (`--policy FILE`); without one the embedded default applies
//! (enforce, allowlist label `rootfs-guard.allow-writable=true`). Parsing is strict: an unknown
//! field or a wrong type is an error naming the field, line and column, so a typo never silently
//! weakens enforcement. A running daemon that fails to load a new file keeps its old policy.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::authz::exceptions::{image_matches, AllowLabel, Expiry};
use crate::authz::exceptions::{ExceptionMatch, LazyIndex};
use crate::authz::model::Labels;

/// The label that exempts a container in the default policy.
pub const DEFAULT_ALLOW_LABEL: &str = "rootfs-guard.allow-writable";

/// The embedded default policy, as a file would spell it (shown by `rootfs-guard validate --print-default`).
pub const DEFAULT_POLICY_JSON: &str = r#"{
  "mode": "enforce",
  "allow_labels": [
    { "key": "rootfs-guard.allow-writable", "value": "true" }
  ],
  "exempt_users": [],
  "admins": [],
  "rules": {
    "remount": true,
    "exec_privileged": true,
    "swarm_services": true,
    "service_rollback": true,
    "swarm_join": true,
    "self_protection": true,
    "legacy_build": true,
    "service_runtime": true,
    "root_bind": true,
    "root_bind_readonly": true
  },
  "protected_roots": ["/var/lib/docker", "/var/lib/containerd"]
}
"#;

/// Whether denials are enforced or only reported.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Requests that break a rule are denied.
    #[default]
    Enforce,
    /// Requests that break a rule are allowed and logged as would-be denials.
    Audit,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Enforce => "enforce",
            Mode::Audit => "audit",
        })
    }
}

/// Switches for the rules beyond the read-only root filesystem itself; all on by default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuleSwitches {
    /// Deny read-only containers and services that can remount `/` read-write (privileged,
    /// `SYS_ADMIN`, `ALL`).
    pub remount: bool,
    /// Deny `docker exec --privileged`.
    pub exec_privileged: bool,
    /// Check swarm service specs (`TaskTemplate.ContainerSpec.ReadOnly`) on create and update.
    pub swarm_services: bool,
    /// Deny `docker service rollback` (`update?rollback=previous`), whose spec cannot be seen.
    pub service_rollback: bool,
    /// Deny joining a swarm (remote managers would schedule unchecked tasks here).
    pub swarm_join: bool,
    /// Deny plugin management (disable, remove, reconfigure, install) to everyone but `admins`.
    pub self_protection: bool,
    /// Deny the classic builder (`POST /build` without `version=2`): its RUN steps run in
    /// writable containers dockerd creates internally, which no plugin ever sees.
    pub legacy_build: bool,
    /// Deny swarm services whose tasks are not containers (`TaskTemplate.Runtime` `plugin` or
    /// `attachment`, a `PluginSpec` or `NetworkAttachmentSpec`).
    pub service_runtime: bool,
    /// Deny writable mounts of a host path that reaches a `protected_roots` directory (the path
    /// itself, above it or below it), and `local` volumes whose options bind such a path: through
    /// them a read-only container writes its own root filesystem.
    pub root_bind: bool,
    /// With `root_bind`, deny *read-only* mounts that reach a `protected_roots` directory too.
    /// dockerd before 25, and 25+ for API versions below 1.44 or on kernels before 5.12, makes
    /// a read-only bind non-recursive: the mounts below it (every running container's overlay
    /// root) stay writable through it (seen on 20.10). Switch it off only where every client and
    /// daemon gives recursive read-only binds (monitoring agents mounting `/` read-only).
    pub root_bind_readonly: bool,
}

impl Default for RuleSwitches {
    fn default() -> Self {
        RuleSwitches {
            remount: true,
            exec_privileged: true,
            swarm_services: true,
            service_rollback: true,
            swarm_join: true,
            self_protection: true,
            legacy_build: true,
            service_runtime: true,
            root_bind: true,
            root_bind_readonly: true,
        }
    }
}

/// The whole policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub mode: Mode,
    /// Labels that exempt a container (the exceptions); an empty list exempts nothing.
    #[serde(
        default = "default_allow_labels",
        deserialize_with = "unique_exceptions"
    )]
    pub allow_labels: Vec<AllowLabel>,
    /// Users (TLS client-certificate CN) whose requests no rule denies.
    #[serde(default)]
    pub exempt_users: Vec<String>,
    /// Users allowed to manage plugins (and so to disable or replace the guard).
    #[serde(default)]
    pub admins: Vec<String>,
    /// Rule switches.
    #[serde(default)]
    pub rules: RuleSwitches,
    /// Host directories holding container root filesystems: dockerd's `--data-root` and
    /// containerd's `root`. A writable mount that reaches one of them is denied (`root_bind`).
    #[serde(
        default = "default_protected_roots",
        deserialize_with = "absolute_paths"
    )]
    pub protected_roots: Vec<String>,
    /// The allowlist's index, built on first use (never set by hand; `..Policy::default()`
    /// brings an empty one).
    #[serde(skip)]
    pub index: LazyIndex,
}

/// dockerd's and containerd's default data roots.
pub const DEFAULT_PROTECTED_ROOTS: [&str; 2] = ["/var/lib/docker", "/var/lib/containerd"];

fn default_protected_roots() -> Vec<String> {
    DEFAULT_PROTECTED_ROOTS.map(str::to_owned).to_vec()
}

fn absolute_paths<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Vec<String>, D::Error> {
    let paths = Vec::<String>::deserialize(de)?;
    if let Some(bad) = paths.iter().find(|p| !p.starts_with('/')) {
        return Err(serde::de::Error::custom(format!(
            "{bad:?} is not an absolute path"
        )));
    }
    Ok(paths)
}

fn default_allow_labels() -> Vec<AllowLabel> {
    vec![AllowLabel::new(DEFAULT_ALLOW_LABEL, "true")]
}

/// The exceptions, each id used once: a duplicate is an error at the entry that repeats it.
fn unique_exceptions<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Vec<AllowLabel>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<AllowLabel>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of allowlist entries")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out: Vec<AllowLabel> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            while let Some(entry) = seq.next_element::<AllowLabel>()? {
                let id = entry.id();
                if !seen.insert(id.clone()) {
                    let first = out.iter().position(|e| e.id() == id).unwrap_or_default();
                    return Err(serde::de::Error::custom(format!(
                        "allow_labels[{}] repeats the id {id:?} of allow_labels[{first}]: give each exception its own id",
                        out.len()
                    )));
                }
                out.push(entry);
            }
            Ok(out)
        }
    }
    de.deserialize_seq(V)
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            mode: Mode::Enforce,
            allow_labels: default_allow_labels(),
            exempt_users: Vec::new(),
            admins: Vec::new(),
            rules: RuleSwitches::default(),
            protected_roots: default_protected_roots(),
            index: LazyIndex::default(),
        }
    }
}

/// Why a policy file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    // The I/O error is part of the message (not a `source`), so it is printed once both in logs
    // and in the CLI's error chain.
    #[error("cannot read policy file {path}: {error}")]
    Read { path: String, error: std::io::Error },
    /// A JSON or schema error, with the dotted path of the field at fault.
    #[error("{origin}: line {line}, column {column}: field `{field}`: {message}")]
    Invalid {
        origin: String,
        line: usize,
        column: usize,
        field: String,
        message: String,
    },
}

impl Policy {
    /// Parses a policy from JSON text; `origin` names it in errors (usually the file path).
    pub fn from_json(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let invalid = |field: String, err: &serde_json::Error| PolicyError::Invalid {
            origin: origin.to_owned(),
            line: err.line(),
            column: err.column(),
            field,
            message: strip_position(&err.to_string()),
        };
        let policy: Policy = serde_path_to_error::deserialize(&mut *de)
            .map_err(|e| invalid(field_path(e.path()), e.inner()))?;
        de.end().map_err(|e| invalid("(end of file)".into(), &e))?;
        Ok(policy)
    }

    /// What the allowlist says about a container with these labels and image created by `user`
    /// (`None`: unknown creator) at `now`: the entry that exempts it, the expired entry that no
    /// longer does, or none. Indexed: exact images by hash, prefixes in a patricia tree.
    pub fn exception_for(
        &self,
        labels: Option<&dyn Labels>,
        image: &str,
        user: Option<&str>,
        now: std::time::SystemTime,
    ) -> ExceptionMatch<'_> {
        let Some(labels) = labels else {
            return ExceptionMatch::None;
        };
        self.index
            .get(&self.allow_labels)
            .find(&self.allow_labels, labels, image, user, now)
    }

    /// The entry that exempts a container at `now`, if any (see [`Policy::exception_for`]).
    pub fn exempting_label(
        &self,
        labels: Option<&dyn Labels>,
        image: &str,
        user: Option<&str>,
        now: std::time::SystemTime,
    ) -> Option<&AllowLabel> {
        match self.exception_for(labels, image, user, now) {
            ExceptionMatch::Exempts(entry) => Some(entry),
            _ => None,
        }
    }

    /// The exception with this id.
    pub fn exception(&self, id: &str) -> Option<&AllowLabel> {
        self.allow_labels.iter().find(|e| e.id() == id)
    }

    /// Whether no rule applies to requests from this user.
    pub fn is_exempt_user(&self, user: &str) -> bool {
        !user.is_empty() && self.exempt_users.iter().any(|u| u == user)
    }

    /// Whether this user may manage plugins.
    pub fn is_admin(&self, user: &str) -> bool {
        !user.is_empty() && self.admins.iter().any(|u| u == user)
    }

    /// A short stable fingerprint of the policy's content (FNV-1a over its canonical JSON), logged
    /// on load so operators can tell which policy a daemon runs.
    pub fn fingerprint(&self) -> String {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in canonical {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{hash:016x}")
    }
}

fn field_path(path: &serde_path_to_error::Path) -> String {
    let s = path.to_string();
    if s == "." {
        "(top level)".into()
    } else {
        s
    }
}

/// serde_json appends " at line L column C"; we report those separately.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_parses_to_default() {
        assert_eq!(
            Policy::from_json(DEFAULT_POLICY_JSON, "default").unwrap(),
            Policy::default()
        );
        assert_eq!(Policy::from_json("{}", "x").unwrap(), Policy::default());
    }

    #[test]
    fn example_policy_file_is_valid() {
        let text = include_str!("../../examples/policy.json");
        let p = Policy::from_json(text, "examples/policy.json").unwrap();
        assert_eq!(p.admins, vec!["ops-admin".to_string()]);
    }

    #[test]
    fn full_policy() {
        let p = Policy::from_json(
            r#"{"mode":"audit","allow_labels":[{"key":"a","value":"b"},{"key":"c","value":""}]}"#,
            "p.json",
        )
        .unwrap();
        assert_eq!(p.mode, Mode::Audit);
        assert_eq!(p.allow_labels.len(), 2);
        assert_eq!(
            Policy::from_json(r#"{"allow_labels":[]}"#, "x")
                .unwrap()
                .allow_labels,
            vec![]
        );
    }

    #[test]
    fn errors_name_line_and_field() {
        let err = Policy::from_json("{\n  \"mode\": \"enforce\",\n  \"modee\": 1\n}", "p.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("p.json: line 3"), "{err}");
        assert!(err.contains("unknown field `modee`"), "{err}");

        let err = Policy::from_json(
            "{\"allow_labels\": [\n {\"key\": \"a\", \"value\": true}\n]}",
            "p.json",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("allow_labels[0].value"), "{err}");

        let err = Policy::from_json(r#"{"mode":"strict"}"#, "p.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("field `mode`"), "{err}");

        let err = Policy::from_json(r#"{"allow_labels":[{"key":" ","value":"x"}]}"#, "p.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("allow_labels[0].key"), "{err}");

        assert!(Policy::from_json("{} {}", "p.json").is_err());
        assert!(Policy::from_json("", "p.json").is_err());

        // A governed exception's fields: a bad expiry names its line and field.
        let err = Policy::from_json(
            "{\"allow_labels\": [\n {\"key\": \"a\", \"value\": \"1\",\n  \"expires\": \"2026-11-31\"}\n]}",
            "p.json",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("allow_labels[0].expires"), "{err}");
        assert!(err.contains("not an RFC 3339 date"), "{err}");
        // Ids are unique, derived ones included.
        let err = Policy::from_json(
            "{\"allow_labels\": [\n {\"id\": \"x\", \"key\": \"a\", \"value\": \"1\"},\n {\"id\": \"x\", \"key\": \"b\", \"value\": \"1\"}\n]}",
            "p.json",
        )
        .unwrap_err()
        .to_string();
        // Found once the entry is read: the position is just past it.
        assert!(err.contains("line 4"), "{err}");
        assert!(
            err.contains("allow_labels[1] repeats the id \"x\" of allow_labels[0]"),
            "{err}"
        );
        assert!(Policy::from_json(
            r#"{"allow_labels":[{"key":"a","value":"1"},{"key":"a","value":"1"}]}"#,
            "p"
        )
        .is_err());
        assert!(Policy::from_json(
            r#"{"allow_labels":[{"key":"a","value":"1","ownr":"x"}]}"#,
            "p"
        )
        .unwrap_err()
        .to_string()
        .contains("unknown field `ownr`"));
    }

    #[test]
    fn governed_exception_round_trips() {
        let text = r#"{"allow_labels":[{"id":"legacy-billing","key":"rootfs-guard.allow-writable","value":"true","images":["registry.example.com/billing/*"],"reason":"writes /opt/app/cache; fix in BILL-88","owner":"team-billing@example.com","ticket":"CHG-1234","expires":"2026-11-30"}]}"#;
        let p = Policy::from_json(text, "p").unwrap();
        let e = &p.allow_labels[0];
        assert_eq!(e.id(), "legacy-billing");
        assert_eq!(e.owner.as_deref(), Some("team-billing@example.com"));
        assert_eq!(e.expires.unwrap().display(), "2026-11-30");
        let again = Policy::from_json(&serde_json::to_string(&p).unwrap(), "again").unwrap();
        assert_eq!(again, p);
        assert_eq!(again.fingerprint(), p.fingerprint());
    }

    fn labels(k: &str, v: &str) -> std::collections::BTreeMap<String, String> {
        std::collections::BTreeMap::from([(k.to_string(), v.to_string())])
    }

    #[test]
    fn exemption_needs_exact_key_and_value() {
        let p = Policy::default();
        let exempt = |l| {
            p.exempting_label(Some(&l), "bb", None, std::time::UNIX_EPOCH)
                .is_some()
        };
        assert!(exempt(labels(DEFAULT_ALLOW_LABEL, "true")));
        assert!(!exempt(labels(DEFAULT_ALLOW_LABEL, "True")));
        assert!(!exempt(labels("Rootfs-guard.allow-writable", "true")));
        assert!(p
            .exempting_label(None, "bb", None, std::time::UNIX_EPOCH)
            .is_none());
    }

    #[test]
    fn scoped_exemptions() {
        let p = Policy::from_json(
            r#"{"allow_labels":[{"key":"w","value":"1","users":["ci"],"images":["reg.example/team/*","nginx:1.25"]}]}"#,
            "p",
        )
        .unwrap();
        let l = labels("w", "1");
        let exempt = |image, user| {
            p.exempting_label(Some(&l), image, user, std::time::UNIX_EPOCH)
                .is_some()
        };
        assert!(exempt("reg.example/team/app:1", Some("ci")));
        assert!(exempt("nginx:1.25", Some("ci")));
        assert!(!exempt("nginx:1.26", Some("ci")));
        assert!(!exempt("reg.example/other/app", Some("ci")));
        assert!(!exempt("nginx:1.25", Some("bob")));
        assert!(!exempt("nginx:1.25", Some("")));
        // Unknown creator (audit of an existing container): only the user scope is unverifiable.
        assert!(exempt("nginx:1.25", None));
    }

    #[test]
    fn rule_switches_default_on_and_are_strict() {
        let p = Policy::from_json(r#"{"rules":{"swarm_join":false}}"#, "p").unwrap();
        assert!(!p.rules.swarm_join);
        assert!(p.rules.remount && p.rules.self_protection);
        let err = Policy::from_json(r#"{"rules":{"swarm_joins":false}}"#, "p")
            .unwrap_err()
            .to_string();
        assert!(err.contains("swarm_joins"), "{err}");
        assert!(!p.is_admin(""));
    }
}
