//! Containers the classic builder left behind. Before the `legacy-build` rule, `docker build`
//! without BuildKit made one writable container per step inside dockerd, unseen by any plugin;
//! `--rm=false` keeps them all, a failed `RUN` keeps its own, and `docker start` runs one again.
//!
//! The shape is read from moby's classic builder (`builder/dockerfile`, in newer trees
//! `daemon/builder/dockerfile`), and only what it confirms is required:
//! - `Config.Image` is the image ID of the step's parent, never a name: `updateRunConfig` sets
//!   `runConfig.Image = imageID`, a digest `sha256:<64 hex>` (with the graph-driver and the
//!   containerd image store alike);
//! - `HostConfig.LogConfig.Type` is `none`: `hostConfigFromOptions` sets it on every container
//!   the builder creates ("override any default value set on the daemon");
//! - the name is dockerd's own: the builder names none, so `generateNewName` picked
//!   `adjective_surname` (`pkg/namesgenerator`, a digit appended on a retry) or, after six
//!   collisions, the id's first 12 hex digits;
//! - the root filesystem is writable (the builder never sets `ReadonlyRootfs`);
//! - `Config.Cmd` is a step's: a shell-form `RUN` is `SHELL` (by default `/bin/sh -c`) plus the
//!   line; a metadata step (`ENV`, `LABEL`, `WORKDIR`, ...) is the shell plus `#(nop) ...`.
//!
//! Not recognised, so still reported as ordinary writable containers: an exec-form `RUN ["cmd"]`
//! (its `Cmd` is the array as written) and a shell-form `RUN` under a `SHELL` instruction: their
//! command looks like anyone's.

use crate::engine::client::{short_id, ContainerInspect};

/// The rule a leftover breaks (the create-time rule that now denies the classic builder).
pub const LEGACY_BUILD: &str = "legacy-build";

/// Whether an inspected container has the shape the classic builder leaves (see the module).
pub fn is_build_leftover(c: &ContainerInspect) -> bool {
    let (Some(config), Some(hc)) = (c.config.as_ref(), c.host_config.as_ref()) else {
        return false;
    };
    !hc.readonly_rootfs
        && hc.log_config.as_ref().is_some_and(|l| l.driver == "none")
        && is_image_id(&config.image)
        && is_generated_name(&c.name, &c.id)
        && config.cmd.as_deref().is_some_and(is_step_command)
}

/// The violation message for a leftover named `name`.
pub fn leftover_message(name: &str) -> String {
    format!(
        "left by the classic builder (a RUN step's container): remove it with docker rm {name}; \
         build with BuildKit so no more are left"
    )
}

/// `sha256:` and 64 lowercase hex digits (Go's `digest.Digest` for SHA-256).
fn is_image_id(image: &str) -> bool {
    image
        .strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// A name dockerd generated: `/adjective_surname`, maybe one digit after it, or `/` and the id's
/// first 12 characters.
fn is_generated_name(name: &str, id: &str) -> bool {
    let Some(name) = name.strip_prefix('/') else {
        return false;
    };
    if !id.is_empty() && name == short_id(id) && name.len() == 12 {
        return true;
    }
    let name = name
        .strip_suffix(|c: char| c.is_ascii_digit())
        .unwrap_or(name);
    let lower = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    name.split_once('_')
        .is_some_and(|(left, right)| lower(left) && lower(right))
}

/// A shell-form `RUN` under the default shell, or a metadata step's `#(nop)` under any shell.
fn is_step_command(cmd: &[String]) -> bool {
    let default_shell = cmd.len() >= 3 && cmd[0] == "/bin/sh" && cmd[1] == "-c";
    default_shell || cmd.iter().any(|a| a.starts_with("#(nop) "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::client::{InspectConfig, InspectHostConfig, InspectLogConfig};

    const ID: &str = "4f1c1d5e9a3b2c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d";
    const IMAGE: &str = "sha256:9e301a362a270bcb6900ebd1aad1b3a9553a9d055830bdf4cab5c2184187a2d1";

    struct Shape {
        name: &'static str,
        image: &'static str,
        cmd: Option<&'static [&'static str]>,
        log: Option<&'static str>,
        readonly: bool,
    }

    /// What `docker build --rm=false` leaves for `RUN apk add curl` (inspect as dockerd writes it).
    const RUN: Shape = Shape {
        name: "/elated_hopper",
        image: IMAGE,
        cmd: Some(&["/bin/sh", "-c", "apk add curl"]),
        log: Some("none"),
        readonly: false,
    };

    fn inspect(s: &Shape) -> ContainerInspect {
        ContainerInspect {
            id: ID.into(),
            name: s.name.into(),
            config: Some(InspectConfig {
                image: s.image.into(),
                labels: None,
                cmd: s.cmd.map(|c| c.iter().map(|a| a.to_string()).collect()),
            }),
            host_config: Some(InspectHostConfig {
                readonly_rootfs: s.readonly,
                log_config: s.log.map(|d| InspectLogConfig { driver: d.into() }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn leftover_shapes() {
        let cases: [(&str, Shape, bool); 18] = [
            ("shell-form RUN", RUN, true),
            (
                "retry name",
                Shape {
                    name: "/elated_hopper7",
                    ..RUN
                },
                true,
            ),
            (
                "fallback name",
                Shape {
                    name: "/4f1c1d5e9a3b",
                    ..RUN
                },
                true,
            ),
            (
                "metadata step, two-argument nop",
                Shape {
                    cmd: Some(&["/bin/sh", "-c", "#(nop) ", "ENV A=b"]),
                    ..RUN
                },
                true,
            ),
            (
                "WORKDIR under a SHELL instruction, one-argument nop",
                Shape {
                    cmd: Some(&["/bin/bash", "-o", "pipefail", "-c", "#(nop) WORKDIR /app"]),
                    ..RUN
                },
                true,
            ),
            // Not confirmed as the builder's: left to the ordinary readonly-rootfs verdict.
            (
                "exec-form RUN",
                Shape {
                    cmd: Some(&["apk", "add", "curl"]),
                    ..RUN
                },
                false,
            ),
            (
                "shell-form RUN under a SHELL instruction",
                Shape {
                    cmd: Some(&["/bin/bash", "-c", "apk add curl"]),
                    ..RUN
                },
                false,
            ),
            ("no command", Shape { cmd: None, ..RUN }, false),
            (
                "bare /bin/sh -c",
                Shape {
                    cmd: Some(&["/bin/sh", "-c"]),
                    ..RUN
                },
                false,
            ),
            // What a user's own container looks like.
            (
                "named by a user",
                Shape {
                    name: "/web",
                    ..RUN
                },
                false,
            ),
            (
                "named like dockerd, but two digits",
                Shape {
                    name: "/elated_hopper12",
                    ..RUN
                },
                false,
            ),
            (
                "a name with a dash",
                Shape {
                    name: "/my-app_1",
                    ..RUN
                },
                false,
            ),
            (
                "image by name",
                Shape {
                    image: "alpine:3.20",
                    ..RUN
                },
                false,
            ),
            (
                "short image id",
                Shape {
                    image: "sha256:9e301a362a27",
                    ..RUN
                },
                false,
            ),
            (
                "upper-case hex",
                Shape {
                    image:
                        "sha256:9E301A362A270BCB6900EBD1AAD1B3A9553A9D055830BDF4CAB5C2184187A2D1",
                    ..RUN
                },
                false,
            ),
            (
                "daemon's log driver",
                Shape {
                    log: Some("json-file"),
                    ..RUN
                },
                false,
            ),
            ("no LogConfig", Shape { log: None, ..RUN }, false),
            (
                "read-only",
                Shape {
                    readonly: true,
                    ..RUN
                },
                false,
            ),
        ];
        for (what, shape, want) in cases {
            assert_eq!(is_build_leftover(&inspect(&shape)), want, "{what}");
        }
        assert!(!is_build_leftover(&ContainerInspect::default()));
    }

    #[test]
    fn inspect_json_of_a_leftover() {
        let text = format!(
            r#"{{"Id":"{ID}","Name":"/elated_hopper","State":{{"Status":"exited"}},
               "Config":{{"Image":"{IMAGE}","Cmd":["/bin/sh","-c","apk add curl"],
                          "Entrypoint":null,"Labels":{{}}}},
               "HostConfig":{{"ReadonlyRootfs":false,"LogConfig":{{"Type":"none","Config":{{}}}}}}}}"#
        );
        let c: ContainerInspect = serde_json::from_str(&text).unwrap();
        assert!(is_build_leftover(&c));
        assert!(leftover_message("elated_hopper").contains(
            "left by the classic builder (a RUN step's container): remove it with docker rm"
        ));
    }

    #[test]
    fn the_rule_name_is_the_create_time_rule() {
        use crate::authz::rules::{LegacyBuildRule, Rule};
        assert_eq!(LEGACY_BUILD, LegacyBuildRule.name());
    }
}
