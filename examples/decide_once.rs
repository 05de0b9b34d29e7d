//! Runs one decision-core case N times, for repeatable instruction counts under callgrind (the
//! shared 2-core machine makes wall-clock ratios noisy; instruction counts are not). `make
//! bench-callgrind` runs it; see BENCHMARKS.md.
//!
//! `decide_once BODY MODE N`: BODY is `3KB`, `20KB` or `1MiB` (the bodies of `benches/decide.rs`);
//! MODE is `setup` (build the bodies only), `serde_value`, `decide` or `full`.

#[path = "../benches/common/mod.rs"]
mod common;

use std::hint::black_box;

use rootfs_guard::{decide, AuthZRequest, Policy};

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "1MiB".into());
    let mode = args.next().unwrap_or_else(|| "decide".into());
    let n: usize = args.next().map_or(5, |s| s.parse().expect("N is a number"));
    let body = common::bench_bodies()
        .into_iter()
        .find(|b| b.name == which)
        .unwrap_or_else(|| panic!("unknown body {which}: 3KB, 20KB or 1MiB"));
    let policy = Policy::default();
    let authz: AuthZRequest = serde_json::from_slice(&body.authz).expect("AuthZ request");
    let authz_bytes = bytes::Bytes::from(body.authz.clone());
    for _ in 0..n {
        match mode.as_str() {
            "setup" => {}
            "serde_value" => {
                black_box(serde_json::from_slice::<serde_json::Value>(black_box(&body.body)).ok());
            }
            "decide" => {
                black_box(decide(&policy, black_box(&authz)));
            }
            "full" => {
                // As the server reads it (the RequestBody shares the buffer).
                let req = AuthZRequest::from_json(black_box(&authz_bytes)).expect("AuthZ request");
                black_box(serde_json::to_vec(&decide(&policy, &req).response()).ok());
            }
            other => panic!("unknown mode {other}: setup, serde_value, decide or full"),
        }
    }
}
