//! The guard must not be switchable off through the API it guards: `POST /plugins/{name}/disable`
//! removes a managed plugin from dockerd's authorization chain without a restart, and `set`,
//! `upgrade`, `remove`, `create` and `pull` can reconfigure or replace it. Plugin management is
//! left to the policy's `admins` (TLS client-certificate CN). Plugins are named by name, name:tag,
//! ID or ID prefix, which cannot be resolved without I/O, so every plugin is protected.

use crate::authz::policy::Policy;
use crate::authz::request::RequestContext;
use crate::authz::route::Endpoint;
use crate::authz::rules::{Outcome, Rule};

pub struct SelfProtectionRule;

impl Rule for SelfProtectionRule {
    fn name(&self) -> &'static str {
        "self-protection"
    }

    fn applies_to(&self, endpoint: &Endpoint, policy: &Policy) -> bool {
        policy.rules.self_protection
            && matches!(
                endpoint,
                Endpoint::PluginInstall | Endpoint::PluginManage { .. }
            )
    }

    fn check(&self, request: &RequestContext<'_>, policy: &Policy) -> Outcome {
        if policy.is_admin(&request.request.user) {
            return Outcome::Pass;
        }
        Outcome::deny(
            self.name(),
            "plugin management could disable or replace the rootfs guard: only policy admins may \
             do it (see the README's recovery section)",
        )
    }
}
