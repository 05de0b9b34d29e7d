//! The one summary table of `make bench`: reads what the other benches wrote to `bench-results/`
//! (criterion's estimates for `decide`, `wire.json`, `e2e.json`), prints one markdown table with
//! every measure next to its baseline, the ratio with its spread, the issue-6 target and whether
//! it is met, and writes the same table to `bench-results/summary.md` (quoted in BENCHMARKS.md).
//!
//! Runs only under `cargo bench`; a missing input shows as "not run" rather than failing.

mod common;

use std::path::PathBuf;

use serde_json::Value;

use common::json_f64 as f;

fn read_json(path: PathBuf) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Criterion's median estimate and its 95% confidence interval, in ns.
fn criterion_median(group: &str, function: &str) -> Option<(f64, f64, f64)> {
    let home = std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::results_dir().join("criterion"));
    let v = read_json(home.join(group).join(function).join("new/estimates.json"))?;
    let m = &v["median"];
    Some((
        m["point_estimate"].as_f64()?,
        m["confidence_interval"]["lower_bound"].as_f64()?,
        m["confidence_interval"]["upper_bound"].as_f64()?,
    ))
}

fn time(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} µs", ns / 1e3)
    }
}

fn us(v: &Value) -> String {
    let x = f(v);
    if x >= 1000.0 {
        format!("{:.2} ms", x / 1000.0)
    } else {
        format!("{x:.0} µs")
    }
}

fn mib(kib: &Value) -> String {
    format!("{:.1} MiB", f(kib) / 1024.0)
}

fn status(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**missed**"
    }
}

struct Table(Vec<[String; 6]>);

impl Table {
    fn row(&mut self, cells: [&str; 6]) {
        self.0.push(cells.map(str::to_owned));
    }
    fn render(&self) -> String {
        let mut out = String::from(
            "| measure | rootfs-guard | baseline | ratio [spread] | target | status |\n|---|---|---|---|---|---|\n",
        );
        for r in &self.0 {
            out.push_str(&format!("| {} |\n", r.join(" | ")));
        }
        out
    }
}

fn main() {
    if !common::invoked_by_cargo_bench() {
        eprintln!("report: runs only under `cargo bench` (make bench); nothing to do");
        return;
    }
    let dir = common::results_dir();
    let mut t = Table(Vec::new());

    // Decision core.
    for body in ["3KB", "20KB", "1MiB"] {
        let group = format!("decide_{body}");
        let base = criterion_median(&group, "serde_value");
        for (function, what) in [
            ("decide", "decide()"),
            ("full", "AuthZ parse + decide + answer"),
        ] {
            let label = format!("core {body}: {what} vs serde_json::Value parse of the body");
            match (criterion_median(&group, function), base) {
                (Some((m, lo, hi)), Some((b, blo, bhi))) => {
                    let target = body == "1MiB";
                    t.row([
                        &label,
                        &time(m),
                        &time(b),
                        &format!("{:.2}× [{:.2}–{:.2}]", m / b, lo / bhi, hi / blo),
                        if target { "≤ 3×" } else { "" },
                        if target { status(m / b <= 3.0) } else { "" },
                    ]);
                }
                _ => t.row([&label, "not run", "", "", "", ""]),
            }
        }
    }

    // The allowlist at scale (issue 17): decide with N exceptions vs with 1.
    let one = criterion_median("allowlist", "entries_1");
    for n in [100, 1_000, 10_000] {
        let label = format!("allowlist: decide with {n} exceptions vs 1");
        match (criterion_median("allowlist", &format!("entries_{n}")), one) {
            (Some((m, lo, hi)), Some((b, blo, bhi))) => {
                let target = n == 10_000;
                t.row([
                    &label,
                    &time(m),
                    &time(b),
                    &format!("{:.2}× [{:.2}–{:.2}]", m / b, lo / bhi, hi / blo),
                    if target { "≤ 1.5×" } else { "" },
                    if target { status(m / b <= 1.5) } else { "" },
                ]);
            }
            _ => t.row([&label, "not run", "", "", "", ""]),
        }
    }
    match criterion_median("allowlist", "load_10000") {
        Some((m, _, _)) => t.row([
            "allowlist: load a 10,000-exception policy (parse + index + one decision)",
            &time(m),
            "",
            "",
            "< 1 s",
            status(m < 1e9),
        ]),
        None => t.row([
            "allowlist: load 10,000 exceptions",
            "not run",
            "",
            "",
            "",
            "",
        ]),
    }

    // Over the wire.
    let wire = read_json(dir.join("wire.json")).unwrap_or(Value::Null);
    match wire["throughput"]["rows"].as_array() {
        Some(rows) => {
            for r in rows {
                let (body, conns) = (
                    r["body"].as_str().unwrap_or("?"),
                    r["conns"].as_u64().unwrap_or(0),
                );
                let cell = |s: &Value| {
                    format!(
                        "{:.0} req/s, p50 {}, p99 {}, {:.1} µs CPU/req",
                        f(&s["rps"]),
                        us(&s["p50_us"]),
                        us(&s["p99_us"]),
                        f(&s["cpu_us_per_req"])
                    )
                };
                let (lo, hi) = (f(&r["rps_ratio_range"][0]), f(&r["rps_ratio_range"][1]));
                let (plo, phi) = (f(&r["p99_ratio_range"][0]), f(&r["p99_ratio_range"][1]));
                let ratio = format!(
                    "{:.2}× [{lo:.2}–{hi:.2}]; p99 {:.2}× [{plo:.2}–{phi:.2}]",
                    f(&r["rps_ratio"]),
                    f(&r["p99_ratio"])
                );
                let errors = r["guard"]["errors"].as_u64().unwrap_or(0)
                    + r["noop"]["errors"].as_u64().unwrap_or(0);
                let targeted = body == "3KB" && conns == 32;
                let ok = f(&r["rps_ratio"]) >= 0.90 && f(&r["p99_ratio"]) <= 1.5 && errors == 0;
                t.row([
                    &format!(
                        "wire {body} × {conns} conns{}",
                        if errors > 0 {
                            format!(" ({errors} ERRORS)")
                        } else {
                            String::new()
                        }
                    ),
                    &cell(&r["guard"]),
                    &cell(&r["noop"]),
                    &ratio,
                    if targeted {
                        "≥ 0.90×; p99 ≤ 1.5×"
                    } else {
                        ""
                    },
                    if targeted { status(ok) } else { "" },
                ]);
            }
        }
        None => t.row(["wire throughput", "not run", "", "", "", ""]),
    }
    // What fixed work per request costs at the target's load (no targets: the yardstick for the
    // 3 KB × 32 row above).
    if let Some(rows) = wire["budget"]["rows"].as_array() {
        for r in rows {
            let cell = |s: &Value| {
                format!(
                    "{:.0} req/s, p99 {}, {:.1} µs CPU/req",
                    f(&s["rps"]),
                    us(&s["p99_us"]),
                    f(&s["cpu_us_per_req"])
                )
            };
            let (lo, hi) = (f(&r["rps_ratio_range"][0]), f(&r["rps_ratio_range"][1]));
            t.row([
                &format!(
                    "budget {} × {}: the no-op + {}",
                    r["body"].as_str().unwrap_or("?"),
                    r["conns"],
                    r["what"].as_str().unwrap_or("?")
                ),
                &cell(&r["guard"]),
                &cell(&r["noop"]),
                &format!(
                    "{:.2}× [{lo:.2}–{hi:.2}]; p99 {:.2}×",
                    f(&r["rps_ratio"]),
                    f(&r["p99_ratio"])
                ),
                "",
                "",
            ]);
        }
    }
    let mem = &wire["memory"];
    if mem.is_object() {
        let (g, n) = (&mem["guard"], &mem["noop"]);
        t.row([
            "RSS idle (VmRSS after one request)",
            &mib(&g["idle_rss_kib"]),
            &mib(&n["idle_rss_kib"]),
            "",
            "≤ 10 MiB",
            status(f(&g["idle_rss_kib"]) <= 10.0 * 1024.0),
        ]);
        t.row([
            "RSS peak under 64 conns × 1 MiB bodies (VmHWM)",
            &format!(
                "{} ({} 1 s later)",
                mib(&g["load_hwm_kib"]),
                mib(&g["after_load_rss_kib"])
            ),
            &format!(
                "{} ({} 1 s later)",
                mib(&n["load_hwm_kib"]),
                mib(&n["after_load_rss_kib"])
            ),
            "",
            "≤ 64 MiB",
            status(f(&g["load_hwm_kib"]) <= 64.0 * 1024.0 && g["load_errors"].as_u64() == Some(0)),
        ]);
    } else {
        t.row(["RSS", "not run", "", "", "", ""]);
    }
    let soak = &wire["soak"];
    if soak.is_object() {
        let (mid, end) = (f(&soak["rss_mid_kib"]), f(&soak["rss_end_kib"]));
        let errors = soak["errors"].as_u64().unwrap_or(u64::MAX);
        let grew = end > mid * 1.05 + 512.0;
        t.row([
            "soak: mixed decisions over 16 conns; RSS max over the first / middle / last 10 %",
            &format!(
                "{} decisions in {:.0} s, {errors} errors; {} / {} / {}; VmHWM {}",
                soak["decisions"],
                f(&soak["seconds"]),
                mib(&soak["rss_start_kib"]),
                mib(&soak["rss_mid_kib"]),
                mib(&soak["rss_end_kib"]),
                mib(&soak["hwm_kib"])
            ),
            "",
            &format!("end/middle {:.3}×", end / mid),
            "≥ 1,000,000, 0 errors, no growth",
            status(soak["decisions"].as_u64().unwrap_or(0) >= 1_000_000 && errors == 0 && !grew),
        ]);
    } else {
        t.row(["soak", "not run", "", "", "", ""]);
    }
    let st = &wire["startup"];
    if st.is_object() {
        t.row([
            &format!("ready: exec → socket accepting (median of {})", st["runs"]),
            &format!(
                "{:.1} ms [{:.1}–{:.1}]",
                f(&st["median_ms"]),
                f(&st["min_ms"]),
                f(&st["max_ms"])
            ),
            "",
            "",
            "≤ 50 ms",
            status(f(&st["median_ms"]) <= 50.0),
        ]);
    } else {
        t.row(["startup", "not run", "", "", "", ""]);
    }

    // End to end.
    let e2e = read_json(dir.join("e2e.json")).unwrap_or(Value::Null);
    if e2e["create"].is_object() {
        let pairs: Vec<f64> = e2e["create_window_ratios"]
            .as_array()
            .map(|a| a.iter().map(f).collect())
            .unwrap_or_default();
        let (lo, hi) = common::range_f64(&pairs);
        for (cmd, key, targeted) in [
            ("docker create --read-only", "create", true),
            ("docker ps", "ps", false),
        ] {
            let cell = |s: &Value| {
                format!(
                    "median {:.1} ms, p99 {:.1} ms (n={})",
                    f(&s["median_ms"]),
                    f(&s["p99_ms"]),
                    s["n"]
                )
            };
            let ratio = f(&e2e[format!("{key}_median_ratio")]);
            let paired = f(&e2e[format!("{key}_paired_ratio")]);
            t.row([
                &format!(
                    "e2e `{cmd}` via dockerd {}",
                    e2e["dockerd"].as_str().unwrap_or("?")
                ),
                &cell(&e2e[key]["guard"]),
                &cell(&e2e[key]["noop"]),
                &if targeted {
                    format!("{ratio:.3}× (paired {paired:.3}× [per 20 pairs {lo:.2}–{hi:.2}])")
                } else {
                    format!("{ratio:.3}× (paired {paired:.3}×)")
                },
                if targeted { "median ≤ 1.05×" } else { "" },
                if targeted { status(ratio <= 1.05) } else { "" },
            ]);
        }
    } else {
        let why = e2e["skipped"].as_str().unwrap_or("not run").to_owned();
        t.row(["e2e docker create / ps", &why, "", "", "", ""]);
    }

    let table = t.render();
    let path = dir.join("summary.md");
    std::fs::write(&path, &table).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    println!("\n{table}");
    eprintln!("(also in {})", path.display());
}
