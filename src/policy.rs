//! The operator's policy: what is enforced and who is exempt.
//!
//! A policy is a small JSON file (`--policy FILE`); without one the embedded default applies
//! (enforce, allowlist label `rootfs-guard.allow-writable=true`). Parsing is strict: an unknown
//! field or a wrong type is an error naming the field, line and column, so a typo never silently
//! weakens enforcement. A running daemon that fails to load a new file keeps its old policy.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The label that exempts a container in the default policy.
pub const DEFAULT_ALLOW_LABEL: &str = "rootfs-guard.allow-writable";

/// The embedded default policy, as a file would spell it (shown by `rootfs-guard validate --print-default`).
pub const DEFAULT_POLICY_JSON: &str = r#"{
  "mode": "enforce",
  "allow_labels": [
    { "key": "rootfs-guard.allow-writable", "value": "true" }
  ]
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

/// A container label that exempts a container from the read-only rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowLabel {
    /// Label name (case-sensitive, as Docker stores it).
    #[serde(deserialize_with = "non_empty")]
    pub key: String,
    /// Exact value the label must have.
    pub value: String,
}

impl fmt::Display for AllowLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
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
}

fn default_allow_labels() -> Vec<AllowLabel> {
    vec![AllowLabel {
        key: DEFAULT_ALLOW_LABEL.to_owned(),
        value: "true".to_owned(),
    }]
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            mode: Mode::Enforce,
            allow_labels: default_allow_labels(),
        }
    }
}

/// Why a policy file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
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

    /// Reads and parses a policy file.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: origin.clone(),
            source,
        })?;
        Self::from_json(&text, &origin)
    }

    /// The allowlist entry these labels satisfy, if any.
    pub fn exempting_label<'a>(
        &'a self,
        labels: Option<&std::collections::BTreeMap<String, String>>,
    ) -> Option<&'a AllowLabel> {
        let labels = labels?;
        self.allow_labels
            .iter()
            .find(|entry| labels.get(&entry.key) == Some(&entry.value))
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

    #[test]
    fn exemption_needs_exact_key_and_value() {
        let p = Policy::default();
        let labels =
            |k: &str, v: &str| std::collections::BTreeMap::from([(k.to_string(), v.to_string())]);
        assert!(p
            .exempting_label(Some(&labels(DEFAULT_ALLOW_LABEL, "true")))
            .is_some());
        assert!(p
            .exempting_label(Some(&labels(DEFAULT_ALLOW_LABEL, "True")))
            .is_none());
        assert!(p
            .exempting_label(Some(&labels("Rootfs-guard.allow-writable", "true")))
            .is_none());
        assert!(p.exempting_label(None).is_none());
    }
}
