//! A thin client of the Docker Engine API over its unix socket, for `audit` and `watch`.
//!
//! Only what those commands need: list containers, inspect one, stream `/events`, stop one. It
//! speaks HTTP/1.1 with hyper through hyperlocal, so no docker CLI is needed. Paths carry no API
//! version: dockerd then answers in its own newest version, and every field read here has the same
//! meaning from API 1.24 to today. Errors name the socket, so "daemon unreachable" says which one.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use hyperlocal::UnixConnector;
use serde::Deserialize;

/// Where dockerd listens when neither `--host` nor `DOCKER_HOST` says otherwise.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// Time allowed for one non-streaming API call.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response body read from a non-streaming call, and longest event line.
const MAX_BODY: usize = 64 << 20;
const MAX_EVENT_LINE: usize = 1 << 20;

/// Why an Engine API call failed.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot reach the Docker daemon at unix://{}: {reason} (is dockerd running? set --host or DOCKER_HOST)", socket.display())]
    Unreachable { socket: PathBuf, reason: String },
    #[error("Docker daemon at unix://{}: {what}: {status}: {message}", socket.display())]
    Api {
        socket: PathBuf,
        what: String,
        status: StatusCode,
        message: String,
    },
    #[error("Docker daemon at unix://{}: {what}: {reason}", socket.display())]
    Protocol {
        socket: PathBuf,
        what: String,
        reason: String,
    },
    #[error("unsupported Docker host {0:?}: only unix sockets are supported (unix:///path/to/docker.sock)")]
    UnsupportedHost(String),
}

impl DockerError {
    /// Whether the daemon could not be reached at all (as opposed to answering with an error).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, DockerError::Unreachable { .. })
    }
}

/// Parses a Docker host (`unix:///path`, `unix:/path`, or a bare absolute path) to a socket path.
pub fn parse_host(host: &str) -> Result<PathBuf, DockerError> {
    let path = if let Some(rest) = host.strip_prefix("unix://") {
        rest
    } else if let Some(rest) = host.strip_prefix("unix:") {
        rest
    } else {
        host
    };
    if !path.starts_with('/') {
        return Err(DockerError::UnsupportedHost(host.to_owned()));
    }
    Ok(PathBuf::from(path))
}

/// One row of `GET /containers/json`.
#[derive(Debug, Clone, Deserialize)]
pub struct ContainerSummary {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Names", default)]
    pub names: Option<Vec<String>>,
}

/// The parts of `GET /containers/{id}/json` that decide compliance and fill a report row.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ContainerInspect {
    #[serde(rename = "Id")]
    pub id: String,
    /// With dockerd's leading `/`.
    #[serde(rename = "Name", default)]
    pub name: String,
    #[serde(rename = "State", default)]
    pub state: Option<InspectState>,
    #[serde(rename = "Config", default)]
    pub config: Option<InspectConfig>,
    #[serde(rename = "HostConfig", default)]
    pub host_config: Option<InspectHostConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct InspectState {
    /// created, running, paused, restarting, removing, exited, dead.
    #[serde(rename = "Status", default)]
    pub status: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct InspectConfig {
    /// The image as the creator named it (what create-time allowlist image scopes match).
    #[serde(rename = "Image", default)]
    pub image: String,
    #[serde(rename = "Labels", default)]
    pub labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct InspectHostConfig {
    #[serde(rename = "ReadonlyRootfs", default)]
    pub readonly_rootfs: bool,
    #[serde(rename = "Privileged", default)]
    pub privileged: bool,
    #[serde(rename = "CapAdd", default)]
    pub cap_add: Option<Vec<String>>,
}

/// One message of the `/events` stream (only what `watch` reads).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Event {
    #[serde(rename = "Type", default)]
    pub kind: String,
    #[serde(rename = "Action", default)]
    pub action: String,
    #[serde(rename = "Actor", default)]
    pub actor: EventActor,
    /// Unix time in nanoseconds.
    #[serde(rename = "timeNano", default)]
    pub time_nano: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct EventActor {
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(rename = "Attributes", default)]
    pub attributes: Option<BTreeMap<String, String>>,
}

/// A client of one Docker daemon.
#[derive(Clone)]
pub struct DockerClient {
    socket: PathBuf,
    http: Client<UnixConnector, Full<Bytes>>,
}

impl fmt::Debug for DockerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DockerClient(unix://{})", self.socket.display())
    }
}

/// `dockerd`'s error body: `{"message": "..."}`.
#[derive(Deserialize)]
struct ApiErrorBody {
    message: String,
}

impl DockerClient {
    /// A client of the daemon at `host` (`unix:///var/run/docker.sock` style). Connects lazily.
    pub fn new(host: &str) -> Result<Self, DockerError> {
        Ok(Self::with_socket(parse_host(host)?))
    }

    pub fn with_socket(socket: PathBuf) -> Self {
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(UnixConnector);
        DockerClient { socket, http }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The host as `unix:///path`, for messages and reports.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    fn protocol(&self, what: &str, reason: impl ToString) -> DockerError {
        DockerError::Protocol {
            socket: self.socket.clone(),
            what: what.to_owned(),
            reason: reason.to_string(),
        }
    }

    /// Sends one request; a non-2xx answer becomes [`DockerError::Api`] with dockerd's message.
    async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        what: &str,
    ) -> Result<Response<Incoming>, DockerError> {
        self.send_body(method, path_and_query, what, None).await
    }

    /// [`Self::send`] with an optional JSON body.
    async fn send_body(
        &self,
        method: Method,
        path_and_query: &str,
        what: &str,
        json: Option<Vec<u8>>,
    ) -> Result<Response<Incoming>, DockerError> {
        let uri: hyper::Uri = hyperlocal::Uri::new(&self.socket, path_and_query).into();
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("Host", "docker")
            .header(
                "User-Agent",
                concat!("rootfs-guard/", env!("CARGO_PKG_VERSION")),
            );
        if json.is_some() {
            req = req.header("Content-Type", "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(json.unwrap_or_default())))
            .map_err(|e| self.protocol(what, e))?;
        let resp = self.http.request(req).await.map_err(|e| {
            if e.is_connect() {
                DockerError::Unreachable {
                    socket: self.socket.clone(),
                    reason: innermost_cause(&e),
                }
            } else {
                self.protocol(what, innermost_cause(&e))
            }
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let body = read_limited(resp.into_body(), 64 << 10)
            .await
            .unwrap_or_default();
        let message = serde_json::from_slice::<ApiErrorBody>(&body)
            .map(|b| b.message)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).trim().to_owned());
        Err(DockerError::Api {
            socket: self.socket.clone(),
            what: what.to_owned(),
            status,
            message,
        })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path_and_query: &str,
        what: &str,
    ) -> Result<T, DockerError> {
        let call = async {
            let resp = self.send(Method::GET, path_and_query, what).await?;
            let body = read_limited(resp.into_body(), MAX_BODY)
                .await
                .map_err(|e| self.protocol(what, e))?;
            serde_json::from_slice(&body).map_err(|e| self.protocol(what, e))
        };
        tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .map_err(|_| self.protocol(what, format!("no answer within {CALL_TIMEOUT:?}")))?
    }

    /// `GET /_ping`: whether the daemon answers.
    pub async fn ping(&self) -> Result<(), DockerError> {
        let call = async {
            let resp = self.send(Method::GET, "/_ping", "ping").await?;
            read_limited(resp.into_body(), 1024)
                .await
                .map_err(|e| self.protocol("ping", e))?;
            Ok(())
        };
        tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .map_err(|_| self.protocol("ping", "no answer"))?
    }

    /// `GET /containers/json`: every container, or only running ones.
    pub async fn list_containers(&self, all: bool) -> Result<Vec<ContainerSummary>, DockerError> {
        let path = if all {
            "/containers/json?all=1"
        } else {
            "/containers/json"
        };
        self.get_json(path, "list containers").await
    }

    /// `GET /containers/{id}/json`; `None` when the container no longer exists.
    pub async fn inspect(&self, id: &str) -> Result<Option<ContainerInspect>, DockerError> {
        let path = format!("/containers/{}/json", encode_segment(id));
        match self
            .get_json(&path, &format!("inspect {}", short_id(id)))
            .await
        {
            Ok(c) => Ok(Some(c)),
            Err(DockerError::Api { status, .. }) if status == StatusCode::NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /containers/{id}/stop` with dockerd's grace period of `grace` seconds.
    pub async fn stop(&self, id: &str, grace: u32) -> Result<(), DockerError> {
        let path = format!("/containers/{}/stop?t={grace}", encode_segment(id));
        let what = format!("stop {}", short_id(id));
        let call = async {
            let resp = self.send(Method::POST, &path, &what).await?;
            // 204 stopped; 304 (already stopped) arrives as an Api error, handled below.
            let _ = read_limited(resp.into_body(), 64 << 10).await;
            Ok(())
        };
        match tokio::time::timeout(CALL_TIMEOUT + Duration::from_secs(grace.into()), call).await {
            Ok(Err(DockerError::Api { status, .. })) if status == StatusCode::NOT_MODIFIED => {
                Ok(())
            }
            Ok(r) => r,
            Err(_) => Err(self.protocol(&what, "no answer")),
        }
    }

    /// `GET /events` filtered to container create/start, from `since` (unix seconds with
    /// nanoseconds, to replay what was missed while disconnected) when given.
    pub async fn container_events(&self, since: Option<i64>) -> Result<EventStream, DockerError> {
        let filters = r#"{"type":["container"],"event":["create","start"]}"#;
        let query = {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("filters", filters);
            if let Some(nanos) = since {
                query.append_pair("since", &format_since(nanos));
            }
            query.finish()
        };
        let path = format!("/events?{query}");
        let resp = tokio::time::timeout(CALL_TIMEOUT, self.send(Method::GET, &path, "events"))
            .await
            .map_err(|_| self.protocol("events", "no answer"))??;
        Ok(EventStream {
            body: resp.into_body(),
            lines: LineBuffer::default(),
            socket: self.socket.clone(),
        })
    }
}

/// Calls `advise` needs beyond the audit's: the whole inspect document, the image's config, the
/// writable layer's changes, and the life cycle of a trial container.
impl DockerClient {
    /// One call with an optional JSON body whose answer is JSON (`Null` when empty), within
    /// `timeout`.
    async fn call_json(
        &self,
        method: Method,
        path: &str,
        what: &str,
        body: Option<&serde_json::Value>,
        timeout: Duration,
    ) -> Result<serde_json::Value, DockerError> {
        let body = body.map(|b| serde_json::to_vec(b).expect("a JSON value serializes"));
        let call = async {
            let resp = self.send_body(method, path, what, body).await?;
            let bytes = read_limited(resp.into_body(), MAX_BODY)
                .await
                .map_err(|e| self.protocol(what, e))?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(serde_json::Value::Null);
            }
            serde_json::from_slice(&bytes).map_err(|e| self.protocol(what, e))
        };
        tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| self.protocol(what, format!("no answer within {timeout:?}")))?
    }

    /// `GET /containers/{id}/json` as dockerd sends it; `None` when there is no such container.
    pub async fn inspect_raw(&self, id: &str) -> Result<Option<serde_json::Value>, DockerError> {
        let path = format!("/containers/{}/json", encode_segment(id));
        not_found_is_none(
            self.call_json(
                Method::GET,
                &path,
                &format!("inspect {}", short_id(id)),
                None,
                CALL_TIMEOUT,
            )
            .await,
        )
    }

    /// `GET /images/{name}/json`; `None` when there is no such image.
    pub async fn image_inspect_raw(
        &self,
        image: &str,
    ) -> Result<Option<serde_json::Value>, DockerError> {
        let path = format!("/images/{}/json", encode_image(image));
        not_found_is_none(
            self.call_json(
                Method::GET,
                &path,
                &format!("inspect image {image}"),
                None,
                CALL_TIMEOUT,
            )
            .await,
        )
    }

    /// `GET /containers/{id}/changes`: the writable layer's entries (`null` when none).
    pub async fn changes(&self, id: &str) -> Result<serde_json::Value, DockerError> {
        let path = format!("/containers/{}/changes", encode_segment(id));
        self.call_json(
            Method::GET,
            &path,
            &format!("changes of {}", short_id(id)),
            None,
            CALL_TIMEOUT,
        )
        .await
    }

    /// `POST /containers/create` with `body` (named `name` if given); returns the new id.
    pub async fn create_container(
        &self,
        name: Option<&str>,
        body: &serde_json::Value,
    ) -> Result<String, DockerError> {
        let path = match name {
            Some(n) => format!("/containers/create?name={}", encode_segment(n)),
            None => "/containers/create".to_owned(),
        };
        let v = self
            .call_json(
                Method::POST,
                &path,
                "create container",
                Some(body),
                CALL_TIMEOUT,
            )
            .await?;
        v["Id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| self.protocol("create container", format!("answer without an Id: {v}")))
    }

    /// `POST /containers/{id}/start`.
    pub async fn start(&self, id: &str) -> Result<(), DockerError> {
        let path = format!("/containers/{}/start", encode_segment(id));
        self.call_json(
            Method::POST,
            &path,
            &format!("start {}", short_id(id)),
            None,
            CALL_TIMEOUT,
        )
        .await
        .map(drop)
    }

    /// `POST /containers/{id}/wait`: returns the exit code once the container has stopped; it
    /// waits as long as the container runs, so the caller bounds it.
    pub async fn wait(&self, id: &str) -> Result<i64, DockerError> {
        let path = format!("/containers/{}/wait", encode_segment(id));
        let what = format!("wait for {}", short_id(id));
        let v = self
            .call_json(
                Method::POST,
                &path,
                &what,
                None,
                Duration::from_secs(365 * 86400),
            )
            .await?;
        Ok(v["StatusCode"].as_i64().unwrap_or(-1))
    }

    /// `POST /containers/{id}/kill` (SIGKILL); a container that is not running is not an error.
    pub async fn kill(&self, id: &str) -> Result<(), DockerError> {
        let path = format!("/containers/{}/kill", encode_segment(id));
        match self
            .call_json(
                Method::POST,
                &path,
                &format!("kill {}", short_id(id)),
                None,
                CALL_TIMEOUT,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(DockerError::Api { status, .. }) if status == StatusCode::CONFLICT => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `DELETE /containers/{id}?force=1&v=1`: removes it and its anonymous volumes; one already
    /// gone is not an error.
    pub async fn remove(&self, id: &str) -> Result<(), DockerError> {
        let path = format!("/containers/{}?force=1&v=1", encode_segment(id));
        match self
            .call_json(
                Method::DELETE,
                &path,
                &format!("remove {}", short_id(id)),
                None,
                CALL_TIMEOUT,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(DockerError::Api { status, .. }) if status == StatusCode::NOT_FOUND => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn not_found_is_none<T>(r: Result<T, DockerError>) -> Result<Option<T>, DockerError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(DockerError::Api { status, .. }) if status == StatusCode::NOT_FOUND => Ok(None),
        Err(e) => Err(e),
    }
}

/// Percent-encodes an image reference for a path, keeping the `/`, `:` and `@` it is made of
/// (dockerd's image routes take the rest of the path as the name).
fn encode_image(s: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b':')
        .remove(b'@')
        .remove(b'.')
        .remove(b'-')
        .remove(b'_');
    percent_encoding::utf8_percent_encode(s, KEEP).to_string()
}

/// `since` as dockerd reads it: `seconds.nanoseconds`.
fn format_since(nanos: i64) -> String {
    format!(
        "{}.{:09}",
        nanos.div_euclid(1_000_000_000),
        nanos.rem_euclid(1_000_000_000)
    )
}

/// The streaming answer of `/events`: one JSON object per line.
pub struct EventStream {
    body: Incoming,
    lines: LineBuffer,
    socket: PathBuf,
}

impl EventStream {
    /// The next event; `Ok(None)` when dockerd closed the stream.
    pub async fn next(&mut self) -> Result<Option<Event>, DockerError> {
        loop {
            while let Some(line) = self.lines.next_line() {
                let line = line.map_err(|reason| DockerError::Protocol {
                    socket: self.socket.clone(),
                    what: "events".into(),
                    reason,
                })?;
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return serde_json::from_slice(&line).map(Some).map_err(|e| {
                    DockerError::Protocol {
                        socket: self.socket.clone(),
                        what: "events".into(),
                        reason: format!("undecodable event: {e}"),
                    }
                });
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(DockerError::Protocol {
                        socket: self.socket.clone(),
                        what: "events".into(),
                        reason: innermost_cause(&e),
                    })
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.lines.push(&data);
                    }
                }
            }
        }
    }
}

/// Splits a byte stream into newline-terminated lines, bounding the length of one line.
#[derive(Debug, Default)]
struct LineBuffer {
    buf: BytesMut,
}

impl LineBuffer {
    fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete line (without its newline), an error for an over-long one, or `None`
    /// until more data arrives.
    fn next_line(&mut self) -> Option<Result<Bytes, String>> {
        match self.buf.iter().position(|&b| b == b'\n') {
            Some(i) if i > MAX_EVENT_LINE => {
                let _ = self.buf.split_to(i + 1);
                Some(Err(format!("event longer than {MAX_EVENT_LINE} bytes")))
            }
            Some(i) => {
                let mut line = self.buf.split_to(i + 1);
                line.truncate(i);
                Some(Ok(line.freeze()))
            }
            None if self.buf.len() > MAX_EVENT_LINE => {
                self.buf.clear();
                Some(Err(format!("event longer than {MAX_EVENT_LINE} bytes")))
            }
            None => None,
        }
    }
}

async fn read_limited(body: Incoming, limit: usize) -> Result<Bytes, String> {
    http_body_util::Limited::new(body, limit)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| e.to_string())
}

/// The first 12 characters of a container id, as `docker ps` shows it.
pub fn short_id(id: &str) -> &str {
    let end = id.char_indices().nth(12).map_or(id.len(), |(i, _)| i);
    &id[..end]
}

/// Percent-encodes one path segment (container ids and names are safe, but be exact anyway).
fn encode_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The deepest error in a chain: for a refused connection, "Connection refused (os error 111)"
/// rather than hyper's "client error (Connect)".
fn innermost_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            parse_host("unix:///var/run/docker.sock").unwrap(),
            PathBuf::from("/var/run/docker.sock")
        );
        assert_eq!(
            parse_host("unix:/tmp/d.sock").unwrap(),
            PathBuf::from("/tmp/d.sock")
        );
        assert_eq!(
            parse_host("/tmp/d.sock").unwrap(),
            PathBuf::from("/tmp/d.sock")
        );
        let err = parse_host("tcp://127.0.0.1:2375").unwrap_err().to_string();
        assert!(err.contains("only unix sockets"), "{err}");
        assert!(parse_host("unix://relative.sock").is_err());
    }

    #[test]
    fn inspect_json_as_dockerd_20_10_writes_it() {
        let text = r#"{
          "Id": "4f1c1d5e9a3b2c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d",
          "Created": "2026-11-29T05:00:00.000000000Z",
          "Path": "sleep", "Args": ["3600"],
          "State": {"Status": "running", "Running": true, "Pid": 42},
          "Image": "sha256:0123",
          "Name": "/web",
          "HostConfig": {"Binds": null, "Privileged": false, "CapAdd": ["SYS_ADMIN"],
                         "CapDrop": null, "ReadonlyRootfs": true, "Tmpfs": {"/tmp": ""}},
          "Config": {"Hostname": "4f1c", "Image": "bb:latest", "Env": ["SECRET=x"],
                     "Labels": {"com.docker.swarm.service.name": "svc"}}
        }"#;
        let c: ContainerInspect = serde_json::from_str(text).unwrap();
        assert_eq!(c.name, "/web");
        assert_eq!(c.state.unwrap().status, "running");
        let hc = c.host_config.unwrap();
        assert!(hc.readonly_rootfs && !hc.privileged);
        assert_eq!(hc.cap_add.unwrap(), vec!["SYS_ADMIN".to_string()]);
        let cfg = c.config.unwrap();
        assert_eq!(cfg.image, "bb:latest");
        assert_eq!(cfg.labels.unwrap()["com.docker.swarm.service.name"], "svc");

        // Nulls where dockerd writes them for empty values.
        let c: ContainerInspect = serde_json::from_str(
            r#"{"Id":"x","Name":"/n","HostConfig":{"CapAdd":null},"Config":{"Labels":null}}"#,
        )
        .unwrap();
        assert_eq!(c.host_config.unwrap().cap_add, None);
        assert_eq!(c.config.unwrap().labels, None);
    }

    #[test]
    fn events_and_lines() {
        let mut lines = LineBuffer::default();
        lines.push(br#"{"Type":"container","Action":"create","Actor":{"ID":"abc","Attributes":{"name":"x"}},"time":1,"timeNano":1000000001}"#);
        assert!(lines.next_line().is_none());
        lines.push(b"\n{\"Type\":\"container\",\"Act");
        let first = lines.next_line().unwrap().unwrap();
        let ev: Event = serde_json::from_slice(&first).unwrap();
        assert_eq!(ev.action, "create");
        assert_eq!(ev.actor.id, "abc");
        assert_eq!(ev.time_nano, 1_000_000_001);
        assert!(lines.next_line().is_none());
        lines.push(b"ion\":\"start\"}\n");
        let ev: Event = serde_json::from_slice(&lines.next_line().unwrap().unwrap()).unwrap();
        assert_eq!(ev.action, "start");

        let mut lines = LineBuffer::default();
        lines.push(&vec![b'x'; MAX_EVENT_LINE + 1]);
        assert!(lines.next_line().unwrap().is_err());
        assert!(lines.next_line().is_none());
    }

    #[test]
    fn since_and_ids() {
        assert_eq!(
            format_since(1_700_000_000_000_000_123),
            "1700000000.000000123"
        );
        assert_eq!(short_id("0123456789abcdef"), "0123456789ab");
        assert_eq!(short_id("abc"), "abc");
        assert_eq!(encode_segment("a/b"), "a%2Fb");
        assert_eq!(
            encode_image("registry.example:5000/team/app:1.2@sha256:ab"),
            "registry.example:5000/team/app:1.2@sha256:ab"
        );
        assert_eq!(encode_image("a b?#"), "a%20b%3F%23");
    }
}
