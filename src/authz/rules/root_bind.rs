//! "No writable path back to a root filesystem" at `POST /volumes/create`: a `local`-driver
//! volume whose options bind-mount a host path (`type=none`, `o=bind`, `device=...`, or overlay
//! directories) that reaches dockerd's or containerd's data root. A named volume's options are
//! visible only here, when it is created; containers that mount it later name it only.
//! The same check for container and service mounts lives in [`super::assess`] (shared with audit).

use crate::authz::model::mount::local_volume_host_paths;
use crate::authz::policy::Policy;
use crate::authz::request::RequestContext;
use crate::authz::route::Endpoint;
use crate::authz::rules::assess::{root_bind_violation, ROOT_BIND};
use crate::authz::rules::{Outcome, Rule};

pub struct RootBindVolumeRule;

impl Rule for RootBindVolumeRule {
    fn name(&self) -> &'static str {
        ROOT_BIND
    }

    fn applies_to(&self, endpoint: &Endpoint, policy: &Policy) -> bool {
        policy.rules.root_bind && matches!(endpoint, Endpoint::VolumeCreate)
    }

    fn check(&self, request: &RequestContext<'_>, policy: &Policy) -> Outcome {
        let volume = match request.volume_create() {
            Ok(v) => v,
            Err(e) => return Outcome::unverifiable(ROOT_BIND, "volume create request", e),
        };
        let Some(opts) = volume.driver_opts.0.as_ref() else {
            return Outcome::Pass;
        };
        let mut paths = Vec::new();
        local_volume_host_paths(&volume.driver, &|k| opts.get(k), &mut paths);
        match root_bind_violation(policy, &paths) {
            Some(message) => Outcome::Deny {
                rule: ROOT_BIND,
                message,
            },
            None => Outcome::Pass,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::authz::policy::Policy;
    use crate::authz::test_support::*;

    fn post(uri: &str, body: &str) -> (bool, Option<&'static str>) {
        verdict(&request("POST", uri, Some(body), true))
    }

    #[test]
    fn volumes_that_bind_a_root_are_denied_at_create() {
        let denied = (false, Some("root-bind"));
        for (body, want) in [
            (
                r#"{"Name":"dr","Driver":"local","DriverOpts":{"type":"none","o":"rbind","device":"/var/lib/docker"}}"#,
                denied,
            ),
            // Default driver, Go key folding, dockerd path cleaning.
            (
                r#"{"name":"dr","driveropts":{"type":"none","o":"bind","device":"/var//lib/./docker/"}}"#,
                denied,
            ),
            (
                r#"{"DriverOpts":{"type":"none","o":"bind","device":"/var"}}"#,
                denied,
            ),
            (
                r#"{"DriverOpts":{"type":"none","o":"bind","device":"/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs"}}"#,
                denied,
            ),
            (
                r#"{"DriverOpts":{"type":"overlay","device":"overlay","o":"lowerdir=/srv,upperdir=/var/lib/docker/overlay2/x/diff,workdir=/w"}}"#,
                denied,
            ),
            // Legitimate volumes.
            (r#"{"Name":"data"}"#, (true, None)),
            (
                r#"{"Name":"data","Driver":"local","DriverOpts":{}}"#,
                (true, None),
            ),
            (
                r#"{"DriverOpts":{"type":"none","o":"bind","device":"/srv/data"}}"#,
                (true, None),
            ),
            (
                r#"{"DriverOpts":{"type":"tmpfs","device":"tmpfs","o":"size=100m"}}"#,
                (true, None),
            ),
            (
                r#"{"DriverOpts":{"type":"nfs","o":"addr=10.0.0.1,rw","device":":/export"}}"#,
                (true, None),
            ),
            // Another driver's options mean something else.
            (
                r#"{"Driver":"rexray","DriverOpts":{"device":"/var/lib/docker"}}"#,
                (true, None),
            ),
            // A later DriverOpts merges into the earlier map, as in Go.
            (
                r#"{"DriverOpts":{"type":"none","o":"bind"},"driveropts":{"device":"/var/lib/docker"}}"#,
                denied,
            ),
        ] {
            assert_eq!(post("/v1.41/volumes/create", body), want, "{body}");
        }
        // A body that cannot be read is denied.
        assert_eq!(
            verdict(&request("POST", "/volumes/create", None, false)),
            denied
        );
        let mut roots = Policy {
            protected_roots: vec!["/srv/docker".into()],
            ..Default::default()
        };
        let req = request(
            "POST",
            "/volumes/create",
            Some(r#"{"DriverOpts":{"type":"none","o":"bind","device":"/srv"}}"#),
            true,
        );
        assert_eq!(decide(&roots, &req).rule, Some("root-bind"));
        roots.rules.root_bind = false;
        assert!(decide(&roots, &req).allow);
    }

    #[test]
    fn writable_binds_of_a_root_are_denied_readonly_ones_allowed() {
        let create = |body: &str| verdict(&create(body));
        let denied = (false, Some("root-bind"));
        for (body, want) in [
            (
                r#"{"Image":"bb","HostConfig":{"ReadonlyRootfs":true,"Binds":["/var/lib/docker:/d"]}}"#,
                denied,
            ),
            (
                r#"{"Image":"bb","HostConfig":{"ReadonlyRootfs":true,"Binds":["/:/host:rw"]}}"#,
                denied,
            ),
            (
                r#"{"Image":"bb","HostConfig":{"ReadonlyRootfs":true,"Binds":["/var/lib/../lib/docker/:/d:z"]}}"#,
                denied,
            ),
            (
                r#"{"Image":"bb","HostConfig":{"ReadonlyRootfs":true,"Mounts":[{"Type":"bind","Source":"/var/lib","Target":"/d"}]}}"#,
                denied,
            ),
            (
                r#"{"Image":"bb","HostConfig":{"ReadonlyRootfs":true,"mounts":[{"type":"bind","source":"/var/lib/docker/overlay2","target":"/d","readonly":false}]}}"#,
                denied,
            ),
            (
                r#"{"Image":"bb","HostConfig":{"ReadonlyRootfs":true,"Mounts":[{"Type":"volume","Target":"/d","VolumeOptions":{"DriverConfig":{"Options":{"type":"none","o":"rbind","device":"/var/lib/docker"}}}}]}}"#,
                denied,
            ),
            // Inline volume options bind whatever the mount's own mode says.
            (
                r#"{"Image":"bb","HostConfig":{"ReadonlyRootfs":true,"Mounts":[{"Type":"volume","Target":"/d","ReadOnly":true,"VolumeOptions":{"DriverConfig":{"Name":"local","Options":{"type":"none","o":"bind","device":"/var/lib/docker"}}}}]}}"#,
                denied,
            ),
            // No label exempts it: it writes every container's root, not only its own.
            (
                r#"{"Image":"bb","Labels":{"rootfs-guard.allow-writable":"true"},"HostConfig":{"Binds":["/var/lib/docker:/d"]}}"#,
                denied,
            ),
            // The deprecated top-level form, read by dockerd 20.10-26.x.
            (
                r#"{"Image":"bb","ReadonlyRootfs":true,"Binds":["/var/lib/docker:/d"],"HostConfig":null}"#,
                denied,
            ),
            // A repeated Mounts array would merge into the first in Go: refused.
            (
                r#"{"Image":"bb","HostConfig":{"ReadonlyRootfs":true,"Mounts":[{"Type":"bind","Source":"/var/lib/docker","ReadOnly":true}],"Mounts":[{"ReadOnly":false}]}}"#,
                (false, Some("readonly-rootfs")),
            ),
            // Read-only binds too: dockerd may make them non-recursive, leaving the overlay
            // roots below writable (seen on 20.10). `root_bind_readonly: false` allows them.
            (
                r#"{"Image":"bb","HostConfig":{"ReadonlyRootfs":true,"Binds":["/:/host:ro"]}}"#,
                denied,
            ),
            (
                r#"{"Image":"bb","HostConfig":{"ReadonlyRootfs":true,"Mounts":[{"Type":"bind","Source":"/var/lib/docker","Target":"/d","ReadOnly":true}]}}"#,
                denied,
            ),
            // Read-only binds elsewhere are fine.
            (
                r#"{"Image":"bb","HostConfig":{"ReadonlyRootfs":true,"Binds":["/srv:/srv:ro","/etc/ssl:/etc/ssl:ro"]}}"#,
                (true, None),
            ),
            // Other host paths and named volumes are not its concern.
            (
                r#"{"Image":"bb","HostConfig":{"ReadonlyRootfs":true,"Binds":["/srv/data:/data","cache:/var/cache","/var/lib/docker-data:/x"]}}"#,
                (true, None),
            ),
            (
                r#"{"Image":"bb","HostConfig":{"ReadonlyRootfs":true,"Mounts":[{"Type":"volume","Source":"data","Target":"/data"},{"Type":"tmpfs","Target":"/tmp"}]}}"#,
                (true, None),
            ),
        ] {
            assert_eq!(create(body), want, "{body}");
        }
        // Where every daemon and client gives recursive read-only binds, the operator can
        // allow them (monitoring agents); writable ones stay denied.
        let mut ro_ok = Policy::default();
        ro_ok.rules.root_bind_readonly = false;
        for (body, allow) in [
            (
                r#"{"Image":"bb","HostConfig":{"ReadonlyRootfs":true,"Binds":["/:/host:ro","/var/lib/docker:/d:ro,z"]}}"#,
                true,
            ),
            (
                r#"{"Image":"bb","HostConfig":{"ReadonlyRootfs":true,"Binds":["/var/lib/docker:/d"]}}"#,
                false,
            ),
        ] {
            let req = crate::authz::test_support::create(body);
            assert_eq!(decide(&ro_ok, &req).allow, allow, "{body}");
        }
    }

    #[test]
    fn service_mounts_are_checked_too() {
        let service =
            |body: &str| verdict(&request("POST", "/v1.41/services/create", Some(body), true));
        assert_eq!(
            service(
                r#"{"TaskTemplate":{"ContainerSpec":{"Image":"bb","ReadOnly":true,"Mounts":[{"Type":"bind","Source":"/var/lib/docker","Target":"/d"}]}}}"#
            ),
            (false, Some("root-bind"))
        );
        assert_eq!(
            service(
                r#"{"TaskTemplate":{"ContainerSpec":{"Image":"bb","ReadOnly":true,"Mounts":[{"Type":"bind","Source":"/srv","Target":"/d"}]}}}"#
            ),
            (true, None)
        );
    }
}
