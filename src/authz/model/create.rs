//! `POST /containers/create`: the body as dockerd decodes it, and the effective HostConfig.
//!
//! dockerd 20.10–26.x decode the body into a wrapper that embeds `*container.Config`, has a
//! `HostConfig` key, and *also* embeds `*container.HostConfig` (the deprecated top-level form): when
//! the `HostConfig` key is absent or null, the top-level HostConfig fields are used. dockerd 27+
//! dropped the embedded HostConfig. [`DockerdReading`] names the two readings; a decision must hold
//! under both.

use serde::Deserializer;

use crate::authz::gojson::{
    self, FlatStringMap, GoDecode, GoJsonError, GoStrSlice, GoStringMap, GoStringSlice, GoStruct,
    GoStructSlice, GoValue,
};
use crate::authz::model::mount::{bind_host_path, mount_host_paths, HostPathMount, Mount};

/// How a dockerd version turns a create body into a HostConfig.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DockerdReading {
    /// dockerd 20.10 through 26.x: the `HostConfig` key wins; if it is absent or null the
    /// deprecated top-level HostConfig fields are used.
    TopLevelFallback,
    /// dockerd 27.0.1 and later: only the `HostConfig` key counts.
    HostConfigKeyOnly,
}

impl DockerdReading {
    pub const ALL: [DockerdReading; 2] = [Self::TopLevelFallback, Self::HostConfigKeyOnly];
}

/// The modelled part of `container.Config`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ContainerConfig {
    pub image: String,
    pub labels: GoStringMap,
}

impl GoStruct for ContainerConfig {
    const FIELDS: &'static [&'static str] = &["Image", "Labels"];
    fn decode_field<'de, D: Deserializer<'de>>(&mut self, i: usize, de: D) -> Result<(), D::Error> {
        match i {
            0 => self.image.go_decode(de),
            _ => self.labels.go_decode(de),
        }
    }
}

/// The modelled part of `container.HostConfig`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HostConfig {
    pub readonly_rootfs: bool,
    pub privileged: bool,
    pub cap_add: GoStrSlice,
    pub binds: GoStringSlice,
    pub mounts: GoStructSlice<Mount>,
}

impl GoStruct for HostConfig {
    const FIELDS: &'static [&'static str] =
        &["ReadonlyRootfs", "Privileged", "CapAdd", "Binds", "Mounts"];
    fn decode_field<'de, D: Deserializer<'de>>(&mut self, i: usize, de: D) -> Result<(), D::Error> {
        match i {
            0 => self.readonly_rootfs.go_decode(de),
            1 => self.privileged.go_decode(de),
            2 => self.cap_add.go_decode(de),
            3 => self.binds.go_decode(de),
            _ => self.mounts.go_decode(de),
        }
    }
}

impl HostConfig {
    pub fn cap_add(&self) -> &[String] {
        self.cap_add.0.as_deref().unwrap_or_default()
    }

    /// Every host path the container would mount (`Binds` and `Mounts`).
    pub fn host_paths(&self) -> Vec<HostPathMount> {
        let mut out: Vec<HostPathMount> = self
            .binds
            .0
            .iter()
            .flatten()
            .filter_map(|b| bind_host_path(b))
            .collect();
        for m in self.mounts.as_slice() {
            mount_host_paths(m, &mut out);
        }
        out
    }
}

/// dockerd's `ContainerConfigWrapper` as decoded from a create body.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CreateBody {
    /// The embedded `*container.Config` (top-level `Image`, `Labels`, ...); nil until a Config
    /// field appears.
    pub config: Option<ContainerConfig>,
    /// The `HostConfig` key (`InnerHostConfig` in dockerd 20.10).
    pub host_config: Option<HostConfig>,
    /// The embedded deprecated `*container.HostConfig` (top-level `ReadonlyRootfs`, ...).
    pub top_level_host_config: Option<HostConfig>,
}

impl GoStruct for CreateBody {
    // Depth-0 field first, then the promoted fields of the embedded structs (Go's field order).
    // Unmodelled promoted fields would only allocate an embedded struct, which changes none of
    // the values below: a nil and a zero HostConfig are both writable, nil and zero Config have
    // no labels.
    const FIELDS: &'static [&'static str] = &[
        "HostConfig",
        "Image",
        "Labels",
        "ReadonlyRootfs",
        "Privileged",
        "CapAdd",
        "Binds",
        "Mounts",
    ];
    fn decode_field<'de, D: Deserializer<'de>>(&mut self, i: usize, de: D) -> Result<(), D::Error> {
        match i {
            0 => self.host_config.go_decode(de),
            // Go allocates an embedded struct pointer as soon as one of its fields is decoded,
            // even when the value is null.
            1 | 2 => {
                let config = self.config.get_or_insert_with(Default::default);
                config.decode_field(i - 1, de)
            }
            _ => {
                let hc = self
                    .top_level_host_config
                    .get_or_insert_with(Default::default);
                hc.decode_field(i - 3, de)
            }
        }
    }
}

impl CreateBody {
    /// Decodes a create body the way dockerd does (see [`crate::authz::gojson`]).
    pub fn decode(body: &[u8]) -> Result<Self, GoJsonError> {
        let mut wrapper = GoValue(CreateBody::default());
        gojson::decode(body, &mut wrapper)?;
        Ok(wrapper.0)
    }

    /// The HostConfig the container would be created with under `reading`; `None` means dockerd
    /// would use an all-default HostConfig (writable, unprivileged).
    pub fn effective_host_config(&self, reading: DockerdReading) -> Option<&HostConfig> {
        match (reading, &self.host_config) {
            (_, Some(hc)) => Some(hc),
            (DockerdReading::TopLevelFallback, None) => self.top_level_host_config.as_ref(),
            (DockerdReading::HostConfigKeyOnly, None) => None,
        }
    }

    /// Effective `ReadonlyRootfs` under `reading`.
    pub fn readonly_rootfs(&self, reading: DockerdReading) -> bool {
        self.effective_host_config(reading)
            .is_some_and(|hc| hc.readonly_rootfs)
    }

    /// The labels the container would carry (the same under every reading).
    pub fn labels(&self) -> Option<&FlatStringMap> {
        self.config.as_ref().and_then(|c| c.labels.0.as_ref())
    }

    pub fn image(&self) -> &str {
        self.config.as_ref().map_or("", |c| c.image.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DockerdReading::*;

    fn readonly(body: &str) -> (bool, bool) {
        let b = CreateBody::decode(body.as_bytes()).unwrap();
        (
            b.readonly_rootfs(TopLevelFallback),
            b.readonly_rootfs(HostConfigKeyOnly),
        )
    }

    #[test]
    fn readonly_rootfs_readings() {
        // (body, under 20.10–26.x, under 27+)
        let cases = [
            (
                r#"{"Image":"x","HostConfig":{"ReadonlyRootfs":true}}"#,
                (true, true),
            ),
            (
                r#"{"image":"x","cmd":["sh"],"hostconfig":{"readonlyrootfs":true}}"#,
                (true, true),
            ),
            (r#"{"Image":"x"}"#, (false, false)),
            (r#"{"Image":"x","HostConfig":{}}"#, (false, false)),
            // Seen on dockerd: the lower-case key shadows the earlier true.
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true},"hostconfig":{"readonlyrootfs":false}}"#,
                (false, false),
            ),
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true},"hostconfig":{"Privileged":false}}"#,
                (true, true),
            ),
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true},"HostConfig":null}"#,
                (false, false),
            ),
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true,"ReadonlyRootfs":null}}"#,
                (true, true),
            ),
            (
                r#"{"HostConfig":{"ReadonlyRootf\u017f":true}}"#,
                (true, true),
            ),
            (
                "{\"HostConfig\":{\"ReadonlyRootf\u{017F}\":true}}",
                (true, true),
            ),
            (
                "{\"Ho\u{017F}tConfig\":{\"ReadonlyRootfs\":true}}",
                (true, true),
            ),
            (
                "{\"HostConfig\":{\"ReadonlyRootf\u{017F}\":true,\"readonlyrootfs\":false}}",
                (false, false),
            ),
            // Deprecated top-level form: honoured by 20.10–26.x only.
            (r#"{"Image":"x","ReadonlyRootfs":true}"#, (true, false)),
            (
                r#"{"Image":"x","ReadonlyRootfs":true,"HostConfig":null}"#,
                (true, false),
            ),
            // The HostConfig key wins over top-level fields when present.
            (r#"{"ReadonlyRootfs":true,"HostConfig":{}}"#, (false, false)),
            (
                r#"{"ReadonlyRootfs":false,"HostConfig":{"ReadonlyRootfs":true}}"#,
                (true, true),
            ),
            // Key with a Kelvin sign is not ReadonlyRootfs (no k in the name): ignored.
            (
                "{\"HostConfig\":{\"ReadonlyRootfs\":true,\"Readonly\u{212A}ootfs\":false}}",
                (true, true),
            ),
        ];
        for (body, want) in cases {
            assert_eq!(readonly(body), want, "{body}");
        }
    }

    #[test]
    fn labels_as_dockerd_stores_them() {
        let labels = |body: &str| {
            CreateBody::decode(body.as_bytes())
                .unwrap()
                .labels()
                .cloned()
        };
        // Seen on dockerd: a later null erases earlier labels.
        assert_eq!(labels(r#"{"Labels":{"k":"v"},"labels":null}"#), None);
        let merged = labels(r#"{"Labels":{"a":"1"},"LABELS":{"b":"2","a":"3"}}"#).unwrap();
        assert_eq!(merged.len(), 2);
        assert_eq!(merged.get("a"), Some("3"));
        // Labels under HostConfig are not container labels.
        assert_eq!(labels(r#"{"HostConfig":{"Labels":{"a":"1"}}}"#), None);
    }

    #[test]
    fn privileged_and_caps_follow_the_same_readings() {
        let b = CreateBody::decode(
            br#"{"Privileged":true,"CapAdd":"SYS_ADMIN","HostConfig":{"ReadonlyRootfs":true}}"#,
        )
        .unwrap();
        let inner = b.effective_host_config(TopLevelFallback).unwrap();
        assert!(!inner.privileged);
        assert!(inner.cap_add().is_empty());
        assert!(b.top_level_host_config.as_ref().unwrap().privileged);
    }

    #[test]
    fn type_errors_and_non_objects_fail() {
        for body in [
            r#"{"HostConfig":{"ReadonlyRootfs":"true"}}"#,
            r#"{"HostConfig":"x"}"#,
            r#"{"ReadonlyRootfs":1}"#,
            r#"{"Labels":"a=b"}"#,
            r#"[]"#,
            r#""x""#,
            r#"{"HostConfig":{"ReadonlyRootfs":true}} {"x":1}"#,
        ] {
            assert!(CreateBody::decode(body.as_bytes()).is_err(), "{body}");
        }
        // A top-level null decodes to an empty wrapper (dockerd then refuses: no Config).
        assert_eq!(CreateBody::decode(b"null").unwrap(), CreateBody::default());
    }
}
