//! Table tests of the advise core, one file per part of it: reading the input, placing mounts,
//! rendering. The helpers here build the inputs they share.

use super::*;
use serde_json::json;
use ChangeKind::{Added as A, Deleted as D, Modified as C};

fn ch(list: &[(&str, ChangeKind)]) -> Vec<Change> {
    list.iter().map(|(p, k)| Change::new(p, *k)).collect()
}

fn cfg(name: &str) -> ContainerConfig {
    ContainerConfig {
        id: Some("0123abcd".into()),
        name: Some(name.into()),
        image: "bb:latest".into(),
        started: true,
        ..ContainerConfig::default()
    }
}

fn run(cfg: &ContainerConfig, changes: &[(&str, ChangeKind)]) -> Advice {
    advise(cfg, &ch(changes), &Options::new("t", Source::Container))
}

fn run_hints(cfg: &ContainerConfig, changes: &[(&str, ChangeKind)], hints: &[Hint]) -> Advice {
    let mut o = Options::new("t", Source::Container);
    o.hints = hints.to_vec();
    advise(cfg, &ch(changes), &o)
}

/// `(type, path)` of every proposed mount.
fn mounts(a: &Advice) -> Vec<(&'static str, &str)> {
    a.mounts
        .iter()
        .map(|m| (m.kind.as_str(), m.path.as_str()))
        .collect()
}

/// What covers `path`: `Some((type, mount point, proposed))`.
fn cover<'a>(a: &'a Advice, path: &str) -> Option<(&'a str, &'a str, bool)> {
    let p = a
        .paths
        .iter()
        .find(|p| p.path == path)
        .unwrap_or_else(|| panic!("{path} not among the written paths: {:#?}", a.paths));
    p.covered_by
        .as_ref()
        .map(|c| (c.kind.as_str(), c.path.as_str(), c.proposed))
}

/// The changes dockerd 20.10 (overlay2) reported for the e2e image's command, plus `rm /bin/rm`.
const E2E_CHANGES: &[(&str, ChangeKind)] = &[
    ("/tmp", C),
    ("/tmp/a", A),
    ("/data", A),
    ("/data/c", A),
    ("/run", A),
    ("/run/app.pid", A),
    ("/var", A),
    ("/var/cache", A),
    ("/var/cache/app", A),
    ("/var/cache/app/b", A),
];

fn full_inspect() -> (Value, Value) {
    let container = json!({
        "Id": "f00d",
        "Name": "/web",
        "State": {"StartedAt": "2024-01-01T00:00:00Z"},
        "Config": {
            "Image": "nginx:1.25",
            "User": "1000:1000",
            "WorkingDir": "/srv/app",
            "Entrypoint": ["/bin/sh", "-e"],
            "Cmd": ["-c", "echo it's $HOME"],
            "Env": [
                "PATH=/usr/bin:/bin",
                "NGINX_VERSION=1.25",
                "DB_PASSWORD=hunter2-secret",
                "API_TOKEN=tok-XYZZY",
                "EMPTY=",
                "NOEQUALS"
            ],
            "ExposedPorts": {"80/tcp": {}, "443/tcp": {}, "9000/tcp": {}, "53/udp": {}},
            "Labels": {"maintainer": "nginx", "team": "web", "rootfs-guard.allow-writable": "true",
                       "com.docker.compose.project": "x"},
            "AttachStdout": false, "AttachStderr": false, "OpenStdin": true, "Tty": true,
            "Volumes": {"/var/cache/nginx": {}}
        },
        "HostConfig": {
            "ReadonlyRootfs": false,
            "PortBindings": {
                "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                "443/tcp": [{"HostIp": "", "HostPort": "8443"}, {"HostIp": "::1", "HostPort": "8443"}],
                "53/udp": [{"HostIp": "", "HostPort": ""}]
            },
            "PublishAllPorts": false,
            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
            "NetworkMode": "appnet",
            "AutoRemove": false,
            "Tmpfs": {"/run": "size=1m"}
        },
        "Mounts": [
            {"Type": "volume", "Name": "webdata", "Source": "/var/lib/docker/volumes/webdata/_data",
             "Destination": "/data", "Driver": "local", "Mode": "z", "RW": true},
            {"Type": "bind", "Source": "/etc/site", "Destination": "/etc/nginx/conf.d", "Mode": "ro", "RW": false},
            {"Type": "bind", "Source": "/host/logs", "Destination": "/logs", "Mode": "", "RW": true},
            {"Type": "volume", "Name": "a".repeat(64), "Source": "/x", "Destination": "/var/cache/nginx", "Mode": "", "RW": true},
            {"Type": "volume", "Name": "b".repeat(64), "Source": "/y", "Destination": "/scratch", "Mode": "", "RW": true},
            {"Type": "tmpfs", "Source": "", "Destination": "/t2", "Mode": "", "RW": true}
        ]
    });
    let image = json!({
        "Config": {
            "User": "",
            "WorkingDir": "",
            "Entrypoint": ["/docker-entrypoint.sh"],
            "Cmd": ["nginx", "-g", "daemon off;"],
            "Env": ["PATH=/usr/bin:/bin", "NGINX_VERSION=1.25"],
            "ExposedPorts": {"80/tcp": {}},
            "Labels": {"maintainer": "nginx"},
            "Volumes": {"/var/cache/nginx": {}}
        }
    });
    (container, image)
}

mod input;
mod placement;
mod render;
