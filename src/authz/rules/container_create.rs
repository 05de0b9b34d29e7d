//! CIS Docker Benchmark 5.12 at `POST /containers/create`.
//!
//! Allowed when the container is read-only and not remountable under *every* dockerd reading of
//! the body (see [`DockerdReading`]: 27+ ignores top-level HostConfig fields that 20.10–26.x
//! honour), or when an allowlist entry exempts it. A body that cannot be verified is denied.

use crate::authz::model::{DockerdReading, Labels};
use crate::authz::policy::Policy;
use crate::authz::request::RequestContext;
use crate::authz::route::Endpoint;
use crate::authz::rules::assess::{assess_container, Assessment, ContainerFacts, READONLY_ROOTFS};
use crate::authz::rules::{Outcome, Rule};

pub struct ContainerCreateRule;

impl Rule for ContainerCreateRule {
    fn name(&self) -> &'static str {
        READONLY_ROOTFS
    }

    fn applies_to(&self, endpoint: &Endpoint, _policy: &Policy) -> bool {
        matches!(endpoint, Endpoint::ContainerCreate)
    }

    fn check(&self, request: &RequestContext<'_>, policy: &Policy) -> Outcome {
        let body = match request.create_body() {
            Ok(body) => body,
            Err(e) => return Outcome::unverifiable(READONLY_ROOTFS, "create request", e),
        };
        let assess = |reading| {
            let hc = body.effective_host_config(reading);
            let host_paths = hc.map(|hc| hc.host_paths()).unwrap_or_default();
            let facts = ContainerFacts {
                readonly_rootfs: hc.is_some_and(|hc| hc.readonly_rootfs),
                privileged: hc.is_some_and(|hc| hc.privileged),
                cap_add: hc.map_or(&[][..], |hc| hc.cap_add()),
                labels: body.labels().map(|l| l as &dyn Labels),
                image: body.image(),
                user: Some(request.request.user.as_str()),
                host_paths: &host_paths,
                now: request.now,
            };
            assess_container(policy, &facts)
        };
        let honours_top_level = assess(DockerdReading::TopLevelFallback);
        let key_only = assess(DockerdReading::HostConfigKeyOnly);
        match (honours_top_level, key_only) {
            (v @ Assessment::Violation { .. }, _) => Outcome::from_assessment(v),
            (
                _,
                Assessment::Violation {
                    rule: READONLY_ROOTFS,
                    ..
                },
            ) if body.readonly_rootfs(DockerdReading::TopLevelFallback) => Outcome::deny(
                READONLY_ROOTFS,
                "ReadonlyRootfs is set only at the top level of the body, which dockerd 27+ \
                     ignores: set it under HostConfig ({\"HostConfig\":{\"ReadonlyRootfs\":true}})",
            ),
            (_, v @ Assessment::Violation { .. }) => Outcome::from_assessment(v),
            (Assessment::Exempt(e), _) | (_, Assessment::Exempt(e)) => Outcome::Exempt(e),
            (Assessment::Compliant, Assessment::Compliant) => Outcome::Pass,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::authz::policy::Policy;
    use crate::authz::test_support::*;

    #[test]
    fn remountable_read_only_creates_are_denied() {
        let cases = [
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true,"Privileged":true}}"#,
                Some("remount"),
            ),
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true,"CapAdd":["NET_ADMIN","sys_admin"]}}"#,
                Some("remount"),
            ),
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true,"CapAdd":"CAP_SYS_ADMIN"}}"#,
                Some("remount"),
            ),
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true,"capadd":["all"]}}"#,
                Some("remount"),
            ),
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true,"CapAdd":["SYS_ADMIN"],"CapAdd":null}}"#,
                None,
            ),
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true,"Privileged":true,"privileged":false}}"#,
                None,
            ),
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true,"CapAdd":["NET_ADMIN"]}}"#,
                None,
            ),
            // Privileged at the top level counts under the readings that honour it.
            (
                r#"{"ReadonlyRootfs":true,"Privileged":true}"#,
                Some("remount"),
            ),
            // With the HostConfig key present, top-level fields are ignored by every version.
            (
                r#"{"Privileged":true,"HostConfig":{"ReadonlyRootfs":true}}"#,
                None,
            ),
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true,"Privileged":true},"Labels":{"rootfs-guard.allow-writable":"true"}}"#,
                None,
            ),
        ];
        for (body, rule) in cases {
            assert_eq!(verdict(&create(body)), (rule.is_none(), rule), "{body}");
        }
        let mut no_remount = Policy::default();
        no_remount.rules.remount = false;
        let privileged = create(r#"{"HostConfig":{"ReadonlyRootfs":true,"Privileged":true}}"#);
        assert!(decide(&no_remount, &privileged).allow);
    }
}
