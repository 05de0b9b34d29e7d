//! Host paths a container mounts: `HostConfig.Binds` strings, `mount.Mount` objects (container
//! `HostConfig.Mounts` and service `ContainerSpec.Mounts`), and the options of the `local` volume
//! driver, which can make a volume a bind mount in disguise (`type=none`, `o=bind`, `device=PATH`).
//!
//! The rules need one fact from each: which host path ends up mounted, and whether writable. A
//! writable path back to dockerd's or containerd's data root lets a `--read-only` container write
//! its own root filesystem (through the overlay directories below it).

use serde::Deserializer;

use crate::authz::gojson::{GoDecode, GoStringMap, GoStruct};

/// `mount.Mount` (the fields that say what is mounted and how).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Mount {
    pub mount_type: String,
    pub source: String,
    pub read_only: bool,
    pub volume_options: Option<VolumeOptions>,
}

impl GoStruct for Mount {
    const FIELDS: &'static [&'static str] = &["Type", "Source", "ReadOnly", "VolumeOptions"];
    fn decode_field<'de, D: Deserializer<'de>>(&mut self, i: usize, de: D) -> Result<(), D::Error> {
        match i {
            0 => self.mount_type.go_decode(de),
            1 => self.source.go_decode(de),
            2 => self.read_only.go_decode(de),
            _ => self.volume_options.go_decode(de),
        }
    }
}

/// `mount.VolumeOptions` (only `*DriverConfig`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VolumeOptions {
    pub driver_config: Option<VolumeDriver>,
}

impl GoStruct for VolumeOptions {
    const FIELDS: &'static [&'static str] = &["DriverConfig"];
    fn decode_field<'de, D: Deserializer<'de>>(&mut self, _: usize, de: D) -> Result<(), D::Error> {
        self.driver_config.go_decode(de)
    }
}

/// `mount.Driver`: a volume driver name and its options.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VolumeDriver {
    pub name: String,
    pub options: GoStringMap,
}

impl GoStruct for VolumeDriver {
    const FIELDS: &'static [&'static str] = &["Name", "Options"];
    fn decode_field<'de, D: Deserializer<'de>>(&mut self, i: usize, de: D) -> Result<(), D::Error> {
        match i {
            0 => self.name.go_decode(de),
            _ => self.options.go_decode(de),
        }
    }
}

/// `volume.CreateOptions`, the body of `POST /volumes/create`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VolumeCreate {
    pub name: String,
    pub driver: String,
    pub driver_opts: GoStringMap,
}

impl GoStruct for VolumeCreate {
    const FIELDS: &'static [&'static str] = &["Name", "Driver", "DriverOpts"];
    fn decode_field<'de, D: Deserializer<'de>>(&mut self, i: usize, de: D) -> Result<(), D::Error> {
        match i {
            0 => self.name.go_decode(de),
            1 => self.driver.go_decode(de),
            _ => self.driver_opts.go_decode(de),
        }
    }
}

impl VolumeCreate {
    pub fn decode(body: &[u8]) -> Result<Self, crate::authz::gojson::GoJsonError> {
        let mut v = crate::authz::gojson::GoValue(VolumeCreate::default());
        crate::authz::gojson::decode(body, &mut v)?;
        Ok(v.0)
    }
}

/// How a host path reaches a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostPathVia {
    /// A bind mount (`-v /src:/dst`, `--mount type=bind`).
    Bind,
    /// A `local`-driver volume whose options mount a host path (`type=none,o=bind,device=...`,
    /// or an option such as overlay's `upperdir=` naming a host path).
    VolumeOptions,
}

/// One host path a container gets, and whether it can write there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPathMount {
    pub source: String,
    pub writable: bool,
    pub via: HostPathVia,
}

/// The host path of one `Binds` entry, as dockerd's Linux parser splits it (`src:dst[:mode]`;
/// an absolute `src` is a bind, anything else names a volume). Writable unless the mode list has
/// `ro`. Malformed entries yield nothing: dockerd refuses them and creates nothing.
pub fn bind_host_path(spec: &str) -> Option<HostPathMount> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, mode) = match parts.as_slice() {
        [source, _target] => (*source, ""),
        [source, _target, mode] => (*source, *mode),
        _ => return None,
    };
    if !source.starts_with('/') {
        return None;
    }
    Some(HostPathMount {
        source: source.to_owned(),
        writable: !mode.split(',').any(|m| m == "ro"),
        via: HostPathVia::Bind,
    })
}

/// The host paths of one `mount.Mount`: its source when a bind; for a volume, the host paths its
/// inline `local`-driver options would mount.
pub fn mount_host_paths(m: &Mount, out: &mut Vec<HostPathMount>) {
    match m.mount_type.as_str() {
        "bind" => out.push(HostPathMount {
            source: m.source.clone(),
            writable: !m.read_only,
            via: HostPathVia::Bind,
        }),
        "volume" => {
            if let Some(driver) = m
                .volume_options
                .as_ref()
                .and_then(|v| v.driver_config.as_ref())
            {
                if let Some(opts) = driver.options.0.as_ref() {
                    local_volume_host_paths(&driver.name, &|k| opts.get(k), out);
                }
            }
        }
        _ => {}
    }
}

/// The host paths a `local`-driver volume with these options mounts. The local driver runs
/// `mount -t TYPE -o O DEVICE`: with `type=none` or a `bind`/`rbind` option, DEVICE is a host
/// path; any `key=/path` in O (overlay's `lowerdir`/`upperdir`/`workdir`) names one too. Counted
/// as writable whatever `ro` says: a volume's options are fixed when it is created, and the
/// containers that mount it later choose their own mode.
pub fn local_volume_host_paths<'a>(
    driver: &str,
    option: &dyn Fn(&str) -> Option<&'a str>,
    out: &mut Vec<HostPathMount>,
) {
    if !(driver.is_empty() || driver == "local") {
        return;
    }
    let fs_type = option("type").unwrap_or_default();
    let o = option("o").unwrap_or_default();
    let binds = fs_type == "none" || o.split(',').any(|x| x == "bind" || x == "rbind");
    let mut push = |path: &str| {
        out.push(HostPathMount {
            source: path.to_owned(),
            writable: true,
            via: HostPathVia::VolumeOptions,
        })
    };
    if let Some(device) = option("device") {
        if binds || device.starts_with('/') {
            push(device);
        }
    }
    for opt in o.split(',') {
        if let Some((_, value)) = opt.split_once('=') {
            for path in value.split(':').filter(|p| p.starts_with('/')) {
                push(path);
            }
        }
    }
}

/// Go's `path.Clean` for an absolute path: no `//`, `.` or `..`, no trailing slash.
pub fn clean_abs_path(p: &str) -> String {
    crate::authz::route::go_path_clean(p)
}

/// Whether two absolute paths are the same directory or one contains the other (after cleaning):
/// a mount of either reaches the other.
pub fn paths_overlap(a: &str, b: &str) -> bool {
    let (a, b) = (clean_abs_path(a), clean_abs_path(b));
    let under = |x: &str, dir: &str| {
        dir == "/" || x == dir || (x.starts_with(dir) && x.as_bytes().get(dir.len()) == Some(&b'/'))
    };
    under(&a, &b) || under(&b, &a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_as_dockerd_splits_them() {
        let cases = [
            ("/var/lib/docker:/d", Some(("/var/lib/docker", true))),
            ("/var/lib/docker:/d:rw", Some(("/var/lib/docker", true))),
            ("/var/lib/docker:/d:ro", Some(("/var/lib/docker", false))),
            ("/var/lib/docker:/d:z,ro", Some(("/var/lib/docker", false))),
            ("/var/lib/docker:/d:rslave", Some(("/var/lib/docker", true))),
            // `RO` is not a mode dockerd knows (it refuses the create); counted writable.
            ("/:/host:RO", Some(("/", true))),
            ("data:/data", None),
            ("/d", None),
            ("/a:/b:ro:x", None),
        ];
        for (spec, want) in cases {
            let got = bind_host_path(spec);
            assert_eq!(
                got.as_ref().map(|m| (m.source.as_str(), m.writable)),
                want,
                "{spec}"
            );
        }
    }

    #[test]
    fn mounts_decode_as_go_does_or_are_refused() {
        use crate::authz::model::CreateBody;
        use crate::authz::model::DockerdReading::HostConfigKeyOnly;
        let paths = |body: &str| {
            CreateBody::decode(body.as_bytes()).map(|b| {
                b.effective_host_config(HostConfigKeyOnly)
                    .map(|hc| hc.host_paths())
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| (m.source, m.writable))
                    .collect::<Vec<_>>()
            })
        };
        let one = |s: &str, w: bool| Ok(vec![(s.to_owned(), w)]);
        assert_eq!(
            paths(r#"{"HostConfig":{"Mounts":[{"Type":"bind","Source":"/a"}]}}"#),
            one("/a", true)
        );
        // Field names fold as Go folds them; later scalars in one object overwrite.
        assert_eq!(
            paths(
                r#"{"HostConfig":{"mounts":[{"TYPE":"bind","source":"/a","ReadOnly":true,"readonly":false}]}}"#
            ),
            one("/a", true)
        );
        // null erases the slice; an empty array then a full one is a fresh slice.
        assert_eq!(
            paths(r#"{"HostConfig":{"Mounts":[{"Type":"bind","Source":"/a"}],"Mounts":null}}"#),
            Ok(vec![])
        );
        assert_eq!(
            paths(r#"{"HostConfig":{"Mounts":[],"Mounts":[{"Type":"bind","Source":"/a"}]}}"#),
            one("/a", true)
        );
        // What Go would merge into earlier elements is refused, never guessed.
        for body in [
            r#"{"HostConfig":{"Mounts":[{"Type":"bind","Source":"/a","ReadOnly":true}],"mounts":[{}]}}"#,
            r#"{"HostConfig":{"Mounts":[null]}}"#,
            r#"{"HostConfig":{"Mounts":["/a:/b"]}}"#,
            r#"{"HostConfig":{"Mounts":{"Type":"bind"}}}"#,
            r#"{"HostConfig":{"Binds":[null]}}"#,
            r#"{"HostConfig":{"Mounts":[{"ReadOnly":"true"}]}}"#,
        ] {
            assert!(paths(body).is_err(), "{body}");
        }
        // Binds: a later array replaces the earlier one element by element, as in Go.
        assert_eq!(
            paths(r#"{"HostConfig":{"Binds":["/a:/a:ro","/b:/b"],"Binds":["/c:/c"]}}"#),
            one("/c", true)
        );
        // A struct merges across repeated HostConfig objects; Mounts then stays refused.
        assert_eq!(
            paths(r#"{"HostConfig":{"Binds":["/a:/a"]},"HostConfig":{"ReadonlyRootfs":true}}"#),
            one("/a", true)
        );
    }

    #[test]
    fn path_overlap_after_cleaning() {
        for (a, b, want) in [
            ("/var/lib/docker", "/var/lib/docker", true),
            ("/var/lib/docker/", "/var/lib/docker", true),
            ("//var//lib/./docker", "/var/lib/docker", true),
            ("/var/lib/x/../docker", "/var/lib/docker", true),
            ("/var/lib", "/var/lib/docker", true),
            ("/", "/var/lib/docker", true),
            (
                "/var/lib/docker/overlay2/abc/merged",
                "/var/lib/docker",
                true,
            ),
            ("/var/lib/docker-data", "/var/lib/docker", false),
            ("/var/lib/dock", "/var/lib/docker", false),
            ("/srv/data", "/var/lib/docker", false),
            ("/../var/lib/docker", "/var/lib/docker", true),
        ] {
            assert_eq!(paths_overlap(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn local_volume_options_that_mount_host_paths() {
        let run = |driver: &str, opts: &[(&str, &str)]| {
            let mut out = Vec::new();
            let get = |k: &str| opts.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
            local_volume_host_paths(driver, &get, &mut out);
            out.into_iter().map(|m| m.source).collect::<Vec<_>>()
        };
        let bind = [
            ("type", "none"),
            ("o", "rbind"),
            ("device", "/var/lib/docker"),
        ];
        assert_eq!(run("local", &bind), ["/var/lib/docker"]);
        assert_eq!(run("", &bind), ["/var/lib/docker"]);
        assert_eq!(run("other-driver", &bind), Vec::<String>::new());
        assert_eq!(
            run(
                "local",
                &[("type", "ext4"), ("o", "bind"), ("device", "/srv")]
            ),
            ["/srv"]
        );
        assert_eq!(
            run(
                "local",
                &[
                    ("type", "overlay"),
                    ("device", "overlay"),
                    ("o", "lowerdir=/a:/b,upperdir=/var/lib/docker/x,workdir=/w")
                ]
            ),
            ["/a", "/b", "/var/lib/docker/x", "/w"]
        );
        assert_eq!(
            run(
                "local",
                &[
                    ("type", "nfs"),
                    ("o", "addr=10.0.0.1,rw"),
                    ("device", ":/export")
                ]
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            run("local", &[("type", "tmpfs"), ("device", "tmpfs")]),
            Vec::<String>::new()
        );
    }
}
