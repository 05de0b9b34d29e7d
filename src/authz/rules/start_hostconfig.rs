//! `POST /containers/{id}/start` must not carry a body.
//!
//! On API versions below 1.24, dockerd replaces the container's whole HostConfig with the start
//! body's (top-level) HostConfig fields, so a read-only container can be started writable. Real
//! clients send `Content-Length: 0`. Any body the plugin can see is refused, whatever the version.
//! A request without `Content-Length` may be chunked with its body withheld (dockerd before
//! 29.3.1 withholds bodies of 1 MiB or more, and chunked ones arrive empty without the
//! CVE-2024-41110 fix): below 1.24 that is refused too; from 1.24 on dockerd itself rejects
//! any chunked start body, so a body-less start (as curl sends it) passes.

use crate::authz::policy::Policy;
use crate::authz::request::RequestContext;
use crate::authz::route::Endpoint;
use crate::authz::rules::{Outcome, Rule};

pub struct StartHostConfigRule;

impl Rule for StartHostConfigRule {
    fn name(&self) -> &'static str {
        "start-hostconfig"
    }

    fn applies_to(&self, endpoint: &Endpoint, _policy: &Policy) -> bool {
        matches!(endpoint, Endpoint::ContainerStart { .. })
    }

    fn check(&self, request: &RequestContext<'_>, _policy: &Policy) -> Outcome {
        let visible_body =
            request.has_body_bytes() || request.content_length().is_some_and(|cl| cl.trim() != "0");
        let maybe_hidden_body =
            request.content_length().is_none() && !request.route.api_version_at_least(1, 24);
        if visible_body || maybe_hidden_body {
            Outcome::deny(
                self.name(),
                "container start must not carry a body (below API 1.24 it replaces the \
                 container's HostConfig): send the start request with Content-Length: 0",
            )
        } else {
            Outcome::Pass
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::authz::test_support::*;

    #[test]
    fn start_with_a_body_is_denied() {
        let with_cl0 = request("POST", "/v1.41/containers/c2/start", Some(""), false);
        let mut with_cl0 = with_cl0;
        with_cl0.request_headers = Some(HashMap::from([("Content-Length".into(), "0".into())]));
        assert_eq!(verdict(&with_cl0), (true, None));
        let body = request(
            "POST",
            "/v1.23/containers/c2/start",
            Some(r#"{"ReadonlyRootfs":false}"#),
            true,
        );
        assert_eq!(verdict(&body), (false, Some("start-hostconfig")));
        // Chunked: no Content-Length, body withheld or not; below 1.24 dockerd would apply it.
        let chunked = request("POST", "/v1.23/containers/c2/start", None, false);
        assert_eq!(verdict(&chunked), (false, Some("start-hostconfig")));
        // From 1.24 (and without a version prefix) dockerd rejects chunked start bodies itself:
        // a body-less start without Content-Length (curl -X POST) passes.
        for uri in [
            "/v1.24/containers/c2/start",
            "/containers/c2/start",
            "/v1.41/containers/c2/start",
        ] {
            assert_eq!(
                verdict(&request("POST", uri, None, false)),
                (true, None),
                "{uri}"
            );
        }
        // A visible body is refused at every version.
        let body = request("POST", "/v1.41/containers/c2/start", Some("{}"), true);
        assert_eq!(verdict(&body), (false, Some("start-hostconfig")));
        let chunked_body = request("POST", "/v1.41/containers/c2/start", Some("{}"), false);
        assert_eq!(verdict(&chunked_body), (false, Some("start-hostconfig")));
    }
}
