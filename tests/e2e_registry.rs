//! Distribution through a registry, the way an operator without the source tree installs the
//! managed plugin: Debian's docker-registry (distribution 2.8, scripts/fetch-registry.sh) on
//! 127.0.0.1 with its own config and storage in a temp dir; `make plugin-push` from a builder
//! dockerd; on a second private dockerd `docker plugin install --grant-all-permissions
//! 127.0.0.1:PORT/rootfs-guard:TAG` (loopback registries are insecure-by-default allowed, no
//! daemon option needed), dockerd restarted with `--authorization-plugin=...`, a writable create
//! denied and a read-only one allowed. Then the upgrade to TAG2 exactly as
//! docs/install-and-recover.md ("Upgrade the managed plugin") lists it, with a prober sampling
//! `/_ping` and a writable-create probe every 100 ms to measure how long the API fails and how
//! long it is unguarded. Then the same upgrade (to TAG3) through daemon.json: `rootfs-guard enable
//! --name REF` for the managed plugin, and `rootfs-guard disable` / `enable` around steps 2-4
//! instead of the two dockerd restarts.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{die_with_parent, run_with_timeout, split_output, PrivateDockerd};

const BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The registry process; killed and reaped on drop.
struct Registry {
    child: Child,
    addr: String,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fetch_registry() -> PathBuf {
    let mut cmd =
        Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fetch-registry.sh"));
    cmd.stdin(Stdio::null());
    let (status, out, err) = split_output(run_with_timeout(cmd, None, Duration::from_secs(300)));
    assert!(status.success(), "scripts/fetch-registry.sh failed: {err}");
    PathBuf::from(out.trim())
}

fn start_registry(dir: &Path) -> Registry {
    let binary = fetch_registry();
    // A free loopback port: bind :0, read it, release it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let config = dir.join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            dir.join("storage").display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("registry.log")).unwrap();
    let mut cmd = Command::new(&binary);
    cmd.arg("serve")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    die_with_parent(&mut cmd);
    let child = cmd.spawn().expect("start docker-registry");
    let registry = Registry { child, addr };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(mut s) = TcpStream::connect(&registry.addr) {
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            if buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200") {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "docker-registry did not answer on {}: {}",
            registry.addr,
            std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("docker-registry {} on {}", binary.display(), registry.addr);
    registry
}

/// `make ARGS` aimed at `d`.
fn make_ok(d: &PrivateDockerd, args: &[&str]) -> String {
    let mut cmd = Command::new("make");
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("--no-print-directory")
        .args(args)
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.dir().join("cli-config"))
        .env_remove("DOCKER_CONTEXT");
    let (status, out, err) = split_output(run_with_timeout(cmd, None, BUILD_TIMEOUT));
    assert!(status.success(), "make {args:?} failed:\n{out}\n{err}");
    out
}

/// One HTTP exchange on a unix socket within 2 s: the status code, or `None` if it failed.
fn status_of(socket: &Path, request: &str) -> Option<u16> {
    let mut s = UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace().nth(1)?.parse().ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sample {
    /// `/_ping` failed: the API is down.
    Down,
    /// The writable probe was not denied (404 No such image): the API is unguarded.
    Unguarded,
    Guarded,
}

fn sample(socket: &Path) -> Sample {
    let ping = status_of(
        socket,
        "GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n",
    );
    if ping != Some(200) {
        return Sample::Down;
    }
    let body = r#"{"Image":"rootfs-guard-probe.invalid/no-such-image:upgrade","HostConfig":{"ReadonlyRootfs":false}}"#;
    let req = format!(
        "POST /containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    match status_of(socket, &req) {
        Some(403) => Sample::Guarded,
        Some(404) => Sample::Unguarded,
        _ => Sample::Down,
    }
}

/// Total time spent in each state, from (time, sample) pairs taken every ~100 ms.
fn totals(samples: &[(Duration, Sample)]) -> (Duration, Duration) {
    let mut down = Duration::ZERO;
    let mut unguarded = Duration::ZERO;
    for w in samples.windows(2) {
        let span = w[1].0 - w[0].0;
        match w[0].1 {
            Sample::Down => down += span,
            Sample::Unguarded => unguarded += span,
            Sample::Guarded => {}
        }
    }
    (down, unguarded)
}

#[test]
fn registry_install_and_upgrade() {
    if !support::e2e_enabled("registry_install_and_upgrade") {
        return;
    }
    let work = tempfile::Builder::new()
        .prefix("rgr-")
        .tempdir_in("/tmp")
        .unwrap();
    let registry = start_registry(work.path());
    let repo = format!("{}/rootfs-guard", registry.addr);
    let (tag1, tag2, tag3) = ("1.0.0", "1.0.1", "1.0.2");

    // Builder: make plugin-push, twice (the upgrade's target too).
    {
        let builder = PrivateDockerd::start(&[]);
        for tag in [tag1, tag2, tag3] {
            let t = Instant::now();
            make_ok(
                &builder,
                &[
                    "plugin-push",
                    &format!("PLUGIN_REPO={repo}"),
                    &format!("PLUGIN_TAG={tag}"),
                    &format!(
                        "PLUGIN_BUILD_DIR={}",
                        work.path().join(format!("build-{tag}")).display()
                    ),
                ],
            );
            eprintln!(
                "make plugin-push PLUGIN_REPO={repo} PLUGIN_TAG={tag}: {:.1?}",
                t.elapsed()
            );
            builder.docker_ok(&["plugin", "rm", &format!("{repo}:{tag}")]);
        }
    }

    // The operator's host: install from the registry, nothing prepared.
    let mut d = PrivateDockerd::start(&[]);
    d.import_busybox("bb:latest");
    let reference = format!("{repo}:{tag1}");
    let t = Instant::now();
    d.docker_ok(&["plugin", "install", "--grant-all-permissions", &reference]);
    eprintln!(
        "docker plugin install --grant-all-permissions {reference}: {:.1?}",
        t.elapsed()
    );
    assert_eq!(
        d.docker_ok(&["plugin", "inspect", "-f", "{{.Enabled}}", &reference]),
        "true"
    );
    let flag = format!("--authorization-plugin={reference}");
    d.restart(&[&flag]);
    let denied_by = format!("authorization denied by plugin {reference}");
    let err = d.docker_fails(&["create", "bb:latest", "true"]);
    assert!(err.contains(&denied_by), "not enforcing: {err}");
    let id = d.docker_ok(&["create", "--read-only", "bb:latest", "true"]);
    d.docker_ok(&["rm", &id]);
    // While in use, the guard refuses to be disabled or upgraded through the API.
    let err = d.docker_fails(&["plugin", "disable", "-f", &reference]);
    assert!(err.contains("self-protection"), "{err}");
    let plugin_id = d.docker_ok(&["plugin", "inspect", "-f", "{{.Id}}", &reference]);

    // The upgrade, as docs/install-and-recover.md lists it, sampled every 100 ms.
    let took = measured(
        &mut d,
        &format!("upgrade {tag1} -> {tag2} (flag)"),
        &mut |d| {
            // 1. dockerd without the flag (the plugin stays installed and enabled).
            d.restart(&[]);
            // 2.-4. disable, upgrade, enable.
            upgrade(d, &reference, &format!("{repo}:{tag2}"));
            // 5. dockerd with the flag again.
            d.restart(&[&flag]);
        },
    );
    eprintln!("the flag route took {took:.1?}");
    check_upgraded(&d, &reference, &plugin_id, tag2);

    // The same through daemon.json: `rootfs-guard enable --name REF` for a managed plugin, and
    // the upgrade with `rootfs-guard disable` / `enable` instead of the restarts.
    let daemon_json = work.path().join("daemon.json");
    std::fs::write(&daemon_json, "{}\n").unwrap();
    d.restart(&[&format!("--config-file={}", daemon_json.display())]);
    guard_ok("enable", &reference, &d, &daemon_json);
    let err = d.docker_fails(&["create", "bb:latest", "true"]);
    assert!(err.contains(&denied_by), "enable did not enforce: {err}");
    let took = measured(
        &mut d,
        &format!("upgrade {tag2} -> {tag3} (daemon.json)"),
        &mut |d| {
            guard_ok("disable", &reference, d, &daemon_json);
            upgrade(d, &reference, &format!("{repo}:{tag3}"));
            guard_ok("enable", &reference, d, &daemon_json);
        },
    );
    eprintln!("the daemon.json route took {took:.1?}");
    check_upgraded(&d, &reference, &plugin_id, tag3);

    // Cleanup: out of dockerd, then disable and remove.
    guard_ok("disable", &reference, &d, &daemon_json);
    d.docker_ok(&["plugin", "disable", &reference]);
    d.docker_ok(&["plugin", "rm", &reference]);
    drop(d);
    assert!(
        !Path::new("/run/docker/plugins").join(&plugin_id).exists(),
        "dockerd left /run/docker/plugins/{plugin_id}"
    );
    drop(registry);
}

/// Steps 2-4 of the documented upgrade: disable, upgrade in place, enable.
fn upgrade(d: &PrivateDockerd, reference: &str, remote: &str) {
    d.docker_ok(&["plugin", "disable", "-f", reference]);
    let out = d.docker_ok(&[
        "plugin",
        "upgrade",
        "--grant-all-permissions",
        // Without it the CLI asks "Plugin images do not match, are you sure?" (the tag differs),
        // and with no terminal to answer it upgrades nothing, yet exits 0 (seen with CLI 28).
        "--skip-remote-check",
        reference,
        remote,
    ]);
    assert!(
        out.contains("Upgraded plugin"),
        "docker plugin upgrade: {out}"
    );
    d.docker_ok(&["plugin", "enable", reference]);
}

/// After an upgrade: the same name and id, the new manifest, enforcing.
fn check_upgraded(d: &PrivateDockerd, reference: &str, plugin_id: &str, tag: &str) {
    let info: serde_json::Value =
        serde_json::from_str(&d.docker_ok(&["plugin", "inspect", reference])).unwrap();
    assert_eq!(info[0]["Enabled"], serde_json::json!(true));
    assert_eq!(
        info[0]["Id"],
        serde_json::json!(plugin_id),
        "upgrade keeps the plugin id"
    );
    // `make plugin` puts the tag into the manifest's description: the new manifest is in use.
    let description = info[0]["Config"]["Description"]
        .as_str()
        .unwrap_or_default();
    assert!(
        description.ends_with(&format!(", version {tag}")),
        "not upgraded: {}",
        info[0]
    );
    eprintln!(
        "after the upgrade: name {reference}, PluginReference {}, description {description:?}",
        info[0]["PluginReference"]
    );
    let err = d.docker_fails(&["create", "bb:latest", "true"]);
    assert!(
        err.contains(&format!("authorization denied by plugin {reference}")),
        "not enforcing after the upgrade: {err}"
    );
    let id = d.docker_ok(&["create", "--read-only", "bb:latest", "true"]);
    d.docker_ok(&["rm", &id]);
}

/// `rootfs-guard enable|disable --name NAME` aimed at `d`, which must succeed.
fn guard_ok(verb: &str, name: &str, d: &PrivateDockerd, daemon_json: &Path) {
    let cmd = support::enable_command(verb, name, d, daemon_json);
    let (status, out, err) = split_output(run_with_timeout(cmd, None, Duration::from_secs(60)));
    assert!(
        status.success(),
        "rootfs-guard {verb} --name {name}: {out}{err}"
    );
    eprint!("{out}");
}

/// Runs `steps` while a prober samples the API every 100 ms; prints and returns how long it took,
/// and prints how long the API failed and how long it was up but unguarded.
fn measured(
    d: &mut PrivateDockerd,
    what: &str,
    steps: &mut dyn FnMut(&mut PrivateDockerd),
) -> Duration {
    // The prober only needs the socket path, which restarts keep.
    let socket = d.socket();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let prober = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                samples.push((started.elapsed(), sample(&socket)));
                std::thread::sleep(Duration::from_millis(100));
            }
            samples.push((started.elapsed(), sample(&socket)));
            samples
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    steps(d);
    let took = t.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let samples = prober.join().expect("prober");
    let (down, unguarded) = totals(&samples);
    let changes: Vec<String> = samples
        .windows(2)
        .filter(|w| w[0].1 != w[1].1)
        .map(|w| format!("{:.1}s {:?}->{:?}", w[1].0.as_secs_f64(), w[0].1, w[1].1))
        .collect();
    eprintln!(
        "{what}: sequence took {took:.1?}; {} samples; API failing {down:.1?} in all, unguarded \
         (writable probe not denied) {unguarded:.1?}; state changes: {}",
        samples.len(),
        changes.join(", ")
    );
    assert_eq!(samples.first().map(|s| s.1), Some(Sample::Guarded));
    assert_eq!(samples.last().map(|s| s.1), Some(Sample::Guarded));
    took
}
