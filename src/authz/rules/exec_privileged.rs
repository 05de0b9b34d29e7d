//! `docker exec --privileged` gives the exec'd process every capability inside a running
//! container: enough to `mount -o remount,rw /` a read-only root filesystem.

use crate::authz::policy::Policy;
use crate::authz::request::RequestContext;
use crate::authz::route::Endpoint;
use crate::authz::rules::{Outcome, Rule};

pub struct ExecPrivilegedRule;

impl Rule for ExecPrivilegedRule {
    fn name(&self) -> &'static str {
        "exec-privileged"
    }

    fn applies_to(&self, endpoint: &Endpoint, policy: &Policy) -> bool {
        policy.rules.exec_privileged && matches!(endpoint, Endpoint::ContainerExec { .. })
    }

    fn check(&self, request: &RequestContext<'_>, _policy: &Policy) -> Outcome {
        match request.exec_config() {
            Err(e) => Outcome::unverifiable(self.name(), "exec request", e),
            Ok(exec) if exec.privileged => Outcome::deny(
                self.name(),
                "privileged exec gets every capability and can `mount -o remount,rw /`: run \
                 docker exec without --privileged",
            ),
            Ok(_) => Outcome::Pass,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::authz::policy::Policy;
    use crate::authz::test_support::*;

    #[test]
    fn privileged_exec_is_denied() {
        let req = fixture_request!("cli-exec-privileged--02-req-POST-containers_NAME_exec.json");
        assert_eq!(verdict(&req), (false, Some("exec-privileged")));
        let mut off = Policy::default();
        off.rules.exec_privileged = false;
        assert!(decide(&off, &req).allow);
        let req = fixture_request!("cli-exec--02-req-POST-containers_NAME_exec.json");
        assert_eq!(verdict(&req), (true, None));
    }
}
