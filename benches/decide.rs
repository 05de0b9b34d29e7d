//! Decision-core benchmark (criterion): what one decision costs in CPU, with no I/O, for the three
//! bodies of issue 6 (a real `docker run` body, a ≈20 KB compose-style body, the largest body
//! dockerd forwards), each next to a bare `serde_json::from_slice::<Value>` of the same body bytes
//! in the same run — the yardstick "1 MiB decided in ≤ 3× a bare parse" is measured against.
//!
//! Per body, three functions:
//! - `serde_value`: `serde_json::from_slice::<serde_json::Value>(body)` (the yardstick);
//! - `decide`: `decide(&policy, &authz)` on an already parsed AuthZ request (base64 decode,
//!   Content-Length check, Go-semantics decode, every rule that applies);
//! - `full`: what the server does per request besides HTTP and logging: parse the AuthZ JSON,
//!   decide, serialise the answer.
//!
//! Criterion is driven from our own `main` (not `criterion_main!`) so `cargo test --all-targets`
//! with libtest flags still passes. `make bench` sets `CRITERION_HOME=bench-results/criterion`; `benches/report.rs` reads the
//! medians from there.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, Criterion, Throughput};
use rootfs_guard::{decide, AuthZRequest, Policy};

fn decision_core(c: &mut Criterion) {
    let policy = Policy::default();
    for b in common::bench_bodies() {
        let authz: AuthZRequest = serde_json::from_slice(&b.authz).expect("AuthZ request");
        // The bodies are read-only creates: every create rule runs to the end and allows.
        let d = decide(&policy, &authz);
        assert!(d.allow && d.rule.is_none(), "{}: {d:?}", b.name);

        let mut group = c.benchmark_group(format!("decide_{}", b.name));
        group.throughput(Throughput::Bytes(b.body.len() as u64));
        if b.body.len() > 100_000 {
            group.sample_size(20);
        }
        group.bench_function("serde_value", |bench| {
            bench.iter(|| {
                serde_json::from_slice::<serde_json::Value>(black_box(&b.body)).expect("JSON")
            })
        });
        group.bench_function("decide", |bench| {
            bench.iter(|| decide(black_box(&policy), black_box(&authz)))
        });
        // As the server reads it: from the HTTP body's buffer, the RequestBody shared, not copied.
        let authz_bytes = bytes::Bytes::from(b.authz.clone());
        group.bench_function("full", |bench| {
            bench.iter(|| {
                let req = AuthZRequest::from_json(black_box(&authz_bytes)).expect("AuthZ request");
                let d = decide(&policy, &req);
                serde_json::to_vec(&d.response()).expect("answer")
            })
        });
        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(3))
        .sample_size(40)
}

criterion_group! {
    name = benches;
    config = config();
    targets = decision_core
}
/// Under `cargo bench`, criterion's harness; under `cargo test` (which passes libtest flags such as
/// `--test-threads` that criterion rejects), one decision per body as a smoke check.
fn main() {
    if !common::invoked_by_cargo_bench() {
        let policy = Policy::default();
        for b in common::bench_bodies() {
            let authz: AuthZRequest = serde_json::from_slice(&b.authz).expect("AuthZ request");
            assert!(decide(&policy, &authz).allow, "{}", b.name);
        }
        eprintln!("decide: bodies decide as expected; measures only under `cargo bench`");
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
