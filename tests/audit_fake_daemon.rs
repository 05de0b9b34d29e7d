//! `rootfs-guard audit` against a scripted Engine API on a unix socket, for what a real dockerd
//! will not do on demand: a container removed between the list and its inspect (left out), an
//! inspect that fails (exit 2, the error reported, the other rows kept), and the bound on
//! concurrent inspects holding for hundreds of containers.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::UnixListener;

#[derive(Default)]
struct Daemon {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    inspects: AtomicUsize,
}

fn inspect_json(id: &str, readonly: bool) -> String {
    serde_json::json!({
        "Id": id,
        "Name": format!("/{id}"),
        "State": {"Status": "running"},
        "Config": {"Image": "bb:latest", "Labels": null},
        "HostConfig": {"ReadonlyRootfs": readonly, "Privileged": false, "CapAdd": null},
    })
    .to_string()
}

async fn answer(
    req: Request<hyper::body::Incoming>,
    d: Arc<Daemon>,
    n: usize,
) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, body: String| {
        Response::builder()
            .status(status)
            .header("Content-Type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    let path = req.uri().path().to_owned();
    if path == "/containers/json" {
        assert_eq!(req.uri().query(), Some("all=1"));
        let mut ids: Vec<serde_json::Value> = (0..n)
            .map(|i| serde_json::json!({"Id": format!("c{i:03}")}))
            .collect();
        ids.push(serde_json::json!({"Id": "gone"}));
        ids.push(serde_json::json!({"Id": "broken"}));
        return reply(StatusCode::OK, serde_json::Value::Array(ids).to_string());
    }
    let Some(id) = path
        .strip_prefix("/containers/")
        .and_then(|p| p.strip_suffix("/json"))
    else {
        return reply(
            StatusCode::NOT_FOUND,
            r#"{"message":"page not found"}"#.into(),
        );
    };
    d.inspects.fetch_add(1, Ordering::SeqCst);
    let now = d.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    d.max_in_flight.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(5)).await;
    d.in_flight.fetch_sub(1, Ordering::SeqCst);
    match id {
        "gone" => reply(
            StatusCode::NOT_FOUND,
            r#"{"message":"No such container: gone"}"#.into(),
        ),
        "broken" => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"message":"boom"}"#.into(),
        ),
        // Every tenth container is read-only.
        _ => {
            let i: usize = id[1..].parse().unwrap();
            reply(StatusCode::OK, inspect_json(id, i % 10 == 0))
        }
    }
}

#[tokio::test]
async fn vanished_and_failing_containers_and_the_concurrency_bound() {
    const N: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let daemon = Arc::new(Daemon::default());
    let d = daemon.clone();
    let server = tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let d = d.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let d = d.clone();
                    async move { Ok::<_, Infallible>(answer(req, d, N).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_rootfs-guard"))
        .args(["audit", "--format", "json", "--concurrency", "8", "--host"])
        .arg(format!("unix://{}", socket.display()))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        report["summary"],
        serde_json::json!({"containers": N, "compliant": N / 10, "exempt": 0, "violation": N - N / 10})
    );
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].as_str().unwrap().contains("boom"), "{errors:?}");
    assert!(
        stderr.contains("inspect broken") && stderr.contains("boom"),
        "{stderr}"
    );
    let names: Vec<&str> = report["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"gone") && !names.contains(&"broken"));
    assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted by name");
    assert_eq!(daemon.inspects.load(Ordering::SeqCst), N + 2);
    let max = daemon.max_in_flight.load(Ordering::SeqCst);
    assert!((2..=8).contains(&max), "max concurrent inspects {max}");

    // Table output of the same: an incomplete audit is still exit 2.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_rootfs-guard"))
        .args(["audit", "--host"])
        .arg(format!("unix://{}", socket.display()))
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(table.lines().count(), N + 2, "header, rows, summary");
    server.abort();
}
