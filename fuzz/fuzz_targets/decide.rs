//! Fuzz target for the decision entry point, as the server runs it: the raw bytes of an AuthZ
//! request (as dockerd posts them) in, a decision out. Input that is not an AuthZ request is used
//! as the body of a container create, service create or exec instead, so mutations of real bodies
//! reach the whole decision path. Must never panic or hang.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use rootfs_guard::{decide, AuthZRequest, Policy};

const URIS: [&str; 4] = [
    "/v1.41/containers/create?name=x",
    "/v1.41/services/create",
    "/v1.41/containers/c/exec",
    "/v1.23/containers/c/start",
];

fuzz_target!(|data: &[u8]| {
    let policy = Policy::default();
    // As the server reads it (the body shares the input buffer).
    let req = match AuthZRequest::from_json(&bytes::Bytes::copy_from_slice(data)) {
        Ok(req) => req,
        Err(_) => {
            let uri = URIS[data.first().map_or(0, |b| *b as usize % URIS.len())];
            AuthZRequest {
                request_method: "POST".into(),
                request_uri: uri.into(),
                request_body: Some(base64_encode(data).into()),
                request_headers: Some(HashMap::from([(
                    "Content-Length".to_string(),
                    data.len().to_string(),
                )])),
                ..AuthZRequest::default()
            }
        }
    };
    let d = decide(&policy, &req);
    // A denial always carries a reason.
    assert!(d.allow || !d.response().msg.is_empty());
});

fn base64_encode(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}
