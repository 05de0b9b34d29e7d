//! The operator's policy: what is enforced and who is exempt.
//!
//! A policy is a small JSON file (`--policy FILE`); without one the embedded default applies
//! (enforce, allowlist label `rootfs-guard.allow-writable=true`). Parsing is strict: an unknown
//! field or a wrong type is an error naming the field, line and column, so a typo never silently
//! weakens enforcement. A running daemon that fails to load a new file keeps its old policy.

use std::fmt;

use serde::{Deserialize, Serialize};

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

/// A container label that exempts a container from the read-only rules, optionally only for
/// some users and images (so on a shared host the label is not a self-service exemption).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowLabel {
    /// Label name (case-sensitive, as Docker stores it).
    #[serde(deserialize_with = "non_empty")]
    pub key: String,
    /// Exact value the label must have.
    pub value: String,
    /// If not empty, the entry applies only to requests from these users (the AuthZ `User`: the
    /// TLS client-certificate common name; unix-socket requests have no user).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// If not empty, the entry applies only to these images: an exact reference as the request
    /// names it (`nginx:1.25`), or a prefix ending in `*` (`registry.example.com/team/*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
}

impl fmt::Display for AllowLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

impl AllowLabel {
    /// Whether this entry exempts a container with these labels and image, created by `user`
    /// (`None`: the creator is unknown, as in an audit of existing containers).
    pub fn matches(&self, labels: &dyn Labels, image: &str, user: Option<&str>) -> bool {
        labels.label(&self.key) == Some(self.value.as_str())
            && (self.users.is_empty() || user.is_none_or(|u| self.users.iter().any(|x| x == u)))
            && (self.images.is_empty() || self.images.iter().any(|p| image_matches(p, image)))
    }
}

/// `pattern` is an exact image reference, or a prefix when it ends in `*`.
pub fn image_matches(pattern: &str, image: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => image.starts_with(prefix),
        None => pattern == image,
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
    /// Labels that exempt a container; an empty list exempts nothing.
    #[serde(default = "default_allow_labels")]
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
    vec![AllowLabel {
        key: DEFAULT_ALLOW_LABEL.to_owned(),
        value: "true".to_owned(),
        users: Vec::new(),
        images: Vec::new(),
    }]
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

    /// The allowlist entry that exempts a container with these labels and image created by
    /// `user` (`None`: unknown creator), if any.
    pub fn exempting_label<'a>(
        &'a self,
        labels: Option<&dyn Labels>,
        image: &str,
        user: Option<&str>,
    ) -> Option<&'a AllowLabel> {
        let labels = labels?;
        self.allow_labels
            .iter()
            .find(|entry| entry.matches(labels, image, user))
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

fn non_empty<'de, D: serde::Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    let s = String::deserialize(de)?;
    if s.trim().is_empty() {
        return Err(serde::de::Error::custom("must not be empty"));
    }
    Ok(s)
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
    }

    fn labels(k: &str, v: &str) -> std::collections::BTreeMap<String, String> {
        std::collections::BTreeMap::from([(k.to_string(), v.to_string())])
    }

    #[test]
    fn exemption_needs_exact_key_and_value() {
        let p = Policy::default();
        let exempt = |l| p.exempting_label(Some(&l), "bb", None).is_some();
        assert!(exempt(labels(DEFAULT_ALLOW_LABEL, "true")));
        assert!(!exempt(labels(DEFAULT_ALLOW_LABEL, "True")));
        assert!(!exempt(labels("Rootfs-guard.allow-writable", "true")));
        assert!(p.exempting_label(None, "bb", None).is_none());
    }

    #[test]
    fn scoped_exemptions() {
        let p = Policy::from_json(
            r#"{"allow_labels":[{"key":"w","value":"1","users":["ci"],"images":["reg.example/team/*","nginx:1.25"]}]}"#,
            "p",
        )
        .unwrap();
        let l = labels("w", "1");
        let exempt = |image, user| p.exempting_label(Some(&l), image, user).is_some();
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
