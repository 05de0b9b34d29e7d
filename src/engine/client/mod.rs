//! A thin client of the Docker Engine API, for `audit`, `watch` and `advise`, over every
//! transport the docker CLI uses: a unix socket, TCP, TLS, or ssh (see [`connect`]); which daemon
//! is decided by [`settings`] as the CLI decides it.
//!
//! Only what those commands need: list containers, inspect one, stream `/events`, stop one, list
//! volumes. It speaks HTTP/1.1 with hyper over [`connect::Connector`]. Paths carry no API
//! version: dockerd then answers in its own newest version, and every field read here has the
//! same meaning from API 1.24 to today. Errors name the host, so "daemon unreachable" says which.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

pub mod connect;
mod containers;
pub mod endpoint;
mod events;
mod plugins;
pub mod settings;
mod types;
mod volumes;

pub use connect::Connector;
pub use endpoint::{Endpoint, TlsFiles};
pub use events::EventStream;
pub use plugins::{PluginConfig, PluginInterface, PluginSummary};
pub use settings::{resolve, resolve_entry, HostFlags, Target};
pub use types::*;

/// Where dockerd listens when neither `--host` nor `DOCKER_HOST` says otherwise.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// Time allowed for one non-streaming API call.
pub(super) const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response body read from a non-streaming call, and longest event line.
pub(super) const MAX_BODY: usize = 64 << 20;
pub(super) const MAX_EVENT_LINE: usize = 1 << 20;

/// Why an Engine API call failed. `host` is the endpoint as the CLI writes it
/// (`unix:///var/run/docker.sock`, `tcp://10.0.0.2:2376`, `ssh://ops@build-1`).
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot reach the Docker daemon at {host}: {reason}{}", unreachable_hint(.reason))]
    Unreachable { host: String, reason: String },
    #[error("Docker daemon at {host}: {what}: {status}: {message}")]
    Api {
        host: String,
        what: String,
        status: StatusCode,
        message: String,
    },
    #[error("Docker daemon at {host}: {what}: {reason}")]
    Protocol {
        host: String,
        what: String,
        reason: String,
    },
    #[error("Docker host {host}: {reason}")]
    Config { host: String, reason: String },
    #[error("unsupported Docker host {0:?}: expected unix:///PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]")]
    UnsupportedHost(String),
}

/// The hint for a daemon that is not there (refused, no socket), not for a TLS or ssh failure,
/// whose reason says what to fix.
fn unreachable_hint(reason: &str) -> &'static str {
    let absent = [
        "refused",
        "No such file",
        "os error 2)",
        "timed out",
        "no connection within",
    ];
    if absent.iter().any(|a| reason.contains(a)) {
        " (is dockerd running? set --host, --context or DOCKER_HOST)"
    } else {
        ""
    }
}

impl DockerError {
    /// Whether the daemon could not be reached at all (as opposed to answering with an error).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, DockerError::Unreachable { .. })
    }
}

/// Parses a Docker host (`unix:///path`, `unix:/path`, or a bare absolute path) to a socket
/// path; any other form is [`DockerError::UnsupportedHost`] here (see [`Endpoint::parse`]).
pub fn parse_host(host: &str) -> Result<PathBuf, DockerError> {
    match Endpoint::parse(host, None)? {
        Endpoint::Unix(p) => Ok(p),
        _ => Err(DockerError::UnsupportedHost(host.to_owned())),
    }
}

/// A client of one Docker daemon.
#[derive(Clone)]
pub struct DockerClient {
    pub(super) host: String,
    pub(super) connector: Connector,
    pub(super) http: Client<Connector, Full<Bytes>>,
}

impl fmt::Debug for DockerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DockerClient({})", self.host)
    }
}

/// `dockerd`'s error body: `{"message": "..."}`.
#[derive(Deserialize)]
struct ApiErrorBody {
    message: String,
}

impl DockerClient {
    /// A client of the daemon at `host` (any form [`Endpoint::parse`] reads; tcp without TLS).
    /// Connects lazily.
    pub fn new(host: &str) -> Result<Self, DockerError> {
        Self::from_endpoint(Endpoint::parse(host, None)?)
    }

    pub fn with_socket(socket: PathBuf) -> Self {
        Self::from_endpoint(Endpoint::Unix(socket)).expect("a unix endpoint needs no files")
    }

    /// A client of `endpoint`; its TLS files are read now, so a bad one fails here.
    pub fn from_endpoint(endpoint: Endpoint) -> Result<Self, DockerError> {
        let connector = Connector::new(endpoint)?;
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector.clone());
        Ok(DockerClient {
            host: connector.endpoint().to_string(),
            connector,
            http,
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        self.connector.endpoint()
    }

    /// The host as the CLI writes it (`unix:///path`, `tcp://h:p`, `ssh://u@h`), for messages
    /// and reports.
    pub fn host(&self) -> String {
        self.host.clone()
    }

    pub(super) fn protocol(&self, what: &str, reason: impl ToString) -> DockerError {
        DockerError::Protocol {
            host: self.host.clone(),
            what: what.to_owned(),
            reason: reason.to_string(),
        }
    }

    /// Sends one request; a non-2xx answer becomes [`DockerError::Api`] with dockerd's message.
    pub(super) async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        what: &str,
    ) -> Result<Response<Incoming>, DockerError> {
        self.send_body(method, path_and_query, what, None).await
    }

    /// [`Self::send`] with an optional JSON body.
    pub(super) async fn send_body(
        &self,
        method: Method,
        path_and_query: &str,
        what: &str,
        json: Option<Vec<u8>>,
    ) -> Result<Response<Incoming>, DockerError> {
        let uri: hyper::Uri = format!("http://docker{path_and_query}")
            .parse()
            .map_err(|e| self.protocol(what, e))?;
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
        let resp = match self.http.request(req).await {
            Ok(resp) => resp,
            Err(e) => {
                // ssh started but failed (auth, host key, no docker there): say how it ended.
                if let Some(reason) = self.connector.ssh_failure().await {
                    return Err(DockerError::Unreachable {
                        host: self.host.clone(),
                        reason,
                    });
                }
                return Err(if e.is_connect() {
                    DockerError::Unreachable {
                        host: self.host.clone(),
                        reason: innermost_cause(&e),
                    }
                } else {
                    self.protocol(what, innermost_cause(&e))
                });
            }
        };
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
            host: self.host.clone(),
            what: what.to_owned(),
            status,
            message,
        })
    }

    pub(super) async fn get_json<T: serde::de::DeserializeOwned>(
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
}

pub(super) async fn read_limited(body: Incoming, limit: usize) -> Result<Bytes, String> {
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
pub(super) fn encode_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The deepest error in a chain: for a refused connection, "Connection refused (os error 111)"
/// rather than hyper's "client error (Connect)".
pub(super) fn innermost_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::containers::encode_image;
    use super::events::{format_since, LineBuffer};
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
        assert!(parse_host("tcp://127.0.0.1:2375").is_err());
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
