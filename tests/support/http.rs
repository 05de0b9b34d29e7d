//! Raw HTTP to dockerd's unix socket: requests the docker CLI would never send
//! (huge or chunked bodies, custom headers, start-with-body, odd paths), via
//! hyper 1 + hyperlocal, or as verbatim bytes on a `UnixStream` for malformed
//! HTTP that no client library would produce.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use hyper_util::client::legacy::Client;
use hyperlocal::{UnixClientExt, UnixConnector};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A request body for [`super::PrivateDockerd::api`].
#[derive(Debug, Clone)]
pub enum ApiBody {
    /// No body at all. hyper then sends no `Content-Length` header either
    /// (like `curl -X POST`); Go clients such as the docker CLI send
    /// `Content-Length: 0` — pass that header to mimic them.
    Empty,
    /// A body of known length (hyper sends `Content-Length` unless you set it).
    Bytes(Vec<u8>),
    /// A body sent with `Transfer-Encoding: chunked`, one HTTP chunk per element.
    Chunked(Vec<Vec<u8>>),
}

impl From<()> for ApiBody {
    fn from(_: ()) -> Self {
        ApiBody::Empty
    }
}
impl From<&str> for ApiBody {
    fn from(s: &str) -> Self {
        ApiBody::Bytes(s.as_bytes().to_vec())
    }
}
impl From<String> for ApiBody {
    fn from(s: String) -> Self {
        ApiBody::Bytes(s.into_bytes())
    }
}
impl From<Vec<u8>> for ApiBody {
    fn from(b: Vec<u8>) -> Self {
        ApiBody::Bytes(b)
    }
}
impl From<&[u8]> for ApiBody {
    fn from(b: &[u8]) -> Self {
        ApiBody::Bytes(b.to_vec())
    }
}
impl From<&serde_json::Value> for ApiBody {
    fn from(v: &serde_json::Value) -> Self {
        ApiBody::Bytes(serde_json::to_vec(v).expect("serialize JSON body"))
    }
}
impl From<serde_json::Value> for ApiBody {
    fn from(v: serde_json::Value) -> Self {
        ApiBody::from(&v)
    }
}

/// hyper body for [`ApiBody`]: exact size hint for `Bytes`/`Empty` (so hyper
/// sends `Content-Length`), none for `Chunked` (so hyper chunks it).
struct ReqBody {
    chunks: VecDeque<Bytes>,
    exact: Option<u64>,
}

impl From<ApiBody> for ReqBody {
    fn from(b: ApiBody) -> Self {
        match b {
            ApiBody::Empty => ReqBody {
                chunks: VecDeque::new(),
                exact: Some(0),
            },
            ApiBody::Bytes(v) => ReqBody {
                exact: Some(v.len() as u64),
                chunks: VecDeque::from([Bytes::from(v)]),
            },
            ApiBody::Chunked(parts) => ReqBody {
                // An empty chunk would end the chunked stream early.
                chunks: parts
                    .into_iter()
                    .filter(|p| !p.is_empty())
                    .map(Bytes::from)
                    .collect(),
                exact: None,
            },
        }
    }
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.chunks.pop_front().map(|c| Ok(Frame::data(c))))
    }

    fn is_end_stream(&self) -> bool {
        self.exact.is_some() && self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        match self.exact {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

/// One request through hyper's client over `socket`.
pub(crate) fn api_request(
    socket: &Path,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: ApiBody,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    if !path.starts_with('/') || format!("http://h{path}").parse::<hyper::Uri>().is_err() {
        return Err(format!(
            "{path:?} is not a valid URI path for hyper; use raw_http for it"
        ));
    }
    let method = hyper::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(hyper::Uri::from(hyperlocal::Uri::new(socket, path)));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(ReqBody::from(body)).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let client: Client<UnixConnector, ReqBody> = Client::unix();
        let exchange = async {
            let resp = client
                .request(req)
                .await
                .map_err(|e| format!("request failed: {e:?}"))?;
            let status = resp.status().as_u16();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("reading response body: {e}"))?
                .to_bytes();
            Ok::<_, String>((status, bytes.to_vec()))
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| format!("no complete response within {timeout:?}"))?
    })
}

/// JSON of a response body; `Null` if empty, a JSON string if not JSON.
pub(crate) fn body_to_json(bytes: &[u8]) -> serde_json::Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// What came back on a raw connection.
#[derive(Debug, Clone, Default)]
pub struct RawResponse {
    /// Status code of the first response, if a status line arrived.
    pub status: Option<u16>,
    /// Status line and headers, as text.
    pub head: String,
    /// The body (de-chunked if the response was chunked).
    pub body: Vec<u8>,
    /// Every byte received.
    pub raw: Vec<u8>,
    /// The timeout passed before a complete response (or EOF).
    pub timed_out: bool,
}

impl RawResponse {
    /// Everything received, as lossy text.
    pub fn raw_text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }

    /// The body as lossy text.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON (see `api_json`).
    pub fn body_json(&self) -> serde_json::Value {
        body_to_json(&self.body)
    }

    /// A header's value (case-insensitive name), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        header_value(&self.head, name)
    }
}

fn header_value(head: &str, name: &str) -> Option<String> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

/// Writes `request` verbatim, then reads until one response is complete
/// (by Content-Length or chunked terminator), the peer closes, or `timeout`.
pub(crate) fn raw_exchange(
    socket: &Path,
    request: &[u8],
    timeout: Duration,
    shutdown_write: bool,
) -> Result<RawResponse, String> {
    let deadline = Instant::now() + timeout;
    let mut stream =
        UnixStream::connect(socket).map_err(|e| format!("connect {}: {e}", socket.display()))?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    // The server may answer (and close) before it has read everything, e.g.
    // on a malformed request: a failed write is not an error, the answer is.
    let _ = stream.write_all(request);
    if shutdown_write {
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
    let mut resp = RawResponse::default();
    let mut buf = [0u8; 64 * 1024];
    loop {
        if let Some(done) = parse_complete(&resp.raw) {
            resp.status = done.0;
            resp.head = done.1;
            resp.body = done.2;
            return Ok(resp);
        }
        let now = Instant::now();
        if now >= deadline {
            resp.timed_out = true;
            break;
        }
        stream
            .set_read_timeout(Some(deadline - now))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => resp.raw.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                resp.timed_out = true;
                break;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // A reset after the server answered: keep what arrived.
            Err(_) => break,
        }
    }
    // Incomplete (EOF or timeout): report whatever head/body arrived.
    if let Some(head_end) = find(&resp.raw, b"\r\n\r\n") {
        resp.head = String::from_utf8_lossy(&resp.raw[..head_end]).into_owned();
        resp.status = status_code(&resp.head);
        resp.body = resp.raw[head_end + 4..].to_vec();
        if let Some(body) = header_value(&resp.head, "transfer-encoding")
            .filter(|te| te.to_ascii_lowercase().contains("chunked"))
            .and_then(|_| dechunk(&resp.raw[head_end + 4..]).map(|(b, _)| b))
        {
            resp.body = body;
        }
    } else {
        resp.status = status_code(&String::from_utf8_lossy(&resp.raw));
    }
    Ok(resp)
}

/// `Some((status, head, body))` once `raw` holds one complete response with a
/// known length; `None` if more bytes are needed or only EOF can end it.
fn parse_complete(raw: &[u8]) -> Option<(Option<u16>, String, Vec<u8>)> {
    let head_end = find(raw, b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let status = status_code(&head);
    let rest = &raw[head_end + 4..];
    if matches!(status, Some(204) | Some(304)) {
        return Some((status, head, Vec::new()));
    }
    if header_value(&head, "transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"))
    {
        let (body, complete) = dechunk(rest)?;
        return complete.then_some((status, head, body));
    }
    let len: usize = header_value(&head, "content-length")?.parse().ok()?;
    (rest.len() >= len).then(|| (status, head.clone(), rest[..len].to_vec()))
}

/// Decodes a chunked body: `(data so far, saw the final 0-size chunk)`.
fn dechunk(mut rest: &[u8]) -> Option<(Vec<u8>, bool)> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find(rest, b"\r\n") else {
            return Some((body, false));
        };
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some((body, true));
        }
        if rest.len() < size + 2 {
            body.extend_from_slice(&rest[..rest.len().min(size)]);
            return Some((body, false));
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

fn status_code(head: &str) -> Option<u16> {
    let line = head.lines().next()?;
    let mut parts = line.split_whitespace();
    parts.next().filter(|p| p.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
