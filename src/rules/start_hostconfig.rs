//! `POST /containers/{id}/start` must not carry a body.
//!
//! On API versions below 1.24, dockerd replaces the container's whole HostConfig with the start
//! body's (top-level) HostConfig fields, so a read-only container can be started writable. Real
//! clients send `Content-Length: 0`; a missing Content-Length means a chunked body, which dockerd
//! reads too. Any body on start is refused, whatever the API version.

use crate::policy::Policy;
use crate::request::RequestContext;
use crate::route::Endpoint;
use crate::rules::{Outcome, Rule};

pub struct StartHostConfigRule;

impl Rule for StartHostConfigRule {
    fn name(&self) -> &'static str {
        "start-hostconfig"
    }

    fn applies_to(&self, endpoint: &Endpoint) -> bool {
        matches!(endpoint, Endpoint::ContainerStart { .. })
    }

    fn check(&self, request: &RequestContext<'_>, _policy: &Policy) -> Outcome {
        let no_body =
            request.content_length().map(str::trim) == Some("0") && !request.has_body_bytes();
        if no_body {
            Outcome::Pass
        } else {
            Outcome::Deny(
                "container start must not carry a body (below API 1.24 it replaces the container's \
                 HostConfig): send the start request with Content-Length: 0"
                    .to_owned(),
            )
        }
    }
}
