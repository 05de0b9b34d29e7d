//! Builders the core's table tests share: AuthZ requests as dockerd sends them, and recorded ones.

use std::collections::HashMap;

use base64::Engine as _;

use std::time::SystemTime;

use crate::authz::decision::{decide_at, Decision};
use crate::authz::policy::Policy;
use crate::authz::wire::AuthZRequest;

pub(crate) fn create(body: &str) -> AuthZRequest {
    request(
        "POST",
        "/v1.41/containers/create?name=web",
        Some(body),
        true,
    )
}

pub(crate) fn request(
    method: &str,
    uri: &str,
    body: Option<&str>,
    content_length: bool,
) -> AuthZRequest {
    let mut headers = HashMap::new();
    if let Some(b) = body {
        headers.insert("Content-Type".to_string(), "application/json".to_string());
        if content_length {
            headers.insert("Content-Length".to_string(), b.len().to_string());
        }
    }
    AuthZRequest {
        request_method: method.into(),
        request_uri: uri.into(),
        request_body: body
            .filter(|b| !b.is_empty())
            .map(|b| base64::engine::general_purpose::STANDARD.encode(b).into()),
        request_headers: Some(headers),
        ..Default::default()
    }
}

/// The instant the core's table tests decide at (fixed: exceptions expire).
pub(crate) fn test_now() -> SystemTime {
    crate::authz::exceptions::parse_instant("2026-12-02T12:00:00Z").unwrap()
}

/// Decides at [`test_now`].
pub(crate) fn decide(policy: &Policy, req: &AuthZRequest) -> Decision {
    decide_at(policy, req, test_now())
}

pub(crate) fn verdict(req: &AuthZRequest) -> (bool, Option<&'static str>) {
    let d = decide(&Policy::default(), req);
    (d.allow, d.rule)
}

/// A request recorded from dockerd, compiled in (the core does no file I/O, tests included).
macro_rules! fixture_request {
    ($name:literal $(,)?) => {
        serde_json::from_str::<$crate::authz::wire::AuthZRequest>(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/authz/",
            $name
        )))
        .unwrap()
    };
}
pub(crate) use fixture_request;
