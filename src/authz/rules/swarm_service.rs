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
        let Some(cs) = spec.container_spec() else {
            return Outcome::deny(
                self.name(),
                "service has no TaskTemplate.ContainerSpec, so its containers cannot be verified",
            );
        };
        let facts = ContainerFacts {
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
