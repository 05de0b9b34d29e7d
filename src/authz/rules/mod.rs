//! The rules: one type per concern, each with a name, the endpoints it applies to, and a check
//! from the decoded request to pass / exempt / deny.
//!
//! Adding a rule is adding a file here and a line to [`RULES`]. Rules never do I/O; the decision
//! ([`crate::authz::decision`]) runs every rule that applies and the first deny wins. What a *container*
//! must be (read-only, not remountable, or exempt) lives in [`assess`], shared with the audit.

pub mod assess;
mod container_create;
mod exec_privileged;
mod legacy_build;
mod root_bind;
mod self_protection;
mod start_hostconfig;
mod swarm_join;
mod swarm_service;

pub use assess::{assess_container, Assessment, ContainerFacts, Exemption};
pub use container_create::ContainerCreateRule;
pub use exec_privileged::ExecPrivilegedRule;
pub use legacy_build::LegacyBuildRule;
pub use root_bind::RootBindVolumeRule;
pub use self_protection::SelfProtectionRule;
pub use start_hostconfig::StartHostConfigRule;
pub use swarm_join::SwarmJoinRule;
pub use swarm_service::SwarmServiceRule;

use crate::authz::policy::Policy;
use crate::authz::request::{BodyError, RequestContext};
use crate::authz::route::Endpoint;

/// What one rule says about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The request complies.
    Pass,
    /// The request would break a rule but an allowlist entry exempts it (which one, for logs).
    Exempt(Exemption),
    /// The request breaks `rule`; the message tells the user what to do instead.
    Deny { rule: &'static str, message: String },
}

impl Outcome {
    pub fn deny(rule: &'static str, message: impl Into<String>) -> Outcome {
        Outcome::Deny {
            rule,
            message: message.into(),
        }
    }

    /// The deny for a request whose body cannot be verified.
    pub fn unverifiable(rule: &'static str, what: &str, e: &BodyError) -> Outcome {
        Outcome::deny(rule, format!("cannot verify the {what}: {e}"))
    }

    pub fn from_assessment(a: Assessment) -> Outcome {
        match a {
            Assessment::Compliant => Outcome::Pass,
            Assessment::Exempt(e) => Outcome::Exempt(e),
            Assessment::Violation { rule, message } => Outcome::Deny { rule, message },
        }
    }
}

/// A policy rule.
pub trait Rule: Sync {
    /// Stable name, used in deny messages and logs.
    fn name(&self) -> &'static str;
    /// Whether the rule looks at requests to this endpoint under this policy.
    fn applies_to(&self, endpoint: &Endpoint, policy: &Policy) -> bool;
    /// Checks one request against the policy.
    fn check(&self, request: &RequestContext<'_>, policy: &Policy) -> Outcome;
}

/// Every rule, in the order they are evaluated.
pub static RULES: &[&dyn Rule] = &[
    &ContainerCreateRule,
    &StartHostConfigRule,
    &ExecPrivilegedRule,
    &SwarmServiceRule,
    &RootBindVolumeRule,
    &LegacyBuildRule,
    &SwarmJoinRule,
    &SelfProtectionRule,
];
