//! The `/events` stream: following container create/start, one JSON object per line, each line
//! bounded in length.

use super::*;

impl DockerClient {
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
            host: self.host.clone(),
        })
    }
}

/// `since` as dockerd reads it: `seconds.nanoseconds`.
pub(super) fn format_since(nanos: i64) -> String {
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
    host: String,
}

impl EventStream {
    /// The next event; `Ok(None)` when dockerd closed the stream.
    pub async fn next(&mut self) -> Result<Option<Event>, DockerError> {
        loop {
            while let Some(line) = self.lines.next_line() {
                let line = line.map_err(|reason| DockerError::Protocol {
                    host: self.host.clone(),
                    what: "events".into(),
                    reason,
                })?;
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return serde_json::from_slice(&line).map(Some).map_err(|e| {
                    DockerError::Protocol {
                        host: self.host.clone(),
                        what: "events".into(),
                        reason: format!("undecodable event: {e}"),
                    }
                });
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(DockerError::Protocol {
                        host: self.host.clone(),
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
pub(super) struct LineBuffer {
    buf: BytesMut,
}

impl LineBuffer {
    pub(super) fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete line (without its newline), an error for an over-long one, or `None`
    /// until more data arrives.
    pub(super) fn next_line(&mut self) -> Option<Result<Bytes, String>> {
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
