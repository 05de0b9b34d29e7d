//! What the client reads of dockerd's answers: container summaries, inspect documents, volumes,
//! events.
//! Only the fields audit and watch read; dockerd's other keys are ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One row of `GET /containers/json`.
#[derive(Debug, Clone, Deserialize)]
pub struct ContainerSummary {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Names", default)]
    pub names: Option<Vec<String>>,
}

/// The parts of `GET /containers/{id}/json` that decide compliance and fill a report row.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ContainerInspect {
    #[serde(rename = "Id")]
    pub id: String,
    /// With dockerd's leading `/`.
    #[serde(rename = "Name", default)]
    pub name: String,
    #[serde(rename = "State", default)]
    pub state: Option<InspectState>,
    #[serde(rename = "Config", default)]
    pub config: Option<InspectConfig>,
    #[serde(rename = "HostConfig", default)]
    pub host_config: Option<InspectHostConfig>,
    /// What dockerd mounted (binds with their host source; volumes with their mount point).
    #[serde(rename = "Mounts", default)]
    pub mounts: Option<Vec<InspectMount>>,
}

/// One entry of an inspected container's `Mounts`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct InspectMount {
    #[serde(rename = "Type", default)]
    pub mount_type: String,
    #[serde(rename = "Source", default)]
    pub source: String,
    #[serde(rename = "RW", default)]
    pub rw: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct InspectState {
    /// created, running, paused, restarting, removing, exited, dead.
    #[serde(rename = "Status", default)]
    pub status: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct InspectConfig {
    /// The image as the creator named it (what create-time allowlist image scopes match).
    #[serde(rename = "Image", default)]
    pub image: String,
    #[serde(rename = "Labels", default)]
    pub labels: Option<BTreeMap<String, String>>,
    /// The command (`null` when the image's is used unchanged and the creator gave none).
    #[serde(rename = "Cmd", default)]
    pub cmd: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct InspectHostConfig {
    #[serde(rename = "ReadonlyRootfs", default)]
    pub readonly_rootfs: bool,
    #[serde(rename = "Privileged", default)]
    pub privileged: bool,
    #[serde(rename = "CapAdd", default)]
    pub cap_add: Option<Vec<String>>,
    #[serde(rename = "LogConfig", default)]
    pub log_config: Option<InspectLogConfig>,
}

/// `HostConfig.LogConfig`: the container's log driver.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct InspectLogConfig {
    #[serde(rename = "Type", default)]
    pub driver: String,
}

/// The body of `GET /volumes`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct VolumeList {
    /// `null` when there are none (as some dockerd versions write it).
    #[serde(rename = "Volumes", default)]
    pub volumes: Option<Vec<VolumeSummary>>,
}

/// One volume of `GET /volumes`: what decides whether it is a bind mount in disguise.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct VolumeSummary {
    #[serde(rename = "Name", default)]
    pub name: String,
    #[serde(rename = "Driver", default)]
    pub driver: String,
    /// The driver options the volume was created with (`null` when none).
    #[serde(rename = "Options", default)]
    pub options: Option<BTreeMap<String, String>>,
}

/// One message of the `/events` stream (only what `watch` reads).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Event {
    #[serde(rename = "Type", default)]
    pub kind: String,
    #[serde(rename = "Action", default)]
    pub action: String,
    #[serde(rename = "Actor", default)]
    pub actor: EventActor,
    /// Unix time in nanoseconds.
    #[serde(rename = "timeNano", default)]
    pub time_nano: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct EventActor {
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(rename = "Attributes", default)]
    pub attributes: Option<BTreeMap<String, String>>,
}
