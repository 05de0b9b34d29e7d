//! End-to-end benchmark: what a Docker user waits for. One private dockerd (the e2e harness of
//! `tests/support`) runs `docker create --read-only bb:latest sh` and `docker ps` through
//! rootfs-guard and through the no-op baseline plugin, in alternating blocks (G N N G G N ...), so
//! both see the same daemon, data root and machine load. The plugin is switched the way an operator
//! would: `authorization-plugins` in the daemon's config file plus SIGHUP (dockerd reloads it), and
//! each switch is proven by a probe (a writable create is denied only under rootfs-guard).
//!
//! Each CLI call is timed from spawn to exit (no polling). Results go to `bench-results/e2e.json`.
//! Runs only under `cargo bench` (see `make bench`); needs root and dockerd like the e2e tests
//! (`ROOTFS_GUARD_SKIP_E2E=1` skips it). `ROOTFS_GUARD_BENCH_E2E_ITERATIONS` (default 200, ≥ 20)
//! sets the timed iterations per plugin and command.

#[path = "../tests/support/mod.rs"]
mod support;

mod common;
mod servers;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;

use common::{median_f64, percentile, range_f64};
use servers::{ServerKind, ServerProcess};
use support::{PluginProcess, PrivateDockerd};

/// Timed iterations per block (each block runs under one plugin).
const BLOCK: usize = 20;
/// Upper bound on the whole timed phase.
const TIME_LIMIT: Duration = Duration::from_secs(420);

/// Runs `cmd` to completion and returns its wall time (spawn → exit) and output. A watchdog kills
/// it after 60 s so a hung call cannot hang the benchmark.
fn timed(mut cmd: Command) -> (Duration, Output) {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let child = cmd.spawn().expect("spawn docker");
    let pid = child.id();
    let (done, wait) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if wait.recv_timeout(Duration::from_secs(60)).is_err() {
            // SAFETY: kill(2) on our child, which has not been reaped (we are still waiting).
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
    });
    let out = child.wait_with_output().expect("wait for docker");
    let elapsed = started.elapsed();
    let _ = done.send(());
    let _ = watchdog.join();
    (elapsed, out)
}

fn check(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Points dockerd at `plugin` (config file + SIGHUP) and waits until the reload is logged.
fn switch_plugin(d: &PrivateDockerd, config: &Path, plugin: &str) {
    let reloads = |d: &PrivateDockerd| d.log().matches("Reloaded configuration").count();
    let before = reloads(d);
    let cfg = json!({"authorization-plugins": [plugin]});
    std::fs::write(config, serde_json::to_vec(&cfg).expect("json")).expect("write daemon.json");
    // SAFETY: kill(2) on the private dockerd we started.
    unsafe { libc::kill(d.pid().expect("dockerd runs") as libc::pid_t, libc::SIGHUP) };
    let deadline = Instant::now() + Duration::from_secs(20);
    while reloads(d) == before {
        assert!(
            Instant::now() < deadline,
            "dockerd did not reload its configuration within 20 s:\n{}",
            d.log_tail_filtered(20)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stats(ms: &[f64]) -> serde_json::Value {
    let mut ns: Vec<u64> = ms.iter().map(|m| (m * 1e6) as u64).collect();
    ns.sort_unstable();
    json!({
        "n": ms.len(),
        "median_ms": median_f64(ms),
        "p99_ms": percentile(&ns, 99.0) as f64 / 1e6,
        "min_ms": range_f64(ms).0,
        "max_ms": range_f64(ms).1,
    })
}

fn main() {
    servers::run_noop_server_if_asked();
    if !common::invoked_by_cargo_bench() {
        eprintln!("e2e: measures only under `cargo bench` (make bench); nothing to do");
        return;
    }
    if !support::e2e_enabled("e2e bench") {
        common::write_result("e2e", &json!({"skipped": "ROOTFS_GUARD_SKIP_E2E=1"}));
        return;
    }
    let iterations: usize = std::env::var("ROOTFS_GUARD_BENCH_E2E_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
        .max(BLOCK);
    let blocks = iterations.div_ceil(BLOCK);

    // Both plugins are legacy plugins in /run/docker/plugins with names unique to this process.
    let guard = PluginProcess::start(None);
    let noop_name = format!("rg-bench-noop-{}", std::process::id());
    let noop_socket = Path::new("/run/docker/plugins").join(format!("{noop_name}.sock"));
    let _noop = ServerProcess::start(ServerKind::Noop, &noop_socket, None);
    let cfg_dir = tempfile::Builder::new()
        .prefix("rgb-e2e-")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let config = cfg_dir.path().join("daemon.json");
    std::fs::write(
        &config,
        serde_json::to_vec(&json!({"authorization-plugins": [guard.name()]})).expect("json"),
    )
    .expect("write daemon.json");
    let d = PrivateDockerd::start(&[&format!("--config-file={}", config.display())]);
    d.import_busybox("bb:latest");
    eprintln!("e2e: dockerd {} ready", d.dir().display());

    // Warm the daemon up (the first creates after a start are slower), untimed.
    let mut ids = Vec::new();
    for _ in 0..BLOCK {
        ids.push(d.docker_ok(&["create", "--read-only", "bb:latest", "sh"]));
        d.docker_ok(&["ps"]);
    }
    let mut rm = d.docker_command();
    rm.args(["rm", "-f"]).args(&ids);
    check(&timed(rm).1, "docker rm");

    let (mut create, mut ps) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]); // [guard, noop]
    let mut block_medians: Vec<(usize, f64)> = Vec::new();
    let started = Instant::now();
    let mut current = 0usize; // dockerd starts with rootfs-guard
    for block in 0..2 * blocks {
        // G N N G G N N G ...: each plugin goes first in half of the pairs.
        let which = [0usize, 1, 1, 0][block % 4];
        let name = if which == 0 { guard.name() } else { &noop_name };
        if which != current {
            switch_plugin(&d, &config, name);
            current = which;
        }
        // Probe: a writable create is denied by rootfs-guard only.
        let mut probe = d.docker_command();
        probe.args(["create", "bb:latest", "sh"]);
        let (_, out) = timed(probe);
        match which {
            0 => assert!(
                !out.status.success()
                    && String::from_utf8_lossy(&out.stderr).contains("authorization denied"),
                "rootfs-guard is not the active plugin: {out:?}"
            ),
            _ => {
                let id = check(&out, "probe create under the no-op plugin");
                d.docker_ok(&["rm", &id]);
            }
        }
        // One untimed warm-up round, then the timed ones.
        let mut ids = Vec::new();
        let mut block_create = Vec::new();
        for i in 0..=BLOCK {
            let mut c = d.docker_command();
            c.args(["create", "--read-only", "bb:latest", "sh"]);
            let (t_create, out) = timed(c);
            ids.push(check(&out, "docker create --read-only"));
            let mut p = d.docker_command();
            p.arg("ps");
            let (t_ps, out) = timed(p);
            check(&out, "docker ps");
            if i > 0 {
                create[which].push(t_create.as_secs_f64() * 1e3);
                ps[which].push(t_ps.as_secs_f64() * 1e3);
                block_create.push(t_create.as_secs_f64() * 1e3);
            }
        }
        block_medians.push((which, median_f64(&block_create)));
        let mut rm = d.docker_command();
        rm.args(["rm", "-f"]).args(&ids);
        check(&timed(rm).1, "docker rm");
        eprintln!(
            "e2e: block {block} ({}) create median {:.1} ms",
            if which == 0 { "rootfs-guard" } else { "no-op" },
            median_f64(&block_create)
        );
        if started.elapsed() > TIME_LIMIT {
            eprintln!("e2e: time limit reached after {} blocks", block + 1);
            break;
        }
    }
    // Ratio of create medians per adjacent (guard, no-op) pair of blocks: the spread.
    let pair_ratios: Vec<f64> = block_medians
        .chunks(2)
        .filter(|p| p.len() == 2)
        .map(|p| {
            let g = if p[0].0 == 0 { p[0].1 } else { p[1].1 };
            let n = if p[0].0 == 0 { p[1].1 } else { p[0].1 };
            g / n
        })
        .collect();
    let result = json!({
        "dockerd": String::from_utf8_lossy(&d.docker(&["version", "--format", "{{.Server.Version}}"]).stdout).trim(),
        "iterations_per_plugin": create[0].len(),
        "create": {"guard": stats(&create[0]), "noop": stats(&create[1])},
        "ps": {"guard": stats(&ps[0]), "noop": stats(&ps[1])},
        "create_median_ratio": median_f64(&create[0]) / median_f64(&create[1]),
        "create_p99_ratio": stats(&create[0])["p99_ms"].as_f64().unwrap_or(0.0) / stats(&create[1])["p99_ms"].as_f64().unwrap_or(1.0),
        "ps_median_ratio": median_f64(&ps[0]) / median_f64(&ps[1]),
        "create_block_pair_ratios": pair_ratios,
        "seconds": started.elapsed().as_secs_f64(),
    });
    eprintln!(
        "e2e: create median {:.1} ms vs {:.1} ms (ratio {:.3}); ps median {:.1} ms vs {:.1} ms",
        median_f64(&create[0]),
        median_f64(&create[1]),
        result["create_median_ratio"].as_f64().unwrap_or(0.0),
        median_f64(&ps[0]),
        median_f64(&ps[1]),
    );
    common::write_result("e2e", &result);
}
