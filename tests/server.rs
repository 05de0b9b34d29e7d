//! The plugin server over a real unix socket, driven by a real hyper client (hyperlocal), the
//! way dockerd drives it: no Content-Type, bodies from recorded dockerd traffic, malformed and
//! oversize input, concurrency, and the daemon binary's start, reload and shutdown behaviour.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyperlocal::{UnixClientExt, UnixConnector};
use rootfs_guard::daemon::{self, Limits, PolicyStore, State};
use rootfs_guard::{AuthZResponse, Policy};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/authz")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An in-process server on a temp socket, stopped when dropped.
struct TestServer {
    socket: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    fn start(policy: Policy, limits: Limits) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("guard.sock");
        let listener = daemon::bind_socket(&socket).unwrap();
        let state = State::new(PolicyStore::fixed(policy), limits);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(daemon::serve(listener, state, async {
            let _ = rx.await;
        }));
        TestServer {
            socket,
            stop: Some(tx),
            task: Some(task),
            _dir: dir,
        }
    }

    async fn post(
        &self,
        path: &str,
        body: impl Into<Bytes>,
    ) -> (StatusCode, Option<String>, Vec<u8>) {
        post(&self.socket, path, body).await
    }

    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap();
    }
}

async fn post(
    socket: &Path,
    path: &str,
    body: impl Into<Bytes>,
) -> (StatusCode, Option<String>, Vec<u8>) {
    let client: Client<UnixConnector, Full<Bytes>> = Client::unix();
    // Like dockerd: POST, plugin Accept header, no Content-Type.
    let req = Request::builder()
        .method(Method::POST)
        .uri(hyperlocal::Uri::new(socket, path))
        .header("Accept", "application/vnd.docker.plugins.v1.2+json")
        .body(Full::new(body.into()))
        .unwrap();
    let resp = client.request(req).await.expect("request failed");
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, ct, body)
}

fn authz(body: &[u8]) -> AuthZResponse {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

#[tokio::test]
async fn activate_announces_authz() {
    let s = TestServer::start(Policy::default(), Limits::default());
    let (status, ct, body) = s.post("/Plugin.Activate", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        ct.as_deref(),
        Some("application/vnd.docker.plugins.v1+json")
    );
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v, serde_json::json!({"Implements": ["authz"]}));
    s.shutdown().await;
}

#[tokio::test]
async fn recorded_dockerd_traffic_gets_the_right_answers() {
    let s = TestServer::start(Policy::default(), Limits::default());
    // (fixture, endpoint, allowed)
    let cases = [
        (
            "cli-create-default--01-req-POST-containers_create.json",
            "AuthZReq",
            false,
        ),
        (
            "cli-create-readonly--01-req-POST-containers_create.json",
            "AuthZReq",
            true,
        ),
        (
            "cli-create-allow-label--01-req-POST-containers_create.json",
            "AuthZReq",
            true,
        ),
        (
            "cli-run-readonly--01-req-POST-containers_create.json",
            "AuthZReq",
            true,
        ),
        (
            "cli-run-detached-sleep--01-req-POST-containers_create.json",
            "AuthZReq",
            true,
        ),
        (
            "cli-run-readonly--05-req-POST-containers_ID_start.json",
            "AuthZReq",
            true,
        ),
        (
            "cli-start--01-req-POST-containers_NAME_start.json",
            "AuthZReq",
            true,
        ),
        ("cli-ps--01-req-GET-containers_json.json", "AuthZReq", true),
        ("cli-images--01-req-GET-images_json.json", "AuthZReq", true),
        ("cli-rm--01-req-DELETE-containers_c1.json", "AuthZReq", true),
        (
            "cli-exec--02-req-POST-containers_NAME_exec.json",
            "AuthZReq",
            true,
        ),
        (
            "cli-run-readonly--03-req-POST-containers_ID_attach.json",
            "AuthZReq",
            true,
        ),
        (
            "cli-create-readonly--02-res-POST-containers_create.json",
            "AuthZRes",
            true,
        ),
        ("cli-rm--02-res-DELETE-containers_c1.json", "AuthZRes", true),
    ];
    for (name, endpoint, allowed) in cases {
        let (status, _, body) = s
            .post(&format!("/AuthZPlugin.{endpoint}"), fixture(name))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}");
        let answer = authz(&body);
        assert_eq!(answer.allow, allowed, "{name}: {answer:?}");
        if !allowed {
            assert!(answer.msg.contains("--read-only"), "{name}: {}", answer.msg);
        }
    }
    s.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_are_denied_with_a_reason() {
    let s = TestServer::start(Policy::default(), Limits::default());
    for body in [
        &b""[..],
        b"not json",
        b"[1,2]",
        b"{\"RequestMethod\":5}",
        b"{\"RequestMethod\":\"POST\",\"RequestUri\":\"/containers/create\",\"RequestBody\":\"%%%\"}",
        b"{\"RequestMethod\":\"POST\",\"RequestUri\":\"/containers/create\"}",
        b"\xff\xfe",
    ] {
        let (status, _, resp) = s.post("/AuthZPlugin.AuthZReq", body.to_vec()).await;
        assert_eq!(status, StatusCode::OK);
        let answer = authz(&resp);
        assert!(!answer.allow, "{:?}", String::from_utf8_lossy(body));
        assert!(!answer.msg.is_empty());
    }
    s.shutdown().await;
}

#[tokio::test]
async fn unknown_endpoints_get_a_json_404() {
    let s = TestServer::start(Policy::default(), Limits::default());
    let (status, ct, body) = s.post("/VolumeDriver.Create", "{}").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        ct.as_deref(),
        Some("application/vnd.docker.plugins.v1+json")
    );
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(v["Err"].is_string());
    s.shutdown().await;
}

#[tokio::test]
async fn oversize_requests_are_refused_without_buffering() {
    let limits = Limits {
        max_request_bytes: 64 << 10,
        ..Limits::default()
    };
    let s = TestServer::start(Policy::default(), limits);
    // Declared too large: answered before the body is read.
    let mut stream = tokio::net::UnixStream::connect(&s.socket).await.unwrap();
    stream
        .write_all(
            b"POST /AuthZPlugin.AuthZReq HTTP/1.1\r\nHost: \r\nContent-Length: 100000000\r\n\r\n{",
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("server waited for a body it should not read")
        .unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains("\"Allow\":false") && text.contains("limit"),
        "{text}"
    );

    // Chunked, no length: cut off at the limit.
    let big = format!("{{\"RequestUri\":\"{}\"}}", "a".repeat(100 << 10));
    let (_, _, body) = s.post("/AuthZPlugin.AuthZReq", big).await;
    let answer = authz(&body);
    assert!(!answer.allow && answer.msg.contains("limit"), "{answer:?}");

    // AuthZRes bodies can be large (docker ps on a big host) and are never needed: allowed.
    let big_res = format!("{{\"ResponseBody\":\"{}\"}}", "a".repeat(1 << 20));
    let (_, _, body) = s.post("/AuthZPlugin.AuthZRes", big_res).await;
    assert!(authz(&body).allow);
    s.shutdown().await;
}

#[tokio::test]
async fn a_stalled_client_does_not_hang_the_server() {
    let limits = Limits {
        read_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let s = TestServer::start(Policy::default(), limits);
    let mut stalled = tokio::net::UnixStream::connect(&s.socket).await.unwrap();
    stalled
        .write_all(
            b"POST /AuthZPlugin.AuthZReq HTTP/1.1\r\nHost: \r\nContent-Length: 50\r\n\r\n{\"Req",
        )
        .await
        .unwrap();
    // Others are still served meanwhile.
    let (status, _, _) = s.post("/Plugin.Activate", "").await;
    assert_eq!(status, StatusCode::OK);
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stalled.read_to_end(&mut answer))
        .await
        .expect("stalled request was never timed out")
        .unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.contains("\"Allow\":false") && text.contains("timed out"),
        "{text}"
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_connections_each_get_their_own_answer() {
    let s = Arc::new(TestServer::start(Policy::default(), Limits::default()));
    let deny = fixture("cli-create-default--01-req-POST-containers_create.json");
    let allow = fixture("cli-create-readonly--01-req-POST-containers_create.json");
    let mut tasks = Vec::new();
    for i in 0..64 {
        let s = s.clone();
        let (body, want) = if i % 2 == 0 {
            (allow.clone(), true)
        } else {
            (deny.clone(), false)
        };
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                let (_, _, resp) = s.post("/AuthZPlugin.AuthZReq", body.clone()).await;
                assert_eq!(authz(&resp).allow, want);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    Arc::try_unwrap(s).ok().unwrap().shutdown().await;
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_and_stops_accepting() {
    let s = TestServer::start(Policy::default(), Limits::default());
    let socket = s.socket.clone();
    // A request whose body arrives only after shutdown has begun.
    let mut slow = tokio::net::UnixStream::connect(&socket).await.unwrap();
    let body = fixture("cli-create-readonly--01-req-POST-containers_create.json");
    let head = format!(
        "POST /AuthZPlugin.AuthZReq HTTP/1.1\r\nHost: \r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let stop = s.stop.as_ref().map(|_| ());
    assert!(stop.is_some());
    let TestServer {
        stop, task, _dir, ..
    } = s;
    let _ = stop.unwrap().send(());
    tokio::time::sleep(Duration::from_millis(100)).await;
    // New connections are refused once the listener is closed.
    assert!(tokio::net::UnixStream::connect(&socket).await.is_err());
    slow.write_all(&body[10..]).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\"Allow\"") {
        let n = tokio::time::timeout(Duration::from_secs(5), slow.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "connection closed before answering");
        answer.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&answer).contains("\"Allow\":true"));
    drop(slow);
    tokio::time::timeout(Duration::from_secs(5), task.unwrap())
        .await
        .expect("server did not stop")
        .unwrap();
}

// ---- the daemon binary ----

struct Daemon {
    child: Child,
    socket: PathBuf,
    log: PathBuf,
}

impl Daemon {
    fn start(dir: &Path, args: &[&str]) -> Daemon {
        let socket = dir.join("plugins/rg.sock");
        let log = dir.join("daemon.log");
        let child = Command::new(env!("CARGO_BIN_EXE_rootfs-guard"))
            .arg("serve")
            .arg("--socket")
            .arg(&socket)
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let d = Daemon { child, socket, log };
        d.wait_ready();
        d
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&self.socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "daemon not ready: {}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, sig: i32) {
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not exit: {}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for_log(d: &Daemon, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !d.logs().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in log: {}",
            d.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn daemon_socket_is_private_and_removed_on_sigterm() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    // A stale socket from a crashed run is replaced.
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    drop(std::os::unix::net::UnixListener::bind(dir.path().join("plugins/rg.sock")).unwrap());
    let mut d = Daemon::start(dir.path(), &[]);
    let meta = std::fs::metadata(&d.socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    // A second instance refuses to steal the live socket.
    let second = Command::new(env!("CARGO_BIN_EXE_rootfs-guard"))
        .args(["serve", "--socket"])
        .arg(&d.socket)
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&second.stderr).contains("already being served"));
    let (status, _, _) = post(&d.socket, "/Plugin.Activate", "").await;
    assert_eq!(status, StatusCode::OK);
    d.signal(libc::SIGTERM);
    assert!(d.wait_exit().success());
    assert!(!d.socket.exists(), "socket left behind");
}

#[tokio::test]
async fn sighup_reloads_and_a_bad_policy_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.json");
    std::fs::write(&policy, r#"{"mode":"enforce"}"#).unwrap();
    let d = Daemon::start(dir.path(), &["--policy", policy.to_str().unwrap()]);
    let deny_fixture = fixture("cli-create-default--01-req-POST-containers_create.json");
    let allowed = |body: Vec<u8>| async {
        authz(&post(&d.socket, "/AuthZPlugin.AuthZReq", body).await.2).allow
    };
    assert!(!allowed(deny_fixture.clone()).await);

    std::fs::write(&policy, r#"{"mode":"audit"}"#).unwrap();
    d.signal(libc::SIGHUP);
    wait_for_log(&d, "policy reloaded");
    assert!(
        allowed(deny_fixture.clone()).await,
        "audit mode not applied"
    );

    std::fs::write(
        &policy,
        "{\n  \"mode\": \"enforce\",\n  \"allow_lables\": []\n}",
    )
    .unwrap();
    d.signal(libc::SIGHUP);
    wait_for_log(&d, "policy reload failed");
    let logs = d.logs();
    assert!(
        logs.contains("line 3") && logs.contains("allow_lables"),
        "{logs}"
    );
    assert!(
        allowed(deny_fixture).await,
        "bad file replaced the policy in force"
    );
}

#[test]
fn daemon_refuses_to_start_with_a_bad_policy() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.json");
    std::fs::write(&policy, "{\"mode\": \"enforce\", \"mode2\": 1}").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rootfs-guard"))
        .args(["serve", "--socket"])
        .arg(dir.path().join("x.sock"))
        .arg("--policy")
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 1") && err.contains("mode2"), "{err}");
}
