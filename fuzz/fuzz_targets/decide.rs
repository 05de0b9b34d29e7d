//! Fuzz target for the decision entry point, exactly as the server runs it: raw bytes of an
//! AuthZ request (as dockerd would post them) in, a decision out. Must never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rootfs_guard::{decide, AuthZRequest, Policy};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = serde_json::from_slice::<AuthZRequest>(data) {
        let policy = Policy::default();
        let d = decide(&policy, &req);
        // A denial always carries a reason.
        assert!(d.allow || !d.response().msg.is_empty());
    }
});
