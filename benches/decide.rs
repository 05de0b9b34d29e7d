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
//! Then the allowlist at scale (issue 17): a writable create exempted by one of N exceptions
//! (prefix image patterns, exact images and user-scoped entries, a third each), decided with
//! N = 1, 100, 1,000 and 10,000, and the time to load the 10,000-entry policy file.
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

/// A policy of `n` governed exceptions: prefix patterns, exact images and user-scoped entries.
pub fn allowlist_policy_json(n: usize) -> String {
    let entries: Vec<String> = (0..n)
        .map(|i| {
            let scope = match i % 3 {
                0 => format!(r#""images":["registry.example.com/team{i}/*"]"#),
                1 => format!(r#""images":["registry.example.com/app{i}:1.{i}"]"#),
                _ => format!(r#""users":["user{i}"]"#),
            };
            format!(
                r#"{{"id":"exc-{i}","key":"rootfs-guard.allow-writable","value":"true",{scope},"owner":"team{i}@example.com","reason":"legacy app writes its root","expires":"2099-12-31"}}"#
            )
        })
        .collect();
    format!(r#"{{"allow_labels":[{}]}}"#, entries.join(","))
}

/// A writable create by the last prefix-scoped entry of an `n`-entry allowlist.
fn exempted_create(n: usize) -> AuthZRequest {
    let team = (n - 1) / 3 * 3;
    let body = format!(
        r#"{{"Image":"registry.example.com/team{team}/svc:2","Cmd":["sh"],"Labels":{{"rootfs-guard.allow-writable":"true"}},"HostConfig":{{"ReadonlyRootfs":false}}}}"#
    );
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &body);
    serde_json::from_value(serde_json::json!({
        "RequestMethod": "POST",
        "RequestUri": "/v1.41/containers/create",
        "RequestBody": b64,
        "RequestHeaders": {"Content-Type": "application/json", "Content-Length": body.len().to_string()},
    }))
    .expect("AuthZ request")
}

fn allowlist(c: &mut Criterion) {
    let mut group = c.benchmark_group("allowlist");
    for n in [1usize, 100, 1_000, 10_000] {
        let policy = Policy::from_json(&allowlist_policy_json(n), "bench").expect("policy");
        let req = exempted_create(n);
        let d = decide(&policy, &req);
        assert!(d.allow && d.exception.is_some(), "{n}: {d:?}");
        group.bench_function(format!("entries_{n}"), |bench| {
            bench.iter(|| decide(black_box(&policy), black_box(&req)))
        });
    }
    let text = allowlist_policy_json(10_000);
    group.sample_size(10);
    group.bench_function("load_10000", |bench| {
        bench.iter(|| {
            let p = Policy::from_json(black_box(&text), "bench").expect("policy");
            // Loading includes the first decision, which builds the index.
            decide(&p, &exempted_create(10_000))
        })
    });
    group.finish();
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
    targets = decision_core, allowlist
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
        for n in [1, 100, 1_000, 10_000] {
            let policy = Policy::from_json(&allowlist_policy_json(n), "bench").expect("policy");
            let d = decide(&policy, &exempted_create(n));
            assert!(d.allow && d.exception.is_some(), "{n}: {d:?}");
        }
        eprintln!("decide: bodies decide as expected; measures only under `cargo bench`");
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
