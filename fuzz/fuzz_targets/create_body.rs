//! Fuzz target for the Go-compatible create-body decoder alone (raw body bytes in), which gets
//! far more coverage per execution than going through base64 inside an AuthZ request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rootfs_guard::authz::model::mount::{clean_abs_path, paths_overlap};
use rootfs_guard::authz::model::{
    CreateBody, DockerdReading, ExecConfig, ServiceSpec, VolumeCreate,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = CreateBody::decode(data) {
        for reading in DockerdReading::ALL {
            let _ = body.readonly_rootfs(reading);
            // Every host path a mount names is compared after cleaning, and cleaning is stable.
            for m in body
                .effective_host_config(reading)
                .map(|hc| hc.host_paths())
                .unwrap_or_default()
            {
                let clean = clean_abs_path(&m.source);
                assert_eq!(clean_abs_path(&clean), clean);
                assert!(paths_overlap(&m.source, &clean));
            }
        }
        if let Some(labels) = body.labels() {
            // A lookup finds the value the map ends up holding (the last one for its key).
            for (key, value) in labels.to_btree() {
                assert_eq!(labels.get(key), Some(value));
            }
        }
    }
    if let Ok(spec) = ServiceSpec::decode(data) {
        let _ = spec.non_container_task();
        if let Some(cs) = spec.container_spec() {
            let _ = cs.host_paths();
        }
    }
    let _ = VolumeCreate::decode(data);
    let _ = ExecConfig::decode(data);
});
