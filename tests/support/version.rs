//! Which dockerd an e2e run talks to. `make test` runs the e2e suite once per dockerd version of
//! the CI matrix (Debian 12's 20.10 from the system, Debian 13's 26.1 unpacked by
//! `scripts/fetch-dockerd.sh` and put first on dockerd's PATH). This module reads the version the
//! daemon itself reports and checks it against `ROOTFS_GUARD_E2E_DOCKERD_VERSION`, so a wrong PATH
//! cannot quietly turn the matrix into two runs against the same daemon. It also names the
//! behaviours that differ between versions, so a version-specific case states what it expects
//! from each.

use std::fmt;

/// Env: the dockerd version series this run must be talking to (`26.1`, `20.10.24`, ...).
pub const EXPECTED_VERSION_ENV: &str = "ROOTFS_GUARD_E2E_DOCKERD_VERSION";

/// A dockerd version as reported by `docker version --format '{{.Server.Version}}'`
/// (e.g. `26.1.5+dfsg1`, `20.10.24+dfsg1`, `28.2.2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerdVersion {
    pub raw: String,
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl DockerdVersion {
    /// Parses `MAJOR.MINOR[.PATCH][anything not a digit or dot...]`.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let numeric: String = raw
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let mut parts = numeric.split('.').filter(|p| !p.is_empty());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        Some(DockerdVersion {
            raw: raw.to_string(),
            major,
            minor,
            patch,
        })
    }

    /// Whether this version belongs to `series`: `26.1` matches every 26.1.x, `20.10.24` only
    /// 20.10.24 (whatever distribution suffix follows).
    pub fn in_series(&self, series: &str) -> bool {
        let wanted: Vec<&str> = series.trim().split('.').collect();
        let have = [self.major, self.minor, self.patch];
        !wanted.is_empty()
            && wanted.len() <= 3
            && wanted
                .iter()
                .zip(have)
                .all(|(w, h)| w.parse::<u32>().ok() == Some(h))
    }

    fn at_least(&self, major: u32, minor: u32, patch: u32) -> bool {
        (self.major, self.minor, self.patch) >= (major, minor, patch)
    }

    /// dockerd 23.0 and later refuse trailing data after the create body's JSON value
    /// (`unexpected content after JSON`, 400); 20.10 ignores it and creates the container from
    /// the first value.
    pub fn rejects_trailing_data(&self) -> bool {
        self.at_least(23, 0, 0)
    }

    /// dockerd 26.0 and later refuse API versions below 1.24 (`client version 1.23 is too old`),
    /// which ends start-with-HostConfig; 20.10 serves API 1.12 and up.
    pub fn min_api_is_1_24(&self) -> bool {
        self.at_least(26, 0, 0)
    }

    /// dockerd before 27.0.1 read the deprecated top-level HostConfig fields of a create body
    /// when the `HostConfig` key is absent; 27.0.1 and later ignore them.
    pub fn honours_top_level_host_config(&self) -> bool {
        !self.at_least(27, 0, 1)
    }

    /// dockerd 25.0 and later make `:ro` / `readonly` binds recursively read-only when the kernel
    /// can (mount_setattr, Linux 5.12+; `BindOptions.ReadOnlyNonRecursive` opts out); 20.10 makes
    /// only the top mount read-only and leaves submounts writable (seen: a read-only bind of the
    /// data root still reaches a running container's overlay).
    pub fn read_only_binds_are_recursive(&self) -> bool {
        self.at_least(25, 0, 0)
    }

    /// How dockerd hands large request bodies to authorization plugins, for the versions of the
    /// CI matrix (measured with a plugin that records the body it gets) and for upstream
    /// 29.3.1+ (moby source). `None`: not known for this version.
    ///
    /// Debian's builds differ from upstream's tags: Debian 13's 26.1.5+dfsg1-9+deb13u1 and sid's
    /// 28.5.2+dfsg4-5 carry the CVE-2026-34040 fix that upstream shipped in 29.3.1 (and
    /// 25.0.16): they forward bodies up to 4 MiB complete, chunked ones too, and refuse larger
    /// ones themselves. Debian 12's 20.10.24 withholds bodies of 1 MiB or more (Content-Length
    /// or chunked) and still runs the request.
    pub fn body_forwarding(&self) -> Option<BodyForwarding> {
        match (self.major, self.minor) {
            (20, 10) => Some(BodyForwarding::WithheldFrom1MiB),
            (26, 1) | (28, 5) => Some(BodyForwarding::CompleteUpTo4MiB),
            _ if self.at_least(29, 3, 1) => Some(BodyForwarding::CompleteUpTo4MiB),
            _ => None,
        }
    }

    /// Whether dockerd forwards a create body of 1 MiB or more to authorization plugins (see
    /// [`Self::body_forwarding`]).
    pub fn forwards_bodies_of_1_mib(&self) -> Option<bool> {
        self.body_forwarding()
            .map(|f| f == BodyForwarding::CompleteUpTo4MiB)
    }
}

/// See [`DockerdVersion::body_forwarding`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyForwarding {
    /// Bodies under 1 MiB reach the plugin; larger ones are withheld (the plugin sees no
    /// `RequestBody`) and the request is still executed.
    WithheldFrom1MiB,
    /// Bodies up to 4 MiB reach the plugin complete; dockerd answers larger ones itself with
    /// HTTP 500 "request body too large for authorization plugin" and executes nothing.
    CompleteUpTo4MiB,
}

impl fmt::Display for DockerdVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// Whether the running kernel is at least `major.minor` (`/proc/sys/kernel/osrelease`).
pub fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    DockerdVersion::parse(&release).is_some_and(|k| (k.major, k.minor) >= (major, minor))
}

/// The series `ROOTFS_GUARD_E2E_DOCKERD_VERSION` asks for, if set and not empty.
pub fn expected_series() -> Option<String> {
    std::env::var(EXPECTED_VERSION_ENV)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}
