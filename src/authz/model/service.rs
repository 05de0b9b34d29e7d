//! `POST /services/create` and `/services/{id}/update`: the parts of swarm's `ServiceSpec` that
//! decide whether task containers get a writable root filesystem. Task containers are created
//! inside dockerd and never pass through an authorization plugin, so the spec is the only place
//! to check them.

use serde::Deserializer;

use crate::authz::gojson::{
    self, FlatStringMap, GoDecode, GoJsonError, GoStringMap, GoStringSlice, GoStruct, GoValue,
};

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

/// `swarm.TaskSpec` (only the `*ContainerSpec` pointer).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TaskSpec {
    pub container_spec: Option<ContainerSpec>,
}

impl GoStruct for TaskSpec {
    const FIELDS: &'static [&'static str] = &["ContainerSpec"];
    fn decode_field<'de, D: Deserializer<'de>>(&mut self, _: usize, de: D) -> Result<(), D::Error> {
        self.container_spec.go_decode(de)
    }
}

/// `swarm.ContainerSpec`: what each task container is created from.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    pub image: String,
    pub labels: GoStringMap,
    pub read_only: bool,
    pub capability_add: GoStringSlice,
}

impl GoStruct for ContainerSpec {
    const FIELDS: &'static [&'static str] = &["Image", "Labels", "ReadOnly", "CapabilityAdd"];
    fn decode_field<'de, D: Deserializer<'de>>(&mut self, i: usize, de: D) -> Result<(), D::Error> {
        match i {
            0 => self.image.go_decode(de),
            1 => self.labels.go_decode(de),
            2 => self.read_only.go_decode(de),
            _ => self.capability_add.go_decode(de),
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
}

impl ContainerSpec {
    pub fn labels(&self) -> Option<&FlatStringMap> {
        self.labels.0.as_ref()
    }
    pub fn capability_add(&self) -> &[String] {
        self.capability_add.0.as_deref().unwrap_or_default()
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
