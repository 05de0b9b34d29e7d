//! CIS Docker Benchmark 5.12: a container's root filesystem must be mounted read-only.
//!
//! `POST /containers/create` is allowed when the effective `HostConfig.ReadonlyRootfs` is true
//! under every dockerd reading (see [`DockerdReading`]), or when the container's labels carry an
//! allowlist entry of the policy. A body that cannot be verified is denied.

use crate::model::DockerdReading;
use crate::policy::Policy;
use crate::request::RequestContext;
use crate::route::Endpoint;
use crate::rules::{Outcome, Rule};

pub struct ReadonlyRootfsRule;

impl Rule for ReadonlyRootfsRule {
    fn name(&self) -> &'static str {
        "readonly-rootfs"
    }

    fn applies_to(&self, endpoint: &Endpoint) -> bool {
        matches!(endpoint, Endpoint::ContainerCreate)
    }

    fn check(&self, request: &RequestContext<'_>, policy: &Policy) -> Outcome {
        let body = match request.create_body() {
            Ok(body) => body,
            Err(e) => return Outcome::Deny(format!("cannot verify the create request: {e}")),
        };
        let readonly_everywhere = DockerdReading::ALL
            .iter()
            .all(|&reading| body.readonly_rootfs(reading));
        if readonly_everywhere {
            return Outcome::Pass;
        }
        if let Some(entry) = policy.exempting_label(body.labels()) {
            return Outcome::Exempt(format!("label {entry}"));
        }
        if body.readonly_rootfs(DockerdReading::TopLevelFallback) {
            return Outcome::Deny(
                "ReadonlyRootfs is set only at the top level of the body, which dockerd 27+ ignores: \
                 set it under HostConfig ({\"HostConfig\":{\"ReadonlyRootfs\":true}})"
                    .to_owned(),
            );
        }
        Outcome::Deny(remedy(policy))
    }
}

/// The message users see: what the control asks and how to comply.
fn remedy(policy: &Policy) -> String {
    let mut msg = String::from(
        "container root filesystem must be read-only (CIS 5.12): run with --read-only and mount \
         writable paths explicitly (--tmpfs /tmp, -v data:/data)",
    );
    if let Some(entry) = policy.allow_labels.first() {
        msg.push_str(", or label it ");
        msg.push_str(&entry.to_string());
    }
    msg
}
