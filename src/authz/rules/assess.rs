//! One verdict for one container, whoever asks: a create request, a swarm service spec, or the
//! audit of a container that already exists. Keeping this in one place is what makes audit and
//! enforcement agree.

use std::time::SystemTime;

use crate::authz::exceptions::ExceptionMatch;
use crate::authz::model::mount::paths_overlap;
use crate::authz::model::{grants_remount, HostPathMount, HostPathVia, Labels};
use crate::authz::policy::Policy;

/// What decides a container's root-filesystem compliance.
#[derive(Debug, Clone, Copy)]
pub struct ContainerFacts<'a> {
    pub readonly_rootfs: bool,
    pub privileged: bool,
    pub cap_add: &'a [String],
    pub labels: Option<&'a dyn Labels>,
    pub image: &'a str,
    /// Who asks for it (AuthZ `User`); `None` when unknown (existing containers).
    pub user: Option<&'a str>,
    /// The host paths it mounts (binds, and volumes whose options bind a host path).
    pub host_paths: &'a [HostPathMount],
    /// The instant exceptions are judged at (one per decision or audit).
    pub now: SystemTime,
}

/// The verdict on one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assessment {
    Compliant,
    /// Not compliant, but an allowlist entry exempts it.
    Exempt(Exemption),
    Violation {
        rule: &'static str,
        message: String,
    },
}

/// The exception that exempts a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exemption {
    /// For logs and reports: `label KEY=VALUE`.
    pub description: String,
    /// The entry's id (given or derived).
    pub exception_id: String,
}

/// Rule name of a writable root filesystem.
pub const READONLY_ROOTFS: &str = "readonly-rootfs";
/// Rule name of a read-only root filesystem that can be remounted read-write.
pub const REMOUNT: &str = "remount";
/// Rule name of a writable mount that reaches a directory holding root filesystems.
pub const ROOT_BIND: &str = "root-bind";

/// Judges one container against the policy (mode not applied: that is the caller's business).
///
/// A writable path back to a root filesystem comes first and no allowlist label exempts it: the
/// label lets a container write its *own* root, while such a mount writes every container's.
pub fn assess_container(policy: &Policy, facts: &ContainerFacts<'_>) -> Assessment {
    if policy.rules.root_bind {
        if let Some(message) = root_bind_violation(policy, facts.host_paths) {
            return Assessment::Violation {
                rule: ROOT_BIND,
                message,
            };
        }
    }
    let violation = if !facts.readonly_rootfs {
        Some((READONLY_ROOTFS, writable_message(policy)))
    } else if policy.rules.remount {
        remount_risk(facts).map(|why| {
            (
                REMOUNT,
                format!(
                    "{why} lets the container run `mount -o remount,rw /` and undo --read-only: \
                     drop it, or label the container as writable"
                ),
            )
        })
    } else {
        None
    };
    let Some((rule, message)) = violation else {
        return Assessment::Compliant;
    };
    match policy.exception_for(facts.labels, facts.image, facts.user, facts.now) {
        ExceptionMatch::Exempts(entry) => {
            let mut description = format!("label {entry}");
            if facts.user.is_none() && !entry.users.is_empty() {
                description.push_str(" (creator not verifiable)");
            }
            Assessment::Exempt(Exemption {
                description,
                exception_id: entry.id(),
            })
        }
        ExceptionMatch::Expired(entry) => {
            let when = entry.expires.map(|e| e.display()).unwrap_or_default();
            let ask = match &entry.owner {
                Some(owner) => format!("ask {owner} or renew it in the policy"),
                None => "renew it in the policy".to_owned(),
            };
            Assessment::Violation {
                rule,
                message: format!(
                    "exception `{}` expired on {when}; {ask}: {message}",
                    entry.id()
                ),
            }
        }
        ExceptionMatch::None => Assessment::Violation { rule, message },
    }
}

/// The deny message for the first writable host path that reaches a protected root, if any.
pub fn root_bind_violation(policy: &Policy, paths: &[HostPathMount]) -> Option<String> {
    let judged = |m: &&HostPathMount| m.writable || policy.rules.root_bind_readonly;
    paths.iter().filter(judged).find_map(|m| {
        let root = policy
            .protected_roots
            .iter()
            .find(|root| paths_overlap(&m.source, root))?;
        Some(match m.via {
            HostPathVia::Bind if m.writable => format!(
                "a writable bind of {} reaches {root}, where container root filesystems live: \
                 through it a --read-only container can write its own root; mount a path \
                 outside it",
                m.source
            ),
            HostPathVia::Bind => format!(
                "a bind of {} reaches {root}, where container root filesystems live, and dockerd \
                 may make a read-only bind non-recursive (before 25, or API < 1.44): the overlay \
                 roots mounted below it stay writable; mount a path outside it",
                m.source
            ),
            HostPathVia::VolumeOptions => format!(
                "volume options bind-mount {} (type=none / o=bind, device or an overlay dir), \
                 which reaches {root}, where container root filesystems live: use a plain named \
                 volume or a bind outside it",
                m.source
            ),
        })
    })
}

/// Why a read-only container could make `/` writable again, if it could.
pub fn remount_risk(facts: &ContainerFacts<'_>) -> Option<String> {
    if facts.privileged {
        return Some("--privileged".to_owned());
    }
    grants_remount(facts.cap_add).map(|cap| format!("--cap-add {cap}"))
}

/// The message users see for a writable root filesystem: what the control asks and how to comply.
pub fn writable_message(policy: &Policy) -> String {
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn facts<'a>(
        readonly: bool,
        privileged: bool,
        caps: &'a [String],
        labels: Option<&'a dyn Labels>,
    ) -> ContainerFacts<'a> {
        ContainerFacts {
            readonly_rootfs: readonly,
            privileged,
            cap_add: caps,
            labels,
            image: "bb",
            user: Some(""),
            host_paths: &[],
            now: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn verdicts() {
        let p = Policy::default();
        let none: [String; 0] = [];
        let sys_admin = ["CAP_SYS_ADMIN".to_string()];
        let allow = BTreeMap::from([(
            "rootfs-guard.allow-writable".to_string(),
            "true".to_string(),
        )]);
        assert_eq!(
            assess_container(&p, &facts(true, false, &none, None)),
            Assessment::Compliant
        );
        assert!(matches!(
            assess_container(&p, &facts(false, false, &none, None)),
            Assessment::Violation {
                rule: READONLY_ROOTFS,
                ..
            }
        ));
        assert!(matches!(
            assess_container(&p, &facts(true, true, &none, None)),
            Assessment::Violation { rule: REMOUNT, .. }
        ));
        assert!(matches!(
            assess_container(&p, &facts(true, false, &sys_admin, None)),
            Assessment::Violation { rule: REMOUNT, .. }
        ));
        assert!(matches!(
            assess_container(&p, &facts(false, true, &none, Some(&allow))),
            Assessment::Exempt(_)
        ));
        let mut no_remount = Policy::default();
        no_remount.rules.remount = false;
        assert_eq!(
            assess_container(&no_remount, &facts(true, true, &sys_admin, None)),
            Assessment::Compliant
        );
    }
}
