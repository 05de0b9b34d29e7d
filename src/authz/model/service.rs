//! `POST /services/create` and `/services/{id}/update`: the parts of swarm's `ServiceSpec` that
//! decide whether task containers get a writable root filesystem. Task containers are created
//! inside dockerd and never pass through an authorization plugin, so the spec is the only place
//! to check them.

use serde::Deserializer;

use crate::authz::gojson::{
    self, FlatStringMap, GoDecode, GoJsonError, GoStringMap, GoStringSlice, GoStruct,
    GoStructSlice, GoValue, Opaque,
};
use crate::authz::model::mount::{mount_host_paths, HostPathMount, Mount};

/// `swarm.ServiceSpec` (only `TaskTemplate`, a struct value: `null` leaves it alone).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    pub task_template: GoValue<TaskSpec>,
}

impl GoStruct for ServiceSpec {
    const FIELDS: &'static [&'static str] = &["TaskTemplate"];
    fn decode_field<'de, D: Deserializer<'de>>(&mut self, _: usize, de: D) -> Result<(), D::Error> {
        self.task_template.go_decode(de)
    }
}

/// `swarm.TaskSpec`: the `*ContainerSpec` pointer, and what says the task is *not* a container:
/// `Runtime` (`plugin`, `attachment`) and the `*PluginSpec` / `*NetworkAttachmentSpec` pointers.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TaskSpec {
    pub container_spec: Option<ContainerSpec>,
    pub plugin_spec: Option<Opaque>,
    pub network_attachment_spec: Option<Opaque>,
    pub runtime: String,
}

impl GoStruct for TaskSpec {
    const FIELDS: &'static [&'static str] = &[
        "ContainerSpec",
        "PluginSpec",
        "NetworkAttachmentSpec",
        "Runtime",
    ];
    fn decode_field<'de, D: Deserializer<'de>>(&mut self, i: usize, de: D) -> Result<(), D::Error> {
        match i {
            0 => self.container_spec.go_decode(de),
            1 => self.plugin_spec.go_decode(de),
            2 => self.network_attachment_spec.go_decode(de),
            _ => self.runtime.go_decode(de),
        }
    }
}

/// `swarm.ContainerSpec`: what each task container is created from.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    pub image: String,
    pub labels: GoStringMap,
    pub read_only: bool,
    pub capability_add: GoStringSlice,
    pub mounts: GoStructSlice<Mount>,
}

impl GoStruct for ContainerSpec {
    const FIELDS: &'static [&'static str] =
        &["Image", "Labels", "ReadOnly", "CapabilityAdd", "Mounts"];
    fn decode_field<'de, D: Deserializer<'de>>(&mut self, i: usize, de: D) -> Result<(), D::Error> {
        match i {
            0 => self.image.go_decode(de),
            1 => self.labels.go_decode(de),
            2 => self.read_only.go_decode(de),
            3 => self.capability_add.go_decode(de),
            _ => self.mounts.go_decode(de),
        }
    }
}

impl ServiceSpec {
    pub fn decode(body: &[u8]) -> Result<Self, GoJsonError> {
        let mut v = GoValue(ServiceSpec::default());
        gojson::decode(body, &mut v)?;
        Ok(v.0)
    }

    pub fn container_spec(&self) -> Option<&ContainerSpec> {
        self.task_template.0.container_spec.as_ref()
    }

    /// What makes the task something other than a container, if anything: a `Runtime` other
    /// than `container` (dockerd's default when empty), or a plugin / network-attachment spec.
    pub fn non_container_task(&self) -> Option<String> {
        let task = &self.task_template.0;
        if !(task.runtime.is_empty() || task.runtime == "container") {
            return Some(format!("TaskTemplate.Runtime is {:?}", task.runtime));
        }
        if task.plugin_spec.is_some() {
            return Some("TaskTemplate.PluginSpec is set".to_owned());
        }
        if task.network_attachment_spec.is_some() {
            return Some("TaskTemplate.NetworkAttachmentSpec is set".to_owned());
        }
        None
    }
}

impl ContainerSpec {
    pub fn labels(&self) -> Option<&FlatStringMap> {
        self.labels.0.as_ref()
    }
    pub fn capability_add(&self) -> &[String] {
        self.capability_add.0.as_deref().unwrap_or_default()
    }

    /// Every host path the task containers would mount.
    pub fn host_paths(&self) -> Vec<HostPathMount> {
        let mut out = Vec::new();
        for m in self.mounts.as_slice() {
            mount_host_paths(m, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_and_labels() {
        let spec = ServiceSpec::decode(
            br#"{"Name":"s","TaskTemplate":{"ContainerSpec":{"Image":"bb","ReadOnly":true,"Labels":{"a":"b"}}}}"#,
        )
        .unwrap();
        let cs = spec.container_spec().unwrap();
        assert!(cs.read_only);
        assert_eq!(cs.labels().unwrap().get("a"), Some("b"));
        // TaskTemplate is a struct value: null keeps what was decoded before.
        let spec = ServiceSpec::decode(
            br#"{"TaskTemplate":{"ContainerSpec":{"ReadOnly":true}},"tasktemplate":null}"#,
        )
        .unwrap();
        assert!(spec.container_spec().unwrap().read_only);
        // ContainerSpec is a pointer: null erases it.
        let spec = ServiceSpec::decode(
            br#"{"TaskTemplate":{"ContainerSpec":{"ReadOnly":true},"containerspec":null}}"#,
        )
        .unwrap();
        assert!(spec.container_spec().is_none());
    }
}
