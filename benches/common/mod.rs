//! Shared by the benchmarks (`benches/*.rs`) and `examples/decide_once.rs`: the request bodies
//! every stage measures (so the decision-core, over-the-wire and soak numbers are about the same
//! bytes) and small helpers (RSS, percentiles, result files). Each user needs a different part,
//! hence the `dead_code` allowance.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{json, Value};

/// The largest body dockerd forwards to a plugin is 1 MiB − 1 byte; "1 MiB" means this size.
pub const ONE_MIB_BODY: usize = (1 << 20) - 1;

/// A number from a results file; NaN where it is missing (a stage not run shows as NaN, not 0).
pub fn json_f64(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// Where results go: `bench-results/` at the crate root (gitignored).
pub fn results_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-results");
    std::fs::create_dir_all(&dir).expect("create bench-results/");
    dir
}

/// Writes `bench-results/<name>.json`.
pub fn write_result(name: &str, value: &Value) {
    let path = results_dir().join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(value).expect("serialise results");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    eprintln!("wrote {}", path.display());
}

/// `cargo bench` passes `--bench`; `cargo test --all-targets` runs bench binaries without it.
/// The custom harnesses only measure under `cargo bench` and otherwise return at once.
pub fn invoked_by_cargo_bench() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// A recorded AuthZ request from `tests/fixtures/authz`, as the raw bytes of its JSON object.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/authz")
        .join(name);
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // The fixtures are pretty-printed; dockerd sends compact JSON.
    let v: Value = serde_json::from_slice(&raw).expect("fixture is JSON");
    serde_json::to_vec(&v).expect("serialise fixture")
}

/// The body of a recorded AuthZ request, decoded from its base64 `RequestBody`.
pub fn fixture_body(name: &str) -> Vec<u8> {
    let v: Value = serde_json::from_slice(&fixture(name)).expect("fixture is JSON");
    base64::engine::general_purpose::STANDARD
        .decode(v["RequestBody"].as_str().expect("fixture has a body"))
        .expect("fixture body is base64")
}

/// The `docker run --rm --read-only bb true` create body the docker CLI 28 sent (1.7 KB).
pub const RUN_FIXTURE: &str = "cli-run-readonly--01-req-POST-containers_create.json";

/// A create body as dockerd would forward it, in the AuthZ request dockerd would send.
pub fn authz_create(body: &[u8], name: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "User": "",
        "UserAuthNMethod": "",
        "RequestMethod": "POST",
        "RequestUri": format!("/v1.41/containers/create?name={name}"),
        "RequestBody": base64::engine::general_purpose::STANDARD.encode(body),
        "RequestHeaders": {
            "Content-Length": body.len().to_string(),
            "Content-Type": "application/json",
            "User-Agent": "Docker-Client/28.2.2 (linux)",
        },
    }))
    .expect("serialise AuthZ request")
}

/// A compose-style create body (the run fixture plus compose and traefik labels, a long
/// environment and bind mounts), grown to at least `min_len` bytes and at most `max_len`.
/// Read-only, so every rule runs to the end and the request is allowed.
pub fn compose_body(min_len: usize, max_len: usize) -> Vec<u8> {
    let mut body: Value = serde_json::from_slice(&fixture_body(RUN_FIXTURE)).unwrap();
    let mut labels = serde_json::Map::new();
    for (k, v) in [
        ("com.docker.compose.project", "shop"),
        ("com.docker.compose.service", "api"),
        ("com.docker.compose.version", "2.29.1"),
        ("com.docker.compose.container-number", "1"),
        ("com.docker.compose.oneoff", "False"),
        (
            "com.docker.compose.depends_on",
            "db:service_healthy:false,cache:service_started:false",
        ),
        (
            "com.docker.compose.image",
            "sha256:4f1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
        ),
        (
            "com.docker.compose.config-hash",
            "9c1f5e1a0b2d3c4e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f7a8b9c0",
        ),
        (
            "com.docker.compose.project.config_files",
            "/srv/shop/compose.yaml,/srv/shop/compose.override.yaml",
        ),
        ("com.docker.compose.project.working_dir", "/srv/shop"),
    ] {
        labels.insert(k.into(), v.into());
    }
    let mut env: Vec<Value> = vec![
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        "LANG=C.UTF-8".into(),
    ];
    let mut len = serde_json::to_vec(&body).unwrap().len() + 1000;
    let mut i = 0usize;
    while len < min_len {
        let (k, v) = (
            format!("traefik.http.routers.shop-api-{i}.rule"),
            format!("Host(`api-{i}.shop.example.com`) && PathPrefix(`/v{i}/orders`)"),
        );
        len += k.len() + v.len() + 6;
        labels.insert(k, v.into());
        let e = format!(
            "SHOP_FEATURE_FLAG_{i}=enabled;rollout={};owner=team-{}@example.com",
            i % 100,
            i % 7
        );
        len += e.len() + 3;
        env.push(e.into());
        i += 1;
    }
    body["Labels"] = Value::Object(labels);
    body["Env"] = Value::Array(env);
    body["HostConfig"]["Binds"] = json!([
        "/srv/shop/config:/etc/shop:ro",
        "shop-cache:/var/cache/shop",
        "/run/secrets/shop:/run/secrets:ro"
    ]);
    body["HostConfig"]["Tmpfs"] = json!({"/tmp": "rw,noexec,nosuid,size=64m", "/run": ""});
    let mut bytes = serde_json::to_vec(&body).unwrap();
    if bytes.len() < min_len {
        // Top up with one label of exactly the missing size.
        body["Labels"]["zz.pad"] = Value::String("p".repeat(min_len - bytes.len()));
        bytes = serde_json::to_vec(&body).unwrap();
    }
    assert!(
        (min_len..=max_len).contains(&bytes.len()),
        "compose body is {} bytes, wanted {min_len}..={max_len}",
        bytes.len()
    );
    bytes
}

/// One body the benchmarks send: its name, the create body, and the AuthZ request around it.
pub struct BenchBody {
    pub name: &'static str,
    pub body: Vec<u8>,
    pub authz: Vec<u8>,
}

/// The three bodies of the issue: a real `docker run` body (≈3 KB as an AuthZ request), a
/// compose-style body (≈20 KB) and the largest body dockerd forwards (1 MiB − 1 byte).
pub fn bench_bodies() -> Vec<BenchBody> {
    let run = fixture_body(RUN_FIXTURE);
    let compose = compose_body(20 << 10, 21 << 10);
    let large = compose_body(ONE_MIB_BODY - 600, ONE_MIB_BODY);
    vec![
        BenchBody {
            name: "3KB",
            authz: authz_create(&run, "web"),
            body: run,
        },
        BenchBody {
            name: "20KB",
            authz: authz_create(&compose, "shop-api-1"),
            body: compose,
        },
        BenchBody {
            name: "1MiB",
            authz: authz_create(&large, "shop-api-2"),
            body: large,
        },
    ]
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// The `p`-th percentile (0..=100) of sorted samples (nearest rank).
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Median of unsorted values.
pub fn median_f64(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Min and max of values.
pub fn range_f64(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}
