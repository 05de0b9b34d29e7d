//! End-to-end benchmark: what a Docker user waits for. One private dockerd (the e2e harness of
//! `tests/support`) runs `docker create --read-only bb:latest sh` and `docker ps` through
//! rootfs-guard and through the no-op baseline plugin, alternating per iteration (G N N G G N ...),
//! so both see the same daemon, data root and machine load. The plugin is switched the way an
//! operator would: `authorization-plugins` in the daemon's config file plus SIGHUP (dockerd reloads
//! it), and every iteration checks in rootfs-guard's log which plugin judged its create.
//!
//! Each CLI call is timed from spawn to exit (no polling). Results go to `bench-results/e2e.json`.
//! Runs only under `cargo bench` (see `make bench`); needs root and dockerd like the e2e tests
//! (`ROOTFS_GUARD_SKIP_E2E=1` skips it). `ROOTFS_GUARD_BENCH_E2E_ITERATIONS` (default 300, ≥ 20)
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

/// Warm-up iterations, and the window (per plugin) over which the spread of the ratio is reported.
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
        std::thread::sleep(Duration::from_millis(5));
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
        .unwrap_or(300)
        .max(BLOCK);

    // Both plugins are legacy plugins in /run/docker/plugins with names unique to this process.
    let guard = PluginProcess::start(None);
    let noop_name = format!("rg-bench-noop-{}", std::process::id());
    let noop_socket = Path::new("/run/docker/plugins").join(format!("{noop_name}.sock"));
    // ROOTFS_GUARD_BENCH_E2E_BASELINE=guard: a second rootfs-guard as the baseline (an A/A run
    // that shows the harness's own bias).
    let baseline = match std::env::var("ROOTFS_GUARD_BENCH_E2E_BASELINE").as_deref() {
        Ok("guard") => ServerKind::Guard,
        _ => ServerKind::Noop,
    };
    let _noop = ServerProcess::start(baseline, &noop_socket, None);
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
                                                                                     // Which plugin judged a create: rootfs-guard logs one "allowed" line per allowed create.
    let guard_allowed = || guard.logs().matches(" allowed").count();
    let mut ids = Vec::new();
    let mut switches = 0usize;
    let started = Instant::now();
    let mut current = 0usize; // dockerd starts with rootfs-guard
    for i in 0..2 * iterations {
        // G N N G G N N G ...: alternate per iteration, each plugin first in half of the pairs,
        // so drift (the daemon's state, the machine's load) falls on both alike.
        let which = [0usize, 1, 1, 0][i % 4];
        if which != current {
            switch_plugin(
                &d,
                &config,
                if which == 0 { guard.name() } else { &noop_name },
            );
            current = which;
            switches += 1;
        }
        let before = guard_allowed();
        let mut c = d.docker_command();
        c.args(["create", "--read-only", "bb:latest", "sh"]);
        let (t_create, out) = timed(c);
        ids.push(check(&out, "docker create --read-only"));
        let mut p = d.docker_command();
        p.arg("ps");
        let (t_ps, out) = timed(p);
        check(&out, "docker ps");
        let judged_by_guard = guard_allowed() > before;
        assert_eq!(
            judged_by_guard,
            which == 0,
            "iteration {i}: the create was{} judged by rootfs-guard",
            if judged_by_guard { "" } else { " not" }
        );
        create[which].push(t_create.as_secs_f64() * 1e3);
        ps[which].push(t_ps.as_secs_f64() * 1e3);
        // Every timed create sees the same daemon state: create time grows with the number of
        // containers, so each is removed (untimed) before the next iteration.
        let mut rm = d.docker_command();
        rm.args(["rm", "-f"]).args(&ids);
        check(&timed(rm).1, "docker rm");
        ids.clear();
        if started.elapsed() > TIME_LIMIT {
            eprintln!("e2e: time limit reached after {} iterations", i + 1);
            break;
        }
    }
    eprintln!(
        "e2e: {} iterations, {switches} plugin switches in {:.0} s",
        create[0].len() + create[1].len(),
        started.elapsed().as_secs_f64()
    );
    // Iterations 2k and 2k+1 ran back to back, one under each plugin: their ratio is a paired
    // comparison that machine-load swings (which move both) largely cancel out of.
    let paired =
        |v: &[Vec<f64>; 2]| -> Vec<f64> { v[0].iter().zip(&v[1]).map(|(g, n)| g / n).collect() };
    let (create_pairs, ps_pairs) = (paired(&create), paired(&ps));
    // Spread: the median paired ratio per window of BLOCK pairs.
    let window_ratios: Vec<f64> = create_pairs
        .chunks(BLOCK)
        .filter(|w| w.len() == BLOCK)
        .map(median_f64)
        .collect();
    let result = json!({
        "dockerd": String::from_utf8_lossy(&d.docker(&["version", "--format", "{{.Server.Version}}"]).stdout).trim(),
        "iterations_per_plugin": create[0].len(),
        "create": {"guard": stats(&create[0]), "noop": stats(&create[1])},
        "ps": {"guard": stats(&ps[0]), "noop": stats(&ps[1])},
        "create_median_ratio": median_f64(&create[0]) / median_f64(&create[1]),
        "create_p99_ratio": stats(&create[0])["p99_ms"].as_f64().unwrap_or(0.0) / stats(&create[1])["p99_ms"].as_f64().unwrap_or(1.0),
        "ps_median_ratio": median_f64(&ps[0]) / median_f64(&ps[1]),
        "create_paired_ratio": median_f64(&create_pairs),
        "ps_paired_ratio": median_f64(&ps_pairs),
        "create_window_ratios": window_ratios,
        "seconds": started.elapsed().as_secs_f64(),
        "baseline": baseline.label(),
        "create_ms": {"guard": create[0], "noop": create[1]},
        "ps_ms": {"guard": ps[0], "noop": ps[1]},
    });
    eprintln!(
        "e2e: create median {:.1} ms vs {:.1} ms (ratio {:.3}, paired {:.3}); ps median {:.1} ms vs {:.1} ms",
        median_f64(&create[0]),
        median_f64(&create[1]),
        result["create_median_ratio"].as_f64().unwrap_or(0.0),
        result["create_paired_ratio"].as_f64().unwrap_or(0.0),
        median_f64(&ps[0]),
        median_f64(&ps[1]),
    );
    common::write_result("e2e", &result);
}
