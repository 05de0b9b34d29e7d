//! The rules: one type per concern, each with a name, the endpoints it applies to, and a check
//! from the decoded request to pass / exempt / deny.
//!
//! Adding a rule is adding a file here and a line to [`RULES`]. Rules never do I/O; the decision
//! ([`crate::decision`]) runs every rule that applies and the first deny wins.

mod readonly_rootfs;
mod start_hostconfig;

pub use readonly_rootfs::ReadonlyRootfsRule;
pub use start_hostconfig::StartHostConfigRule;

use crate::policy::Policy;
use crate::request::RequestContext;
use crate::route::Endpoint;

/// What one rule says about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The request complies.
    Pass,
    /// The request would break the rule but an allowlist entry exempts it (which one, for logs).
    Exempt(String),
    /// The request breaks the rule; the message tells the user what to do instead.
    Deny(String),
}

/// A policy rule.
pub trait Rule: Sync {
    /// Stable name, used in deny messages, logs and the policy file.
    fn name(&self) -> &'static str;
    /// Whether the rule looks at requests to this endpoint.
    fn applies_to(&self, endpoint: &Endpoint) -> bool;
    /// Checks one request against the policy.
    fn check(&self, request: &RequestContext<'_>, policy: &Policy) -> Outcome;
}

/// Every rule, in the order they are evaluated.
pub static RULES: &[&dyn Rule] = &[&ReadonlyRootfsRule, &StartHostConfigRule];
