//! The differential oracle against Go itself.
//!
//! rootfs-guard re-implements, in Rust, how dockerd's Go `encoding/json` reads request bodies
//! (`src/authz/gojson.rs`, `src/authz/model`). A reading that differs from Go's can be a bypass, so this test
//! generates adversarial bodies deterministically from a seed (key case and Unicode-fold variants,
//! escapes, repeated keys in every order, nulls at every level, wrong types, the allowlist label and
//! its look-alikes, CapAdd in every shape, Binds entries and Mounts arrays reaching dockerd's data
//! root, service task runtimes, volume create options, trailing data, invalid UTF-8, deep nesting,
//! mutated real-client bodies from `tests/fixtures/authz`) and reads each one twice: with the Rust API and
//! with `tests/go-oracle`, a Go program decoding into dockerd 20.10's own types with Go's own
//! `encoding/json` (built here with the system `go`, all bodies through one process).
//!
//! It fails on any body where Rust allows (decodes, and says read-only and not remountable under
//! every dockerd reading, or sees the allowlist label) while Go reads it as writable, remountable
//! or unlabelled under some reading that Go decodes without error; on any difference in what the
//! two read when both decode (including the host paths the mount model derives, the same
//! derivation written in Go over Go's structs, and whether a service task is a container); and on
//! any body Rust refuses while Go reads it, unless that refusal
//! falls in a category we chose on purpose (invalid UTF-8, trailing data, ...), counted and printed.
//!
//! Knobs: `ROOTFS_GUARD_ORACLE_N` (bodies, default 200000), `ROOTFS_GUARD_ORACLE_SEED`,
//! `ROOTFS_GUARD_GO` (the `go` binary to build with), `ROOTFS_GUARD_SKIP_GO=1` to skip when no Go
//! toolchain is installed (otherwise that is a failure). See tests/go-oracle/README.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rootfs_guard::authz::gojson::{FlatStringMap, GoJsonError};
use rootfs_guard::authz::model::mount::local_volume_host_paths;
use rootfs_guard::authz::model::{
    grants_remount, CreateBody, DockerdReading, ExecConfig, HostPathMount, HostPathVia,
    ServiceSpec, VolumeCreate,
};
use rootfs_guard::authz::rules::assess::root_bind_violation;
use rootfs_guard::authz::Policy;
use serde::Deserialize;

const ALLOW_KEY: &str = "rootfs-guard.allow-writable";
const ALLOW_VALUE: &str = "true";
const DEFAULT_N: usize = 200_000;
const BATCH: usize = 10_000;
const DEFAULT_SEED: u64 = 0x5EED_F00D_D0C4_E2E2;

// ───────────────────────────── JSON under construction ─────────────────────────────

/// A JSON value being generated. Strings and keys hold their raw bytes between the quotes (escapes
/// already chosen, possibly invalid UTF-8), so the generator controls every byte Go will see.
#[derive(Clone, Debug)]
enum J {
    Null,
    Bool(bool),
    Num(&'static str),
    Str(Vec<u8>),
    Arr(Vec<J>),
    Obj(Vec<(Vec<u8>, J)>),
    /// Emitted verbatim (deep nesting, garbage).
    Raw(Vec<u8>),
}

/// Reads a fixture body into a `J`, keeping key order.
impl<'de> Deserialize<'de> for J {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<J, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = J;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<J, E> {
                Ok(J::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<J, E> {
                Ok(J::Bool(b))
            }
            fn visit_u64<E>(self, n: u64) -> Result<J, E> {
                Ok(J::Num(match n {
                    0 => "0",
                    1 => "1",
                    _ => "100",
                }))
            }
            fn visit_i64<E>(self, n: i64) -> Result<J, E> {
                Ok(J::Num(if n < 0 { "-1" } else { "0" }))
            }
            fn visit_f64<E>(self, _: f64) -> Result<J, E> {
                Ok(J::Num("0.5"))
            }
            fn visit_str<E>(self, s: &str) -> Result<J, E> {
                Ok(J::Str(plain(s)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<J, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(J::Arr(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<J, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, J>()? {
                    entries.push((plain(&k), v));
                }
                Ok(J::Obj(entries))
            }
        }
        de.deserialize_any(V)
    }
}

/// A string's JSON encoding without the quotes, no optional escapes.
fn plain(s: &str) -> Vec<u8> {
    let quoted = serde_json::to_vec(s).unwrap();
    quoted[1..quoted.len() - 1].to_vec()
}

fn str_j(s: &str) -> J {
    J::Str(plain(s))
}

// ───────────────────────────── the generator ─────────────────────────────

/// Where an object sits in a dockerd type: decides which keys are worth generating.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ctx {
    CreateTop,
    HostConfig,
    ServiceTop,
    TaskTemplate,
    ContainerSpec,
    Exec,
    /// `mount.Mount` (an element of `Mounts`), its `VolumeOptions` and `DriverConfig`.
    Mount,
    VolumeOptions,
    DriverConfig,
    PluginSpec,
    NetworkAttachmentSpec,
    /// The body of `POST /volumes/create`.
    VolumeTop,
    Other,
}

/// The Go type of a field we do not model: values are usually of that type (so Go decodes the
/// body), sometimes not (so Go refuses it while Rust skips the key).
#[derive(Clone, Copy)]
enum Ty {
    Str,
    Bool,
    Int,
    StrList,
    StrSlice,
    StrMap,
    Obj,
    Any,
}

/// Keys generated per context: (name, weight of being present, Go type if unmodelled).
/// `None` = modelled by rootfs-guard, generated by [`Gen::modelled`].
type KeySpec = (&'static str, u32, Option<Ty>);

const CREATE_KEYS: &[KeySpec] = &[
    ("HostConfig", 75, None),
    ("Image", 40, None),
    ("Labels", 45, None),
    ("ReadonlyRootfs", 45, None),
    ("Privileged", 25, None),
    ("CapAdd", 25, None),
    ("Cmd", 10, Some(Ty::StrSlice)),
    ("Env", 6, Some(Ty::StrList)),
    ("Tty", 5, Some(Ty::Bool)),
    ("Cpuset", 5, Some(Ty::Str)),
    ("NetworkingConfig", 5, Some(Ty::Obj)),
    ("Memory", 5, Some(Ty::Int)),
    ("Binds", 8, None),
    ("Mounts", 8, None),
    ("Entrypoint", 4, Some(Ty::StrSlice)),
    ("CapDrop", 6, Some(Ty::StrSlice)),
    ("SecurityOpt", 4, Some(Ty::StrList)),
    ("Tmpfs", 4, Some(Ty::StrMap)),
    ("Hostname", 4, Some(Ty::Str)),
    ("Config", 4, Some(Ty::Any)),
    ("Resources", 4, Some(Ty::Any)),
    ("ReadOnly", 5, Some(Ty::Any)),
    ("ReadonlyRootfsX", 3, Some(Ty::Any)),
    ("GwPriority", 3, Some(Ty::Any)),
];

const HOST_CONFIG_KEYS: &[KeySpec] = &[
    ("ReadonlyRootfs", 75, None),
    ("Privileged", 35, None),
    ("CapAdd", 35, None),
    ("Binds", 25, None),
    ("Mounts", 30, None),
    ("VolumesFrom", 3, Some(Ty::StrList)),
    ("VolumeDriver", 3, Some(Ty::Str)),
    ("Memory", 6, Some(Ty::Int)),
    ("CapDrop", 8, Some(Ty::StrSlice)),
    ("SecurityOpt", 5, Some(Ty::StrList)),
    ("NetworkMode", 5, Some(Ty::Str)),
    ("ReadonlyPaths", 5, Some(Ty::StrList)),
    ("Tmpfs", 5, Some(Ty::StrMap)),
    ("LogConfig", 4, Some(Ty::Obj)),
    ("Labels", 6, Some(Ty::Any)),
    ("HostConfig", 5, Some(Ty::Any)),
    ("Resources", 4, Some(Ty::Any)),
    ("Image", 3, Some(Ty::Any)),
];

const SERVICE_KEYS: &[KeySpec] = &[
    ("TaskTemplate", 92, None),
    ("Name", 20, Some(Ty::Str)),
    ("Labels", 20, Some(Ty::StrMap)),
    ("Mode", 8, Some(Ty::Obj)),
    ("EndpointSpec", 6, Some(Ty::Obj)),
    ("UpdateConfig", 4, Some(Ty::Obj)),
    ("ContainerSpec", 5, Some(Ty::Any)),
    ("ReadOnly", 4, Some(Ty::Any)),
];

const TASK_TEMPLATE_KEYS: &[KeySpec] = &[
    ("ContainerSpec", 90, None),
    ("Resources", 8, Some(Ty::Obj)),
    ("Placement", 8, Some(Ty::Obj)),
    ("RestartPolicy", 4, Some(Ty::Obj)),
    ("PluginSpec", 7, None),
    ("NetworkAttachmentSpec", 5, None),
    ("Runtime", 10, None),
    ("ForceUpdate", 5, Some(Ty::Int)),
    ("Mounts", 3, Some(Ty::Any)),
    ("ReadOnly", 4, Some(Ty::Any)),
    ("Labels", 4, Some(Ty::Any)),
];

const CONTAINER_SPEC_KEYS: &[KeySpec] = &[
    ("ReadOnly", 75, None),
    ("Labels", 45, None),
    ("CapabilityAdd", 40, None),
    ("Image", 35, None),
    ("Mounts", 45, None),
    ("Args", 8, Some(Ty::StrList)),
    ("Env", 5, Some(Ty::StrList)),
    ("CapabilityDrop", 6, Some(Ty::StrList)),
    ("Isolation", 4, Some(Ty::Str)),
    ("TTY", 4, Some(Ty::Bool)),
    ("DNSConfig", 5, Some(Ty::Obj)),
    ("Privileges", 5, Some(Ty::Obj)),
    ("ReadonlyRootfs", 5, Some(Ty::Any)),
    ("Privileged", 4, Some(Ty::Any)),
    ("CapAdd", 4, Some(Ty::Any)),
    ("Binds", 3, Some(Ty::Any)),
];

/// `mount.Mount` in dockerd 20.10.
const MOUNT_KEYS: &[KeySpec] = &[
    ("Type", 85, None),
    ("Source", 80, None),
    ("ReadOnly", 40, None),
    ("VolumeOptions", 35, None),
    ("Target", 50, Some(Ty::Str)),
    ("Consistency", 4, Some(Ty::Str)),
    ("BindOptions", 8, Some(Ty::Obj)),
    ("TmpfsOptions", 4, Some(Ty::Obj)),
    ("Options", 3, Some(Ty::Any)),
];

const VOLUME_OPTIONS_KEYS: &[KeySpec] = &[
    ("DriverConfig", 85, None),
    ("NoCopy", 10, Some(Ty::Bool)),
    ("Labels", 10, Some(Ty::StrMap)),
    ("Options", 4, Some(Ty::Any)),
];

/// `mount.Driver`.
const DRIVER_CONFIG_KEYS: &[KeySpec] = &[
    ("Name", 60, None),
    ("Options", 85, None),
    ("DriverOpts", 3, Some(Ty::Any)),
];

/// The protobuf-generated `runtime.PluginSpec` (lower-case tags).
const PLUGIN_SPEC_KEYS: &[KeySpec] = &[
    ("name", 50, Some(Ty::Str)),
    ("remote", 40, Some(Ty::Str)),
    ("privileges", 10, Some(Ty::Any)),
    ("disabled", 10, Some(Ty::Bool)),
    ("env", 8, Some(Ty::StrList)),
];

const NETWORK_ATTACHMENT_SPEC_KEYS: &[KeySpec] = &[("ContainerID", 60, Some(Ty::Str))];

/// `volume.VolumeCreateBody` (20.10; `volume.CreateOptions` in 23+).
const VOLUME_CREATE_KEYS: &[KeySpec] = &[
    ("Name", 60, None),
    ("Driver", 55, None),
    ("DriverOpts", 85, None),
    ("Labels", 15, Some(Ty::StrMap)),
    ("Options", 4, Some(Ty::Any)),
    ("Type", 3, Some(Ty::Any)),
    ("Device", 3, Some(Ty::Any)),
];

const EXEC_KEYS: &[KeySpec] = &[
    ("Privileged", 85, None),
    ("User", 8, Some(Ty::Str)),
    ("Tty", 8, Some(Ty::Bool)),
    ("AttachStdout", 6, Some(Ty::Bool)),
    ("Detach", 6, Some(Ty::Bool)),
    ("DetachKeys", 5, Some(Ty::Str)),
    ("Env", 6, Some(Ty::StrList)),
    ("WorkingDir", 5, Some(Ty::Str)),
    ("Cmd", 10, Some(Ty::StrList)),
    ("HostConfig", 4, Some(Ty::Any)),
];

fn keys_of(ctx: Ctx) -> &'static [KeySpec] {
    match ctx {
        Ctx::CreateTop => CREATE_KEYS,
        Ctx::HostConfig => HOST_CONFIG_KEYS,
        Ctx::ServiceTop => SERVICE_KEYS,
        Ctx::TaskTemplate => TASK_TEMPLATE_KEYS,
        Ctx::ContainerSpec => CONTAINER_SPEC_KEYS,
        Ctx::Exec => EXEC_KEYS,
        Ctx::Mount => MOUNT_KEYS,
        Ctx::VolumeOptions => VOLUME_OPTIONS_KEYS,
        Ctx::DriverConfig => DRIVER_CONFIG_KEYS,
        Ctx::PluginSpec => PLUGIN_SPEC_KEYS,
        Ctx::NetworkAttachmentSpec => NETWORK_ATTACHMENT_SPEC_KEYS,
        Ctx::VolumeTop => VOLUME_CREATE_KEYS,
        Ctx::Other => &[],
    }
}

/// Capability strings: what dockerd's `strings.ToUpper` + `CAP_` normalisation turns into
/// CAP_SYS_ADMIN or ALL, and look-alikes that it does not.
const CAPS: &[&str] = &[
    "SYS_ADMIN",
    "sys_admin",
    "Sys_Admin",
    "CAP_SYS_ADMIN",
    "cap_sys_admin",
    "Cap_Sys_admin",
    "\u{17F}ys_admin",
    "\u{17F}y\u{17F}_admin",
    "SYS_ADM\u{131}N",
    "cap_\u{17F}ys_adm\u{131}n",
    "ALL",
    "all",
    "aLl",
    "CAP_ALL",
    "NET_ADMIN",
    "CHOWN",
    "SYS_ADMIN ",
    " SYS_ADMIN",
    "SYS-ADMIN",
    "CAP_CAP_SYS_ADMIN",
    "\u{FF33}YS_ADMIN",
    "SYS_ADM\u{130}N",
    "SYS_ADMIN\u{0}",
    "\u{212A}ILL",
    "",
];

const ALLOW_KEY_VARIANTS: &[&str] = &[
    "Rootfs-guard.allow-writable",
    "ROOTFS-GUARD.ALLOW-WRITABLE",
    "rootfs-guard.allow-writable ",
    " rootfs-guard.allow-writable",
    "rootf\u{17F}-guard.allow-writable",
    "rootfs-guard.allow_writable",
    "rootfs-guard.allow-writable\u{0}",
    "rootfs-guard.allow-wr\u{131}table",
    "rootfs-guard.allow-writabl\u{0435}",
];

const ALLOW_VALUE_VARIANTS: &[&str] = &[
    "True",
    "TRUE",
    "1",
    "",
    "true ",
    " true",
    "yes",
    "\ttrue",
    "tru\u{0435}",
    "false",
];

const STRINGS: &[&str] = &[
    "",
    "bb:latest",
    "x",
    "web",
    "\u{17F}",
    "caf\u{E9}",
    "a\"b\\c",
    "line\nbreak",
    "\u{1F600}",
    "\u{2028}",
    "\u{0}",
    "true",
];

const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "42",
    "0.5",
    "1e3",
    "1E-7",
    "-1.5e+10",
    "9223372036854775807",
    "9223372036854775808",
    "123456789012345678901234567890",
    "1e400",
];

/// Host paths: dockerd's and containerd's data roots as written and as path cleaning reaches them,
/// paths that only look close, relative paths and volume names.
const PATHS: &[&str] = &[
    "/var/lib/docker",
    "/var/lib/docker",
    "/var/lib/docker/",
    "/var/lib/docker/overlay2/abc/merged",
    "//var//lib/./docker",
    "/var/lib/x/../docker",
    "/var/lib/containerd",
    "/var",
    "/",
    "/var/lib/docker-data",
    "/var/lib/dock",
    "/VAR/LIB/DOCKER",
    "/srv/data",
    "/tmp",
    "data",
    "",
    "var/lib/docker",
    "/var/lib/doc\u{212A}er",
    "/var/lib/docker\u{0}",
];

/// What follows the source in a `Binds` entry: target and mode list, well- and ill-formed.
const BIND_SUFFIXES: &[&str] = &[
    ":/d",
    ":/d",
    ":/d:ro",
    ":/d:ro",
    ":/d:rw",
    ":/d:z,ro",
    ":/d:ro,z",
    ":/d:RO",
    ":/d:rslave",
    ":/d:",
    ":/a:ro:x",
    "",
    ":ro",
    "::ro",
];

const MOUNT_TYPES: &[&str] = &[
    "tmpfs", "npipe", "cluster", "Bind", "BIND", "", " bind", "volume ", "\u{17F}",
];

/// Volume driver names: the local driver (also as the empty default) and names that are not it.
const DRIVERS: &[&str] = &[
    "local",
    "local",
    "",
    "Local",
    "LOCAL",
    "rexray",
    "local ",
    "loca\u{131}",
];

/// `TaskTemplate.Runtime`: empty and `container` are container tasks, anything else is not.
const RUNTIMES: &[&str] = &[
    "",
    "container",
    "container",
    "plugin",
    "attachment",
    "Container",
    "CONTAINER",
    "plugin ",
    "runc",
    "\u{17F}",
];

/// `local` driver option keys (map keys do not fold: only the lower-case ones count).
const OPTION_KEYS: &[&str] = &[
    "type",
    "type",
    "o",
    "o",
    "device",
    "device",
    "Type",
    "DEVICE",
    "O",
    "device ",
    "size",
    "devic\u{435}",
];
const FS_TYPES: &[&str] = &[
    "none", "none", "ext4", "overlay", "tmpfs", "nfs", "None", "",
];
const O_VALUES: &[&str] = &[
    "bind",
    "rbind",
    "ro,bind",
    "rbind,ro",
    "BIND",
    "bind ",
    "addr=10.0.0.1,rw",
    "size=100m",
    "lowerdir=/srv:/var/lib/docker,upperdir=/var/lib/docker/overlay2/x/diff,workdir=/w",
    "upperdir=/tmp/u,workdir=/tmp/w",
    "bind,uid=1000",
    "x=/var/lib/containerd",
    "",
];

const JUNK_KEYS: &[&str] = &["X", "zz", "foo", "Unknown", "k", "_", "x-y", ""];

struct Gen {
    rng: fastrand::Rng,
    /// Percent chance of whitespace at each place JSON allows it, for the current body.
    ws_pct: u32,
    /// Percent chance of an optional `\uXXXX` escape per character, for the current body.
    esc_pct: u32,
    /// Percent chance that a string or key gets a junk byte sequence (invalid UTF-8, lone
    /// surrogate), for the current body.
    junk_pct: u32,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        Gen {
            rng: fastrand::Rng::with_seed(seed),
            ws_pct: 0,
            esc_pct: 0,
            junk_pct: 0,
        }
    }

    fn pct(&mut self, p: u32) -> bool {
        self.rng.u32(0..100) < p
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.usize(0..items.len())]
    }

    fn one_of(&mut self, mut items: Vec<J>) -> J {
        let i = self.rng.usize(0..items.len());
        items.swap_remove(i)
    }

    /// Chooses the per-body style: most bodies compact and plainly spelled.
    fn new_body_style(&mut self) {
        self.ws_pct = if self.pct(70) { 0 } else { self.rng.u32(5..60) };
        self.esc_pct = if self.pct(80) { 0 } else { self.rng.u32(5..50) };
        self.junk_pct = if self.pct(96) { 0 } else { self.rng.u32(1..20) };
    }

    // ── strings ──

    /// JSON-encodes `s` (no quotes), escaping optional characters as `\uXXXX` at the body's rate.
    fn enc(&mut self, s: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(s.len() + 2);
        for c in s.chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' if self.pct(50) => out.extend_from_slice(b"\\n"),
                '\t' if self.pct(50) => out.extend_from_slice(b"\\t"),
                c if (c as u32) < 0x20 || self.pct(self.esc_pct) => self.escape_char(c, &mut out),
                '/' if self.pct(10) => out.extend_from_slice(b"\\/"),
                c => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        if self.junk_pct > 0 && self.pct(self.junk_pct) {
            let at = self.char_boundary(&out);
            let junk = self.junk();
            out.splice(at..at, junk);
        }
        out
    }

    fn escape_char(&mut self, c: char, out: &mut Vec<u8>) {
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            let hex = if self.pct(50) {
                format!("\\u{unit:04x}")
            } else {
                format!("\\u{unit:04X}")
            };
            out.extend_from_slice(hex.as_bytes());
        }
    }

    /// A position in `raw` that is not inside an escape or a UTF-8 sequence.
    fn char_boundary(&mut self, raw: &[u8]) -> usize {
        let mut cuts = vec![0];
        let mut i = 0;
        while i < raw.len() {
            let step = match raw[i] {
                b'\\' if raw.get(i + 1) == Some(&b'u') => 6,
                b'\\' => 2,
                b if b < 0x80 => 1,
                b if b >= 0xF0 => 4,
                b if b >= 0xE0 => 3,
                _ => 2,
            };
            i += step;
            cuts.push(i.min(raw.len()));
        }
        self.pick(&cuts)
    }

    /// Bytes Go replaces with U+FFFD and rootfs-guard refuses.
    fn junk(&mut self) -> Vec<u8> {
        let options: &[&[u8]] = &[
            b"\xFF",
            b"\xC3",
            b"\xED\xA0\x80",
            b"\xC0\xAF",
            b"\xF4\x90\x80\x80",
            b"\\ud800",
            b"\\uDC00",
            b"\\ud83d\\u0041",
            b"\\ud83d\\ude00",
        ];
        self.pick(options).to_vec()
    }

    fn string(&mut self) -> J {
        let s = self.pick(STRINGS);
        J::Str(self.enc(s))
    }

    /// A key spelled as Go would still match it to `name` — or as a look-alike that it would not.
    fn key(&mut self, name: &str) -> Vec<u8> {
        let spelled = self.key_spelling(name);
        self.enc(&spelled)
    }

    fn key_spelling(&mut self, name: &str) -> String {
        if name.is_empty() {
            // A junk key of a mutated fixture: nothing to re-spell.
            return String::new();
        }
        let roll = self.rng.u32(0..100);
        let flip = |c: char, upper: bool| {
            if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        };
        match roll {
            0..=34 => name.to_owned(),
            35..=46 => name.to_ascii_lowercase(),
            47..=54 => name.to_ascii_uppercase(),
            55..=69 => name.chars().map(|c| flip(c, self.pct(50))).collect(),
            // Unicode simple folding: ſ (U+017F) is an s, K (U+212A) is a k.
            70..=84 => name
                .chars()
                .map(|c| match c {
                    's' | 'S' if self.pct(70) => '\u{17F}',
                    'k' | 'K' if self.pct(70) => '\u{212A}',
                    c => flip(c, self.pct(50)),
                })
                .collect(),
            // Look-alikes that do not fold onto the name: the key is unknown to Go.
            _ => {
                let chars: Vec<char> = name.chars().collect();
                let at = self.rng.usize(0..chars.len());
                let mut out: Vec<char> = chars.clone();
                let c = chars[at];
                match self.rng.u32(0..9) {
                    0 if c.eq_ignore_ascii_case(&'i') => out[at] = '\u{131}',
                    0 | 1 if c.eq_ignore_ascii_case(&'i') => out[at] = '\u{130}',
                    0..=2 if c.is_ascii_alphabetic() => {
                        out[at] =
                            char::from_u32(0xFF21 + (c.to_ascii_uppercase() as u32 - 65)).unwrap()
                    }
                    3 => out.insert(at, '\u{200B}'),
                    4 => out.push(' '),
                    5 => {
                        out.remove(at);
                    }
                    6 => out.insert(at, c),
                    7 => out.push('\u{0}'),
                    _ => match c {
                        'a' => out[at] = '\u{430}',
                        'e' => out[at] = '\u{435}',
                        'o' => out[at] = '\u{43E}',
                        'c' => out[at] = '\u{441}',
                        's' if chars.get(at + 1) == Some(&'s') => {
                            out.splice(at..at + 2, ['\u{DF}']);
                        }
                        _ => out.insert(0, '_'),
                    },
                }
                out.into_iter().collect()
            }
        }
    }

    // ── values ──

    fn bool_value(&mut self) -> J {
        match self.rng.u32(0..100) {
            0..=44 => J::Bool(true),
            45..=69 => J::Bool(false),
            70..=91 => J::Null,
            _ => self.wrong_scalar(),
        }
    }

    /// A value of the wrong JSON type for a bool or a string: Go refuses the body.
    fn wrong_scalar(&mut self) -> J {
        match self.rng.u32(0..7) {
            0 => str_j("true"),
            1 => str_j("false"),
            2 => J::Num(self.pick(&["0", "1", "1.0"])),
            3 => J::Obj(vec![]),
            4 => J::Arr(vec![]),
            5 => J::Arr(vec![J::Bool(true)]),
            _ => J::Str(self.enc("yes")),
        }
    }

    fn labels_value(&mut self) -> J {
        match self.rng.u32(0..100) {
            0..=11 => J::Null,
            12..=14 => self.one_of(vec![
                str_j("a=b"),
                J::Arr(vec![]),
                J::Num("1"),
                J::Bool(true),
            ]),
            _ => {
                let n = self.rng.usize(0..5);
                let mut entries = Vec::with_capacity(n + 1);
                for _ in 0..n {
                    entries.push(self.label_entry());
                }
                if self.pct(25) {
                    let at = self.rng.usize(0..=entries.len());
                    let allow = self.allow_label_entry();
                    entries.insert(at, allow);
                }
                J::Obj(entries)
            }
        }
    }

    fn label_entry(&mut self) -> (Vec<u8>, J) {
        match self.rng.u32(0..100) {
            0..=54 => self.allow_label_entry(),
            55..=74 => (self.enc("team"), self.string()),
            75..=84 => (self.enc(ALLOW_KEY), J::Null),
            _ => {
                let k = self.pick(STRINGS);
                (self.enc(k), self.string())
            }
        }
    }

    fn allow_label_entry(&mut self) -> (Vec<u8>, J) {
        let key = if self.pct(75) {
            ALLOW_KEY
        } else {
            self.pick(ALLOW_KEY_VARIANTS)
        };
        let key = self.enc(key);
        let value = match self.rng.u32(0..100) {
            0..=64 => J::Str(self.enc(ALLOW_VALUE)),
            65..=72 => J::Null,
            73..=75 => self.one_of(vec![J::Bool(true), J::Num("1"), J::Arr(vec![])]),
            _ => {
                let v = self.pick(ALLOW_VALUE_VARIANTS);
                J::Str(self.enc(v))
            }
        };
        (key, value)
    }

    fn cap_string(&mut self) -> J {
        let c = self.pick(CAPS);
        J::Str(self.enc(c))
    }

    fn cap_array(&mut self, null_pct: u32) -> J {
        let n = self.rng.usize(0..4);
        J::Arr(
            (0..n)
                .map(|_| {
                    if self.pct(null_pct) {
                        J::Null
                    } else {
                        self.cap_string()
                    }
                })
                .collect(),
        )
    }

    /// dockerd's `strslice.StrSlice` (`CapAdd`): a string, an array of strings, or null.
    fn strslice_caps(&mut self) -> J {
        match self.rng.u32(0..100) {
            0..=14 => J::Null,
            15..=39 => self.cap_string(),
            40..=94 => self.cap_array(10),
            _ => self.one_of(vec![
                J::Num("1"),
                J::Obj(vec![]),
                J::Arr(vec![J::Num("1")]),
                J::Bool(true),
            ]),
        }
    }

    /// A plain Go `[]string` (`CapabilityAdd`): an array or null; a lone string is an error.
    fn string_list_caps(&mut self) -> J {
        match self.rng.u32(0..100) {
            0..=14 => J::Null,
            15..=89 => self.cap_array(15),
            _ => {
                let s = self.cap_string();
                self.one_of(vec![s, J::Num("1"), J::Obj(vec![])])
            }
        }
    }

    fn path_string(&mut self) -> J {
        let p = self.pick(PATHS);
        J::Str(self.enc(p))
    }

    /// A string field: usually one of `values`, sometimes null (a no-op), rarely the wrong type.
    fn string_field(&mut self, values: &[&str]) -> J {
        match self.rng.u32(0..100) {
            0..=6 => J::Null,
            7..=9 => self.one_of(vec![
                J::Num("1"),
                J::Bool(true),
                J::Arr(vec![]),
                J::Obj(vec![]),
            ]),
            _ => {
                let v = self.pick(values);
                J::Str(self.enc(v))
            }
        }
    }

    /// `HostConfig.Binds`, a plain `[]string` of `src:dst[:mode]` entries.
    fn binds_value(&mut self) -> J {
        match self.rng.u32(0..100) {
            0..=11 => J::Null,
            12..=15 => self.one_of(vec![
                str_j("/var/lib/docker:/d"),
                J::Num("1"),
                J::Obj(vec![]),
                J::Arr(vec![J::Num("1")]),
                J::Arr(vec![J::Bool(true)]),
            ]),
            _ => {
                let n = self.rng.usize(0..4);
                J::Arr(
                    (0..n)
                        .map(|_| {
                            if self.pct(4) {
                                J::Null
                            } else {
                                let spec =
                                    format!("{}{}", self.pick(PATHS), self.pick(BIND_SUFFIXES));
                                J::Str(self.enc(&spec))
                            }
                        })
                        .collect(),
                )
            }
        }
    }

    /// `Mounts`, a `[]mount.Mount`: null, an array of mount objects (rarely null or non-object
    /// elements), or the wrong type.
    fn mounts_value(&mut self, depth: u32) -> J {
        match self.rng.u32(0..100) {
            0..=11 => J::Null,
            12..=15 => self.one_of(vec![
                str_j("/var/lib/docker:/d"),
                J::Obj(vec![]),
                J::Num("1"),
                J::Bool(true),
            ]),
            _ => {
                let n = self.rng.usize(0..4);
                J::Arr(
                    (0..n)
                        .map(|_| match self.rng.u32(0..100) {
                            0..=3 => J::Null,
                            4..=6 => self.one_of(vec![
                                str_j("/var/lib/docker:/d"),
                                J::Num("0"),
                                J::Arr(vec![]),
                            ]),
                            _ => self.object(Ctx::Mount, depth + 1),
                        })
                        .collect(),
                )
            }
        }
    }

    fn mount_type(&mut self) -> J {
        match self.rng.u32(0..100) {
            0..=39 => J::Str(self.enc("bind")),
            40..=69 => J::Str(self.enc("volume")),
            _ => self.string_field(MOUNT_TYPES),
        }
    }

    /// A `map[string]string` of `local` driver options (`DriverConfig.Options`, `DriverOpts`).
    fn options_value(&mut self) -> J {
        match self.rng.u32(0..100) {
            0..=9 => J::Null,
            10..=12 => self.one_of(vec![str_j("type=none"), J::Arr(vec![]), J::Num("1")]),
            _ => {
                let n = self.rng.usize(0..5);
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let key = self.pick(OPTION_KEYS);
                    let value = match self.rng.u32(0..100) {
                        0..=4 => J::Null,
                        5..=6 => self.one_of(vec![J::Num("1"), J::Bool(true), J::Obj(vec![])]),
                        _ => match key.to_ascii_lowercase().as_str() {
                            "type" => {
                                let v = self.pick(FS_TYPES);
                                J::Str(self.enc(v))
                            }
                            "o" => {
                                let v = self.pick(O_VALUES);
                                J::Str(self.enc(v))
                            }
                            "size" => J::Str(self.enc("100m")),
                            _ => self.path_string(),
                        },
                    };
                    entries.push((self.enc(key), value));
                }
                J::Obj(entries)
            }
        }
    }

    /// The value of a field rootfs-guard models.
    fn modelled(&mut self, ctx: Ctx, name: &str, depth: u32) -> J {
        match (ctx, name) {
            (_, "Binds") => self.binds_value(),
            (_, "Mounts") => self.mounts_value(depth),
            (Ctx::Mount, "Type") => self.mount_type(),
            (Ctx::Mount, "Source") => self.string_field(PATHS),
            (Ctx::Mount, "VolumeOptions") => self.struct_value(Ctx::VolumeOptions, depth),
            (Ctx::VolumeOptions, "DriverConfig") => self.struct_value(Ctx::DriverConfig, depth),
            (Ctx::DriverConfig, "Name") | (Ctx::VolumeTop, "Driver") => self.string_field(DRIVERS),
            (Ctx::VolumeTop, "Name") => self.string_field(STRINGS),
            (_, "Options" | "DriverOpts") => self.options_value(),
            (Ctx::TaskTemplate, "Runtime") => self.string_field(RUNTIMES),
            (Ctx::TaskTemplate, "PluginSpec") => self.struct_value(Ctx::PluginSpec, depth),
            (Ctx::TaskTemplate, "NetworkAttachmentSpec") => {
                self.struct_value(Ctx::NetworkAttachmentSpec, depth)
            }
            (Ctx::CreateTop, "HostConfig") => self.struct_value(Ctx::HostConfig, depth),
            (Ctx::ServiceTop, "TaskTemplate") => self.struct_value(Ctx::TaskTemplate, depth),
            (Ctx::TaskTemplate, "ContainerSpec") => self.struct_value(Ctx::ContainerSpec, depth),
            (_, "ReadonlyRootfs" | "Privileged" | "ReadOnly") => self.bool_value(),
            (_, "Image") => {
                if self.pct(8) {
                    self.one_of(vec![J::Null, J::Num("1"), J::Bool(false)])
                } else {
                    self.string()
                }
            }
            (_, "Labels") => self.labels_value(),
            (_, "CapAdd") => self.strslice_caps(),
            (_, "CapabilityAdd") => self.string_list_caps(),
            _ => unreachable!("{ctx:?}.{name} is not modelled"),
        }
    }

    /// A struct-typed field: usually an object, sometimes null, rarely the wrong type.
    fn struct_value(&mut self, ctx: Ctx, depth: u32) -> J {
        match self.rng.u32(0..100) {
            0..=12 => J::Null,
            13..=15 => self.one_of(vec![J::Arr(vec![]), str_j("x"), J::Bool(true), J::Num("0")]),
            _ => self.object(ctx, depth + 1),
        }
    }

    /// An object for `ctx`: each known key present with its weight, repeated 1–3 times with an
    /// independent spelling and value each time, all in random order.
    fn object(&mut self, ctx: Ctx, depth: u32) -> J {
        let mut entries = Vec::new();
        for &(name, weight, ty) in keys_of(ctx) {
            if !self.pct(weight) {
                continue;
            }
            let repeats = match self.rng.u32(0..100) {
                0..=59 => 1,
                60..=89 => 2,
                _ => 3,
            };
            for _ in 0..repeats {
                let key = self.key(name);
                let value = match ty {
                    None => self.modelled(ctx, name, depth),
                    Some(ty) => self.unmodelled(ty, depth),
                };
                entries.push((key, value));
            }
        }
        self.rng.shuffle(&mut entries);
        J::Obj(entries)
    }

    fn unmodelled(&mut self, ty: Ty, depth: u32) -> J {
        if self.pct(6) {
            return self.any(depth);
        }
        match ty {
            Ty::Str => self.string(),
            Ty::Bool => self.one_of(vec![J::Bool(true), J::Bool(false), J::Null]),
            Ty::Int => J::Num(self.pick(&["0", "1", "-1", "512", "0"])),
            Ty::StrList => match self.rng.u32(0..3) {
                0 => J::Null,
                _ => J::Arr((0..self.rng.usize(0..3)).map(|_| self.string()).collect()),
            },
            Ty::StrSlice => match self.rng.u32(0..3) {
                0 => J::Null,
                1 => self.string(),
                _ => J::Arr((0..self.rng.usize(0..3)).map(|_| self.string()).collect()),
            },
            Ty::StrMap => match self.rng.u32(0..4) {
                0 => J::Null,
                _ => self.labels_value(),
            },
            Ty::Obj => match self.rng.u32(0..4) {
                0 => J::Null,
                _ => self.junk_object(depth),
            },
            Ty::Any => self.any(depth),
        }
    }

    /// An object of keys no dockerd type has, with any values.
    fn junk_object(&mut self, depth: u32) -> J {
        let n = self.rng.usize(0..3);
        J::Obj(
            (0..n)
                .map(|_| {
                    let k = self.pick(JUNK_KEYS);
                    (self.enc(k), self.any(depth + 1))
                })
                .collect(),
        )
    }

    /// Any JSON value.
    fn any(&mut self, depth: u32) -> J {
        let top = if depth > 6 { 5 } else { 8 };
        match self.rng.u32(0..top) {
            0 => J::Null,
            1 => J::Bool(self.pct(50)),
            2 | 3 => J::Num(self.pick(NUMBERS)),
            4 => self.string(),
            5 => J::Arr(
                (0..self.rng.usize(0..3))
                    .map(|_| self.any(depth + 1))
                    .collect(),
            ),
            6 => self.junk_object(depth),
            _ => self.object(Ctx::HostConfig, depth + 1),
        }
    }

    /// Nested arrays/objects `depth` deep, as raw bytes (no recursion when emitting).
    fn deep(&mut self, depth: usize) -> J {
        let mut open = Vec::with_capacity(depth * 6);
        let mut close = Vec::with_capacity(depth);
        for _ in 0..depth {
            if self.pct(50) {
                open.push(b'[');
                close.push(b']');
            } else {
                open.extend_from_slice(b"{\"a\":");
                close.push(b'}');
            }
        }
        open.extend_from_slice(b"0");
        close.reverse();
        open.extend_from_slice(&close);
        J::Raw(open)
    }

    // ── emitting ──

    fn ws(&mut self, out: &mut Vec<u8>) {
        if self.ws_pct > 0 && self.pct(self.ws_pct) {
            let w: &[u8] = self.pick(&[&b" "[..], b"\n", b"\t", b"\r\n", b"  ", b"\n\t "]);
            out.extend_from_slice(w);
        }
    }

    fn emit(&mut self, j: &J, out: &mut Vec<u8>) {
        match j {
            J::Null => out.extend_from_slice(b"null"),
            J::Bool(true) => out.extend_from_slice(b"true"),
            J::Bool(false) => out.extend_from_slice(b"false"),
            J::Num(n) => out.extend_from_slice(n.as_bytes()),
            J::Raw(raw) => out.extend_from_slice(raw),
            J::Str(raw) => {
                out.push(b'"');
                out.extend_from_slice(raw);
                out.push(b'"');
            }
            J::Arr(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.ws(out);
                    self.emit(item, out);
                    self.ws(out);
                }
                out.push(b']');
            }
            J::Obj(entries) => {
                out.push(b'{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.ws(out);
                    out.push(b'"');
                    out.extend_from_slice(key);
                    out.push(b'"');
                    self.ws(out);
                    out.push(b':');
                    self.ws(out);
                    self.emit(value, out);
                    self.ws(out);
                }
                out.push(b'}');
            }
        }
    }

    // ── whole bodies ──

    fn body(&mut self, kind: Kind, fixtures: &Fixtures) -> Vec<u8> {
        self.new_body_style();
        let ctx = kind.ctx();
        let from_fixture = fixtures.of(kind);
        let mut tree = if !from_fixture.is_empty() && self.pct(25) {
            let mut tree = self.pick_ref(from_fixture).clone();
            for _ in 0..self.rng.usize(1..6) {
                self.mutate(&mut tree, ctx);
            }
            tree
        } else {
            self.object(ctx, 0)
        };
        // Deep nesting in a key both skip: both refuse deeper than 10000 (Go's limit) and must
        // agree below it.
        if self.pct(2) {
            // Inside the top-level object: 9999 is 10000 deep in all (Go's last accepted depth),
            // 10000 is one past it.
            let depth = self.pick(&[126, 127, 128, 129, 130, 200, 1000, 9998, 9999, 10000, 10001]);
            let deep = self.deep(depth);
            if let J::Obj(entries) = &mut tree {
                let at = self.rng.usize(0..=entries.len());
                entries.insert(at, (self.enc("X"), deep));
            }
        }
        // A top-level value that is not an object.
        if self.pct(1) {
            tree = self.one_of(vec![
                J::Null,
                J::Arr(vec![]),
                str_j("x"),
                J::Num("1"),
                J::Bool(true),
            ]);
        }
        let mut out = Vec::new();
        self.ws(&mut out);
        self.emit(&tree, &mut out);
        self.ws(&mut out);
        self.mangle(&mut out);
        out
    }

    fn pick_ref<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.usize(0..items.len())]
    }

    /// Byte-level damage to a finished body.
    fn mangle(&mut self, out: &mut Vec<u8>) {
        match self.rng.u32(0..1000) {
            // Trailing data: ignored by 20.10, refused by 23+ and by rootfs-guard.
            0..=29 => {
                let tail: &[u8] = self.pick(&[
                    &b"{}"[..],
                    b"x",
                    b"}",
                    b"]",
                    b" {\"HostConfig\":null}",
                    b"\x00",
                    b"null",
                    b"\n\n",
                    b" \t",
                    b"\xFF",
                ]);
                out.extend_from_slice(tail);
            }
            30..=34 => {
                let mut with_bom = b"\xEF\xBB\xBF".to_vec();
                with_bom.append(out);
                *out = with_bom;
            }
            35..=44 => {
                let at = self.rng.usize(0..=out.len());
                out.truncate(at);
            }
            45..=59 if !out.is_empty() => {
                let at = self.rng.usize(0..out.len());
                let byte = self.pick(&[b'"', b',', b':', b'{', b'}', b'[', b']', b'\\', 0, 0xFF]);
                match self.rng.u32(0..3) {
                    0 => out[at] = byte,
                    1 => out.insert(at, byte),
                    _ => {
                        out.remove(at);
                    }
                }
            }
            60..=64 => {
                // Whitespace JSON does not allow.
                let at = self.rng.usize(0..=out.len());
                let bad: &[u8] = self.pick(&[&b"\x0B"[..], b"\x0C", b"\xC2\xA0"]);
                out.splice(at..at, bad.iter().copied());
            }
            _ => {}
        }
    }

    /// One structural mutation of a (fixture) tree: renames, repeats, nulls, removals, inserted
    /// modelled fields, in the object for `ctx` or one of its sub-objects.
    fn mutate(&mut self, tree: &mut J, ctx: Ctx) {
        let mut targets = Vec::new();
        collect_objects(tree, ctx, &mut Vec::new(), &mut targets);
        let known: Vec<_> = targets.iter().filter(|t| t.1 != Ctx::Other).collect();
        let (path, ctx) = if !known.is_empty() && self.pct(85) {
            (*self.pick_ref(&known)).clone()
        } else if !targets.is_empty() {
            self.pick_ref(&targets).clone()
        } else {
            return;
        };
        let Some(J::Obj(entries)) = get_mut(tree, &path) else {
            return;
        };
        let modelled: Vec<&str> = keys_of(ctx)
            .iter()
            .filter(|k| k.2.is_none())
            .map(|k| k.0)
            .collect();
        let op = self.rng.u32(0..7);
        if entries.is_empty() || (op >= 5 && !modelled.is_empty()) {
            if modelled.is_empty() {
                return;
            }
            let name = self.pick(&modelled);
            let key = self.key(name);
            let value = self.modelled(ctx, name, 1);
            let at = self.rng.usize(0..=entries.len());
            entries.insert(at, (key, value));
            return;
        }
        let i = self.rng.usize(0..entries.len());
        let name = String::from_utf8_lossy(&entries[i].0).into_owned();
        match op {
            0 => entries[i].0 = self.key(&name),
            1 => entries[i].1 = J::Null,
            2 => {
                entries.remove(i);
            }
            3 => {
                let mut copy = entries[i].clone();
                copy.0 = self.key(&name);
                if self.pct(50) {
                    copy.1 = J::Null;
                }
                let at = self.rng.usize(0..=entries.len());
                entries.insert(at, copy);
            }
            _ => self.rng.shuffle(entries),
        }
    }
}

/// Every object in `j` with its path and the dockerd type it decodes into (by exact key).
fn collect_objects(j: &J, ctx: Ctx, path: &mut Vec<usize>, out: &mut Vec<(Vec<usize>, Ctx)>) {
    match j {
        J::Obj(entries) => {
            out.push((path.clone(), ctx));
            for (i, (key, value)) in entries.iter().enumerate() {
                let child = match (ctx, key.as_slice()) {
                    (Ctx::CreateTop, b"HostConfig") => Ctx::HostConfig,
                    (Ctx::ServiceTop, b"TaskTemplate") => Ctx::TaskTemplate,
                    (Ctx::TaskTemplate, b"ContainerSpec") => Ctx::ContainerSpec,
                    (Ctx::TaskTemplate, b"PluginSpec") => Ctx::PluginSpec,
                    (Ctx::TaskTemplate, b"NetworkAttachmentSpec") => Ctx::NetworkAttachmentSpec,
                    // The elements of a Mounts array (see the array case below).
                    (Ctx::CreateTop | Ctx::HostConfig | Ctx::ContainerSpec, b"Mounts") => {
                        Ctx::Mount
                    }
                    (Ctx::Mount, b"VolumeOptions") => Ctx::VolumeOptions,
                    (Ctx::VolumeOptions, b"DriverConfig") => Ctx::DriverConfig,
                    _ => Ctx::Other,
                };
                path.push(i);
                collect_objects(value, child, path, out);
                path.pop();
            }
        }
        J::Arr(items) => {
            let item_ctx = if ctx == Ctx::Mount {
                Ctx::Mount
            } else {
                Ctx::Other
            };
            for (i, item) in items.iter().enumerate() {
                path.push(i);
                collect_objects(item, item_ctx, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn get_mut<'a>(j: &'a mut J, path: &[usize]) -> Option<&'a mut J> {
    let Some((&first, rest)) = path.split_first() else {
        return Some(j);
    };
    match j {
        J::Obj(entries) => get_mut(&mut entries.get_mut(first)?.1, rest),
        J::Arr(items) => get_mut(items.get_mut(first)?, rest),
        _ => None,
    }
}

// ───────────────────────────── fixtures ─────────────────────────────

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Create,
    Service,
    Exec,
    Volume,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Create => "create",
            Kind::Service => "service",
            Kind::Exec => "exec",
            Kind::Volume => "volume",
        }
    }
    fn ctx(self) -> Ctx {
        match self {
            Kind::Create => Ctx::CreateTop,
            Kind::Service => Ctx::ServiceTop,
            Kind::Exec => Ctx::Exec,
            Kind::Volume => Ctx::VolumeTop,
        }
    }
}

/// Request bodies real clients sent (docker CLI 28 to dockerd 20.10), by kind.
struct Fixtures {
    raw: Vec<(Kind, Vec<u8>)>,
    create: Vec<J>,
    service: Vec<J>,
    exec: Vec<J>,
}

impl Fixtures {
    fn load() -> Fixtures {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/authz");
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let mut f = Fixtures {
            raw: Vec::new(),
            create: Vec::new(),
            service: Vec::new(),
            exec: Vec::new(),
        };
        for name in names {
            let kind = if name.contains("-req-POST-containers_create") {
                Kind::Create
            } else if name.contains("-req-POST-services_") {
                Kind::Service
            } else if name.contains("-req-POST-containers_NAME_exec") {
                Kind::Exec
            } else {
                continue;
            };
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            let msg: serde_json::Value = serde_json::from_str(&text).unwrap();
            let body = base64::engine::general_purpose::STANDARD
                .decode(msg["RequestBody"].as_str().expect("RequestBody"))
                .unwrap();
            let tree: J = serde_json::from_slice(&body).unwrap();
            match kind {
                Kind::Create => f.create.push(tree),
                Kind::Service => f.service.push(tree),
                Kind::Exec => f.exec.push(tree),
                Kind::Volume => unreachable!("no volume fixtures are read"),
            }
            f.raw.push((kind, body));
        }
        assert!(
            f.create.len() >= 3 && f.service.len() >= 2 && f.exec.len() >= 2,
            "expected real-client create, service and exec bodies in {}",
            dir.display()
        );
        f
    }

    fn of(&self, kind: Kind) -> &[J] {
        match kind {
            Kind::Create => &self.create,
            Kind::Service => &self.service,
            Kind::Exec => &self.exec,
            Kind::Volume => &[],
        }
    }
}

// ───────────────────────────── the Go side ─────────────────────────────

/// What Go read, per decode (the field names of tests/go-oracle/main.go's output).
#[derive(Deserialize, Debug)]
struct GoHost {
    err: Option<String>,
    #[serde(default)]
    errkind: String,
    trailing: bool,
    ro: bool,
    #[serde(rename = "priv")]
    privileged: bool,
    caps: Option<Vec<String>>,
    remount: bool,
    labels: Option<BTreeMap<String, String>>,
    image: String,
    paths: Vec<GoPath>,
}

/// One host path a container would mount, derived from Go's decoded structs (main.go's
/// `hostPath`) or from Rust's reading (`HostPathMount`).
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
struct GoPath {
    s: String,
    w: bool,
    via: String,
}

fn rust_paths(paths: Vec<HostPathMount>) -> Vec<GoPath> {
    paths
        .into_iter()
        .map(|m| GoPath {
            s: m.source,
            w: m.writable,
            via: match m.via {
                HostPathVia::Bind => "bind",
                HostPathVia::VolumeOptions => "volume-options",
            }
            .to_owned(),
        })
        .collect()
}

/// Whether the root-bind rule of the default policy denies these host paths (any bind of a
/// protected root, read-only included: `rules.root_bind_readonly`).
fn root_bind(paths: &[GoPath]) -> bool {
    thread_local!(static POLICY: Policy = Policy::default());
    let mounts: Vec<HostPathMount> = paths
        .iter()
        .map(|p| HostPathMount {
            source: p.s.clone(),
            writable: p.w,
            via: match p.via.as_str() {
                "bind" => HostPathVia::Bind,
                _ => HostPathVia::VolumeOptions,
            },
        })
        .collect();
    POLICY.with(|policy| root_bind_violation(policy, &mounts).is_some())
}

#[derive(Deserialize, Debug)]
struct GoCreate {
    v20: GoHost,
    v27: GoHost,
    /// Go fails to decode just the top-level ReadonlyRootfs/Privileged/CapAdd: 20.10 refuses.
    toperr: bool,
}

#[derive(Deserialize, Debug)]
struct GoService {
    err: Option<String>,
    #[serde(default)]
    errkind: String,
    trailing: bool,
    cs: bool,
    ro: bool,
    caps: Option<Vec<String>>,
    remount: bool,
    labels: Option<BTreeMap<String, String>>,
    image: String,
    paths: Vec<GoPath>,
    runtime: String,
    plugin: bool,
    netatt: bool,
    /// rootfs-guard's service-runtime verdict derived from Go's reading.
    noncontainer: bool,
}

#[derive(Deserialize, Debug)]
struct GoVolume {
    err: Option<String>,
    #[serde(default)]
    errkind: String,
    trailing: bool,
    name: String,
    driver: String,
    opts: Option<BTreeMap<String, String>>,
    paths: Vec<GoPath>,
}

#[derive(Deserialize, Debug)]
struct GoExec {
    err: Option<String>,
    #[serde(default)]
    errkind: String,
    trailing: bool,
    #[serde(rename = "priv")]
    privileged: bool,
}

/// Builds tests/go-oracle with the system Go into the target dir (Go's build cache makes repeat
/// builds near-instant). `None` when Go is missing and ROOTFS_GUARD_SKIP_GO=1.
fn build_oracle() -> Option<(PathBuf, String)> {
    let chosen = std::env::var("ROOTFS_GUARD_GO").ok();
    let candidates = match &chosen {
        Some(go) => vec![go.as_str()],
        None => vec!["go", "/usr/lib/go/bin/go", "/usr/local/go/bin/go"],
    };
    let go = candidates.into_iter().find(|go| {
        Command::new(go)
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    let Some(go) = go else {
        if std::env::var("ROOTFS_GUARD_SKIP_GO").as_deref() == Ok("1") {
            eprintln!("go-oracle: SKIPPED: no Go toolchain and ROOTFS_GUARD_SKIP_GO=1");
            return None;
        }
        panic!(
            "go-oracle: no Go toolchain found ({}). The differential oracle needs it: install \
             golang-go (`make test-deps` does), or set ROOTFS_GUARD_SKIP_GO=1 to skip it",
            chosen.map_or("`go` on PATH".to_owned(), |go| format!(
                "ROOTFS_GUARD_GO={go}"
            ))
        );
    };
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("go-oracle");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go-oracle");
    let bin = out.join("go-oracle");
    let go_env = |cmd: &mut Command| {
        cmd.current_dir(&src)
            .env("GOCACHE", out.join("gocache"))
            .env("GOPATH", out.join("gopath"))
            .env("GOENV", "off")
            .env("GOFLAGS", "-mod=mod")
            .env("GOPROXY", "off")
            .env("GO111MODULE", "on")
            .env("GOTOOLCHAIN", "local")
            .env("CGO_ENABLED", "0");
    };
    let mut build = Command::new(go);
    build.args(["build", "-o"]).arg(&bin).arg(".");
    go_env(&mut build);
    let output = build.output().expect("running go build");
    assert!(
        output.status.success(),
        "go-oracle: `go build` in {} failed:\n{}",
        src.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut version = Command::new(go);
    version.arg("version");
    go_env(&mut version);
    let version = String::from_utf8_lossy(&version.output().unwrap().stdout)
        .trim()
        .to_owned();
    Some((bin, version))
}

/// The Go oracle process: every batch of bodies goes through this one process.
struct Oracle {
    child: std::process::Child,
    stdin: std::io::BufWriter<std::process::ChildStdin>,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Oracle {
    fn start(bin: &Path) -> Oracle {
        let mut child = Command::new(bin)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting the Go oracle");
        Oracle {
            stdin: std::io::BufWriter::with_capacity(1 << 20, child.stdin.take().unwrap()),
            stdout: BufReader::with_capacity(1 << 20, child.stdout.take().unwrap()),
            child,
        }
    }

    /// One output line per body. The bodies are written from a second thread while the answers
    /// are read here (Go flushes its output whenever it has no more input buffered).
    fn run(&mut self, batch: &[(Kind, Vec<u8>)]) -> Vec<String> {
        let stdin = &mut self.stdin;
        let stdout = &mut self.stdout;
        std::thread::scope(|scope| {
            scope.spawn(move || {
                for (kind, body) in batch {
                    writeln!(stdin, "{} {}", kind.name(), body.len()).unwrap();
                    stdin.write_all(body).unwrap();
                }
                stdin.flush().unwrap();
            });
            (0..batch.len())
                .map(|_| {
                    let mut line = String::new();
                    let read = stdout.read_line(&mut line).expect("reading the Go oracle");
                    assert!(
                        read > 0,
                        "go-oracle stopped answering (see its stderr above)"
                    );
                    line
                })
                .collect()
        })
    }

    fn finish(self) {
        let Oracle {
            mut child, stdin, ..
        } = self;
        drop(stdin);
        let status = child.wait().unwrap();
        assert!(status.success(), "go-oracle exited with {status}");
    }
}

// ───────────────────────────── comparing ─────────────────────────────

/// Rust's decoded labels as the map they stand for (one entry per key, its last value).
fn owned_labels(labels: Option<&FlatStringMap>) -> Option<BTreeMap<String, String>> {
    labels.map(|l| {
        l.to_btree()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    })
}

fn allow_label(labels: Option<&BTreeMap<String, String>>) -> bool {
    labels.and_then(|l| l.get(ALLOW_KEY)).map(String::as_str) == Some(ALLOW_VALUE)
}

/// Why Rust refused a body Go reads: the categories refused on purpose (see src/authz/gojson.rs).
fn strict_category(body: &[u8], err: &GoJsonError, go_trailing: bool) -> &'static str {
    let msg = err.to_string();
    if matches!(err, GoJsonError::InvalidUtf8) {
        "invalid UTF-8 (Go replaces it with U+FFFD)"
    } else if go_trailing && msg.contains("trailing") {
        "trailing data after the first value (20.10 ignores it, 23+ refuses it)"
    } else if msg.contains("null element in a string array") {
        "null element in a []string (Go keeps an earlier backing-array value there)"
    } else if msg.contains("repeated array of objects") {
        "a repeated non-empty Mounts array (Go merges it into the earlier elements)"
    } else if msg.contains("null element in an array of objects") {
        "null element in a Mounts array (Go keeps an earlier element there)"
    } else if (msg.contains("surrogate") || msg.contains("end of hex escape"))
        && body.windows(3).any(|w| w == b"\\uD" || w == b"\\ud")
    {
        "lone UTF-16 surrogate escape (Go replaces it with U+FFFD)"
    } else {
        "UNEXPLAINED"
    }
}

/// The field path of a Go type error: "json: cannot unmarshal X into Go struct field
/// ConfigWrapperV20.HostConfig.CapAdd of type T" gives "HostConfig.CapAdd".
fn type_error_path(err: &str) -> Option<&str> {
    let field = err
        .split("Go struct field ")
        .nth(1)?
        .split(" of type")
        .next()?;
    Some(field.split_once('.')?.1)
}

#[derive(Default)]
struct Report {
    by_kind: BTreeMap<&'static str, usize>,
    both_read: usize,
    both_refuse: usize,
    /// Bodies Rust allows (create: read-only and not remountable, or labelled; ...).
    rust_allows: BTreeMap<&'static str, usize>,
    /// Bodies Go reads and Rust denies on content (both decode).
    both_read_denied: usize,
    /// Of those, denied for a writable host path reaching a protected root, or (service) for a
    /// task that is not a container.
    denied_for: BTreeMap<&'static str, usize>,
    /// Bodies both read whose host-path list (some reading) is not empty: the mount model at work.
    with_host_paths: BTreeMap<&'static str, usize>,
    strict: BTreeMap<&'static str, usize>,
    go_refuses: BTreeMap<String, usize>,
    failures: BTreeMap<&'static str, Vec<String>>,
    failure_counts: BTreeMap<&'static str, usize>,
    /// Every failing body, written to a file for triage.
    dump: String,
}

impl Report {
    fn fail(&mut self, what: &'static str, body: &[u8], detail: String) {
        *self.failure_counts.entry(what).or_default() += 1;
        writeln!(
            self.dump,
            "{what}\n  body: b\"{}\"\n  {detail}",
            body.escape_ascii()
        )
        .unwrap();
        let examples = self.failures.entry(what).or_default();
        if examples.len() < 5 {
            examples.push(format!(
                "body: b\"{}\"\n      {detail}",
                body.escape_ascii()
            ));
        }
    }

    fn strict(&mut self, category: &'static str, body: &[u8], detail: String) {
        if category == "UNEXPLAINED" {
            self.fail(
                "Rust refuses a body Go reads, for no chosen reason",
                body,
                detail,
            );
        } else {
            *self.strict.entry(category).or_default() += 1;
        }
    }

    /// Go refused (dockerd would answer with an error): safe whatever Rust read. Expected when
    /// the wrong JSON type sits in a field Rust does not model (Rust skips it). A type error in a
    /// field Rust models, or a Go syntax error Rust did not see, means the two read differently.
    fn go_refuses(&mut self, kind: Kind, errkind: &str, err: &str, body: &[u8]) {
        if errkind != "type" {
            let what = "Go refuses the JSON itself, Rust decoded it";
            self.fail(what, body, err.to_owned());
            return;
        }
        let path = type_error_path(err).unwrap_or("");
        // The modelled fields of a `mount.Mount`, below a `Mounts` path.
        const MOUNT: &[&str] = &[
            "",
            ".Type",
            ".Source",
            ".ReadOnly",
            ".VolumeOptions",
            ".VolumeOptions.DriverConfig",
            ".VolumeOptions.DriverConfig.Name",
            ".VolumeOptions.DriverConfig.Options",
        ];
        fn mounts_under(prefix: &str) -> impl Iterator<Item = String> + '_ {
            MOUNT.iter().map(move |m| format!("{prefix}Mounts{m}"))
        }
        let modelled: Vec<String> = match kind {
            Kind::Create => ["", "HostConfig."]
                .into_iter()
                .flat_map(|p| {
                    ["ReadonlyRootfs", "Privileged", "CapAdd", "Binds"]
                        .into_iter()
                        .map(move |f| format!("{p}{f}"))
                        .chain(mounts_under(p))
                })
                .chain(["HostConfig", "Image", "Labels"].map(String::from))
                .collect(),
            Kind::Service => [
                "TaskTemplate",
                "TaskTemplate.ContainerSpec",
                "TaskTemplate.ContainerSpec.Image",
                "TaskTemplate.ContainerSpec.Labels",
                "TaskTemplate.ContainerSpec.ReadOnly",
                "TaskTemplate.ContainerSpec.CapabilityAdd",
                "TaskTemplate.Runtime",
                "TaskTemplate.PluginSpec",
                "TaskTemplate.NetworkAttachmentSpec",
            ]
            .map(String::from)
            .into_iter()
            .chain(mounts_under("TaskTemplate.ContainerSpec."))
            .collect(),
            Kind::Exec => vec!["Privileged".into()],
            Kind::Volume => ["Name", "Driver", "DriverOpts"].map(String::from).into(),
        };
        // A map's entries: Go may name the key after the field.
        let is_modelled = modelled.iter().any(|m| {
            path == m
                || ((m.ends_with("Labels")
                    || m.ends_with("DriverConfig.Options")
                    || m == "DriverOpts")
                    && path.starts_with(m.as_str())
                    && path[m.len()..].starts_with('.'))
        });
        if is_modelled {
            let what = "Go refuses a modelled field's type, Rust decoded it";
            self.fail(what, body, err.to_owned());
            return;
        }
        *self
            .go_refuses
            .entry(format!(
                "{}: wrong JSON type in a field we do not model",
                kind.name()
            ))
            .or_default() += 1;
    }
}

const TOP_LEVEL_TYPE: &str =
    "a top-level HostConfig field of the wrong type (20.10 refuses, 27+ ignores it)";

fn check_create(body: &[u8], go: &GoCreate, r: &mut Report) {
    let rust = CreateBody::decode(body);
    let views = [
        (DockerdReading::TopLevelFallback, &go.v20),
        (DockerdReading::HostConfigKeyOnly, &go.v27),
    ];
    let go_reads = views.iter().any(|(_, g)| g.err.is_none());
    let rust = match rust {
        Err(e) => {
            if go_reads {
                let trailing = views.iter().all(|(_, g)| g.err.is_some() || g.trailing);
                let mut category = strict_category(body, &e, trailing);
                if category == "UNEXPLAINED" && go.v20.err.is_some() && go.toperr {
                    category = TOP_LEVEL_TYPE;
                }
                r.strict(category, body, format!("rust: {e}; go: {go:?}"));
            } else {
                r.both_refuse += 1;
            }
            return;
        }
        Ok(b) => b,
    };
    if !go_reads {
        r.go_refuses(
            Kind::Create,
            &go.v20.errkind,
            go.v20.err.as_deref().unwrap_or(""),
            body,
        );
        return;
    }
    r.both_read += 1;
    let rust_labels = owned_labels(rust.labels());
    let labelled = allow_label(rust_labels.as_ref());
    let mut rust_locked = true;
    let mut rust_root_bind = false;
    let mut go_allows_everywhere = true;
    for (reading, g) in views {
        let hc = rust.effective_host_config(reading);
        let paths = rust_paths(hc.map(|h| h.host_paths()).unwrap_or_default());
        rust_root_bind |= root_bind(&paths);
        let ro = hc.is_some_and(|h| h.readonly_rootfs);
        let privileged = hc.is_some_and(|h| h.privileged);
        let caps = hc.and_then(|h| h.cap_add.0.clone());
        let remount = grants_remount(hc.map_or(&[], |h| h.cap_add())).is_some();
        rust_locked &= ro && !privileged && !remount;
        if g.err.is_some() {
            // This dockerd refuses the body (e.g. 20.10 over a bad top-level HostConfig field).
            continue;
        }
        go_allows_everywhere &= !root_bind(&g.paths)
            && ((g.ro && !g.privileged && !g.remount) || allow_label(g.labels.as_ref()));
        if paths != g.paths {
            r.fail(
                "UNSAFE: create: Rust and Go derive different host paths (Binds, Mounts)",
                body,
                format!("{reading:?}: rust {paths:?}\n      go {:?}", g.paths),
            );
        }
        let mine = (
            ro,
            privileged,
            &caps,
            remount,
            rust_labels.as_ref(),
            rust.image(),
        );
        let theirs = (
            g.ro,
            g.privileged,
            &g.caps,
            g.remount,
            g.labels.as_ref(),
            g.image.as_str(),
        );
        if mine != theirs {
            r.fail(
                "create: Rust and Go read different values",
                body,
                format!(
                    "{reading:?}: rust (ro, priv, caps, remount, labels, image) = {mine:?}\n      \
                     go = {theirs:?}"
                ),
            );
        }
    }
    if views
        .iter()
        .any(|(_, g)| g.err.is_none() && !g.paths.is_empty())
    {
        *r.with_host_paths.entry("create").or_default() += 1;
    }
    let rust_allows = !rust_root_bind && (rust_locked || labelled);
    if rust_root_bind {
        *r.denied_for.entry("create: root-bind").or_default() += 1;
    }
    if rust_allows {
        *r.rust_allows
            .entry(if rust_locked {
                "create: read-only, not remountable"
            } else {
                "create: allowlist label"
            })
            .or_default() += 1;
        if !go_allows_everywhere {
            r.fail(
                "UNSAFE: Rust allows a create Go reads as writable/remountable/unlabelled/binding a root",
                body,
                format!("{go:?}"),
            );
        }
    } else {
        r.both_read_denied += 1;
    }
}

/// Settles a body that either side refuses (counted in `r`); the Rust reading when both read it.
fn both_read<T>(
    body: &[u8],
    kind: Kind,
    rust: Result<T, GoJsonError>,
    go: (&Option<String>, &str, bool),
    go_debug: &dyn std::fmt::Debug,
    r: &mut Report,
) -> Option<T> {
    let (go_err, go_errkind, go_trailing) = go;
    match (rust, go_err) {
        (Err(e), None) => {
            let category = strict_category(body, &e, go_trailing);
            r.strict(category, body, format!("rust: {e}; go: {go_debug:?}"));
            None
        }
        (Err(_), Some(_)) => {
            r.both_refuse += 1;
            None
        }
        (Ok(_), Some(err)) => {
            r.go_refuses(kind, go_errkind, err, body);
            None
        }
        (Ok(v), None) => {
            r.both_read += 1;
            Some(v)
        }
    }
}

fn check_service(body: &[u8], go: &GoService, r: &mut Report) {
    let go_view = (&go.err, go.errkind.as_str(), go.trailing);
    let Some(rust) = both_read(
        body,
        Kind::Service,
        ServiceSpec::decode(body),
        go_view,
        go,
        r,
    ) else {
        return;
    };
    let cs = rust.container_spec();
    let task = &rust.task_template.0;
    let non_container = rust.non_container_task().is_some();
    let mine_task = (
        task.runtime.as_str(),
        task.plugin_spec.is_some(),
        task.network_attachment_spec.is_some(),
        non_container,
    );
    let theirs_task = (go.runtime.as_str(), go.plugin, go.netatt, go.noncontainer);
    if mine_task != theirs_task {
        r.fail(
            "UNSAFE: service: Rust and Go read the task kind differently",
            body,
            format!(
                "rust (Runtime, PluginSpec, NetworkAttachmentSpec, not a container) = \
                 {mine_task:?}\n      go = {theirs_task:?}"
            ),
        );
    }
    let paths = rust_paths(cs.map(|c| c.host_paths()).unwrap_or_default());
    if !go.paths.is_empty() {
        *r.with_host_paths.entry("service").or_default() += 1;
    }
    if paths != go.paths {
        r.fail(
            "UNSAFE: service: Rust and Go derive different host paths (ContainerSpec.Mounts)",
            body,
            format!("rust {paths:?}\n      go {:?}", go.paths),
        );
    }
    let mine = (
        cs.is_some(),
        cs.is_some_and(|c| c.read_only),
        cs.and_then(|c| c.capability_add.0.clone()),
        cs.is_some_and(|c| grants_remount(c.capability_add()).is_some()),
        owned_labels(cs.and_then(|c| c.labels())),
        cs.map_or("", |c| c.image.as_str()),
    );
    let theirs = (
        go.cs,
        go.ro,
        go.caps.clone(),
        go.remount,
        go.labels.clone(),
        go.image.as_str(),
    );
    if mine != theirs {
        r.fail(
            "service: Rust and Go read different values",
            body,
            format!(
                "rust (spec, ro, caps, remount, labels, image) = {mine:?}\n      go = {theirs:?}"
            ),
        );
    }
    // No container spec: no task container to judge. A task that is not a container, or a
    // writable mount of a protected root, is denied whatever the rest says.
    let allows =
        |present: bool, ro: bool, remount: bool, labels, non_container: bool, paths: &[GoPath]| {
            !non_container
                && !root_bind(paths)
                && (!present || (ro && !remount) || allow_label(labels))
        };
    let rust_allows = allows(
        mine.0,
        mine.1,
        mine.3,
        mine.4.as_ref(),
        non_container,
        &paths,
    );
    if non_container {
        *r.denied_for
            .entry("service: not a container task")
            .or_default() += 1;
    } else if root_bind(&paths) {
        *r.denied_for.entry("service: root-bind").or_default() += 1;
    }
    if rust_allows {
        *r.rust_allows
            .entry("service: read-only/labelled/no spec")
            .or_default() += 1;
        if !allows(
            go.cs,
            go.ro,
            go.remount,
            go.labels.as_ref(),
            go.noncontainer,
            &go.paths,
        ) {
            r.fail(
                "UNSAFE: Rust allows a service Go reads as writable/remountable/unlabelled/binding a root/not a container",
                body,
                format!("{go:?}"),
            );
        }
    } else {
        r.both_read_denied += 1;
    }
}

fn check_volume(body: &[u8], go: &GoVolume, r: &mut Report) {
    let go_view = (&go.err, go.errkind.as_str(), go.trailing);
    let Some(rust) = both_read(
        body,
        Kind::Volume,
        VolumeCreate::decode(body),
        go_view,
        go,
        r,
    ) else {
        return;
    };
    let mut paths = Vec::new();
    if let Some(opts) = rust.driver_opts.0.as_ref() {
        local_volume_host_paths(&rust.driver, &|k| opts.get(k), &mut paths);
    }
    let paths = rust_paths(paths);
    if !go.paths.is_empty() {
        *r.with_host_paths.entry("volume").or_default() += 1;
    }
    let mine = (
        rust.name.as_str(),
        rust.driver.as_str(),
        owned_labels(rust.driver_opts.0.as_ref()),
        &paths,
    );
    let theirs = (
        go.name.as_str(),
        go.driver.as_str(),
        go.opts.clone(),
        &go.paths,
    );
    if mine != theirs {
        r.fail(
            "UNSAFE: volume: Rust and Go read different values",
            body,
            format!("rust (name, driver, opts, host paths) = {mine:?}\n      go = {theirs:?}"),
        );
    }
    if root_bind(&paths) {
        *r.denied_for.entry("volume: root-bind").or_default() += 1;
        r.both_read_denied += 1;
    } else {
        *r.rust_allows
            .entry("volume: no protected root")
            .or_default() += 1;
        if root_bind(&go.paths) {
            r.fail(
                "UNSAFE: Rust allows a volume whose options Go reads as binding a protected root",
                body,
                format!("{go:?}"),
            );
        }
    }
}

fn check_exec(body: &[u8], go: &GoExec, r: &mut Report) {
    let go_view = (&go.err, go.errkind.as_str(), go.trailing);
    let Some(rust) = both_read(body, Kind::Exec, ExecConfig::decode(body), go_view, go, r) else {
        return;
    };
    if rust.privileged != go.privileged {
        r.fail(
            "exec: Rust and Go read different values",
            body,
            format!(
                "rust privileged={}, go privileged={}",
                rust.privileged, go.privileged
            ),
        );
    }
    if !rust.privileged {
        *r.rust_allows.entry("exec: not privileged").or_default() += 1;
        if go.privileged {
            r.fail(
                "UNSAFE: Rust allows an exec Go reads as privileged",
                body,
                format!("{go:?}"),
            );
        }
    } else {
        r.both_read_denied += 1;
    }
}

fn parse<T: serde::de::DeserializeOwned>(line: &str) -> T {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("go-oracle output {line:?}: {e}"))
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

#[test]
fn rust_never_reads_a_body_more_leniently_than_go() {
    let Some((bin, go_version)) = build_oracle() else {
        return;
    };
    let n: usize = env_or("ROOTFS_GUARD_ORACLE_N", DEFAULT_N);
    let seed: u64 = env_or("ROOTFS_GUARD_ORACLE_SEED", DEFAULT_SEED);
    let started = Instant::now();

    let fixtures = Fixtures::load();
    let mut gen = Gen::new(seed);
    let mut oracle = Oracle::start(&bin);
    let mut r = Report::default();
    let (mut gen_time, mut go_time) = (Duration::ZERO, Duration::ZERO);
    let (mut done, mut total_bytes) = (0, 0);
    // Batches keep memory flat; the real-client bodies go first, as they are.
    let mut batch: Vec<(Kind, Vec<u8>)> = fixtures.raw.clone();
    while done < n {
        let t = Instant::now();
        while batch.len() < BATCH.min(n - done) {
            let kind = match gen.rng.u32(0..100) {
                0..=51 => Kind::Create,
                52..=79 => Kind::Service,
                80..=91 => Kind::Exec,
                _ => Kind::Volume,
            };
            let body = gen.body(kind, &fixtures);
            batch.push((kind, body));
        }
        gen_time += t.elapsed();
        let t = Instant::now();
        let lines = oracle.run(&batch);
        go_time += t.elapsed();
        for ((kind, body), line) in batch.iter().zip(&lines) {
            *r.by_kind.entry(kind.name()).or_default() += 1;
            total_bytes += body.len();
            match kind {
                Kind::Create => check_create(body, &parse(line), &mut r),
                Kind::Service => check_service(body, &parse(line), &mut r),
                Kind::Exec => check_exec(body, &parse(line), &mut r),
                Kind::Volume => check_volume(body, &parse(line), &mut r),
            }
        }
        done += batch.len();
        batch.clear();
    }
    oracle.finish();

    let mut summary = String::new();
    let w = &mut summary;
    writeln!(
        w,
        "go-oracle: {done} bodies ({} MB) {:?}, seed {seed:#x}, {go_version}",
        total_bytes / 1_000_000,
        r.by_kind
    )
    .unwrap();
    writeln!(
        w,
        "  time: generate {:.1}s, Go (incl. waiting for it) {:.1}s, total {:.1}s",
        gen_time.as_secs_f64(),
        go_time.as_secs_f64(),
        started.elapsed().as_secs_f64()
    )
    .unwrap();
    writeln!(
        w,
        "  both decode, identical readings required: {}",
        r.both_read
    )
    .unwrap();
    writeln!(w, "    allowed by Rust: {:?}", r.rust_allows).unwrap();
    writeln!(
        w,
        "    denied by Rust: {}, of which {:?}",
        r.both_read_denied, r.denied_for
    )
    .unwrap();
    writeln!(
        w,
        "    with host paths (Binds, Mounts, volume options) compared: {:?}",
        r.with_host_paths
    )
    .unwrap();
    writeln!(w, "  both refuse: {}", r.both_refuse).unwrap();
    writeln!(w, "  Rust refuses, Go reads (strict on purpose):").unwrap();
    for (category, count) in &r.strict {
        writeln!(w, "    {category}: {count}").unwrap();
    }
    writeln!(
        w,
        "  Go refuses, Rust reads (dockerd answers with an error):"
    )
    .unwrap();
    for (category, count) in &r.go_refuses {
        writeln!(w, "    {category}: {count}").unwrap();
    }
    for (what, examples) in &r.failures {
        writeln!(
            w,
            "  FAILED: {what}: {} bodies, e.g.",
            r.failure_counts[what]
        )
        .unwrap();
        for e in examples {
            writeln!(w, "    {e}").unwrap();
        }
    }
    if !r.dump.is_empty() {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("go-oracle/failures.txt");
        std::fs::write(&path, &r.dump).unwrap();
        writeln!(w, "  every failing body: {}", path.display()).unwrap();
    }
    eprintln!("{summary}");

    assert!(
        r.failures.is_empty(),
        "the Go oracle disagrees with Rust:\n{summary}"
    );
    // The generator must keep exercising both sides of every decision.
    let allowed: usize = r.rust_allows.values().sum();
    assert!(
        allowed * 10 > r.both_read && r.both_read_denied * 10 > r.both_read,
        "generator drift: too few allowed ({allowed}) or denied ({}) bodies\n{summary}",
        r.both_read_denied
    );
    assert!(
        r.both_read * 2 > done,
        "generator drift: most bodies should decode\n{summary}"
    );
}
