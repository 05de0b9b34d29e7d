//! Joining a swarm lets remote managers schedule task containers on this host; those are created
//! inside dockerd without passing through any authorization plugin.

use crate::authz::policy::Policy;
use crate::authz::request::RequestContext;
use crate::authz::route::Endpoint;
use crate::authz::rules::{Outcome, Rule};

pub struct SwarmJoinRule;

impl Rule for SwarmJoinRule {
    fn name(&self) -> &'static str {
        "swarm-join"
    }

    fn applies_to(&self, endpoint: &Endpoint, policy: &Policy) -> bool {
        policy.rules.swarm_join && matches!(endpoint, Endpoint::SwarmJoin)
    }

    fn check(&self, _request: &RequestContext<'_>, _policy: &Policy) -> Outcome {
        Outcome::deny(
            self.name(),
            "joining a swarm lets remote managers start containers here that no authorization \
             plugin checks: an operator can allow it with rules.swarm_join=false in the policy",
        )
    }
}
