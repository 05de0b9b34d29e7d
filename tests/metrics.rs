//! Metrics over the wire: a known sequence of AuthZ requests (recorded dockerd traffic) goes to a
//! real plugin server, then `/metrics` is scraped from its own listener and the counts must match.
//! Also the binary's `serve --metrics-addr unix:...`: `/health`, and SIGHUP reloads counted.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use hyperlocal::{UnixClientExt, UnixConnector};
use rootfs_guard::daemon::metrics::{self, Metrics, MetricsAddr};
use rootfs_guard::daemon::{self, Limits, PolicyStore, State};
use rootfs_guard::{AuthZResponse, Policy};
use tokio::sync::oneshot;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/authz")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn post(socket: &Path, path: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    let client: Client<UnixConnector, Full<Bytes>> = Client::unix();
    let req = Request::builder()
        .method(Method::POST)
        .uri(hyperlocal::Uri::new(socket, path))
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let resp = client.request(req).await.expect("plugin request failed");
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, body)
}

async fn get_tcp(uri: &str) -> (StatusCode, String, String) {
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let resp = client
        .get(uri.parse().unwrap())
        .await
        .expect("scrape failed");
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, ct, String::from_utf8(body.to_vec()).unwrap())
}

async fn get_unix(socket: &Path, path: &str) -> (StatusCode, String) {
    let client: Client<UnixConnector, Empty<Bytes>> = Client::unix();
    let resp = client
        .get(hyperlocal::Uri::new(socket, path).into())
        .await
        .expect("scrape failed");
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// The value of one sample (`name{labels}` exactly as exposed), 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            (name == series).then(|| value.parse().unwrap())
        })
        .unwrap_or(0.0)
}

#[tokio::test]
async fn scraped_counts_match_the_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("guard.sock");
    let listener = daemon::bind_socket(&socket).unwrap();
    let metrics = Arc::new(Metrics::new());
    let state = State::with_metrics(
        PolicyStore::fixed(Policy::default()),
        Limits::default(),
        metrics.clone(),
    );
    let metrics_listener = MetricsAddr::Tcp("127.0.0.1:0".parse().unwrap())
        .bind()
        .await
        .unwrap();
    let metrics_url = format!("http://{}", metrics_listener.local_addr().unwrap());
    let scraper = tokio::spawn(metrics::serve(metrics_listener, metrics));
    let (stop, stopped) = oneshot::channel::<()>();
    let plugin = tokio::spawn(daemon::serve(listener, state, async {
        let _ = stopped.await;
    }));

    // Nothing decided yet: every family is there, empty.
    let (_, _, before) = get_tcp(&format!("{metrics_url}/metrics")).await;
    assert_eq!(
        sample(&before, "rootfs_guard_decision_duration_seconds_count"),
        0.0
    );

    // (fixture, allowed)
    let sequence = [
        (
            "cli-create-default--01-req-POST-containers_create.json",
            false,
        ),
        (
            "cli-create-default--01-req-POST-containers_create.json",
            false,
        ),
        (
            "cli-create-readonly--01-req-POST-containers_create.json",
            true,
        ),
        (
            "cli-create-allow-label--01-req-POST-containers_create.json",
            true,
        ),
        (
            "cli-run-readonly--05-req-POST-containers_ID_start.json",
            true,
        ),
        ("cli-ps--01-req-GET-containers_json.json", true),
        (
            "cli-exec-privileged--02-req-POST-containers_NAME_exec.json",
            false,
        ),
    ];
    post(&socket, "/Plugin.Activate", Vec::new()).await;
    for (name, allowed) in sequence {
        let (status, body) = post(&socket, "/AuthZPlugin.AuthZReq", fixture(name)).await;
        assert_eq!(status, StatusCode::OK);
        let answer: AuthZResponse = serde_json::from_slice(&body).unwrap();
        assert_eq!(answer.allow, allowed, "{name}: {answer:?}");
    }
    let (_, body) = post(&socket, "/AuthZPlugin.AuthZReq", b"not json".to_vec()).await;
    let answer: AuthZResponse = serde_json::from_slice(&body).unwrap();
    assert!(!answer.allow);
    post(
        &socket,
        "/AuthZPlugin.AuthZRes",
        fixture("cli-create-readonly--02-res-POST-containers_create.json"),
    )
    .await;
    let (status, _) = post(&socket, "/Nope", Vec::new()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, ct, text) = get_tcp(&format!("{metrics_url}/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let expect = [
        (
            r#"rootfs_guard_decisions_total{result="allow",rule=""}"#,
            4.0,
        ),
        (
            r#"rootfs_guard_decisions_total{result="deny",rule="readonly-rootfs"}"#,
            2.0,
        ),
        (
            r#"rootfs_guard_decisions_total{result="deny",rule="exec-privileged"}"#,
            1.0,
        ),
        (
            r#"rootfs_guard_decisions_total{result="deny",rule="authz-request"}"#,
            1.0,
        ),
        (
            r#"rootfs_guard_request_errors_total{kind="unreadable-request"}"#,
            1.0,
        ),
        (
            r#"rootfs_guard_request_errors_total{kind="unknown-endpoint"}"#,
            1.0,
        ),
        (
            r#"rootfs_guard_requests_total{endpoint="AuthZPlugin.AuthZReq"}"#,
            8.0,
        ),
        (
            r#"rootfs_guard_requests_total{endpoint="AuthZPlugin.AuthZRes"}"#,
            1.0,
        ),
        (
            r#"rootfs_guard_requests_total{endpoint="Plugin.Activate"}"#,
            1.0,
        ),
        ("rootfs_guard_decision_duration_seconds_count", 8.0),
        (
            r#"rootfs_guard_decision_duration_seconds_bucket{le="+Inf"}"#,
            8.0,
        ),
        (
            &format!(
                r#"rootfs_guard_policy_info{{fingerprint="{}",mode="enforce"}}"#,
                Policy::default().fingerprint()
            ),
            1.0,
        ),
        (
            &format!(
                r#"rootfs_guard_build_info{{version="{}"}}"#,
                env!("CARGO_PKG_VERSION")
            ),
            1.0,
        ),
    ];
    for (series, value) in expect {
        assert_eq!(sample(&text, series), value, "{series}\n{text}");
    }
    assert!(sample(&text, "rootfs_guard_decision_duration_seconds_sum") > 0.0);

    let (status, _, health) = get_tcp(&format!("{metrics_url}/health")).await;
    assert_eq!(status, StatusCode::OK);
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["watch"], "off");
    let (status, _, _) = get_tcp(&format!("{metrics_url}/other")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let _ = stop.send(());
    plugin.await.unwrap();
    scraper.abort();
}

/// The binary: `serve --metrics-addr unix:PATH`, then SIGHUP with a good and a bad policy.
#[tokio::test]
async fn binary_serves_metrics_on_a_unix_socket_and_counts_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("guard.sock");
    let metrics_socket = dir.path().join("metrics.sock");
    let policy = dir.path().join("policy.json");
    std::fs::write(&policy, r#"{"mode":"enforce"}"#).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rootfs-guard"))
        .arg("serve")
        .arg("--socket")
        .arg(&socket)
        .arg("--policy")
        .arg(&policy)
        .arg("--metrics-addr")
        .arg(format!("unix:{}", metrics_socket.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    wait_for(&metrics_socket).await;

    let (status, health) = get_unix(&metrics_socket, "/health").await;
    assert_eq!(status, StatusCode::OK);
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["policy"]["mode"], "enforce");

    std::fs::write(&policy, r#"{"mode":"audit"}"#).unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid, libc::SIGHUP) };
    let text = scrape_until(
        &metrics_socket,
        r#"rootfs_guard_policy_reloads_total{result="success"} 1"#,
    )
    .await;
    assert!(text.contains(r#"mode="audit"} 1"#), "{text}");
    std::fs::write(&policy, r#"{"mode":"strict"}"#).unwrap();
    unsafe { libc::kill(pid, libc::SIGHUP) };
    let text = scrape_until(
        &metrics_socket,
        r#"rootfs_guard_policy_reloads_total{result="failure"} 1"#,
    )
    .await;
    assert!(
        text.contains("rootfs_guard_policy_last_reload_successful 0"),
        "{text}"
    );
    assert!(
        text.contains(r#"mode="audit"} 1"#),
        "old policy kept: {text}"
    );

    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!metrics_socket.exists(), "metrics socket removed on exit");
}

/// Waits until the socket accepts connections (the file exists between bind() and listen(), when
/// a connect is still refused).
async fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::UnixStream::connect(path).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "{} never accepted a connection",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn scrape_until(socket: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, text) = get_unix(socket, "/metrics").await;
        if text.contains(needle) {
            return text;
        }
        assert!(Instant::now() < deadline, "never saw {needle}:\n{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
