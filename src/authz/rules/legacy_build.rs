//! The classic builder (`POST /build` without `version=2`): dockerd runs every `RUN` step in a
//! writable container it creates internally, and those creates never reach an authorization
//! plugin. `docker build --rm=false` leaves them behind (a later `docker start` runs them again),
//! a failed step leaves its container even with `rm=1`, and a running step accepts `exec`.
//! BuildKit (`version=2`) runs RUN steps in its own executor: no dockerd container exists.
//!
//! dockerd reads `version` with Go's `FormValue`, which lets a form body
//! (`application/x-www-form-urlencoded`, `multipart/form-data`) override the query: such a build
//! is denied, and so is a `remote` context, the one way a build with a form body still has a
//! context (the plugin sees only the last of repeated `Content-Type` headers, dockerd the first).

use crate::authz::policy::Policy;
use crate::authz::request::{media_type, RequestContext};
use crate::authz::route::Endpoint;
use crate::authz::rules::{Outcome, Rule};

pub struct LegacyBuildRule;

/// The `remote` value of a BuildKit build whose context comes through the session.
const CLIENT_SESSION: &str = "client-session";

/// What to do instead, for the clients that send legacy builds.
const REMEDY: &str = "use BuildKit: DOCKER_BUILDKIT=1 docker build (docker 20.10-22 CLIs); the \
                      docker 23+ CLI needs the buildx plugin (install docker-buildx); docker-compose \
                      1.x: DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1";

impl Rule for LegacyBuildRule {
    fn name(&self) -> &'static str {
        "legacy-build"
    }

    fn applies_to(&self, endpoint: &Endpoint, policy: &Policy) -> bool {
        policy.rules.legacy_build && matches!(endpoint, Endpoint::Build)
    }

    fn check(&self, request: &RequestContext<'_>, _policy: &Policy) -> Outcome {
        let version = request.route.query_param("version");
        if version.as_deref() != Some("2") {
            return Outcome::deny(
                self.name(),
                format!(
                    "the classic builder runs RUN steps in writable containers no authorization \
                     plugin sees: {REMEDY}"
                ),
            );
        }
        if let Some(ct) = request.request.header("Content-Type") {
            let ct = media_type(ct);
            if ct == "application/x-www-form-urlencoded" || ct == "multipart/form-data" {
                return Outcome::deny(
                    self.name(),
                    "a build with a form body may choose its builder in the body, which dockerd \
                     does not forward: send the context as a tar (application/x-tar)",
                );
            }
        }
        // `remote=client-session` is BuildKit's own context (the 20.10 CLI with DOCKER_BUILDKIT=1
        // and docker-compose's CLI builds send it): the classic builder refuses it ("session with
        // v1 builder is no longer supported", seen on 20.10 and 28.5), so it cannot carry one.
        if request
            .route
            .query_param("remote")
            .is_some_and(|r| !r.is_empty() && r != CLIENT_SESSION)
        {
            return Outcome::deny(
                self.name(),
                "a remote build context (remote=...) cannot be verified to build with BuildKit: \
                 fetch the context and build it from a local directory",
            );
        }
        Outcome::Pass
    }
}

#[cfg(test)]
mod tests {
    use crate::authz::policy::Policy;
    use crate::authz::test_support::*;

    fn build(uri: &str, content_type: Option<&str>) -> (bool, Option<&'static str>) {
        let mut req = request("POST", uri, None, false);
        if let Some(ct) = content_type {
            req.request_headers
                .get_or_insert_with(Default::default)
                .insert("Content-Type".into(), ct.into());
        }
        verdict(&req)
    }

    #[test]
    fn only_buildkit_builds_are_allowed() {
        let denied = (false, Some("legacy-build"));
        for (uri, ct, want) in [
            // The docker CLI, classic builder: no version, rm=1 by default.
            ("/v1.41/build?rm=1&t=x", Some("application/x-tar"), denied),
            ("/v1.41/build?rm=0", Some("application/x-tar"), denied),
            ("/build?version=1", Some("application/x-tar"), denied),
            ("/v1.51/build?version=1&forcerm=1", None, denied),
            ("/v1.41/build?version=", None, denied),
            ("/v1.41/build?version=2.0", None, denied),
            // The first value wins in dockerd, as here.
            ("/v1.41/build?version=1&version=2", None, denied),
            ("/v1.41/%62uild?rm=0", None, denied),
            // BuildKit, as the 20.10 CLI (DOCKER_BUILDKIT=1) and buildx send it.
            (
                "/v1.41/build?version=2&session=abc&rm=1",
                Some("application/x-tar"),
                (true, None),
            ),
            // The 20.10 CLI's BuildKit build (DOCKER_BUILDKIT=1), as sent.
            (
                "/v1.41/build?buildargs=%7B%7D&networkmode=none&remote=client-session&rm=1&session=s&t=x&version=2",
                None,
                (true, None),
            ),
            ("/v1.51/build?version=%32", None, (true, None)),
            ("/v1.41/build?version=2&version=1", None, (true, None)),
            // A form body could say version=1 where the plugin cannot see it.
            (
                "/v1.41/build?version=2",
                Some("application/x-www-form-urlencoded"),
                denied,
            ),
            (
                "/v1.41/build?version=2",
                Some("Multipart/Form-Data; boundary=x"),
                denied,
            ),
            (
                "/v1.41/build?version=2&remote=http://127.0.0.1/c.tar",
                None,
                denied,
            ),
            // The classic builder with a session context is refused by dockerd; denied here anyway.
            ("/v1.41/build?remote=client-session", None, denied),
        ] {
            assert_eq!(build(uri, ct), want, "{uri} {ct:?}");
        }
        let mut off = Policy::default();
        off.rules.legacy_build = false;
        assert!(decide(&off, &request("POST", "/v1.41/build?rm=0", None, false)).allow);
        // The remedy names every client's way to BuildKit.
        let d = decide(&Policy::default(), &request("POST", "/build", None, false));
        let msg = d.message.unwrap();
        for remedy in [
            "DOCKER_BUILDKIT=1",
            "docker-buildx",
            "COMPOSE_DOCKER_CLI_BUILD=1",
        ] {
            assert!(msg.contains(remedy), "{msg}");
        }
    }
}
