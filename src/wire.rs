//! The Docker plugin protocol's JSON messages, exactly as dockerd sends and reads them.
//!
//! dockerd posts an `authorization.Request` to `/AuthZPlugin.AuthZReq` and `/AuthZPlugin.AuthZRes`
//! and reads an `authorization.Response` back (see `shared/docs/authz-protocol.md`). Note the
//! spelling `RequestUri`. `RequestBody` is base64 (Go's `[]byte`) and is absent whenever dockerd
//! withheld the body, which is why the body is kept raw here and checked by [`crate::request`].

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Content type of every answer to dockerd.
pub const PLUGIN_CONTENT_TYPE: &str = "application/vnd.docker.plugins.v1+json";

/// What dockerd asks: one API call it is about to run (or, for AuthZRes, has run).
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct AuthZRequest {
    /// TLS client-certificate common name; empty on the unix socket.
    #[serde(rename = "User", default)]
    pub user: String,
    #[serde(rename = "UserAuthNMethod", default)]
    pub user_authn_method: String,
    #[serde(rename = "RequestMethod", default)]
    pub request_method: String,
    /// Raw request target: percent-encoded, with query, possibly absolute-form.
    #[serde(rename = "RequestUri", default)]
    pub request_uri: String,
    /// Base64 of the request body; `None` when dockerd did not forward one.
    #[serde(
        rename = "RequestBody",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub request_body: Option<String>,
    /// Flattened request headers (last value wins), without auth headers.
    #[serde(
        rename = "RequestHeaders",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub request_headers: Option<HashMap<String, String>>,
}

impl AuthZRequest {
    /// A request header by name, case-insensitively (dockerd sends Go's canonical form).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request_headers
            .as_ref()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What dockerd reads back: only `Allow` and `Msg` count on a 200.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthZResponse {
    #[serde(rename = "Allow")]
    pub allow: bool,
    #[serde(rename = "Msg", default, skip_serializing_if = "String::is_empty")]
    pub msg: String,
    #[serde(rename = "Err", default, skip_serializing_if = "String::is_empty")]
    pub err: String,
}

/// The answer to `/Plugin.Activate`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActivateResponse {
    #[serde(rename = "Implements")]
    pub implements: Vec<String>,
}

impl Default for ActivateResponse {
    fn default() -> Self {
        ActivateResponse {
            implements: vec!["authz".to_owned()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_recorded_dockerd_request() {
        let raw = r#"{"RequestBody":"e30K","RequestHeaders":{"Content-Length":"3","Content-Type":"application/json"},"RequestMethod":"POST","RequestUri":"/v1.41/containers/create?name=c2"}"#;
        let req: AuthZRequest = serde_json::from_str(raw).unwrap();
        assert_eq!(req.request_uri, "/v1.41/containers/create?name=c2");
        assert_eq!(req.header("content-length"), Some("3"));
        assert_eq!(req.user, "");
    }

    #[test]
    fn response_shape() {
        let r = AuthZResponse {
            allow: false,
            msg: "no".into(),
            err: String::new(),
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"Allow":false,"Msg":"no"}"#
        );
    }
}
