//! `rootfs-guard audit` against a scripted Engine API on a unix socket, for what a real dockerd
//! will not do on demand: a container removed between the list and its inspect (left out), an
//! inspect that fails (exit 2, the error reported, the other rows kept), the bound on
//! concurrent inspects holding for hundreds of containers; and the volumes of `GET /volumes`
//! judged as `POST /volumes/create` is (a bind of a protected root is a violation, exit 1), a
//! volume list that fails (exit 2), and a classic builder's leftover container named.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::UnixListener;
use tokio::task::JoinHandle;

/// What the scripted daemon holds.
#[derive(Default)]
struct Daemon {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    inspects: AtomicUsize,
    /// The containers: `n` numbered ones, then "gone" and "broken" when `vanishing`.
    n: usize,
    vanishing: bool,
    /// Extra inspect documents by id (listed too).
    extra: Vec<(String, serde_json::Value)>,
    /// The body of `GET /volumes`; `None` answers 500.
    volumes: Option<serde_json::Value>,
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

async fn answer(req: Request<hyper::body::Incoming>, d: Arc<Daemon>) -> Response<Full<Bytes>> {
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
        let mut ids: Vec<serde_json::Value> = (0..d.n)
            .map(|i| serde_json::json!({"Id": format!("c{i:03}")}))
            .collect();
        if d.vanishing {
            ids.push(serde_json::json!({"Id": "gone"}));
            ids.push(serde_json::json!({"Id": "broken"}));
        }
        for (id, _) in &d.extra {
            ids.push(serde_json::json!({ "Id": id }));
        }
        return reply(StatusCode::OK, serde_json::Value::Array(ids).to_string());
    }
    if path == "/volumes" {
        return match &d.volumes {
            Some(v) => reply(StatusCode::OK, v.to_string()),
            None => reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"message":"volume store down"}"#.into(),
            ),
        };
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
        _ if id.starts_with('x') => {
            let doc = d.extra.iter().find(|(x, _)| x == id).map(|(_, v)| v);
            reply(StatusCode::OK, doc.unwrap().to_string())
        }
        // Every tenth container is read-only.
        _ => {
            let i: usize = id[1..].parse().unwrap();
            reply(StatusCode::OK, inspect_json(id, i % 10 == 0))
        }
    }
}

/// Serves `daemon` on a socket in `dir` until the task is aborted; the socket's path.
fn serve(dir: &std::path::Path, daemon: Arc<Daemon>) -> (std::path::PathBuf, JoinHandle<()>) {
    let socket = dir.join("docker.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let server = tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let d = daemon.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let d = d.clone();
                    async move { Ok::<_, Infallible>(answer(req, d).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (socket, server)
}

/// `rootfs-guard audit ARGS --host unix://SOCKET`: exit status, stdout, stderr.
async fn audit(socket: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_rootfs-guard"))
        .arg("audit")
        .args(args)
        .arg("--host")
        .arg(format!("unix://{}", socket.display()))
        .output()
        .await
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn vanished_and_failing_containers_and_the_concurrency_bound() {
    const N: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Arc::new(Daemon {
        n: N,
        vanishing: true,
        volumes: Some(serde_json::json!({"Volumes": null, "Warnings": null})),
        ..Daemon::default()
    });
    let (socket, server) = serve(dir.path(), daemon.clone());

    let (code, stdout, stderr) = audit(&socket, &["--format", "json", "--concurrency", "8"]).await;
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
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

    assert_eq!(report["volumes"], serde_json::json!([]));

    // Table output of the same: an incomplete audit is still exit 2.
    let (code, table, _) = audit(&socket, &[]).await;
    assert_eq!(code, Some(2));
    assert_eq!(table.lines().count(), N + 2, "header, rows, summary");
    server.abort();
}

/// A volume as `GET /volumes` lists it.
fn volume(name: &str, options: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "Name": name, "Driver": "local", "Scope": "local", "Labels": null,
        "Mountpoint": format!("/var/lib/docker/volumes/{name}/_data"), "Options": options,
    })
}

#[tokio::test]
async fn bind_like_volumes_and_build_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    // A read-only container, and the RUN step's container `docker build --rm=false` leaves.
    let leftover = serde_json::json!({
        "Id": "x1c1d5e9a3b2c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d",
        "Name": "/elated_hopper",
        "State": {"Status": "exited"},
        "Config": {
            "Image": "sha256:9e301a362a270bcb6900ebd1aad1b3a9553a9d055830bdf4cab5c2184187a2d1",
            "Cmd": ["/bin/sh", "-c", "apk add curl"], "Entrypoint": null, "Labels": {},
        },
        "HostConfig": {"ReadonlyRootfs": false, "LogConfig": {"Type": "none", "Config": {}}},
    });
    let daemon = Arc::new(Daemon {
        n: 1,
        extra: vec![("x1".into(), leftover)],
        volumes: Some(serde_json::json!({
            "Volumes": [
                volume("data", serde_json::Value::Null),
                volume("dr", serde_json::json!({"type": "none", "o": "rbind", "device": "/var/lib/docker/"})),
                volume("srv", serde_json::json!({"type": "none", "o": "bind", "device": "/srv/data"})),
            ],
            "Warnings": null,
        })),
        ..Daemon::default()
    });
    let (socket, server) = serve(dir.path(), daemon);

    let (code, out, err) = audit(&socket, &["--format", "json"]).await;
    assert_eq!(code, Some(1), "{out}\n{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["schema_version"], 2);
    assert_eq!(report["errors"], serde_json::json!([]));
    let verdicts: Vec<(&str, &str, &serde_json::Value)> = report["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap(),
                v["verdict"].as_str().unwrap(),
                &v["rule"],
            )
        })
        .collect();
    let root_bind = serde_json::json!("root-bind");
    assert_eq!(
        verdicts,
        [
            ("data", "compliant", &serde_json::Value::Null),
            ("dr", "violation", &root_bind),
            ("srv", "compliant", &serde_json::Value::Null),
        ]
    );
    assert_eq!(report["volumes"][1]["driver"], "local");
    let msg = report["volumes"][1]["message"].as_str().unwrap();
    assert!(
        msg.contains("/var/lib/docker") && msg.contains("docker volume rm dr"),
        "{msg}"
    );
    let containers = report["containers"].as_array().unwrap();
    let left = containers
        .iter()
        .find(|c| c["name"] == "elated_hopper")
        .unwrap();
    assert_eq!(left["build_leftover"], true);
    assert_eq!(left["rule"], "legacy-build");
    assert!(left["message"].as_str().unwrap().contains(
        "left by the classic builder (a RUN step's container): remove it with docker rm"
    ));
    let other = containers.iter().find(|c| c["name"] == "c000").unwrap();
    assert_eq!(other["build_leftover"], false);

    // The table names both.
    let (code, table, _) = audit(&socket, &[]).await;
    assert_eq!(code, Some(1));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 8, "{table}");
    assert!(lines[0].contains("BUILD-LEFTOVER"), "{table}");
    let row = lines.iter().find(|l| l.contains("elated_hopper")).unwrap();
    assert!(row.ends_with("yes             violation"), "{table}");
    assert!(
        lines[6].starts_with("dr  ") && lines[6].contains("violation"),
        "{table}"
    );
    assert_eq!(lines[7], "3 volumes: 1 violation");

    // Without the root-bind rule the volume passes; the leftover alone still fails.
    let policy = dir.path().join("p.json");
    std::fs::write(&policy, r#"{"rules":{"root_bind":false}}"#).unwrap();
    let (code, out, _) = audit(
        &socket,
        &["--format", "json", "--policy", policy.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, Some(1));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(report["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["verdict"] == "compliant"));
    std::fs::write(
        &policy,
        r#"{"rules":{"root_bind":false,"legacy_build":false}}"#,
    )
    .unwrap();
    let (code, out, _) = audit(
        &socket,
        &["--format", "json", "--policy", policy.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, Some(1), "still a writable container");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let left = report["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "elated_hopper")
        .unwrap();
    assert_eq!(left["rule"], "readonly-rootfs");
    server.abort();
}

#[tokio::test]
async fn a_volume_list_that_fails_makes_the_audit_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Arc::new(Daemon {
        n: 10,
        ..Daemon::default()
    });
    let (socket, server) = serve(dir.path(), daemon);
    let (code, out, err) = audit(&socket, &["--format", "json"]).await;
    assert_eq!(code, Some(2), "{out}\n{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = errors[0].as_str().unwrap();
    assert!(
        e.contains("list volumes") && e.contains("volume store down"),
        "{e}"
    );
    assert!(err.contains("list volumes"), "{err}");
    assert_eq!(report["summary"]["containers"], 10);
    server.abort();
}
