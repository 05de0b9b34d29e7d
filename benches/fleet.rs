//! Fleet audit benchmark (issue 16): three private dockerds with `ROOTFS_GUARD_BENCH_FLEET_N`
//! (default 1,000) containers each, audited in one run (`audit --host A --host B --host C`) vs
//! each alone; the target is one run of all three within 1.3x the slowest one alone (hosts are
//! audited concurrently). The seed's `docker ps -qa | xargs docker inspect` on each daemon is the
//! reference. Wall times from spawn to exit, median of 5 runs; results in
//! `bench-results/fleet.json`. Runs only under `cargo bench` (`make bench`); needs root and
//! dockerd like the e2e tests (`ROOTFS_GUARD_SKIP_E2E=1` skips it).

#[path = "../tests/support/mod.rs"]
mod support;

mod common;

use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::json;

use support::PrivateDockerd;

const RUNS: usize = 5;
const TARGET: f64 = 1.3;

/// Creates `n` containers (a third read-only) through the API, 8 at a time.
fn seed(d: &PrivateDockerd, n: usize) {
    std::thread::scope(|s| {
        for t in 0..8 {
            s.spawn(move || {
                for i in (t..n).step_by(8) {
                    let body = json!({"Image": "bb:latest", "Cmd": ["true"],
                        "HostConfig": {"ReadonlyRootfs": i % 3 == 0}});
                    let (status, out) = d.api(
                        "POST",
                        &format!("/containers/create?name=c{i}"),
                        &[("Content-Type", "application/json")],
                        body,
                    );
                    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&out));
                }
            });
        }
    });
}

/// CPU seconds (user + system) the processes `pids` have used so far.
fn cpu_of(pids: &[u32]) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .map(|stat| {
            // Fields after the command name (which may hold spaces): utime is the 12th, stime 13th.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let f: Vec<&str> = rest.split_whitespace().collect();
            let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            (n(11) + n(12)) / tick
        })
        .sum()
}

/// CPU seconds used by this process's waited-for children so far.
fn children_cpu() -> f64 {
    // SAFETY: getrusage only fills the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

/// Median wall time of `RUNS` runs of `make()`'s command (each must exit with one of `ok`), and
/// the median CPU seconds a run cost: the command's own plus the daemons' (`pids`). The
/// command's own share goes to `own` (median).
fn median_of(
    what: &str,
    ok: &[i32],
    pids: &[u32],
    own: &mut f64,
    make: impl Fn() -> Command,
) -> (f64, f64) {
    let mut cpus = Vec::new();
    let mut owns = Vec::new();
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let mut cmd = make();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let (c0, d0) = (children_cpu(), cpu_of(pids));
        let t = Instant::now();
        let out = cmd.output().expect("spawn");
        times.push(t.elapsed().as_secs_f64());
        let c1 = children_cpu() - c0;
        owns.push(c1);
        cpus.push(c1 + cpu_of(pids) - d0);
        let code = out.status.code().unwrap_or(-1);
        assert!(
            ok.contains(&code),
            "{what}: exit {code}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    times.sort_by(f64::total_cmp);
    cpus.sort_by(f64::total_cmp);
    owns.sort_by(f64::total_cmp);
    *own = owns[RUNS / 2];
    (times[RUNS / 2], cpus[RUNS / 2])
}

fn main() {
    if !common::invoked_by_cargo_bench() {
        eprintln!("fleet: measures only under `cargo bench` (make bench); nothing to do");
        return;
    }
    if !support::e2e_enabled("fleet bench") {
        common::write_result("fleet", &json!({"skipped": "ROOTFS_GUARD_SKIP_E2E=1"}));
        return;
    }
    let n: usize = std::env::var("ROOTFS_GUARD_BENCH_FLEET_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let guard = env!("CARGO_BIN_EXE_rootfs-guard");
    let daemons: Vec<PrivateDockerd> = (0..3).map(|_| PrivateDockerd::start(&[])).collect();
    let t = Instant::now();
    std::thread::scope(|s| {
        for d in &daemons {
            s.spawn(move || {
                d.import_busybox("bb:latest");
                seed(d, n);
            });
        }
    });
    eprintln!(
        "fleet: {n} containers on each of 3 daemons in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let hosts: Vec<String> = daemons.iter().map(|d| d.host()).collect();
    let audit = |hosts: &[String]| {
        let mut cmd = Command::new(guard);
        cmd.arg("audit")
            .args(["--format", "json"])
            .env_remove("DOCKER_HOST");
        for h in hosts {
            cmd.args(["--host", h]);
        }
        cmd
    };
    let pids: Vec<u32> = daemons.iter().filter_map(|d| d.pid()).collect();
    let (alone, alone_cpu): (Vec<f64>, Vec<f64>) = hosts
        .iter()
        .map(|h| {
            median_of("audit alone", &[1], &pids, &mut 0.0, || {
                audit(std::slice::from_ref(h))
            })
        })
        .unzip();
    let mut audit_cpu = 0.0;
    let (together, together_cpu) = median_of("audit together", &[1], &pids, &mut audit_cpu, || {
        audit(&hosts)
    });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The fastest the three can be on this machine: their CPU spread over every core.
    let cpu_bound = together_cpu / cores as f64;
    let reference: Vec<f64> = hosts
        .iter()
        .map(|h| {
            median_of(
                "docker ps | xargs docker inspect",
                &[0],
                &pids,
                &mut 0.0,
                || {
                    let mut cmd = Command::new("sh");
                    cmd.args(["-c", "docker ps -qa | xargs docker inspect >/dev/null"])
                        .env("DOCKER_HOST", h);
                    cmd
                },
            )
            .0
        })
        .collect();
    let slowest = alone.iter().copied().fold(0.0, f64::max);
    let ratio = together / slowest;
    let ok = ratio <= TARGET;
    let result = json!({
        "containers_per_daemon": n,
        "daemons": 3,
        "runs": RUNS,
        "alone_s": alone,
        "together_s": together,
        "slowest_alone_s": slowest,
        "ratio": ratio,
        "target_ratio": TARGET,
        "ok": ok,
        "reference_docker_ps_xargs_inspect_s": reference,
        "alone_cpu_s": alone_cpu,
        "together_cpu_s": together_cpu,
        "together_audit_process_cpu_s": audit_cpu,
        "cores": cores,
        "together_cpu_bound_s": cpu_bound,
        "together_vs_cpu_bound": together / cpu_bound,
        "sum_alone_s": alone.iter().sum::<f64>(),
    });
    common::write_result("fleet", &result);
    println!(
        "fleet: {n} containers x 3 daemons: together {together:.2} s, alone {} s (slowest \
         {slowest:.2} s): {ratio:.2}x (target <= {TARGET}x: {}); docker ps | xargs docker inspect: {} s; \
         CPU (audit + daemons) together {together_cpu:.2} s = {cpu_bound:.2} s on {cores} cores \
         (together is {:.2}x that bound; the audit process itself {audit_cpu:.2} s); sum alone {:.2} s",
        alone.iter().map(|t| format!("{t:.2}")).collect::<Vec<_>>().join(" / "),
        if ok { "ok" } else { "MISSED" },
        reference.iter().map(|t| format!("{t:.2}")).collect::<Vec<_>>().join(" / "),
        together / cpu_bound,
        alone.iter().sum::<f64>(),
    );
    drop(daemons);
}
