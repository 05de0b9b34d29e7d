//! Fuzz target for the Go-compatible create-body decoder alone (raw body bytes in), which gets
//! far more coverage per execution than going through base64 inside an AuthZ request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rootfs_guard::authz::model::{CreateBody, DockerdReading, ExecConfig, ServiceSpec};

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = CreateBody::decode(data) {
        for reading in DockerdReading::ALL {
            let _ = body.readonly_rootfs(reading);
        }
        if let Some(labels) = body.labels() {
            // A lookup finds the value the map ends up holding (the last one for its key).
            for (key, value) in labels.to_btree() {
                assert_eq!(labels.get(key), Some(value));
            }
        }
    }
    let _ = ServiceSpec::decode(data);
    let _ = ExecConfig::decode(data);
});
