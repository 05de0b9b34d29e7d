//! Swarm services: task containers are created inside dockerd and never pass through an
//! authorization plugin, so `POST /services/create` and `/services/{id}/update` are judged on
//! their spec (`TaskTemplate.ContainerSpec.ReadOnly`, `Labels`, `CapabilityAdd`).
//! `update?rollback=previous` reuses a spec the request does not show, so it is denied unless
//! the policy allows rollbacks.

use crate::authz::model::Labels;
use crate::authz::policy::Policy;
use crate::authz::request::RequestContext;
use crate::authz::route::Endpoint;
use crate::authz::rules::assess::{assess_container, ContainerFacts};
use crate::authz::rules::{Outcome, Rule};

pub struct SwarmServiceRule;

impl Rule for SwarmServiceRule {
    fn name(&self) -> &'static str {
        "swarm-service"
    }

    fn applies_to(&self, endpoint: &Endpoint, policy: &Policy) -> bool {
        policy.rules.swarm_services
            && matches!(
                endpoint,
                Endpoint::ServiceCreate | Endpoint::ServiceUpdate { .. }
            )
    }

    fn check(&self, request: &RequestContext<'_>, policy: &Policy) -> Outcome {
        if matches!(request.route.endpoint, Endpoint::ServiceUpdate { .. })
            && policy.rules.service_rollback
            && request
                .route
                .query_param("rollback")
                .is_some_and(|v| !v.is_empty())
        {
            return Outcome::deny(
                "service-rollback",
                "service rollback reuses a previous spec the guard cannot see: update the \
                 service with an explicit spec (docker service update --read-only ...) instead",
            );
        }
        let spec = match request.service_spec() {
            Ok(spec) => spec,
            Err(e) => return Outcome::unverifiable(self.name(), "service spec", e),
        };
        if policy.rules.service_runtime {
            if let Some(why) = spec.non_container_task() {
                return Outcome::deny(
                    "service-runtime",
                    format!(
                        "{why}: its tasks would not be containers the guard can check (a plugin \
                         runtime installs a managed plugin on every node): create services with a \
                         ContainerSpec only"
                    ),
                );
            }
        }
        let Some(cs) = spec.container_spec() else {
            return Outcome::deny(
                self.name(),
                "service has no TaskTemplate.ContainerSpec, so its containers cannot be verified",
            );
        };
        let host_paths = cs.host_paths();
        let facts = ContainerFacts {
            host_paths: &host_paths,
            now: request.now,
            readonly_rootfs: cs.read_only,
            privileged: false,
            cap_add: cs.capability_add(),
            labels: cs.labels().map(|l| l as &dyn Labels),
            image: &cs.image,
            user: Some(request.request.user.as_str()),
        };
        match Outcome::from_assessment(assess_container(policy, &facts)) {
            Outcome::Deny { rule, message } => Outcome::Deny {
                rule,
                message: format!(
                    "swarm service: {message} (for services: --read-only, --container-label)"
                ),
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::authz::policy::Policy;
    use crate::authz::test_support::*;

    #[test]
    fn swarm_services_are_judged_on_their_spec() {
        // --read-only with the allow label: allowed.
        let req = fixture_request!("cli-service-create-readonly--02-req-POST-services_create.json");
        assert_eq!(verdict(&req), (true, None));
        // --read-only=false, still labelled writable: exempt.
        let req = fixture_request!(
            "cli-service-update--02-req-POST-services_lvqi5kw99cgzzo0rcugoh1xoe_update.json",
        );
        let d = decide(&Policy::default(), &req);
        assert!(d.allow && d.exemption.is_some(), "{d:?}");

        let service = |body: &str, uri: &str| request("POST", uri, Some(body), true);
        let writable = r#"{"Name":"s","TaskTemplate":{"ContainerSpec":{"Image":"bb"}}}"#;
        let ro = r#"{"TaskTemplate":{"ContainerSpec":{"Image":"bb","ReadOnly":true}}}"#;
        let cases = [
            (writable, "/v1.41/services/create", Some("readonly-rootfs")),
            (
                writable,
                "/v1.41/services/abc/update?version=3",
                Some("readonly-rootfs"),
            ),
            (ro, "/services/create", None),
            (
                r#"{"TaskTemplate":{"ContainerSpec":{"ReadOnly":true,"CapabilityAdd":["CAP_SYS_ADMIN"]}}}"#,
                "/services/create",
                Some("remount"),
            ),
            // A plugin task is not a container: denied before the (missing) ContainerSpec.
            (
                r#"{"TaskTemplate":{"PluginSpec":{}}}"#,
                "/services/create",
                Some("service-runtime"),
            ),
            (
                r#"{"TaskTemplate":{}}"#,
                "/services/create",
                Some("swarm-service"),
            ),
            // A read-only ContainerSpec does not make a plugin runtime a container.
            (
                r#"{"Name":"p","TaskTemplate":{"Runtime":"plugin","PluginSpec":{"Name":"x","Remote":"x","Privileges":[{"Name":"network","Value":["host"]}]},"ContainerSpec":{"Image":"bb","ReadOnly":true}}}"#,
                "/v1.41/services/create",
                Some("service-runtime"),
            ),
            (
                r#"{"TaskTemplate":{"runtime":"plugin","ContainerSpec":{"ReadOnly":true}}}"#,
                "/v1.41/services/abc/update?version=3",
                Some("service-runtime"),
            ),
            (
                r#"{"TaskTemplate":{"Runtime":"attachment","NetworkAttachmentSpec":{"ContainerID":"x"},"ContainerSpec":{"ReadOnly":true}}}"#,
                "/services/create",
                Some("service-runtime"),
            ),
            (
                r#"{"TaskTemplate":{"NetworkAttachmentSpec":{},"ContainerSpec":{"ReadOnly":true}}}"#,
                "/services/create",
                Some("service-runtime"),
            ),
            // Runtime "container" (what the CLI may send) and a PluginSpec erased by null are fine.
            (
                r#"{"TaskTemplate":{"Runtime":"container","ContainerSpec":{"ReadOnly":true}}}"#,
                "/services/create",
                None,
            ),
            (
                r#"{"TaskTemplate":{"PluginSpec":{"Name":"x"},"pluginspec":null,"ContainerSpec":{"ReadOnly":true}}}"#,
                "/services/create",
                None,
            ),
            // Runtime is a string: null keeps the earlier value.
            (
                r#"{"TaskTemplate":{"Runtime":"plugin","Runtime":null,"ContainerSpec":{"ReadOnly":true}}}"#,
                "/services/create",
                Some("service-runtime"),
            ),
            (
                r#"{"TaskTemplate":{"ContainerSpec":{"ReadOnly":true},"containerspec":{"readonly":false}}}"#,
                "/services/create",
                Some("readonly-rootfs"),
            ),
            (
                ro,
                "/v1.41/services/abc/update?version=3&rollback=previous",
                Some("service-rollback"),
            ),
        ];
        for (body, uri, rule) in cases {
            assert_eq!(
                verdict(&service(body, uri)),
                (rule.is_none(), rule),
                "{uri} {body}"
            );
        }
        let mut runtime_off = Policy::default();
        runtime_off.rules.service_runtime = false;
        let plugin = service(
            r#"{"TaskTemplate":{"Runtime":"plugin","ContainerSpec":{"ReadOnly":true}}}"#,
            "/services/create",
        );
        assert!(decide(&runtime_off, &plugin).allow);
        let mut allow_rollback = Policy::default();
        allow_rollback.rules.service_rollback = false;
        assert!(
            decide(
                &allow_rollback,
                &service(ro, "/services/abc/update?rollback=previous")
            )
            .allow
        );
        let mut no_swarm = Policy::default();
        no_swarm.rules.swarm_services = false;
        assert!(decide(&no_swarm, &service(writable, "/services/create")).allow);
    }
}
