//! Over-the-wire benchmarks of the plugin server, each against the real thing a dockerd talks to:
//! the release `rootfs-guard serve` process on a unix socket.
//!
//! - **throughput**: a closed-loop load generator (hyper 1 http1 client, N persistent connections:
//!   1, 8, 32, 128) posts `/AuthZPlugin.AuthZReq` with the 3 KB, 20 KB and 1 MiB bodies to
//!   rootfs-guard and to the no-op baseline (same stack, answers `{"Allow":true}` without decoding),
//!   interleaved (B S, S B, B S ...) so both see the same machine load; requests/s, p50/p99,
//!   server CPU per request, ratios per pair.
//! - **budget**: what work per request costs at the target's load (3 KB × 32): the no-op baseline
//!   told to do fixed work (busy-waits of 0.5/1/2 µs; find + base64-decode + UTF-8-check the body;
//!   a serde_json syntax check of it; a bare serde_json parse of it; rootfs-guard's decision
//!   alone; its log line alone), each
//!   interleaved with the plain no-op. Shows how much a server may spend per request and keep a
//!   ratio, and how the decision and the log line each weigh on their own.
//! - **memory**: RSS of a fresh rootfs-guard process idle and under 64 connections of 1 MiB bodies.
//! - **soak**: 2,000,000 mixed decisions (recorded dockerd traffic, 3 KB/20 KB/1 MiB creates,
//!   denials, AuthZRes) on one process; every answer is checked against `decide()` run locally;
//!   RSS sampled throughout.
//! - **startup**: exec → socket accepting, 20 times.
//!
//! Runs only under `cargo bench` (see `make bench`); `cargo test` builds it and returns at once.
//! Traffic goes only to unix sockets in a private temp dir; every loop is bounded in time and count.
//! Knobs: `ROOTFS_GUARD_BENCH_QUICK=1` (short runs while developing),
//! `ROOTFS_GUARD_BENCH_STAGES=throughput,budget,memory,soak,startup` (a subset),
//! `ROOTFS_GUARD_BENCH_BODIES=3KB,20KB,1MiB` (a subset of the throughput matrix),
//! `ROOTFS_GUARD_BENCH_SOAK_DECISIONS` (default 2,000,000), `ROOTFS_GUARD_BENCH_BIN` (another
//! rootfs-guard build to measure, e.g. before/after a change).

mod common;
mod servers;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use rootfs_guard::{decide, AuthZRequest, Policy};
use serde_json::{json, Value};

use common::{json_f64 as f, median_f64, percentile, range_f64};
use servers::{NoopWork, ServerKind, ServerProcess};

/// Connection counts of the throughput matrix.
const CONNS: [usize; 4] = [1, 8, 32, 128];

/// One request the load generator sends.
#[derive(Clone)]
struct Req {
    path: &'static str,
    body: Bytes,
    /// Whether the answer must be `{"Allow":true...` (else `{"Allow":false...`).
    allow: bool,
}

/// What one load run measured.
struct LoadOutcome {
    /// Requests answered correctly inside the measurement window.
    completed: u64,
    /// Wrong answers, HTTP errors, transport errors (whole run, warm-up included).
    errors: u64,
    first_error: Option<String>,
    /// Length of the measurement window actually used.
    window: Duration,
    /// Latencies (ns) of the requests counted in `completed`, sorted.
    lat_ns: Vec<u64>,
}

impl LoadOutcome {
    fn rps(&self) -> f64 {
        self.completed as f64 / self.window.as_secs_f64()
    }
    fn p50_us(&self) -> f64 {
        percentile(&self.lat_ns, 50.0) as f64 / 1e3
    }
    fn p99_us(&self) -> f64 {
        percentile(&self.lat_ns, 99.0) as f64 / 1e3
    }
}

async fn connect(socket: &Path) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .map_err(|e| format!("connect {}: {e}", socket.display()))?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// One request/answer exchange, checked.
async fn exchange(sender: &mut SendRequest<Full<Bytes>>, r: &Req) -> Result<(), String> {
    // Like dockerd's plugin client: POST, the plugin Accept header, a Content-Length.
    let req = Request::post(r.path)
        .header("Host", "plugin")
        .header("Accept", "application/vnd.docker.plugins.v1.2+json")
        .body(Full::new(r.body.clone()))
        .map_err(|e| e.to_string())?;
    sender.ready().await.map_err(|e| format!("ready: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("read answer: {e}"))?
        .to_bytes();
    let want: &[u8] = if r.allow {
        br#"{"Allow":true"#
    } else {
        br#"{"Allow":false"#
    };
    if status != StatusCode::OK || !body.starts_with(want) {
        return Err(format!(
            "{} {status}: {}",
            r.path,
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ));
    }
    Ok(())
}

/// Drives `conns` persistent connections, each sending `mix` round-robin (from its own offset)
/// back to back, for `warmup` + `measure` or until `max_requests` were sent, whichever is first.
async fn load(
    socket: &Path,
    conns: usize,
    mix: Arc<Vec<Req>>,
    warmup: Duration,
    measure: Duration,
    max_requests: Option<u64>,
    issued: Arc<AtomicU64>,
) -> LoadOutcome {
    let mut senders = Vec::with_capacity(conns);
    for _ in 0..conns {
        senders.push(
            connect(socket)
                .await
                .expect("connect to the server under test"),
        );
    }
    let t0 = Instant::now();
    let from = t0 + warmup;
    let until = from + measure;
    let mut tasks = Vec::with_capacity(conns);
    for (c, mut sender) in senders.into_iter().enumerate() {
        let mix = mix.clone();
        let issued = issued.clone();
        let socket = socket.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(4096);
            let (mut errors, mut first_error, mut last_done) = (0u64, None, from);
            let mut i = c * 7919;
            loop {
                if Instant::now() >= until {
                    break;
                }
                if let Some(max) = max_requests {
                    if issued.fetch_add(1, Ordering::Relaxed) >= max {
                        break;
                    }
                } else {
                    issued.fetch_add(1, Ordering::Relaxed);
                }
                let r = &mix[i % mix.len()];
                i += 1;
                let start = Instant::now();
                let result = exchange(&mut sender, r).await;
                let done = Instant::now();
                match result {
                    Ok(()) => {
                        if start >= from && done <= until {
                            lat.push((done - start).as_nanos() as u64);
                            last_done = last_done.max(done);
                        }
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                        if sender.is_closed() {
                            match connect(&socket).await {
                                Ok(s) => sender = s,
                                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                            }
                        }
                    }
                }
            }
            (lat, errors, first_error, last_done)
        }));
    }
    let mut out = LoadOutcome {
        completed: 0,
        errors: 0,
        first_error: None,
        window: measure,
        lat_ns: Vec::new(),
    };
    let mut last = from;
    for t in tasks {
        let (lat, errors, first_error, last_done) = t.await.expect("load task");
        out.lat_ns.extend(lat);
        out.errors += errors;
        if out.first_error.is_none() {
            out.first_error = first_error;
        }
        last = last.max(last_done);
    }
    // A count-bounded run may end before the window does.
    if max_requests.is_some() {
        out.window = (last - from).max(Duration::from_millis(1));
    }
    out.completed = out.lat_ns.len() as u64;
    out.lat_ns.sort_unstable();
    out
}

/// User + system CPU time of a process so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_nanos(ticks * 1_000_000_000 / hz)
}

struct Bench {
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    quick: bool,
}

impl Bench {
    fn socket(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.sock"))
    }

    #[allow(clippy::too_many_arguments)]
    fn run_load(
        &self,
        server: &ServerProcess,
        conns: usize,
        mix: &Arc<Vec<Req>>,
        warmup: Duration,
        measure: Duration,
        max_requests: Option<u64>,
        issued: &Arc<AtomicU64>,
    ) -> (LoadOutcome, Duration) {
        let cpu0 = cpu_time(server.pid());
        let out = self.rt.block_on(load(
            &server.socket,
            conns,
            mix.clone(),
            warmup,
            measure,
            max_requests,
            issued.clone(),
        ));
        (out, cpu_time(server.pid()).saturating_sub(cpu0))
    }

    /// Throughput matrix, rootfs-guard and the no-op baseline interleaved.
    fn throughput(&self) -> Value {
        let reps = if self.quick { 1 } else { 3 };
        let guard = ServerProcess::start(ServerKind::Guard, &self.socket("guard"), None);
        let noop = ServerProcess::start(ServerKind::Noop, &self.socket("noop"), None);
        eprintln!("  pids: rootfs-guard {}, no-op {}", guard.pid(), noop.pid());
        let only = std::env::var("ROOTFS_GUARD_BENCH_BODIES").ok();
        // A subset of the connection counts (e.g. "32"), for profiling one load level.
        let conns_wanted: Vec<usize> = std::env::var("ROOTFS_GUARD_BENCH_CONNS")
            .ok()
            .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
            .unwrap_or_else(|| CONNS.to_vec());
        let mut rows = Vec::new();
        for b in common::bench_bodies() {
            if only
                .as_deref()
                .is_some_and(|o| !o.split(',').any(|n| n == b.name))
            {
                continue;
            }
            let mix = Arc::new(vec![Req {
                path: "/AuthZPlugin.AuthZReq",
                body: Bytes::from(b.authz.clone()),
                allow: true,
            }]);
            let large = b.body.len() > 100_000;
            let (warmup, measure) = match (self.quick, large) {
                (true, _) => (Duration::from_millis(100), Duration::from_millis(400)),
                (false, false) => (Duration::from_millis(250), Duration::from_millis(1500)),
                (false, true) => (Duration::from_millis(300), Duration::from_millis(2000)),
            };
            for &conns in &conns_wanted {
                let per = self.interleaved([&noop, &guard], conns, &mix, warmup, measure, reps);
                let mut row = compare(&per);
                row["body"] = json!(b.name);
                row["conns"] = json!(conns);
                eprintln!(
                    "  {:>5} x{:<3} no-op {:>8.0} req/s p99 {:>7.0} µs | guard {:>8.0} req/s p99 {:>7.0} µs | {}",
                    b.name,
                    conns,
                    f(&row["noop"]["rps"]),
                    f(&row["noop"]["p99_us"]),
                    f(&row["guard"]["rps"]),
                    f(&row["guard"]["p99_us"]),
                    ratios(&row),
                );
                rows.push(row);
            }
        }
        json!({"reps": reps, "rows": rows})
    }

    /// `reps` interleaved load runs of a baseline and a candidate server (B C, C B, B C ...) so
    /// both see the same machine load: the per-run metrics of each, `[baseline, candidate]`.
    #[allow(clippy::too_many_arguments)]
    fn interleaved(
        &self,
        [baseline, candidate]: [&ServerProcess; 2],
        conns: usize,
        mix: &Arc<Vec<Req>>,
        warmup: Duration,
        measure: Duration,
        reps: usize,
    ) -> [Vec<Value>; 2] {
        let mut per = [Vec::new(), Vec::new()];
        for rep in 0..reps {
            let order = if rep % 2 == 0 {
                [(0, baseline), (1, candidate)]
            } else {
                [(1, candidate), (0, baseline)]
            };
            for (idx, server) in order {
                let issued = Arc::new(AtomicU64::new(0));
                let (out, cpu) = self.run_load(server, conns, mix, warmup, measure, None, &issued);
                if let Some(e) = &out.first_error {
                    eprintln!(
                        "  {} errors: {} (first: {e})",
                        server.kind.label(),
                        out.errors
                    );
                }
                per[idx].push(json!({
                    "rps": out.rps(),
                    "p50_us": out.p50_us(),
                    "p99_us": out.p99_us(),
                    "errors": out.errors,
                    "requests": out.completed,
                    // Server CPU (user+sys, 10 ms ticks) per request, whole run.
                    "cpu_us_per_req": cpu.as_secs_f64() * 1e6 / (issued.load(Ordering::Relaxed).max(1) as f64),
                }));
            }
        }
        per
    }

    /// What work per request costs over the wire at the throughput target's load (3 KB body, 32
    /// connections): the no-op baseline against itself told to do fixed work first — busy-waits
    /// of 0.5, 1 and 2 µs, the least any decision must do (find, base64-decode and UTF-8-check the
    /// body), a serde_json syntax check of the body, a bare serde_json parse of it, rootfs-guard's
    /// decision alone and its log line alone — each interleaved with the plain no-op, like the
    /// throughput rows.
    fn budget(&self) -> Value {
        let reps = if self.quick { 1 } else { 3 };
        // 32 (the target's load) unless one count is asked for.
        let conns = std::env::var("ROOTFS_GUARD_BENCH_CONNS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(32);
        let (warmup, measure) = if self.quick {
            (Duration::from_millis(100), Duration::from_millis(400))
        } else {
            (Duration::from_millis(250), Duration::from_millis(1500))
        };
        let body = common::bench_bodies()
            .into_iter()
            .find(|b| b.name == "3KB")
            .expect("the 3 KB body");
        let mix = Arc::new(vec![Req {
            path: "/AuthZPlugin.AuthZReq",
            body: Bytes::from(body.authz),
            allow: true,
        }]);
        let noop = ServerProcess::start(ServerKind::Noop, &self.socket("budget-noop"), None);
        let mut rows = Vec::new();
        for work in NoopWork::SERIES {
            let name = work.name();
            let worker = ServerProcess::start_with(
                ServerKind::Noop,
                work,
                &self.socket(&format!("budget-{name}")),
                None,
            );
            let per = self.interleaved([&noop, &worker], conns, &mix, warmup, measure, reps);
            let mut row = compare(&per);
            row["work"] = json!(name);
            row["what"] = json!(work.describe());
            row["conns"] = json!(conns);
            row["body"] = json!("3KB");
            eprintln!("  no-op + {name:<12} 3KB x{conns}: {}", ratios(&row));
            rows.push(row);
        }
        json!({"reps": reps, "rows": rows})
    }

    /// RSS of a fresh server process: idle, and under 64 connections posting 1 MiB bodies.
    fn memory(&self, kind: ServerKind) -> Value {
        let server =
            ServerProcess::start(kind, &self.socket(&format!("mem-{}", kind.label())), None);
        let issued = Arc::new(AtomicU64::new(0));
        // One small request first (dockerd's first call after activation), then let it settle.
        let first = Req {
            path: "/AuthZPlugin.AuthZReq",
            body: Bytes::from(common::fixture("cli-ps--01-req-GET-containers_json.json")),
            allow: true,
        };
        self.rt
            .block_on(async {
                let mut s = connect(&server.socket).await?;
                exchange(&mut s, &first).await
            })
            .expect("first request");
        std::thread::sleep(Duration::from_millis(300));
        let (idle_rss, idle_hwm) = server.rss_kib();
        let large = common::bench_bodies().pop().expect("1 MiB body");
        let mix = Arc::new(vec![Req {
            path: "/AuthZPlugin.AuthZReq",
            body: Bytes::from(large.authz),
            allow: true,
        }]);
        let stop = Arc::new(AtomicBool::new(false));
        let pid = server.pid();
        let sampler = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut max_rss = 0;
                while !stop.load(Ordering::Relaxed) {
                    if let Some((rss, _)) = common::rss_kib(pid) {
                        max_rss = max_rss.max(rss);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                max_rss
            })
        };
        let measure = Duration::from_secs(if self.quick { 1 } else { 4 });
        let (out, _) = self.run_load(&server, 64, &mix, Duration::ZERO, measure, None, &issued);
        stop.store(true, Ordering::Relaxed);
        let max_sampled = sampler.join().expect("sampler");
        let (_, hwm) = server.rss_kib();
        std::thread::sleep(Duration::from_secs(1));
        let (after_rss, _) = server.rss_kib();
        eprintln!(
            "  {}: idle {idle_rss} KiB, 64 x 1 MiB: peak (VmHWM) {hwm} KiB, sampled max {max_sampled} KiB, 1 s after {after_rss} KiB; {} req, {} errors",
            kind.label(),
            out.completed,
            out.errors
        );
        json!({
            "idle_rss_kib": idle_rss,
            "idle_hwm_kib": idle_hwm,
            "load_hwm_kib": hwm,
            "load_max_sampled_rss_kib": max_sampled,
            "after_load_rss_kib": after_rss,
            "load_requests": out.completed,
            "load_rps": out.rps(),
            "load_errors": out.errors,
        })
    }

    /// 2,000,000 mixed decisions on one rootfs-guard process over 16 connections, RSS sampled
    /// every 100 ms.
    fn soak(&self) -> Value {
        let total: u64 = std::env::var("ROOTFS_GUARD_BENCH_SOAK_DECISIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(if self.quick { 100_000 } else { 2_000_000 });
        let time_limit = Duration::from_secs(if self.quick { 60 } else { 300 });
        let mix = Arc::new(soak_mix());
        let server = ServerProcess::start(ServerKind::Guard, &self.socket("soak"), None);
        std::thread::sleep(Duration::from_millis(200));
        let (idle_rss, _) = server.rss_kib();
        let issued = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let pid = server.pid();
        let sampler = {
            let (stop, issued) = (stop.clone(), issued.clone());
            std::thread::spawn(move || {
                let mut samples: Vec<(u64, u64)> = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    if let Some((rss, _)) = common::rss_kib(pid) {
                        samples.push((issued.load(Ordering::Relaxed), rss));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                samples
            })
        };
        let started = Instant::now();
        let (out, cpu) = self.run_load(
            &server,
            16,
            &mix,
            Duration::ZERO,
            time_limit,
            Some(total),
            &issued,
        );
        let elapsed = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        let samples = sampler.join().expect("sampler");
        let (end_rss, hwm) = server.rss_kib();
        // The envelope (max VmRSS) of the samples in a window of the run, by requests sent: a
        // single sample depends on whether a 1 MiB decision happens to be in flight.
        let sent = samples.last().map_or(1, |s| s.0.max(1));
        let at = |from: f64, to: f64| -> u64 {
            samples
                .iter()
                .filter(|(n, _)| {
                    let x = *n as f64 / sent as f64;
                    x >= from && x <= to
                })
                .map(|s| s.1)
                .max()
                .unwrap_or(0)
        };
        let (start, mid, end) = (at(0.0, 0.1), at(0.45, 0.55), at(0.9, 1.0));
        let deciles: Vec<u64> = (0..10)
            .map(|i| at(i as f64 / 10.0, (i + 1) as f64 / 10.0))
            .collect();
        let decisions = out.completed + out.errors;
        let result = json!({
            "decisions": decisions,
            "correct": out.completed,
            "errors": out.errors,
            "first_error": out.first_error,
            "seconds": elapsed.as_secs_f64(),
            "rps": decisions as f64 / elapsed.as_secs_f64(),
            "p50_us": out.p50_us(),
            "p99_us": out.p99_us(),
            "cpu_us_per_req": cpu.as_secs_f64() * 1e6 / decisions.max(1) as f64,
            "idle_rss_kib": idle_rss,
            // Max VmRSS over the first 10 %, the middle 10 % and the last 10 % of the run.
            "rss_start_kib": start,
            "rss_mid_kib": mid,
            "rss_end_kib": end,
            "rss_after_kib": end_rss,
            "rss_max_per_decile_kib": deciles,
            "hwm_kib": hwm,
            "samples": samples.len(),
            "mix": mix_summary(&mix),
        });
        eprintln!(
            "  soak: {decisions} decisions in {:.1} s, {} errors; RSS idle {idle_rss}, max over first/middle/last 10 %: {start} / {mid} / {end} KiB, after {end_rss} KiB, VmHWM {hwm} KiB; per decile {deciles:?}",
            elapsed.as_secs_f64(),
            out.errors,
        );
        result
    }

    /// exec → socket accepting, 20 times.
    fn startup(&self) -> Value {
        let mut ms = Vec::new();
        for i in 0..20 {
            let server =
                ServerProcess::start(ServerKind::Guard, &self.socket(&format!("start{i}")), None);
            ms.push(server.ready_after.as_secs_f64() * 1e3);
        }
        let (lo, hi) = range_f64(&ms);
        eprintln!(
            "  startup: median {:.1} ms (min {lo:.1}, max {hi:.1})",
            median_f64(&ms)
        );
        json!({"runs": ms.len(), "median_ms": median_f64(&ms), "min_ms": lo, "max_ms": hi, "all_ms": ms})
    }
}

/// One comparison row from [`Bench::interleaved`]'s runs: the median metrics of the baseline
/// (`noop`) and the candidate (`guard`), the candidate/baseline ratios (median and min–max over
/// the pairs), and every run.
fn compare(per: &[Vec<Value>; 2]) -> Value {
    let get = |i: usize, k: &str| -> Vec<f64> { per[i].iter().map(|r| f(&r[k])).collect() };
    let ratio = |k: &str| -> Vec<f64> {
        get(1, k)
            .iter()
            .zip(get(0, k))
            .map(|(g, n)| g / n)
            .collect()
    };
    let (rps_r, p99_r, p50_r) = (ratio("rps"), ratio("p99_us"), ratio("p50_us"));
    json!({
        "noop": summarise(&per[0]),
        "guard": summarise(&per[1]),
        "rps_ratio": median_f64(&rps_r),
        "rps_ratio_range": range_f64(&rps_r),
        "p50_ratio": median_f64(&p50_r),
        "p99_ratio": median_f64(&p99_r),
        "p99_ratio_range": range_f64(&p99_r),
        "runs": {"noop": per[0], "guard": per[1]},
    })
}

/// A [`compare`] row's ratios and CPU per request, for the progress lines.
fn ratios(row: &Value) -> String {
    format!(
        "ratio {:.3} ({:.3}-{:.3}) p99 ratio {:.2} | CPU/req {:.1} vs {:.1} µs",
        f(&row["rps_ratio"]),
        f(&row["rps_ratio_range"][0]),
        f(&row["rps_ratio_range"][1]),
        f(&row["p99_ratio"]),
        f(&row["guard"]["cpu_us_per_req"]),
        f(&row["noop"]["cpu_us_per_req"]),
    )
}

/// Median and spread of per-run metrics.
fn summarise(runs: &[Value]) -> Value {
    let get = |k: &str| -> Vec<f64> { runs.iter().map(|r| f(&r[k])).collect() };
    json!({
        "rps": median_f64(&get("rps")),
        "rps_range": range_f64(&get("rps")),
        "p50_us": median_f64(&get("p50_us")),
        "p99_us": median_f64(&get("p99_us")),
        "p99_range": range_f64(&get("p99_us")),
        "cpu_us_per_req": median_f64(&get("cpu_us_per_req")),
        "errors": runs.iter().map(|r| r["errors"].as_u64().unwrap_or(0)).sum::<u64>(),
    })
}

/// The soak's traffic: recorded dockerd requests (reads, creates allowed and denied, starts,
/// execs, AuthZRes) in dockerd-like proportions, 20 KB compose creates, and one 1 MiB create per
/// thousand requests, in a fixed shuffled order. The expected answer of each is what `decide()`
/// says locally.
fn soak_mix() -> Vec<Req> {
    let policy = Policy::default();
    let bodies = common::bench_bodies();
    let req = |authz: Vec<u8>| -> Req {
        let parsed: AuthZRequest = serde_json::from_slice(&authz).expect("AuthZ request");
        Req {
            path: "/AuthZPlugin.AuthZReq",
            allow: decide(&policy, &parsed).allow,
            body: Bytes::from(authz),
        }
    };
    let weighted: Vec<(Req, usize)> = vec![
        (
            req(common::fixture("cli-ps--01-req-GET-containers_json.json")),
            20,
        ),
        (
            req(common::fixture("cli-images--01-req-GET-images_json.json")),
            10,
        ),
        (
            req(common::fixture(
                "cli-inspect--01-req-GET-containers_NAME_json.json",
            )),
            10,
        ),
        (req(bodies[0].authz.clone()), 15),
        (
            req(common::fixture(
                "cli-create-default--01-req-POST-containers_create.json",
            )),
            8,
        ),
        (
            req(common::fixture(
                "cli-create-allow-label--01-req-POST-containers_create.json",
            )),
            5,
        ),
        (
            req(common::fixture(
                "cli-run-readonly--05-req-POST-containers_ID_start.json",
            )),
            10,
        ),
        (
            req(common::fixture(
                "cli-exec--02-req-POST-containers_NAME_exec.json",
            )),
            4,
        ),
        (
            req(common::fixture(
                "cli-exec-privileged--02-req-POST-containers_NAME_exec.json",
            )),
            2,
        ),
        (req(bodies[1].authz.clone()), 6),
        (
            Req {
                path: "/AuthZPlugin.AuthZRes",
                body: Bytes::from(common::fixture(
                    "cli-create-readonly--02-res-POST-containers_create.json",
                )),
                allow: true,
            },
            10,
        ),
    ];
    let mut mix = Vec::new();
    for _ in 0..10 {
        for (r, n) in &weighted {
            mix.extend(std::iter::repeat_n(r.clone(), *n));
        }
    }
    mix.push(req(bodies[2].authz.clone()));
    assert!(mix.iter().any(|r| !r.allow) && mix.iter().any(|r| r.allow));
    // Fixed-seed Fisher-Yates (a 64-bit LCG): the same order every run.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for i in (1..mix.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        mix.swap(i, (state >> 33) as usize % (i + 1));
    }
    mix
}

fn mix_summary(mix: &[Req]) -> Value {
    let denied = mix.iter().filter(|r| !r.allow).count();
    let bytes: usize = mix.iter().map(|r| r.body.len()).sum();
    json!({"cycle": mix.len(), "denied_per_cycle": denied, "mean_request_bytes": bytes / mix.len().max(1)})
}

fn main() {
    servers::run_noop_server_if_asked();
    if !common::invoked_by_cargo_bench() {
        eprintln!("wire: measures only under `cargo bench` (make bench); nothing to do");
        return;
    }
    let quick = std::env::var("ROOTFS_GUARD_BENCH_QUICK").as_deref() == Ok("1");
    let stages = std::env::var("ROOTFS_GUARD_BENCH_STAGES")
        .unwrap_or_else(|_| "throughput,budget,memory,soak,startup".into());
    let bench = Bench {
        rt: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("client runtime"),
        // Short: a unix socket path must fit in 108 bytes.
        dir: tempfile::Builder::new()
            .prefix("rgb-")
            .tempdir_in("/tmp")
            .expect("temp dir"),
        quick,
    };
    let mut result = json!({"quick": quick});
    for stage in stages.split(',').map(str::trim) {
        eprintln!("wire: {stage}");
        let t = Instant::now();
        let v = match stage {
            "throughput" => bench.throughput(),
            "memory" => json!({
                "guard": bench.memory(ServerKind::Guard),
                "noop": bench.memory(ServerKind::Noop),
            }),
            "budget" => bench.budget(),
            "soak" => bench.soak(),
            "startup" => bench.startup(),
            other => panic!("unknown stage {other}"),
        };
        eprintln!("wire: {stage} took {:.0} s", t.elapsed().as_secs_f64());
        result[stage] = v;
    }
    // Merge with an earlier partial run's stages, so a subset can be re-run.
    let path = common::results_dir().join("wire.json");
    if let Ok(old) = std::fs::read(&path) {
        if let Ok(Value::Object(old)) = serde_json::from_slice::<Value>(&old) {
            for (k, v) in old {
                if result.get(&k).is_none() {
                    result[k] = v;
                }
            }
        }
    }
    common::write_result("wire", &result);
}
