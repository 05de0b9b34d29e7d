//! The container calls: what audit and watch need (ping, list, inspect, stop) and what advise
//! needs beyond them (the whole inspect document, the image's config, the changes, a trial
//! container's life cycle).

use super::*;

impl DockerClient {
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
}

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
pub(super) fn encode_image(s: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b':')
        .remove(b'@')
        .remove(b'.')
        .remove(b'-')
        .remove(b'_');
    percent_encoding::utf8_percent_encode(s, KEEP).to_string()
}
