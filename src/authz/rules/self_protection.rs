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

#[cfg(test)]
mod tests {
    use crate::authz::policy::Policy;
    use crate::authz::test_support::*;

    #[test]
    fn plugin_management_is_for_admins_only() {
        let admin = Policy {
            admins: vec!["ops".into()],
            ..Policy::default()
        };
        for (m, uri) in [
            ("POST", "/v1.41/plugins/rootfs-guard:latest/disable"),
            ("POST", "/v1.41/plugins/abc123/disable?force=1"),
            ("POST", "/plugins/rootfs-guard/set"),
            ("POST", "/v1.41/plugins/rootfs-guard/upgrade?remote=x"),
            ("POST", "/v1.41/plugins/other/enable"),
            ("DELETE", "/v1.41/plugins/rootfs-guard:latest?force=1"),
            ("POST", "/v1.41/plugins/pull?remote=evil"),
            ("POST", "/v1.41/plugins/create?name=x"),
            ("POST", "/v1.41/plugins%2Frootfs-guard%2Fdisable"),
        ] {
            let mut req = request(m, uri, None, false);
            assert_eq!(verdict(&req), (false, Some("self-protection")), "{m} {uri}");
            assert!(!decide(&admin, &req).allow, "{m} {uri}");
            req.user = "ops".into();
            assert!(decide(&admin, &req).allow, "{m} {uri}");
        }
        assert_eq!(
            verdict(&request("GET", "/v1.41/plugins", None, false)),
            (true, None)
        );
    }
}
