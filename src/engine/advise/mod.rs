//! `rootfs-guard advise`: how to run a container read-only. Pure: inspect data and the
//! container's filesystem changes in, a proposal out — no I/O, so every heuristic is table-tested.
//!
//! # From changes to mounts
//!
//! dockerd's `GET /containers/{id}/changes` lists every path of the container's writable layer:
//! added (`A`), modified (`C`) and deleted (`D`), parent directories included. Under `--read-only`
//! each of those writes fails unless a mount covers it. The *written paths* are the entries with
//! nothing listed below them (the directories above them are covered with them). For each:
//!
//! 1. Already covered — under one of the container's mounts, or a file Docker manages itself
//!    (`/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`, `/proc`, `/sys`, `/dev`): nothing to do.
//! 2. Otherwise a mount point and a kind are chosen by the first of these that applies
//!    ([`PLACEMENTS`], documented in docs/audit-watch-advise.md#how-written-paths-become-mounts-heuristics):
//!    - a hint from the command line (`--tmpfs PATH` / `--volume PATH`): that kind, at PATH, for
//!      everything at or below PATH (the deepest hint wins);
//!    - a `VOLUME` the image declares: a named volume there;
//!    - a well-known location: scratch (`/tmp`, `/var/tmp`, `/run`, `/var/run`, `/var/lock`,
//!      `/var/log`, `/var/cache/*`, `~/.cache`) → tmpfs; data (`/var/lib/*`, `/var/spool/*`,
//!      `/data`, `/srv`, home directories) → named volume. For the `/var/cache/*`-style entries the
//!      mount goes on the parent (`/var/cache`) when the container created it (it hides nothing and
//!      covers siblings too), else on the application's own directory (`/var/cache/app`);
//!    - anything else: the shallowest directory the container *added* (mounting a new directory
//!      hides nothing from the image), else the written path's parent directory, as a named volume
//!      (a tmpfs when that directory is called `tmp`, `temp`, `cache`, `.cache` or `run`). Shared
//!      system directories (`/etc`, `/usr`, `/var`, ...) that exist in the image are never proposed
//!      by this fallback: such a path is reported as not coverable, with what to do instead.
//! 3. Mounts nested in a proposed mount of the same kind are merged into it (fewest mounts).
//!
//! Where a mount would hide image content (it goes on a directory that exists in the image, and
//! the container changed or deleted image files below it), the proposal says so. A written path
//! with nothing below it is taken to be a file (the changes API does not say), so it is covered
//! by a mount on a directory above it, never on itself — except a well-known directory itself
//! (`/tmp`, `/data`, ...), which is mounted as such.
//!
//! # What is rendered
//!
//! The complete `docker run --read-only ...` command (image, command, and the settings the inspect
//! data shows: name, user, working directory, entrypoint, restart policy, network, ports,
//! environment *names*, labels, existing mounts) with the proposed mounts, the equivalent compose
//! service, and each written path with the mount that covers it. Environment values are never
//! read into this module: the command says `-e KEY` (the value then comes from the caller's
//! environment) because values may hold secrets.

pub(crate) use std::collections::{BTreeMap, BTreeSet};
pub(crate) use std::fmt::Write as _;

pub(crate) use serde::Serialize;
pub(crate) use serde_json::Value;

/// `schema` of the JSON `advise --format json` prints; bumped on incompatible changes.
pub const SCHEMA: &str = "rootfs-guard/advise/v1";
/// Label set on the throwaway container of `advise --image` (besides the allow label).
pub const TRIAL_LABEL: &str = "rootfs-guard.trial";

mod advice;
mod input;
mod paths;
mod placement;
mod plan;
mod render;
pub mod run;

pub use advice::*;
pub use input::*;
pub use paths::*;
pub use placement::*;
pub use plan::*;
pub use render::*;

#[cfg(test)]
mod tests;
