//! The parts of dockerd's request types that decide whether a root filesystem is writable.
//!
//! Each type mirrors a dockerd Go struct (field names as dockerd spells them) but models only the
//! fields a rule reads; every other key is skipped exactly as Go skips unknown keys. Decoding goes
//! through [`crate::authz::gojson`], so these values are what dockerd itself would store.

pub mod create;
pub mod exec;
pub mod mount;
pub mod service;

pub use create::{ContainerConfig, CreateBody, DockerdReading, HostConfig};
pub use exec::ExecConfig;
pub use mount::{HostPathMount, HostPathVia, Mount, VolumeCreate};
pub use service::{ContainerSpec, ServiceSpec};

use std::collections::BTreeMap;

use crate::authz::gojson::{go_to_upper, FlatStringMap};

/// A container's labels, however they were read: decoded from a request body as dockerd would
/// store them, or as dockerd reports them for an existing container.
pub trait Labels: std::fmt::Debug {
    /// The value of label `key`, if the container has it.
    fn label(&self, key: &str) -> Option<&str>;
}

impl Labels for FlatStringMap {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key)
    }
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

/// Whether a capability list grants what is needed to remount `/` read-write: `SYS_ADMIN` (with or
/// without the `CAP_` prefix, any case, compared after Go's `strings.ToUpper` as dockerd does) or `ALL`.
pub fn grants_remount(caps: &[String]) -> Option<&str> {
    caps.iter()
        .find(|cap| {
            let upper = go_to_upper(cap);
            let name = upper.strip_prefix("CAP_").unwrap_or(&upper);
            name == "SYS_ADMIN" || upper == "ALL"
        })
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remount_capabilities() {
        let caps = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(grants_remount(&caps(&["SYS_ADMIN"])).is_some());
        assert!(grants_remount(&caps(&["cap_sys_admin"])).is_some());
        assert!(grants_remount(&caps(&["NET_ADMIN", "all"])).is_some());
        assert!(grants_remount(&caps(&["\u{017F}y\u{017F}_admin"])).is_some());
        assert!(grants_remount(&caps(&["NET_ADMIN", "CHOWN"])).is_none());
        assert!(grants_remount(&caps(&["CAP_ALL"])).is_none()); // dockerd rejects it as unknown
        assert!(grants_remount(&[]).is_none());
    }
}
